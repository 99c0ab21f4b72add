//! `--json` on sync, folders and check: stdout is exactly one JSON
//! document matching docs/json.md; logs stay on stderr.

mod common;

use common::*;
use serde_json::Value;
use std::fs;

/// Parses the whole of stdout as one JSON document.
fn parse(result: &RunResult) -> Value {
    serde_json::from_str(&result.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\n--- stderr\n{}",
            result.stdout, result.stderr
        )
    })
}

fn counts_keys(v: &Value) {
    for key in [
        "downloaded",
        "uploaded",
        "flags_pulled",
        "flags_pushed",
        "deleted_local",
        "deleted_remote",
        "folders_created",
    ] {
        assert!(v[key].is_u64(), "counts.{key} in {v}");
    }
}

#[test]
fn sync_json_has_per_folder_results_and_errors() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    seed_folder(&mut client, "Blocked", 0..2);
    let imapdir = Imapdir::new(&dovecot);
    fs::write(imapdir.maildir().join("Blocked"), "not a maildir\n").unwrap();

    // -v makes the summary and per-folder lines chatty: they must not reach stdout.
    let result = imapdir.run(&["--json", "-v", "sync"]);
    result.expect_code(1);
    let doc = parse(&result);
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "sync");
    assert_eq!(doc["dry_run"], false);
    assert_eq!(doc["exit_code"], 1);
    let accounts = doc["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    let acc = &accounts[0];
    assert_eq!(acc["account"], "test");
    assert_eq!(acc["status"], "partial");
    assert!(acc["error"].is_null());
    counts_keys(&acc["counts"]);
    assert_eq!(acc["counts"]["downloaded"], 3);
    let folders = acc["folders"].as_array().unwrap();
    let inbox = folders.iter().find(|f| f["folder"] == "INBOX").unwrap();
    assert_eq!(inbox["status"], "ok");
    assert!(inbox["error"].is_null());
    assert_eq!(inbox["counts"]["downloaded"], 3);
    counts_keys(&inbox["counts"]);
    let blocked = folders.iter().find(|f| f["folder"] == "Blocked").unwrap();
    assert_eq!(blocked["status"], "failed");
    assert!(
        blocked["error"].as_str().unwrap().contains("Blocked"),
        "{blocked}"
    );
    assert!(result.stderr.contains("Blocked"), "errors still logged");
    assert!(
        result.stderr.contains("3 down"),
        "-v summary on stderr: {}",
        result.stderr
    );

    // A dry run: the plan goes to stderr, the document to stdout.
    client.append("INBOX", "", &generate_message(50, "INBOX"));
    let result = imapdir.run(&["--json", "sync", "--dry-run"]);
    let doc = parse(&result);
    assert_eq!(doc["exit_code"], result.code);
    assert_eq!(doc["dry_run"], true);
    let inbox = doc["accounts"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["folder"] == "INBOX")
        .unwrap();
    assert_eq!(inbox["counts"]["downloaded"], 1, "{doc}");
    assert!(result.stderr.contains("INBOX"), "{}", result.stderr);
}

#[test]
fn account_failures_are_in_the_document() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.password = "wrong".into();
    let result = imapdir.run(&["--json", "sync"]);
    result.expect_code(3);
    let doc = parse(&result);
    assert_eq!(doc["exit_code"], 3);
    let acc = &doc["accounts"][0];
    assert_eq!(acc["status"], "failed");
    assert!(
        acc["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("login")
            || acc["error"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("authentication")
    );
    assert_eq!(acc["folders"].as_array().unwrap().len(), 0);

    let result = imapdir.run(&["check", "--json"]);
    result.expect_code(3);
    let doc = parse(&result);
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["accounts"][0]["ok"], false);
    assert!(doc["accounts"][0]["error"].is_string());

    // A config error before any command could run.
    let missing = imapdir.dir().join("missing.toml");
    let result = imapdir.run_with_config_path(&missing, &["--json", "folders"]);
    result.expect_code(2);
    let doc = parse(&result);
    assert_eq!(doc["command"], "folders");
    assert_eq!(doc["exit_code"], 2);
    assert!(doc["error"].as_str().unwrap().contains("missing.toml"));
}

#[test]
fn folders_and_check_json() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..1);
    seed_folder(&mut client, "Archive/2023", 0..1);
    let imapdir = Imapdir::new(&dovecot);

    let result = imapdir.run(&["--json", "folders"]);
    result.expect_success();
    let doc = parse(&result);
    assert_eq!(doc["command"], "folders");
    assert_eq!(doc["exit_code"], 0);
    let acc = &doc["accounts"][0];
    assert_eq!(acc["account"], "test");
    assert!(acc["error"].is_null());
    let folders = acc["folders"].as_array().unwrap();
    let nested = folders
        .iter()
        .find(|f| f["name"] == "Archive/2023")
        .unwrap_or_else(|| panic!("Archive/2023 in {folders:?}"));
    assert_eq!(nested["synced"], true);
    assert_eq!(nested["delimiter"], "/");
    assert!(nested["reason"].is_null());
    assert_eq!(
        nested["local_path"],
        imapdir
            .maildir()
            .join("Archive/2023")
            .display()
            .to_string()
            .as_str()
    );

    let result = imapdir.run(&["--json", "check"]);
    result.expect_success();
    let doc = parse(&result);
    let acc = &doc["accounts"][0];
    assert_eq!(acc["ok"], true);
    assert_eq!(acc["tls"], "tls");
    assert_eq!(acc["port"], dovecot.imaps_port());
    let caps: Vec<&str> = acc["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(caps.contains(&"IMAP4rev1"), "{caps:?}");
}
