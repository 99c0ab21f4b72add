//! `imapdir status`: pending local changes counted offline, the last
//! sync's result, and the server quota online.

mod common;

use common::*;
use serde_json::Value;
use std::fs;

fn parse(result: &RunResult) -> Value {
    serde_json::from_str(&result.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", result.stdout, result.stderr))
}

#[test]
fn offline_status_counts_local_pending_changes() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..5);
    seed_folder(&mut client, "Work", 0..2);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();

    // Local changes: two new files, one flag change, one deletion in INBOX.
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 5);
    // The file to flag must not be flagged already (readdir order varies).
    let to_flag = local.iter().position(|m| !m.flags.contains('F')).unwrap();
    let to_delete = (0..local.len()).find(|&i| i != to_flag).unwrap();
    set_local_flags(&local[to_flag], &format!("{}F", local[to_flag].flags));
    fs::remove_file(&local[to_delete].path).unwrap();
    for i in 0..2 {
        write_local_message(
            imapdir.maildir(),
            "INBOX",
            &format!("1700000000.new{i}.host"),
            &generate_message(100 + i, "local"),
            None,
        );
    }

    // The server is gone: --offline needs none of it.
    drop(client);
    let mut dovecot = dovecot;
    dovecot.stop();

    let result = imapdir.run(&["status", "--offline"]);
    result.expect_success();
    let inbox_line = result
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("INBOX"))
        .unwrap_or_else(|| panic!("INBOX row: {}", result.stdout));
    let cols: Vec<&str> = inbox_line.split_whitespace().collect();
    // FOLDER SYNCED LOCAL NEW FLAGS DELETED
    assert_eq!(
        &cols[..6],
        &["INBOX", "5", "6", "2", "1", "1"],
        "{inbox_line}"
    );
    assert!(
        result.stdout.contains("2 new, 1 flag changes, 1 deletions"),
        "{}",
        result.stdout
    );

    let result = imapdir.run(&["status", "--offline", "--json"]);
    result.expect_success();
    let doc = parse(&result);
    assert_eq!(doc["command"], "status");
    assert_eq!(doc["offline"], true);
    let acc = &doc["accounts"][0];
    assert_eq!(acc["account"], "test");
    assert!(acc["last_run"].is_i64());
    assert!(acc["last_run_error"].is_null());
    assert!(acc["quota"].is_null());
    assert_eq!(acc["pending"]["new"], 2);
    assert_eq!(acc["pending"]["flags"], 1);
    assert_eq!(acc["pending"]["deleted"], 1);
    let folders = acc["folders"].as_array().unwrap();
    let inbox = &folders[0];
    assert_eq!(inbox["folder"], "INBOX");
    assert_eq!(inbox["synced"], 5);
    assert_eq!(inbox["local"], 6);
    assert_eq!(inbox["state"], "ok");
    assert!(inbox["last_sync"].is_i64());
    let work = folders.iter().find(|f| f["folder"] == "Work").unwrap();
    assert_eq!(work["pending"]["new"], 0);
    assert_eq!(work["pending"]["flags"], 0);
    assert_eq!(work["pending"]["deleted"], 0);
}

#[test]
fn status_shows_failed_folders_and_quota() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        quota: Some("100k".into()),
        ..Default::default()
    });
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    seed_folder(&mut client, "Blocked", 0..1);
    // Fill the quota past 90% with one big message.
    let mut big = generate_message(900, "INBOX");
    big.extend(std::iter::repeat_n(b'x', 90 * 1024));
    big.extend(b"\r\n");
    client.append("INBOX", "", &big);
    let imapdir = Imapdir::new(&dovecot);
    fs::write(imapdir.maildir().join("Blocked"), "not a maildir\n").unwrap();
    imapdir.run(&["sync"]).expect_code(1);

    let result = imapdir.run(&["status", "--json"]);
    result.expect_success();
    let doc = parse(&result);
    let acc = &doc["accounts"][0];
    let blocked = acc["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["folder"] == "Blocked")
        .unwrap_or_else(|| panic!("Blocked in {acc}"));
    assert_eq!(blocked["state"], "failed", "{blocked}");
    assert!(blocked["last_error"].as_str().unwrap().contains("Blocked"));
    let quota = acc["quota"].as_array().unwrap();
    let storage = quota
        .iter()
        .find(|q| q["resource"] == "STORAGE")
        .unwrap_or_else(|| panic!("STORAGE quota in {quota:?}"));
    assert_eq!(storage["limit"], 100);
    assert!(storage["usage"].as_u64().unwrap() >= 90, "{storage}");
    assert_eq!(storage["warning"], true);
    assert!(
        result.stderr.contains("quota storage is"),
        "{}",
        result.stderr
    );

    let result = imapdir.run(&["status"]);
    result.expect_success();
    assert!(
        result.stdout.contains("quota storage:"),
        "{}",
        result.stdout
    );
    assert!(
        result.stdout.contains("last attempt FAILED"),
        "{}",
        result.stdout
    );
}

/// Two files sharing one base name (a mail reader's copy keeps the name):
/// status counts what the sync then does, one file synced and one new.
#[test]
fn two_files_with_one_base_name_count_as_the_sync_treats_them() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let original = &local[0];
    // The copy, with other flags, in the other subdirectory.
    let inbox = imapdir.maildir().join("INBOX");
    let copy = if original.path.parent().unwrap().ends_with("cur") {
        inbox.join("new").join(original.base_name())
    } else {
        inbox
            .join("cur")
            .join(format!("{}:2,F", original.base_name()))
    };
    fs::copy(&original.path, &copy).unwrap();

    let status = parse(&imapdir.run(&["status", "--offline", "--json"]));
    let pending = &status["accounts"][0]["pending"];
    let sync = imapdir.run(&["sync", "--json"]);
    sync.expect_success();
    let counts = &parse(&sync)["accounts"][0]["counts"];
    assert_eq!(
        (pending["new"].clone(), pending["flags"].clone()),
        (counts["uploaded"].clone(), counts["flags_pushed"].clone()),
        "status said {pending}, the sync did {counts}"
    );
    assert_eq!(pending["new"], 1, "{pending}");
}
