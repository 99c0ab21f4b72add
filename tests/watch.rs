//! `imapdir watch` against a real Dovecot: server changes arrive through
//! IDLE, Maildir changes reach the server, a server restart is survived,
//! and SIGTERM ends the run cleanly.

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
