//! `propagate_folder_deletes` against real Dovecot, in each mode: a folder
//! deleted on one side is deleted on the other only when nothing there is
//! unsynced, a local folder goes to the trash with its messages, INBOX
//! never goes, and a run that would delete many folders deletes none.

mod common;

use common::*;
use std::fs;

fn seeded(mode: &str) -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    for folder in ["Old", "Older", "Projects", "Projects/2023", "Keep"] {
        seed_folder(&mut client, folder, 0..2);
    }
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push(format!("propagate_folder_deletes = {mode:?}"));
    imapdir.sync_ok();
    (dovecot, client, imapdir)
}

fn trash_entries(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join(".imapdir-trash"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn by_default_a_deleted_folder_is_kept_on_the_other_side() {
    let (_dovecot, mut client, imapdir) = seeded("none");
    let root = imapdir.maildir().to_path_buf();
    client.select("INBOX");
    client.command(r#"DELETE "Old""#);
    fs::remove_dir_all(root.join("Older")).unwrap();
    let out = imapdir.run(&["sync"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("gone from the server"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("missing but was synced before"),
        "{}",
        out.stderr
    );
    assert_eq!(maildir_messages(&root, "Old").len(), 2);
    assert_eq!(client.fetch_all("Older").len(), 2);
}

#[test]
fn to_server_deletes_a_clean_folder_and_keeps_one_that_changed() {
    let (_dovecot, mut client, imapdir) = seeded("to-server");
    let root = imapdir.maildir().to_path_buf();
    fs::remove_dir_all(root.join("Old")).unwrap();
    fs::remove_dir_all(root.join("Older")).unwrap();
    // Older changed on the server since: a new message.
    client.append("Older", "", &generate_message(9, "Older"));

    let shown = imapdir.run(&["--json", "folders"]);
    shown.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    let rows = doc["accounts"][0]["folders"].as_array().unwrap();
    let row = |name: &str| rows.iter().find(|f| f["name"] == name).unwrap().clone();
    assert_eq!(row("Old")["action"], "delete_on_server", "{rows:?}");
    assert!(row("Older")["action"].is_null());
    assert!(row("Older")["note"]
        .as_str()
        .unwrap()
        .contains("not deleted"));
    assert_eq!(client.fetch_all("Old").len(), 2, "folders changes nothing");

    let out = imapdir.run(&["sync"]);
    out.expect_code(1);
    let names = client.list();
    assert!(!names.contains(&"Old".to_string()), "{names:?}");
    assert!(names.contains(&"Older".to_string()), "kept: {names:?}");
    assert_eq!(client.fetch_all("Older").len(), 3);
    assert!(
        out.stderr
            .contains("not deleted on the server: 1 messages not synced yet"),
        "{}",
        out.stderr
    );
    // The next run does not bring Old back, and still refuses Older.
    let again = imapdir.run(&["sync"]);
    again.expect_code(1);
    assert!(!root.join("Old").exists());
    assert!(!client.list().contains(&"Old".to_string()));
}

#[test]
fn to_local_moves_a_clean_folder_to_the_trash_and_keeps_one_that_changed() {
    let (_dovecot, mut client, imapdir) = seeded("to-local");
    let root = imapdir.maildir().to_path_buf();
    client.select("INBOX");
    client.command(r#"DELETE "Old""#);
    client.command(r#"DELETE "Older""#);
    client.command(r#"DELETE "Projects""#);
    // A message filed locally in Older since the last sync.
    write_local_message(
        &root,
        "Older",
        "1700000000.M9P1.local",
        &generate_message(30, "Older"),
        None,
    );

    let out = imapdir.sync_ok();
    assert!(!root.join("Old").exists());
    let trash = trash_entries(&root);
    assert_eq!(trash.len(), 2, "{trash:?}");
    assert!(trash.iter().any(|t| t.ends_with("-Old")), "{trash:?}");
    let entry = root
        .join(".imapdir-trash")
        .join(trash.iter().find(|t| t.ends_with("-Old")).unwrap());
    assert_eq!(
        fs::read_dir(entry.join("cur")).unwrap().count()
            + fs::read_dir(entry.join("new")).unwrap().count(),
        2
    );
    // Projects goes, its child (still on the server) stays.
    assert!(root.join("Projects/2023/cur").is_dir());
    assert!(!root.join("Projects/cur").exists());
    assert_eq!(maildir_messages(&root, "Projects/2023").len(), 2);
    assert_eq!(maildir_messages(&root, "Older").len(), 3);
    assert!(
        out.stderr.contains("1 messages not synced yet"),
        "{}",
        out.stderr
    );
    // The trash is not a folder: nothing of it reaches the server.
    let names = client.list();
    assert!(!names.iter().any(|n| n.contains("trash")), "{names:?}");
    assert!(!names.contains(&"Old".to_string()));
    imapdir.sync_ok();
    assert!(!client.list().contains(&"Old".to_string()));
}

#[test]
fn many_folder_deletions_in_one_run_delete_none_until_approved() {
    let (_dovecot, mut client, imapdir) = seeded("both");
    let root = imapdir.maildir().to_path_buf();
    for folder in ["Old", "Older", "Keep"] {
        fs::remove_dir_all(root.join(folder)).unwrap();
    }
    let out = imapdir.run(&["sync"]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("refusing to delete 3 of")
            && out.stderr.contains("`imapdir approve test Keep Old Older`"),
        "{}",
        out.stderr
    );
    for folder in ["Old", "Older", "Keep"] {
        assert_eq!(client.fetch_all(folder).len(), 2, "{folder} kept");
    }
    imapdir.run_suggested(&out.stderr).expect_success();
    imapdir.sync_ok();
    let names = client.list();
    for folder in ["Old", "Older", "Keep"] {
        assert!(!names.contains(&folder.to_string()), "{names:?}");
    }
    assert!(names.contains(&"INBOX".to_string()));
    // Used up with the folders.
    let waiting = imapdir.run(&["approve", "test"]);
    assert!(
        waiting.stdout.contains("no change is waiting"),
        "{}",
        waiting.stdout
    );

    // INBOX is never deleted, whatever the mode.
    fs::remove_dir_all(root.join("INBOX")).unwrap();
    imapdir.run(&["sync", "--allow-mass-delete"]);
    assert_eq!(client.fetch_all("INBOX").len(), 2);
}
