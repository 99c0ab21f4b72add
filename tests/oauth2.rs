//! OAuth2 logins against real Dovecot with an oauth2 passdb that checks
//! each token at an introspection endpoint on loopback: XOAUTH2,
//! OAUTHBEARER and `auth = "auto"`, the token command run again once
//! after a refused token and never more, and no token in any output.

mod common;

use common::*;

const GOOD: &str = "tok-good-5e1f";

fn oauth_server() -> (Introspection, Dovecot) {
    let introspection = Introspection::start(&[(GOOD, "bench")]);
    let dovecot = Dovecot::start_with(DovecotOptions {
        oauth2_introspect_url: Some(introspection.url()),
        ..DovecotOptions::default()
    });
    seed_folder(&mut dovecot.client(), "INBOX", 0..3);
    (introspection, dovecot)
}

/// An imapdir whose token command prints `tokens` in turn (the last one
/// from then on), counting its runs in a file.
fn with_token_command(dovecot: &Dovecot, tokens: &[&str], auth: &str) -> Imapdir {
    let mut imapdir = Imapdir::new(dovecot);
    let counter = imapdir.dir().join("token-runs");
    let mut script = format!(
        "n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}; ",
        c = counter.display()
    );
    for (i, token) in tokens.iter().enumerate() {
        if i + 1 < tokens.len() {
            script.push_str(&format!(
                "[ $n -eq {} ] && {{ echo {token}; exit 0; }}; ",
                i + 1
            ));
        } else {
            script.push_str(&format!("echo {token}"));
        }
    }
    let command = imapdir.dir().join("token.sh");
    std::fs::write(&command, script).unwrap();
    imapdir.account.password_source = Some(format!(
        "oauth2_token_command = \"sh {}\"",
        command.display()
    ));
    imapdir.account.extra.push(format!("auth = {auth:?}"));
    imapdir
}

fn token_runs(imapdir: &Imapdir) -> u32 {
    std::fs::read_to_string(imapdir.dir().join("token-runs"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn each_oauth2_mechanism_logs_in_and_syncs() {
    let (_introspection, dovecot) = oauth_server();
    for (auth, mechanism) in [
        ("xoauth2", "XOAUTH2"),
        ("oauthbearer", "OAUTHBEARER"),
        ("auto", "OAUTHBEARER"),
    ] {
        let imapdir = with_token_command(&dovecot, &[GOOD], auth);
        let run = imapdir.run(&["--trace-imap", "sync"]);
        run.expect_success();
        assert!(
            run.stderr
                .contains(&format!("AUTHENTICATE {mechanism} <redacted>")),
            "{auth}: {}",
            run.stderr
        );
        assert!(!run.all_output().contains(GOOD), "the token never shows");
        assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
        assert_eq!(token_runs(&imapdir), 1);
    }
}

// Dovecot delays each failed login from one address longer than the
// last, so each scenario with failures has a server of its own.

#[test]
fn a_stale_token_is_fetched_again_and_the_fresh_one_logs_in() {
    let (_introspection, dovecot) = oauth_server();
    let imapdir = with_token_command(&dovecot, &["tok-stale", GOOD], "xoauth2");
    imapdir.sync_ok();
    assert_eq!(token_runs(&imapdir), 2);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
}

/// A token that stays refused: exit 3 after two tries, no loop, nothing
/// written, the token nowhere in the output.
fn refused_twice_then_exit_3(auth: &str) {
    let (introspection, dovecot) = oauth_server();
    let imapdir = with_token_command(&dovecot, &["tok-revoked-9a"], auth);
    let checks = introspection.checks();
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_code(3);
    assert!(run.stderr.contains("login failed"), "{}", run.stderr);
    assert!(
        !run.all_output().contains("tok-revoked-9a"),
        "{}",
        run.all_output()
    );
    assert_eq!(token_runs(&imapdir), 2, "{auth}");
    assert_eq!(
        introspection.checks() - checks,
        2,
        "{auth}: two logins tried"
    );
    assert!(!imapdir.maildir().join("INBOX").exists());
}

#[test]
fn a_refused_xoauth2_token_is_tried_twice_and_exits_3() {
    refused_twice_then_exit_3("xoauth2");
}

#[test]
fn a_refused_oauthbearer_token_is_tried_twice_and_exits_3() {
    refused_twice_then_exit_3("oauthbearer");
}

#[test]
fn a_token_revoked_while_in_use_fails_the_next_run() {
    let (introspection, dovecot) = oauth_server();
    let imapdir = with_token_command(&dovecot, &[GOOD], "auto");
    imapdir.sync_ok();
    introspection.revoke(GOOD);
    let run = imapdir.run(&["sync"]);
    run.expect_code(3);
    assert!(!run.all_output().contains(GOOD));
}

#[test]
fn password_logins_take_the_mechanism_asked_for() {
    let dovecot = Dovecot::start();
    seed_folder(&mut dovecot.client(), "INBOX", 0..1);
    for (auth, shown) in [
        ("auto", "AUTHENTICATE PLAIN"),
        ("plain", "AUTHENTICATE PLAIN"),
        ("login", "AUTHENTICATE LOGIN"),
    ] {
        let mut imapdir = Imapdir::new(&dovecot);
        imapdir.account.extra.push(format!("auth = {auth:?}"));
        let run = imapdir.run(&["--trace-imap", "sync"]);
        run.expect_success();
        assert!(run.stderr.contains(shown), "{auth}: {}", run.stderr);
    }
    // A token mechanism without a token is a config error.
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push("auth = \"xoauth2\"".into());
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("oauth2_token_command"),
        "{}",
        run.stderr
    );
}
