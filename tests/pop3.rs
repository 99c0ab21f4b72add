//! The POP3 import against a real Dovecot POP3 service: each message once,
//! made durable before it is recorded; reruns, kill -9, a cut connection,
//! leave-on-server and delete-after-days; and the migration from POP3 to
//! an IMAP account.

mod common;

use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

fn pop3_dovecot() -> Dovecot {
    Dovecot::start_with(DovecotOptions {
        pop3: true,
        ..DovecotOptions::default()
    })
}

/// Seeds `n` messages into the server's INBOX; returns their Message-IDs.
fn seed(dovecot: &Dovecot, range: std::ops::Range<usize>) -> BTreeSet<String> {
    let mut client = dovecot.client();
    range
        .map(|i| {
            client.append("INBOX", "", &generate_message(i, "pop"));
            generated_message_id(i, "pop")
        })
        .collect()
}

/// An imapdir whose account "test" imports from the POP3 port with STLS.
fn pop3_client(dovecot: &Dovecot, extra: &[&str]) -> Imapdir {
    let mut imapdir = Imapdir::new(dovecot);
    imapdir.account.port = dovecot.pop3_port();
    imapdir.account.tls = "starttls".into();
    imapdir.account.jobs = None;
    imapdir.account.extra.push("protocol = \"pop3\"".into());
    imapdir
        .account
        .extra
        .extend(extra.iter().map(|s| s.to_string()));
    imapdir
}

fn imported(maildir: &Path) -> Vec<LocalMsg> {
    maildir_messages(maildir, "INBOX")
}

fn server_count(dovecot: &Dovecot) -> usize {
    dovecot.client().fetch_all("INBOX").len()
}

/// Exactly `expected`, once each, every file a whole message.
fn assert_imported_once(maildir: &Path, expected: &BTreeSet<String>) {
    let msgs = imported(maildir);
    let ids: Vec<String> = msgs.iter().filter_map(|m| m.message_id()).collect();
    assert_no_duplicate_message_ids(ids.iter().cloned().map(Some), "imported");
    assert_eq!(&ids.into_iter().collect::<BTreeSet<_>>(), expected);
    for m in &msgs {
        let i: usize = m
            .message_id()
            .unwrap()
            .trim_start_matches('<')
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            normalize(&m.body),
            normalize(&generate_message(i, "pop")),
            "{} is not the whole message",
            m.name
        );
        assert!(!m.body.contains(&b'\r'), "stored with LF line endings");
    }
}

/// No partial download left in tmp/ by a run that was not killed (a killed
/// one may leave one there: debris the Maildir rules remove after 36 hours,
/// never a message).
fn assert_tmp_empty(maildir: &Path, folder: &str) {
    let tmp = maildir.join(folder).join("tmp");
    assert_eq!(std::fs::read_dir(tmp).unwrap().count(), 0, "tmp/ is empty");
}

#[test]
fn import_then_rerun_downloads_nothing_new_and_leaves_the_server_alone() {
    let dovecot = pop3_dovecot();
    let ids = seed(&dovecot, 0..25);
    let imapdir = pop3_client(&dovecot, &[]);
    let out = imapdir.run(&["pop3", "test"]);
    out.expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
    let before: Vec<_> = imported(imapdir.maildir())
        .iter()
        .map(|m| (m.name.clone(), m.inode()))
        .collect();
    // `sync` imports a POP3 account too; nothing new.
    imapdir.run(&["sync", "--json"]).expect_success();
    let after: Vec<_> = imported(imapdir.maildir())
        .iter()
        .map(|m| (m.name.clone(), m.inode()))
        .collect();
    assert_eq!(before, after, "a rerun writes nothing");
    assert_eq!(server_count(&dovecot), 25, "leave_on_server is the default");

    // New mail on the server: only that is downloaded.
    let more = seed(&dovecot, 25..30);
    imapdir.run(&["pop3", "test"]).expect_success();
    let all: BTreeSet<String> = ids.union(&more).cloned().collect();
    assert_imported_once(imapdir.maildir(), &all);
    assert_tmp_empty(imapdir.maildir(), "INBOX");
}

