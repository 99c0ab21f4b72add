//! The built-in OAuth2 login against a small authorization server on
//! loopback (tests/common/auth_server.rs), whose access tokens Dovecot's
//! oauth2 passdb checks by introspection: `imapdir auth` in the browser
//! (PKCE, loopback redirect) and with --device, refreshes before expiry
//! and after a refused token, a revoked refresh token (exit 3, the command
//! to run named, nothing changed, `watch` not looping), OAuth2 errors in
//! words, the token file and the keyring, and no token in any output.
//!
//! Dovecot slows repeated failed logins from one address, so each
//! scenario with failed logins has a server of its own.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn dovecot_for(server: &AuthServer) -> Dovecot {
    let dovecot = Dovecot::start_with(DovecotOptions {
        oauth2_introspect_url: Some(server.introspection.url()),
        ..DovecotOptions::default()
    });
    seed_folder(&mut dovecot.client(), "INBOX", 0..3);
    dovecot
}

/// An account on `imapdir` using the built-in login with `server`, its
/// tokens in a file (never a keyring the machine may have).
fn use_server(mut imapdir: Imapdir, server: &AuthServer, store: &str) -> Imapdir {
    imapdir.account.password_source = Some(server.config_lines().join("\n"));
    imapdir
        .account
        .extra
        .push(format!("oauth2_token_store = {store:?}"));
    imapdir
}

fn builtin(dovecot: &Dovecot, server: &AuthServer) -> Imapdir {
    use_server(Imapdir::new(dovecot), server, "file")
}

/// An account whose IMAP server is never reached.
fn offline(server: &AuthServer) -> Imapdir {
    use_server(Imapdir::for_port(1), server, "file")
}

fn token_file(imapdir: &Imapdir) -> PathBuf {
    imapdir.state_file().parent().unwrap().join("test.oauth2")
}

/// `imapdir auth test` with the test as the browser; `tamper` may change
/// the redirect before the browser follows it.
fn browser_login_with(imapdir: &mut Imapdir, tamper: impl FnOnce(String) -> String) -> RunResult {
    let (_, err) = imapdir.next_spawn_output();
    let (run, page) = imapdir.run_alongside(&["auth", "test", "--no-browser"], move |_| {
        let line = wait_for_line(&err, "/authorize?");
        let (status, location, body) = http_get(line.trim());
        assert_eq!(status, 302, "{body}");
        let (_, _, page) = http_get(&tamper(location.unwrap()));
        page
    });
    assert!(page.contains("imapdir"), "{page}");
    run
}

fn browser_login(imapdir: &mut Imapdir) -> RunResult {
    browser_login_with(imapdir, |location| location)
}

/// No code or token the server handed out appears in `text`.
fn assert_no_token(server: &AuthServer, text: &str) {
    let issued = server.issued();
    assert!(!issued.is_empty());
    for token in issued {
        assert!(!text.contains(&token), "{token} shows in:\n{text}");
    }
}

