//! Messages moved between local folders reach the server as moves: no
//! body is uploaded or downloaded, and flags changed on the way are kept.

mod common;

use common::*;
use std::fs;

/// Moves three files of INBOX into Archive/2023 as a mail reader does
/// (rename, same name), flagging the first on the way; returns their
/// Message-IDs.
fn move_three_locally(imapdir: &Imapdir) -> Vec<String> {
    let inbox = maildir_messages(imapdir.maildir(), "INBOX");
    let target = imapdir.maildir().join("Archive/2023/cur");
    let mut moved = Vec::new();
    for (i, m) in inbox.iter().take(3).enumerate() {
        let name = if i == 0 {
            let (base, _) = m.name.split_once(":2,").unwrap_or((&m.name, ""));
            format!("{base}:2,FS")
        } else {
            m.name.clone()
        };
        fs::rename(&m.path, target.join(name)).unwrap();
        moved.push(m.message_id().unwrap());
    }
    moved
}

fn moved_without_transfer(dovecot: &Dovecot, verb: &str) {
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let imapdir = Imapdir::new(dovecot);
    imapdir.sync_ok();
    let moved = move_three_locally(&imapdir);

    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout
            .contains("move 3 messages from INBOX to Archive/2023 on the server")
            && !dry.stdout.contains("upload")
            && !dry.stdout.contains("delete remote"),
        "a dry run shows the moves, not uploads and deletions: {}",
        dry.stdout
    );

    let run = imapdir.run(&["--trace-imap", "--json", "sync"]);
    run.expect_success();
    let commands = run.imap_commands();
    assert!(
        !commands.iter().any(|c| c.starts_with("APPEND")),
        "nothing uploaded: {commands:#?}"
    );
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("UID FETCH") && c.contains("BODY.PEEK[]")),
        "nothing downloaded: {commands:#?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with(verb)),
        "{verb}: {commands:#?}"
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["accounts"][0]["counts"]["moved"], 3, "{}", run.stdout);

    let inbox = client.fetch_all("INBOX");
    let archive = client.fetch_all("Archive/2023");
    assert_eq!((inbox.len(), archive.len()), (7, 13));
    for mid in &moved {
        assert!(!inbox.iter().any(|m| m.message_id().as_ref() == Some(mid)));
        assert!(archive.iter().any(|m| m.message_id().as_ref() == Some(mid)));
    }
    let flagged = archive
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&moved[0]))
        .unwrap();
    assert!(
        flagged.flags.iter().any(|f| f == "\\Flagged"),
        "the flag set during the move reached the server: {:?}",
        flagged.flags
    );
    // The files carry their new UIDs.
    for m in maildir_messages(imapdir.maildir(), "Archive/2023") {
        let server = archive
            .iter()
            .find(|s| s.message_id() == m.message_id())
            .unwrap();
        assert_eq!(m.uid(), Some(server.uid), "{}", m.name);
    }
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_local_move_is_a_move_on_the_server() {
    moved_without_transfer(&Dovecot::start(), "UID MOVE");
}

#[test]
fn a_local_move_without_move_is_a_copy_and_an_expunge_of_that_uid() {
    moved_without_transfer(
        &Dovecot::start_with(DovecotOptions {
            imap_capability: Some(CAPS_WITHOUT_MOVE.into()),
            ..DovecotOptions::default()
        }),
        "UID COPY",
    );
}

#[test]
fn moving_a_whole_folder_locally_trips_no_guard() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let target = imapdir.maildir().join("INBOX/cur");
    for m in maildir_messages(imapdir.maildir(), "Archive/2023") {
        fs::rename(&m.path, target.join(&m.name)).unwrap();
    }
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Archive/2023").len(), 0);
    assert_eq!(client.fetch_all("INBOX").len(), 20);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_copy_into_another_folder_stays_a_copy() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 5);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let m = &maildir_messages(imapdir.maildir(), "INBOX")[0];
    fs::copy(
        &m.path,
        imapdir.maildir().join("Archive/2023/cur").join(&m.name),
    )
    .unwrap();
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 5);
    assert_eq!(client.fetch_all("Archive/2023").len(), 6);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

