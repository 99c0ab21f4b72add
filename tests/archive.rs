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
