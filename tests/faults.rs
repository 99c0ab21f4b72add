//! Network faults between imapdir and the server, injected by a TCP proxy:
//! cuts in the middle of a FETCH body, an APPEND literal, a STORE and an
//! EXPUNGE, a stall and a BYE. The folder fails cleanly (exit 1), the
//! others go on, and the next run converges without downloading again what
//! was already made durable.

mod common;

use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

/// A server with the standard corpus, a proxy in front of its plaintext
/// port, and an account (one job, 3 s timeout) going through the proxy.
fn setup(per_folder: usize) -> (Dovecot, ImapClient, FaultProxy, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, per_folder);
    let proxy = FaultProxy::start(dovecot.imap_port());
    let mut imapdir = Imapdir::with_jobs(&dovecot, 1);
    imapdir.account.host = "127.0.0.1".into();
    imapdir.account.port = proxy.port();
    imapdir.account.tls = "plain".into();
    imapdir.account.allow_plaintext = true;
    imapdir.account.ca_file = None;
    imapdir.account.extra.push("timeout = 3".into());
    (dovecot, client, proxy, imapdir)
}

/// Inode of every local file by (folder, Message-ID).
fn inodes(imapdir: &Imapdir) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for folder in STANDARD_FOLDERS {
        let f = local_folder(folder);
        for m in maildir_messages(imapdir.maildir(), &f) {
            out.insert((f.clone(), m.message_id().unwrap()), m.inode());
        }
    }
    out
}

/// Every file present in `before` is still there with the same inode.
fn assert_kept(before: &BTreeMap<(String, String), u64>, imapdir: &Imapdir) {
    let after = inodes(imapdir);
    for (key, ino) in before {
        assert_eq!(
            after.get(key),
            Some(ino),
            "{key:?} was removed or downloaded again"
        );
    }
}

fn new_on_server(client: &mut ImapClient, n: usize) {
    for folder in STANDARD_FOLDERS {
        seed_folder(client, folder, 100..100 + n);
    }
}

/// Runs a faulty sync: exit 1, the fault fired, one folder named as failed.
fn faulty_sync(proxy: &FaultProxy, imapdir: &Imapdir, fault: Fault) -> RunResult {
    proxy.arm(fault);
    let r = imapdir.run(&["sync"]);
    proxy.disarm();
    assert!(proxy.fired(), "the fault never fired:\n{}", r.stderr);
    r.expect_code(1);
    assert!(!r.all_output().contains("panicked"), "{}", r.all_output());
    let failed = lines_mentioning(&r.stderr, "folder");
    assert_eq!(failed.len(), 1, "exactly one folder failed:\n{}", r.stderr);
    r
}

/// After the fault: how many folders already hold all their new messages.
fn folders_complete(client: &mut ImapClient, imapdir: &Imapdir) -> usize {
    STANDARD_FOLDERS
        .iter()
        .filter(|f| {
            client.fetch_all(f).len() == maildir_messages(imapdir.maildir(), &local_folder(f)).len()
        })
        .count()
}

fn converge(client: &mut ImapClient, imapdir: &Imapdir) {
    imapdir.sync_ok();
    assert_all_in_sync(client, imapdir.maildir());
    assert_noop_sync(imapdir, client);
}

#[test]
fn cut_in_the_middle_of_a_fetch_body() {
    let (_dovecot, mut client, proxy, imapdir) = setup(6);
    imapdir.sync_ok();
    let durable = inodes(&imapdir);
    new_on_server(&mut client, 4);

    faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ServerToClient, "BODY[] {", 120, Action::Cut),
    );
    assert_kept(&durable, &imapdir);
    assert_eq!(
        folders_complete(&mut client, &imapdir),
        STANDARD_FOLDERS.len() - 1,
        "the other folders went on"
    );
    let after_fault = inodes(&imapdir);
    for folder in STANDARD_FOLDERS {
        let tmp = imapdir.maildir().join(local_folder(folder)).join("tmp");
        assert_eq!(
            fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0),
            0,
            "{folder}: no debris left in tmp/"
        );
    }

    converge(&mut client, &imapdir);
    assert_kept(&after_fault, &imapdir);
}

#[test]
fn stalled_server_times_out_and_the_next_run_converges() {
    let (_dovecot, mut client, proxy, imapdir) = setup(5);
    imapdir.sync_ok();
    let durable = inodes(&imapdir);
    new_on_server(&mut client, 3);

    let started = Instant::now();
    let r = faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ServerToClient, "BODY[] {", 80, Action::Stall),
    );
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "a stall is bounded by the timeout"
    );
    assert!(
        r.stderr.to_lowercase().contains("timed out"),
        "the error says why: {}",
        r.stderr
    );
    assert_kept(&durable, &imapdir);
    assert_eq!(
        folders_complete(&mut client, &imapdir),
        STANDARD_FOLDERS.len() - 1
    );
    let after_fault = inodes(&imapdir);
    converge(&mut client, &imapdir);
    assert_kept(&after_fault, &imapdir);
}

