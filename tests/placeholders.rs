//! Placeholders (`max_message_size`): a message too large to download is
//! stored as its real header and a short text; its flags sync, deleting it
//! deletes the message, flagging it or `imapdir fetch` brings the whole
//! message into the same file, and it is never uploaded.

mod common;

use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;
use std::fs;

const LIMIT: &str = "max_message_size = \"100K\"";

/// A message of about `kib` KiB, with a multipart Content-Type.
fn big_message(i: usize, kib: usize) -> Vec<u8> {
    let mut msg = format!(
        "From: Big Sender <big{i}@example.org>\r\n\
         To: Bench User <bench@localhost>\r\n\
         Subject: Large attachment {i}\r\n\
         Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n\
         Message-ID: <big-{i}@example.org>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed;\r\n\
         \tboundary=\"b{i}\"\r\n\
         \r\n\
         --b{i}\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n"
    )
    .into_bytes();
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n";
    while msg.len() < kib * 1024 {
        msg.extend_from_slice(line);
    }
    msg.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    msg
}

fn with_limit(dovecot: &Dovecot) -> Imapdir {
    let mut imapdir = Imapdir::new(dovecot);
    imapdir.account.extra.push(LIMIT.into());
    imapdir
}

/// Bodies a traced sync fetched (one `BODY[]` response each).
fn traced_bodies(imapdir: &Imapdir) -> (usize, String) {
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    let bodies = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("S: * ") && l.contains(" FETCH ") && l.contains("BODY[]"))
        .count();
    (bodies, run.stderr)
}

fn find<'a>(msgs: &'a [LocalMsg], mid: &str) -> &'a LocalMsg {
    find_by_message_id(msgs, mid)
}

#[test]
fn a_large_message_is_its_header_and_a_note_and_its_flags_sync_both_ways() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.append("INBOX", "\\Seen", &generate_message(0, "INBOX"));
    let big = big_message(1, 300);
    let uid = client.append("INBOX", "\\Seen", &big);
    let imapdir = with_limit(&dovecot);

    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout
            .contains("store 1 of these downloads as placeholders"),
        "{}",
        dry.stdout
    );
    let (bodies, trace) = traced_bodies(&imapdir);
    assert_eq!(bodies, 1, "only the small message is fetched whole");
    assert!(trace.contains("BODY.PEEK[HEADER]"), "{trace}");
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 2);
    let placeholder = find(&local, "<big-1@example.org>");
    let text = String::from_utf8_lossy(&placeholder.body).to_string();
    assert!(
        placeholder.body.len() < 4096,
        "{} bytes",
        placeholder.body.len()
    );
    assert!(
        text.contains(&format!("X-Imapdir-Placeholder: {}\n", big.len())),
        "{text}"
    );
    assert!(text.contains("Subject: Large attachment 1\n"));
    assert!(text.contains("X-Imapdir-Original-Content-Type: multipart/mixed;\n\tboundary="));
    assert!(text.contains("Content-Type: text/plain"));
    assert!(
        text.contains(&format!(
            "imapdir fetch {} INBOX {uid}",
            imapdir.account.name
        )),
        "{text}"
    );
    assert_eq!(placeholder.flags, "S");
    let status = imapdir.run(&["--json", "status", "--offline"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let inbox = doc["accounts"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["folder"] == "INBOX")
        .unwrap()
        .clone();
    assert_eq!(inbox["placeholders"], 1, "{}", status.stdout);

    // Flags both ways.
    client.store("INBOX", uid, "+FLAGS", "\\Answered");
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let placeholder = find(&local, "<big-1@example.org>");
    assert_eq!(placeholder.flags, "RS");
    set_local_flags(placeholder, "R");
    imapdir.sync_ok();
    let server = client.fetch_all("INBOX");
    let on_server = server.iter().find(|m| m.uid == uid).unwrap();
    assert_eq!(on_server.letters(), "R");
    assert_eq!(
        normalize(&on_server.body),
        normalize(&big),
        "server copy untouched"
    );
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert!(
        find(&local, "<big-1@example.org>").body.len() < 4096,
        "still a placeholder"
    );

    // Never uploaded: not as a change, not as a copy in another folder.
    let copy = find(&local, "<big-1@example.org>").body.clone();
    write_local_message(
        imapdir.maildir(),
        "Archive",
        "1.copy.localhost",
        &copy,
        Some("S"),
    );
    imapdir.sync_ok();
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 2);
    assert!(
        client.list().iter().any(|f| f == "Archive"),
        "the folder is synced"
    );
    assert!(
        client.fetch_all("Archive").is_empty(),
        "a placeholder's copy is never uploaded"
    );
}

