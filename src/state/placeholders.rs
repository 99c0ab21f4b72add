//! Placeholders (`max_message_size`): the pairs whose local file holds only
//! the message's header, and which of them are to be downloaded whole at
//! the next sync (flagged in the mail reader, or `imapdir fetch`).

use rusqlite::params;

use super::{sqlite, Result, StateDb};
use crate::model::Uid;

/// One placeholder: the pair's UID, the real size, and whether the whole
/// message was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder {
    pub uid: Uid,
    pub size: u64,
    pub requested: bool,
}

impl StateDb {
    /// The placeholders of `folder_id`.
    pub fn placeholders(&self, folder_id: i64) -> Result<Vec<Placeholder>> {
        if !self.has_table("placeholders")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT uid, size, requested FROM placeholders WHERE folder_id = ?1 ORDER BY uid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([folder_id], |r| {
                Ok(Placeholder {
                    uid: Uid(r.get(0)?),
                    size: r.get::<_, i64>(1)? as u64,
                    requested: r.get::<_, i64>(2)? != 0,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Whether the whole of some placeholder of `folder_id` was asked for.
    pub fn fetch_requested(&self, folder_id: i64) -> Result<bool> {
        if !self.has_table("placeholders")? {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM placeholders WHERE folder_id = ?1 AND requested)",
            )
            .and_then(|mut s| s.query_row([folder_id], |r| r.get::<_, bool>(0)))
            .map_err(|e| self.err(e))
    }

    /// Records placeholders about to be written: `(uid, real size)`.
    /// Recorded before the files, so a file made durable is never one the
    /// state does not know for a placeholder.
    pub fn add_placeholders(&mut self, folder_id: i64, added: &[(Uid, u64)]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO placeholders (folder_id, uid, size, requested)
                     VALUES (?1, ?2, ?3, 0)",
                )
                .map_err(e)?;
            for (uid, size) in added {
                insert
                    .execute(params![folder_id, uid.0, *size as i64])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Asks for the whole messages of these placeholders at the next sync;
    /// returns the UIDs that are not placeholders of the folder.
    pub fn request_fetch(&mut self, folder_id: i64, uids: &[Uid]) -> Result<Vec<Uid>> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        let mut unknown = Vec::new();
        {
            let mut update = tx
                .prepare_cached(
                    "UPDATE placeholders SET requested = 1 WHERE folder_id = ?1 AND uid = ?2",
                )
                .map_err(e)?;
            for uid in uids {
                if update.execute(params![folder_id, uid.0]).map_err(e)? == 0 {
                    unknown.push(*uid);
                }
            }
        }
        tx.commit().map_err(e)?;
        Ok(unknown)
    }

    /// Forgets placeholders: replaced by their whole messages, or gone.
    pub fn drop_placeholders(&mut self, folder_id: i64, uids: &[Uid]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut delete = tx
                .prepare_cached("DELETE FROM placeholders WHERE folder_id = ?1 AND uid = ?2")
                .map_err(e)?;
            for uid in uids {
                delete.execute(params![folder_id, uid.0]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }
}
