//! Settings the Maildir was synced with, which a later config must agree
//! with (its layout): one row per key.

use rusqlite::{params, OptionalExtension};

use super::{Result, StateDb};

impl StateDb {
    /// A recorded setting; `None` when never recorded, also in a database
    /// from before the table (read-only opens do not migrate).
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        if !self.has_table("settings")? {
            return Ok(None);
        }
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_setting(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
