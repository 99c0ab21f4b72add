//! Taking over a Maildir that the real mbsync (isync) or OfflineIMAP wrote:
//! the first imapdir sync must pair every message with its server copy
//! (from the tool's own records, else by content), transfer nothing that
//! both sides already hold, and sync only what changed since the tool's
//! last run.

mod common;

use common::peers::*;
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// Server folders (raw, modified UTF-7) and how both tools spell them on
/// disk: unchanged, `Entw&APw-rfe` and `Projects/bench &- co` included.
const FOLDERS: &[&str] = &[
    "INBOX",
    "Archive/2023",
    "Entw&APw-rfe",
    "Projects/bench &- co",
    "With Space",
];

/// Flags both tools map to Maildir letters; no `\Deleted` (mbsync's
/// `Expunge Both` would expunge it) and no keywords (mbsync drops them).
const FLAGS: &[&str] = &[
    "",
    "\\Seen",
    "\\Seen \\Flagged",
    "\\Answered \\Seen",
    "\\Draft",
    "\\Flagged",
    "\\Answered \\Flagged \\Seen",
    "\\Seen",
];

/// Messages seeded into folder number `k` of [`FOLDERS`].
fn seeded_count(k: usize) -> usize {
    10 + 2 * k + usize::from(k == 0) * 2
}

/// A generated message without its Message-ID header.
fn anonymous_message(i: usize, folder: &str) -> Vec<u8> {
    let text = String::from_utf8(generate_message(i, folder)).unwrap();
    text.split("\r\n")
        .filter(|l| !l.starts_with("Message-ID:"))
        .collect::<Vec<_>>()
        .join("\r\n")
        .into_bytes()
}

/// Two different messages sharing one Message-ID (a resent message).
fn twins() -> (Vec<u8>, Vec<u8>) {
    let make = |n: usize| {
        let text = String::from_utf8(generate_message(500 + n, "INBOX")).unwrap();
        text.replace(&generated_message_id(500 + n, "INBOX"), "<twin@test>")
            .into_bytes()
    };
    (make(0), make(1))
}

/// Seeds every folder of [`FOLDERS`]: mixed flags, the first two messages
/// of each without Message-ID, and in INBOX two with the same Message-ID.
fn seed_corpus(client: &mut ImapClient) {
    for (k, folder) in FOLDERS.iter().enumerate() {
        if *folder != "INBOX" {
            client.create(folder);
        }
        let plain = seeded_count(k) - usize::from(k == 0) * 2;
        for i in 0..plain {
            let body = if i < 2 {
                anonymous_message(i, folder)
            } else {
                generate_message(i, folder)
            };
            client.append(folder, FLAGS[i % FLAGS.len()], &body);
        }
    }
    let (a, b) = twins();
    client.append("INBOX", "\\Seen", &a);
    client.append("INBOX", "\\Flagged", &b);
}

