//! `pre_sync_command` and `post_sync_command` against a real Dovecot: the
//! post hook records its environment in a file the test reads.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Writes the config with extra account keys appended (the account table
/// is the last one in the file) and runs imapdir with it.
fn run_with_keys(imapdir: &Imapdir, keys: &str, args: &[&str]) -> RunResult {
    let config = imapdir.write_config();
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(keys);
    fs::write(&config, text).unwrap();
    imapdir.run_with_written_config(args)
}

fn toml_string(s: &str) -> String {
    format!("'{s}'")
}

/// A post hook that appends its IMAPDIR_* variables to `file`, one run per block.
fn recording_post_hook(file: &Path) -> String {
    format!(
        "post_sync_command = {}\n",
        toml_string(&format!(
            "env | grep ^IMAPDIR_ | sort >> {f}; echo --- >> {f}",
            f = file.display()
        ))
    )
}

/// The environment of each post-hook run, oldest first.
fn hook_runs(file: &Path) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(file).unwrap_or_default();
    text.split("---\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn post_hook_gets_the_counts_of_the_sync() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    let imapdir = Imapdir::new(&dovecot);
    let record = imapdir.dir().join("post-hook.env");
    let pre_marker = imapdir.dir().join("pre-hook.ran");
    let keys = format!(
        "pre_sync_command = {}\n{}",
        toml_string(&format!(
            "echo \"$IMAPDIR_ACCOUNT\" >> {}",
            pre_marker.display()
        )),
        recording_post_hook(&record)
    );
    // A local message to upload alongside the three to download.
    write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1700000000.local1.host",
        &generate_message(100, "local"),
        Some("S"),
    );

    let result = run_with_keys(&imapdir, &keys, &["sync"]);
    result.expect_success();
    assert_eq!(fs::read_to_string(&pre_marker).unwrap(), "test\n");
    let runs = hook_runs(&record);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let env = &runs[0];
    assert_eq!(env["IMAPDIR_ACCOUNT"], "test");
    assert_eq!(env["IMAPDIR_NEW"], "3");
    assert_eq!(env["IMAPDIR_UPLOADED"], "1");
    assert_eq!(env["IMAPDIR_FLAGS"], "0");
    assert_eq!(env["IMAPDIR_DELETED"], "0");
    assert_eq!(env["IMAPDIR_FAILED_FOLDERS"], "0");
    assert_eq!(env["IMAPDIR_STATUS"], "ok");
    assert!(
        result.stdout.is_empty(),
        "hook output never on stdout: {}",
        result.stdout
    );

    // A flag change on the server and a deletion locally.
    let server = client.fetch_all("INBOX");
    client.store("INBOX", server[0].uid, "+FLAGS", "\\Flagged");
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let victim = local
        .iter()
        .find(|m| m.uid() != Some(server[0].uid))
        .unwrap();
    fs::remove_file(&victim.path).unwrap();

    run_with_keys(&imapdir, &keys, &["sync"]).expect_success();
    let runs = hook_runs(&record);
    assert_eq!(runs.len(), 2);
    let env = &runs[1];
    assert_eq!(env["IMAPDIR_NEW"], "0");
    assert_eq!(env["IMAPDIR_UPLOADED"], "0");
    assert_eq!(env["IMAPDIR_FLAGS"], "1");
    assert_eq!(env["IMAPDIR_DELETED"], "1");
    assert_eq!(env["IMAPDIR_STATUS"], "ok");

    // A dry run runs no hooks.
    run_with_keys(&imapdir, &keys, &["sync", "--dry-run"]).expect_success();
    assert_eq!(hook_runs(&record).len(), 2);
    assert_eq!(fs::read_to_string(&pre_marker).unwrap(), "test\ntest\n");
}

#[test]
fn failing_pre_hook_skips_the_account() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    let imapdir = Imapdir::new(&dovecot);
    let record = imapdir.dir().join("post-hook.env");
    let keys = format!(
        "pre_sync_command = 'echo disk not mounted >&2; exit 3'\n{}",
        recording_post_hook(&record)
    );

    let result = run_with_keys(&imapdir, &keys, &["sync"]);
    result.expect_code(1);
    assert!(
        result.stderr.contains("pre_sync_command failed")
            && result.stderr.contains("skipped")
            && result.stderr.contains("disk not mounted"),
        "clear error: {}",
        result.stderr
    );
    assert!(!imapdir.maildir().join("INBOX").exists(), "nothing synced");
    assert!(!imapdir.state_file().exists(), "not even the state opened");
    assert!(hook_runs(&record).is_empty(), "no post hook after a skip");
    assert_eq!(client.fetch_all("INBOX").len(), 2);
}

#[test]
fn post_hook_reports_partial_and_failed_syncs() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    seed_folder(&mut client, "Blocked", 0..2);
    let mut imapdir = Imapdir::new(&dovecot);
    let record = imapdir.dir().join("post-hook.env");
    let keys = recording_post_hook(&record);
    // A regular file where a folder's directory must go: that folder fails.
    fs::write(imapdir.maildir().join("Blocked"), "not a maildir\n").unwrap();

    run_with_keys(&imapdir, &keys, &["sync"]).expect_code(1);
    let env = &hook_runs(&record)[0];
    assert_eq!(env["IMAPDIR_STATUS"], "partial");
    assert_eq!(env["IMAPDIR_FAILED_FOLDERS"], "1");
    assert_eq!(env["IMAPDIR_NEW"], "2", "INBOX still synced");

    imapdir.account.password = "wrong".into();
    run_with_keys(&imapdir, &keys, &["sync"]).expect_code(3);
    let runs = hook_runs(&record);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1]["IMAPDIR_STATUS"], "failed");
    assert_eq!(runs[1]["IMAPDIR_NEW"], "0");
}

#[test]
fn failing_post_hook_is_a_warning() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..1);
    let imapdir = Imapdir::new(&dovecot);
    let result = run_with_keys(&imapdir, "post_sync_command = 'exit 5'\n", &["sync"]);
    result.expect_success();
    assert!(
        result.stderr.contains("post_sync_command failed"),
        "{}",
        result.stderr
    );
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 1);
}
