//! The state database: what was last synced, and the intent journal.
//!
//! All SQL of imapdir lives here. One SQLite file per account, in WAL mode so
//! each folder worker can hold its own connection; every batch of changes is
//! one transaction, so a crash leaves either the batch or nothing.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

pub use crate::model::Pair;
use crate::model::{DirStamp, Flags};

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE folders (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER,
    highestmodseq INTEGER,
    cur_mtime_ns  INTEGER,
    new_mtime_ns  INTEGER,
    last_sync     INTEGER
);
CREATE TABLE pairs (
    folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    local_base TEXT NOT NULL,
    flags      INTEGER NOT NULL,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX pairs_by_base ON pairs(folder_id, local_base);
CREATE TABLE intents (
    id         INTEGER PRIMARY KEY,
    folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    local_base TEXT NOT NULL,
    message_id TEXT,
    size       INTEGER NOT NULL,
    uidnext    INTEGER,
    created    INTEGER NOT NULL
);
";

/// A state database that cannot be used as it is; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state database {path} is damaged ({detail}). Nothing was changed. \
         Move it aside (mv {path} {path}.broken) and run the sync again: \
         imapdir rebuilds the state by pairing messages by Message-ID and size, \
         without downloading, uploading or deleting what both sides already hold"
    )]
    Corrupt { path: String, detail: String },
    #[error("state database {path} was written by a newer imapdir (schema {found}, this one knows {known})")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("state database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, StateError>;

/// What the state remembers of one folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub id: i64,
    pub name: String,
    pub uidvalidity: u32,
    pub uidnext: Option<u32>,
    pub highestmodseq: Option<u64>,
    pub stamp: Option<DirStamp>,
    pub last_sync: Option<i64>,
}

/// One change to the recorded pairs, applied in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairChange {
    Insert(Pair),
    SetFlags { uid: u32, flags: Flags },
    SetBase { uid: u32, local_base: String },
    Remove { uid: u32 },
}

/// An APPEND recorded before it is sent, so a crash before its UID is known
/// can be resolved by finding the message on the server instead of sending it
/// a second time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendIntent {
    pub id: i64,
    pub local_base: String,
    pub message_id: Option<String>,
    pub size: u64,
    /// The folder's UIDNEXT before the APPEND: the new message's UID is at least this.
    pub uidnext: Option<u32>,
}

