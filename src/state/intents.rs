//! The intent journal: APPENDs recorded before they are sent, so a crash
//! between sending and learning the UID is resolved by finding the message
//! on the server rather than uploading it twice. Intents resolved together
//! with their pair go through [`StateDb::apply_and_resolve`].

use rusqlite::params;

use super::support::unix_now;
use super::{AppendIntent, Result, StateDb};
use crate::model::Uid;

impl StateDb {
    /// Journals an APPEND before it is sent.
    pub fn add_append_intent(
        &self,
        folder_id: i64,
        local_base: &str,
        message_id: Option<&str>,
        size: u64,
        uidnext: Option<Uid>,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO intents (folder_id, kind, local_base, message_id, size, uidnext, created)
                 VALUES (?1, 'append', ?2, ?3, ?4, ?5, ?6)",
                params![folder_id, local_base, message_id, size as i64, uidnext.map(|u| u.0), unix_now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// APPENDs that were journaled but never confirmed (a crash came between).
    pub fn pending_appends(&self, folder_id: i64) -> Result<Vec<AppendIntent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, local_base, message_id, size, uidnext FROM intents
                 WHERE folder_id = ?1 AND kind = 'append' ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([folder_id], |r| {
                Ok(AppendIntent {
                    id: r.get(0)?,
                    local_base: r.get(1)?,
                    message_id: r.get(2)?,
                    size: r.get::<_, i64>(3)? as u64,
                    uidnext: r.get::<_, Option<u32>>(4)?.map(Uid),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Forgets an intent that turned out to need nothing.
    pub fn remove_intent(&self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM intents WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
