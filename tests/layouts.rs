//! Maildir layouts against real Dovecot: `maildir++` read back by a second
//! Dovecot as its own mail (a real reader of that layout), `flat` both
//! ways, and a change of layout refused until `imapdir relayout` moves the
//! tree, without a message transferred.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Per folder (as the server names it), how many messages it holds.
fn counts(client: &mut ImapClient) -> BTreeMap<String, u32> {
    client
        .list()
        .into_iter()
        .map(|name| {
            let (_, exists) = client.select(&name);
            (name, exists)
        })
        .collect()
}

/// A second Dovecot that reads a copy of `tree` as its own Maildir++ mail.
fn read_as_maildir_plus_plus(tree: &Path) -> BTreeMap<String, u32> {
    let reader = Dovecot::start_with(DovecotOptions {
        maildir_plus_plus: true,
        ..DovecotOptions::default()
    });
    reader.load_mail(tree);
    counts(&mut reader.client())
}

/// Every message file's base name with its inode: a relayout moves
/// directories, so each file keeps its inode whatever its new path.
fn inodes_by_base(root: &Path) -> BTreeMap<String, u64> {
    tree_listing(root)
        .into_iter()
        .filter(|(path, _)| {
            path.contains("/cur/")
                || path.contains("/new/")
                || path.starts_with("cur/")
                || path.starts_with("new/")
        })
        .map(|(path, inode)| {
            let file = path.rsplit('/').next().unwrap();
            (file.split(':').next().unwrap().to_string(), inode)
        })
        .collect()
}

#[test]
fn a_maildir_plus_plus_tree_is_what_dovecot_reads_as_its_own() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 3);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push(r#"layout = "maildir++""#.into());
    imapdir.sync_ok();

    let root = imapdir.maildir().to_path_buf();
    assert!(root.join("cur").is_dir(), "INBOX is the root");
    for dir in [".Archive", ".Archive.2023", ".&AMk-t&AOk-"] {
        assert!(root.join(dir).join("cur").is_dir(), "{dir}");
    }
    assert!(!root.join("INBOX").exists() && !root.join("Archive").exists());
    assert_eq!(read_as_maildir_plus_plus(&root), counts(&mut client));

    // Both ways: a folder made in the tree as Dovecot would make it.
    write_local_message(
        &root,
        ".Projects.Plans",
        "1700000000.M1P1.local",
        &generate_message(70, "Projects/Plans"),
        None,
    );
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Projects/Plans").len(), 1);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_flat_tree_uses_the_separator_both_ways() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 2);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push(r#"layout = "flat""#.into());
    imapdir.account.extra.push(r#"flatten = "_""#.into());
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    assert_eq!(
        maildir_folders(&root).into_iter().collect::<Vec<_>>(),
        vec!["Archive", "Archive_2023", "INBOX", "Été"]
    );
    assert_folder_in_sync(
        &client.fetch_all("Archive/2023"),
        &maildir_messages(&root, "Archive_2023"),
        "Archive/2023",
    );
    write_local_message(
        &root,
        "Projects_Plans",
        "1700000000.M1P1.local",
        &generate_message(71, "Projects/Plans"),
        None,
    );
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Projects/Plans").len(), 1);
    assert_noop_sync(&imapdir, &mut client);

    imapdir.account.extra.push(r#"flatten = "//""#.into());
    let out = imapdir.run(&["sync"]);
    out.expect_code(2);
    assert!(out.stderr.contains("flatten"), "{}", out.stderr);
}

#[test]
fn a_layout_change_is_refused_until_relayout_moves_the_tree_without_transfer() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 3);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    let server_before = client.snapshot();
    let files_before = tree_listing(&root);
    let inodes_before = inodes_by_base(&root);

    imapdir.account.extra.push(r#"layout = "maildir++""#.into());
    let out = imapdir.run(&["sync"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains(r#"layout = "verbatim""#)
            && out.stderr.contains("imapdir relayout test"),
        "{}",
        out.stderr
    );
    let dry = imapdir.run(&["relayout", "test", "--dry-run"]);
    dry.expect_success();
    assert!(dry.stdout.contains("would move"), "{}", dry.stdout);
    assert_eq!(tree_listing(&root), files_before, "refusals change nothing");

    imapdir.run(&["relayout", "test"]).expect_success();
    assert!(root.join("cur").is_dir() && root.join(".Archive.2023/cur").is_dir());
    assert!(!root.join("INBOX").exists() && !root.join("Archive").exists());
    assert_eq!(inodes_by_base(&root), inodes_before, "every file kept");

    let out = imapdir.sync_ok();
    assert!(
        client.snapshot() == server_before,
        "nothing transferred: {}",
        out.all_output()
    );
    assert_eq!(inodes_by_base(&root), inodes_before);
    assert_eq!(read_as_maildir_plus_plus(&root), counts(&mut client));

    // And back, to nested directories.
    imapdir.account.extra.pop();
    imapdir.run(&["relayout", "test"]).expect_success();
    assert_eq!(
        tree_listing(&root).keys().collect::<Vec<_>>(),
        files_before.keys().collect::<Vec<_>>()
    );
    assert_noop_sync(&imapdir, &mut client);
    assert!(client.snapshot() == server_before);
}
