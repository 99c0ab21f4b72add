//! `trash`: a message deleted locally is moved to the server's trash
//! folder instead of expunged (Gmail's only real delete).

mod common;

use common::*;
use std::fs;

/// Deletes two INBOX files locally; returns their Message-IDs.
fn delete_two(imapdir: &Imapdir) -> Vec<String> {
    maildir_messages(imapdir.maildir(), "INBOX")
        .iter()
        .take(2)
        .map(|m| {
            fs::remove_file(&m.path).unwrap();
            m.message_id().unwrap()
        })
        .collect()
}

fn ids(msgs: &[Msg]) -> Vec<String> {
    msgs.iter().filter_map(|m| m.message_id()).collect()
}

fn deleted_go_to(options: DovecotOptions, trash_key: &str, trash: &str) {
    let dovecot = Dovecot::start_with(options);
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..6);
    seed_folder(&mut client, trash, 100..101);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push(format!("trash = {trash_key:?}"));
    imapdir.sync_ok();
    let gone = delete_two(&imapdir);
    imapdir.sync_ok();
    let inbox = ids(&client.fetch_all("INBOX"));
    let in_trash = ids(&client.fetch_all(trash));
    for mid in &gone {
        assert!(!inbox.contains(mid), "{mid} left INBOX");
        assert!(in_trash.contains(mid), "{mid} is in {trash}: {in_trash:?}");
    }
    assert_eq!(inbox.len(), 4);
    // The trash's own deletions are expunges.
    for m in maildir_messages(imapdir.maildir(), trash) {
        fs::remove_file(&m.path).unwrap();
    }
    imapdir.sync_ok();
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_local_deletion_moves_the_message_to_the_named_trash() {
    deleted_go_to(DovecotOptions::default(), "Trash", "Trash");
}

#[test]
fn the_special_use_trash_takes_deletions_also_without_move() {
    deleted_go_to(
        DovecotOptions {
            special_use: vec![("Deleted Items", "\\Trash")],
            imap_capability: Some(CAPS_WITHOUT_MOVE.into()),
            ..DovecotOptions::default()
        },
        "special-use",
        "Deleted Items",
    );
}

#[test]
fn a_trash_the_account_does_not_sync_still_takes_deletions() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        special_use: vec![("Bin", "\\Trash")],
        ..DovecotOptions::default()
    });
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..6);
    seed_folder(&mut client, "Bin", 100..103);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("folders = [\"*\", \"!Bin\"]".into());
    imapdir.account.extra.push("trash = \"special-use\"".into());
    imapdir.sync_ok();
    assert!(
        !imapdir.maildir().join(".Bin").exists(),
        "the trash is not copied"
    );
    let gone = delete_two(&imapdir);
    let run = imapdir.sync_ok();
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let inbox = ids(&client.fetch_all("INBOX"));
    let in_trash = ids(&client.fetch_all("Bin"));
    for mid in &gone {
        assert!(!inbox.contains(mid), "{mid} left INBOX");
        assert!(in_trash.contains(mid), "{mid} is in Bin: {in_trash:?}");
    }
    assert_eq!(in_trash.len(), 5);
    assert!(!imapdir.maildir().join(".Bin").exists());
    imapdir.sync_ok();
    assert_eq!(ids(&client.fetch_all("Bin")).len(), 5);
}

#[test]
fn a_trash_the_server_lacks_deletes_nothing() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..6);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push("trash = \"Bin\"".into());
    imapdir.sync_ok();
    let before = client.fetch_all("INBOX");
    delete_two(&imapdir);
    let run = imapdir.run(&["sync"]);
    run.expect_code(1);
    assert!(run.stderr.contains("trash = \"Bin\""), "{}", run.stderr);
    assert_eq!(
        client.fetch_all("INBOX"),
        before,
        "nothing deleted or marked"
    );
}
