//! A server that says "not now": a connection limit, or a request to stop
//! (Gmail's `[UNAVAILABLE]`, `[THROTTLED]`). The run makes what progress
//! it can, says so in one line, and the next run resumes without redoing
//! work.

mod common;

use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;

fn seeded(options: DovecotOptions, folders: usize, per_folder: usize) -> (Dovecot, ImapClient) {
    let dovecot = Dovecot::start_with(options);
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..per_folder);
    for f in 1..folders {
        seed_folder(&mut client, &format!("F{f}"), 0..per_folder);
    }
    (dovecot, client)
}

#[test]
fn a_server_allowing_fewer_connections_than_jobs_is_synced_on_those() {
    let (dovecot, client) = seeded(
        DovecotOptions {
            max_userip_connections: Some(2),
            ..DovecotOptions::default()
        },
        8,
        3,
    );
    // The test's own client holds one of the two.
    drop(client);
    let imapdir = Imapdir::with_jobs(&dovecot, 4);
    let result = imapdir.run(&["-v", "sync"]);
    result.expect_success();
    assert!(
        result.stderr.contains("refused") && result.stderr.contains("further connections"),
        "said once: {}",
        result.stderr
    );
    assert!(!result.stderr.contains("error"), "{}", result.stderr);
    let mut client = dovecot.client();
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn a_server_asking_to_stop_ends_the_run_in_one_line_and_the_next_resumes() {
    let (dovecot, mut client) = seeded(DovecotOptions::default(), 6, 4);
    let proxy = FaultProxy::start(dovecot.imap_port());
    let mut imapdir = Imapdir::with_jobs(&dovecot, 1);
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.port = proxy.port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    imapdir.account.ca_file = None;
    // The first download is refused the way Gmail does.
    proxy.arm(Fault::new(
        Dir::ClientToServer,
        "UID FETCH",
        0,
        Action::ByeWith("[UNAVAILABLE] Temporary System Problem"),
    ));

    let first = imapdir.run(&["--json", "sync"]);
    first.expect_code(1);
    let lines = lines_mentioning(&first.stderr, "UNAVAILABLE");
    assert_eq!(
        lines.len(),
        2,
        "the folder's error and one line: {}",
        first.stderr
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("next run") && l.contains("folders left")),
        "{}",
        first.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&first.stdout).unwrap();
    let deferred = doc["accounts"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["error"]
                .as_str()
                .is_some_and(|e| e.contains("next run resumes"))
        })
        .count();
    assert!(deferred >= 1, "{}", first.stdout);
    let first_down = doc["accounts"][0]["counts"]["downloaded"].as_u64().unwrap();

    proxy.disarm();
    let second = imapdir.run(&["--json", "sync"]);
    second.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    let second_down = doc["accounts"][0]["counts"]["downloaded"].as_u64().unwrap();
    assert_eq!(first_down + second_down, 24, "nothing downloaded twice");
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}
