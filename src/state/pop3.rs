//! The POP3 import's journal: one row per UIDL, written before the
//! message is downloaded (`stored` NULL) and marked stored once its file is
//! durable in the Maildir. Only stored messages are ever deleted from the
//! server, and `deleted` records that the server confirmed it (QUIT).

use rusqlite::params;

use super::support::unix_now;
use super::{sqlite, Result, StateDb};

/// What the state knows of one POP3 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Record {
    pub uidl: String,
    /// The base name its file was (or is being) written under.
    pub local_base: String,
    /// Unix time its file was made durable; `None` while only intended.
    pub stored: Option<i64>,
    /// Unix time the server confirmed its deletion.
    pub deleted: Option<i64>,
}

/// Counts over the POP3 journal, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pop3Counts {
    /// Messages whose file was made durable here.
    pub stored: u64,
    /// Of those, messages the server confirmed deleted.
    pub deleted: u64,
    /// Downloads journaled and not finished: the next run repeats them.
    pub interrupted: u64,
}

impl StateDb {
    /// How many POP3 messages are stored, deleted from the server, or
    /// interrupted. Zero for a state without the POP3 journal.
    pub fn pop3_counts(&self) -> Result<Pop3Counts> {
        if !self.has_table("pop3_messages")? {
            return Ok(Pop3Counts::default());
        }
        self.conn
            .query_row(
                "SELECT count(stored), count(deleted), count(*) - count(stored)
                 FROM pop3_messages",
                [],
                |r| {
                    Ok(Pop3Counts {
                        stored: r.get::<_, i64>(0)? as u64,
                        deleted: r.get::<_, i64>(1)? as u64,
                        interrupted: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Every POP3 message recorded.
    pub fn pop3_records(&self) -> Result<Vec<Pop3Record>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT uidl, local_base, stored, deleted FROM pop3_messages")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Pop3Record {
                    uidl: r.get(0)?,
                    local_base: r.get(1)?,
                    stored: r.get(2)?,
                    deleted: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Journals a download before it starts (kept as it is when already there).
    pub fn pop3_intend(&self, uidl: &str, local_base: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO pop3_messages (uidl, local_base) VALUES (?1, ?2)",
                params![uidl, local_base],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that a message's file is durable.
    pub fn pop3_stored(&self, uidl: &str, local_base: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO pop3_messages (uidl, local_base, stored) VALUES (?1, ?2, ?3)
                 ON CONFLICT (uidl) DO UPDATE SET stored = coalesce(stored, ?3)",
                params![uidl, local_base, unix_now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that the server deleted these messages (after its QUIT).
    pub fn pop3_deleted(&mut self, uidls: &[String]) -> Result<()> {
        let now = unix_now();
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        for uidl in uidls {
            tx.execute(
                "UPDATE pop3_messages SET deleted = ?2 WHERE uidl = ?1",
                params![uidl, now],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        Ok(())
    }
}
