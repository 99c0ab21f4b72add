//! Exit codes and messages: lock held, login and TLS failures, config and
//! usage errors, and a folder that fails while the others sync.

mod common;

use common::*;
use std::fs;
use std::time::{Duration, Instant};

#[test]
fn sync_exits_4_at_once_while_another_run_holds_the_lock() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    let imapdir = Imapdir::new(&dovecot);
    fs::create_dir_all(imapdir.state_file().parent().unwrap()).unwrap();
    let lock = fs::File::create(imapdir.lock_file()).unwrap();
    lock.try_lock().expect("take the lock");

    let started = Instant::now();
    let result = imapdir.run(&["sync"]);
    result.expect_code(4);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exits at once, took {:?}",
        started.elapsed()
    );
    let stderr = result.stderr.to_lowercase();
    assert!(
        stderr.contains("locked") || stderr.contains("another"),
        "stderr explains the lock: {}",
        result.stderr
    );
    assert!(
        maildir_messages(imapdir.maildir(), "INBOX").is_empty(),
        "nothing synced"
    );

    drop(lock);
    imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
}

#[test]
fn wrong_password_exits_3_without_showing_it() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.password = "s3cr3t-Pa55".into();

    for args in [&["-v", "sync"][..], &["check"][..]] {
        let result = imapdir.run(args);
        result.expect_code(3);
        let stderr = result.stderr.to_lowercase();
        assert!(
            stderr.contains("login") || stderr.contains("authentication"),
            "{args:?}: stderr says login failed: {}",
            result.stderr
        );
        assert!(
            !result.all_output().contains("s3cr3t-Pa55"),
            "{args:?}: password shown:\n{}",
            result.all_output()
        );
    }
    assert!(maildir_messages(imapdir.maildir(), "INBOX").is_empty());
    assert_eq!(client.fetch_all("INBOX").len(), 2, "server untouched");
}

#[test]
fn untrusted_certificate_exits_3() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.ca_file = None;

    let result = imapdir.run(&["sync"]);
    result.expect_code(3);
    assert!(
        result.stderr.to_lowercase().contains("certificate"),
        "stderr mentions the certificate: {}",
        result.stderr
    );
    assert!(tree_listing(imapdir.maildir()).is_empty());
}

/// Without `ca_file`, the system roots are trusted: here a hashed
/// certificate directory (as `/etc/ssl/certs` is) named by `SSL_CERT_DIR`.
#[test]
fn system_roots_in_a_hashed_directory_are_trusted() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-hash", "-noout", "-in"])
        .arg(dovecot.ca_file())
        .output()
        .unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let roots = imapdir.dir().join("roots");
    std::fs::create_dir(&roots).unwrap();
    std::fs::copy(dovecot.ca_file(), roots.join(format!("{hash}.0"))).unwrap();
    imapdir.account.ca_file = None;

    // Only the hashed directory trusts the server: without it, refused.
    imapdir.env = vec![(
        "SSL_CERT_DIR".into(),
        imapdir.dir().join("empty").display().to_string(),
    )];
    imapdir.run(&["sync"]).expect_code(3);
    imapdir.env = vec![("SSL_CERT_DIR".into(), roots.display().to_string())];
    imapdir.sync_ok();
}

/// The certificate must name the host connected to: `127.1` reaches
/// 127.0.0.1, but the certificate names only `localhost` and `127.0.0.1`.
#[test]
fn a_certificate_for_another_host_name_is_refused() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.host = "127.1".into();
    let result = imapdir.run(&["sync"]);
    result.expect_code(3);
    assert!(
        result.stderr.contains("hostname mismatch"),
        "stderr names the mismatch: {}",
        result.stderr
    );
    imapdir.account.host = "127.0.0.1".into();
    imapdir.sync_ok();
}

#[test]
fn plaintext_without_allow_plaintext_is_a_config_error() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.tls = "plain".into();
    imapdir.account.port = dovecot.imap_port();
    imapdir.account.ca_file = None;

    let refused = imapdir.run(&["sync"]);
    refused.expect_code(2);
    assert!(
        !refused.stderr.trim().is_empty(),
        "the refusal is explained"
    );
    assert!(tree_listing(imapdir.maildir()).is_empty());

    imapdir.account.allow_plaintext = true;
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 2);
}

