//! Date and count windows (`since`, `max_messages`, `keep_flagged`,
//! `keep_unread`): what is outside is not downloaded, and leaving the
//! window is never a deletion on either side.

mod common;

use common::*;
use std::fs;
use std::thread::sleep;
use std::time::Duration;

/// Directory mtimes younger than a second are not trusted as unchanged.
const SETTLE: Duration = Duration::from_millis(1100);

const OLD: &str = "01-Jun-2019 12:00:00 +0000";
const OLDER: &str = "01-Jan-2019 12:00:00 +0000";
const RECENT: &str = "01-Jun-2025 12:00:00 +0000";

fn set(imapdir: &mut Imapdir, lines: &[&str]) {
    imapdir.account.extra = lines.iter().map(|l| l.to_string()).collect();
}

/// A traced sync's commands (without tags), and how many message bodies
/// it fetched.
fn traced_sync(imapdir: &Imapdir, args: &[&str]) -> (Vec<String>, usize) {
    let mut all = vec!["--trace-imap", "sync"];
    all.extend_from_slice(args);
    let run = imapdir.run(&all);
    run.expect_success();
    let commands: Vec<String> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter_map(|l| l.split_once(' ').map(|(_, cmd)| cmd.to_string()))
        .collect();
    // Bodies come in UID FETCH responses, one "S: * N FETCH" line each.
    let bodies = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("S: * ") && l.contains(" FETCH ") && l.contains("BODY[]"))
        .count();
    (commands, bodies)
}

fn local_ids(imapdir: &Imapdir) -> Vec<String> {
    let mut ids: Vec<String> = maildir_messages(imapdir.maildir(), "INBOX")
        .iter()
        .filter_map(|m| m.message_id())
        .collect();
    ids.sort();
    ids
}

fn id_of(i: usize) -> String {
    message_id(&generate_message(i, "INBOX")).unwrap()
}

fn outside_window(imapdir: &Imapdir) -> u64 {
    let status = imapdir.run(&["--json", "status", "--offline"]);
    status.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let folders = doc["accounts"][0]["folders"].as_array().unwrap();
    let inbox = folders.iter().find(|f| f["folder"] == "INBOX").unwrap();
    inbox["outside_window"].as_u64().unwrap()
}

/// Appends messages `range` to INBOX with `date`.
fn seed_dated(client: &mut ImapClient, range: std::ops::Range<usize>, flags: &str, date: &str) {
    for i in range {
        client.append_dated("INBOX", flags, date, &generate_message(i, "INBOX"));
    }
}

#[test]
fn since_downloads_only_what_is_inside_and_widening_only_what_is_new_inside() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..3, "\\Seen", OLDER);
    seed_dated(&mut client, 3..5, "\\Seen", OLD);
    seed_dated(&mut client, 5..8, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["since = \"2024-01-01\""]);

    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout
            .contains("leave 5 server messages outside the window"),
        "{}",
        dry.stdout
    );
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 3, "only the messages inside are fetched");
    assert_eq!(local_ids(&imapdir), sorted((5..8).map(id_of)));
    assert_eq!(
        client.fetch_all("INBOX").len(),
        8,
        "nothing deleted on the server"
    );
    assert_eq!(outside_window(&imapdir), 5);
    let status = imapdir.run(&["status", "--offline"]);
    assert!(
        status.stdout.contains("outside the window") && status.stdout.contains("5 INBOX"),
        "{}",
        status.stdout
    );

    // A local message is uploaded whatever its date.
    let old_local = generate_message(50, "INBOX");
    write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1.old.local",
        &old_local,
        Some("S"),
    );
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 9);

    // Widening the window downloads what it now takes in, and nothing else.
    set(&mut imapdir, &["since = \"2019-03-01\""]);
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 2);
    let mut expected: Vec<String> = (3..8).map(id_of).collect();
    expected.push(message_id(&old_local).unwrap());
    assert_eq!(local_ids(&imapdir), sorted(expected.into_iter()));
    assert_eq!(outside_window(&imapdir), 3);

    // Removing the key takes in every message.
    set(&mut imapdir, &[]);
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 3);
    assert_folder_in_sync(
        &client.fetch_all("INBOX"),
        &maildir_messages(imapdir.maildir(), "INBOX"),
        "INBOX",
    );
    assert_eq!(outside_window(&imapdir), 0);
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 0);
}

fn sorted(ids: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = ids.collect();
    v.sort();
    v
}