/// Content with mbsync's `X-TUID` header left out, CRLF → LF: mbsync
/// adds the header to the copies it writes, never to the server's.
fn canonical(body: &[u8]) -> Vec<u8> {
    let body = normalize(body);
    let end = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(body.len(), |p| p + 1);
    let mut out = Vec::with_capacity(body.len());
    for line in body[..end].split_inclusive(|&c| c == b'\n') {
        if !line.to_ascii_lowercase().starts_with(b"x-tuid:") {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&body[end..]);
    out
}

/// A folder's messages as (canonical content, flag letters), sorted.
type View = Vec<(Vec<u8>, String)>;

fn server_view(client: &mut ImapClient, folder: &str) -> View {
    let mut v: View = client
        .fetch_all(folder)
        .iter()
        .map(|m| (canonical(&m.body), m.letters()))
        .collect();
    v.sort();
    v
}

fn local_view(root: &Path, dir: &str) -> View {
    let mut v: View = maildir_messages(root, dir)
        .iter()
        .map(|m| (canonical(&m.body), m.flags.clone()))
        .collect();
    v.sort();
    v
}

/// Asserts that every folder holds the same messages, with the same
/// flags, on both sides (`dir_of` maps a server folder to its directory).
fn assert_in_sync(client: &mut ImapClient, root: &Path, dir_of: &dyn Fn(&str) -> String) {
    for folder in FOLDERS {
        let server = server_view(client, folder);
        let local = local_view(root, &dir_of(folder));
        assert_eq!(
            server.len(),
            local.len(),
            "{folder}: {} server messages, {} local files",
            server.len(),
            local.len()
        );
        for ((s, sf), (l, lf)) in server.iter().zip(&local) {
            assert!(s == l, "{folder}: contents differ");
            assert_eq!(sf, lf, "{folder}: flags differ");
        }
    }
}

/// Both tools keep modified UTF-7 names on disk.
fn peer_dir(folder: &str) -> String {
    folder.to_string()
}

/// Message files (under cur/ and new/) by path, with their inodes: equal
/// listings mean nothing was downloaded again, renamed or removed.
fn file_inodes(root: &Path) -> BTreeMap<String, u64> {
    tree_listing(root)
        .into_iter()
        .filter(|(p, _)| p.contains("/cur/") || p.contains("/new/"))
        .collect()
}

/// Asserts two [`file_inodes`] listings are equal, showing only what
/// differs (a listing of a thousand files is unreadable).
fn assert_same_files(after: &BTreeMap<String, u64>, before: &BTreeMap<String, u64>, what: &str) {
    let gone: Vec<_> = before
        .iter()
        .filter(|(p, i)| after.get(*p) != Some(i))
        .collect();
    let new: Vec<_> = after
        .iter()
        .filter(|(p, i)| before.get(*p) != Some(i))
        .collect();
    assert!(
        gone.is_empty() && new.is_empty(),
        "{what}: {} files gone or changed, {} new or changed; first gone: {:?}; first new: {:?}",
        gone.len(),
        new.len(),
        &gone[..gone.len().min(8)],
        &new[..new.len().min(8)],
    );
}

/// The server after seeding and the Maildir after one full run of the
/// peer (`run_peer`), checked to be a complete copy.
fn seeded_and_peer_synced(
    run_peer: fn(&Dovecot, &Imapdir) -> String,
) -> (Dovecot, ImapClient, Imapdir, ServerSnapshot) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_corpus(&mut client);
    let seeded = client.snapshot();
    let imapdir = Imapdir::new(&dovecot);
    run_peer(&dovecot, &imapdir);
    assert_in_sync(&mut client, imapdir.maildir(), &peer_dir);
    (dovecot, client, imapdir, seeded)
}

/// The first imapdir sync after the peer's last run transfers nothing:
/// both sides are exactly as the peer left them, and stay so.
fn assert_adopted_without_transfer(
    client: &mut ImapClient,
    imapdir: &Imapdir,
    seeded: &ServerSnapshot,
) {
    let root = imapdir.maildir();
    let folders_before = maildir_folders(root);
    let list_before = client.list();
    let files_before = file_inodes(root);
    assert!(files_before.len() >= 70, "the peer wrote the Maildir");

    imapdir.sync_ok();

    assert!(
        client.snapshot() == *seeded,
        "the server holds exactly the seeded messages, UIDs and flags"
    );
    assert_eq!(client.list(), list_before, "no server folder created");
    assert_eq!(maildir_folders(root), folders_before, "no local folder");
    assert_same_files(
        &file_inodes(root),
        &files_before,
        "the peer's files are adopted as they are (names and inodes)",
    );
    assert_in_sync(client, root, &peer_dir);
    assert_noop_sync(imapdir, client);
}

#[test]
fn a_maildir_synced_by_mbsync_is_adopted_without_transfer() {
    let (_dovecot, mut client, imapdir, seeded) = seeded_and_peer_synced(run_mbsync);
    assert_adopted_without_transfer(&mut client, &imapdir, &seeded);
}

#[test]
fn a_maildir_synced_by_offlineimap_is_adopted_without_transfer() {
    let (_dovecot, mut client, imapdir, seeded) = seeded_and_peer_synced(run_offlineimap);
    assert_adopted_without_transfer(&mut client, &imapdir, &seeded);
}

