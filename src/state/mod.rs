//! The state database: what was last synced, and the intent journal.
//!
//! All SQL of imapdir lives here. One SQLite file per account, in WAL mode so
//! each folder worker can hold its own connection; every batch of changes is
//! one transaction, so a crash leaves either the batch or nothing.
//!
//! This file opens the database and keeps its schema; the rows live by
//! table, each with a file of its own: folders, pairs, the intent journal
//! and the sync results.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::model::{DirStamp, Flags, ModSeq, Pair, Uid, UidValidity};

mod folders;
mod intents;
mod kept;
mod keywords;
mod moves;
mod offlineimap;
mod outbox;
mod pairs;
mod placeholders;
mod pop3;
mod refusals;
mod results;
mod settings;
mod support;
#[cfg(test)]
mod tests;
mod windows;

pub use kept::Kept;
pub use keywords::{KeywordGap, UnsyncedKeyword};
pub use moves::MoveIntent;
pub use offlineimap::offlineimap_status;
pub use outbox::{OutboxSend, SendState};
pub use placeholders::Placeholder;
pub use pop3::{Pop3Counts, Pop3Record};
pub use refusals::Refusal;
pub use results::ACCOUNT_RESULT;
pub use support::{create_private_file, unix_now};
pub use windows::WindowRecord;

use support::{create_private_dir, wait_while_busy};

/// The schema this imapdir writes, kept in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 9;

