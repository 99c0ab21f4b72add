//! Several accounts in one `sync`: run at once (`accounts_at_once`), under
//! one per-host connection cap (`max_connections`), each failing alone.

mod common;

use common::proxy::FaultProxy;
use common::*;

/// Accounts "test", "second" and "third" on one server through a proxy
/// that counts the connections open at once.
fn three_accounts(folders: usize) -> (Dovecot, ImapClient, FaultProxy, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    for f in 1..folders {
        seed_folder(&mut client, &format!("F{f}"), 0..3);
    }
    let proxy = FaultProxy::start(dovecot.imap_port());
    let mut imapdir = Imapdir::with_jobs(&dovecot, 4);
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.port = proxy.port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    imapdir.account.ca_file = None;
    imapdir.add_account("second");
    imapdir.add_account("third");
    (dovecot, client, proxy, imapdir)
}

fn maildirs(imapdir: &Imapdir) -> Vec<std::path::PathBuf> {
    std::iter::once(imapdir.maildir().to_path_buf())
        .chain(imapdir.more_accounts.iter().map(|a| a.maildir.clone()))
        .collect()
}

#[test]
fn accounts_on_one_host_share_its_connection_cap() {
    let (_dovecot, mut client, proxy, mut imapdir) = three_accounts(8);
    imapdir.top_level.push("accounts_at_once = 3".into());
    for a in std::iter::once(&mut imapdir.account).chain(imapdir.more_accounts.iter_mut()) {
        a.extra.push("max_connections = 1".into());
    }
    // Three accounts of four workers each would open up to twelve.
    imapdir.sync_ok();
    assert_eq!(proxy.peak_connections(), 1, "connections open at once");
    for maildir in maildirs(&imapdir) {
        assert_all_in_sync(&mut client, &maildir);
    }
    // The cap holds for the changes that follow too.
    seed_folder(&mut client, "F3", 10..12);
    imapdir.sync_ok();
    assert_eq!(proxy.peak_connections(), 1);
    for maildir in maildirs(&imapdir) {
        assert_eq!(maildir_messages(&maildir, "F3").len(), 5);
    }
}

#[test]
fn one_failing_account_never_stops_the_others() {
    let (_dovecot, mut client, _proxy, mut imapdir) = three_accounts(3);
    imapdir.top_level.push("accounts_at_once = 2".into());
    // The second logs in with a password the server refuses.
    imapdir.more_accounts[0].password_command = Some("echo wrong".into());
    let result = imapdir.run(&["--json", "sync"]);
    result.expect_code(3);
    assert!(
        result.stderr.contains("second") && !result.stderr.contains("third:"),
        "{}",
        result.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    let accounts = doc["accounts"].as_array().unwrap();
    let names: Vec<&str> = accounts
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["second", "test", "third"],
        "in the order of their names"
    );
    assert_eq!(accounts[0]["status"], "failed");
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_all_in_sync(&mut client, &imapdir.more_accounts[1].maildir);
}