#[test]
fn messages_that_leave_the_window_delete_nothing_and_keep_syncing() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..4, "\\Seen", OLD);
    seed_dated(&mut client, 4..6, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    assert_eq!(local_ids(&imapdir).len(), 6);

    // The window moves past four synced messages: nothing goes anywhere.
    set(&mut imapdir, &["since = \"2024-01-01\""]);
    imapdir.sync_ok();
    sleep(SETTLE);
    imapdir.sync_ok();
    assert_eq!(local_ids(&imapdir).len(), 6);
    assert_eq!(client.fetch_all("INBOX").len(), 6);

    // Their flags still sync both ways.
    let server = client.fetch_all("INBOX");
    let (first, second) = (server[0].uid, server[1].uid);
    client.store("INBOX", first, "+FLAGS", "\\Flagged");
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let second_local = local.iter().find(|m| m.uid() == Some(second)).unwrap();
    set_local_flags(second_local, "RS");
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let first_local = local.iter().find(|m| m.uid() == Some(first)).unwrap();
    assert_eq!(first_local.flags, "FS");
    let server = client.fetch_all("INBOX");
    assert_eq!(server[1].letters(), "RS");

    // A deletion outside the window is a deletion, on either side.
    let third = server[2].uid;
    client.expunge_uid("INBOX", first);
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    fs::remove_file(&local.iter().find(|m| m.uid() == Some(third)).unwrap().path).unwrap();
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert!(
        local.iter().all(|m| m.uid() != Some(first)),
        "unlinked locally"
    );
    let server = client.fetch_all("INBOX");
    assert!(
        server.iter().all(|m| m.uid != third),
        "expunged on the server"
    );
    assert_eq!(server.len(), 4);
    assert_folder_in_sync(&server, &local, "INBOX");

    // Aging out by the clock: a window of one day keeps everything here.
    set(&mut imapdir, &["since = \"1d\""]);
    imapdir.sync_ok();
    assert_eq!(local_ids(&imapdir).len(), 4);
    assert_eq!(client.fetch_all("INBOX").len(), 4);
    assert_eq!(outside_window(&imapdir), 0);
}

#[test]
fn keep_flagged_and_keep_unread_bring_those_in() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..1, "\\Seen \\Flagged", OLD);
    seed_dated(&mut client, 1..2, "", OLD);
    seed_dated(&mut client, 2..4, "\\Seen", OLD);
    seed_dated(&mut client, 4..5, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(
        &mut imapdir,
        &["since = \"2024-01-01\"", "keep_flagged = true"],
    );
    imapdir.sync_ok();
    assert_eq!(local_ids(&imapdir), sorted([0, 4].into_iter().map(id_of)));

    set(
        &mut imapdir,
        &[
            "since = \"2024-01-01\"",
            "keep_flagged = true",
            "keep_unread = true",
        ],
    );
    imapdir.sync_ok();
    assert_eq!(
        local_ids(&imapdir),
        sorted([0, 1, 4].into_iter().map(id_of))
    );
    assert_eq!(outside_window(&imapdir), 2);

    // Flagged later on the server: it comes in at the next sync.
    let server = client.fetch_all("INBOX");
    client.store("INBOX", server[2].uid, "+FLAGS", "\\Flagged");
    imapdir.sync_ok();
    assert_eq!(
        local_ids(&imapdir),
        sorted([0, 1, 2, 4].into_iter().map(id_of))
    );
    assert_eq!(outside_window(&imapdir), 1);
    assert_eq!(client.fetch_all("INBOX").len(), 5);
}

#[test]
fn max_messages_keeps_the_newest_and_arrivals_push_without_deleting() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..5);
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["max_messages = 2"]);
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 2);
    assert_eq!(local_ids(&imapdir), sorted((3..5).map(id_of)));
    assert_eq!(outside_window(&imapdir), 3);

    // Two arrivals: they come in, the older local copies stay.
    seed_folder(&mut client, "INBOX", 5..7);
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 2);
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.starts_with("UID SEARCH"))
            .count(),
        1,
        "{commands:#?}"
    );
    assert_eq!(local_ids(&imapdir), sorted((3..7).map(id_of)));
    assert_eq!(client.fetch_all("INBOX").len(), 7);
    assert_eq!(outside_window(&imapdir), 3);

    // A larger N takes in only what it now reaches.
    set(&mut imapdir, &["max_messages = 5"]);
    let (_, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 1);
    assert_eq!(local_ids(&imapdir), sorted((2..7).map(id_of)));
    assert_eq!(outside_window(&imapdir), 2);
    assert_eq!(client.fetch_all("INBOX").len(), 7);
}