/// A new database, complete at [`SCHEMA_VERSION`].
const SCHEMA: &str = "
CREATE TABLE folders (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    uidvalidity   INTEGER NOT NULL,
    uidnext       INTEGER,
    highestmodseq INTEGER,
    cur_mtime_ns  INTEGER,
    new_mtime_ns  INTEGER,
    last_sync     INTEGER,
    local_name    TEXT
);
CREATE TABLE pairs (
    folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid        INTEGER NOT NULL,
    local_base TEXT NOT NULL,
    flags      INTEGER NOT NULL,
    identity   BLOB,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE INDEX pairs_by_base ON pairs(folder_id, local_base);
CREATE INDEX pairs_by_identity ON pairs(identity) WHERE identity IS NOT NULL;
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
CREATE TABLE sync_results (
    folder   TEXT PRIMARY KEY,
    finished INTEGER NOT NULL,
    error    TEXT
);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE refusals (
    folder   TEXT NOT NULL,
    guard    TEXT NOT NULL,
    display  TEXT NOT NULL,
    change   TEXT NOT NULL,
    summary  TEXT NOT NULL,
    refused  INTEGER NOT NULL,
    approved INTEGER,
    PRIMARY KEY (folder, guard)
);
CREATE TABLE move_intents (
    id          INTEGER PRIMARY KEY,
    from_folder INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid         INTEGER NOT NULL,
    to_folder   INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    local_base  TEXT NOT NULL,
    message_id  TEXT,
    to_uidnext  INTEGER,
    created     INTEGER NOT NULL
);
CREATE TABLE kept (
    folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    only_on    TEXT NOT NULL,
    uid        INTEGER NOT NULL,
    local_base TEXT NOT NULL,
    PRIMARY KEY (folder_id, only_on, uid, local_base)
) WITHOUT ROWID;
CREATE TABLE pop3_messages (
    uidl       TEXT PRIMARY KEY,
    local_base TEXT NOT NULL,
    stored     INTEGER,
    deleted    INTEGER
);
CREATE TABLE outbox_sends (
    local_base TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    recipients TEXT NOT NULL,
    state      TEXT NOT NULL,
    started    INTEGER NOT NULL
);
CREATE TABLE unsynced_keywords (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    keyword   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    messages  INTEGER NOT NULL,
    seen      INTEGER NOT NULL,
    PRIMARY KEY (folder_id, keyword)
) WITHOUT ROWID;
CREATE TABLE windows (
    folder_id INTEGER PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
    spec      TEXT NOT NULL
);
CREATE TABLE window_out (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid       INTEGER NOT NULL,
    requested INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
CREATE TABLE placeholders (
    folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
    uid       INTEGER NOT NULL,
    size      INTEGER NOT NULL,
    requested INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (folder_id, uid)
) WITHOUT ROWID;
";

/// Upgrades of a database written by an older imapdir, in order:
/// `MIGRATIONS[i]` takes version `i + 1` to `i + 2`. Each runs in one
/// transaction with its new version, so an interrupted upgrade leaves the
/// database at the version before it. A new migration is one more entry
/// here, the same change in [`SCHEMA`], and [`SCHEMA_VERSION`] one higher.
const MIGRATIONS: &[&str] = &[
    // 1 -> 2: sync_results joins the schema. Versions before this created it
    // on first use, so a version-1 database may already hold it, and rows.
    "CREATE TABLE IF NOT EXISTS sync_results (
         folder   TEXT PRIMARY KEY,
         finished INTEGER NOT NULL,
         error    TEXT
     );",
    // 2 -> 3: where each folder lives locally, so a change of naming rules
    // never moves a synced folder (NULL for folders synced before), and
    // what the whole Maildir was synced with (its layout).
    "ALTER TABLE folders ADD COLUMN local_name TEXT;
     CREATE TABLE settings (
         key   TEXT PRIMARY KEY,
         value TEXT NOT NULL
     );",
    // 3 -> 4: the changes a guard refused, and which of them a person
    // approved, so one confirmation lets exactly that change through.
    "CREATE TABLE refusals (
         folder   TEXT NOT NULL,
         guard    TEXT NOT NULL,
         display  TEXT NOT NULL,
         change   TEXT NOT NULL,
         summary  TEXT NOT NULL,
         refused  INTEGER NOT NULL,
         approved INTEGER,
         PRIMARY KEY (folder, guard)
     );",
    // 4 -> 5: a message moved between folders is one journaled intent, so
    // a crash between the server's MOVE and the local record converges;
    // messages kept on one side only (archive mode), so leaving one side is
    // never a deletion or a transfer on the other; the POP3 import's
    // journal (a UIDL is recorded before its download and marked stored
    // once its file is durable) and the outbox's (a send recorded before
    // DATA, marked sent after the 250).
    "CREATE TABLE kept (
         folder_id  INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         only_on    TEXT NOT NULL,
         uid        INTEGER NOT NULL,
         local_base TEXT NOT NULL,
         PRIMARY KEY (folder_id, only_on, uid, local_base)
     ) WITHOUT ROWID;
     CREATE TABLE move_intents (
         id          INTEGER PRIMARY KEY,
         from_folder INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         uid         INTEGER NOT NULL,
         to_folder   INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         local_base  TEXT NOT NULL,
         message_id  TEXT,
         to_uidnext  INTEGER,
         created     INTEGER NOT NULL
     );
     CREATE TABLE pop3_messages (
         uidl       TEXT PRIMARY KEY,
         local_base TEXT NOT NULL,
         stored     INTEGER,
         deleted    INTEGER
     );
     CREATE TABLE outbox_sends (
         local_base TEXT PRIMARY KEY,
         message_id TEXT NOT NULL,
         recipients TEXT NOT NULL,
         state      TEXT NOT NULL,
         started    INTEGER NOT NULL
     );",
    // 5 -> 6: keywords a folder cannot sync (no letter left of the 26, or
    // one the server will not store), kept so they are reported, never
    // dropped silently.
    "CREATE TABLE unsynced_keywords (
         folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         keyword   TEXT NOT NULL,
         reason    TEXT NOT NULL,
         messages  INTEGER NOT NULL,
         seen      INTEGER NOT NULL,
         PRIMARY KEY (folder_id, keyword)
     ) WITHOUT ROWID;",
    // 6 -> 7: the date and count window each folder was last synced with,
    // and the server messages it kept out, so that a changed window lists
    // the folder again and leaving the window is never a deletion; the
    // placeholders of messages too large to download, and which of them
    // are to be downloaded whole.
    "CREATE TABLE windows (
         folder_id INTEGER PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
         spec      TEXT NOT NULL
     );
     CREATE TABLE window_out (
         folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         uid       INTEGER NOT NULL,
         PRIMARY KEY (folder_id, uid)
     ) WITHOUT ROWID;
     CREATE TABLE placeholders (
         folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
         uid       INTEGER NOT NULL,
         size      INTEGER NOT NULL,
         requested INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (folder_id, uid)
     ) WITHOUT ROWID;",
    // 7 -> 8: server messages outside the window that were asked for
    // (`imapdir search --fetch`), which the next sync of the folder
    // downloads all the same.
    "ALTER TABLE window_out ADD COLUMN requested INTEGER NOT NULL DEFAULT 0;",
    // 8 -> 9: the server's identity of each downloaded message (EMAILID,
    // X-GUID, X-GM-MSGID), so the same message in another folder is a
    // hard link of this one's file, not a second download.
    "ALTER TABLE pairs ADD COLUMN identity BLOB;
     CREATE INDEX pairs_by_identity ON pairs(identity) WHERE identity IS NOT NULL;",
];

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION - 1);

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
    pub uidvalidity: UidValidity,
    pub uidnext: Option<Uid>,
    pub highestmodseq: Option<ModSeq>,
    pub stamp: Option<DirStamp>,
    pub last_sync: Option<i64>,
    /// The local folder's name, components joined by `/` (`None`: synced
    /// by a version that did not record it).
    pub local_name: Option<String>,
}

