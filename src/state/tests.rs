//! Unit tests of the state database: batches, intents, private files,
//! damaged files, read-only opens and the busy wait.

use std::time::Duration;

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
