//! Unit tests of the state database: batches, intents, private files,
//! damaged files, read-only opens, schema migrations and the busy wait.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::support::{busy_delay, busy_waited, BUSY_TIMEOUT};
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
        uid: Uid(uid),
        local_base: base.into(),
        flags,
    }
}

#[test]
fn pairs_among_reads_just_the_named_uids_and_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("s.sqlite")).unwrap();
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    let other = db.add_folder("Other", UidValidity(1), "Other").unwrap();
    let all: Vec<_> = (1..=20)
        .map(|u| PairChange::Insert(pair(u, &format!("b{u}"), Flags::SEEN)))
        .collect();
    db.apply(f.id, &all).unwrap();
    db.apply(other.id, &[PairChange::Insert(pair(3, "o3", Flags::SEEN))])
        .unwrap();
    let uids = |ps: Vec<Pair>| ps.into_iter().map(|p| p.uid.0).collect::<Vec<_>>();
    assert_eq!(
        uids(
            db.pairs_among(f.id, &[Uid(7), Uid(3), Uid(99)], &[10..=12, 19..=40])
                .unwrap()
        ),
        [3, 7, 10, 11, 12, 19, 20]
    );
    assert_eq!(
        uids(db.pairs_among(f.id, &[Uid(5)], &[4..=6]).unwrap()),
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
    let f = db.add_folder("INBOX", UidValidity(7), "INBOX").unwrap();
    assert_eq!(f.uidvalidity, UidValidity(7));
    assert_eq!(
        db.add_folder("INBOX", UidValidity(9), "INBOX").unwrap().id,
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
                uid: Uid(2),
                flags: Flags::FLAGGED,
            },
            PairChange::SetBase {
                uid: Uid(3),
                local_base: "c,U=3".into(),
            },
            PairChange::Remove { uid: Uid(1) },
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
        Some(Uid(4)),
        Some(ModSeq(99)),
        Some(DirStamp {
            cur_mtime_ns: 1,
            new_mtime_ns: 2,
        }),
    )
    .unwrap();
    let f2 = db.folder("INBOX").unwrap().unwrap();
    assert_eq!(
        (f2.uidnext, f2.highestmodseq),
        (Some(Uid(4)), Some(ModSeq(99)))
    );
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
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    let id = db
        .add_append_intent(f.id, "x", Some("<m@x>"), 42, Some(Uid(10)))
        .unwrap();
    let pending = db.pending_appends(f.id).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].message_id.as_deref(), Some("<m@x>"));
    assert_eq!((pending[0].size, pending[0].uidnext), (42, Some(Uid(10))));
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
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    db.apply(f.id, &[PairChange::Insert(pair(1, "a", Flags::SEEN))])
        .unwrap();
    db.mark_folder_synced(f.id, Some(Uid(2)), Some(ModSeq(5)), None)
        .unwrap();
    db.replace_pairs(f.id, UidValidity(2), &[pair(100, "a", Flags::SEEN)])
        .unwrap();
    let f2 = db.folder("INBOX").unwrap().unwrap();
    assert_eq!((f2.uidvalidity, f2.highestmodseq), (UidValidity(2), None));
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
        let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
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

/// The schema as version 1 wrote it, before `sync_results` joined it.
const V1_SCHEMA: &str = "
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

/// A database as imapdir left it at schema version 1, with one folder and
/// pair; `with_results` adds the table version 1 created on first use,
/// holding one result.
fn v1_database(path: &Path, with_results: bool) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(&format!(
        "BEGIN; {V1_SCHEMA} PRAGMA user_version = 1; COMMIT;
         INSERT INTO folders (name, uidvalidity) VALUES ('INBOX', 5);
         INSERT INTO pairs (folder_id, uid, local_base, flags) VALUES (1, 7, 'a', 0);"
    ))
    .unwrap();
    if with_results {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS sync_results (
                 folder   TEXT PRIMARY KEY,
                 finished INTEGER NOT NULL,
                 error    TEXT
             );
             INSERT INTO sync_results VALUES ('INBOX', 1000, 'timed out');",
        )
        .unwrap();
    }
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

/// Every table's columns and every index, to compare two schemas whatever
/// the text that created them.
fn schema_shape(db: &StateDb) -> Vec<String> {
    let mut stmt = db
        .conn
        .prepare(
            "SELECT m.type, m.name, p.name, p.type, p.\"notnull\", p.pk
             FROM sqlite_master m, pragma_table_info(m.name) p
             WHERE m.type = 'table'
             UNION ALL
             SELECT type, name, tbl_name, '', 0, 0 FROM sqlite_master WHERE type = 'index'
             ORDER BY 1, 2, 3",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{} {} {} {} {} {}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[test]
fn a_new_database_is_at_the_current_version_with_sync_results() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.sqlite");
    let mut db = StateDb::open(&path).unwrap();
    assert!(db.sync_results().unwrap().is_empty());
    db.record_sync_results(&[("INBOX", None)]).unwrap();
    assert_eq!(db.sync_results().unwrap().len(), 1);
    drop(db);
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 9);
}

