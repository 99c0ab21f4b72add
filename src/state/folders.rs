//! Folder rows: one per folder the state knows, with its UIDVALIDITY and
//! what the last clean sync saw (UIDNEXT, HIGHESTMODSEQ, the directories'
//! stamp), which the next run compares against to skip unchanged folders.

use rusqlite::{params, OptionalExtension};

use super::support::unix_now;
use super::{FolderState, Result, StateDb};
use crate::model::{DirStamp, ModSeq, Uid, UidValidity};

impl StateDb {
    /// Every folder the state knows, by name.
    pub fn folders(&self) -> Result<Vec<FolderState>> {
        let mut stmt = self
            .conn
            .prepare(
                &format!(
                    "SELECT id, name, uidvalidity, uidnext, highestmodseq, cur_mtime_ns, new_mtime_ns, last_sync, {}
                     FROM folders ORDER BY name",
                    self.local_name_column()?
                ),
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], folder_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    pub fn folder(&self, name: &str) -> Result<Option<FolderState>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT id, name, uidvalidity, uidnext, highestmodseq, cur_mtime_ns, new_mtime_ns, last_sync, {}
                     FROM folders WHERE name = ?1",
                    self.local_name_column()?
                ),
                [name],
                folder_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a folder seen for the first time (or returns the existing
    /// one), with the local folder it is synced with.
    pub fn add_folder(
        &self,
        name: &str,
        uidvalidity: UidValidity,
        local_name: &str,
    ) -> Result<FolderState> {
        self.conn
            .execute(
                "INSERT INTO folders (name, uidvalidity, local_name) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO NOTHING",
                params![name, uidvalidity.0, local_name],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.folder(name)?.expect("folder row just inserted"))
    }

    /// Records that a folder finished syncing cleanly, with what the next run
    /// compares against to decide whether anything changed.
    pub fn mark_folder_synced(
        &self,
        folder_id: i64,
        uidnext: Option<Uid>,
        highestmodseq: Option<ModSeq>,
        stamp: Option<DirStamp>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE folders SET uidnext = ?2, highestmodseq = ?3, cur_mtime_ns = ?4,
                 new_mtime_ns = ?5, last_sync = ?6 WHERE id = ?1",
                params![
                    folder_id,
                    uidnext.map(|u| u.0),
                    highestmodseq.map(|m| m.0 as i64),
                    stamp.map(|s| s.cur_mtime_ns),
                    stamp.map(|s| s.new_mtime_ns),
                    unix_now(),
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forgets a folder, its pairs and intents with it: it is gone from
    /// both sides.
    pub fn remove_folder(&self, folder_id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM folders WHERE id = ?1", [folder_id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records that a folder was renamed (on the server, locally, or both):
    /// its pairs, UIDVALIDITY and stamps stay, under its new names.
    pub fn rename_folder(&self, folder_id: i64, name: &str, local_name: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE folders SET name = ?2, local_name = ?3 WHERE id = ?1",
                params![folder_id, name, local_name],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the local folder a folder is synced with, for a folder
    /// recorded before local names were.
    pub fn set_local_name(&self, folder_id: i64, local_name: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE folders SET local_name = ?2 WHERE id = ?1",
                params![folder_id, local_name],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records the directory stamp of a folder synced earlier in this run,
    /// once it can be trusted.
    pub fn set_stamp(&self, folder_id: i64, stamp: DirStamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE folders SET cur_mtime_ns = ?2, new_mtime_ns = ?3 WHERE id = ?1",
                params![folder_id, stamp.cur_mtime_ns, stamp.new_mtime_ns],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}

impl StateDb {
    /// `local_name`, or NULL where a read-only open reads a database from
    /// before that column (never migrated, as that would write).
    fn local_name_column(&self) -> Result<&'static str> {
        if let Some(has) = self.has_local_names.get() {
            return Ok(if has { "local_name" } else { "NULL" });
        }
        let has = self
            .conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('folders') WHERE name = 'local_name'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.err(e))?
            > 0;
        self.has_local_names.set(Some(has));
        Ok(if has { "local_name" } else { "NULL" })
    }
}

fn folder_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FolderState> {
    let cur: Option<i64> = r.get(5)?;
    let new: Option<i64> = r.get(6)?;
    Ok(FolderState {
        id: r.get(0)?,
        name: r.get(1)?,
        uidvalidity: UidValidity(r.get(2)?),
        uidnext: r.get::<_, Option<u32>>(3)?.map(Uid),
        highestmodseq: r.get::<_, Option<i64>>(4)?.map(|m| ModSeq(m as u64)),
        stamp: cur.zip(new).map(|(cur_mtime_ns, new_mtime_ns)| DirStamp {
            cur_mtime_ns,
            new_mtime_ns,
        }),
        last_sync: r.get(7)?,
        local_name: r.get(8)?,
    })
}
