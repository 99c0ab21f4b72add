//! Which folders and under which local names, against real Dovecot:
//! `subscribed_only`, `folder_names` and `special_use_names`, each both
//! ways, and the errors for a mapping that cannot work.

mod common;

use common::*;

fn append(client: &mut ImapClient, folder: &str, range: std::ops::Range<usize>) {
    if folder != "INBOX" && !client.list().iter().any(|f| f == folder) {
        client.create(folder);
    }
    for i in range {
        client.append(folder, "", &generate_message(i, folder));
    }
}

fn subscribed(client: &mut ImapClient) -> Vec<String> {
    let (lines, _) = client.command(r#"LSUB "" "*""#);
    let mut names: Vec<String> = lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .filter_map(|l| {
            l.rsplit(' ')
                .next()
                .map(|n| n.trim_matches('"').to_string())
        })
        .collect();
    names.sort();
    names
}

#[test]
fn subscribed_only_leaves_unsubscribed_folders_alone_on_both_sides() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append(&mut client, "INBOX", 0..1);
    append(&mut client, "Work", 0..2);
    append(&mut client, "Old", 0..1);
    client.command(r#"SUBSCRIBE "Work""#);

    let mut imapdir = Imapdir::new(&dovecot);
    let root = imapdir.maildir().to_path_buf();
    // A local Old with a message of its own: it must not be uploaded as
    // if Old were new, nor Old's server copy downloaded.
    write_local_message(
        &root,
        "Old",
        "1700000000.M1P1.local",
        &generate_message(20, "Old"),
        None,
    );
    write_local_message(
        &root,
        "Notes",
        "1700000000.M2P1.local",
        &generate_message(21, "Notes"),
        None,
    );
    imapdir.account.extra.push("subscribed_only = true".into());
    imapdir.sync_ok();

    assert_folder_in_sync(
        &client.fetch_all("Work"),
        &maildir_messages(&root, "Work"),
        "Work",
    );
    // INBOX is always synced, subscribed or not.
    assert_eq!(maildir_messages(&root, "INBOX").len(), 1);
    assert_eq!(client.fetch_all("Old").len(), 1, "server Old untouched");
    let local_old = maildir_messages(&root, "Old");
    assert_eq!(local_old.len(), 1, "local Old untouched");
    assert_eq!(
        local_old[0].message_id(),
        Some(generated_message_id(20, "Old"))
    );
    // A folder made locally is created and subscribed, so the next run
    // still syncs it.
    assert_eq!(client.fetch_all("Notes").len(), 1);
    assert_eq!(subscribed(&mut client), vec!["Notes", "Work"]);
    let out = imapdir.run(&["folders"]);
    out.expect_success();
    assert!(
        lines_mentioning(&out.stdout, "Old\t")
            .iter()
            .any(|l| l.contains("not subscribed")),
        "{}",
        out.stdout
    );
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn special_use_folders_get_plain_local_names_both_ways() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        special_use: vec![
            ("Sent Items", "\\Sent"),
            ("Deleted Items", "\\Trash"),
            ("Entw&APw-rfe", "\\Drafts"),
        ],
        ..DovecotOptions::default()
    });
    let mut client = dovecot.client();
    append(&mut client, "INBOX", 0..1);
    append(&mut client, "Sent Items", 0..2);
    append(&mut client, "Deleted Items", 0..1);
    // A plain Drafts exists too: the \Drafts folder keeps its own name.
    append(&mut client, "Drafts", 0..1);
    append(&mut client, "Entw&APw-rfe", 0..1);

    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("special_use_names = true".into());
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    assert_eq!(
        maildir_folders(&root).into_iter().collect::<Vec<_>>(),
        vec!["Drafts", "Entwürfe", "INBOX", "Sent", "Trash"]
    );
    assert_folder_in_sync(
        &client.fetch_all("Sent Items"),
        &maildir_messages(&root, "Sent"),
        "Sent Items",
    );

    // Filed locally in Sent: it reaches Sent Items, and no "Sent" appears.
    write_local_message(
        &root,
        "Sent",
        "1700000000.M3P1.local",
        &generate_message(30, "Sent"),
        None,
    );
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("Sent Items").len(), 3);
    assert!(!client.list().contains(&"Sent".to_string()));

    let out = imapdir.run(&["--json", "folders"]);
    out.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let folders = doc["accounts"][0]["folders"].as_array().unwrap();
    let sent = folders
        .iter()
        .find(|f| f["name"] == "Sent Items")
        .unwrap_or_else(|| panic!("{folders:?}"));
    assert_eq!(sent["special_use"], "\\Sent");
    assert!(sent["local_path"].as_str().unwrap().ends_with("/Sent"));
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn folder_names_map_server_folders_to_local_names_both_ways() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append(&mut client, "INBOX", 0..1);
    append(&mut client, "Old/Stuff", 0..2);

    let mut imapdir = Imapdir::new(&dovecot);
    let root = imapdir.maildir().to_path_buf();
    imapdir
        .account
        .extra
        .push("[accounts.test.folder_names]\n\"Old/Stuff\" = \"Archive/Old\"".into());
    imapdir.sync_ok();
    assert_folder_in_sync(
        &client.fetch_all("Old/Stuff"),
        &maildir_messages(&root, "Archive/Old"),
        "Old/Stuff",
    );
    assert!(!root.join("Old/Stuff").exists());

    write_local_message(
        &root,
        "Archive/Old",
        "1700000000.M4P1.local",
        &generate_message(40, "Archive/Old"),
        None,
    );
    // A local folder under the server name would be a second copy of it:
    // refused, not uploaded.
    write_local_message(
        &root,
        "Old/Stuff",
        "1700000000.M5P1.local",
        &generate_message(41, "Old/Stuff"),
        None,
    );
    let out = imapdir.sync_ok();
    assert!(
        out.stderr.contains("folder_names"),
        "the refusal names the key: {}",
        out.stderr
    );
    assert_eq!(client.fetch_all("Old/Stuff").len(), 3);
    assert!(!client.list().iter().any(|f| f.starts_with("Archive")));
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_mapping_that_cannot_work_is_a_config_error_and_changes_nothing() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append(&mut client, "INBOX", 0..1);
    let mut imapdir = Imapdir::new(&dovecot);
    for (table, words) in [
        (
            "\"A\" = \"Same\"\n\"B\" = \"Same\"",
            vec!["\"A\"", "\"B\"", "Same"],
        ),
        (
            "\"A\" = \"../outside\"",
            vec!["folder_names", "..", "outside"],
        ),
    ] {
        imapdir.account.extra = vec![format!("[accounts.test.folder_names]\n{table}")];
        let out = imapdir.run(&["sync"]);
        out.expect_code(2);
        for word in words {
            assert!(out.stderr.contains(word), "{word}: {}", out.stderr);
        }
        assert!(!imapdir.maildir().join("INBOX").exists());
    }
}
