//! Folder renames against real Dovecot, both ways, subfolders included:
//! each arrives with no message body transferred (the protocol trace holds
//! no FETCH of a body and no APPEND), every local file keeps its inode,
//! and the pairs carry on. A folder that only looks renamed (same
//! UIDVALIDITY, other messages) is not taken for one.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;

fn seeded() -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    seed_folder(&mut client, "Archive", 0..3);
    seed_folder(&mut client, "Archive/2023", 0..4);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    (dovecot, client, imapdir)
}

/// Runs a traced sync and returns the commands that carry a message body
/// either way.
fn body_transfers(imapdir: &Imapdir) -> (RunResult, Vec<String>) {
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    let transfers = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter(|l| {
            let upper = l.to_ascii_uppercase();
            upper.contains(" APPEND ")
                || (upper.contains(" FETCH ")
                    && upper.contains("BODY")
                    && !upper.contains("HEADER"))
        })
        .map(str::to_string)
        .collect();
    (run, transfers)
}

/// Message files (name without flags) with their inodes, per folder.
fn inodes(root: &std::path::Path, folder: &str) -> BTreeMap<String, u64> {
    maildir_messages(root, folder)
        .iter()
        .map(|m| (m.base_name().to_string(), m.inode()))
        .collect()
}

#[test]
fn a_folder_renamed_on_the_server_is_renamed_locally_without_transfer() {
    let (_dovecot, mut client, imapdir) = seeded();
    let root = imapdir.maildir().to_path_buf();
    let before = inodes(&root, "Archive");
    let nested_before = inodes(&root, "Archive/2023");
    client.command(r#"RENAME "Archive" "Old Archive""#);

    // `folders` says what the next sync will do, and does none of it.
    let out = imapdir.run(&["--json", "folders"]);
    out.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = doc["accounts"][0]["folders"].as_array().unwrap();
    let renamed = rows
        .iter()
        .find(|f| f["name"] == "Old Archive")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(renamed["action"], "rename_local", "{rows:?}");
    assert!(renamed["rename_from"]
        .as_str()
        .unwrap()
        .ends_with("/Archive"));
    assert!(root.join("Archive").exists());

    let (run, transfers) = body_transfers(&imapdir);
    assert!(transfers.is_empty(), "{transfers:?}");
    assert!(
        !run.stderr.contains("gone from the server"),
        "{}",
        run.stderr
    );
    assert!(!root.join("Archive").exists());
    assert_eq!(inodes(&root, "Old Archive"), before);
    assert_eq!(inodes(&root, "Old Archive/2023"), nested_before);
    assert_all_in_sync(&mut client, &root);

    // The pairs carry on: a flag set on the server reaches the same file.
    let uid = client.fetch_all("Old Archive/2023")[0].uid;
    client.store("Old Archive/2023", uid, "+FLAGS", "\\Flagged");
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, &root);
    assert_eq!(inodes(&root, "Old Archive/2023"), nested_before);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_folder_renamed_locally_is_renamed_on_the_server_without_transfer() {
    let (_dovecot, mut client, imapdir) = seeded();
    let root = imapdir.maildir().to_path_buf();
    let (validity, _) = client.select("Archive/2023");
    let uids: Vec<u32> = client
        .fetch_all("Archive/2023")
        .iter()
        .map(|m| m.uid)
        .collect();
    fs::rename(root.join("Archive"), root.join("Projects")).unwrap();

    let out = imapdir.run(&["folders"]);
    out.expect_success();
    assert!(
        lines_mentioning(&out.stdout, "Archive\t")
            .iter()
            .any(|l| l.contains("renames it on the server to Projects")),
        "{}",
        out.stdout
    );

    let (run, transfers) = body_transfers(&imapdir);
    assert!(transfers.is_empty(), "{transfers:?}\n{}", run.stderr);
    let names = client.list();
    assert!(
        names.contains(&"Projects".to_string()) && names.contains(&"Projects/2023".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.starts_with("Archive")), "{names:?}");
    // The same mailbox, renamed: UIDVALIDITY and UIDs kept.
    assert_eq!(client.select("Projects/2023").0, validity);
    let after: Vec<u32> = client
        .fetch_all("Projects/2023")
        .iter()
        .map(|m| m.uid)
        .collect();
    assert_eq!(after, uids);
    assert_all_in_sync(&mut client, &root);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_new_folder_that_only_looks_like_a_renamed_one_is_not_taken_for_it() {
    let (dovecot, mut client, imapdir) = seeded();
    let root = imapdir.maildir().to_path_buf();
    let (validity, _) = client.select("Archive/2023");
    client.select("INBOX");
    client.command(r#"DELETE "Archive/2023""#);
    seed_folder(&mut client, "Other", 10..14);
    dovecot.set_uidvalidity("Other", validity);
    assert_eq!(client.select("Other").0, validity);

    let run = imapdir.sync_ok();
    assert!(
        run.stderr.contains("gone from the server"),
        "{}",
        run.stderr
    );
    // Its local copy is kept as it was; Other is a folder of its own.
    assert_eq!(maildir_messages(&root, "Archive/2023").len(), 4);
    assert_folder_in_sync(
        &client.fetch_all("Other"),
        &maildir_messages(&root, "Other"),
        "Other",
    );
}

#[test]
fn a_rename_cut_short_on_either_side_is_finished_by_the_next_run() {
    // Renamed on the server, and the directory already moved: what a run
    // cut off between the two steps leaves, whichever side began.
    let (_dovecot, mut client, imapdir) = seeded();
    let root = imapdir.maildir().to_path_buf();
    let before = inodes(&root, "Archive/2023");
    client.command(r#"RENAME "Archive" "Projects""#);
    fs::rename(root.join("Archive"), root.join("Projects")).unwrap();

    let (run, transfers) = body_transfers(&imapdir);
    assert!(transfers.is_empty(), "{transfers:?}\n{}", run.stderr);
    assert_eq!(inodes(&root, "Projects/2023"), before);
    assert_all_in_sync(&mut client, &root);
    // The state knows the folders by their new names only.
    let status = imapdir.run(&["--json", "status", "--offline"]);
    status.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    let folders: Vec<&str> = doc["accounts"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["folder"].as_str().unwrap())
        .collect();
    assert_eq!(
        folders,
        vec!["INBOX", "Projects", "Projects/2023"],
        "{}",
        status.stdout
    );
    let uid = client.fetch_all("Projects")[0].uid;
    client.store("Projects", uid, "+FLAGS", "\\Answered");
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, &root);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_rename_that_changed_uidvalidity_is_recognised_by_content() {
    // Courier-IMAP gives a renamed folder a new UIDVALIDITY.
    let (dovecot, mut client, imapdir) = seeded();
    let root = imapdir.maildir().to_path_buf();
    let before = inodes(&root, "Archive/2023");
    client.select("INBOX");
    client.command(r#"RENAME "Archive/2023" "Y2023""#);
    let (validity, _) = client.select("Y2023");
    client.select("INBOX");
    dovecot.set_uidvalidity("Y2023", validity + 1000);

    let (run, transfers) = body_transfers(&imapdir);
    assert!(transfers.is_empty(), "{transfers:?}\n{}", run.stderr);
    assert!(!root.join("Archive/2023").exists());
    let after = inodes(&root, "Y2023");
    let mut kept: Vec<u64> = after.values().copied().collect();
    let mut was: Vec<u64> = before.values().copied().collect();
    kept.sort();
    was.sort();
    assert_eq!(
        kept, was,
        "the same files, renamed for their new UIDs at most"
    );
    assert_all_in_sync(&mut client, &root);
    assert_noop_sync(&imapdir, &mut client);
}