#[test]
fn a_version_1_database_without_sync_results_migrates_then_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.sqlite");
    v1_database(&path, false);
    let mut db = StateDb::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let f = db.folder("INBOX").unwrap().expect("folder kept");
    assert_eq!(f.local_name, None, "not known for a folder synced before");
    db.set_local_name(f.id, "INBOX").unwrap();
    assert_eq!(
        db.folder("INBOX").unwrap().unwrap().local_name.as_deref(),
        Some("INBOX")
    );
    assert_eq!(db.pairs(f.id).unwrap(), vec![pair(7, "a", Flags::empty())]);
    assert!(db.sync_results().unwrap().is_empty());
    db.record_sync_results(&[("INBOX", Some("no such folder")), (ACCOUNT_RESULT, None)])
        .unwrap();
    let results = db.sync_results().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].0, "INBOX");
    assert_eq!(results[1].2.as_deref(), Some("no such folder"));

    let fresh = StateDb::open(&dir.path().join("fresh.sqlite")).unwrap();
    assert_eq!(schema_shape(&db), schema_shape(&fresh));
}

#[test]
fn a_version_1_database_with_sync_results_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.sqlite");
    v1_database(&path, true);
    let mut db = StateDb::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(
        db.sync_results().unwrap(),
        vec![("INBOX".to_string(), 1000, Some("timed out".to_string()))]
    );
    db.record_sync_results(&[("INBOX", None)]).unwrap();
    let results = db.sync_results().unwrap();
    assert_eq!((results.len(), results[0].2.as_deref()), (1, None));
    // Opening again finds nothing left to migrate.
    drop(db);
    assert_eq!(
        StateDb::open(&path).unwrap().sync_results().unwrap().len(),
        1
    );
}

#[test]
fn a_database_from_a_newer_imapdir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acc.sqlite");
    drop(StateDb::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))
        .unwrap();
    for err in [
        StateDb::open(&path).err().expect("newer must not open"),
        StateDb::open_read_only(&path).err().expect("nor read-only"),
    ] {
        assert!(
            matches!(
                err,
                StateError::TooNew {
                    found: 10,
                    known: 9,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("newer imapdir"), "{err}");
    }
    assert_eq!(user_version(&path), SCHEMA_VERSION + 1, "left as it was");
}

#[test]
fn a_read_only_open_of_version_1_reads_it_without_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let without = dir.path().join("without.sqlite");
    v1_database(&without, false);
    let db = StateDb::open_read_only(&without).unwrap();
    assert!(db.sync_results().unwrap().is_empty());
    assert!(db
        .open_another()
        .unwrap()
        .sync_results()
        .unwrap()
        .is_empty());
    let folders = db.folders().unwrap();
    assert_eq!((folders.len(), folders[0].local_name.as_deref()), (1, None));
    assert!(db.folder("INBOX").unwrap().is_some());
    drop(db);
    assert_eq!(user_version(&without), 1, "a read-only open writes nothing");

    let with = dir.path().join("with.sqlite");
    v1_database(&with, true);
    let db = StateDb::open_read_only(&with).unwrap();
    assert_eq!(db.sync_results().unwrap().len(), 1);
    drop(db);
    assert_eq!(user_version(&with), 1);
}

#[test]
fn the_pop3_journal_records_intent_then_stored_then_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    db.pop3_intend("u1", "pop3-k-7531").unwrap();
    let r = &db.pop3_records().unwrap()[0];
    assert_eq!((r.stored, r.deleted), (None, None));
    db.pop3_stored("u1", "pop3-k-7531").unwrap();
    db.pop3_intend("u1", "other").unwrap();
    let r = db.pop3_records().unwrap().remove(0);
    assert!(r.stored.is_some());
    assert_eq!(
        r.local_base, "pop3-k-7531",
        "a second intent changes nothing"
    );
    db.pop3_deleted(&["u1".to_string()]).unwrap();
    assert!(db.pop3_records().unwrap()[0].deleted.is_some());
}

#[test]
fn the_outbox_journal_says_where_a_send_stands() {
    let dir = tempfile::tempdir().unwrap();
    let db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    assert_eq!(db.outbox_send("m1").unwrap(), None);
    db.outbox_begin("m1", "<a@b>", "x@y\nz@w").unwrap();
    assert_eq!(
        db.outbox_send("m1").unwrap().unwrap().state,
        crate::state::SendState::Sending
    );
    db.outbox_mark("m1", crate::state::SendState::Sent).unwrap();
    let send = db.outbox_send("m1").unwrap().unwrap();
    assert_eq!(send.state, crate::state::SendState::Sent);
    assert_eq!(send.recipients, "x@y\nz@w");
    db.outbox_forget("m1").unwrap();
    assert_eq!(db.outbox_send("m1").unwrap(), None);
}

