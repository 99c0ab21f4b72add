//! Messages kept on one side only (archive mode): a local copy of a
//! message the server expunged (`server_deletions = "keep-local"`), or a
//! server message whose local file was deleted (`local_deletions =
//! "keep-server"`). Recorded so that leaving one side is never a deletion,
//! an upload or a download on the other.

use rusqlite::params;

use super::{sqlite, Result, StateDb};
use crate::model::Uid;

/// What a folder keeps on one side only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    /// Local files (bases) whose server messages are gone.
    pub local_only: std::collections::HashSet<String>,
    /// Server messages (UIDs) whose local files are gone.
    pub server_only: std::collections::HashSet<Uid>,
}

impl StateDb {
    /// What `folder_id` keeps on one side only.
    pub fn kept(&self, folder_id: i64) -> Result<Kept> {
        if !self.has_table("kept")? {
            return Ok(Kept::default());
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT only_on, uid, local_base FROM kept WHERE folder_id = ?1")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt.query([folder_id]).map_err(|e| self.err(e))?;
        let mut kept = Kept::default();
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let side: String = row.get(0).map_err(|e| self.err(e))?;
            if side == "local" {
                kept.local_only.insert(row.get(2).map_err(|e| self.err(e))?);
            } else {
                kept.server_only
                    .insert(Uid(row.get(1).map_err(|e| self.err(e))?));
            }
        }
        Ok(kept)
    }

    /// Whether `folder_id` keeps local copies of server expunges.
    pub fn has_kept_local(&self, folder_id: i64) -> Result<bool> {
        if !self.has_table("kept")? {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM kept WHERE folder_id = ?1 AND only_on = 'local')",
            )
            .and_then(|mut stmt| stmt.query_row([folder_id], |row| row.get(0)))
            .map_err(|e| self.err(e))
    }

    /// How many messages the account keeps only locally, and only on the
    /// server (for `status`).
    pub fn kept_counts(&self, folder_id: i64) -> Result<(usize, usize)> {
        let kept = self.kept(folder_id)?;
        Ok((kept.local_only.len(), kept.server_only.len()))
    }

    /// Records messages as kept on one side, and drops their pairs, in one
    /// transaction: `(uid, local_base, on server)`.
    pub fn keep_one_sided(&mut self, folder_id: i64, kept: &[(Uid, String, bool)]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO kept (folder_id, only_on, uid, local_base)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(e)?;
            let mut unpair = tx
                .prepare_cached("DELETE FROM pairs WHERE folder_id = ?1 AND uid = ?2")
                .map_err(e)?;
            for (uid, base, on_server) in kept {
                let side = if *on_server { "server" } else { "local" };
                insert
                    .execute(params![folder_id, side, uid.0, base])
                    .map_err(e)?;
                unpair.execute(params![folder_id, uid.0]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Forgets local copies kept in `folder_id` that left the folder (moved
    /// into the `archive_folder`, which no sync reads).
    pub fn forget_kept_local(&mut self, folder_id: i64, bases: &[String]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut forget = tx
                .prepare_cached(
                    "DELETE FROM kept WHERE folder_id = ?1 AND only_on = 'local' AND local_base = ?2",
                )
                .map_err(e)?;
            for base in bases {
                forget.execute(params![folder_id, base]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }
}
