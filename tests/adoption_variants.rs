//! Switching from mbsync or OfflineIMAP, in setups beside those of
//! tests/adoption.rs: server UIDs unlike mbsync's own, mail the program
//! uploaded (mbsync leaves X-TUID in the server copy), OfflineIMAP with
//! UTF-8 folder names or its records where its `metadata` setting says,
//! and an mbsync run cut off by the network on top of an earlier state.
//! The real program syncs first; imapdir's first sync must adopt its
//! files with nothing copied twice, no twin folders, flags kept, and the
//! changes since the program's last run carried over.

mod common;

use common::peer_configs::*;
use common::proxy::{Action, Dir, Fault, FaultProxy};
use common::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// A server folder: its raw (modified UTF-7) name and the name it encodes.
struct Folder {
    raw: &'static str,
    utf8: &'static str,
}

/// INBOX, a nested folder, a non-ASCII name, a name with `&` (and
/// spaces), and one with a space only.
const FOLDERS: &[Folder] = &[
    Folder {
        raw: "INBOX",
        utf8: "INBOX",
    },
    Folder {
        raw: "Archive/2023",
        utf8: "Archive/2023",
    },
    Folder {
        raw: "Entw&APw-rfe",
        utf8: "Entwürfe",
    },
    Folder {
        raw: "Projects/bench &- co",
        utf8: "Projects/bench & co",
    },
    Folder {
        raw: "Sent Items",
        utf8: "Sent Items",
    },
];

/// Generated messages per folder, besides the three odd ones.
const PER_FOLDER: usize = 12;

/// Messages appended and expunged before the corpus in each folder.
const UID_GAP: usize = 3;

/// Flags both programs map to Maildir letters (no keywords, and no
/// \Deleted, which `Expunge Both` would act on).
const FLAGS: &[&str] = &[
    "",
    "\\Seen",
    "\\Seen \\Flagged",
    "\\Answered \\Seen",
    "\\Draft",
    "\\Flagged",
    "\\Answered",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    /// With `SyncState *`.
    Mbsync,
    OfflineImap(OfflineImapSetup),
}

impl Peer {
    fn sync(self, imapdir: &Imapdir, port: u16) {
        match self {
            Peer::Mbsync => mbsync_ok(imapdir, port, &MbsyncSetup::default()),
            Peer::OfflineImap(setup) => offlineimap_ok(imapdir, port, &setup),
        }
    }

    /// How the program spells the folder's directory.
    fn local_dir(self, folder: &Folder) -> &'static str {
        match self {
            Peer::OfflineImap(OfflineImapSetup {
                utf8_names: true, ..
            }) => folder.utf8,
            _ => folder.raw,
        }
    }
}

fn without_message_id(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let kept: Vec<&str> = text
        .split("\r\n")
        .filter(|l| !l.starts_with("Message-ID:"))
        .collect();
    kept.join("\r\n").into_bytes()
}

fn with_message_id(body: &[u8], mid: &str) -> Vec<u8> {
    let text = String::from_utf8(body.to_vec()).unwrap();
    let old = message_id(body).unwrap();
    text.replacen(&old, mid, 1).into_bytes()
}

/// Seeds one folder with [`PER_FOLDER`] generated messages, one without a
/// Message-ID and two different ones sharing a Message-ID. Returns the
/// number of messages.
fn seed_corpus_folder(client: &mut ImapClient, raw: &str) -> usize {
    if raw != "INBOX" {
        client.create(raw);
    }
    // Server UIDs start above 1, so the other program's own numbers
    // (mbsync's `,U=` are its near-side UIDs) differ from the server's.
    for i in 0..UID_GAP {
        let uid = client.append(raw, "", &generate_message(80 + i, raw));
        client.expunge_uid(raw, uid);
    }
    for i in 0..PER_FOLDER {
        client.append(raw, FLAGS[i % FLAGS.len()], &generate_message(i, raw));
    }
    client.append(
        raw,
        "\\Seen",
        &without_message_id(&generate_message(90, raw)),
    );
    let shared = generated_message_id(91, raw);
    client.append(raw, "\\Seen", &generate_message(91, raw));
    client.append(
        raw,
        "\\Flagged",
        &with_message_id(&generate_message(92, raw), &shared),
    );
    PER_FOLDER + 3
}

/// The folder where mail was written locally before the other program's
/// first run (mail sent from a mail reader), and how many: the program
/// uploads them, so its files and the server copies came from this side.
const WRITTEN_LOCALLY_IN: &str = "Sent Items";
const WRITTEN_LOCALLY: usize = 2;

