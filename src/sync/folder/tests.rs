//! The folder stages' pure decisions: when a folder can be skipped, and
//! when a stamp can be trusted.

use super::record::settled;
use super::snapshot::is_unchanged;
use crate::imap::MailboxStatus;
use crate::maildir::{COARSE_STAMP_SETTLE_NS, STAMP_SETTLE_NS};
use crate::model::DirStamp;
use crate::model::{ModSeq, Uid, UidValidity};
use crate::state::FolderState;
use std::time::{SystemTime, UNIX_EPOCH};

fn stored() -> FolderState {
    FolderState {
        id: 1,
        name: "INBOX".into(),
        uidvalidity: UidValidity(7),
        uidnext: Some(Uid(10)),
        highestmodseq: Some(ModSeq(99)),
        stamp: Some(DirStamp {
            cur_mtime_ns: 1,
            new_mtime_ns: 2,
        }),
        last_sync: Some(0),
        local_name: Some("INBOX".into()),
    }
}

fn status() -> MailboxStatus {
    MailboxStatus {
        messages: Some(9),
        uidnext: Some(Uid(10)),
        uidvalidity: Some(UidValidity(7)),
        highestmodseq: Some(ModSeq(99)),
    }
}

#[test]
fn unchanged_needs_every_witness_to_agree() {
    let stamp = Some(DirStamp {
        cur_mtime_ns: 1,
        new_mtime_ns: 2,
    });
    assert!(is_unchanged(&stored(), Some(&status()), stamp, false));
    assert!(!is_unchanged(&stored(), None, stamp, false), "no status");
    assert!(
        !is_unchanged(&stored(), Some(&status()), stamp, true),
        "pending APPEND"
    );
    assert!(
        !is_unchanged(
            &stored(),
            Some(&status()),
            Some(DirStamp {
                cur_mtime_ns: 3,
                new_mtime_ns: 2
            }),
            false
        ),
        "cur/ changed"
    );
    for changed in [
        MailboxStatus {
            highestmodseq: Some(ModSeq(100)),
            ..status()
        },
        MailboxStatus {
            uidnext: Some(Uid(11)),
            ..status()
        },
        MailboxStatus {
            uidvalidity: Some(UidValidity(8)),
            ..status()
        },
        MailboxStatus {
            highestmodseq: None,
            ..status()
        },
    ] {
        assert!(
            !is_unchanged(&stored(), Some(&changed), stamp, false),
            "{changed:?}"
        );
    }
    let incomplete = FolderState {
        highestmodseq: None,
        ..stored()
    };
    assert!(!is_unchanged(
        &incomplete,
        Some(&MailboxStatus {
            highestmodseq: None,
            ..status()
        }),
        stamp,
        false
    ));
    let unscanned = FolderState {
        stamp: None,
        ..stored()
    };
    assert!(!is_unchanged(&unscanned, Some(&status()), stamp, false));
}

#[test]
fn fresh_mtimes_are_not_trusted() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!(!settled(&DirStamp {
        cur_mtime_ns: now,
        new_mtime_ns: 0
    }));
    assert!(settled(&DirStamp {
        cur_mtime_ns: now - 2 * STAMP_SETTLE_NS,
        new_mtime_ns: 0
    }));
}

#[test]
fn whole_second_mtimes_need_longer_to_settle() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let whole = |ns: i64| ns / 1_000_000_000 * 1_000_000_000;
    let two_seconds_ago = whole(now - 2 * STAMP_SETTLE_NS);
    assert!(!settled(&DirStamp {
        cur_mtime_ns: two_seconds_ago,
        new_mtime_ns: two_seconds_ago,
    }));
    assert!(settled(&DirStamp {
        cur_mtime_ns: two_seconds_ago + 1,
        new_mtime_ns: two_seconds_ago,
    }));
    let long_ago = whole(now - 2 * COARSE_STAMP_SETTLE_NS);
    assert!(settled(&DirStamp {
        cur_mtime_ns: long_ago,
        new_mtime_ns: long_ago,
    }));
}
