//! Archive mode: leaving one side is never a deletion, an upload or a
//! download on the other (`server_deletions`, `local_deletions`).

mod common;

use common::*;
use std::fs;

#[test]
fn keep_local_keeps_every_copy_when_the_server_empties_a_folder() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("server_deletions = \"keep-local\"".into());
    imapdir.sync_ok();
    for m in client.fetch_all("INBOX") {
        client.expunge_uid("INBOX", m.uid);
    }
    // An expunge of the whole folder trips no guard: nothing local goes.
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 10);
    assert!(client.fetch_all("INBOX").is_empty());
    // Never uploaded again.
    imapdir.sync_ok();
    assert!(client.fetch_all("INBOX").is_empty(), "nothing uploaded");
    let status = imapdir.run(&["status", "--offline"]);
    status.expect_success();
    assert!(status.stdout.contains("10 only here"), "{}", status.stdout);
    // Deleting a kept copy deletes nothing remote; new mail still flows.
    let kept = maildir_messages(imapdir.maildir(), "INBOX");
    fs::remove_file(&kept[0].path).unwrap();
    client.append("INBOX", "", &generate_message(900, "INBOX"));
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 1);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 10);
    assert_folder_in_sync(
        &client.fetch_all("Archive/2023"),
        &maildir_messages(imapdir.maildir(), "Archive/2023"),
        "Archive/2023",
    );
}

#[test]
fn keep_server_keeps_the_server_copy_and_never_downloads_it_again() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("local_deletions = \"keep-server\"".into());
    imapdir.sync_ok();
    // All of a folder's files go: no guard, nothing expunged.
    for m in maildir_messages(imapdir.maildir(), "Archive/2023") {
        fs::remove_file(&m.path).unwrap();
    }
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Archive/2023").len(), 10);
    imapdir.sync_ok();
    assert!(
        maildir_messages(imapdir.maildir(), "Archive/2023").is_empty(),
        "not downloaded again"
    );
    // A flag changed on the server since changes nothing here.
    let first = client.fetch_all("Archive/2023")[0].uid;
    client.store("Archive/2023", first, "+FLAGS", "\\Flagged");
    imapdir.sync_ok();
    assert!(maildir_messages(imapdir.maildir(), "Archive/2023").is_empty());
    let status = imapdir.run(&["--json", "status", "--offline"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let folders = doc["accounts"][0]["folders"].as_array().unwrap();
    let archive = folders
        .iter()
        .find(|f| f["folder"] == "Archive/2023")
        .unwrap();
    assert_eq!(archive["server_only"], 10, "{}", status.stdout);
}

/// Message-IDs with their local flag letters, sorted.
fn local_ids(imapdir: &Imapdir, folder: &str) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = maildir_messages(imapdir.maildir(), folder)
        .iter()
        .map(|m| (m.message_id().unwrap(), m.flags.clone()))
        .collect();
    ids.sort();
    ids
}

#[test]
fn archive_folder_takes_the_copies_of_server_expunges_and_never_uploads_them() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.extend([
        "server_deletions = \"keep-local\"".to_string(),
        "archive_folder = \"Kept/From server\"".to_string(),
    ]);
    imapdir.sync_ok();
    let server = client.fetch_all("INBOX");
    client.store("INBOX", server[0].uid, "+FLAGS", "\\Flagged $Project");
    imapdir.sync_ok();
    let before = local_ids(&imapdir, "INBOX");
    for m in &server[..4] {
        client.expunge_uid("INBOX", m.uid);
    }
    let dry = imapdir.run(&["sync", "--dry-run"]);
    dry.expect_success();
    assert!(
        dry.stdout.contains("move 4 local copies") && dry.stdout.contains("Kept/From server"),
        "{}",
        dry.stdout
    );
    imapdir.sync_ok();
    // The synced folder mirrors the server; the archive holds the rest,
    // flags and keywords as they were.
    assert_folder_in_sync(
        &client.fetch_all("INBOX"),
        &maildir_messages(imapdir.maildir(), "INBOX"),
        "INBOX",
    );
    let mut together = local_ids(&imapdir, "INBOX");
    together.extend(local_ids(&imapdir, "Kept/From server"));
    together.sort();
    assert_eq!(together, before, "every copy kept once, flags as they were");
    let archived = maildir_messages(imapdir.maildir(), "Kept/From server");
    assert_eq!(archived.len(), 4);
    assert!(
        archived.iter().all(|m| m.uid().is_none()),
        "no UID of INBOX"
    );
    let flagged = archived.iter().find(|m| m.flags.contains('F')).unwrap();
    let keywords = fs::read_to_string(
        flagged
            .path
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("dovecot-keywords"),
    )
    .unwrap();
    assert!(keywords.contains("$Project"), "{keywords}");
    // Local only: never on the server, whatever later runs do.
    imapdir.sync_ok();
    imapdir.sync_ok();
    assert!(
        !client.list().iter().any(|f| f.starts_with("Kept")),
        "{:?}",
        client.list()
    );
    assert_eq!(client.fetch_all("INBOX").len(), 6);
    assert_eq!(
        maildir_messages(imapdir.maildir(), "Kept/From server").len(),
        4
    );
    // Deleting an archived copy deletes nothing anywhere else.
    fs::remove_file(&archived[1].path).unwrap();
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 6);
}

#[test]
fn archive_folder_set_later_takes_the_copies_kept_before() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..5);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("server_deletions = \"keep-local\"".into());
    imapdir.sync_ok();
    for m in &client.fetch_all("INBOX")[..2] {
        client.expunge_uid("INBOX", m.uid);
    }
    imapdir.sync_ok();
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 5);
    // Nothing changed since on either side: the kept copies move all the same.
    imapdir
        .account
        .extra
        .push("archive_folder = \"Archive/Gone\"".into());
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
    assert_eq!(maildir_messages(imapdir.maildir(), "Archive/Gone").len(), 2);
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 3);
    assert!(!client.list().iter().any(|f| f.contains("Gone")));
    let status = imapdir.run(&["status", "--offline"]);
    status.expect_success();
}

#[test]
fn archive_folder_needs_keep_local() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("archive_folder = \"Kept\"".into());
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("archive_folder needs server_deletions"),
        "{}",
        run.stderr
    );
}
