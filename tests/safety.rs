//! Nothing is deleted on a guess: a vanished Maildir or folder on one side
//! never empties the other side.

mod common;

use common::*;
use std::collections::BTreeMap;
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

/// Inodes of a folder's files by Message-ID: equal before and after a run
/// means no file of that folder was removed or rewritten.
fn inodes(imapdir: &Imapdir, folder: &str) -> BTreeMap<String, u64> {
    maildir_messages(imapdir.maildir(), folder)
        .iter()
        .map(|m| (m.message_id().unwrap(), m.inode()))
        .collect()
}

#[test]
fn server_emptying_a_folder_trips_the_guard_until_that_change_is_approved() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    let inbox_before = inodes(&imapdir, "INBOX");
    assert_eq!(inbox_before.len(), 10);
    for m in client.fetch_all("INBOX") {
        client.expunge_uid("INBOX", m.uid);
    }
    // Another folder changes too: it must still be synced.
    seed_folder(&mut client, "Archive/2023", 100..101);

    let result = imapdir.run(&["sync"]);
    result.expect_code(1);
    let complaint = lines_mentioning(&result.stderr, "imapdir approve");
    assert!(
        complaint.iter().any(|l| l.contains("INBOX")
            && l.contains("remove 10 of the 10 files of INBOX")
            && l.contains("holds 0 messages")),
        "the error names the folder, both sides' counts and the command: {}",
        result.stderr
    );
    assert_eq!(
        inodes(&imapdir, "INBOX"),
        inbox_before,
        "nothing deleted locally"
    );
    assert_eq!(
        maildir_messages(imapdir.maildir(), "Archive/2023").len(),
        11,
        "the other folders go on"
    );

    // Still refused on the next run: the guard is not a one-off warning.
    let again = imapdir.run(&["sync"]);
    again.expect_code(1);
    assert_eq!(inodes(&imapdir, "INBOX"), inbox_before);
    // `approve` alone lists what waits.
    let waiting = imapdir.run(&["approve", "test"]);
    waiting.expect_success();
    assert!(
        waiting.stdout.contains("INBOX: remove 10 of the 10 files"),
        "{}",
        waiting.stdout
    );

    let status = imapdir.run(&["status", "--offline"]);
    assert!(
        status
            .stdout
            .contains("waiting for approval: INBOX: remove 10 of the 10 files")
            && status.stdout.contains("imapdir approve test INBOX"),
        "{}",
        status.stdout
    );
    let approved = imapdir.run_suggested(&again.stderr);
    approved.expect_success();
    assert!(approved.stdout.contains("approved"), "{}", approved.stdout);
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 0);
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
    // Used up: nothing is left to approve.
    imapdir.run(&["approve", "test", "INBOX"]).expect_code(2);
}

#[test]
fn a_clean_up_on_the_webmail_needs_no_confirmation() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    // 8 of 10 deleted on the server: its own decision, files go here.
    for m in client.fetch_all("INBOX").iter().take(8) {
        client.expunge_uid("INBOX", m.uid);
    }
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 2);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn emptying_trash_on_either_side_needs_no_confirmation() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        special_use: vec![("Trash", "\\Trash"), ("Spam", "\\Junk")],
        ..DovecotOptions::default()
    });
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..1);
    seed_folder(&mut client, "Trash", 0..12);
    seed_folder(&mut client, "Spam", 100..112);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    for m in client.fetch_all("Trash") {
        client.expunge_uid("Trash", m.uid);
    }
    for m in maildir_messages(imapdir.maildir(), "Spam") {
        fs::remove_file(&m.path).unwrap();
    }
    imapdir.sync_ok();
    assert!(maildir_messages(imapdir.maildir(), "Trash").is_empty());
    assert!(client.fetch_all("Spam").is_empty());
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn most_local_files_removed_expunges_nothing_until_exactly_that_is_approved() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    let local = maildir_messages(imapdir.maildir(), "Archive/2023");
    for m in local.iter().take(8) {
        fs::remove_file(&m.path).unwrap();
    }
    let server_before = client.fetch_all("Archive/2023");
    assert_eq!(server_before.len(), 10);

    let result = imapdir.run(&["sync"]);
    result.expect_code(1);
    assert!(
        result
            .stderr
            .contains("delete 8 of the 10 messages of Archive/2023 on the server")
            && result.stderr.contains("holds 2 messages")
            && result
                .stderr
                .contains("`imapdir approve test Archive/2023`"),
        "{}",
        result.stderr
    );
    assert_eq!(
        client.fetch_all("Archive/2023"),
        server_before,
        "nothing expunged or flagged \\Deleted on the server"
    );
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 10);

    // A dry run reports the same refusal.
    let dry = imapdir.run(&["sync", "--dry-run"]);
    assert!(dry.stderr.contains("imapdir approve"), "{}", dry.stderr);

    // Approved, then one more file goes: that is another change, refused.
    imapdir.run_suggested(&result.stderr).expect_success();
    fs::remove_file(&local[8].path).unwrap();
    let other = imapdir.run(&["sync"]);
    other.expect_code(1);
    assert!(
        other.stderr.contains("delete 9 of the 10 messages"),
        "{}",
        other.stderr
    );
    assert_eq!(client.fetch_all("Archive/2023"), server_before);

    imapdir.run_suggested(&other.stderr).expect_success();
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Archive/2023").len(), 1);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn allow_mass_delete_with_folder_confirms_only_that_folder() {
    let (_dovecot, mut client, mut imapdir) = synced_standard(10);
    for folder in ["INBOX", "Archive/2023"] {
        for m in maildir_messages(imapdir.maildir(), folder).iter().take(8) {
            fs::remove_file(&m.path).unwrap();
        }
    }
    imapdir
        .run(&["sync", "--folder", "INBOX", "--allow-mass-delete"])
        .expect_success();
    assert_eq!(client.fetch_all("INBOX").len(), 2);
    assert_eq!(client.fetch_all("Archive/2023").len(), 10);
    imapdir.run(&["sync"]).expect_code(1);
    assert_eq!(client.fetch_all("Archive/2023").len(), 10);

    // The share is per account: raising it lets the run through.
    imapdir
        .account
        .extra
        .push("max_server_delete_share = 0.9".into());
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Archive/2023").len(), 2);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_few_deletions_pass_the_guard() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    // Five on the server, five locally, in different folders: at the limit
    // of "a few", so no guard.
    for m in client.fetch_all("INBOX").iter().take(5) {
        client.expunge_uid("INBOX", m.uid);
    }
    for m in maildir_messages(imapdir.maildir(), "Archive/2023")
        .iter()
        .take(5)
    {
        fs::remove_file(&m.path).unwrap();
    }
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Archive/2023").len(), 5);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 5);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_vanished_local_folder_stays_an_error_even_with_allow_mass_delete() {
    let (_dovecot, mut client, imapdir) = synced_standard(5);
    let server_before = client.snapshot();
    fs::remove_dir_all(imapdir.maildir().join("Archive/2023")).unwrap();

    let result = imapdir.run(&["sync", "--allow-mass-delete"]);
    result.expect_code(1);
    assert!(
        result.stderr.contains("Archive/2023") && result.stderr.contains("--allow-mass-delete"),
        "the error says the flag does not apply: {}",
        result.stderr
    );
    assert!(client.snapshot() == server_before, "server untouched");
}