#[test]
fn flagging_a_placeholder_downloads_it_whole_into_the_same_file() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let big = big_message(2, 200);
    let uid = client.append("INBOX", "\\Seen", &big);
    let imapdir = with_limit(&dovecot);
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 1);
    let base = local[0].base_name().to_string();
    set_local_flags(&local[0], "FS");

    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 1);
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 1, "one file");
    assert_eq!(local[0].base_name(), base, "the same name");
    assert_eq!(local[0].flags, "FS", "flags kept");
    assert_eq!(normalize(&local[0].body), normalize(&big));
    let server = client.fetch_all("INBOX");
    assert_eq!(server.len(), 1);
    assert_eq!(server[0].uid, uid);
    assert_eq!(server[0].letters(), "FS");

    // Done once: the next syncs fetch nothing and upload nothing.
    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 0);
    assert_eq!(client.fetch_all("INBOX").len(), 1);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn imapdir_fetch_downloads_the_placeholder_whole_at_the_next_sync() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let big = big_message(3, 150);
    let uid = client.append("INBOX", "", &big);
    client.append("INBOX", "", &generate_message(0, "INBOX"));
    let imapdir = with_limit(&dovecot);
    imapdir.sync_ok();
    let account = imapdir.account.name.clone();

    // A UID that is no placeholder asks for nothing.
    let bad = imapdir.run(&["fetch", &account, "INBOX", &(uid + 1).to_string()]);
    bad.expect_code(2);
    assert!(
        bad.stderr
            .contains(&format!("uid {} in INBOX is not a placeholder", uid + 1)),
        "{}",
        bad.stderr
    );
    let asked = imapdir.run(&["fetch", &account, "INBOX", &uid.to_string()]);
    asked.expect_success();
    assert!(asked.stdout.contains("next sync"), "{}", asked.stdout);
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert!(find(&local, "<big-3@example.org>").body.len() < 4096);
    // A push-only run brings nothing down; the request waits.
    imapdir.run(&["sync", "--push"]).expect_success();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert!(find(&local, "<big-3@example.org>").body.len() < 4096);

    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout.contains(&format!(
            "download uid {uid} whole, in place of its placeholder"
        )),
        "{}",
        dry.stdout
    );
    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 1);
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 2);
    let whole = find(&local, "<big-3@example.org>");
    assert_eq!(normalize(&whole.body), normalize(&big));
    assert_eq!(whole.subdir, "new", "still unread, where it was");
    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 0);
}

#[test]
fn a_placeholder_deleted_on_either_side_is_deleted_on_the_other() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let first = client.append("INBOX", "\\Seen", &big_message(4, 120));
    let second = client.append("INBOX", "\\Seen", &big_message(5, 120));
    for i in 0..4 {
        client.append("INBOX", "\\Seen", &generate_message(i, "INBOX"));
    }
    let imapdir = with_limit(&dovecot);
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    fs::remove_file(&find(&local, "<big-4@example.org>").path).unwrap();
    client.expunge_uid("INBOX", second);
    imapdir.sync_ok();
    let server = client.fetch_all("INBOX");
    assert!(
        server.iter().all(|m| m.uid != first),
        "expunged on the server"
    );
    assert_eq!(server.len(), 4);
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 4, "the other placeholder's file is gone");
    assert_folder_in_sync(&server, &local, "INBOX");
}