/// mbsync's default `SyncState` keeps one file per folder in `~/.mbsync/`,
/// named `:far-store:box_:near-store:box` (`/` spelt `!`). The Maildir
/// UIDVALIDITY mbsync gives a new folder is the time, so folders created
/// in the same second share the NearUidValidity the files are found by.
#[test]
fn mbsync_state_kept_in_home_is_found_and_adopted_without_transfer() {
    let (_dovecot, mut client, imapdir, seeded) = seeded_and_peer_synced(run_mbsync_state_in_home);
    let states = fs::read_dir(imapdir.dir().join("home/.mbsync"))
        .unwrap()
        .count();
    assert!(
        states >= FOLDERS.len(),
        "one state file per folder in ~/.mbsync"
    );
    for folder in FOLDERS {
        let dir = imapdir.maildir().join(folder);
        assert!(
            !dir.join(".mbsyncstate").exists(),
            "{folder}: no state in the folder"
        );
    }
    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();
    for (k, folder) in FOLDERS.iter().enumerate() {
        assert!(
            first_meeting_line(&r.stdout, folder).starts_with(&format!(
                "first meeting: {} paired by peer records (mbsync), 0 by content",
                seeded_count(k)
            )),
            "{folder}:\n{}",
            r.stdout
        );
    }
    assert_adopted_without_transfer(&mut client, &imapdir, &seeded);
}

/// How imapdir names a folder in its output.
fn display_name(folder: &str) -> &str {
    match folder {
        "Entw&APw-rfe" => "Entwürfe",
        "Projects/bench &- co" => "Projects/bench & co",
        other => other,
    }
}

/// The line under `folder`'s heading in a dry run's output.
fn first_meeting_line<'a>(output: &'a str, folder: &str) -> &'a str {
    let heading = format!("{}:", display_name(folder));
    let mut lines = output.lines();
    lines
        .by_ref()
        .find(|l| l.trim() == heading)
        .unwrap_or_else(|| panic!("no heading {heading} in:\n{output}"));
    lines
        .find(|l| l.contains("first meeting:"))
        .unwrap_or_else(|| panic!("no first-meeting line for {folder} in:\n{output}"))
        .trim()
}

#[test]
fn dry_run_after_mbsync_pairs_every_message_by_its_records() {
    let (_dovecot, mut client, imapdir, seeded) = seeded_and_peer_synced(run_mbsync);
    let tree_before = tree_listing(imapdir.maildir());

    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();

    assert_eq!(tree_listing(imapdir.maildir()), tree_before, "dry run");
    assert!(client.snapshot() == seeded, "dry run: server untouched");
    for (k, folder) in FOLDERS.iter().enumerate() {
        assert_eq!(
            first_meeting_line(&r.stdout, folder),
            format!(
                "first meeting: {} paired by peer records (mbsync), 0 by content, \
                 0 local and 0 server messages not paired",
                seeded_count(k)
            ),
            "{folder}"
        );
    }
}

#[test]
fn without_mbsyncstate_the_x_tuid_copies_pair_by_content() {
    let (_dovecot, mut client, imapdir, seeded) = seeded_and_peer_synced(run_mbsync);
    let root = imapdir.maildir();
    let with_tuid = maildir_messages(root, "INBOX")
        .iter()
        .filter(|m| String::from_utf8_lossy(&m.body).contains("\nX-TUID: "))
        .count();
    assert!(with_tuid > 0, "mbsync's copies carry X-TUID");
    for folder in FOLDERS {
        fs::remove_file(root.join(folder).join(".mbsyncstate")).unwrap();
    }

    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();
    for (k, folder) in FOLDERS.iter().enumerate() {
        let line = first_meeting_line(&r.stdout, folder);
        assert!(
            line.contains(&format!(
                "{} by content, 0 local and 0 server messages not paired",
                seeded_count(k)
            )),
            "{folder}: {line}"
        );
    }

    assert_adopted_without_transfer(&mut client, &imapdir, &seeded);
    for folder in FOLDERS {
        let local = maildir_messages(root, folder);
        assert_no_duplicate_message_ids(
            local
                .iter()
                .map(|m| m.message_id())
                .filter(|id| id.as_deref() != Some("<twin@test>")),
            folder,
        );
    }
}

const PROJECTS: &str = "Projects/bench &- co";
const ENTWURFE: &str = "Entw&APw-rfe";

