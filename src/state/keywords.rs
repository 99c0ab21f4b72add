//! Keywords a folder cannot sync: a keyword beyond the 26 letters a
//! Maildir folder has, or one the server will not store. Kept so that
//! each is reported with its folder and nothing is dropped silently; the
//! messages keep them where they are (the server's, or the file's letter).

use rusqlite::params;

use super::{sqlite, unix_now, Result, StateDb};

/// Why a keyword is not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeywordGap {
    /// All 26 letters of the folder are taken: it stays on the server only.
    NoLetter,
    /// The server's PERMANENTFLAGS refuse it: it stays on the files only.
    Refused,
}

impl KeywordGap {
    fn as_str(self) -> &'static str {
        match self {
            KeywordGap::NoLetter => "no-letter",
            KeywordGap::Refused => "refused",
        }
    }
}

/// One recorded keyword.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsyncedKeyword {
    pub keyword: String,
    pub reason: KeywordGap,
    /// The most messages one run saw carrying it (a run that reads only
    /// the changed messages sees fewer).
    pub messages: u64,
}

impl StateDb {
    /// Records what this sync found unsynced in `folder_id`, and returns
    /// the entries not recorded before, or recorded for another reason
    /// (those worth a warning). Entries not found again are kept: a folder read
    /// only in part (the changes since the last sync) does not see them.
    pub fn record_unsynced_keywords(
        &mut self,
        folder_id: i64,
        found: &[UnsyncedKeyword],
    ) -> Result<Vec<UnsyncedKeyword>> {
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        let mut fresh = Vec::new();
        {
            let mut get = tx
                .prepare_cached(
                    "SELECT reason, messages FROM unsynced_keywords
                     WHERE folder_id = ?1 AND keyword = ?2",
                )
                .map_err(e)?;
            let mut put = tx
                .prepare_cached(
                    "INSERT INTO unsynced_keywords (folder_id, keyword, reason, messages, seen)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(folder_id, keyword) DO UPDATE SET
                         reason = excluded.reason,
                         messages = CASE WHEN reason = excluded.reason
                             THEN max(messages, excluded.messages)
                             ELSE excluded.messages END,
                         seen = excluded.seen",
                )
                .map_err(e)?;
            for k in found {
                let before: Option<(String, u64)> = get
                    .query_row(params![folder_id, k.keyword], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .map(Some)
                    .or_else(|err| match err {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        other => Err(other),
                    })
                    .map_err(e)?;
                if before.as_ref().map(|(reason, _)| reason.as_str()) != Some(k.reason.as_str()) {
                    fresh.push(k.clone());
                }
                put.execute(params![
                    folder_id,
                    k.keyword,
                    k.reason.as_str(),
                    k.messages,
                    unix_now()
                ])
                .map_err(e)?;
            }
        }
        tx.commit().map_err(e)?;
        Ok(fresh)
    }

    /// The keywords `folder_id` does not sync, by name.
    pub fn unsynced_keywords(&self, folder_id: i64) -> Result<Vec<UnsyncedKeyword>> {
        if !self.has_table("unsynced_keywords")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT keyword, reason, messages FROM unsynced_keywords
                 WHERE folder_id = ?1 ORDER BY keyword",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([folder_id], |r| {
                let reason: String = r.get(1)?;
                Ok(UnsyncedKeyword {
                    keyword: r.get(0)?,
                    reason: if reason == "refused" {
                        KeywordGap::Refused
                    } else {
                        KeywordGap::NoLetter
                    },
                    messages: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))
    }

    /// Forgets a keyword that syncs again (a letter named for it, the
    /// server storing it now).
    pub fn forget_unsynced_keyword(&self, folder_id: i64, keyword: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM unsynced_keywords WHERE folder_id = ?1 AND keyword = ?2",
                params![folder_id, keyword],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
