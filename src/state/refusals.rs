//! Changes a guard refused, and the approvals people gave them: one row
//! per folder and guard, so `imapdir approve` confirms exactly the change
//! the last run refused, and a different change is refused again.
//!
//! The state stores the change as the engine describes it (text) and does
//! not read it: whether an approval covers a later change is the engine's
//! rule, not SQL's.

use rusqlite::{params, OptionalExtension};

use super::support::unix_now;
use super::{Result, StateDb};

/// One refused change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The server's name of the folder; empty for the account as a whole.
    pub folder: String,
    /// Which guard refused it (`mass-delete`, `first-copy`, `folder-delete`).
    pub guard: String,
    /// The folder's name as people read it.
    pub display: String,
    /// What was refused, in the engine's words (JSON).
    pub change: String,
    /// One line for people: what the change would do.
    pub summary: String,
    /// Unix time of the last refusal.
    pub refused: i64,
    /// Unix time of the approval, if given.
    pub approved: Option<i64>,
}

const COLUMNS: &str = "folder, guard, display, change, summary, refused, approved";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Refusal> {
    Ok(Refusal {
        folder: r.get(0)?,
        guard: r.get(1)?,
        display: r.get(2)?,
        change: r.get(3)?,
        summary: r.get(4)?,
        refused: r.get(5)?,
        approved: r.get(6)?,
    })
}

impl StateDb {
    /// Records that a guard refused `change`, replacing what that guard
    /// refused in that folder before, approval included.
    pub fn record_refusal(
        &self,
        folder: &str,
        guard: &str,
        display: &str,
        change: &str,
        summary: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO refusals (folder, guard, display, change, summary, refused, approved)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
                 ON CONFLICT(folder, guard) DO UPDATE SET display = ?3, change = ?4,
                     summary = ?5, refused = ?6, approved = NULL",
                params![folder, guard, display, change, summary, unix_now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// What `guard` last refused in `folder`, if anything.
    pub fn refusal(&self, folder: &str, guard: &str) -> Result<Option<Refusal>> {
        if !self.has_table("refusals")? {
            return Ok(None);
        }
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM refusals WHERE folder = ?1 AND guard = ?2"),
                params![folder, guard],
                row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every refused change, by folder.
    pub fn refusals(&self) -> Result<Vec<Refusal>> {
        if !self.has_table("refusals")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM refusals ORDER BY display, guard"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Approves what `guard` refused in `folder`; false when nothing was
    /// refused there.
    pub fn approve_refusal(&self, folder: &str, guard: &str) -> Result<bool> {
        let changed = self
            .conn
            .execute(
                "UPDATE refusals SET approved = ?3 WHERE folder = ?1 AND guard = ?2",
                params![folder, guard, unix_now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(changed > 0)
    }

    /// Forgets what `guard` refused in `folder`: the change went through,
    /// or the guard no longer objects.
    pub fn clear_refusal(&self, folder: &str, guard: &str) -> Result<()> {
        if self.refusal(folder, guard)?.is_none() {
            // A read, not a write transaction, in the common case.
            return Ok(());
        }
        self.conn
            .execute(
                "DELETE FROM refusals WHERE folder = ?1 AND guard = ?2",
                params![folder, guard],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