/// Changes on both sides after the peer's last run, one of each kind and
/// each in its own folder, then one imapdir sync: exactly those changes
/// are carried over, and nothing else moves on either side.
fn changes_after_the_peers_last_run_are_synced(
    run_peer: fn(&Dovecot, &Imapdir) -> String,
    peer: &str,
) {
    let (_dovecot, mut client, imapdir, _) = seeded_and_peer_synced(run_peer);
    let root = imapdir.maildir();
    let mid = generated_message_id;

    // Local: one file deleted, one flagged, one new.
    let inbox = maildir_messages(root, "INBOX");
    fs::remove_file(&find_by_message_id(&inbox, &mid(3, "INBOX")).path).unwrap();
    let archive = maildir_messages(root, "Archive/2023");
    let flagged = find_by_message_id(&archive, &mid(9, "Archive/2023"));
    assert!(flagged.name.ends_with(":2,S"), "{}", flagged.name);
    set_local_flags(flagged, "FS");
    let new_local = generate_message(200, PROJECTS);
    write_local_message(root, PROJECTS, "1800000000.M1P1.laptop", &new_local, None);

    // Server: one expunged, one marked \Seen, one new.
    let expunged = find_server_by_message_id(&client.fetch_all(ENTWURFE), &mid(4, ENTWURFE)).uid;
    client.expunge_uid(ENTWURFE, expunged);
    let seen = find_server_by_message_id(&client.fetch_all(PROJECTS), &mid(5, PROJECTS)).uid;
    client.store(PROJECTS, seen, "+FLAGS", "\\Seen");
    let new_server = generate_message(100, "With Space");
    client.append("With Space", "\\Answered", &new_server);

    // The dry run tells new messages from deleted ones.
    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();
    let count = |folder: &str| seeded_count(FOLDERS.iter().position(|f| *f == folder).unwrap());
    let deleted = "; 1 deleted on one side since the peer's last run";
    for (folder, paired, local, server, tail) in [
        ("INBOX", count("INBOX") - 1, 0, 0, deleted),
        ("Archive/2023", count("Archive/2023"), 0, 0, ""),
        (ENTWURFE, count(ENTWURFE) - 1, 0, 0, deleted),
        (PROJECTS, count(PROJECTS), 1, 0, ""),
        ("With Space", count("With Space"), 0, 1, ""),
    ] {
        assert_eq!(
            first_meeting_line(&r.stdout, folder),
            format!(
                "first meeting: {paired} paired by peer records ({peer}), 0 by content, \
                 {local} local and {server} server messages not paired{tail}"
            ),
            "{folder}"
        );
    }

    let server_before = client.snapshot();
    let local_before: BTreeMap<u64, String> = file_inodes(root)
        .into_iter()
        .map(|(path, ino)| (ino, path))
        .collect();
    let find_local =
        |folder: &str, id: &str| find_by_message_id(&maildir_messages(root, folder), id).inode();
    let expunged_inode = find_local(ENTWURFE, &mid(4, ENTWURFE));
    let seen_inode = find_local(PROJECTS, &mid(5, PROJECTS));

    imapdir.sync_ok();

    // The server: the local deletion and flag, the local new message.
    let mut expected = server_before.clone();
    expected
        .get_mut("INBOX")
        .unwrap()
        .1
        .retain(|m| m.message_id().as_deref() != Some(mid(3, "INBOX").as_str()));
    for m in &mut expected.get_mut("Archive/2023").unwrap().1 {
        if m.message_id().as_deref() == Some(mid(9, "Archive/2023").as_str()) {
            m.flags.push("\\Flagged".into());
            m.flags.sort();
        }
    }
    let server_after = client.snapshot();
    assert_eq!(
        server_after.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "no server folder created or deleted"
    );
    for (folder, (uidvalidity, msgs)) in &server_after {
        let (expected_uidvalidity, expected_msgs) = &expected[folder];
        assert_eq!(uidvalidity, expected_uidvalidity, "{folder}: UIDVALIDITY");
        let last_uid = server_before[folder].1.last().map_or(0, |m| m.uid);
        let (old, new): (Vec<Msg>, Vec<Msg>) =
            msgs.iter().cloned().partition(|m| m.uid <= last_uid);
        assert!(
            old == *expected_msgs,
            "{folder}: the server changed beyond the local deletion and flag"
        );
        let new: Vec<Vec<u8>> = new.iter().map(|m| normalize(&m.body)).collect();
        if folder == PROJECTS {
            assert_eq!(new, vec![normalize(&new_local)], "{folder}: uploaded once");
        } else {
            assert!(new.is_empty(), "{folder}: nothing uploaded");
        }
    }

    // The Maildir: the server's expunge, flag and new message; every
    // other file keeps its name and inode.
    let local_after = file_inodes(root);
    let after_by_inode: BTreeMap<u64, String> =
        local_after.iter().map(|(p, i)| (*i, p.clone())).collect();
    for (ino, path) in &local_before {
        if *ino == expunged_inode {
            assert!(!after_by_inode.contains_key(ino), "{path} not removed");
        } else if *ino == seen_inode {
            let now = &after_by_inode[ino];
            assert!(now.ends_with(":2,FS"), "{path} → {now}: \\Seen not added");
        } else if path.contains("1800000000.M1P1.laptop") {
            assert!(after_by_inode.contains_key(ino), "{path} replaced");
        } else {
            assert_eq!(after_by_inode.get(ino), Some(path), "{path} changed");
        }
    }
    let downloaded: Vec<&String> = after_by_inode
        .iter()
        .filter(|(ino, _)| !local_before.contains_key(ino))
        .map(|(_, p)| p)
        .collect();
    assert_eq!(downloaded.len(), 1, "one download: {downloaded:?}");
    assert!(downloaded[0].starts_with("With Space/"), "{downloaded:?}");
    let body = fs::read(root.join(downloaded[0])).unwrap();
    assert_eq!(normalize(&body), normalize(&new_server));
    assert!(downloaded[0].ends_with(":2,R"), "{downloaded:?}");

    assert_in_sync(&mut client, root, &peer_dir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn changes_after_mbsyncs_last_run_are_synced_and_nothing_else() {
    changes_after_the_peers_last_run_are_synced(run_mbsync, "mbsync");
}

/// mbsync's default `SyncState`: every folder's state in `~/.mbsync/`,
/// where folders created in the same second share a NearUidValidity.
#[test]
fn changes_after_mbsyncs_last_run_are_synced_with_its_state_in_home() {
    changes_after_the_peers_last_run_are_synced(run_mbsync_state_in_home, "mbsync");
}

#[test]
fn changes_after_offlineimaps_last_run_are_synced_and_nothing_else() {
    changes_after_the_peers_last_run_are_synced(run_offlineimap, "OfflineIMAP");
}

/// Appends generated messages `indices` of `folder` in one MULTIAPPEND
/// with non-synchronizing literals: one round trip instead of one each.
fn append_many(client: &mut ImapClient, folder: &str, indices: &[usize]) {
    let mut command = format!("APPEND \"{folder}\"");
    for &i in indices {
        let body = String::from_utf8(generate_message(i, folder)).unwrap();
        let flags = FLAGS[i % FLAGS.len()];
        command.push_str(&format!(" ({flags}) {{{}+}}\r\n{body}", body.len()));
    }
    client.command(&command);
}

/// Waits until the server has `n` IMAP sessions (per `doveadm who`).
fn wait_for_sessions(dovecot: &Dovecot, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let who = dovecot.doveadm_ok(&["who"]);
        let sessions: usize = who
            .lines()
            .filter(|l| l.starts_with(USER))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<usize>().ok())
            .sum();
        if sessions == n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {sessions} sessions:\n{who}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Counts the message files mbsync has delivered into a folder so far.
fn delivered(dir: &Path) -> usize {
    ["cur", "new"]
        .iter()
        .map(|sub| fs::read_dir(dir.join(sub)).map_or(0, |d| d.count()))
        .sum()
}

#[test]
fn mbsync_killed_with_its_journal_left_is_completed_without_duplicates() {
    const BIG: usize = 1500;
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..5);
    client.create("Big");
    for chunk in (0..BIG).collect::<Vec<_>>().chunks(250) {
        append_many(&mut client, "Big", chunk);
    }
    let server_before = client.snapshot();
    let imapdir = Imapdir::new(&dovecot);
    let big = imapdir.maildir().join("Big");
    let journal = big.join(".mbsyncstate.journal");

    // Killed while it downloads Big: its journal has records the state
    // file does not, and files it wrote are not in either.
    let mut mbsync = spawn_mbsync(&imapdir, dovecot.imap_port());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if journal.exists() && delivered(&big) >= 200 {
            mbsync.kill().unwrap();
            mbsync.wait().unwrap();
            break;
        }
        if let Some(status) = mbsync.try_wait().unwrap() {
            panic!("mbsync ended ({status}) before it could be interrupted");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mbsync made no progress"
        );
        std::thread::yield_now();
    }
    assert!(journal.exists(), "mbsync's journal is left behind");
    wait_for_sessions(&dovecot, 1);
    let files_before = file_inodes(imapdir.maildir());
    let big_before = delivered(&big);
    assert!(
        big_before < BIG,
        "interrupted: {big_before} of {BIG} stored"
    );

    imapdir.sync_ok();

    assert!(
        client.snapshot() == server_before,
        "nothing uploaded, expunged or flagged on the server"
    );
    let files_after = file_inodes(imapdir.maildir());
    for (path, ino) in &files_before {
        assert_eq!(files_after.get(path), Some(ino), "{path} downloaded again");
    }
    assert_eq!(
        delivered(&big),
        BIG,
        "{big_before} kept, {} downloaded",
        BIG - big_before
    );
    for folder in ["INBOX", "Big"] {
        let server = client.fetch_all(folder);
        let local = maildir_messages(imapdir.maildir(), folder);
        assert_no_duplicate_message_ids(server.iter().map(|m| m.message_id()), folder);
        assert_no_duplicate_message_ids(local.iter().map(|m| m.message_id()), folder);
        assert_eq!(
            server_view(&mut client, folder),
            local_view(imapdir.maildir(), folder),
            "{folder}: in sync"
        );
    }
    assert_noop_sync(&imapdir, &mut client);
}

