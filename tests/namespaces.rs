//! Namespaces (RFC 2342) against real Dovecot: a personal namespace with
//! the prefix `INBOX.` and the separator `.` (as Cyrus and Courier-IMAP
//! have it) gives the same local tree as a server without a prefix; a
//! Maildir synced before namespaces were read keeps its folders where
//! they are; shared folders are synced only when asked for, under a
//! level of their own.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;

/// Folder names as people read them, and how many messages each holds.
const CORPUS: &[(&str, usize)] = &[
    ("INBOX", 3),
    ("Archive", 1),
    ("Archive/2023", 2),
    ("Sent", 2),
    ("Été", 1),
];

/// The server name of a corpus folder under a prefix and separator.
fn server_name(folder: &str, prefix: &str, separator: char) -> String {
    if folder == "INBOX" {
        return "INBOX".into();
    }
    let encoded = folder.replace("Été", "&AMk-t&AOk-");
    format!("{prefix}{}", encoded.replace('/', &separator.to_string()))
}

/// Seeds the corpus with the same messages (bodies keyed by the folder
/// name people read, not the server's spelling of it).
fn seed(client: &mut ImapClient, prefix: &str, separator: char) {
    for (folder, count) in CORPUS {
        let raw = server_name(folder, prefix, separator);
        if raw != "INBOX" {
            client.create(&raw);
        }
        for i in 0..*count {
            client.append(&raw, "\\Seen", &generate_message(i, folder));
        }
    }
}

/// Every local folder with its message bodies.
fn local_tree(root: &std::path::Path) -> BTreeMap<String, BTreeMap<Vec<u8>, usize>> {
    maildir_folders(root)
        .into_iter()
        .map(|folder| {
            let contents = local_contents(&maildir_messages(root, &folder));
            (folder, contents)
        })
        .collect()
}

fn cyrus_style() -> Dovecot {
    Dovecot::start_with(DovecotOptions {
        personal_namespace: Some(("INBOX.", '.')),
        ..DovecotOptions::default()
    })
}

#[test]
fn a_prefixed_personal_namespace_gives_the_same_local_tree_as_none() {
    let plain = Dovecot::start();
    seed(&mut plain.client(), "", '/');
    let plain_imapdir = Imapdir::new(&plain);
    plain_imapdir.sync_ok();

    let prefixed = cyrus_style();
    let mut client = prefixed.client();
    seed(&mut client, "INBOX.", '.');
    let imapdir = Imapdir::new(&prefixed);
    imapdir.sync_ok();

    let tree = local_tree(imapdir.maildir());
    assert_eq!(tree, local_tree(plain_imapdir.maildir()));
    let folders: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(
        folders,
        vec!["Archive", "Archive/2023", "INBOX", "Sent", "Été"]
    );

    // `folders` shows the name people read beside the server's.
    let out = imapdir.run(&["--json", "folders"]);
    out.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let listed = doc["accounts"][0]["folders"].as_array().unwrap();
    let archive = listed
        .iter()
        .find(|f| f["name"] == "INBOX.Archive.2023")
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!(archive["folder"], "Archive/2023");
    assert!(archive["local_path"]
        .as_str()
        .unwrap()
        .ends_with("/Archive/2023"));

    // A folder made locally is created under the prefix.
    write_local_message(
        imapdir.maildir(),
        "Projects/Plans",
        "1700000000.M1P1.local",
        &generate_message(50, "Projects/Plans"),
        None,
    );
    let out = imapdir.sync_ok();
    let names = client.list();
    assert!(
        names.contains(&"INBOX.Projects.Plans".to_string()),
        "{names:?} {}",
        out.all_output()
    );
    assert!(
        !names.iter().any(|n| n.contains("INBOX.INBOX")),
        "{names:?}"
    );
    assert_eq!(client.fetch_all("INBOX.Projects.Plans").len(), 1);
    for (folder, _) in CORPUS {
        let raw = server_name(folder, "INBOX.", '.');
        let local = maildir_messages(imapdir.maildir(), folder);
        assert_folder_in_sync(&client.fetch_all(&raw), &local, folder);
    }
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_maildir_synced_with_the_prefix_as_a_level_keeps_it() {
    let prefixed = cyrus_style();
    let mut client = prefixed.client();
    seed(&mut client, "INBOX.", '.');
    let imapdir = Imapdir::new(&prefixed);
    imapdir.sync_ok();

    // What an imapdir that did not read namespaces left: the prefix as a
    // local level, and a state without local names.
    let root = imapdir.maildir();
    fs::rename(root.join("Archive"), root.join("INBOX/Archive")).unwrap();
    fs::rename(root.join("Sent"), root.join("INBOX/Sent")).unwrap();
    fs::rename(root.join("Été"), root.join("INBOX/Été")).unwrap();
    let db = rusqlite::Connection::open(imapdir.state_file()).unwrap();
    db.execute("UPDATE folders SET local_name = NULL", [])
        .unwrap();
    drop(db);

    let server_before = client.snapshot();
    let local_before = tree_listing(root);
    imapdir.sync_ok();
    assert!(
        client.snapshot() == server_before,
        "nothing uploaded, created or deleted on the server"
    );
    assert_eq!(tree_listing(root), local_before, "nothing moved locally");
    let names = client.list();
    assert!(
        !names.iter().any(|n| n.contains("INBOX.INBOX")),
        "{names:?}"
    );

    // Recorded now: a new message on the server lands in the old place.
    client.append(
        "INBOX.Archive.2023",
        "",
        &generate_message(60, "Archive/2023"),
    );
    imapdir.sync_ok();
    assert_eq!(maildir_messages(root, "INBOX/Archive/2023").len(), 3);
    assert!(!root.join("Archive").exists());
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn shared_folders_are_synced_only_when_asked_for_under_their_own_level() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        public_namespace: true,
        ..DovecotOptions::default()
    });
    let mut client = dovecot.client();
    client.create("Public/News");
    for i in 0..2 {
        client.append("Public/News", "", &generate_message(i, "Public/News"));
    }
    client.append("INBOX", "", &generate_message(0, "INBOX"));

    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    assert_eq!(
        maildir_folders(&root).into_iter().collect::<Vec<_>>(),
        vec!["INBOX".to_string()],
        "shared folders are opt-in"
    );
    let out = imapdir.run(&["folders"]);
    out.expect_success();
    let news = lines_mentioning(&out.stdout, "Public/News");
    assert!(
        news.iter().any(|l| l.contains("shared namespace")),
        "{}",
        out.stdout
    );

    imapdir
        .account
        .extra
        .push(r#"namespaces = ["personal", "shared"]"#.into());
    imapdir.sync_ok();
    let local = maildir_messages(&root, "Shared/News");
    assert_folder_in_sync(&client.fetch_all("Public/News"), &local, "Public/News");
    assert_eq!(local.len(), 2);

    // Both ways: a message filed locally reaches the shared folder.
    write_local_message(
        &root,
        "Shared/News",
        "1700000000.M2P1.local",
        &generate_message(9, "Shared/News"),
        None,
    );
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Public/News").len(), 3);
    assert_noop_sync(&imapdir, &mut client);

    // A level that names another's folder stays a config error.
    imapdir
        .account
        .extra
        .push(r#"shared_folders_level = "../x""#.into());
    let out = imapdir.run(&["sync"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("shared_folders_level"),
        "{}",
        out.stderr
    );
}