fn refreshes(server: &AuthServer) -> usize {
    server.count(|c| &c.refresh_grants)
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// Every row of every table of the state but the results of the last
/// runs (which `status` shows, failures included).
fn synced_state(path: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(path).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut rows = Vec::new();
    for table in tables.iter().filter(|t| *t != "sync_results") {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut query = stmt.query([]).unwrap();
        while let Some(row) = query.next().unwrap() {
            let values: Vec<String> = (0..columns)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect();
            rows.push(format!("{table}: {}", values.join(", ")));
        }
    }
    assert!(rows.len() > 3, "{rows:?}");
    rows
}

#[test]
fn a_browser_login_keeps_a_private_token_file_and_syncs() {
    let server = AuthServer::start(USER);
    let dovecot = dovecot_for(&server);
    let mut imapdir = builtin(&dovecot, &server);
    let login = browser_login(&mut imapdir);
    login.expect_success();
    assert!(login.stdout.contains("kept in"), "{}", login.stdout);
    let file = token_file(&imapdir);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    assert_eq!(server.count(|c| &c.code_grants), 1);

    let sync = imapdir.run(&["--trace-imap", "-vv", "sync"]);
    sync.expect_success();
    assert!(
        sync.stderr.contains("AUTHENTICATE OAUTHBEARER <redacted>"),
        "{}",
        sync.stderr
    );
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
    assert_eq!(refreshes(&server), 0, "a fresh token is used as it is");
    let status = imapdir.run(&["--json", "status", "test"]);
    for output in [
        &login.all_output(),
        &sync.all_output(),
        &status.all_output(),
    ] {
        assert_no_token(&server, output);
    }
    let state = String::from_utf8_lossy(&std::fs::read(imapdir.state_file()).unwrap()).into_owned();
    assert_no_token(&server, &state);
    let config = std::fs::read_to_string(imapdir.config_file()).unwrap();
    assert_no_token(&server, &config);
}

#[test]
fn a_token_near_its_end_is_refreshed_before_the_login() {
    let server = AuthServer::start(USER);
    server.set_access_life(Duration::from_secs(9));
    let dovecot = dovecot_for(&server);
    let mut imapdir = builtin(&dovecot, &server);
    let logged_in = Instant::now();
    browser_login(&mut imapdir).expect_success();
    imapdir.sync_ok();
    assert_eq!(refreshes(&server), 0, "six of its nine seconds were left");
    // Two seconds before its end: less than a third of its life is left.
    std::thread::sleep(Duration::from_secs(7).saturating_sub(logged_in.elapsed()));
    seed_folder(&mut dovecot.client(), "INBOX", 3..4);
    let sync = imapdir.sync_ok();
    assert_eq!(refreshes(&server), 1);
    assert_eq!(server.introspection.refused(), 0, "no login was refused");
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 4);
    assert_no_token(&server, &sync.all_output());
}

#[test]
fn a_refused_token_is_refreshed_once_and_the_login_tried_again() {
    let server = AuthServer::start(USER);
    let dovecot = dovecot_for(&server);
    for folder in ["Archive", "Lists"] {
        seed_folder(&mut dovecot.client(), folder, 0..2);
    }
    let mut imapdir = builtin(&dovecot, &server);
    imapdir.account.jobs = Some(3);
    browser_login(&mut imapdir).expect_success();
    // Revoked at the server, though its time is not up.
    server.revoke_access_tokens();
    let sync = imapdir.run(&["--trace-imap", "sync"]);
    sync.expect_success();
    assert_eq!(refreshes(&server), 1, "one refresh for all the connections");
    assert!(server.introspection.refused() >= 1);
    assert_eq!(maildir_messages(imapdir.maildir(), "Archive").len(), 2);
    assert_no_token(&server, &sync.all_output());
    // The refreshed token was kept: the next run needs no refresh.
    imapdir.sync_ok();
    assert_eq!(refreshes(&server), 1);
}

#[test]
fn a_revoked_login_exits_3_names_the_command_and_changes_nothing() {
    let server = AuthServer::start(USER);
    let dovecot = dovecot_for(&server);
    let mut imapdir = builtin(&dovecot, &server);
    browser_login(&mut imapdir).expect_success();
    imapdir.sync_ok();
    seed_folder(&mut dovecot.client(), "INBOX", 3..5);
    let before = (
        snapshot(imapdir.maildir()),
        synced_state(imapdir.state_file()),
    );
    server.revoke_all(true);
    let refreshed = refreshes(&server);
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_code(3);
    let command = format!(
        "imapdir --config {} auth test",
        imapdir.config_file().display()
    );
    assert!(run.stderr.contains(&command), "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid_grant") && run.stderr.contains("revoked"),
        "{}",
        run.stderr
    );
    assert_eq!(refreshes(&server) - refreshed, 1, "one refresh, no loop");
    let after = (
        snapshot(imapdir.maildir()),
        synced_state(imapdir.state_file()),
    );
    assert!(before.0 == after.0, "the Maildir changed");
    assert_eq!(before.1, after.1, "the state changed");
    assert_no_token(&server, &run.all_output());

    // watch: one refresh, one message, retries without asking again;
    // a new login is picked up by the next retry.
    let refreshed = refreshes(&server);
    let (_, watch_err) = imapdir.next_spawn_output();
    let mut watch = imapdir.spawn(&["watch"]);
    wait_for_line(&watch_err, "log in again");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        refreshes(&server) - refreshed,
        1,
        "watch asked once and remembers"
    );
    let again = browser_login(&mut imapdir);
    again.expect_success();
    wait_for_line(&watch_err, "synced again");
    stop(&mut watch);
    let log = std::fs::read_to_string(&watch_err).unwrap();
    // Once by the sync loop, once by the IDLE connection, never again.
    assert_eq!(log.matches("sync failed").count(), 1, "{log}");
    assert_eq!(log.matches("log in again").count(), 2, "{log}");
    assert_no_token(&server, &log);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 5);
}

fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "watch did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `imapdir auth test --device`, approving (or denying) the code it shows.
fn device_login(imapdir: &mut Imapdir, server: &AuthServer, approve: bool) -> RunResult {
    let (_, err) = imapdir.next_spawn_output();
    let server = server.clone();
    let (run, ()) = imapdir.run_alongside(&["auth", "test", "--device"], move |_| {
        let line = wait_for_line(&err, "enter the code");
        assert!(
            line.contains(&format!("{}/activate", server.base())),
            "{line}"
        );
        let code = line
            .split_whitespace()
            .find(|w| w.starts_with("WDJB-"))
            .unwrap_or_else(|| panic!("no code in {line}"));
        server.decide_device(code, approve);
    });
    run
}

#[test]
fn the_device_flow_logs_in_and_polls_slower_when_asked() {
    let server = AuthServer::start(USER);
    let dovecot = dovecot_for(&server);
    let mut imapdir = builtin(&dovecot, &server);
    server.slow_down(1);
    let login = device_login(&mut imapdir, &server, true);
    login.expect_success();
    assert!(
        login.stderr.contains("poll more slowly (slow_down)")
            && login.stderr.contains("every 6 seconds"),
        "{}",
        login.stderr
    );
    assert!(server.count(|c| &c.device_polls) >= 2);
    let sync = imapdir.sync_ok();
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
    assert_no_token(&server, &login.all_output());
    assert_no_token(&server, &sync.all_output());
}

#[test]
fn a_denied_device_login_is_said_in_words_and_keeps_nothing() {
    let server = AuthServer::start(USER);
    let mut imapdir = offline(&server);
    let login = device_login(&mut imapdir, &server, false);
    login.expect_code(3);
    assert!(
        login.stderr.contains("access was denied (access_denied)"),
        "{}",
        login.stderr
    );
    assert!(!token_file(&imapdir).exists());
}

#[test]
fn refused_browser_logins_are_said_in_words_and_keep_nothing() {
    let server = AuthServer::start(USER);
    let mut imapdir = offline(&server);
    server.deny_next_authorization();
    let denied = browser_login(&mut imapdir);
    denied.expect_code(3);
    assert!(
        denied.stderr.contains("access was denied (access_denied)")
            && denied.stderr.contains("The user said no"),
        "{}",
        denied.stderr
    );
    // A code that is not the one issued: the token endpoint says invalid_grant.
    let wrong = browser_login_with(&mut imapdir, |location| location.replace("code=", "code=x"));
    wrong.expect_code(3);
    assert!(
        wrong.stderr.contains("refused the grant (invalid_grant)"),
        "{}",
        wrong.stderr
    );
    assert!(!token_file(&imapdir).exists());
    assert!(!imapdir.state_file().exists());
    // Never logged in: sync says how.
    let sync = imapdir.run(&["sync"]);
    sync.expect_code(3);
    assert!(
        sync.stderr.contains("no OAuth2 login is stored") && sync.stderr.contains("auth test"),
        "{}",
        sync.stderr
    );
}