#[test]
fn a_bad_size_is_a_config_error_naming_the_key() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("max_message_size = \"10MB\"".into());
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("max_message_size") && run.stderr.contains("\"10MB\""),
        "{}",
        run.stderr
    );
}

#[test]
fn a_failed_download_leaves_the_placeholder_and_the_next_sync_completes_it() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let big = big_message(6, 400);
    let uid = client.append("INBOX", "\\Seen", &big);
    let proxy = FaultProxy::start(dovecot.imap_port());
    let mut imapdir = Imapdir::with_jobs(&dovecot, 1);
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.port = proxy.port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    imapdir.account.ca_file = None;
    imapdir.account.extra.push("timeout = 3".into());
    imapdir.account.extra.push(LIMIT.into());
    imapdir.sync_ok();
    let account = imapdir.account.name.clone();
    imapdir
        .run(&["fetch", &account, "INBOX", &uid.to_string()])
        .expect_success();

    // The connection is cut in the middle of the body.
    proxy.arm(Fault::new(
        Dir::ServerToClient,
        "BODY[] {",
        100_000,
        Action::Cut,
    ));
    let failed = imapdir.run(&["sync"]);
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    assert!(proxy.fired());
    proxy.disarm();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 1);
    assert!(local[0].body.len() < 4096, "still the placeholder");
    assert!(String::from_utf8_lossy(&local[0].body).contains("X-Imapdir-Placeholder"));
    let tmp = imapdir.maildir().join("INBOX").join("tmp");
    assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "no debris in tmp/");

    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 1);
    assert_eq!(normalize(&local[0].body), normalize(&big));
    assert_eq!(client.fetch_all("INBOX").len(), 1);
}

#[test]
fn a_lost_state_pairs_the_placeholder_again_without_a_second_copy() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let big = big_message(7, 150);
    client.append("INBOX", "\\Seen", &big);
    for i in 0..3 {
        client.append("INBOX", "\\Seen", &generate_message(i, "INBOX"));
    }
    let imapdir = with_limit(&dovecot);
    imapdir.sync_ok();
    fs::remove_file(imapdir.state_file()).unwrap();
    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 0, "nothing downloaded again");
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 4, "no second placeholder");
    assert_eq!(client.fetch_all("INBOX").len(), 4, "nothing uploaded");
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 4);
    assert_eq!(client.fetch_all("INBOX").len(), 4);

    // Flagging it still downloads it whole: its mark says what it is.
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    set_local_flags(find(&local, "<big-7@example.org>"), "FS");
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 4);
    assert_eq!(
        normalize(&find(&local, "<big-7@example.org>").body),
        normalize(&big)
    );
}

#[test]
fn a_placeholder_moved_to_another_folder_moves_the_message_and_can_still_be_fetched() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.create("Archive");
    let big = big_message(8, 150);
    client.append("INBOX", "\\Seen", &big);
    client.append("INBOX", "\\Seen", &generate_message(0, "INBOX"));
    client.append("Archive", "\\Seen", &generate_message(1, "Archive"));
    let imapdir = with_limit(&dovecot);
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let placeholder = find(&local, "<big-8@example.org>");
    let target = imapdir
        .maildir()
        .join("Archive")
        .join(&placeholder.subdir)
        .join(&placeholder.name);
    fs::rename(&placeholder.path, &target).unwrap();
    let (bodies, _) = traced_bodies(&imapdir);
    assert_eq!(bodies, 0);
    assert_eq!(client.fetch_all("INBOX").len(), 1);
    let archive = client.fetch_all("Archive");
    assert_eq!(archive.len(), 2, "moved on the server, not uploaded");
    assert!(archive
        .iter()
        .any(|m| normalize(&m.body) == normalize(&big)));

    let local = maildir_messages(imapdir.maildir(), "Archive");
    set_local_flags(find(&local, "<big-8@example.org>"), "FS");
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "Archive");
    assert_eq!(local.len(), 2);
    assert_eq!(
        normalize(&find(&local, "<big-8@example.org>").body),
        normalize(&big)
    );
    assert_eq!(client.fetch_all("Archive").len(), 2);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 1);
}
