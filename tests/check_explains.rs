//! `imapdir check` explains the common failures in a sentence that says
//! what to do: a certificate for another name (with the names it has), a
//! plain port spoken to with TLS and the reverse, STARTTLS where the server
//! wants it, too many connections, an app password, password logins off.

mod common;

use common::fake_server::{FakeScript, FakeServer};
use common::*;

fn hint_of(out: &RunResult) -> String {
    out.stderr
        .lines()
        .find_map(|l| l.split_once("what to do: ").map(|(_, h)| h.to_string()))
        .unwrap_or_else(|| panic!("no hint in:\n{}", out.stderr))
}

#[test]
fn a_certificate_for_another_name_shows_the_names_it_has() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.host = "127.1".into();
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("another name (localhost, 127.0.0.1)") && hint.contains("set host"),
        "{hint}"
    );

    let json = imapdir.run(&["--json", "check"]);
    json.expect_code(3);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let account = &doc["accounts"][0];
    assert_eq!(account["ok"], false);
    assert!(
        account["hint"].as_str().unwrap().contains("localhost"),
        "{doc}"
    );
}

#[test]
fn tls_spoken_to_a_plain_port_and_plain_to_a_tls_port_are_named() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.port = dovecot.imap_port();
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("speaks plain IMAP first") && hint.contains("tls = \"starttls\""),
        "{hint}"
    );

    imapdir.account.port = dovecot.imaps_port();
    imapdir.account.tls = "starttls".into();
    imapdir.account.extra.push("timeout = 2".into());
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("expects TLS from the first byte") && hint.contains("tls = \"tls\""),
        "{hint}"
    );

    imapdir.account.tls = "tls".into();
    imapdir.run(&["check"]).expect_success();
}

#[test]
fn a_password_sent_in_the_clear_where_starttls_is_offered_gets_a_note() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.port = dovecot.imap_port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    let out = imapdir.run(&["check"]);
    out.expect_success();
    assert!(
        out.stdout.contains("note:") && out.stdout.contains("tls = \"starttls\""),
        "{}",
        out.stdout
    );
    imapdir.account.tls = "starttls".into();
    let out = imapdir.run(&["check"]);
    out.expect_success();
    assert!(!out.stdout.contains("note:"), "{}", out.stdout);
}

#[test]
fn a_server_that_refuses_passwords_before_tls_asks_for_starttls() {
    let server = FakeServer::start(FakeScript {
        capabilities: Some("IMAP4rev1 STARTTLS LOGINDISABLED".into()),
        ..FakeScript::default()
    });
    let imapdir = Imapdir::for_port(server.port());
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(hint.contains("set tls = \"starttls\""), "{hint}");
}

#[test]
fn too_many_connections_says_to_lower_jobs() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        max_userip_connections: Some(1),
        ..DovecotOptions::default()
    });
    let _holder = dovecot.client();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.jobs = Some(3);
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("connections") && hint.contains("jobs lower than 3"),
        "{hint}\n{}",
        out.stderr
    );
}

#[test]
fn an_app_password_required_is_named_with_the_providers_steps() {
    let server = FakeServer::start(FakeScript {
        refuse_login: Some(
            "Application-specific password required: \
             https://support.google.com/accounts/answer/185833 (Failure)"
                .into(),
        ),
        ..FakeScript::default()
    });
    let mut imapdir = Imapdir::for_port(server.port());
    imapdir.account.extra.push(r#"provider = "gmail""#.into());
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("app password") && hint.contains("2-step verification"),
        "{hint}"
    );
}

#[test]
fn a_server_without_password_logins_is_sent_to_oauth2() {
    let server = FakeServer::start(FakeScript {
        capabilities: Some("IMAP4rev1 UIDPLUS AUTH=XOAUTH2".into()),
        refuse_login: Some("[AUTHENTICATIONFAILED] LOGIN failed.".into()),
        ..FakeScript::default()
    });
    let imapdir = Imapdir::for_port(server.port());
    let out = imapdir.run(&["check"]);
    out.expect_code(3);
    let hint = hint_of(&out);
    assert!(
        hint.contains("does not take passwords") && hint.contains("oauth2_token_command"),
        "{hint}"
    );
}
