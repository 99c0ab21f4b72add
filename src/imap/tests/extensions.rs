//! The extensions against scripted servers, and the client's fallbacks
//! where a server lacks them: QRESYNC, LIST-STATUS, NAMESPACE,
//! LIST-EXTENDED, CONDSTORE, UIDPLUS and a deferred ENABLE.

use super::*;

const QRESYNC_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 UIDPLUS CONDSTORE QRESYNC] ready\r\n";

#[test]
fn select_with_changes_pipelines_select_and_fetch() {
    let (opts, server) = serve(
        QRESYNC_GREETING,
        vec![
            (
                "SELECT \"Work\" (CONDSTORE)",
                b"* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n* OK [HIGHESTMODSEQ 20] ok\r\nTAG OK [READ-WRITE] done\r\n".to_vec(),
            ),
            (
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ) (CHANGEDSINCE 10 VANISHED)",
                b"* VANISHED (EARLIER) 2:3\r\n* 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE 100 MODSEQ (15))\r\nTAG OK done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let (info, changes) = s
        .open_with_changes("Work", false, Some((UidValidity(77), ModSeq(10))))
        .unwrap();
    assert_eq!((info.uidvalidity, info.exists), (UidValidity(77), 3));
    assert_eq!(info.highestmodseq, Some(ModSeq(20)));
    let changes = changes.expect("same UIDVALIDITY: the changes apply");
    assert_eq!(changes.vanished, vec![2..=3]);
    assert_eq!(changes.changed.len(), 1);
    assert_eq!(changes.changed[0].uid, Uid(5));
    assert_eq!(changes.changed[0].size, Some(100));
    assert!(changes.changed[0].flags.contains(Flags::SEEN));
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert!(seen[1].contains("UID FETCH"), "{seen:?}");
}

/// The pipelined SEARCH's result, answered after the FETCH or, as Dovecot
/// may, among its responses.
#[test]
fn a_search_goes_out_with_the_select_and_the_changes() {
    for interleaved in [false, true] {
        let (fetch_extra, search_extra) = if interleaved {
            ("* SEARCH 7 9\r\n", "")
        } else {
            ("", "* SEARCH 7 9\r\n")
        };
        let (opts, server) = serve(
            QRESYNC_GREETING,
            vec![
                (
                    "SELECT \"Work\" (CONDSTORE)",
                    b"* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nTAG OK [READ-WRITE] done\r\n"
                        .to_vec(),
                ),
                (
                    "UID FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ) (CHANGEDSINCE 10 VANISHED)",
                    format!(
                        "* 3 FETCH (UID 9 FLAGS () RFC822.SIZE 10 MODSEQ (15))\r\n{fetch_extra}TAG OK done\r\n"
                    )
                    .into_bytes(),
                ),
                (
                    "UID SEARCH SINCE 1-Jan-2024",
                    format!("{search_extra}TAG OK done\r\n").into_bytes(),
                ),
                ("NOOP", b"TAG OK noop\r\n".to_vec()),
            ],
        );
        let mut s = Session::connect(&opts).unwrap();
        let (info, changes, inside) = s
            .open_with_changes_searching(
                "Work",
                false,
                Some((UidValidity(77), ModSeq(10))),
                Some("SINCE 1-Jan-2024"),
            )
            .unwrap();
        assert_eq!(info.exists, 3);
        let changes = changes.unwrap();
        assert_eq!(changes.changed.len(), 1);
        assert_eq!(changes.changed[0].uid, Uid(9));
        assert_eq!(
            inside,
            Some(vec![Uid(7), Uid(9)]),
            "interleaved: {interleaved}"
        );
        s.noop().unwrap();
        drop(s);
        server.join().unwrap();
    }
}

#[test]
fn open_with_changes_without_qresync_only_selects() {
    let (opts, server) = serve(
        GREETING,
        vec![
            (
                "SELECT \"Work\"",
                b"* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nTAG OK [READ-WRITE] done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let (info, changes) = s
        .open_with_changes("Work", false, Some((UidValidity(77), ModSeq(10))))
        .unwrap();
    assert_eq!((info.uidvalidity, info.exists), (UidValidity(77), 3));
    assert!(changes.is_none(), "the caller lists the folder instead");
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn list_folders_without_list_status_or_namespace_is_a_plain_list() {
    let (opts, server) = serve(
        GREETING,
        vec![(
            "LIST \"\" \"*\"",
            b"* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\nTAG OK done\r\n".to_vec(),
        )],
    );
    let mut s = Session::connect(&opts).unwrap();
    let listing = s.list_folders(false).unwrap();
    assert_eq!(listing.entries.len(), 2);
    assert!(listing.statuses.is_empty());
    assert!(listing.namespaces.is_none());
    drop(s);
    let seen = server.join().unwrap();
    assert!(!seen[0].contains("RETURN"), "{seen:?}");
}

#[test]
fn list_folders_pipelines_namespace_with_one_list_of_statuses_and_subscriptions() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 NAMESPACE LIST-EXTENDED LIST-STATUS] ready\r\n",
        vec![
            (
                "NAMESPACE",
                b"* NAMESPACE ((\"INBOX.\" \".\")) NIL ((\"\" \".\"))\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "LIST \"\" \"*\" RETURN (SUBSCRIBED STATUS (MESSAGES UIDNEXT UIDVALIDITY))",
                b"* LIST (\\Subscribed) \".\" INBOX\r\n* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 9)\r\n* LIST () \".\" INBOX.Work\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let listing = s.list_folders(true).unwrap();
    let namespaces = listing.namespaces.expect("NAMESPACE read");
    assert_eq!(namespaces.personal[0].prefix, "INBOX.");
    assert_eq!(namespaces.shared[0].delimiter, Some('.'));
    assert_eq!(listing.entries.len(), 2);
    assert!(listing.entries[0]
        .attributes
        .iter()
        .any(|a| a == SUBSCRIBED));
    assert!(listing.entries[1].attributes.is_empty());
    assert_eq!(listing.statuses["INBOX"].messages, Some(2));
    assert_eq!(s.skipped_responses(), 0, "NAMESPACE is understood");
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn list_folders_reads_subscriptions_with_lsub_where_list_cannot_tell() {
    let (opts, server) = serve(
        "* OK [CAPABILITY IMAP4rev1 NAMESPACE] ready\r\n",
        vec![
            ("NAMESPACE", b"TAG BAD not today\r\n".to_vec()),
            (
                "LIST \"\" \"*\"",
                b"* LIST () \"/\" INBOX\r\n* LIST () \"/\" Work\r\n* LIST () \"/\" Old\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "LSUB \"\" \"*\"",
                b"* LSUB () \"/\" Work\r\n* LSUB (\\Noselect) \"/\" Old\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let listing = s.list_folders(true).unwrap();
    assert!(
        listing.namespaces.is_none(),
        "a refused NAMESPACE is no namespace"
    );
    let subscribed: Vec<&str> = listing
        .entries
        .iter()
        .filter(|e| e.attributes.iter().any(|a| a == SUBSCRIBED))
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(subscribed, vec!["Work"]);
    drop(s);
    server.join().unwrap();
}

#[test]
fn status_with_modseq_asks_nothing_without_condstore() {
    let (opts, server) = serve(GREETING, vec![("NOOP", b"TAG OK noop\r\n".to_vec())]);
    let mut s = Session::connect(&opts).unwrap();
    assert!(s.status_with_modseq("Work").unwrap().is_none());
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 1, "no STATUS is sent: {seen:?}");
}

#[test]
fn select_with_changes_ignores_changes_after_a_uidvalidity_change() {
    let (opts, server) = serve(
        QRESYNC_GREETING,
        vec![
            (
                "EXAMINE",
                b"* 1 EXISTS\r\n* OK [UIDVALIDITY 78] ok\r\nTAG OK [READ-ONLY] done\r\n".to_vec(),
            ),
            (
                "UID FETCH",
                b"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 9 MODSEQ (3))\r\nTAG OK done\r\n".to_vec(),
            ),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let (info, changes) = s
        .select_with_changes("INBOX", true, UidValidity(77), ModSeq(10))
        .unwrap();
    assert_eq!(info.uidvalidity, UidValidity(78));
    assert!(info.read_only);
    assert!(
        changes.is_none(),
        "UIDs of another UIDVALIDITY name other messages"
    );
    drop(s);
    server.join().unwrap();
}

#[test]
fn select_with_changes_reports_a_failed_select_and_stays_in_step() {
    let (opts, server) = serve(
        QRESYNC_GREETING,
        vec![
            (
                "SELECT",
                b"TAG NO [NONEXISTENT] no such mailbox\r\n".to_vec(),
            ),
            ("UID FETCH", b"TAG BAD no mailbox selected\r\n".to_vec()),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let err = s
        .select_with_changes("Gone", false, UidValidity(77), ModSeq(10))
        .unwrap_err();
    assert!(
        matches!(&err, ImapError::No { command, text } if command == "SELECT" && text.contains("no such mailbox")),
        "{err:?}"
    );
    s.noop().unwrap();
    drop(s);
    server.join().unwrap();
}

#[test]
fn uid_store_many_reads_every_answer_and_reports_the_first_failure() {
    let (opts, server) = serve(
        GREETING,
        vec![
            (
                "UID STORE 1:3 +FLAGS.SILENT (\\Seen)",
                b"TAG OK done\r\n".to_vec(),
            ),
            (
                "UID STORE 1:3 -FLAGS.SILENT (\\Flagged)",
                b"TAG NO [CANNOT] refused\r\n".to_vec(),
            ),
            (
                "UID STORE 7 +FLAGS.SILENT (\\Answered)",
                b"TAG OK done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    let err = s
        .uid_store_many(&[
            (set("1:3"), true, Flags::SEEN),
            (set("1:3"), false, Flags::FLAGGED),
            (set("5"), true, Flags::empty()),
            (set("7"), true, Flags::ANSWERED),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, ImapError::No { command, text } if command == "UID STORE" && text.contains("refused")),
        "{err:?}"
    );
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 4, "the empty change is not sent: {seen:?}");
}

#[test]
fn expunge_uids_marks_then_expunges_exactly_the_set() {
    let (opts, server) = serve(
        GREETING,
        vec![
            (
                "UID STORE 4,9 +FLAGS.SILENT (\\Deleted)",
                b"TAG OK done\r\n".to_vec(),
            ),
            (
                "UID EXPUNGE 4,9",
                b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nTAG OK done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    assert_eq!(s.expunge_uids(&[Uid(9), Uid(4)]).unwrap(), Expunged::All);
    s.noop().unwrap();
    drop(s);
    server.join().unwrap();
}

/// Without UIDPLUS there is no UID EXPUNGE; a bare EXPUNGE is safe only
/// when no other message is marked `\Deleted`.
const NO_UIDPLUS_GREETING: &str = "* OK [CAPABILITY IMAP4rev1 UNSELECT] ready\r\n";

#[test]
fn expunge_uids_without_uidplus_expunges_when_nothing_else_is_marked() {
    let (opts, server) = serve(
        NO_UIDPLUS_GREETING,
        vec![
            (
                "UID SEARCH DELETED",
                b"* SEARCH 4\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID STORE 4,9 +FLAGS.SILENT (\\Deleted)",
                b"TAG OK done\r\n".to_vec(),
            ),
            (
                "EXPUNGE",
                b"* 2 EXPUNGE\r\n* 1 EXPUNGE\r\nTAG OK done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    assert_eq!(s.expunge_uids(&[Uid(4), Uid(9)]).unwrap(), Expunged::All);
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert!(seen.iter().any(|l| l.ends_with(" EXPUNGE")), "{seen:?}");
}

#[test]
fn expunge_uids_without_uidplus_only_marks_when_others_are_marked() {
    let (opts, server) = serve(
        NO_UIDPLUS_GREETING,
        vec![
            (
                "UID SEARCH DELETED",
                b"* SEARCH 4 5\r\nTAG OK done\r\n".to_vec(),
            ),
            (
                "UID STORE 4 +FLAGS.SILENT (\\Deleted)",
                b"TAG OK done\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    assert_eq!(s.expunge_uids(&[Uid(4)]).unwrap(), Expunged::MarkedOnly);
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert!(!seen.iter().any(|l| l.contains("EXPUNGE")), "{seen:?}");
}

#[test]
fn a_deferred_enable_goes_out_with_the_next_command() {
    let (opts, server) = serve(
        QRESYNC_GREETING,
        vec![
            (
                "ENABLE QRESYNC",
                b"* ENABLED QRESYNC\r\nTAG OK enabled\r\n".to_vec(),
            ),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    s.enable_with_next_command(&["QRESYNC"]).unwrap();
    s.noop().unwrap();
    s.noop().unwrap();
    drop(s);
    let seen = server.join().unwrap();
    assert_eq!(seen.len(), 3, "sent once: {seen:?}");
}

#[test]
fn a_failed_deferred_enable_fails_the_command_it_went_with() {
    let (opts, server) = serve(
        QRESYNC_GREETING,
        vec![
            ("ENABLE QRESYNC", b"TAG NO not now\r\n".to_vec()),
            ("NOOP", b"TAG OK noop\r\n".to_vec()),
        ],
    );
    let mut s = Session::connect(&opts).unwrap();
    s.enable_with_next_command(&["QRESYNC"]).unwrap();
    let err = s.noop().unwrap_err();
    assert!(
        matches!(&err, ImapError::No { command, .. } if command == "ENABLE"),
        "{err:?}"
    );
    drop(s);
    server.join().unwrap();
}
