//! IDLE (RFC 2177): waiting for the server to announce changes to the
//! selected folder, for `imapdir watch`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use imap_proto::{MailboxDatum, Response};

use super::framing::Frame;
use super::{check, Event, ImapError, Result, Session, Untagged};

/// How often a wait looks at its interrupt check and deadline.
pub const IDLE_POLL: Duration = Duration::from_millis(200);

/// Why [`Session::idle_wait`] returned. In every case the IDLE command has
/// been ended and the session is ready for the next command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleEvent {
    /// The server announced new, expunged or changed messages.
    Changed,
    /// The timeout passed with no change; IDLE again to go on waiting.
    TimedOut,
    /// The interrupt check said to stop.
    Interrupted,
}

/// Whether an untagged response means the folder's messages changed.
fn is_change(resp: &Response<'_>) -> bool {
    matches!(
        resp,
        Response::MailboxData(MailboxDatum::Exists(_))
            | Response::Expunge(_)
            | Response::Fetch(..)
            | Response::Vanished { .. }
    )
}

impl Session {
    /// Whether the server offers IDLE.
    pub fn can_idle(&self) -> bool {
        self.has_capability("IDLE")
    }

    /// Sends IDLE on the selected folder and waits until the server reports
    /// a change, `timeout` passes (servers drop an IDLE after 30 minutes,
    /// so keep it below that), or `interrupt` returns true (checked a few
    /// times a second). Then ends the IDLE with DONE.
    pub fn idle_wait(
        &mut self,
        timeout: Duration,
        interrupt: &dyn Fn() -> bool,
    ) -> Result<IdleEvent> {
        if !self.can_idle() {
            return Err(ImapError::Protocol("the server does not offer IDLE".into()));
        }
        let deadline = Instant::now() + timeout;
        let changed = Cell::new(false);
        let mut handler = Untagged(|resp: &Response<'_>, _: &Frame| {
            if is_change(resp) {
                changed.set(true);
            }
        });
        // IDLE waits for a continuation: a deferred ENABLE goes alone first.
        self.begin_deferred(false)?;
        let tag = self.send_raw("IDLE")?;
        self.flush()?;
        if let Some(done) = self.wait_continuation(&tag, &mut handler)? {
            check(done, "IDLE")?;
            return Ok(IdleEvent::TimedOut);
        }
        let event = loop {
            if changed.get() {
                break IdleEvent::Changed;
            }
            if interrupt() {
                break IdleEvent::Interrupted;
            }
            let now = Instant::now();
            if now >= deadline {
                break IdleEvent::TimedOut;
            }
            let ready = self.conn.wait_readable(IDLE_POLL.min(deadline - now));
            if !self.map_lost(ready)? {
                continue;
            }
            if let Event::Done(done) = self.next_event(&tag, &mut handler)? {
                // The server ended the IDLE by itself.
                check(done, "IDLE")?;
                return Ok(if changed.get() {
                    IdleEvent::Changed
                } else {
                    IdleEvent::TimedOut
                });
            }
        };
        self.write(b"DONE\r\n", Some("DONE"))?;
        self.flush()?;
        let done = self.read_until_done(&tag, &mut handler)?;
        check(done, "IDLE")?;
        Ok(event)
    }
}