#[test]
fn a_sync_with_nothing_changed_costs_no_search() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..3, "\\Seen", OLD);
    seed_dated(&mut client, 3..5, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(
        &mut imapdir,
        &["since = \"2024-01-01\"", "max_messages = 100"],
    );
    imapdir.sync_ok();
    sleep(SETTLE);
    imapdir.sync_ok();
    sleep(SETTLE);
    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout
            .contains("leave 3 server messages outside the window"),
        "an unchanged folder too: {}",
        dry.stdout
    );
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 0);
    let verbs: Vec<String> = commands
        .iter()
        .map(|c| c.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        verbs,
        ["AUTHENTICATE", "ENABLE", "NAMESPACE", "LIST", "LOGOUT"],
        "{commands:#?}"
    );
    // A flag change on a message outside changes the folder, but what is
    // outside is known: no SEARCH.
    let first = client.fetch_all("INBOX")[0].uid;
    client.store("INBOX", first, "+FLAGS", "\\Answered");
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 0);
    assert!(
        !commands.iter().any(|c| c.contains("SEARCH")),
        "{commands:#?}"
    );
}

#[test]
fn bad_window_settings_are_config_errors_naming_the_key() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    for (line, words) in [
        ("since = \"yesterday\"", ["since", "\"yesterday\""]),
        ("since = \"2024-02-30\"", ["since", "\"2024-02-30\""]),
        ("max_messages = 0", ["max_messages", "0"]),
        (
            "keep_flagged = true",
            ["keep_flagged", "since or max_messages"],
        ),
    ] {
        set(&mut imapdir, &[line]);
        let run = imapdir.run(&["sync"]);
        run.expect_code(2);
        for word in words {
            assert!(run.stderr.contains(word), "{line}: {}", run.stderr);
        }
        assert!(!imapdir.maildir().join("INBOX").exists(), "nothing synced");
    }
}

/// Dovecot 2.3's capabilities without CONDSTORE, QRESYNC and LIST-STATUS.
const CAPS_PLAIN: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
     SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
     CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT \
     SEARCHRES WITHIN CONTEXT=SEARCH BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY \
     PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY COMPRESS=DEFLATE";

#[test]
fn without_condstore_what_is_known_outside_costs_no_search_and_expunges_are_counted() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        imap_capability: Some(CAPS_PLAIN.into()),
        ..Default::default()
    });
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..4, "\\Seen", OLD);
    seed_dated(&mut client, 4..6, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["since = \"2024-01-01\""]);
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 2);
    assert!(commands
        .iter()
        .any(|c| c.starts_with("UID SEARCH SINCE 1-Jan-2024")));
    assert_eq!(outside_window(&imapdir), 4);

    // Every run lists the folder here, but what the window kept out is
    // known: no SEARCH, nothing fetched.
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 0);
    assert!(
        !commands.iter().any(|c| c.contains("SEARCH")),
        "{commands:#?}"
    );

    // One that arrives is searched for; one kept out and expunged on the
    // server is no longer counted, and nothing local goes.
    let first = client.fetch_all("INBOX")[0].uid;
    client.expunge_uid("INBOX", first);
    seed_dated(&mut client, 6..7, "\\Seen", RECENT);
    let (commands, bodies) = traced_sync(&imapdir, &[]);
    assert_eq!(bodies, 1);
    assert_eq!(
        commands.iter().filter(|c| c.contains("SEARCH")).count(),
        1,
        "{commands:#?}"
    );
    assert_eq!(outside_window(&imapdir), 3);
    assert_eq!(local_ids(&imapdir), sorted((4..7).map(id_of)));
}

#[test]
fn an_expunge_outside_the_window_is_counted_with_qresync() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..3, "\\Seen", OLD);
    seed_dated(&mut client, 3..4, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["since = \"2024-01-01\""]);
    imapdir.sync_ok();
    assert_eq!(outside_window(&imapdir), 3);
    let first = client.fetch_all("INBOX")[0].uid;
    client.expunge_uid("INBOX", first);
    imapdir.sync_ok();
    assert_eq!(outside_window(&imapdir), 2);
    assert_eq!(local_ids(&imapdir), vec![id_of(3)]);
    assert_eq!(client.fetch_all("INBOX").len(), 3);
}

#[test]
fn a_pop3_account_takes_no_window() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["protocol = \"pop3\"", "since = \"90d\""]);
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    assert!(run.stderr.contains("since"), "{}", run.stderr);
}

