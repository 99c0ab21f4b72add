//! `[ALERT]` texts (RFC 3501 7.1: a client must show them to the user) are
//! shown once on stderr and put in the `--json` document by `sync`,
//! `check`, `status` and `watch`. Dovecot sends none on request, so a
//! scripted server does (`tests/common/fake_server.rs`), at every login
//! and SELECT, over several connections.

mod common;

use common::fake_server::{FakeScript, FakeServer};
use common::*;
use serde_json::Value;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

const ALERT: &str = "Your mailbox is 95% full";

fn server() -> FakeServer {
    FakeServer::start(FakeScript {
        list_names: ["INBOX", "Work", "Lists"]
            .iter()
            .map(|n| format!("\"{n}\"").into_bytes())
            .collect(),
        with_message: vec!["INBOX".into(), "Work".into(), "Lists".into()],
        alert: Some(ALERT.into()),
        ..FakeScript::default()
    })
}

fn account_for(server: &FakeServer) -> Imapdir {
    let mut imapdir = Imapdir::for_port(server.port());
    imapdir.account.jobs = Some(3);
    imapdir.account.extra.push("timeout = 10".into());
    imapdir
}

fn parse(result: &RunResult) -> Value {
    serde_json::from_str(&result.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", result.stdout, result.stderr))
}

fn alert_lines(stderr: &str) -> usize {
    lines_mentioning(stderr, &format!("server alert: {ALERT}")).len()
}

#[test]
fn sync_shows_each_alert_once_and_in_json() {
    let server = server();
    let imapdir = account_for(&server);
    let r = imapdir.run(&["sync"]);
    r.expect_success();
    assert!(server.logins() >= 2, "several connections logged in");
    assert_eq!(alert_lines(&r.stderr), 1, "--- stderr\n{}", r.stderr);
    assert!(!r.stdout.contains(ALERT), "alerts go to stderr");

    let r = imapdir.run(&["sync", "--json"]);
    r.expect_success();
    assert_eq!(alert_lines(&r.stderr), 1, "--- stderr\n{}", r.stderr);
    let doc = parse(&r);
    assert_eq!(doc["accounts"][0]["alerts"], serde_json::json!([ALERT]));
}

#[test]
fn an_alert_refusing_the_login_is_shown() {
    let server = FakeServer::start(FakeScript {
        list_names: vec![b"\"INBOX\"".to_vec()],
        refuse_login: Some("Log in on the web to confirm your account".into()),
        ..FakeScript::default()
    });
    let imapdir = account_for(&server);
    let r = imapdir.run(&["sync", "--json"]);
    r.expect_code(3);
    assert_eq!(
        lines_mentioning(&r.stderr, "server alert: Log in on the web").len(),
        1,
        "--- stderr\n{}",
        r.stderr
    );
    let doc = parse(&r);
    assert_eq!(
        doc["accounts"][0]["alerts"],
        serde_json::json!(["Log in on the web to confirm your account"])
    );
}

#[test]
fn check_and_status_show_the_alert_once_and_in_json() {
    let server = server();
    let imapdir = account_for(&server);
    imapdir.sync_ok();
    for command in ["check", "status"] {
        let r = imapdir.run(&[command]);
        r.expect_success();
        assert_eq!(alert_lines(&r.stderr), 1, "{command}\n{}", r.stderr);
        let r = imapdir.run(&[command, "--json"]);
        r.expect_success();
        assert_eq!(alert_lines(&r.stderr), 1, "{command}\n{}", r.stderr);
        assert_eq!(
            parse(&r)["accounts"][0]["alerts"],
            serde_json::json!([ALERT]),
            "{command}"
        );
    }
    // Offline, nobody is asked.
    let r = imapdir.run(&["status", "--offline", "--json"]);
    r.expect_success();
    assert_eq!(parse(&r)["accounts"][0]["alerts"], serde_json::json!([]));
}

#[test]
fn watch_shows_an_alert_repeated_at_every_sync_once() {
    let server = server();
    let mut imapdir = account_for(&server);
    imapdir.account.extra.push("interval = 1".into());
    let mut child = imapdir.spawn(&["watch"]);
    let err = imapdir.dir().join("spawn-1.err");
    // Each sync logs in again; several syncs, and the IDLE connection.
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.logins() < 6 {
        assert!(child.try_wait().unwrap().is_none(), "watch exited");
        assert!(
            Instant::now() < deadline,
            "no syncs\n{}",
            fs::read_to_string(&err).unwrap_or_default()
        );
        thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(child.wait().unwrap().success());
    let log = fs::read_to_string(&err).unwrap();
    assert_eq!(alert_lines(&log), 1, "--- stderr\n{log}");
}