#[test]
fn leave_on_server_false_deletes_only_what_was_stored() {
    let dovecot = pop3_dovecot();
    let ids = seed(&dovecot, 0..10);
    let imapdir = pop3_client(&dovecot, &["leave_on_server = false"]);
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
    assert_eq!(server_count(&dovecot), 0);
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
}

#[test]
fn delete_after_days_waits_for_the_age_of_the_local_copy() {
    let dovecot = pop3_dovecot();
    let ids = seed(&dovecot, 0..6);
    let imapdir = pop3_client(&dovecot, &["delete_after_days = 3"]);
    imapdir.run(&["pop3", "test"]).expect_success();
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_eq!(
        server_count(&dovecot),
        6,
        "stored today: kept on the server"
    );
    // Four days pass for half of them.
    let db = rusqlite::Connection::open(imapdir.state_file()).unwrap();
    let aged = db
        .execute(
            "UPDATE pop3_messages SET stored = stored - 4 * 86400
             WHERE rowid IN (SELECT rowid FROM pop3_messages ORDER BY uidl LIMIT 3)",
            [],
        )
        .unwrap();
    assert_eq!(aged, 3);
    drop(db);
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_eq!(
        server_count(&dovecot),
        3,
        "only the aged copies were deleted"
    );
    assert_imported_once(imapdir.maildir(), &ids);
}

