//! One copy for many folders: a message the server holds in two folders
//! (a COPY, a Gmail label) and names the same in both (Dovecot's X-GUID
//! here) is one file on disk, hard-linked, with each folder's own flags.

mod common;

use common::*;
use std::fs;

fn downloads_of(commands: &[String]) -> Vec<&String> {
    commands
        .iter()
        .filter(|c| c.starts_with("UID FETCH") && c.contains("BODY.PEEK["))
        .collect()
}

/// Copies INBOX's first `n` messages into `folder` on the server and
/// flags the first copy there; returns their Message-IDs.
fn copy_on_the_server(client: &mut ImapClient, n: usize, folder: &str) -> Vec<String> {
    let inbox = client.fetch_all("INBOX");
    let copied: Vec<String> = inbox
        .iter()
        .take(n)
        .map(|m| m.message_id().unwrap())
        .collect();
    let uids: Vec<String> = inbox.iter().take(n).map(|m| m.uid.to_string()).collect();
    client.select("INBOX");
    client.command(&format!("UID COPY {} {folder}", uids.join(",")));
    let copies = client.fetch_all(folder);
    let first = copies
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&copied[0]))
        .unwrap();
    client.store(folder, first.uid, "+FLAGS", "\\Flagged");
    copied
}

#[test]
fn a_message_copied_on_the_server_is_one_file_linked_into_both_folders() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..6);
    seed_folder(&mut client, "Lists", 0..2);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();

    let copied = copy_on_the_server(&mut client, 3, "Lists");
    let run = imapdir.run(&["--trace-imap", "--json", "sync"]);
    run.expect_success();
    let commands = run.imap_commands();
    assert!(
        downloads_of(&commands).is_empty(),
        "nothing downloaded: {commands:#?}"
    );
    assert!(!commands.iter().any(|c| c.starts_with("APPEND")));
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let counts = &doc["accounts"][0]["counts"];
    assert_eq!(counts["linked"], 3, "{}", run.stdout);
    assert_eq!(counts["downloaded"], 0, "{}", run.stdout);

    let inbox = maildir_messages(imapdir.maildir(), "INBOX");
    let lists = maildir_messages(imapdir.maildir(), "Lists");
    assert_eq!(lists.len(), 5);
    for mid in &copied {
        let here = |msgs: &[LocalMsg]| {
            msgs.iter()
                .find(|m| m.message_id().as_ref() == Some(mid))
                .map(|m| (m.inode(), m.flags.clone()))
                .expect("in the folder")
        };
        let (inbox_inode, inbox_flags) = here(&inbox);
        let (lists_inode, lists_flags) = here(&lists);
        assert_eq!(inbox_inode, lists_inode, "one file for both folders: {mid}");
        if mid == &copied[0] {
            assert!(lists_flags.contains('F'), "the copy's own flags");
            assert!(!inbox_flags.contains('F'), "the original's own flags");
        }
    }
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);

    // Each name is a folder's own: deleting one leaves the other whole.
    let gone = inbox
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&copied[1]))
        .unwrap();
    fs::remove_file(&gone.path).unwrap();
    imapdir.sync_ok();
    let lists = maildir_messages(imapdir.maildir(), "Lists");
    let kept = lists
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&copied[1]))
        .expect("the other folder keeps its copy");
    assert!(
        String::from_utf8_lossy(&fs::read(&kept.path).unwrap()).contains(&copied[1]),
        "whole"
    );
    assert!(client
        .fetch_all("Lists")
        .iter()
        .any(|m| m.message_id().as_ref() == Some(&copied[1])));
    assert!(!client
        .fetch_all("INBOX")
        .iter()
        .any(|m| m.message_id().as_ref() == Some(&copied[1])));
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_copy_whose_original_file_is_gone_is_downloaded() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..4);
    seed_folder(&mut client, "Lists", 0..1);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();

    let copied = copy_on_the_server(&mut client, 1, "Lists");
    // The original leaves locally in the same run: no file to link.
    let original = maildir_messages(imapdir.maildir(), "INBOX")
        .into_iter()
        .find(|m| m.message_id().as_ref() == Some(&copied[0]))
        .unwrap();
    fs::remove_file(&original.path).unwrap();
    let run = imapdir.run(&["--trace-imap", "--json", "sync"]);
    run.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let counts = &doc["accounts"][0]["counts"];
    assert_eq!(counts["linked"], 0, "{}", run.stdout);
    assert_eq!(counts["downloaded"], 1, "{}", run.stdout);
    assert_eq!(downloads_of(&run.imap_commands()).len(), 1);
    let lists = maildir_messages(imapdir.maildir(), "Lists");
    let copy = lists
        .iter()
        .find(|m| m.message_id().as_ref() == Some(&copied[0]))
        .expect("downloaded");
    assert!(copy.flags.contains('F'));
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_placeholder_is_never_the_source_of_a_link() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let mut big = generate_message(0, "INBOX");
    big.extend(std::iter::repeat_n(b'x', 64 * 1024));
    big.extend_from_slice(b"\r\n");
    client.append("INBOX", "", &big);
    client.create("Lists");
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("max_message_size = \"32K\"".into());
    imapdir.sync_ok();

    copy_on_the_server(&mut client, 1, "Lists");
    let run = imapdir.run(&["--json", "sync"]);
    run.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["accounts"][0]["counts"]["linked"], 0, "{}", run.stdout);
    let inbox = maildir_messages(imapdir.maildir(), "INBOX");
    let lists = maildir_messages(imapdir.maildir(), "Lists");
    assert_eq!((inbox.len(), lists.len()), (1, 1));
    assert_ne!(inbox[0].inode(), lists[0].inode());
}