#[test]
fn a_missing_client_id_says_how_to_get_one() {
    let mut imapdir = Imapdir::for_port(1);
    imapdir.account.password_source = Some("provider = \"outlook\"".into());
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    for needed in [
        "no oauth2_client_id",
        "App registrations",
        "console.cloud.google.com",
        "README",
    ] {
        assert!(run.stderr.contains(needed), "{needed}: {}", run.stderr);
    }
    imapdir.account.password_source = Some("oauth2_scopes = \"x\"".into());
    let run = imapdir.run(&["sync"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("needs oauth2_client_id"),
        "{}",
        run.stderr
    );
    // auth on an account with a password says what it is for.
    imapdir.account.password_source = None;
    let run = imapdir.run(&["auth", "test"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("set oauth2_client_id"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_token_file_others_can_read_is_not_used() {
    let server = AuthServer::start(USER);
    let mut imapdir = offline(&server);
    browser_login(&mut imapdir).expect_success();
    let file = token_file(&imapdir);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = imapdir.run(&["sync"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains(&format!("chmod 600 {}", file.display())),
        "{}",
        run.stderr
    );
    assert_no_token(&server, &run.all_output());
}

/// A private session D-Bus with an unlocked GNOME Keyring on it; both
/// stop when this is dropped.
///
/// The keyring's login collection is created with a password read from
/// stdin (`--unlock`), so nothing prompts.
struct Keyring {
    bus: Child,
    keyring: Child,
    address: String,
    _home: tempfile::TempDir,
}

impl Keyring {
    fn start() -> Keyring {
        let home = tempfile::tempdir().unwrap();
        let runtime = home.path().join("run");
        std::fs::create_dir_all(&runtime).unwrap();
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian: dbus) must be installed; .ci/run installs it");
        let mut address = String::new();
        {
            use std::io::BufRead;
            let mut out = std::io::BufReader::new(bus.stdout.take().unwrap());
            out.read_line(&mut address).unwrap();
        }
        let address = address.trim().to_string();
        assert!(!address.is_empty(), "dbus-daemon printed no address");
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian: gnome-keyring) must be installed");
        {
            use std::io::Write;
            // The new login keyring's password, then end of input.
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"test-keyring-password\n").unwrap();
        }
        let keyring = Keyring {
            bus,
            keyring,
            address,
            _home: home,
        };
        // Ready when the daemon owns the Secret Service's name (asked
        // without activating it: a call before that would start a second,
        // locked keyring), and then answers.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let owned = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &keyring.address)
                .output()
                .expect("dbus-send (Debian: dbus) must be installed");
            if String::from_utf8_lossy(&owned.stdout).contains("boolean true") {
                break;
            }
            assert!(Instant::now() < deadline, "the keyring never took its name");
            std::thread::sleep(Duration::from_millis(50));
        }
        loop {
            let probe =
                keyring.secret_tool(&["store", "--label=probe", "service", "imapdir-probe"]);
            if probe.status.success() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the keyring never answered: {probe:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        keyring
    }

    /// Runs secret-tool on this keyring (a secret to store, if asked,
    /// comes from stdin: "probe").
    fn secret_tool(&self, args: &[&str]) -> std::process::Output {
        let mut child = Command::new("secret-tool")
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("secret-tool (Debian: libsecret-tools) must be installed");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(b"probe");
        }
        child.wait_with_output().unwrap()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

#[test]
fn the_keyring_keeps_the_login_where_a_secret_service_runs() {
    let keyring = Keyring::start();
    let server = AuthServer::start(USER);
    let dovecot = dovecot_for(&server);
    let mut imapdir = use_server(Imapdir::new(&dovecot), &server, "auto");
    imapdir
        .env
        .push(("DBUS_SESSION_BUS_ADDRESS".into(), keyring.address.clone()));
    let login = browser_login(&mut imapdir);
    login.expect_success();
    assert!(
        login.stdout.contains("system keyring"),
        "{}",
        login.all_output()
    );
    assert!(!token_file(&imapdir).exists(), "not in a file as well");
    let item = keyring.secret_tool(&[
        "lookup", "service", "imapdir", "account", "test", "user", USER,
    ]);
    let item = String::from_utf8_lossy(&item.stdout).into_owned();
    let issued = server.issued();
    let refresh = issued.iter().find(|t| t.starts_with("rt-")).unwrap();
    assert!(
        item.contains(refresh.as_str()),
        "the keyring holds the refresh token"
    );

    // Refreshed after a refusal, and kept in the keyring again.
    server.revoke_access_tokens();
    let sync = imapdir.sync_ok();
    assert_eq!(refreshes(&server), 1);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 3);
    assert_no_token(&server, &sync.all_output());
    imapdir.sync_ok();
    assert_eq!(refreshes(&server), 1, "the refreshed token was kept");
}
