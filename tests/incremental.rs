//! The cheap paths: an unchanged account costs one LIST and no SELECT, a
//! changed folder fetches only what changed (CONDSTORE/QRESYNC), and the
//! fallback without those extensions reaches the same end state.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::thread::sleep;
use std::time::Duration;

/// Dovecot 2.3's capabilities without CONDSTORE, QRESYNC and LIST-STATUS.
const CAPS_PLAIN: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
     SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
     CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT \
     SEARCHRES WITHIN CONTEXT=SEARCH BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY \
     PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY COMPRESS=DEFLATE";

/// Directory mtimes younger than a second are not trusted as "unchanged";
/// waiting this long lets a run record them.
const SETTLE: Duration = Duration::from_millis(1100);

/// The commands a traced sync sent, without tags.
fn traced_commands(imapdir: &Imapdir) -> Vec<String> {
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter_map(|l| l.split_once(' ').map(|(_, cmd)| cmd.to_string()))
        .collect()
}

fn verbs(commands: &[String]) -> Vec<String> {
    commands
        .iter()
        .map(|c| c.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn unchanged_account_costs_one_list_and_no_select() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 8);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    // The first run changed the Maildir, so a second one scans it once more.
    sleep(SETTLE);
    imapdir.sync_ok();
    sleep(SETTLE);

    let quiet = traced_commands(&imapdir);
    assert_eq!(
        verbs(&quiet),
        [
            "AUTHENTICATE PLAIN",
            "ENABLE QRESYNC",
            // Sent with the LIST, in the same round trip.
            "NAMESPACE",
            "LIST \"\"",
            "LOGOUT"
        ],
        "{quiet:#?}"
    );

    // Ten times the messages, the same commands.
    seed_folder(&mut client, "INBOX", 100..180);
    imapdir.sync_ok();
    sleep(SETTLE);
    imapdir.sync_ok();
    sleep(SETTLE);
    assert_eq!(verbs(&traced_commands(&imapdir)), verbs(&quiet));
    assert_noop_sync(&imapdir, &mut client);
}

/// The standard account synced twice, its directories settled since: the
/// state holds every folder's stamp.
fn settled_standard() -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 8);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    sleep(SETTLE);
    imapdir.sync_ok();
    sleep(SETTLE);
    (dovecot, client, imapdir)
}

#[test]
fn a_changed_folder_fetches_only_its_changes() {
    let (_dovecot, mut client, imapdir) = settled_standard();

    // Server side: a flag, an expunge and a new message in INBOX only.
    let inbox = client.fetch_all("INBOX");
    client.store("INBOX", inbox[0].uid, "+FLAGS", "\\Flagged");
    client.expunge_uid("INBOX", inbox[1].uid);
    client.append("INBOX", "\\Seen", &generate_message(500, "INBOX"));
    let commands = traced_commands(&imapdir);
    let selects: Vec<&String> = commands
        .iter()
        .filter(|c| c.starts_with("SELECT"))
        .collect();
    assert_eq!(selects.len(), 1, "only INBOX is opened: {commands:#?}");
    assert!(selects[0].contains("INBOX"));
    let fetches: Vec<&String> = commands
        .iter()
        .filter(|c| c.starts_with("UID FETCH"))
        .collect();
    assert!(
        fetches
            .iter()
            .any(|c| c.contains("CHANGEDSINCE") && c.contains("VANISHED")),
        "{commands:#?}"
    );
    assert!(
        fetches
            .iter()
            .all(|c| c.contains("CHANGEDSINCE") || c.contains("BODY.PEEK[]")),
        "no full listing of the folder: {commands:#?}"
    );
    assert_all_in_sync(&mut client, imapdir.maildir());
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), inbox.len(), "one expunged, one new");
    assert!(find_by_message_id(&local, &inbox[0].message_id().unwrap())
        .flags
        .contains('F'));

    // Local side: a flag change reaches the server without listing it.
    sleep(SETTLE);
    imapdir.sync_ok();
    sleep(SETTLE);
    let archive = maildir_messages(imapdir.maildir(), "Archive/2023");
    let target = archive.iter().find(|m| !m.flags.contains('F')).unwrap();
    let mid = target.message_id().unwrap();
    set_local_flags(target, &format!("F{}", target.flags));
    let commands = traced_commands(&imapdir);
    assert!(
        commands.iter().any(|c| c.starts_with("UID STORE")),
        "{commands:#?}"
    );
    assert!(
        !commands.iter().any(|c| c.starts_with("UID FETCH")),
        "the server was unchanged, nothing to list: {commands:#?}"
    );
    let server = client.fetch_all("Archive/2023");
    assert!(find_server_by_message_id(&server, &mid)
        .flags
        .iter()
        .any(|f| f == "\\Flagged"));
    assert_all_in_sync(&mut client, imapdir.maildir());
}