/// Writes `count` local messages into INBOX that the server has never
/// seen (their own Message-IDs), as a Maildir from elsewhere would hold.
fn unrelated_local_messages(root: &Path, count: usize) {
    for i in 0..count {
        write_local_message(
            root,
            "INBOX",
            &format!("1700000000.M{i}P1.oldbox"),
            &generate_message(i, "Elsewhere"),
            Some("S"),
        );
    }
}

#[test]
fn first_copy_guard_refuses_two_unrelated_sides_until_approved() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append_many(&mut client, "INBOX", &(0..30).collect::<Vec<_>>());
    let imapdir = Imapdir::new(&dovecot);
    unrelated_local_messages(imapdir.maildir(), 30);
    let tree_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();

    let r = imapdir.run(&["sync"]);
    r.expect_code(1);
    let output = r.all_output();
    assert!(output.contains("`imapdir approve test INBOX`"), "{output}");
    assert!(output.contains("30 of 30"), "{output}");
    assert!(output.contains("only 0 pair up"), "{output}");
    assert_eq!(tree_listing(imapdir.maildir()), tree_before, "nothing here");
    assert!(client.snapshot() == server_before, "nothing on the server");

    imapdir.run_suggested(&output).expect_success();
    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 60);
    assert_eq!(maildir_messages(imapdir.maildir(), "INBOX").len(), 60);
    assert_eq!(
        server_view(&mut client, "INBOX"),
        local_view(imapdir.maildir(), "INBOX")
    );
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn allow_first_copy_merges_two_unrelated_sides_for_one_run() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append_many(&mut client, "INBOX", &(0..30).collect::<Vec<_>>());
    let imapdir = Imapdir::new(&dovecot);
    unrelated_local_messages(imapdir.maildir(), 30);
    imapdir
        .run(&["sync", "--allow-first-copy"])
        .expect_success();
    assert_eq!(client.fetch_all("INBOX").len(), 60);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_few_unrelated_local_messages_do_not_trip_the_first_copy_guard() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    append_many(&mut client, "INBOX", &(0..30).collect::<Vec<_>>());
    let imapdir = Imapdir::new(&dovecot);
    unrelated_local_messages(imapdir.maildir(), 3);

    imapdir.sync_ok();
    assert_eq!(client.fetch_all("INBOX").len(), 33);
    assert_eq!(
        server_view(&mut client, "INBOX"),
        local_view(imapdir.maildir(), "INBOX")
    );
}

