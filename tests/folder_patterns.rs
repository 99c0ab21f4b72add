//! The `folders` patterns against a real Dovecot: `*`, `%`, `!` and the
//! last match deciding, on both sides, with excluded folders left alone
//! (nothing downloaded, uploaded, created or deleted) and their state kept.

mod common;

use common::*;
use std::fs;

const PATTERNS: &str = r#"folders = ["*", "!Junk", "!Lists/%", "!Spam"]"#;

/// Server: INBOX, Archive, Junk, Lists/rust, Lists/rust/deep, one message
/// each. Local only: Spam and Notes, one message each.
fn setup() -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    for (i, folder) in ["INBOX", "Archive", "Junk", "Lists/rust", "Lists/rust/deep"]
        .iter()
        .enumerate()
    {
        if *folder != "INBOX" {
            client.create(folder);
        }
        client.append(folder, "", &generate_message(i, folder));
    }
    let mut imapdir = Imapdir::new(&dovecot);
    for (i, folder) in ["Spam", "Notes"].iter().enumerate() {
        write_local_message(
            imapdir.maildir(),
            folder,
            &format!("1700000000.M{i}P1.local"),
            &generate_message(10 + i, folder),
            None,
        );
    }
    imapdir.account.extra.push(PATTERNS.into());
    (dovecot, client, imapdir)
}

#[test]
fn excluded_folders_are_neither_downloaded_uploaded_nor_created() {
    let (_dovecot, mut client, imapdir) = setup();
    let server_before = client.list();

    let r = imapdir.sync_ok();

    let root = imapdir.maildir();
    for synced in ["INBOX", "Archive", "Lists/rust/deep"] {
        assert_eq!(
            maildir_messages(root, synced).len(),
            1,
            "{synced} is downloaded\n{}",
            r.all_output()
        );
    }
    assert!(!root.join("Junk").exists(), "Junk is not downloaded");
    assert!(
        !root.join("Lists/rust/cur").exists(),
        "Lists/rust (matched by !Lists/%) is not downloaded"
    );
    let server = client.list();
    assert!(server.contains(&"Notes".to_string()), "Notes is uploaded");
    assert_eq!(client.fetch_all("Notes").len(), 1);
    assert!(
        !server.contains(&"Spam".to_string()),
        "Spam is not created on the server: {server:?}"
    );
    assert_eq!(
        maildir_messages(root, "Spam").len(),
        1,
        "Spam is kept locally"
    );
    assert_eq!(server.len(), server_before.len() + 1, "only Notes is new");
    for excluded in ["Junk", "Lists/rust"] {
        assert_eq!(
            client.fetch_all(excluded).len(),
            1,
            "{excluded} is untouched"
        );
    }

    // `folders` names the pattern that left each one out.
    let out = imapdir.run(&["folders"]);
    out.expect_success();
    let junk = lines_mentioning(&out.stdout, "Junk");
    assert!(
        junk.iter()
            .any(|l| l.contains("excluded") && l.contains("!Junk")),
        "{}",
        out.stdout
    );
    let lists = lines_mentioning(&out.stdout, "Lists/rust\t");
    assert!(
        lists.iter().any(|l| l.contains("!Lists/%")),
        "{}",
        out.stdout
    );
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_folder_excluded_later_is_left_alone_and_keeps_its_state() {
    let (_dovecot, mut client, mut imapdir) = setup();
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();

    // Archive becomes excluded; changes on both sides stay where they are.
    imapdir.account.extra =
        vec![r#"folders = ["*", "!Junk", "!Lists/%", "!Spam", "!Archive"]"#.into()];
    let local = maildir_messages(&root, "Archive");
    fs::remove_file(&local[0].path).unwrap();
    client.append("Archive", "", &generate_message(20, "Archive"));
    let r = imapdir.sync_ok();
    assert_eq!(
        client.fetch_all("Archive").len(),
        2,
        "no deletion reaches the server\n{}",
        r.all_output()
    );
    assert!(
        maildir_messages(&root, "Archive").is_empty(),
        "nothing is downloaded"
    );
    assert!(
        !r.all_output().contains("gone from the server"),
        "{}",
        r.all_output()
    );

    // Included again: the state was kept, so the local deletion is a
    // deletion (not a message to download again) and the new one arrives.
    imapdir.account.extra = vec![PATTERNS.into()];
    let r = imapdir.sync_ok();
    let server = client.fetch_all("Archive");
    assert_eq!(server.len(), 1, "{}", r.all_output());
    assert_eq!(
        server[0].message_id(),
        message_id(&generate_message(20, "Archive"))
    );
    assert_eq!(maildir_messages(&root, "Archive").len(), 1);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn bad_patterns_are_config_errors_and_unmatched_ones_warnings() {
    let (_dovecot, _client, mut imapdir) = setup();
    imapdir.account.extra = vec![r#"folders = ["*", "!"]"#.into()];
    let r = imapdir.run(&["sync"]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("\"!\""), "{}", r.stderr);
    assert!(
        !imapdir.maildir().join("INBOX").exists(),
        "nothing was synced"
    );

    imapdir.account.extra = vec![r#"folders = ["*", "!Nowhere"]"#.into()];
    let r = imapdir.sync_ok();
    assert!(
        r.stderr.contains("\"!Nowhere\" matches no folder"),
        "{}",
        r.stderr
    );
}

#[test]
fn sync_folder_syncs_only_the_folders_it_names_within_the_accounts() {
    let (_dovecot, mut client, imapdir) = setup();

    let r = imapdir.run(&["sync", "--folder", "Archive", "--folder", "Lists/*"]);
    r.expect_success();
    let root = imapdir.maildir();
    assert_eq!(
        maildir_messages(root, "Archive").len(),
        1,
        "{}",
        r.all_output()
    );
    assert_eq!(maildir_messages(root, "Lists/rust/deep").len(), 1);
    assert!(!root.join("INBOX").exists(), "INBOX is not named");
    assert!(
        !root.join("Lists/rust/cur").exists(),
        "the account's !Lists/% holds"
    );
    assert!(
        !client.list().contains(&"Notes".to_string()),
        "Notes is not named, so not uploaded"
    );

    // The rest follows on a plain sync; what --folder synced is not redone.
    let r = imapdir.sync_ok();
    assert_eq!(
        maildir_messages(root, "INBOX").len(),
        1,
        "{}",
        r.all_output()
    );
    assert_eq!(maildir_messages(root, "Archive").len(), 1);
    assert_eq!(client.fetch_all("Notes").len(), 1);

    let r = imapdir.run(&["sync", "--folder", "!"]);
    assert_eq!(r.code, 2, "{}", r.all_output());
    assert!(r.stderr.contains("--folder"), "{}", r.stderr);
    assert_noop_sync(&imapdir, &mut client);
}