#[test]
fn a_connection_cut_in_the_middle_of_a_message_loses_and_repeats_nothing() {
    let dovecot = pop3_dovecot();
    let ids = seed(&dovecot, 0..8);
    let proxy = FaultProxy::start(dovecot.pop3_port());
    // Plain through the proxy: the cut must land inside a message body.
    let mut imapdir = pop3_client(&dovecot, &[]);
    imapdir.account.port = proxy.port();
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    proxy.arm(Fault::new(
        Dir::ServerToClient,
        "Subject: Test message 4 in pop",
        10,
        Action::Cut,
    ));
    let out = imapdir.run(&["pop3", "test"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("message 5") && out.stderr.contains("closed the connection"),
        "names the message and the cause: {}",
        out.stderr
    );
    assert_eq!(
        imported(imapdir.maildir()).len(),
        4,
        "the first four are kept"
    );
    proxy.disarm();
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
    assert_tmp_empty(imapdir.maildir(), "INBOX");
}

#[test]
fn kill_9_during_the_import_loses_and_duplicates_nothing() {
    let dovecot = pop3_dovecot();
    let ids = seed(&dovecot, 0..600);
    let mut imapdir = pop3_client(&dovecot, &[]);
    let mut rng = Rng::new(17);
    let mut killed = 0;
    // Each run is killed once it has stored a random number more messages
    // (the kill lands inside the import however fast the machine is).
    for _round in 0..12 {
        let before = imported(imapdir.maildir()).len();
        let target = before + 1 + rng.below(80);
        let started = Instant::now();
        let mut child = imapdir.spawn(&["pop3", "test"]);
        let mut finished = false;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "an unkilled import failed: {status}");
                finished = true;
                break;
            }
            if imported(imapdir.maildir()).len() >= target
                || started.elapsed() > Duration::from_secs(60)
            {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        if finished {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        killed += 1;
        let stored = imported(imapdir.maildir());
        let unique: BTreeSet<_> = stored.iter().filter_map(|m| m.message_id()).collect();
        assert_eq!(unique.len(), stored.len(), "a duplicate after a kill");
    }
    eprintln!("{killed} imports killed");
    assert!(killed >= 3, "only {killed} runs were killed mid-import");
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
    imapdir.run(&["pop3", "test"]).expect_success();
    assert_imported_once(imapdir.maildir(), &ids);
}

#[test]
fn pop3_into_an_imap_accounts_folder_then_sync_uploads_it() {
    let old = pop3_dovecot();
    let new = Dovecot::start();
    let ids = seed(&old, 0..12);
    // The IMAP account on the new server, and the POP3 import from the old
    // one into a folder of its Maildir.
    let mut imapdir = Imapdir::new(&new);
    let maildir = imapdir.maildir().to_path_buf();
    imapdir.add_account("old");
    let old_account = imapdir.more_accounts.last_mut().unwrap();
    old_account.port = old.pop3_port();
    old_account.ca_file = Some(old.ca_file());
    old_account.tls = "starttls".into();
    old_account.maildir = maildir.clone();
    old_account.extra = vec![
        "protocol = \"pop3\"".into(),
        "pop3_folder = \"Imported\"".into(),
    ];
    imapdir.run(&["pop3", "old"]).expect_success();
    assert_eq!(maildir_messages(&maildir, "Imported").len(), 12);
    imapdir.run(&["sync", "test"]).expect_success();
    let on_server = new.client().fetch_all("Imported");
    let server_ids: BTreeSet<String> = on_server.iter().filter_map(|m| m.message_id()).collect();
    assert_eq!(
        server_ids, ids,
        "every imported message is on the IMAP server"
    );
    // Everything again: nothing moves twice.
    imapdir.run(&["sync"]).expect_success();
    assert_eq!(new.client().fetch_all("Imported").len(), 12);
    assert_eq!(maildir_messages(&maildir, "Imported").len(), 12);
}

#[test]
fn a_wrong_password_is_a_login_error_without_the_password() {
    let dovecot = pop3_dovecot();
    let mut imapdir = pop3_client(&dovecot, &[]);
    imapdir.account.password = "not-the-password-xyz".into();
    let out = imapdir.run(&["pop3", "test"]);
    out.expect_code(3);
    assert!(!out.all_output().contains("not-the-password-xyz"));
    let imap = Imapdir::new(&dovecot);
    let out = imap.run(&["pop3", "test"]);
    out.expect_code(2);
    assert!(out.stderr.contains("protocol = \"pop3\""), "{}", out.stderr);
}

#[test]
fn status_check_and_folders_speak_pop3_to_a_pop3_account() {
    let dovecot = pop3_dovecot();
    seed(&dovecot, 0..3);
    let mut imapdir = pop3_client(&dovecot, &["delete_after_days = 30"]);
    imapdir.run(&["pop3", "test"]).expect_success();
    seed(&dovecot, 3..5);

    let out = imapdir.run(&["status", "test"]);
    out.expect_success();
    let text = out.stdout.clone();
    assert!(text.contains("POP3 import into"), "{text}");
    assert!(text.contains("imported: 3 messages"), "{text}");
    assert!(
        text.contains("30 days after their import; 0 deleted so far"),
        "{text}"
    );
    assert!(text.contains("on the server: 5 messages"), "{text}");
    assert!(text.contains("2 not imported yet"), "{text}");
    assert!(
        !text.contains("pushed"),
        "nothing is pushed from a POP3 import: {text}"
    );

    let json: serde_json::Value = serde_json::from_str(
        &imapdir
            .run(&["--json", "status", "--offline", "test"])
            .stdout,
    )
    .unwrap();
    let account = &json["accounts"][0];
    assert_eq!(account["folders"].as_array().unwrap().len(), 0);
    assert_eq!(account["pop3"]["imported"], 3);
    assert_eq!(account["pop3"]["on_server"], serde_json::Value::Null);
    assert_eq!(account["last_run_error"], serde_json::Value::Null);

    let out = imapdir.run(&["check", "test"]);
    out.expect_success();
    assert!(out.stdout.contains("POP3"), "{}", out.stdout);
    assert!(out.stdout.contains("UIDL"), "CAPA is shown: {}", out.stdout);
    assert!(
        out.stdout.contains("maildrop: 5 messages"),
        "{}",
        out.stdout
    );

    let out = imapdir.run(&["folders", "test"]);
    out.expect_success();
    assert!(out.stdout.starts_with("INBOX\t-> "), "{}", out.stdout);
    assert!(out.stdout.contains("POP3 maildrop"), "{}", out.stdout);

    // A wrong password: exit 3 from status and check, never a hang.
    imapdir.account.password = "not-the-password-xyz".into();
    imapdir.run(&["status", "test"]).expect_code(3);
    imapdir.run(&["check", "test"]).expect_code(3);
}
