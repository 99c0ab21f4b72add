//! Input no real Dovecot sends: hostile folder names and unparsable
//! responses, from a scripted fake server.

mod common;

use common::fake_server::{fake_message, FakeScript, FakeServer};
use common::*;
use std::fs;

fn account_for(server: &FakeServer) -> Imapdir {
    let mut imapdir = Imapdir::for_port(server.port());
    imapdir.account.extra.push("timeout = 10".into());
    imapdir
}

fn quoted(s: &str) -> Vec<u8> {
    format!("\"{s}\"").into_bytes()
}

fn literal(bytes: &[u8]) -> Vec<u8> {
    let mut v = format!("{{{}}}\r\n", bytes.len()).into_bytes();
    v.extend(bytes);
    v
}

#[test]
fn hostile_folder_names_never_leave_the_maildir_root() {
    let server = FakeServer::start(FakeScript {
        list_names: vec![
            quoted("INBOX"),
            quoted("Good"),
            quoted("../x"),
            quoted("a/../../b"),
            quoted("."),
            quoted(".."),
            quoted("&AC8-"),
            quoted("..&AC8-..&AC8-y"),
            quoted("/abs"),
            literal(b"ctl\x01name"),
            literal(b"nul\0name"),
            literal(b"new\nline"),
        ],
        with_message: vec!["Good".into()],
        ..FakeScript::default()
    });
    let imapdir = account_for(&server);
    let r = imapdir.run(&["sync"]);
    assert!(!r.all_output().contains("panicked"), "{}", r.all_output());
    r.expect_success();
    assert!(
        r.stderr.contains("../x") && r.stderr.to_lowercase().contains("unsafe")
            || r.stderr.to_lowercase().contains("skip"),
        "a warning names the skipped folders: {}",
        r.stderr
    );
    let allowed = [
        "Mail",
        "config",
        "home",
        "password",
        "state",
        "state-home",
        "imapdir.toml",
    ];
    for e in fs::read_dir(imapdir.dir()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            allowed.contains(&name.as_str()),
            "{name} created beside the Maildir"
        );
    }
    assert!(!imapdir.dir().parent().unwrap().join("b").exists());
    assert_eq!(
        maildir_folders(imapdir.maildir()),
        ["Good", "INBOX"].iter().map(|s| s.to_string()).collect(),
        "only the safe folders exist locally"
    );
    let good = maildir_messages(imapdir.maildir(), "Good");
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].body, normalize(&fake_message("Good")));
}

#[test]
fn an_unparsable_fetch_response_fails_only_that_folder() {
    let server = FakeServer::start(FakeScript {
        list_names: vec![quoted("INBOX"), quoted("Broken"), quoted("Good")],
        with_message: vec!["Broken".into(), "Good".into()],
        broken: Some("Broken".into()),
        ..FakeScript::default()
    });
    let imapdir = account_for(&server);
    let r = imapdir.run(&["sync"]);
    assert!(!r.all_output().contains("panicked"), "{}", r.all_output());
    // An unreadable line while listing a folder fails that folder alone: a
    // message missing from the listing must never look like an expunge.
    r.expect_code(1);
    assert!(r.stderr.contains("Broken"), "{}", r.stderr);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    assert_eq!(maildir_messages(imapdir.maildir(), "Good").len(), 1);
    assert!(maildir_messages(imapdir.maildir(), "Broken").is_empty());
}
