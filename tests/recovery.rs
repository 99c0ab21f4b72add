//! Lost, replaced or corrupt state, and Maildirs written by other tools:
//! the state is rebuilt by pairing messages by content, with no duplicates
//! on either side and nothing deleted.

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

/// Writes the server's messages into a Maildir as another tool would have
/// (LF line endings, `,U=` names in that tool's style, same flags).
fn write_foreign_maildir(
    client: &mut ImapClient,
    root: &Path,
    folder: &str,
    name: &dyn Fn(usize, u32) -> String,
    extra_files: &[&str],
) {
    let dir = make_local_folder(root, &local_folder(folder));
    for f in extra_files {
        fs::write(dir.join(f), "tool's own bookkeeping\n").unwrap();
    }
    for (i, m) in client.fetch_all(folder).iter().enumerate() {
        let letters = m.letters();
        let sub = if letters.is_empty() { "new" } else { "cur" };
        let file = if letters.is_empty() {
            name(i, m.uid)
        } else {
            format!("{}:2,{letters}", name(i, m.uid))
        };
        fs::write(dir.join(sub).join(file), normalize(&m.body)).unwrap();
    }
}

fn adopt_foreign_maildir(name: &dyn Fn(usize, u32) -> String, extra_files: &[&str]) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    for folder in ["INBOX", "Archive/2023"] {
        seed_folder(&mut client, folder, 0..8);
        let (a, b) = anonymous_twins(folder);
        client.append(folder, "\\Seen", &a);
        client.append(folder, "\\Seen", &b);
    }
    let imapdir = Imapdir::new(&dovecot);
    for folder in ["INBOX", "Archive/2023"] {
        write_foreign_maildir(&mut client, imapdir.maildir(), folder, name, extra_files);
    }
    // Written by the old tool but never uploaded: a UID in its name that
    // the server gave to a different message (a hint, not a fact).
    let stray = format!("{}:2,S", name(99, 3));
    fs::write(
        imapdir.maildir().join("INBOX/cur").join(&stray),
        normalize(&generate_message(77, "INBOX")),
    )
    .unwrap();
    // And one new on the server since the old tool last ran.
    seed_folder(&mut client, "INBOX", 20..21);
    let inodes_before: std::collections::BTreeMap<String, u64> =
        maildir_messages(imapdir.maildir(), "INBOX")
            .iter()
            .map(|m| {
                (
                    String::from_utf8_lossy(&normalize(&m.body)).into_owned(),
                    m.inode(),
                )
            })
            .collect();

    imapdir.sync_ok();
    for folder in ["INBOX", "Archive/2023"] {
        assert_same_contents(&mut client, imapdir.maildir(), folder);
    }
    assert_eq!(client.fetch_all("INBOX").len(), 8 + 2 + 1 + 1);
    assert_eq!(client.fetch_all("Archive/2023").len(), 10);
    // Adopted, not downloaded again: the old tool's files keep their inodes.
    let after = maildir_messages(imapdir.maildir(), "INBOX");
    for m in &after {
        let key = String::from_utf8_lossy(&normalize(&m.body)).into_owned();
        if let Some(ino) = inodes_before.get(&key) {
            assert_eq!(*ino, m.inode(), "{} was rewritten", m.name);
        }
    }
    for f in extra_files {
        assert!(imapdir.maildir().join("INBOX").join(f).exists());
    }
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_maildir_written_by_mbsync_is_adopted_without_duplicates() {
    adopt_foreign_maildir(
        &|i, uid| format!("17000000{i:02}.{}_1.oldhost,U={uid}", 1000 + i),
        &[".uidvalidity", ".mbsyncstate"],
    );
}

#[test]
fn a_maildir_written_by_offlineimap_is_adopted_without_duplicates() {
    adopt_foreign_maildir(
        &|i, uid| {
            format!(
                "17000000{i:02}_0.{}.oldhost,U={uid},FMD5=0123456789abcdef0123456789abcdef",
                2000 + i
            )
        },
        &[],
    );
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
