//! The outbox's journal: a send is recorded (with its Message-ID and
//! recipients) before the SMTP transaction starts, marked sent the moment
//! the server accepted it, and forgotten once the message is filed and out
//! of the outbox. A row left by a crash says which step to resume.

use rusqlite::{params, OptionalExtension};

use super::support::unix_now;
use super::{Result, StateDb};

/// Where a journaled send stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Recorded before the transaction: the server does not have it yet.
    Sending,
    /// The final dot is on its way: the server may have taken the message,
    /// and no reply was recorded.
    HandedOver,
    /// The server accepted it (250 after DATA); filing and removal remain.
    Sent,
}

impl SendState {
    fn as_str(self) -> &'static str {
        match self {
            SendState::Sending => "sending",
            SendState::HandedOver => "handed-over",
            SendState::Sent => "sent",
        }
    }
}

/// One journaled send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSend {
    /// The outbox file's base name.
    pub local_base: String,
    pub message_id: String,
    /// The envelope recipients, one per line.
    pub recipients: String,
    pub state: SendState,
    pub started: i64,
}

impl StateDb {
    /// The send journaled for this outbox file, if any.
    pub fn outbox_send(&self, local_base: &str) -> Result<Option<OutboxSend>> {
        self.conn
            .query_row(
                "SELECT local_base, message_id, recipients, state, started FROM outbox_sends
                 WHERE local_base = ?1",
                [local_base],
                |r| {
                    let state: String = r.get(3)?;
                    Ok(OutboxSend {
                        local_base: r.get(0)?,
                        message_id: r.get(1)?,
                        recipients: r.get(2)?,
                        state: match state.as_str() {
                            "sent" => SendState::Sent,
                            "handed-over" => SendState::HandedOver,
                            _ => SendState::Sending,
                        },
                        started: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Journals a send before the SMTP transaction (replacing an earlier
    /// attempt's row for the same file).
    pub fn outbox_begin(&self, local_base: &str, message_id: &str, recipients: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO outbox_sends (local_base, message_id, recipients, state, started)
                 VALUES (?1, ?2, ?3, 'sending', ?4)",
                params![local_base, message_id, recipients, unix_now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the server's acceptance.
    pub fn outbox_mark(&self, local_base: &str, state: SendState) -> Result<()> {
        self.conn
            .execute(
                "UPDATE outbox_sends SET state = ?2 WHERE local_base = ?1",
                params![local_base, state.as_str()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forgets a send that is complete (or was never made).
    pub fn outbox_forget(&self, local_base: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM outbox_sends WHERE local_base = ?1",
                [local_base],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