/// The UTF-8 spelling `local_names = "utf-8"` gives a directory.
fn utf8_dir(folder: &str) -> String {
    display_name(folder).to_string()
}

#[test]
fn local_names_utf8_renames_mbsyncs_directories_once_without_transfer() {
    let (_dovecot, mut client, mut imapdir, seeded) = seeded_and_peer_synced(run_mbsync);
    let root = imapdir.maildir().to_path_buf();
    imapdir.account.extra.push("local_names = \"utf-8\"".into());
    let list_before = client.list();
    let renamed = |path: &str| {
        path.replacen("Entw&APw-rfe/", "Entwürfe/", 1).replacen(
            "Projects/bench &- co/",
            "Projects/bench & co/",
            1,
        )
    };
    let expected_files: BTreeMap<String, u64> = file_inodes(&root)
        .into_iter()
        .map(|(path, ino)| (renamed(&path), ino))
        .collect();

    let tree_before = tree_listing(&root);
    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();
    assert!(
        r.stdout.contains("Entw&APw-rfe") && r.stdout.contains("bench &- co"),
        "the dry run lists the renames:\n{}",
        r.stdout
    );
    assert_eq!(tree_listing(&root), tree_before, "dry run");

    imapdir.sync_ok();

    assert_eq!(
        maildir_folders(&root),
        FOLDERS.iter().map(|f| utf8_dir(f)).collect(),
        "renamed to their UTF-8 names"
    );
    assert_same_files(
        &file_inodes(&root),
        &expected_files,
        "moved with their directories, nothing downloaded",
    );
    assert!(client.snapshot() == seeded, "nothing on the server");
    assert_eq!(client.list(), list_before, "no server folder created");
    assert_in_sync(&mut client, &root, &utf8_dir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn mbsync_killed_while_uploading_is_completed_without_duplicates() {
    const BIG: usize = 600;
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let imapdir = Imapdir::new(&dovecot);
    let root = imapdir.maildir();
    make_local_folder(root, "INBOX");
    for i in 0..BIG {
        let letters = imap_flags_to_letters(&FLAGS[i % FLAGS.len()].split(' ').collect::<Vec<_>>());
        write_local_message(
            root,
            "Big",
            &format!("1700000000.M{i}P1.oldbox"),
            &generate_message(i, "Big"),
            Some(&letters),
        );
    }
    let big = root.join("Big");
    let journal = big.join(".mbsyncstate.journal");
    let server_big = dovecot.mail_dir().join("Big");

    // Killed while it uploads Big: some copies are on the server, with
    // the X-TUID mbsync adds to find them, and not in its records.
    let mut mbsync = spawn_mbsync(&imapdir, dovecot.imap_port());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if journal.exists() && delivered(&server_big) >= 100 {
            mbsync.kill().unwrap();
            mbsync.wait().unwrap();
            break;
        }
        if let Some(status) = mbsync.try_wait().unwrap() {
            panic!("mbsync ended ({status}) before it could be interrupted");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mbsync made no progress"
        );
        std::thread::yield_now();
    }
    assert!(journal.exists(), "mbsync's journal is left behind");
    // Dovecot goes on with the APPENDs mbsync had already sent until it
    // reads the end of the connection: only then is the server settled.
    wait_for_sessions(&dovecot, 1);
    let uploaded = client.fetch_all("Big");
    assert!(
        uploaded
            .iter()
            .any(|m| m.body.windows(8).any(|w| w == b"X-TUID: ")),
        "mbsync's uploads carry X-TUID"
    );
    let uploaded = uploaded.len();
    assert!(uploaded < BIG, "interrupted: {uploaded} of {BIG} uploaded");
    let files_before = file_inodes(root);

    imapdir.sync_ok();

    let server = client.fetch_all("Big");
    assert_no_duplicate_message_ids(server.iter().map(|m| m.message_id()), "server Big");
    assert_eq!(server.len(), BIG, "{uploaded} kept, the rest uploaded once");
    // Files imapdir uploaded are renamed to carry the server's UID; none
    // is replaced by a download.
    let inodes = |files: &BTreeMap<String, u64>| files.values().copied().collect::<Vec<_>>();
    let (mut before, mut after) = (inodes(&files_before), inodes(&file_inodes(root)));
    before.sort_unstable();
    after.sort_unstable();
    assert!(before == after, "every file kept, nothing downloaded");
    assert_eq!(server_view(&mut client, "Big"), local_view(root, "Big"));
    assert_noop_sync(&imapdir, &mut client);
}
