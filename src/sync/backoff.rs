//! What a worker does when the server says "not now" (see
//! [`crate::imap::Throttle`]): a connection one too many leaves its folder
//! to the workers already connected; a short wait the server asks for is
//! waited once; anything else stops the account for this run, and the
//! folders not reached are left for the next run, which resumes where this
//! one stopped (what was downloaded is recorded as it arrives).
//!
//! The decision is pure; the workers share a [`Backoff`] to act on it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::imap::{ImapError, Throttle};

/// The longest wait the server may ask for that a run sits out; longer
/// ones end the run (a timer's next run comes sooner than that matters).
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// What the worker does next with the folder that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// An ordinary failure: the folder failed, the run goes on.
    Report,
    /// Put the folder back for another worker and end this one.
    GiveBack,
    /// Wait, then try the folder again.
    Retry(Duration),
    /// Report the folder and stop taking folders in this account.
    Stop,
}

/// Decides after a folder failed with `throttle` (if the server refused).
/// `connected`: this worker had a connection before the folder (so the
/// refusal is not about a new one); `others`: other workers are still
/// running; `retried`: this folder was already retried after a wait.
pub fn after_failure(
    throttle: Option<&Throttle>,
    connected: bool,
    others: bool,
    retried: bool,
) -> Next {
    match throttle {
        None => Next::Report,
        Some(Throttle::TooManyConnections) if !connected && others => Next::GiveBack,
        Some(Throttle::SlowDown {
            retry_after: Some(wait),
        }) if *wait <= LONGEST_WAIT && !retried => Next::Retry(*wait),
        Some(_) => Next::Stop,
    }
}

/// The refusal in an error's chain, if the server refused.
pub fn throttle_of(err: &anyhow::Error) -> Option<Throttle> {
    err.chain()
        .filter_map(|c| c.downcast_ref::<ImapError>())
        .find_map(Throttle::of_error)
}

/// A folder the run did not reach because the server asked it to stop.
#[derive(Debug, thiserror::Error)]
#[error("not synced in this run: {reason}; the next run resumes")]
pub struct Deferred {
    pub reason: String,
}

/// What the workers of one account share about the server's refusals.
#[derive(Debug)]
pub struct Backoff {
    running: AtomicUsize,
    /// Why the account stopped taking folders, once it did.
    stopped: Mutex<Option<String>>,
    retried: Mutex<HashSet<usize>>,
    /// Workers that gave their folder back for want of a connection.
    pub gave_back: AtomicUsize,
}

impl Backoff {
    pub fn new(workers: usize) -> Backoff {
        Backoff {
            running: AtomicUsize::new(workers),
            stopped: Mutex::new(None),
            retried: Mutex::new(HashSet::new()),
            gave_back: AtomicUsize::new(0),
        }
    }

    /// Why the run stopped taking folders, if it did.
    pub fn stopped(&self) -> Option<String> {
        self.stopped.lock().expect("backoff").clone()
    }

    /// Decides for the folder at `index` that failed with `err`.
    pub fn decide(&self, index: usize, err: &anyhow::Error, connected: bool) -> Next {
        let throttle = throttle_of(err);
        let others = self.running.load(Ordering::SeqCst) > 1;
        let retried = self.retried.lock().expect("backoff").contains(&index);
        let next = after_failure(throttle.as_ref(), connected, others, retried);
        match &next {
            Next::Retry(_) => {
                self.retried.lock().expect("backoff").insert(index);
            }
            Next::Stop => {
                self.stopped
                    .lock()
                    .expect("backoff")
                    .get_or_insert_with(|| format!("{err:#}"));
            }
            Next::GiveBack => {
                self.gave_back.fetch_add(1, Ordering::SeqCst);
            }
            Next::Report => {}
        }
        next
    }

    /// A worker ends.
    pub fn leave(&self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Throttle = Throttle::SlowDown { retry_after: None };

    #[test]
    fn a_connection_too_many_leaves_its_folder_to_the_others() {
        let too_many = Throttle::TooManyConnections;
        assert_eq!(
            after_failure(Some(&too_many), false, true, false),
            Next::GiveBack
        );
        // The last worker, or a connection refused after it worked: stop.
        assert_eq!(
            after_failure(Some(&too_many), false, false, false),
            Next::Stop
        );
        assert_eq!(
            after_failure(Some(&too_many), true, true, false),
            Next::Stop
        );
    }

    #[test]
    fn a_short_wait_is_waited_once_and_anything_else_stops() {
        let short = Throttle::SlowDown {
            retry_after: Some(Duration::from_secs(15)),
        };
        assert_eq!(
            after_failure(Some(&short), true, false, false),
            Next::Retry(Duration::from_secs(15))
        );
        assert_eq!(after_failure(Some(&short), true, false, true), Next::Stop);
        let long = Throttle::SlowDown {
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(after_failure(Some(&long), true, true, false), Next::Stop);
        assert_eq!(after_failure(Some(&SLOW), true, true, false), Next::Stop);
        assert_eq!(after_failure(None, true, true, false), Next::Report);
    }

    #[test]
    fn the_first_stop_keeps_its_reason() {
        let backoff = Backoff::new(2);
        let unavailable = anyhow::Error::new(ImapError::Bye(Some(
            "[UNAVAILABLE] Temporary System Problem".into(),
        )));
        assert_eq!(backoff.decide(0, &unavailable, true), Next::Stop);
        let later = anyhow::Error::new(ImapError::No {
            command: "UID FETCH".into(),
            text: "[THROTTLED] later".into(),
        });
        assert_eq!(backoff.decide(1, &later, true), Next::Stop);
        assert!(backoff.stopped().unwrap().contains("UNAVAILABLE"));
        let plain = anyhow::anyhow!("disk full");
        assert_eq!(backoff.decide(2, &plain, true), Next::Report);
    }
}
