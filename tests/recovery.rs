//! Lost, replaced or corrupt state: the state is rebuilt by pairing
//! messages by content, with no duplicates on either side and nothing
//! deleted. (Maildirs written by other tools: tests/adoption.rs.)

mod common;

use common::*;
use std::fs;
use std::path::Path;

/// A generated message without its Message-ID header.
fn anonymous_message(i: usize, folder: &str) -> Vec<u8> {
    let text = String::from_utf8(generate_message(i, folder)).unwrap();
    text.lines()
        .filter(|l| !l.starts_with("Message-ID:"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .replace('\n', "\r\n")
        .replace("\r\r\n", "\r\n")
        .into_bytes()
}

/// Two different messages of the same size, both without a Message-ID.
fn anonymous_twins(folder: &str) -> (Vec<u8>, Vec<u8>) {
    let a = anonymous_message(900, folder);
    let mut b = a.clone();
    let at = b.len() - 10;
    b[at] = if b[at] == b'x' { b'y' } else { b'x' };
    assert_eq!(a.len(), b.len());
    assert_ne!(a, b);
    (a, b)
}

fn remove_state(state: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = state.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(p);
    }
}

/// Server and local contents of a folder, compared as multisets (works for
/// messages without a Message-ID too).
fn assert_same_contents(client: &mut ImapClient, root: &Path, folder: &str) {
    let server = client.fetch_all(folder);
    let local = maildir_messages(root, &local_folder(folder));
    assert_eq!(server.len(), local.len(), "{folder}: message counts differ");
    assert!(
        server_contents(&server) == local_contents(&local),
        "{folder}: contents differ"
    );
    for (content, n) in server_contents(&server) {
        assert_eq!(
            n,
            1,
            "{folder}: a message is on the server {n} times: {}",
            String::from_utf8_lossy(&content[..60.min(content.len())])
        );
    }
}

#[test]
fn deleted_state_is_rebuilt_by_content_without_duplicates_or_deletions() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 6);
    let (a, b) = anonymous_twins("INBOX");
    client.append("INBOX", "\\Seen", &a);
    client.append("INBOX", "", &b);
    client.append("INBOX", "\\Flagged", &anonymous_message(901, "INBOX"));
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    // A message without Message-ID added locally is uploaded, too.
    write_local_message(
        imapdir.maildir(),
        "Archive/2023",
        "1700000000.local1.host",
        &anonymous_message(902, "Archive/2023"),
        Some("S"),
    );
    imapdir.sync_ok();

    let local_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();
    remove_state(imapdir.state_file());

    let r = imapdir.sync_ok();
    assert!(!r.all_output().contains("panicked"), "{}", r.all_output());
    assert_eq!(
        tree_listing(imapdir.maildir()),
        local_before,
        "nothing downloaded, renamed or deleted locally"
    );
    assert!(
        client.snapshot() == server_before,
        "nothing uploaded, flagged or expunged on the server"
    );
    for folder in STANDARD_FOLDERS {
        assert_same_contents(&mut client, imapdir.maildir(), folder);
    }
    // The rebuilt state works: changes on both sides flow again.
    seed_folder(&mut client, "INBOX", 50..51);
    write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1700000001.local2.host",
        &generate_message(51, "INBOX"),
        None,
    );
    imapdir.sync_ok();
    assert_same_contents(&mut client, imapdir.maildir(), "INBOX");
    assert_eq!(client.fetch_all("INBOX").len(), 6 + 3 + 2);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn corrupt_state_is_reported_and_moving_it_aside_rebuilds_it() {
    let (_dovecot, mut client, imapdir) = synced_standard(6);
    let state = imapdir.state_file().to_path_buf();
    let good = fs::read(&state).unwrap();
    assert!(good.len() > 4096, "state has several pages");
    let local_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();

    let truncated = good[..good.len() / 2].to_vec();
    let mut garbage = good.clone();
    for (i, byte) in garbage.iter_mut().enumerate().skip(100) {
        *byte = (i * 7 % 251) as u8;
    }
    for (what, damaged) in [("truncated", truncated), ("garbage", garbage)] {
        fs::write(&state, &damaged).unwrap();
        let r = imapdir.run(&["sync"]);
        r.expect_code(1);
        assert!(
            r.stderr.contains("damaged") && r.stderr.contains("mv "),
            "{what}: the error says what to do: {}",
            r.stderr
        );
        assert_eq!(
            fs::read(&state).unwrap(),
            damaged,
            "{what}: never recreated"
        );
        assert_eq!(tree_listing(imapdir.maildir()), local_before, "{what}");
        assert!(
            client.snapshot() == server_before,
            "{what}: server untouched"
        );
    }

    // What the message says: move it aside and run again.
    let mut aside = state.as_os_str().to_owned();
    aside.push(".broken");
    fs::rename(&state, &aside).unwrap();
    imapdir.sync_ok();
    assert_eq!(
        tree_listing(imapdir.maildir()),
        local_before,
        "rebuilt without downloading again"
    );
    assert!(client.snapshot() == server_before, "no duplicates uploaded");
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}