/// One connection to an account's state database.
pub struct StateDb {
    conn: Connection,
    path: String,
    /// How [`StateDb::open_another`] reaches the same database.
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Origin {
    ReadWrite(PathBuf),
    ReadOnly(PathBuf),
    /// A dry run without a database: every connection starts empty.
    Empty,
}

impl StateDb {
    /// Opens (creating if needed, mode 0600) and checks the database.
    pub fn open(path: &Path) -> Result<StateDb> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir)?;
        }
        let display = path.display().to_string();
        let existed = path.exists();
        if !existed {
            create_private_file(path)?;
        }
        let conn = Connection::open(path).map_err(|e| sqlite(&display, e))?;
        let db = StateDb {
            conn,
            path: display,
            origin: Origin::ReadWrite(path.to_path_buf()),
        };
        db.verify()?;
        db.configure(true)?;
        Ok(db)
    }

    /// Opens an existing database read-only, or an empty in-memory one when
    /// there is none: a dry run must not create or change anything.
    pub fn open_read_only(path: &Path) -> Result<StateDb> {
        let display = path.display().to_string();
        let has_content = std::fs::metadata(path)
            .map(|m| m.len() > 0)
            .unwrap_or(false);
        let origin = if has_content {
            Origin::ReadOnly(path.to_path_buf())
        } else {
            Origin::Empty
        };
        let db = StateDb::connect(display, origin)?;
        db.verify()?;
        db.configure(!has_content)?;
        Ok(db)
    }

    /// Opens a database this process already opened with [`StateDb::open`]
    /// during this run, without checking the whole file again.
    pub fn reopen(path: &Path) -> Result<StateDb> {
        let display = path.display().to_string();
        let db = StateDb::connect(display, Origin::ReadWrite(path.to_path_buf()))?;
        db.configure(true)?;
        Ok(db)
    }

    /// A second connection to the same database, for another thread of the
    /// same run. It skips the whole-file check: the first connection did
    /// it, and it reads every page (milliseconds per ten thousand messages,
    /// once per run rather than once per worker).
    pub fn open_another(&self) -> Result<StateDb> {
        let db = StateDb::connect(self.path.clone(), self.origin.clone())?;
        db.configure(matches!(self.origin, Origin::ReadWrite(_) | Origin::Empty))?;
        Ok(db)
    }

    fn connect(display: String, origin: Origin) -> Result<StateDb> {
        let conn = match &origin {
            Origin::ReadWrite(path) => Connection::open(path),
            Origin::ReadOnly(path) => {
                Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            }
            Origin::Empty => Connection::open_in_memory(),
        }
        .map_err(|e| sqlite(&display, e))?;
        conn.busy_handler(Some(wait_while_busy))
            .map_err(|e| sqlite(&display, e))?;

        Ok(StateDb {
            conn,
            path: display,
            origin,
        })
    }

    /// Fails on a garbage or truncated file before anything reads or
    /// writes it, so damage is never made worse.
    fn verify(&self) -> Result<()> {
        let corrupt = |detail: String| StateError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        if check != "ok" {
            return Err(corrupt(check));
        }
        Ok(())
    }

    fn configure(&self, writable: bool) -> Result<()> {
        let corrupt = |detail: String| StateError::Corrupt {
            path: self.path.clone(),
            detail,
        };
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| self.err(e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if version > SCHEMA_VERSION {
            return Err(StateError::TooNew {
                path: self.path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            let has_tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if has_tables > 0 {
                return Err(corrupt("unknown tables and no schema version".into()));
            }
            if writable {
                self.conn
                    .execute_batch(&format!(
                        "PRAGMA journal_mode = WAL; BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                    ))
                    .map_err(|e| self.err(e))?;
            }
        } else if writable {
            self.conn
                .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// A transaction that takes the write lock at once (waiting in the busy
    /// handler), rather than failing when a read turns into a write while
    /// another connection writes.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sqlite(&self.path, e))
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        sqlite(&self.path, e)
    }

    /// Every folder the state knows, by name.
    pub fn folders(&self) -> Result<Vec<FolderState>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, name, uidvalidity, uidnext, highestmodseq, cur_mtime_ns, new_mtime_ns, last_sync
                 FROM folders ORDER BY name",
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
                "SELECT id, name, uidvalidity, uidnext, highestmodseq, cur_mtime_ns, new_mtime_ns, last_sync
                 FROM folders WHERE name = ?1",
                [name],
                folder_from_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a folder seen for the first time (or returns the existing one).
    pub fn add_folder(&self, name: &str, uidvalidity: u32) -> Result<FolderState> {
        self.conn
            .execute(
                "INSERT INTO folders (name, uidvalidity) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
                params![name, uidvalidity],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.folder(name)?.expect("folder row just inserted"))
    }

    /// Records that a folder finished syncing cleanly, with what the next run
    /// compares against to decide whether anything changed.
    pub fn mark_folder_synced(
        &self,
        folder_id: i64,
        uidnext: Option<u32>,
        highestmodseq: Option<u64>,
        stamp: Option<DirStamp>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE folders SET uidnext = ?2, highestmodseq = ?3, cur_mtime_ns = ?4,
                 new_mtime_ns = ?5, last_sync = ?6 WHERE id = ?1",
                params![
                    folder_id,
                    uidnext,
                    highestmodseq.map(|m| m as i64),
                    stamp.map(|s| s.cur_mtime_ns),
                    stamp.map(|s| s.new_mtime_ns),
                    unix_now(),
                ],
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
        uids: &[u32],
        ranges: &[RangeInclusive<u32>],
    ) -> Result<Vec<Pair>> {
        let mut found: BTreeMap<u32, Pair> = BTreeMap::new();
        let mut by_uid = self
            .conn
            .prepare_cached(
                "SELECT uid, local_base, flags FROM pairs WHERE folder_id = ?1 AND uid = ?2",
            )
            .map_err(|e| self.err(e))?;
        for &uid in uids {
            if let Some(p) = by_uid
                .query_row(params![folder_id, uid], pair_from_row)
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
            let mut resolve = tx
                .prepare_cached("DELETE FROM intents WHERE id = ?1")
                .map_err(e)?;
            for change in changes {
                match change {
                    PairChange::Insert(p) => {
                        insert.execute(params![folder_id, p.uid, p.local_base, p.flags.bits()])
                    }
                    PairChange::SetFlags { uid, flags } => {
                        set_flags.execute(params![folder_id, uid, flags.bits()])
                    }
                    PairChange::SetBase { uid, local_base } => {
                        set_base.execute(params![folder_id, uid, local_base])
                    }
                    PairChange::Remove { uid } => remove.execute(params![folder_id, uid]),
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
        uidvalidity: u32,
        pairs: &[Pair],
    ) -> Result<()> {
        let path = self.path.clone();
        let tx = self.write_transaction()?;
        {
            let e = |e| sqlite(&path, e);
            tx.execute("DELETE FROM pairs WHERE folder_id = ?1", [folder_id])
                .map_err(e)?;
            tx.execute(
                "UPDATE folders SET uidvalidity = ?2, uidnext = NULL, highestmodseq = NULL,
                 cur_mtime_ns = NULL, new_mtime_ns = NULL WHERE id = ?1",
                params![folder_id, uidvalidity],
            )
            .map_err(e)?;
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO pairs (folder_id, uid, local_base, flags) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(e)?;
            for p in pairs {
                insert
                    .execute(params![folder_id, p.uid, p.local_base, p.flags.bits()])
                    .map_err(e)?;
            }
        }
        tx.commit().map_err(|e| sqlite(&path, e))
    }

    /// Journals an APPEND before it is sent.
    pub fn add_append_intent(
        &self,
        folder_id: i64,
        local_base: &str,
        message_id: Option<&str>,
        size: u64,
        uidnext: Option<u32>,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO intents (folder_id, kind, local_base, message_id, size, uidnext, created)
                 VALUES (?1, 'append', ?2, ?3, ?4, ?5, ?6)",
                params![folder_id, local_base, message_id, size as i64, uidnext, unix_now()],
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
                    uidnext: r.get(4)?,
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

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.path)
    }

    /// Records how each folder's last sync attempt ended (error `None`: it
    /// succeeded), for `imapdir status`, in one transaction. The folder
    /// [`ACCOUNT_RESULT`] stands for the account as a whole. The table is
    /// created on first use.
    pub fn record_sync_results(&mut self, results: &[(&str, Option<&str>)]) -> Result<()> {
        let path = self.path.clone();
        let e = |e| sqlite(&path, e);
        let tx = self.write_transaction()?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS sync_results (
                 folder   TEXT PRIMARY KEY,
                 finished INTEGER NOT NULL,
                 error    TEXT
             )",
        )
        .map_err(e)?;
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
        let exists: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sync_results'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if exists == 0 {
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

/// The `sync_results` key of the account as a whole (not a valid folder name).
pub const ACCOUNT_RESULT: &str = "";

/// A row of `SELECT uid, local_base, flags FROM pairs`.
fn pair_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Pair> {
    Ok(Pair {
        uid: r.get(0)?,
        local_base: r.get(1)?,
        flags: Flags::from_bits(r.get(2)?),
    })
}

fn folder_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FolderState> {
    let cur: Option<i64> = r.get(5)?;
    let new: Option<i64> = r.get(6)?;
    Ok(FolderState {
        id: r.get(0)?,
        name: r.get(1)?,
        uidvalidity: r.get(2)?,
        uidnext: r.get(3)?,
        highestmodseq: r.get::<_, Option<i64>>(4)?.map(|m| m as u64),
        stamp: cur.zip(new).map(|(cur_mtime_ns, new_mtime_ns)| DirStamp {
            cur_mtime_ns,
            new_mtime_ns,
        }),
        last_sync: r.get(7)?,
    })
}

/// How long a connection waits for another's write (a worker's batch, or
/// `status` reading while a sync writes) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's busy handler: called with the number of earlier calls for the
/// same lock; `false` gives up. SQLite's own `busy_timeout` sleeps 1, 2, 5,
/// 10 ms and longer, while a worker's commit holds the lock for well under
/// a millisecond, so four workers committing batches spent more time
/// asleep than writing. Here the wait starts at 50 µs and stays at 1 ms.
fn wait_while_busy(calls: i32) -> bool {
    let calls = calls.max(0) as u64;
    if busy_waited(calls) >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(busy_delay(calls));
    true
}

/// The sleep before retry number `calls + 1`: 50 µs more each time, up to 1 ms.
fn busy_delay(calls: u64) -> Duration {
    Duration::from_micros((50 * (calls + 1)).min(1000))
}

/// The total slept by the first `calls` retries.
fn busy_waited(calls: u64) -> Duration {
    // 50 + 100 + ... + 1000 µs over the first 20, then 1 ms each.
    let ramp = calls.min(20);
    let micros = 25 * ramp * (ramp + 1) + calls.saturating_sub(20) * 1000;
    Duration::from_micros(micros)
}

fn sqlite(path: &str, source: rusqlite::Error) -> StateError {
    let corrupt = matches!(
        source.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
    );
    if corrupt {
        StateError::Corrupt {
            path: path.to_string(),
            detail: source.to_string(),
        }
    } else {
        StateError::Sqlite {
            path: path.to_string(),
            source,
        }
    }
}

/// Current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Creates the state directory readable by its owner only.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StateError::Create {
            path: dir.display().to_string(),
            source,
        })
}

/// Creates the database file with mode 0600 before SQLite opens it, so
/// message metadata is never readable by others, whatever the umask.
pub fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| StateError::Create {
            path: path.display().to_string(),
            source,
        })
}

/// The messages OfflineIMAP recorded for one folder in its status database
/// (`LocalStatus-sqlite/FOLDER` under its metadata directory): server UID
/// and the flags (Maildir letters) both sides had at its last run. The
/// file is only read, never locked or written.
pub fn offlineimap_status(path: &Path) -> rusqlite::Result<Vec<(u32, String)>> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let mut stmt = conn.prepare("SELECT id, COALESCE(flags, '') FROM status")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (uid, flags) = row?;
        if let Ok(uid) = u32::try_from(uid) {
            if uid > 0 {
                out.push((uid, flags));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busy_wait_ramps_up_then_gives_up_after_the_timeout() {
        let slept: Duration = (0..40).map(busy_delay).sum();
        assert_eq!(busy_waited(40), slept);
        assert_eq!(busy_delay(0), Duration::from_micros(50));
        assert_eq!(busy_delay(100), Duration::from_millis(1));
        let last = (0..).find(|&n| busy_waited(n) >= BUSY_TIMEOUT).unwrap();
        assert!(busy_waited(last) < BUSY_TIMEOUT + Duration::from_millis(2));
    }

    fn pair(uid: u32, base: &str, flags: Flags) -> Pair {
        Pair {
            uid,
            local_base: base.into(),
            flags,
        }
    }

    #[test]
    fn pairs_among_reads_just_the_named_uids_and_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(&dir.path().join("s.sqlite")).unwrap();
        let f = db.add_folder("INBOX", 1).unwrap();
        let other = db.add_folder("Other", 1).unwrap();
        let all: Vec<_> = (1..=20)
            .map(|u| PairChange::Insert(pair(u, &format!("b{u}"), Flags::SEEN)))
            .collect();
        db.apply(f.id, &all).unwrap();
        db.apply(other.id, &[PairChange::Insert(pair(3, "o3", Flags::SEEN))])
            .unwrap();
        let uids = |ps: Vec<Pair>| ps.into_iter().map(|p| p.uid).collect::<Vec<_>>();
        assert_eq!(
            uids(
                db.pairs_among(f.id, &[7, 3, 99], &[10..=12, 19..=40])
                    .unwrap()
            ),
            [3, 7, 10, 11, 12, 19, 20]
        );
        assert_eq!(
            uids(db.pairs_among(f.id, &[5], &[4..=6]).unwrap()),
            [4, 5, 6]
        );
        assert!(db.pairs_among(f.id, &[], &[]).unwrap().is_empty());
        assert_eq!(db.pair_count(f.id).unwrap(), 20);
        assert_eq!(db.pair_count(other.id).unwrap(), 1);
    }

    #[test]
    fn pairs_round_trip_through_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(&dir.path().join("s/acc.sqlite")).unwrap();
        let f = db.add_folder("INBOX", 7).unwrap();
        assert_eq!(f.uidvalidity, 7);
        assert_eq!(
            db.add_folder("INBOX", 9).unwrap().id,
            f.id,
            "existing folder kept"
        );
        db.apply(
            f.id,
            &[
                PairChange::Insert(pair(1, "a", Flags::SEEN)),
                PairChange::Insert(pair(2, "b", Flags::empty())),
                PairChange::Insert(pair(3, "c", Flags::empty())),
            ],
        )
        .unwrap();
        db.apply(
            f.id,
            &[
                PairChange::SetFlags {
                    uid: 2,
                    flags: Flags::FLAGGED,
                },
                PairChange::SetBase {
                    uid: 3,
                    local_base: "c,U=3".into(),
                },
                PairChange::Remove { uid: 1 },
            ],
        )
        .unwrap();
        assert_eq!(
            db.pairs(f.id).unwrap(),
            vec![
                pair(2, "b", Flags::FLAGGED),
                pair(3, "c,U=3", Flags::empty())
            ]
        );
        db.mark_folder_synced(
            f.id,
            Some(4),
            Some(99),
            Some(DirStamp {
                cur_mtime_ns: 1,
                new_mtime_ns: 2,
            }),
        )
        .unwrap();
        let f2 = db.folder("INBOX").unwrap().unwrap();
        assert_eq!((f2.uidnext, f2.highestmodseq), (Some(4), Some(99)));
        assert!(f2.last_sync.is_some());
    }

    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acc.sqlite");
        StateDb::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn intents_resolve_with_their_pair() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
        let f = db.add_folder("INBOX", 1).unwrap();
        let id = db
            .add_append_intent(f.id, "x", Some("<m@x>"), 42, Some(10))
            .unwrap();
        let pending = db.pending_appends(f.id).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].message_id.as_deref(), Some("<m@x>"));
        assert_eq!((pending[0].size, pending[0].uidnext), (42, Some(10)));
        db.apply_and_resolve(
            f.id,
            &[PairChange::Insert(pair(10, "x,U=10", Flags::SEEN))],
            &[id],
        )
        .unwrap();
        assert!(db.pending_appends(f.id).unwrap().is_empty());
        assert_eq!(db.pairs(f.id).unwrap().len(), 1);
    }

    #[test]
    fn replace_pairs_resets_folder() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
        let f = db.add_folder("INBOX", 1).unwrap();
        db.apply(f.id, &[PairChange::Insert(pair(1, "a", Flags::SEEN))])
            .unwrap();
        db.mark_folder_synced(f.id, Some(2), Some(5), None).unwrap();
        db.replace_pairs(f.id, 2, &[pair(100, "a", Flags::SEEN)])
            .unwrap();
        let f2 = db.folder("INBOX").unwrap().unwrap();
        assert_eq!((f2.uidvalidity, f2.highestmodseq), (2, None));
        assert_eq!(db.pairs(f.id).unwrap(), vec![pair(100, "a", Flags::SEEN)]);
    }

    #[test]
    fn garbage_and_truncated_files_are_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acc.sqlite");
        std::fs::write(
            &path,
            b"this is not a database, just some bytes that fill a page ........",
        )
        .unwrap();
        let err = StateDb::open(&path).err().expect("garbage must not open");
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("mv "), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap()[..8],
            b"this is "[..],
            "the damaged file is left as it was"
        );

        let good = dir.path().join("good.sqlite");
        {
            let mut db = StateDb::open(&good).unwrap();
            let f = db.add_folder("INBOX", 1).unwrap();
            let many: Vec<_> = (1..2000)
                .map(|u| {
                    PairChange::Insert(pair(
                        u,
                        &format!("base-{u}-{}", "x".repeat(40)),
                        Flags::SEEN,
                    ))
                })
                .collect();
            db.apply(f.id, &many).unwrap();
            db.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
        }
        let bytes = std::fs::read(&good).unwrap();
        let truncated = dir.path().join("truncated.sqlite");
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let err = StateDb::open(&truncated)
            .err()
            .expect("truncated must not open");
        assert!(matches!(err, StateError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn read_only_open_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.sqlite");
        let db = StateDb::open_read_only(&path).unwrap();
        assert!(db.folders().unwrap().is_empty());
        assert!(!path.exists());
    }
}