/// One change to the recorded pairs, applied in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairChange {
    Insert(Pair),
    SetFlags {
        uid: Uid,
        flags: Flags,
    },
    SetBase {
        uid: Uid,
        local_base: String,
    },
    Remove {
        uid: Uid,
    },
    /// The server's identity of a pair's message (see `model::identity_key`).
    Identify {
        uid: Uid,
        identity: Vec<u8>,
    },
}

/// A recorded message that the server names with a given identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifiedCopy {
    pub folder_id: i64,
    /// The folder's local name, components joined by `/`, where recorded.
    pub local_name: Option<String>,
    pub uid: Uid,
    pub local_base: String,
    pub flags: Flags,
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
    pub uidnext: Option<Uid>,
}

/// One connection to an account's state database.
pub struct StateDb {
    conn: Connection,
    path: String,
    /// How [`StateDb::open_another`] reaches the same database.
    origin: Origin,
    /// Whether `folders` has `local_name`, once looked up.
    has_local_names: std::cell::Cell<Option<bool>>,
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
            has_local_names: Default::default(),
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
            has_local_names: Default::default(),
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
            return Err(self.too_new(version));
        }
        if version < 0 {
            return Err(corrupt(format!("schema version {version}")));
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
            if version < SCHEMA_VERSION {
                self.migrate()?;
            }
        }
        Ok(())
    }

    /// Brings an older database up to [`SCHEMA_VERSION`], one migration per
    /// transaction. The version is read again under the write lock, so a
    /// connection that lost the race to upgrade finds nothing left to do.
    /// A read-only open never gets here: it reads the older schema as it is.
    fn migrate(&self) -> Result<()> {
        loop {
            let tx = rusqlite::Transaction::new_unchecked(
                &self.conn,
                rusqlite::TransactionBehavior::Immediate,
            )
            .map_err(|e| self.err(e))?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if version > SCHEMA_VERSION {
                return Err(self.too_new(version));
            }
            let Some(step) = usize::try_from(version - 1)
                .ok()
                .and_then(|i| MIGRATIONS.get(i))
            else {
                return Ok(());
            };
            tx.execute_batch(step).map_err(|e| self.err(e))?;
            tx.pragma_update(None, "user_version", version + 1)
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
    }

    /// A transaction that takes the write lock at once (waiting in the busy
    /// handler), rather than failing when a read turns into a write while
    /// another connection writes.
    fn write_transaction(&mut self) -> Result<rusqlite::Transaction<'_>> {
        self.conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| sqlite(&self.path, e))
    }

    /// Whether the database has `table`: a read-only open of a database an
    /// older imapdir wrote is never migrated, so it may lack newer tables.
    fn has_table(&self, table: &str) -> Result<bool> {
        if !matches!(self.origin, Origin::ReadOnly(_)) {
            return Ok(true);
        }
        self.conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    fn err(&self, e: rusqlite::Error) -> StateError {
        sqlite(&self.path, e)
    }

    fn too_new(&self, found: i64) -> StateError {
        StateError::TooNew {
            path: self.path.clone(),
            found,
            known: SCHEMA_VERSION,
        }
    }

    pub fn path(&self) -> PathBuf {
        PathBuf::from(&self.path)
    }
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