#[test]
fn a_date_window_searches_in_the_selects_round_trip() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..2, "\\Seen", OLD);
    seed_dated(&mut client, 2..3, "\\Seen", RECENT);
    let mut imapdir = Imapdir::new(&dovecot);
    set(&mut imapdir, &["since = \"2024-01-01\""]);
    imapdir.sync_ok();
    sleep(SETTLE);
    imapdir.sync_ok();
    seed_dated(&mut client, 3..4, "\\Seen", OLD);
    seed_dated(&mut client, 4..5, "\\Seen", RECENT);

    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    let lines: Vec<&str> = run.stderr.lines().collect();
    let select = lines
        .iter()
        .position(|l| l.starts_with("C: ") && l.contains(" SELECT "))
        .expect("a SELECT");
    let tag = lines[select][3..].split(' ').next().unwrap();
    let selected = lines
        .iter()
        .position(|l| l.starts_with(&format!("S: {tag} OK")))
        .expect("the SELECT's answer");
    let searches: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("C: ") && l.contains("UID SEARCH"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(searches.len(), 1, "{}", run.stderr);
    assert!(
        searches[0] < selected,
        "sent before the SELECT was answered: {}",
        run.stderr
    );
    assert_eq!(
        local_ids(&imapdir),
        sorted([2, 4].into_iter().map(id_of)),
        "{}",
        run.stderr
    );
    assert_eq!(outside_window(&imapdir), 3);
}

/// Message-IDs of a local folder, sorted.
fn ids_in(imapdir: &Imapdir, folder: &str) -> Vec<String> {
    let mut ids: Vec<String> = maildir_messages(imapdir.maildir(), folder)
        .iter()
        .filter_map(|m| m.message_id())
        .collect();
    ids.sort();
    ids
}

#[test]
fn per_folder_tables_set_the_window_and_the_size_limit_of_the_folders_they_name() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_dated(&mut client, 0..3, "", OLD);
    seed_dated(&mut client, 3..5, "", RECENT);
    client.create("Lists");
    client.create("Lists/rust");
    for i in 10..13 {
        client.append_dated("Lists/rust", "", OLD, &generate_message(i, "Lists/rust"));
    }
    client.append_dated(
        "Lists/rust",
        "",
        RECENT,
        &generate_message(13, "Lists/rust"),
    );
    // Far larger than any generated message.
    let mut big = generate_message(20, "Lists/rust");
    big.extend(std::iter::repeat_n(b'x', 3000));
    big.extend_from_slice(b"\r\n");
    client.append_dated("Lists/rust", "", RECENT, &big);
    let mut imapdir = Imapdir::new(&dovecot);
    set(
        &mut imapdir,
        &[
            "since = \"2024-01-01\"",
            "[[accounts.test.per_folder]]",
            "folders = \"Lists/*\"",
            "max_messages = 2",
            "since = \"none\"",
            "max_message_size = \"2K\"",
        ],
    );
    imapdir.sync_ok();
    // INBOX: the account's date window.
    assert_eq!(local_ids(&imapdir), sorted([3, 4].map(id_of).into_iter()));
    // Lists/rust: its own, the newest two, the large one a placeholder.
    let lists = maildir_messages(imapdir.maildir(), "Lists/rust");
    assert_eq!(lists.len(), 2, "{lists:?}");
    let placeholders = lists
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.body).contains("X-Imapdir-Placeholder"))
        .count();
    assert_eq!(placeholders, 1);
    assert_eq!(ids_in(&imapdir, "Lists/rust").len(), 2);
    // No change: nothing more comes, nothing goes.
    imapdir.sync_ok();
    assert_eq!(local_ids(&imapdir).len(), 2);
    assert_eq!(maildir_messages(imapdir.maildir(), "Lists/rust").len(), 2);
    assert_eq!(client.fetch_all("Lists/rust").len(), 5);
    assert_eq!(client.fetch_all("INBOX").len(), 5);
    // The table dropped: the account's window holds there too, and what
    // it takes in comes, the placeholder stays one.
    set(&mut imapdir, &["since = \"2024-01-01\""]);
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "Lists/rust").len(), 2);
    assert_eq!(client.fetch_all("Lists/rust").len(), 5);
}

#[test]
fn a_bad_per_folder_table_is_a_config_error_naming_it() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    for (lines, words) in [
        (
            &[
                "[[accounts.test.per_folder]]",
                "folders = \"Lists/*\"",
                "since = \"soon\"",
            ][..],
            &["per_folder table 1", "since"][..],
        ),
        (
            &["[[accounts.test.per_folder]]", "folders = \"Lists/*\""][..],
            &["per_folder table 1", "sets nothing"][..],
        ),
        (
            &[
                "[[accounts.test.per_folder]]",
                "folders = \"A\"",
                "max_messages = 3",
                "[[accounts.test.per_folder]]",
                "folders = []",
                "max_messages = 3",
            ][..],
            &["per_folder table 2", "names no folder"][..],
        ),
        (
            &[
                "[[accounts.test.per_folder]]",
                "folders = \"A\"",
                "colour = 1",
            ][..],
            &["colour"][..],
        ),
    ] {
        set(&mut imapdir, lines);
        let run = imapdir.run(&["sync"]);
        run.expect_code(2);
        for w in words {
            assert!(run.stderr.contains(w), "{w}: {}", run.stderr);
        }
    }
}
