//! imapdir stopped and continued (SIGSTOP, SIGCONT) every few
//! milliseconds, as a suspended laptop, Ctrl-Z then `fg`, a debugger or a
//! paused container does. On Linux that makes blocking socket calls with a
//! timeout fail with EINTR even without signal handlers: the TCP connect,
//! the TLS handshake, every read and write; and every wait on a child
//! (hooks, the password command) is interrupted too. Every run must still
//! succeed and leave both sides equal.

mod common;

use common::*;
use std::fs;

/// Folders beyond the standard corpus, so that several connections work
/// at once for a while.
const MORE_FOLDERS: &[&str] = &["Lists/rust", "Lists/dovecot", "Sent"];
const PER_FOLDER: usize = 150;
const PER_MORE_FOLDER: usize = 80;

fn seeded_server() -> (Dovecot, ImapClient) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, PER_FOLDER);
    for folder in MORE_FOLDERS {
        seed_folder(&mut client, folder, 0..PER_MORE_FOLDER);
    }
    (dovecot, client)
}

/// Runs `sync` under a storm of stops; it must exit 0.
fn stormed_sync(imapdir: &mut Imapdir, what: &str) {
    let (result, stopper) = imapdir.run_alongside(&["sync"], Stopper::rapid);
    let stops = stopper.finish();
    eprintln!("{what}: stopped {stops} times");
    assert!(
        !result.all_output().contains("panicked"),
        "{what}: {}",
        result.all_output()
    );
    result.expect_success();
    assert!(stops > 0, "{what}: the run was never stopped");
}

/// Changes on both sides for the second sync: new messages, flags and
/// deletions.
fn change_both_sides(client: &mut ImapClient, imapdir: &Imapdir) {
    for i in 0..10 {
        client.append("INBOX", "", &generate_message(500 + i, "INBOX"));
    }
    let inbox = client.fetch_all("INBOX");
    for m in inbox.iter().take(10) {
        client.store("INBOX", m.uid, "+FLAGS", "\\Flagged");
    }
    let sent = client.fetch_all("Sent");
    for m in sent.iter().take(5) {
        client.expunge_uid("Sent", m.uid);
    }
    let root = imapdir.maildir();
    for i in 0..10 {
        let body = generate_message(600 + i, "Archive/2023");
        write_local_message(root, "Archive/2023", &format!("local.{i}"), &body, None);
    }
    for m in maildir_messages(root, "Été").iter().take(10) {
        set_local_flags(m, "FRS");
    }
    for m in maildir_messages(root, "Lists/rust").iter().take(5) {
        fs::remove_file(&m.path).unwrap();
    }
}

#[test]
fn a_sync_stopped_and_continued_over_and_over_succeeds_and_converges() {
    let (dovecot, mut client) = seeded_server();
    let mut imapdir = Imapdir::with_jobs(&dovecot, 4);

    stormed_sync(&mut imapdir, "first sync");
    assert_all_in_sync(&mut client, imapdir.maildir());

    // This run also waits on children: the password command and hooks.
    let password = imapdir.password_file();
    imapdir.account.password_command = Some(format!("sleep 0.1; cat '{}'", password.display()));
    let hooked = imapdir.dir().join("hooks-ran");
    imapdir.account.extra.extend([
        "pre_sync_command = \"sleep 0.2\"".to_string(),
        format!(
            "post_sync_command = \"sleep 0.2; touch '{}'\"",
            hooked.display()
        ),
    ]);
    change_both_sides(&mut client, &imapdir);
    stormed_sync(&mut imapdir, "change sync");
    assert!(hooked.exists(), "the post-sync hook ran to its end");
    assert_all_in_sync(&mut client, imapdir.maildir());

    // Lost state: every local file is paired again with its server copy.
    let state = imapdir.state_file().to_path_buf();
    for suffix in ["", "-wal", "-shm"] {
        let mut p = state.clone().into_os_string();
        p.push(suffix);
        let _ = fs::remove_file(p);
    }
    stormed_sync(&mut imapdir, "lost-state rebuild");
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}
