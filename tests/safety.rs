//! Nothing is deleted on a guess: a vanished Maildir or folder on one side
//! never empties the other side.

mod common;

use common::*;
use std::fs;

#[test]
fn missing_maildir_root_after_a_sync_deletes_nothing_on_the_server() {
    let (_dovecot, mut client, imapdir) = synced_standard(5);
    let server_before = client.snapshot();
    let moved = imapdir.dir().join("Mail.unmounted");
    fs::rename(imapdir.maildir(), &moved).unwrap();

    let result = imapdir.run(&["sync"]);
    assert!(
        result.code != 0 && result.code != 4,
        "a missing Maildir is an error, got {}\n{}",
        result.code,
        result.stderr
    );
    assert!(client.snapshot() == server_before, "server untouched");
    assert!(
        tree_listing(imapdir.maildir()).is_empty(),
        "no message written to a recreated Maildir"
    );

    // Mounted again: everything is still paired, nothing to do.
    if imapdir.maildir().exists() {
        fs::remove_dir_all(imapdir.maildir()).unwrap();
    }
    fs::rename(&moved, imapdir.maildir()).unwrap();
    assert_noop_sync(&imapdir, &mut client);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn synced_folder_removed_locally_fails_and_keeps_the_server_folder() {
    let (_dovecot, mut client, imapdir) = synced_standard(5);
    let server_before = client.snapshot();
    fs::remove_dir_all(imapdir.maildir().join("Archive/2023")).unwrap();

    let result = imapdir.run(&["sync"]);
    result.expect_code(1);
    assert!(
        result.stderr.contains("Archive/2023"),
        "the failing folder is named: {}",
        result.stderr
    );
    assert!(client.snapshot() == server_before, "server untouched");
    for folder in ["INBOX", "&AMk-t&AOk-"] {
        let local = maildir_messages(imapdir.maildir(), &local_folder(folder));
        assert_eq!(local.len(), 5, "{folder} still synced");
    }
}

#[test]
fn folder_deleted_on_server_keeps_its_local_copy() {
    let (_dovecot, mut client, imapdir) = synced_standard(5);
    let before = maildir_messages(imapdir.maildir(), "Archive/2023");
    assert_eq!(before.len(), 5);
    client.delete("Archive/2023");

    let result = imapdir.run(&["sync"]);
    assert!(
        result.code == 0 || result.code == 1,
        "reported, not fatal: {}\n{}",
        result.code,
        result.stderr
    );
    let after = maildir_messages(imapdir.maildir(), "Archive/2023");
    assert_eq!(
        after.iter().map(|m| &m.body).collect::<Vec<_>>(),
        before.iter().map(|m| &m.body).collect::<Vec<_>>(),
        "local copy kept"
    );
    let inbox = client.fetch_all("INBOX");
    assert_folder_in_sync(
        &inbox,
        &maildir_messages(imapdir.maildir(), "INBOX"),
        "INBOX",
    );
}
