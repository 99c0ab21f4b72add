//! Moves between folders, journaled: the intent is recorded before the
//! server is asked to MOVE, and the message's new pair, the old pair's
//! removal and the intent's end are one transaction. A run killed between
//! finds the intent and asks the server where the message is.

use rusqlite::params;

use super::support::unix_now;
use super::{sqlite, Result, StateDb};
use crate::model::{Pair, Uid};

/// A message being moved from one folder to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveIntent {
    /// 0 until recorded.
    pub id: i64,
    pub from_folder: i64,
    pub uid: Uid,
    pub to_folder: i64,
    /// The local file's base, as in the source folder's pair.
    pub local_base: String,
    pub message_id: Option<String>,
    /// The target folder's UIDNEXT before the move: the new UID is at least this.
    pub to_uidnext: Option<Uid>,
}

impl StateDb {
    /// Journals moves before they are sent; returns them with their ids.
    pub fn add_move_intents(&mut self, moves: &[MoveIntent]) -> Result<Vec<MoveIntent>> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        let mut out = Vec::with_capacity(moves.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO move_intents
                         (from_folder, uid, to_folder, local_base, message_id, to_uidnext, created)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(e)?;
            let now = unix_now();
            for m in moves {
                insert
                    .execute(params![
                        m.from_folder,
                        m.uid.0,
                        m.to_folder,
                        m.local_base,
                        m.message_id,
                        m.to_uidnext.map(|u| u.0),
                        now
                    ])
                    .map_err(e)?;
                out.push(MoveIntent {
                    id: tx.last_insert_rowid(),
                    ..m.clone()
                });
            }
        }
        tx.commit().map_err(e)?;
        Ok(out)
    }

    /// Moves journaled and never finished.
    pub fn pending_moves(&self) -> Result<Vec<MoveIntent>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, from_folder, uid, to_folder, local_base, message_id, to_uidnext
                 FROM move_intents ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(MoveIntent {
                    id: r.get(0)?,
                    from_folder: r.get(1)?,
                    uid: Uid(r.get(2)?),
                    to_folder: r.get(3)?,
                    local_base: r.get(4)?,
                    message_id: r.get(5)?,
                    to_uidnext: r.get::<_, Option<u32>>(6)?.map(Uid),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// A move done on both sides: the source pair goes, `pair` joins the
    /// target folder, and the intent ends, together.
    pub fn finish_move(&mut self, intent: &MoveIntent, pair: &Pair) -> Result<()> {
        self.move_pair(
            intent.from_folder,
            intent.uid,
            intent.to_folder,
            pair,
            Some(intent.id),
        )
    }

    /// Moves a pair to another folder in one transaction (and ends the
    /// move's intent, if it has one).
    pub fn move_pair(
        &mut self,
        from_folder: i64,
        uid: Uid,
        to_folder: i64,
        pair: &Pair,
        intent: Option<i64>,
    ) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        tx.execute(
            "DELETE FROM pairs WHERE folder_id = ?1 AND uid = ?2",
            params![from_folder, uid.0],
        )
        .map_err(e)?;
        tx.execute(
            "INSERT OR REPLACE INTO pairs (folder_id, uid, local_base, flags) VALUES (?1, ?2, ?3, ?4)",
            params![to_folder, pair.uid.0, pair.local_base, pair.flags.bits()],
        )
        .map_err(e)?;
        if let Some(id) = intent {
            tx.execute("DELETE FROM move_intents WHERE id = ?1", [id])
                .map_err(e)?;
        }
        tx.commit().map_err(e)
    }

    /// Forgets a move that turned out not to be needed, or not possible:
    /// the folders' own syncs take the message from here.
    pub fn drop_move(&self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM move_intents WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }
}
