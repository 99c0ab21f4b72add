//! One run at a time per account: an exclusive `flock` on a file beside the
//! state database, held for the whole run and released by the kernel even
//! when the process is killed.
//!
//! A run either gives up at once when another holds the lock, or (`sync
//! --wait`) looks again a few times a second until it is free or the wait
//! is over. Looking never blocks in the kernel, so no signal, stop or
//! continue can interrupt it half-way.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a waiting run looks at the lock again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Another run holds the lock; maps to exit code 4.
#[derive(Debug, thiserror::Error)]
#[error("account {account} is locked by another imapdir run (lock file {}){}", path.display(),
    match waited {
        Some(w) => format!("; still locked after waiting {} s", w.as_secs()),
        None => String::new(),
    })]
pub struct Locked {
    pub account: String,
    pub path: PathBuf,
    /// How long this run waited for it (`sync --wait`).
    pub waited: Option<Duration>,
}

/// Held while the account is being synced.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
}

impl AccountLock {
    /// Takes the lock, or fails with [`Locked`] at once when another run
    /// holds it.
    pub fn acquire(account: &str, path: &Path) -> anyhow::Result<AccountLock> {
        AccountLock::acquire_within(account, path, None, || {})
    }

    /// Takes the lock; when another run holds it and `wait` is given,
    /// waits up to that long for it to be released (calling `waiting` once
    /// the wait begins), then fails with [`Locked`].
    pub fn acquire_within(
        account: &str,
        path: &Path,
        wait: Option<Duration>,
        waiting: impl FnOnce(),
    ) -> anyhow::Result<AccountLock> {
        use anyhow::Context;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            // The state directory: private, like the files in it.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        let started = Instant::now();
        let mut waiting = Some(waiting);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(AccountLock { _file: file }),
                Err(TryLockError::WouldBlock) => {
                    let left = wait.map(|w| w.saturating_sub(started.elapsed()));
                    match left {
                        Some(left) if !left.is_zero() => {
                            if let Some(f) = waiting.take() {
                                f();
                            }
                            std::thread::sleep(left.min(WAIT_POLL))
                        }
                        _ => {
                            return Err(Locked {
                                account: account.to_string(),
                                path: path.to_path_buf(),
                                waited: wait,
                            }
                            .into())
                        }
                    }
                }
                Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(TryLockError::Error(e)) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("cannot lock {}", path.display()))
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/acc.sqlite.lock");
        let first = AccountLock::acquire("acc", &path).unwrap();
        let err = AccountLock::acquire("acc", &path).unwrap_err();
        assert!(err.downcast_ref::<Locked>().is_some(), "{err}");
        assert!(err.to_string().contains("locked by another imapdir run"));
        drop(first);
        AccountLock::acquire("acc", &path).unwrap();
    }

    #[test]
    fn a_waiting_run_takes_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acc.sqlite.lock");
        let first = AccountLock::acquire("acc", &path).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || {
                AccountLock::acquire_within("acc", &path, Some(Duration::from_secs(600)), || {
                    tx.send(()).unwrap()
                })
            })
        };
        rx.recv().unwrap();
        drop(first);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn a_wait_that_ends_says_how_long_it_waited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acc.sqlite.lock");
        let _first = AccountLock::acquire("acc", &path).unwrap();
        let err = AccountLock::acquire_within("acc", &path, Some(Duration::from_millis(1)), || {})
            .unwrap_err();
        assert!(err.downcast_ref::<Locked>().is_some(), "{err}");
        assert!(err.to_string().contains("after waiting"), "{err}");
    }
}
