//! Pairs: the messages known on both sides at the last sync, with the flags
//! both had, read by UID or UID range and changed in batches of one
//! transaction each.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use rusqlite::{params, OptionalExtension};

use super::{sqlite, IdentifiedCopy, Pair, PairChange, Result, StateDb};
use crate::model::{Flags, Uid, UidValidity};

impl StateDb {
    /// The pairs of a folder, by UID.
    pub fn pairs(&self, folder_id: i64) -> Result<Vec<Pair>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT uid, local_base, flags FROM pairs WHERE folder_id = ?1 ORDER BY uid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([folder_id], pair_from_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// The pairs with these UIDs or in these UID ranges, by UID: what a
    /// folder's changes since the last sync touch, read without reading the
    /// whole folder.
    pub fn pairs_among(
        &self,
        folder_id: i64,
        uids: &[Uid],
        ranges: &[RangeInclusive<u32>],
    ) -> Result<Vec<Pair>> {
        let mut found: BTreeMap<Uid, Pair> = BTreeMap::new();
        let mut by_uid = self
            .conn
            .prepare_cached(
                "SELECT uid, local_base, flags FROM pairs WHERE folder_id = ?1 AND uid = ?2",
            )
            .map_err(|e| self.err(e))?;
        for &uid in uids {
            if let Some(p) = by_uid
                .query_row(params![folder_id, uid.0], pair_from_row)
                .optional()
                .map_err(|e| self.err(e))?
            {
                found.insert(p.uid, p);
            }
        }
        let mut in_range = self
            .conn
            .prepare_cached(
                "SELECT uid, local_base, flags FROM pairs
                 WHERE folder_id = ?1 AND uid BETWEEN ?2 AND ?3",
            )
            .map_err(|e| self.err(e))?;
        for range in ranges {
            let rows = in_range
                .query_map(
                    params![folder_id, range.start(), range.end()],
                    pair_from_row,
                )
                .map_err(|e| self.err(e))?;
            for p in rows {
                let p = p.map_err(|e| self.err(e))?;
                found.insert(p.uid, p);
            }
        }
        Ok(found.into_values().collect())
    }

    /// How many pairs a folder has: the size of its local side when its
    /// directories are as the last sync left them.
    pub fn pair_count(&self, folder_id: i64) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT count(*) FROM pairs WHERE folder_id = ?1",
                [folder_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// The recorded messages the server names `identity`, in any folder.
    pub fn copies_of(&self, identity: &[u8]) -> Result<Vec<IdentifiedCopy>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT p.folder_id, f.local_name, p.uid, p.local_base, p.flags
                 FROM pairs p JOIN folders f ON f.id = p.folder_id
                 WHERE p.identity = ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([identity], |r| {
                Ok(IdentifiedCopy {
                    folder_id: r.get(0)?,
                    local_name: r.get(1)?,
                    uid: Uid(r.get(2)?),
                    local_base: r.get(3)?,
                    flags: Flags::from_bits(r.get(4)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Applies a batch of pair changes in one transaction.
    pub fn apply(&mut self, folder_id: i64, changes: &[PairChange]) -> Result<()> {
        self.apply_and_resolve(folder_id, changes, &[])
    }

    /// Applies pair changes and removes resolved intents in one transaction,
    /// so a recorded APPEND and its pair appear together or not at all.
    pub fn apply_and_resolve(
        &mut self,
        folder_id: i64,
        changes: &[PairChange],
        resolved_intents: &[i64],
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        {
            let e = |e| sqlite(&path, e);
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO pairs (folder_id, uid, local_base, flags) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(e)?;
            let mut set_flags = tx
                .prepare_cached("UPDATE pairs SET flags = ?3 WHERE folder_id = ?1 AND uid = ?2")
                .map_err(e)?;
            let mut set_base = tx
                .prepare_cached(
                    "UPDATE pairs SET local_base = ?3 WHERE folder_id = ?1 AND uid = ?2",
                )
                .map_err(e)?;
            let mut remove = tx
                .prepare_cached("DELETE FROM pairs WHERE folder_id = ?1 AND uid = ?2")
                .map_err(e)?;
            let mut identify = tx
                .prepare_cached("UPDATE pairs SET identity = ?3 WHERE folder_id = ?1 AND uid = ?2")
                .map_err(e)?;
            let mut resolve = tx
                .prepare_cached("DELETE FROM intents WHERE id = ?1")
                .map_err(e)?;
            for change in changes {
                match change {
                    PairChange::Insert(p) => {
                        insert.execute(params![folder_id, p.uid.0, p.local_base, p.flags.bits()])
                    }
                    PairChange::SetFlags { uid, flags } => {
                        set_flags.execute(params![folder_id, uid.0, flags.bits()])
                    }
                    PairChange::SetBase { uid, local_base } => {
                        set_base.execute(params![folder_id, uid.0, local_base])
                    }
                    PairChange::Remove { uid } => remove.execute(params![folder_id, uid.0]),
                    PairChange::Identify { uid, identity } => {
                        identify.execute(params![folder_id, uid.0, identity])
                    }
                }
                .map_err(e)?;
            }
            for id in resolved_intents {
                resolve.execute([id]).map_err(e)?;
            }
        }
        tx.commit().map_err(|e| sqlite(&path, e))
    }

    /// Replaces every pair of a folder and its UIDVALIDITY at once: used
    /// when the server's UIDVALIDITY changed and messages were re-paired.
    pub fn replace_pairs(
        &mut self,
        folder_id: i64,
        uidvalidity: UidValidity,
        pairs: &[Pair],
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        {
            let e = |e| sqlite(&path, e);
            tx.execute("DELETE FROM pairs WHERE folder_id = ?1", [folder_id])
                .map_err(e)?;
            // The window's record of what it kept out, and the placeholders'
            // (a placeholder's mark still says what it is), name the old UIDs.
            tx.execute("DELETE FROM window_out WHERE folder_id = ?1", [folder_id])
                .map_err(e)?;
            tx.execute("DELETE FROM placeholders WHERE folder_id = ?1", [folder_id])
                .map_err(e)?;
            tx.execute(
                "UPDATE folders SET uidvalidity = ?2, uidnext = NULL, highestmodseq = NULL,
                 cur_mtime_ns = NULL, new_mtime_ns = NULL WHERE id = ?1",
                params![folder_id, uidvalidity.0],
            )
            .map_err(e)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO pairs (folder_id, uid, local_base, flags) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(e)?;
            for p in pairs {
                insert
                    .execute(params![folder_id, p.uid.0, p.local_base, p.flags.bits()])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(|e| sqlite(&path, e))
    }
}

/// A row of `SELECT uid, local_base, flags FROM pairs`.
fn pair_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pair> {
    Ok(Pair {
        uid: Uid(r.get(0)?),
        local_base: r.get(1)?,
        flags: Flags::from_bits(r.get(2)?),
    })
}