fn write_before_peer(root: &Path) {
    for k in 0..WRITTEN_LOCALLY {
        write_local_message(
            root,
            WRITTEN_LOCALLY_IN,
            &format!("1700000000.M{k}P1.mailreader"),
            &generate_message(70 + k, WRITTEN_LOCALLY_IN),
            Some("S"),
        );
    }
}

/// Messages of a folder after the other program's first run.
fn corpus_count(raw: &str) -> usize {
    let written = if raw == WRITTEN_LOCALLY_IN {
        WRITTEN_LOCALLY
    } else {
        0
    };
    PER_FOLDER + 3 + written
}

fn seed_corpus(client: &mut ImapClient) {
    for folder in FOLDERS {
        seed_corpus_folder(client, folder.raw);
    }
}

/// A message's identity across both sides: LF line endings and without
/// the `X-TUID` header mbsync adds to the files it writes.
fn identity(body: &[u8]) -> Vec<u8> {
    let text = normalize(body);
    let end = find_bytes(&text, b"\n\n").map_or(text.len(), |e| e + 1);
    let mut out = Vec::with_capacity(text.len());
    for line in text[..end].split_inclusive(|&c| c == b'\n') {
        if !line.starts_with(b"X-TUID: ") {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(&text[end..]);
    out
}

fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn sorted_letters(letters: &str) -> String {
    let mut l: Vec<char> = letters.chars().collect();
    l.sort_unstable();
    l.into_iter().collect()
}

/// Identity → flag letters of every copy: two entries for one identity
/// are a duplicate.
type View = BTreeMap<Vec<u8>, Vec<String>>;

fn server_view(client: &mut ImapClient, raw: &str) -> View {
    let mut view = View::new();
    for m in client.fetch_all(raw) {
        view.entry(identity(&m.body)).or_default().push(m.letters());
    }
    view
}

fn local_view(root: &Path, dir: &str) -> View {
    let mut view = View::new();
    for m in maildir_messages(root, dir) {
        view.entry(identity(&m.body))
            .or_default()
            .push(sorted_letters(&m.flags));
    }
    view
}

fn short(content: &[u8]) -> String {
    String::from_utf8_lossy(&content[..content.len().min(300)]).into_owned()
}

/// Both sides of a folder hold the same messages, each once, with the
/// same flags. The local directory is spelt as the server spells the
/// folder, as both programs leave it.
fn assert_folder_matches(client: &mut ImapClient, root: &Path, raw: &str) {
    assert_folder_matches_at(client, root, raw, raw);
}

/// [`assert_folder_matches`] with the folder's local directory `dir`.
fn assert_folder_matches_at(client: &mut ImapClient, root: &Path, raw: &str, dir: &str) {
    let server = server_view(client, raw);
    let local = local_view(root, dir);
    for (what, view) in [("server", &server), ("local", &local)] {
        for (content, copies) in view {
            assert_eq!(
                copies.len(),
                1,
                "{raw}: {what} holds a message {} times:\n{}",
                copies.len(),
                short(content)
            );
        }
    }
    for content in server.keys() {
        assert!(
            local.contains_key(content),
            "{raw}: a server message is missing locally:\n{}",
            short(content)
        );
    }
    for content in local.keys() {
        assert!(
            server.contains_key(content),
            "{raw}: a local message is missing on the server:\n{}",
            short(content)
        );
    }
    for (content, letters) in &server {
        assert_eq!(
            &local[content],
            letters,
            "{raw}: local and server flags differ for:\n{}",
            short(content)
        );
    }
}

/// Every file's inode by its full content, to show files are adopted,
/// not downloaded again.
fn inodes_by_content(root: &Path, dir: &str) -> BTreeMap<Vec<u8>, u64> {
    maildir_messages(root, dir)
        .iter()
        .map(|m| (m.body.clone(), m.inode()))
        .collect()
}

/// The other program syncs the corpus, `prepare` changes its Maildir,
/// then the first imapdir sync must change nothing on the server and
/// nothing but names locally: every file adopted where it lies.
fn adopt_unchanged(peer: Peer, prepare: impl FnOnce(&Imapdir)) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_corpus(&mut client);
    let imapdir = Imapdir::new(&dovecot);
    write_before_peer(imapdir.maildir());
    peer.sync(&imapdir, dovecot.imap_port());
    prepare(&imapdir);
    let root = imapdir.maildir();

    let server_folders = client.list();
    let server_before = client.snapshot();
    let local_folders = maildir_folders(root);
    for folder in FOLDERS {
        assert!(
            local_folders.contains(peer.local_dir(folder)),
            "{peer:?} spells {} as {}: {local_folders:?}",
            folder.utf8,
            peer.local_dir(folder)
        );
    }
    let inodes_before: Vec<_> = FOLDERS
        .iter()
        .map(|f| inodes_by_content(root, peer.local_dir(f)))
        .collect();

    let r = imapdir.sync_ok();

    assert_eq!(
        client.list(),
        server_folders,
        "no folder created on the server"
    );
    assert!(
        client.snapshot() == server_before,
        "the server is unchanged: same messages, UIDs and flags\n{}",
        r.all_output()
    );
    assert_eq!(
        maildir_folders(root),
        local_folders,
        "no folder created locally"
    );
    for (folder, before) in FOLDERS.iter().zip(&inodes_before) {
        assert_eq!(
            client.fetch_all(folder.raw).len(),
            corpus_count(folder.raw),
            "{}",
            folder.raw
        );
        let dir = peer.local_dir(folder);
        assert_folder_matches_at(&mut client, root, folder.raw, dir);
        let after = inodes_by_content(root, dir);
        assert_eq!(
            after.len(),
            before.len(),
            "{}: number of files changed",
            folder.raw
        );
        assert!(
            &after == before,
            "{}: files were rewritten or downloaded again, not adopted",
            folder.raw
        );
    }
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn an_mbsync_maildir_with_its_own_uids_and_uploads_is_adopted_as_it_is() {
    adopt_unchanged(Peer::Mbsync, |_| {});
}

/// `utf8foldernames = yes`: OfflineIMAP's directories are named in UTF-8.
#[test]
fn an_offlineimap_maildir_with_utf8_folder_names_is_adopted_as_it_is() {
    adopt_unchanged(
        Peer::OfflineImap(OfflineImapSetup {
            utf8_names: true,
            ..OfflineImapSetup::default()
        }),
        |_| {},
    );
}

/// The numbers of a dry run's `first meeting: R paired by peer records
/// (mbsync), C by content, L local and S server messages not paired`
/// line, by the folder heading above it.
fn first_meetings(stdout: &str) -> BTreeMap<String, (String, Vec<usize>)> {
    let mut out = BTreeMap::new();
    let mut folder = None;
    for line in stdout.lines() {
        if !line.starts_with(' ') {
            folder = line
                .strip_suffix(':')
                .or_else(|| line.split(": ").next())
                .map(str::to_string);
        } else if let Some(rest) = line.trim().strip_prefix("first meeting:") {
            let numbers = rest
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            let name = folder.clone().expect("a folder heading before");
            out.insert(name, (rest.to_string(), numbers));
        }
    }
    out
}

// The changes made on both sides after the other program's last run, in
// one folder, by generated message number.
const DELETED_LOCALLY: usize = 2;
const FLAGGED_LOCALLY: usize = 1;
const EXPUNGED_ON_SERVER: usize = 3;
const SEEN_ON_SERVER: usize = 0;
const NEW_ON_SERVER: usize = 50;
const NEW_LOCALLY: usize = 60;

/// Folders changed after the other program's last run.
const CHANGED: &[&str] = &["INBOX", "Entw&APw-rfe", "Projects/bench &- co"];

fn change_both_sides(client: &mut ImapClient, root: &Path, raw: &str, dir: &str) {
    let local = maildir_messages(root, dir);
    let gone = find_by_message_id(&local, &generated_message_id(DELETED_LOCALLY, raw));
    fs::remove_file(&gone.path).unwrap();
    let flag = find_by_message_id(&local, &generated_message_id(FLAGGED_LOCALLY, raw));
    assert!(flag.name.ends_with(":2,S"), "{}", flag.name);
    let flagged = flag.path.to_string_lossy().replace(":2,S", ":2,FS");
    fs::rename(&flag.path, flagged).unwrap();
    write_local_message(
        root,
        dir,
        "1800000000.M1P1.newhost",
        &generate_message(NEW_LOCALLY, raw),
        None,
    );

    let server = client.fetch_all(raw);
    let expunge =
        find_server_by_message_id(&server, &generated_message_id(EXPUNGED_ON_SERVER, raw));
    client.expunge_uid(raw, expunge.uid);
    let seen = find_server_by_message_id(&server, &generated_message_id(SEEN_ON_SERVER, raw));
    assert!(seen.flags.is_empty());
    client.store(raw, seen.uid, "+FLAGS", "\\Seen");
    client.append(raw, "\\Answered", &generate_message(NEW_ON_SERVER, raw));
}

fn assert_changes_carried_over(client: &mut ImapClient, root: &Path, raw: &str, dir: &str) {
    let server = client.fetch_all(raw);
    let local = maildir_messages(root, dir);
    let on_server = |i: usize| {
        let mid = generated_message_id(i, raw);
        server
            .iter()
            .filter(|m| m.message_id().as_deref() == Some(mid.as_str()))
            .count()
    };
    let here = |i: usize| {
        let mid = generated_message_id(i, raw);
        local
            .iter()
            .filter(|m| m.message_id().as_deref() == Some(mid.as_str()))
            .count()
    };
    assert_eq!(on_server(DELETED_LOCALLY), 0, "{raw}: deleted locally");
    assert_eq!(here(DELETED_LOCALLY), 0, "{raw}: deleted locally");
    assert_eq!(on_server(EXPUNGED_ON_SERVER), 0, "{raw}: expunged");
    assert_eq!(here(EXPUNGED_ON_SERVER), 0, "{raw}: expunged");
    for i in [NEW_ON_SERVER, NEW_LOCALLY] {
        assert_eq!(on_server(i), 1, "{raw}: new message {i} on the server");
        assert_eq!(here(i), 1, "{raw}: new message {i} locally");
    }
    let flagged = find_server_by_message_id(&server, &generated_message_id(FLAGGED_LOCALLY, raw));
    assert_eq!(flagged.letters(), "FS", "{raw}: flagged locally");
    let seen = find_by_message_id(&local, &generated_message_id(SEEN_ON_SERVER, raw));
    assert_eq!(
        sorted_letters(&seen.flags),
        "S",
        "{raw}: seen on the server"
    );
}

/// The other program syncs, both sides change, then imapdir's first sync
/// carries every change over once.
fn adopt_with_changes(peer: Peer) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_corpus(&mut client);
    let imapdir = Imapdir::new(&dovecot);
    write_before_peer(imapdir.maildir());
    peer.sync(&imapdir, dovecot.imap_port());
    let root = imapdir.maildir();
    for folder in FOLDERS.iter().filter(|f| CHANGED.contains(&f.raw)) {
        change_both_sides(&mut client, root, folder.raw, peer.local_dir(folder));
    }
    let server_folders = client.list();
    let local_folders = maildir_folders(root);

    imapdir.sync_ok();

    assert_eq!(
        client.list(),
        server_folders,
        "no folder created on the server"
    );
    assert_eq!(
        maildir_folders(root),
        local_folders,
        "no folder created locally"
    );
    for folder in FOLDERS {
        let dir = peer.local_dir(folder);
        if CHANGED.contains(&folder.raw) {
            assert_changes_carried_over(&mut client, root, folder.raw, dir);
        } else {
            assert_folder_matches_at(&mut client, root, folder.raw, dir);
            assert_eq!(client.fetch_all(folder.raw).len(), corpus_count(folder.raw));
        }
    }
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn changes_since_offlineimaps_last_run_are_found_through_its_metadata_setting() {
    // Its records are where its config says, not in ~/.offlineimap.
    adopt_with_changes(Peer::OfflineImap(OfflineImapSetup {
        metadata: Some("~/.offlineimap-status"),
        ..OfflineImapSetup::default()
    }));
}

/// mbsync's second run is cut off mid-download: the folder is left with
/// the first run's `.mbsyncstate`, a `.mbsyncstate.journal` of the
/// interrupted run, and files the state does not know.
#[test]
fn an_mbsync_run_cut_off_on_top_of_its_state_is_adopted_without_duplicates() {
    const BIG: &str = "Big";
    const FIRST_RUN: usize = 100;
    const BIG_COUNT: usize = 200;
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let inbox = seed_corpus_folder(&mut client, "INBOX");
    let archive = seed_corpus_folder(&mut client, "Archive/2023");
    client.create(BIG);
    let append_big = |client: &mut ImapClient, range: std::ops::Range<usize>| {
        for i in range {
            client.append(BIG, FLAGS[i % FLAGS.len()], &generate_message(i, BIG));
        }
    };
    append_big(&mut client, 0..FIRST_RUN);
    let imapdir = Imapdir::new(&dovecot);
    mbsync_ok(&imapdir, dovecot.imap_port(), &MbsyncSetup::default());
    append_big(&mut client, FIRST_RUN..BIG_COUNT);

    // Without compression the proxy sees the message bodies and cuts the
    // connection as the middle of the new messages arrives.
    let proxy = FaultProxy::start(dovecot.imap_port());
    let middle = (FIRST_RUN + BIG_COUNT) / 2;
    proxy.arm(Fault::new(
        Dir::ServerToClient,
        &format!("Message {middle} of folder {BIG}"),
        0,
        Action::Cut,
    ));
    let setup = MbsyncSetup {
        account_extra: vec!["DisableExtensions COMPRESS=DEFLATE".to_string()],
        ..MbsyncSetup::default()
    };
    let out = run_mbsync(&imapdir, proxy.port(), &setup);
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(proxy.fired(), "mbsync reached message {middle}: {output}");
    assert!(!out.status.success(), "mbsync noticed the cut: {output}");
    drop(proxy);
    let root = imapdir.maildir();
    let big = root.join(BIG);
    assert!(
        big.join(".mbsyncstate.journal").exists() && big.join(".mbsyncstate").exists(),
        "mbsync left its state and journal: {:?}",
        tree_listing(&big)
            .keys()
            .filter(|k| !k.contains('/'))
            .collect::<Vec<_>>()
    );
    let downloaded = maildir_messages(root, BIG).len();
    assert!(
        downloaded > FIRST_RUN && downloaded < BIG_COUNT,
        "{downloaded} of {BIG_COUNT} downloaded before the cut"
    );

    // Every file mbsync wrote pairs, by its records or by content.
    let r = imapdir.run(&["sync", "--dry-run"]);
    r.expect_success();
    let meetings = first_meetings(&r.stdout);
    let (line, numbers) = meetings
        .get(BIG)
        .unwrap_or_else(|| panic!("no first-meeting line for {BIG}:\n{}", r.stdout));
    assert_eq!(
        numbers[..4].iter().sum::<usize>(),
        BIG_COUNT,
        "{BIG}: {line}"
    );
    assert_eq!(
        numbers[2..4],
        [0, BIG_COUNT - downloaded],
        "{BIG}: only the messages not yet downloaded are unpaired: {line}"
    );
    let server_before = client.snapshot();

    imapdir.sync_ok();

    assert!(
        client.snapshot() == server_before,
        "nothing uploaded, flagged or expunged on the server"
    );
    for (raw, count) in [
        (BIG, BIG_COUNT),
        ("INBOX", inbox),
        ("Archive/2023", archive),
    ] {
        let server = client.fetch_all(raw);
        assert_eq!(server.len(), count, "{raw}: the server's messages");
        assert_folder_matches(&mut client, root, raw);
    }
    let big_server = client.fetch_all(BIG);
    assert_no_duplicate_message_ids(big_server.iter().map(|m| m.message_id()), "server Big");
    assert_no_duplicate_message_ids(
        maildir_messages(root, BIG).iter().map(|m| m.message_id()),
        "local Big",
    );
    assert_noop_sync(&imapdir, &mut client);
}

/// Without OfflineIMAP's status database its records name the pairs but
/// not the flags both sides had, so a flag only one side has may have been
/// added there or removed on the other. The first sync keeps it on both:
/// `$Forwarded`, which OfflineIMAP does not write into file names, is not
/// removed from the server.
#[test]
fn without_offlineimaps_status_a_flag_only_the_server_has_is_kept() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_corpus_folder(&mut client, "INBOX");
    let imapdir = Imapdir::new(&dovecot);
    Peer::OfflineImap(OfflineImapSetup::default()).sync(&imapdir, dovecot.imap_port());
    fs::remove_dir_all(imapdir.dir().join("home/.offlineimap")).unwrap();
    let server = client.fetch_all("INBOX");
    let forwarded = server
        .iter()
        .find(|m| m.flags.iter().any(|f| f == "\\Seen"))
        .expect("a seen message");
    client.store("INBOX", forwarded.uid, "+FLAGS", "$Forwarded");

    let r = imapdir.sync_ok();

    let after = client.fetch_all("INBOX");
    assert_eq!(after.len(), server.len(), "nothing copied twice");
    let on_server = after
        .iter()
        .find(|m| m.uid == forwarded.uid)
        .expect("still on the server");
    assert!(
        on_server.flags.iter().any(|f| f == "$Forwarded"),
        "$Forwarded stays on the server: {:?}\n{}",
        on_server.flags,
        r.all_output()
    );
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let file = local
        .iter()
        .find(|l| l.message_id() == forwarded.message_id())
        .expect("the local copy");
    assert!(
        file.flags.contains('P') && file.flags.contains('S'),
        "the local copy gets P: {}",
        file.flags
    );
    assert_noop_sync(&imapdir, &mut client);
}
