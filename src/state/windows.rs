//! The date and count window each folder was last synced with, and the
//! server messages it kept out (not downloaded, and never a deletion).

use std::collections::HashSet;

use rusqlite::{params, OptionalExtension};

use super::{sqlite, Result, StateDb};
use crate::model::Uid;

/// A folder's window as recorded after its last complete sync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowRecord {
    /// The window's spec (`Window::spec`); `None` when it had none.
    pub spec: Option<String>,
}

impl StateDb {
    /// The window `folder_id` was last synced with.
    pub fn window(&self, folder_id: i64) -> Result<WindowRecord> {
        if !self.has_table("windows")? {
            return Ok(WindowRecord::default());
        }
        let spec = self
            .conn
            .prepare_cached("SELECT spec FROM windows WHERE folder_id = ?1")
            .and_then(|mut s| s.query_row([folder_id], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(WindowRecord { spec })
    }

    /// The server messages (UIDs) the window kept out of `folder_id`.
    pub fn window_out(&self, folder_id: i64) -> Result<HashSet<Uid>> {
        self.window_out_uids("SELECT uid FROM window_out WHERE folder_id = ?1", folder_id)
    }

    /// The UIDs a query of `window_out` for `folder_id` selects.
    fn window_out_uids(&self, sql: &str, folder_id: i64) -> Result<HashSet<Uid>> {
        if !self.has_table("window_out")? {
            return Ok(HashSet::new());
        }
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([folder_id], |r| r.get::<_, u32>(0))
            .map_err(|e| self.err(e))?;
        let mut out = HashSet::new();
        for uid in rows {
            out.insert(Uid(uid.map_err(|e| self.err(e))?));
        }
        Ok(out)
    }

    /// How many server messages the window kept out of `folder_id` at its
    /// last sync (for `status`).
    pub fn window_out_count(&self, folder_id: i64) -> Result<usize> {
        if !self.has_table("window_out")? {
            return Ok(0);
        }
        self.conn
            .prepare_cached("SELECT count(*) FROM window_out WHERE folder_id = ?1")
            .and_then(|mut s| s.query_row([folder_id], |r| r.get::<_, i64>(0)))
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Records the window a sync of `folder_id` completed with (`None`: no
    /// window, which forgets what an earlier one kept out), and the
    /// changes to what it keeps out, in one transaction.
    pub fn record_window(
        &mut self,
        folder_id: i64,
        spec: Option<&str>,
        now_out: &[Uid],
        now_in: &[Uid],
    ) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        match spec {
            Some(spec) => {
                tx.execute(
                    "INSERT OR REPLACE INTO windows (folder_id, spec) VALUES (?1, ?2)",
                    params![folder_id, spec],
                )
                .map_err(e)?;
                let mut insert = tx
                    .prepare_cached(
                        "INSERT OR IGNORE INTO window_out (folder_id, uid) VALUES (?1, ?2)",
                    )
                    .map_err(e)?;
                for uid in now_out {
                    insert.execute(params![folder_id, uid.0]).map_err(e)?;
                }
                let mut remove = tx
                    .prepare_cached("DELETE FROM window_out WHERE folder_id = ?1 AND uid = ?2")
                    .map_err(e)?;
                for uid in now_in {
                    remove.execute(params![folder_id, uid.0]).map_err(e)?;
                }
            }
            None => {
                tx.execute("DELETE FROM windows WHERE folder_id = ?1", [folder_id])
                    .map_err(e)?;
                tx.execute("DELETE FROM window_out WHERE folder_id = ?1", [folder_id])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Asks for these server messages of `folder_id` although the window
    /// keeps them out: the next sync of the folder downloads them.
    pub fn request_window_fetch(&mut self, folder_id: i64, uids: &[Uid]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO window_out (folder_id, uid, requested) VALUES (?1, ?2, 1)
                     ON CONFLICT (folder_id, uid) DO UPDATE SET requested = 1",
                )
                .map_err(e)?;
            for uid in uids {
                upsert.execute(params![folder_id, uid.0]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// The messages outside the window asked for in `folder_id`.
    pub fn window_requested(&self, folder_id: i64) -> Result<HashSet<Uid>> {
        self.window_out_uids(
            "SELECT uid FROM window_out WHERE folder_id = ?1 AND requested",
            folder_id,
        )
    }
}