#[test]
fn unsynced_keywords_are_kept_and_new_ones_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    let k = |name: &str, reason, messages| UnsyncedKeyword {
        keyword: name.to_string(),
        reason,
        messages,
    };
    let found = vec![
        k("k26", KeywordGap::NoLetter, 2),
        k("$x", KeywordGap::Refused, 1),
    ];
    assert_eq!(db.record_unsynced_keywords(f.id, &found).unwrap(), found);
    // The same again is nothing new, nor is another count (the most is
    // kept); another reason is.
    assert!(db
        .record_unsynced_keywords(f.id, &found)
        .unwrap()
        .is_empty());
    let more = vec![
        k("k26", KeywordGap::NoLetter, 3),
        k("$x", KeywordGap::Refused, 0),
    ];
    assert!(db.record_unsynced_keywords(f.id, &more).unwrap().is_empty());
    let other = vec![k("$x", KeywordGap::NoLetter, 4)];
    assert_eq!(db.record_unsynced_keywords(f.id, &other).unwrap(), other);
    assert_eq!(
        db.unsynced_keywords(f.id).unwrap(),
        vec![
            k("$x", KeywordGap::NoLetter, 4),
            k("k26", KeywordGap::NoLetter, 3)
        ]
    );
    db.forget_unsynced_keyword(f.id, "$x").unwrap();
    assert_eq!(db.unsynced_keywords(f.id).unwrap().len(), 1);
}

#[test]
fn a_window_records_what_it_keeps_out_and_forgets_it_when_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    assert_eq!(db.window(f.id).unwrap().spec, None);
    db.record_window(f.id, Some("since=90d"), &[Uid(1), Uid(2), Uid(3)], &[])
        .unwrap();
    db.record_window(f.id, Some("since=90d"), &[Uid(3), Uid(4)], &[Uid(1)])
        .unwrap();
    assert_eq!(db.window(f.id).unwrap().spec.as_deref(), Some("since=90d"));
    assert_eq!(db.window_out_count(f.id).unwrap(), 3);
    let out = db.window_out(f.id).unwrap();
    assert!(out.contains(&Uid(2)) && out.contains(&Uid(4)) && !out.contains(&Uid(1)));
    // A new UIDVALIDITY makes the recorded UIDs meaningless.
    db.replace_pairs(f.id, UidValidity(2), &[]).unwrap();
    assert_eq!(db.window_out_count(f.id).unwrap(), 0);
    db.record_window(f.id, Some("since=90d"), &[Uid(9)], &[])
        .unwrap();
    db.record_window(f.id, None, &[], &[]).unwrap();
    assert_eq!(db.window(f.id).unwrap().spec, None);
    assert_eq!(db.window_out_count(f.id).unwrap(), 0);
}

#[test]
fn messages_asked_for_outside_the_window_are_recorded_until_they_come_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    let f = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    db.record_window(f.id, Some("since=90d"), &[Uid(1), Uid(2)], &[])
        .unwrap();
    assert!(db.window_requested(f.id).unwrap().is_empty());
    // One kept out before, one the window never saw.
    db.request_window_fetch(f.id, &[Uid(2), Uid(7)]).unwrap();
    let asked = db.window_requested(f.id).unwrap();
    assert_eq!(asked.len(), 2);
    assert!(asked.contains(&Uid(2)) && asked.contains(&Uid(7)));
    // Downloaded: no longer kept out, no longer asked for.
    db.record_window(f.id, Some("since=90d"), &[], &[Uid(2), Uid(7)])
        .unwrap();
    assert!(db.window_requested(f.id).unwrap().is_empty());
    assert_eq!(db.window_out(f.id).unwrap().len(), 1);
}

#[test]
fn identities_find_the_copies_in_every_folder_and_leave_with_their_pair() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = StateDb::open(&dir.path().join("acc.sqlite")).unwrap();
    let inbox = db.add_folder("INBOX", UidValidity(1), "INBOX").unwrap();
    let lists = db.add_folder("Lists", UidValidity(1), "Lists").unwrap();
    let pair = |uid: u32, base: &str| Pair {
        uid: Uid(uid),
        local_base: base.to_string(),
        flags: Flags::SEEN,
    };
    let key = crate::model::identity_key("8c5ae1173ab8d364b70d0000c54e5df8");
    db.apply(
        inbox.id,
        &[
            PairChange::Insert(pair(4, "a")),
            PairChange::Identify {
                uid: Uid(4),
                identity: key.clone(),
            },
            PairChange::Insert(pair(5, "b")),
        ],
    )
    .unwrap();
    db.apply(
        lists.id,
        &[
            PairChange::Insert(pair(7, "c")),
            PairChange::Identify {
                uid: Uid(7),
                identity: key.clone(),
            },
        ],
    )
    .unwrap();
    let mut found = db.copies_of(&key).unwrap();
    found.sort_by_key(|c| c.folder_id);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].local_name.as_deref(), Some("INBOX"));
    assert_eq!((found[0].uid, found[0].local_base.as_str()), (Uid(4), "a"));
    assert_eq!(found[1].flags, Flags::SEEN);
    db.apply(inbox.id, &[PairChange::Remove { uid: Uid(4) }])
        .unwrap();
    assert_eq!(db.copies_of(&key).unwrap().len(), 1);
    assert!(db.copies_of(b"other").unwrap().is_empty());
}
