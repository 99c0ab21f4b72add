//! `imapdir watch` against a real Dovecot: server changes arrive through
//! IDLE, Maildir changes reach the server, a server restart is survived,
//! stops and continues (SIGSTOP, SIGCONT) are survived, and SIGTERM ends
//! the run cleanly.

mod common;

use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;
use std::fs;
use std::process::Child;
use std::thread;
use std::time::{Duration, Instant};

/// How long a change may take to cross over before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// A running `imapdir watch`, killed when the test ends (or fails).
struct Watch {
    child: Child,
    stderr: std::path::PathBuf,
}

impl Watch {
    fn start(imapdir: &mut Imapdir) -> Watch {
        let child = imapdir.spawn(&["watch"]);
        // The spawn helper numbers its output files; find the newest one.
        let stderr = newest_err_file(imapdir);
        Watch { child, stderr }
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("watch exited with {status}\n--- stderr\n{}", self.log());
        }
    }

    /// Polls `done` until it holds, failing with the watch's log after
    /// [`PATIENCE`].
    fn wait_for(&mut self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if done() {
                return;
            }
            self.assert_alive();
            assert!(
                Instant::now() < deadline,
                "{what}: not within {PATIENCE:?}\n--- stderr\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn newest_err_file(imapdir: &Imapdir) -> std::path::PathBuf {
    let mut best: Option<(usize, std::path::PathBuf)> = None;
    for entry in fs::read_dir(imapdir.dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("spawn-")
            .and_then(|r| r.strip_suffix(".err"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, path));
        }
    }
    best.expect("a spawn-N.err file").1
}

fn local_has(imapdir: &Imapdir, folder: &str, mid: &str) -> bool {
    maildir_messages(imapdir.maildir(), &local_folder(folder))
        .iter()
        .any(|m| m.message_id().as_deref() == Some(mid))
}

/// A server with one message in INBOX and a watch that has synced it.
fn watching() -> (Dovecot, ImapClient, Imapdir, Watch, String) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let body = generate_message(1, "INBOX");
    let mid = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    let mut imapdir = Imapdir::new(&dovecot);
    let mut watch = Watch::start(&mut imapdir);
    watch.wait_for("the first sync", || local_has(&imapdir, "INBOX", &mid));
    (dovecot, client, imapdir, watch, mid)
}

#[test]
fn a_message_appended_on_the_server_arrives_within_seconds() {
    let (_dovecot, mut client, imapdir, mut watch, _) = watching();
    let body = generate_message(2, "INBOX");
    let mid = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    watch.wait_for("the appended message in the Maildir", || {
        local_has(&imapdir, "INBOX", &mid)
    });
    watch.assert_alive();
}

#[test]
fn a_local_flag_change_reaches_the_server_within_seconds() {
    let (_dovecot, mut client, imapdir, mut watch, mid) = watching();
    let msgs = maildir_messages(imapdir.maildir(), "INBOX");
    let msg = find_by_message_id(&msgs, &mid);
    set_local_flags(msg, "FS");
    watch.wait_for("\\Flagged on the server", || {
        let server = client.fetch_all("INBOX");
        let m = find_server_by_message_id(&server, &mid);
        m.flags.iter().any(|f| f == "\\Flagged") && m.flags.iter().any(|f| f == "\\Seen")
    });
}

#[test]
fn watch_survives_a_server_restart() {
    let (mut dovecot, _client, imapdir, mut watch, _) = watching();
    dovecot.restart();
    watch.assert_alive();
    let mut client = dovecot.client();
    let body = generate_message(3, "INBOX");
    let mid = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    watch.wait_for("a message appended after the restart", || {
        local_has(&imapdir, "INBOX", &mid)
    });
    watch.assert_alive();
}

#[test]
fn a_dropped_idle_connection_is_logged_once_and_reopened() {
    let dovecot = Dovecot::start();
    let proxy = FaultProxy::start(dovecot.imap_port());
    // The first IDLE is cut as soon as the server has it.
    proxy.arm(Fault::new(Dir::ClientToServer, "IDLE\r\n", 6, Action::Cut));
    let mut imapdir = Imapdir::for_port(proxy.port());
    let mut watch = Watch::start(&mut imapdir);
    watch.wait_for("the cut", || proxy.fired());
    watch.wait_for("the reconnect", || {
        watch_log(&imapdir).contains("connected again")
    });
    let mut client = dovecot.client();
    let body = generate_message(4, "INBOX");
    let mid = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    watch.wait_for("a message appended after the reconnect", || {
        local_has(&imapdir, "INBOX", &mid)
    });
    let log = watch.log();
    assert_eq!(
        lines_mentioning(&log, "connection lost").len(),
        1,
        "the lost connection is logged once\n--- stderr\n{log}"
    );
}

fn watch_log(imapdir: &Imapdir) -> String {
    fs::read_to_string(newest_err_file(imapdir)).unwrap_or_default()
}

#[test]
fn sigterm_ends_watch_with_exit_code_zero() {
    let (_dovecot, _client, _imapdir, mut watch, _) = watching();
    let pid = watch.child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "watch still running 5 s after SIGTERM\n--- stderr\n{}",
            watch.log()
        );
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "stderr:\n{}", watch.log());
}

/// Ends a watch with SIGTERM and waits for it to exit 0.
fn terminate(watch: &mut Watch) {
    let pid = watch.child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = watch.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", watch.log());
}

