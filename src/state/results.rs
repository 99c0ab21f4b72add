//! Sync results: how each folder's last sync attempt ended, and when, kept
//! for `imapdir status` to show what failed even after the run's output is
//! gone.

use rusqlite::params;

use super::support::unix_now;
use super::{sqlite, Result, StateDb};

/// The `sync_results` key of the account as a whole (not a valid folder name).
pub const ACCOUNT_RESULT: &str = "";

impl StateDb {
    /// Records how each folder's last sync attempt ended (error `None`: it
    /// succeeded), for `imapdir status`, in one transaction. The folder
    /// [`ACCOUNT_RESULT`] stands for the account as a whole.
    pub fn record_sync_results(&mut self, results: &[(&str, Option<&str>)]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        {
            let mut upsert = tx
                .prepare(
                    "INSERT INTO sync_results (folder, finished, error) VALUES (?1, ?2, ?3)
                     ON CONFLICT(folder) DO UPDATE SET finished = ?2, error = ?3",
                )
                .map_err(e)?;
            let now = unix_now();
            for (folder, error) in results {
                upsert.execute(params![folder, now, error]).map_err(e)?;
            }
        }
        tx.commit().map_err(e)
    }

    /// Every recorded last attempt: (folder, unix time it ended, error).
    pub fn sync_results(&self) -> Result<Vec<(String, i64, Option<String>)>> {
        if !self.has_table("sync_results")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT folder, finished, error FROM sync_results ORDER BY folder")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}