#[test]
fn unreachable_server_exits_3() {
    let mut dovecot = Dovecot::start();
    let imapdir = Imapdir::new(&dovecot);
    dovecot.stop();
    let result = imapdir.run(&["sync"]);
    result.expect_code(3);
    assert!(!result.stderr.trim().is_empty());
    let check = imapdir.run(&["check"]);
    check.expect_code(3);
}

#[test]
fn config_and_usage_errors_exit_2() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);

    imapdir.run(&["sync", "no-such-account"]).expect_code(2);
    imapdir.run(&["no-such-command"]).expect_code(2);
    imapdir.run(&["sync", "--no-such-option"]).expect_code(2);

    imapdir.account.tls = "bogus".into();
    let bad_tls = imapdir.run(&["sync"]);
    bad_tls.expect_code(2);

    imapdir.account.tls = "tls".into();
    fs::write(imapdir.config_file(), "this is = not [valid toml").unwrap();
    let raw = imapdir.run_with_written_config(&["sync"]);
    raw.expect_code(2);

    let missing = imapdir.dir().join("missing.toml");
    let result = imapdir.run_with_config_path(&missing, &["sync"]);
    result.expect_code(2);
    assert!(tree_listing(imapdir.maildir()).is_empty());
}

#[test]
fn a_failing_folder_exits_1_and_the_others_still_sync() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    seed_folder(&mut client, "Blocked", 0..2);
    seed_folder(&mut client, "Other", 0..2);
    let imapdir = Imapdir::new(&dovecot);
    // A regular file where the folder's directory must go.
    fs::create_dir_all(imapdir.maildir()).unwrap();
    let blocker = imapdir.maildir().join("Blocked");
    fs::write(&blocker, "not a maildir, keep me\n").unwrap();

    let result = imapdir.run(&["sync"]);
    result.expect_code(1);
    assert!(
        result.stderr.contains("Blocked"),
        "failed folder named: {}",
        result.stderr
    );
    assert_eq!(
        fs::read_to_string(&blocker).unwrap(),
        "not a maildir, keep me\n"
    );
    for folder in ["INBOX", "Other"] {
        let server = client.fetch_all(folder);
        let local = maildir_messages(imapdir.maildir(), folder);
        assert_folder_in_sync(&server, &local, folder);
    }
    assert_eq!(
        client.fetch_all("Blocked").len(),
        2,
        "nothing deleted on the server"
    );
}

#[test]
fn trace_never_shows_the_password_and_state_is_private() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.password = "s3cr3t-Pa55".into();
    let result = imapdir.run(&["--trace-imap", "-vv", "sync"]);
    result.expect_code(3);
    assert!(
        result.stderr.contains("LOGIN") || result.stderr.contains("AUTHENTICATE"),
        "the trace shows the login command: {}",
        result.stderr
    );
    assert!(
        !result.all_output().contains("s3cr3t-Pa55"),
        "password in the trace:\n{}",
        result.all_output()
    );

    // A successful traced run: state and lock files private, state dir 0700.
    let imapdir = Imapdir::new(&dovecot);
    imapdir
        .run(&["--trace-imap", "-v", "sync"])
        .expect_success();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(imapdir.state_file()), 0o600);
    assert_eq!(mode(&imapdir.lock_file()), 0o600);
    assert_eq!(mode(imapdir.state_file().parent().unwrap()), 0o700);
}

#[test]
fn starttls_required_but_not_offered_exits_3() {
    // A server whose capabilities lack STARTTLS (the fake server's).
    let server = common::fake_server::FakeServer::start(Default::default());
    let mut imapdir = Imapdir::for_port(server.port());
    imapdir.account.tls = "starttls".into();
    imapdir.account.allow_plaintext = false;
    let result = imapdir.run(&["sync"]);
    result.expect_code(3);
    assert!(
        result.stderr.contains("STARTTLS"),
        "no silent downgrade: {}",
        result.stderr
    );
    assert!(maildir_folders(imapdir.maildir()).is_empty());
}