/// A folder whose directories are as the last sync left them is not
/// listed again when only the server changed: the plan reads the changed
/// messages and the files they pair with. A mail reader's change after
/// that sync still makes the next run list the folder and send it.
#[test]
fn server_changes_to_an_untouched_maildir_read_only_the_changes() {
    let (_dovecot, mut client, imapdir) = settled_standard();

    let inbox = client.fetch_all("INBOX");
    let flagged = inbox.iter().find(|m| !m.letters().contains('F')).unwrap();
    let flagged_mid = flagged.message_id().unwrap();
    client.store("INBOX", flagged.uid, "+FLAGS", "\\Flagged");
    let expunged_mid = inbox[1].message_id().unwrap();
    client.expunge_uid("INBOX", inbox[1].uid);
    client.append("INBOX", "", &generate_message(700, "INBOX"));
    let run = imapdir.run(&["-vv", "sync"]);
    run.expect_success();
    assert!(
        run.stderr.contains(
            "INBOX: the Maildir is as the last sync left it; reading only the 3 messages"
        ),
        "{}",
        run.stderr
    );
    assert_all_in_sync(&mut client, imapdir.maildir());
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert!(find_by_message_id(&local, &flagged_mid).flags.contains('F'));
    assert!(local
        .iter()
        .all(|m| m.message_id().as_deref() != Some(expunged_mid.as_str())));
    assert_eq!(local.len(), inbox.len());

    // Whatever stamp that run recorded, a reader's change now is seen.
    let target = local.iter().find(|m| !m.flags.contains('R')).unwrap();
    let target_mid = target.message_id().unwrap();
    set_local_flags(target, &format!("R{}", target.flags));
    let new_path = write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1700000000.reader.test",
        &generate_message(701, "INBOX"),
        None,
    );
    imapdir.sync_ok();
    let server = client.fetch_all("INBOX");
    assert!(find_server_by_message_id(&server, &target_mid)
        .flags
        .iter()
        .any(|f| f == "\\Answered"));
    assert!(
        server
            .iter()
            .any(|m| m.message_id() == message_id(&generate_message(701, "INBOX"))),
        "{new_path:?} uploaded"
    );
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}

/// Every folder's messages as (Message-ID, flag letters), on the server
/// and locally, which must agree.
fn end_state(
    client: &mut ImapClient,
    imapdir: &Imapdir,
) -> BTreeMap<String, Vec<(String, String)>> {
    let mut state = BTreeMap::new();
    for folder in client.list() {
        let server = client.fetch_all(&folder);
        let local = maildir_messages(imapdir.maildir(), &local_folder(&folder));
        assert_folder_in_sync(&server, &local, &folder);
        let mut msgs: Vec<(String, String)> = server
            .iter()
            .map(|m| (m.message_id().unwrap_or_default(), m.letters()))
            .collect();
        msgs.sort();
        state.insert(folder, msgs);
    }
    state
}

/// The same changes, made on both servers and both Maildirs.
fn change_round(client: &mut ImapClient, imapdir: &Imapdir, round: usize) {
    let inbox = client.fetch_all("INBOX");
    let by_mid = |i: usize| inbox[i % inbox.len()].uid;
    client.store("INBOX", by_mid(round), "+FLAGS", "\\Answered");
    client.store("INBOX", by_mid(round + 3), "-FLAGS", "\\Seen");
    client.expunge_uid("INBOX", by_mid(round + 5));
    client.append(
        "Archive/2023",
        "\\Flagged",
        &generate_message(1000 + round, "Archive/2023"),
    );

    let mut local = maildir_messages(imapdir.maildir(), "Été");
    local.sort_by_key(|m| m.message_id());
    let m = &local[round % local.len()];
    let letters = if m.flags.contains('S') {
        m.flags.replace('S', "")
    } else {
        format!("{}S", m.flags)
    };
    set_local_flags(m, &letters);
    std::fs::remove_file(&local[(round + 2) % local.len()].path).unwrap();
    write_local_message(
        imapdir.maildir(),
        "INBOX",
        &format!("1700000000.local{round}.test"),
        &generate_message(2000 + round, "INBOX"),
        None,
    );
}

#[test]
fn condstore_and_fallback_paths_reach_the_same_end_state() {
    let modern = Dovecot::start();
    let plain = Dovecot::start_with(DovecotOptions {
        imap_capability: Some(CAPS_PLAIN.into()),
        ..Default::default()
    });
    let mut results = Vec::new();
    for dovecot in [&modern, &plain] {
        let mut client = dovecot.client();
        seed_standard(&mut client, 12);
        let imapdir = Imapdir::new(dovecot);
        imapdir.sync_ok();
        for round in 0..3 {
            change_round(&mut client, &imapdir, round);
            imapdir.sync_ok();
            // Let the recorded state become trusted, so later rounds take
            // the skip and CHANGEDSINCE paths where the server has them.
            sleep(SETTLE);
            imapdir.sync_ok();
        }
        assert_noop_sync(&imapdir, &mut client);
        results.push(end_state(&mut client, &imapdir));
    }
    assert!(!results[0].is_empty());
    assert_eq!(results[0], results[1], "CONDSTORE path and fallback differ");
}

#[test]
fn compressed_sessions_sync_the_same() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra = vec!["compress = \"yes\"".into()];

    let first = imapdir.run(&["--trace-imap", "sync"]);
    first.expect_success();
    assert!(
        first.stderr.contains("COMPRESS DEFLATE"),
        "{}",
        first.stderr
    );
    assert_all_in_sync(&mut client, imapdir.maildir());

    // Changes both ways over the compressed stream, an upload included.
    let inbox = client.fetch_all("INBOX");
    client.store("INBOX", inbox[0].uid, "+FLAGS", "\\Flagged");
    write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1700000000.compressed.test",
        &generate_message(700, "INBOX"),
        Some("S"),
    );
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_eq!(client.fetch_all("INBOX").len(), inbox.len() + 1);

    // "auto" leaves a loopback connection uncompressed.
    imapdir.account.extra.clear();
    let plain = imapdir.run(&["--trace-imap", "sync"]);
    plain.expect_success();
    let sent_compress = |stderr: &str| {
        stderr
            .lines()
            .any(|l| l.starts_with("C: ") && l.contains("COMPRESS DEFLATE"))
    };
    assert!(!sent_compress(&plain.stderr), "{}", plain.stderr);
}