/// Log lines that say something went wrong.
fn trouble(log: &str) -> Vec<&str> {
    ["failed", "lost", "cannot", "reconnecting", "error"]
        .iter()
        .flat_map(|w| lines_mentioning(log, w))
        .collect()
}

#[test]
fn watch_stopped_and_continued_over_and_over_keeps_both_sides_equal() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 100);
    let mut imapdir = Imapdir::with_jobs(&dovecot, 4);
    let mut watch = Watch::start(&mut imapdir);
    // Stopped and continued from the start: the first sync over several
    // connections, the IDLE connection, and the syncs after changes.
    let stopper = Stopper::rapid(watch.child.id());
    let last = generated_message_id(99, "Archive/2023");
    watch.wait_for("the first sync", || {
        local_has(&imapdir, "Archive/2023", &last)
    });

    let body = generate_message(700, "INBOX");
    let mid = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    watch.wait_for("a message appended on the server", || {
        local_has(&imapdir, "INBOX", &mid)
    });
    let local = maildir_messages(imapdir.maildir(), "Été");
    let unflagged = local.iter().find(|m| !m.flags.contains('F')).unwrap();
    let flagged = unflagged.message_id().unwrap();
    set_local_flags(unflagged, &format!("{}F", unflagged.flags));
    watch.wait_for("a local flag on the server", || {
        let server = client.fetch_all("&AMk-t&AOk-");
        let m = find_server_by_message_id(&server, &flagged);
        m.flags.iter().any(|f| f == "\\Flagged")
    });
    let stops = stopper.finish();
    eprintln!("watch stopped {stops} times");
    assert!(stops > 0);

    terminate(&mut watch);
    let log = watch.log();
    assert!(trouble(&log).is_empty(), "--- stderr\n{log}");
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn watch_stopped_longer_than_its_timeout_reconnects_and_syncs() {
    let dovecot = Dovecot::start();
    let proxy = FaultProxy::start(dovecot.imap_port());
    let mut client = dovecot.client();
    client.append("INBOX", "", &generate_message(1, "INBOX"));
    let mut imapdir = Imapdir::for_port(proxy.port());
    imapdir.account.extra.push("timeout = 2".into());
    // Noted once the IDLE connection waits.
    proxy.arm(Fault::new(Dir::ClientToServer, "IDLE\r\n", 0, Action::Note));
    let mut watch = Watch::start(&mut imapdir);
    watch.wait_for("the IDLE", || proxy.fired());
    let first = generated_message_id(1, "INBOX");
    watch.wait_for("the first sync", || local_has(&imapdir, "INBOX", &first));

    let pid = watch.child.id() as libc::pid_t;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    // Meanwhile the connection is forgotten without a word, as by a server
    // whose timeout passed or a NAT, and a message arrives.
    proxy.stall_all();
    let body = generate_message(2, "INBOX");
    let during = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    // Longer than the 2 s the watch waits for a silent server.
    thread::sleep(Duration::from_secs(4));
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);

    watch.wait_for("the message that came while stopped", || {
        local_has(&imapdir, "INBOX", &during)
    });
    watch.wait_for("the IDLE connection back", || {
        watch_log(&imapdir).contains("connected again")
    });
    // Only IDLE brings this one within the test's patience (the interval
    // is 15 minutes).
    let body = generate_message(3, "INBOX");
    let after = message_id(&body).unwrap();
    client.append("INBOX", "", &body);
    watch.wait_for("a message appended after the continue", || {
        local_has(&imapdir, "INBOX", &after)
    });
    terminate(&mut watch);
    let log = watch.log();
    assert_eq!(
        lines_mentioning(&log, "reconnecting").len(),
        1,
        "one reconnect, no loop\n--- stderr\n{log}"
    );
    assert!(
        lines_mentioning(&log, "failed").is_empty(),
        "--- stderr\n{log}"
    );
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn sync_wait_waits_for_the_watch_holding_the_account_then_syncs() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.append("INBOX", "", &generate_message(1, "INBOX"));
    let mut imapdir = Imapdir::new(&dovecot);
    // The watch's first sync holds the account while its password command
    // waits for the test; no IDLE connection asks for the password too.
    let asked = imapdir.dir().join("password-asked");
    let go = imapdir.dir().join("go");
    imapdir.account.password_command = Some(format!(
        "touch '{}'; while [ ! -e '{}' ]; do sleep 0.05; done; cat '{}'",
        asked.display(),
        go.display(),
        imapdir.password_file().display()
    ));
    imapdir.account.extra.push("watch_folders = []".into());
    let mut watch = Watch::start(&mut imapdir);
    watch.wait_for("the watch's sync holding the account", || asked.exists());

    let r = imapdir.run(&["sync"]);
    r.expect_code(4);
    assert!(
        r.stderr.contains("locked by another imapdir run"),
        "{}",
        r.stderr
    );

    let mut waiting = imapdir.spawn(&["-v", "sync", "--wait"]);
    let waiting_err = newest_err_file(&imapdir);
    watch.wait_for("the second sync waiting", || {
        fs::read_to_string(&waiting_err)
            .unwrap_or_default()
            .contains("waiting for another imapdir run")
    });
    fs::write(&go, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = waiting.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "sync --wait never ended");
        thread::sleep(Duration::from_millis(20));
    };
    let log = fs::read_to_string(&waiting_err).unwrap_or_default();
    assert!(status.success(), "sync --wait: {status}\n--- stderr\n{log}");
    watch.assert_alive();
    assert_all_in_sync(&mut client, imapdir.maildir());
}