/// Another client moves three INBOX messages to Archive/2023 (with MOVE,
/// or COPY and UID EXPUNGE) and flags the first there; returns their Message-IDs.
fn move_three_on_the_server(client: &mut ImapClient, with_move: bool) -> Vec<String> {
    let inbox = client.fetch_all("INBOX");
    let moved: Vec<String> = inbox
        .iter()
        .take(3)
        .map(|m| m.message_id().unwrap())
        .collect();
    let uids: Vec<String> = inbox.iter().take(3).map(|m| m.uid.to_string()).collect();
    client.select("INBOX");
    if with_move {
        client.command(&format!("UID MOVE {} Archive/2023", uids.join(",")));
    } else {
        client.command(&format!("UID COPY {} Archive/2023", uids.join(",")));
        client.command(&format!(
            "UID STORE {} +FLAGS.SILENT (\\Deleted)",
            uids.join(",")
        ));
        client.command(&format!("UID EXPUNGE {}", uids.join(",")));
    }
    let archive = client.fetch_all("Archive/2023");
    let first = archive
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&moved[0]))
        .unwrap();
    client.store("Archive/2023", first.uid, "+FLAGS", "\\Flagged");
    moved
}

fn followed_without_download(with_move: bool) {
    followed_without_download_on(Dovecot::start(), with_move);
}

fn followed_without_download_on(dovecot: Dovecot, with_move: bool) {
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let inodes_before: Vec<u64> = maildir_messages(imapdir.maildir(), "INBOX")
        .iter()
        .map(|m| m.inode())
        .collect();
    let moved = move_three_on_the_server(&mut client, with_move);

    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert_eq!(
        dry.stdout
            .matches("move a message from INBOX to Archive/2023 locally")
            .count(),
        3,
        "{}",
        dry.stdout
    );
    assert!(
        !dry.stdout.contains("download") && !dry.stdout.contains("delete local"),
        "{}",
        dry.stdout
    );

    let run = imapdir.run(&["--trace-imap", "--json", "sync"]);
    run.expect_success();
    let commands = run.imap_commands();
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("UID FETCH") && c.contains("BODY.PEEK[]")),
        "nothing downloaded: {commands:#?}"
    );
    assert!(!commands.iter().any(|c| c.starts_with("APPEND")));
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["accounts"][0]["counts"]["moved"], 3, "{}", run.stdout);
    assert_eq!(
        doc["accounts"][0]["counts"]["deleted_local"], 0,
        "{}",
        run.stdout
    );

    let archive = maildir_messages(imapdir.maildir(), "Archive/2023");
    assert_eq!(archive.len(), 13);
    for mid in &moved {
        let m = archive
            .iter()
            .find(|m| m.message_id().as_ref() == Some(mid))
            .expect("moved here");
        assert!(
            inodes_before.contains(&m.inode()),
            "the same file, renamed: {}",
            m.name
        );
    }
    let flagged = archive
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&moved[0]))
        .unwrap();
    assert!(flagged.flags.contains('F'), "{}", flagged.name);
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_move_on_the_server_moves_the_local_file() {
    followed_without_download(true);
}

#[test]
fn a_copy_and_expunge_on_the_server_moves_the_local_file() {
    followed_without_download(false);
}

#[test]
fn a_move_on_a_server_without_qresync_is_found_from_the_uids_present() {
    let caps = CAPS_WITHOUT_MOVE.replace(" CONDSTORE QRESYNC", "");
    followed_without_download_on(
        Dovecot::start_with(DovecotOptions {
            imap_capability: Some(caps),
            ..DovecotOptions::default()
        }),
        false,
    );
}

#[test]
fn a_download_a_killed_run_left_unrecorded_is_adopted_not_doubled_by_a_move() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let moved = move_three_on_the_server(&mut client, true);
    // A run killed while downloading the first moved message into INBOX
    // left its file, named with the new UID, unrecorded.
    let arrived = client
        .fetch_all("Archive/2023")
        .into_iter()
        .find(|m| m.message_id().as_ref() == Some(&moved[0]))
        .unwrap();
    let archive_uid = arrived.uid;
    write_local_message(
        imapdir.maildir(),
        "Archive/2023",
        &format!("1700000000.M1P1.killed,U={archive_uid}"),
        &arrived
            .body
            .iter()
            .copied()
            .filter(|&b| b != b'\r')
            .collect::<Vec<u8>>(),
        Some("S"),
    );
    imapdir.sync_ok();
    let archive = client.fetch_all("Archive/2023");
    let copies = archive
        .iter()
        .filter(|m| m.message_id().as_ref() == Some(&moved[0]))
        .count();
    assert_eq!(copies, 1, "one copy on the server");
    assert_eq!(archive.len(), 13);
    assert_all_in_sync(&mut client, imapdir.maildir());
}