#[test]
fn bye_in_answer_to_a_fetch_fails_one_folder() {
    let (_dovecot, mut client, proxy, imapdir) = setup(5);
    imapdir.sync_ok();
    let durable = inodes(&imapdir);
    new_on_server(&mut client, 2);
    let r = faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ClientToServer, "UID FETCH", 0, Action::Bye),
    );
    assert!(
        r.stderr.contains("BYE") || r.stderr.contains("closed"),
        "{}",
        r.stderr
    );
    assert_kept(&durable, &imapdir);
    let after_fault = inodes(&imapdir);
    converge(&mut client, &imapdir);
    assert_kept(&after_fault, &imapdir);
}

/// Local messages big enough that a cut lands inside the APPEND literal.
fn new_locally(imapdir: &Imapdir, n: usize) {
    for folder in STANDARD_FOLDERS {
        for i in 0..n {
            let mut body = generate_message(200 + i, folder);
            body.extend(b"padding line to make the literal long\r\n".repeat(40));
            write_local_message(
                imapdir.maildir(),
                &local_folder(folder),
                &format!("1700000000.up{i}.host"),
                &body,
                Some("S"),
            );
        }
    }
}

#[test]
fn cut_in_the_middle_of_an_append_literal() {
    let (_dovecot, mut client, proxy, imapdir) = setup(4);
    imapdir.sync_ok();
    let durable = inodes(&imapdir);
    new_locally(&imapdir, 3);
    faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ClientToServer, "APPEND ", 600, Action::Cut),
    );
    assert_kept(&durable, &imapdir);
    converge(&mut client, &imapdir);
    assert_kept(&durable, &imapdir);
}

#[test]
fn cut_after_the_server_stored_an_append_but_before_it_answered() {
    let (_dovecot, mut client, proxy, imapdir) = setup(4);
    imapdir.sync_ok();
    new_locally(&imapdir, 3);
    // The server has the message; imapdir never hears its UID.
    faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ServerToClient, "[APPENDUID", 0, Action::Cut),
    );
    // The next run finds it on the server instead of sending it twice.
    converge(&mut client, &imapdir);
}

#[test]
fn cut_in_the_middle_of_a_store() {
    let (_dovecot, mut client, proxy, imapdir) = setup(6);
    imapdir.sync_ok();
    for folder in STANDARD_FOLDERS {
        for m in maildir_messages(imapdir.maildir(), &local_folder(folder)) {
            let letters = if m.flags.contains('F') {
                m.flags.replace('F', "")
            } else {
                format!("{}F", m.flags)
            };
            set_local_flags(&m, &letters);
        }
    }
    let durable = inodes(&imapdir);
    faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ClientToServer, "UID STORE", 6, Action::Cut),
    );
    converge(&mut client, &imapdir);
    assert_kept(&durable, &imapdir);
    // The local flag changes won.
    for m in client.fetch_all("INBOX") {
        let i: usize = m.message_id().unwrap()[1..]
            .split('.')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let seeded_flagged = FLAG_CYCLE[i % FLAG_CYCLE.len()].contains("Flagged");
        assert_eq!(m.letters().contains('F'), !seeded_flagged, "{:?}", m.flags);
    }
}

#[test]
fn cut_when_the_server_reports_an_expunge() {
    let (_dovecot, mut client, proxy, imapdir) = setup(10);
    imapdir.sync_ok();
    let mut removed = Vec::new();
    for folder in STANDARD_FOLDERS {
        for m in maildir_messages(imapdir.maildir(), &local_folder(folder))
            .iter()
            .take(2)
        {
            removed.push(m.message_id().unwrap());
            fs::remove_file(&m.path).unwrap();
        }
    }
    // The server expunges, imapdir never hears it (with QRESYNC enabled
    // the server reports expunges as VANISHED).
    faulty_sync(
        &proxy,
        &imapdir,
        Fault::new(Dir::ServerToClient, "* VANISHED ", 0, Action::Cut),
    );
    converge(&mut client, &imapdir);
    for folder in STANDARD_FOLDERS {
        for m in client.fetch_all(folder) {
            assert!(!removed.contains(&m.message_id().unwrap()));
        }
    }
    assert_eq!(client.fetch_all("INBOX").len(), 8);
}
