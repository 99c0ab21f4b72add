//! imapdir killed with SIGKILL at random moments, again and again, with
//! changes on both sides in between (moves between folders among them):
//! nothing may be lost or duplicated.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

const FOLDERS: [&str; 3] = ["INBOX", "Archive/2023", "&AMk-t&AOk-"];
const MESSAGES_PER_FOLDER: usize = 100;
const KILLED_FIRST_SYNCS: usize = 2;
const ROUNDS: usize = 8;
/// Rounds go on (up to twice ROUNDS) until this many runs died mid-sync.
const MIN_KILLED_IN_ROUNDS: usize = 5;
const NEW_PER_SIDE_PER_ROUND: usize = 8;
const FLAG_CHANGES_PER_SIDE_PER_ROUND: usize = 6;
const MOVES_PER_ROUND: usize = 3;
/// First guess of how long a sync takes; replaced by the duration of the
/// last run that finished before its kill, so kills land inside runs.
const INITIAL_KILL_WINDOW: Duration = Duration::from_millis(1500);

/// What the test expects to exist at the end, by folder and Message-ID.
struct Expectation {
    alive: BTreeMap<&'static str, BTreeSet<String>>,
    /// Messages of the first corpus removed by the test on one side.
    deleted: BTreeSet<String>,
    /// Messages whose flags the test changed (never deleted afterwards, so
    /// no flag change ever conflicts with a deletion).
    flag_touched: BTreeSet<String>,
    initial: BTreeSet<String>,
}

impl Expectation {
    fn deletable(&self, mid: &str) -> bool {
        self.initial.contains(mid)
            && !self.deleted.contains(mid)
            && !self.flag_touched.contains(mid)
    }
}

/// A number from the environment (a seed to replay, a count), else `default`.
fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Spawns `sync` and kills it with SIGKILL after a random delay within
/// `window`. Returns how long the run took if it finished first.
fn killed_sync(imapdir: &mut Imapdir, rng: &mut Rng, window: Duration) -> Option<Duration> {
    let delay = Duration::from_millis(rng.below(window.as_millis() as usize + 1) as u64);
    let started = Instant::now();
    let mut child = imapdir.spawn(&["sync"]);
    while started.elapsed() < delay {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "an unkilled sync failed: {status}");
            return Some(started.elapsed());
        }
        thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    None
}

fn toggle(letters: &str, letter: char) -> String {
    if letters.contains(letter) {
        letters.replace(letter, "")
    } else {
        format!("{letters}{letter}")
    }
}

fn change_server(client: &mut ImapClient, rng: &mut Rng, exp: &mut Expectation, round: usize) {
    for k in 0..NEW_PER_SIDE_PER_ROUND {
        let folder = FOLDERS[rng.below(FOLDERS.len())];
        let i = 1000 + round * 100 + k;
        let flags = ["", "\\Seen", "\\Flagged \\Seen"][rng.below(3)];
        client.append(folder, flags, &generate_message(i, folder));
        exp.alive
            .get_mut(folder)
            .unwrap()
            .insert(generated_message_id(i, folder));
    }
    for _ in 0..FLAG_CHANGES_PER_SIDE_PER_ROUND {
        let folder = FOLDERS[rng.below(FOLDERS.len())];
        let msgs: Vec<Msg> = client
            .fetch_all(folder)
            .into_iter()
            .filter(|m| !exp.deleted.contains(&m.message_id().unwrap()))
            .collect();
        let msg = &msgs[rng.below(msgs.len())];
        let flag = ["\\Answered", "\\Seen"][rng.below(2)];
        let op = if msg.flags.iter().any(|f| f == flag) {
            "-FLAGS"
        } else {
            "+FLAGS"
        };
        client.store(folder, msg.uid, op, flag);
        exp.flag_touched.insert(msg.message_id().unwrap());
    }
    let folder = FOLDERS[rng.below(FOLDERS.len())];
    let candidates: Vec<Msg> = client
        .fetch_all(folder)
        .into_iter()
        .filter(|m| exp.deletable(&m.message_id().unwrap()))
        .collect();
    let victim = &candidates[rng.below(candidates.len())];
    let mid = victim.message_id().unwrap();
    client.expunge_uid(folder, victim.uid);
    exp.deleted.insert(mid.clone());
    exp.alive.get_mut(folder).unwrap().remove(&mid);

    // Another client moves a few messages to another folder.
    let from = FOLDERS[rng.below(FOLDERS.len())];
    let to = FOLDERS[(FOLDERS.iter().position(|f| *f == from).unwrap() + 2) % FOLDERS.len()];
    let movable: Vec<Msg> = client
        .fetch_all(from)
        .into_iter()
        .filter(|m| exp.deletable(&m.message_id().unwrap()))
        .take(MOVES_PER_ROUND)
        .collect();
    if !movable.is_empty() {
        let uids: Vec<String> = movable.iter().map(|m| m.uid.to_string()).collect();
        client.select(from);
        client.command(&format!("UID MOVE {} {}", uids.join(","), imap_quoted(to)));
        for m in &movable {
            let mid = m.message_id().unwrap();
            exp.alive.get_mut(from).unwrap().remove(&mid);
            exp.alive.get_mut(to).unwrap().insert(mid.clone());
            exp.flag_touched.insert(mid);
        }
    }
}

fn imap_quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

fn change_local(imapdir: &Imapdir, rng: &mut Rng, exp: &mut Expectation, round: usize) {
    let maildir = imapdir.maildir();
    for k in 0..NEW_PER_SIDE_PER_ROUND {
        let folder = FOLDERS[rng.below(FOLDERS.len())];
        let i = 5000 + round * 100 + k;
        let letters = [None, Some("S"), Some("FS")][rng.below(3)];
        let name = format!("17000{round:02}{k:03}.crash{i}.localhost");
        write_local_message(
            maildir,
            &local_folder(folder),
            &name,
            &generate_message(i, folder),
            letters,
        );
        exp.alive
            .get_mut(folder)
            .unwrap()
            .insert(generated_message_id(i, folder));
    }
    for _ in 0..FLAG_CHANGES_PER_SIDE_PER_ROUND {
        let folder = FOLDERS[rng.below(FOLDERS.len())];
        let msgs: Vec<LocalMsg> = maildir_messages(maildir, &local_folder(folder))
            .into_iter()
            .filter(|m| !exp.deleted.contains(&m.message_id().unwrap()))
            .collect();
        let msg = &msgs[rng.below(msgs.len())];
        let letter = ['F', 'S'][rng.below(2)];
        set_local_flags(msg, &toggle(&msg.flags, letter));
        exp.flag_touched.insert(msg.message_id().unwrap());
    }
    let folder = FOLDERS[rng.below(FOLDERS.len())];
    let candidates: Vec<LocalMsg> = maildir_messages(maildir, &local_folder(folder))
        .into_iter()
        .filter(|m| exp.deletable(&m.message_id().unwrap()))
        .collect();
    let victim = &candidates[rng.below(candidates.len())];
    let mid = victim.message_id().unwrap();
    fs::remove_file(&victim.path).unwrap();
    exp.deleted.insert(mid.clone());
    exp.alive.get_mut(folder).unwrap().remove(&mid);

    // A mail reader moves a few synced messages to another folder.
    let from = FOLDERS[rng.below(FOLDERS.len())];
    let to = FOLDERS[(FOLDERS.iter().position(|f| *f == from).unwrap() + 1) % FOLDERS.len()];
    let movable: Vec<LocalMsg> = maildir_messages(maildir, &local_folder(from))
        .into_iter()
        .filter(|m| m.uid().is_some() && exp.deletable(&m.message_id().unwrap()))
        .collect();
    for m in movable.iter().take(MOVES_PER_ROUND) {
        let mid = m.message_id().unwrap();
        let target = maildir.join(local_folder(to)).join(&m.subdir).join(&m.name);
        fs::rename(&m.path, target).unwrap();
        exp.alive.get_mut(from).unwrap().remove(&mid);
        exp.alive.get_mut(to).unwrap().insert(mid.clone());
        // Never deleted or moved again: the expectation stays simple.
        exp.flag_touched.insert(mid);
    }
}

fn message_ids<I: IntoIterator<Item = Option<String>>>(ids: I) -> Vec<String> {
    let mut ids: Vec<String> = ids
        .into_iter()
        .map(|m| m.expect("has a Message-ID"))
        .collect();
    ids.sort();
    ids
}

#[test]
fn repeated_kill_9_loses_and_duplicates_nothing() {
    let seed = env_number("IMAPDIR_CRASH_SEED", 0x1a9d_1e5c_0ffe);
    kill_9_scenario(seed);
}

/// The torture run for CI (`cargo test --test crash -- --ignored`): the
/// scenarios (with and without a window) for many seeds (`IMAPDIR_CRASH_SEEDS`, default 50), a few at a
/// time, each with its own server. A failure names its seed.
#[test]
#[ignore]
fn kill_9_torture_many_seeds() {
    let seeds = env_number("IMAPDIR_CRASH_SEEDS", 50);
    let parallel = 4;
    let all: Vec<u64> = (1..=seeds).map(|i| 0x5eed_0000 + i * 7919).collect();
    for batch in all.chunks(parallel) {
        thread::scope(|scope| {
            for &seed in batch {
                thread::Builder::new()
                    .name(format!("seed-{seed}"))
                    .spawn_scoped(scope, move || {
                        kill_9_scenario(seed);
                        kill_9_window_scenario(seed);
                    })
                    .unwrap();
            }
        });
    }
}

fn kill_9_scenario(seed: u64) {
    eprintln!("kill -9 test seed: {seed} (set IMAPDIR_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let started = Instant::now();

    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let mut exp = Expectation {
        alive: BTreeMap::new(),
        deleted: BTreeSet::new(),
        flag_touched: BTreeSet::new(),
        initial: BTreeSet::new(),
    };
    for folder in FOLDERS {
        let seeded = seed_folder(&mut client, folder, 0..MESSAGES_PER_FOLDER);
        let mids: BTreeSet<String> = seeded.into_iter().map(|(_, mid)| mid).collect();
        exp.initial.extend(mids.iter().cloned());
        exp.alive.insert(folder, mids);
    }
    let mut imapdir = Imapdir::new(&dovecot);

    // The very first sync, killed before it could finish.
    let mut window = INITIAL_KILL_WINDOW;
    for _ in 0..KILLED_FIRST_SYNCS {
        if let Some(took) = killed_sync(&mut imapdir, &mut rng, window) {
            window = took;
        }
    }
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());

    let mut killed = 0;
    let mut round = 0;
    while round < ROUNDS || (killed < MIN_KILLED_IN_ROUNDS && round < 2 * ROUNDS) {
        change_server(&mut client, &mut rng, &mut exp, round);
        change_local(&imapdir, &mut rng, &mut exp, round);
        match killed_sync(&mut imapdir, &mut rng, window) {
            Some(took) => window = took,
            None => killed += 1,
        }
        round += 1;
    }
    eprintln!("{killed} of {round} runs after changes killed mid-sync");
    assert!(
        killed >= MIN_KILLED_IN_ROUNDS,
        "only {killed} of {round} runs were killed before finishing"
    );

    imapdir.sync_ok();
    assert_noop_sync(&imapdir, &mut client);

    for folder in FOLDERS {
        let server = client.fetch_all(folder);
        let local = maildir_messages(imapdir.maildir(), &local_folder(folder));
        let expected: Vec<String> = exp.alive[folder].iter().cloned().collect();
        assert_eq!(
            message_ids(server.iter().map(|m| m.message_id())),
            expected,
            "{folder}: server holds exactly the live messages, once each"
        );
        assert_eq!(
            message_ids(local.iter().map(|m| m.message_id())),
            expected,
            "{folder}: local side holds exactly the live messages, once each"
        );
        // Same normalized contents and flags on both sides.
        assert_folder_in_sync(&server, &local, folder);
        for m in &local {
            assert!(
                !m.body.contains(&b'\r'),
                "{folder}: {} stored with LF endings",
                m.name
            );
        }
    }
    eprintln!("kill -9 test took {:?}", started.elapsed());
}

/// With a date window: runs killed while the window keeps most of the
/// server out, and again while a widened window brings it in, end with
/// exactly what the window holds, once each, and nothing deleted on the
/// server.
#[test]
fn kill_9_with_a_window_downloads_exactly_what_it_holds() {
    let seed = env_number("IMAPDIR_CRASH_SEED", 0x0077_1d0e);
    kill_9_window_scenario(seed);
}

fn kill_9_window_scenario(seed: u64) {
    eprintln!("kill -9 window test seed: {seed} (set IMAPDIR_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let folders = &FOLDERS[..2];
    let (old, recent) = (0..60, 60..120);
    for folder in folders {
        if *folder != "INBOX" {
            client.create(folder);
        }
        for i in old.clone() {
            let date = "01-Jun-2019 12:00:00 +0000";
            client.append_dated(folder, "\\Seen", date, &generate_message(i, folder));
        }
        for i in recent.clone() {
            let date = "01-Jun-2025 12:00:00 +0000";
            client.append_dated(folder, "", date, &generate_message(i, folder));
        }
    }
    let ids = |folder: &str, range: std::ops::Range<usize>| -> Vec<String> {
        let mut v: Vec<String> = range.map(|i| generated_message_id(i, folder)).collect();
        v.sort();
        v
    };
    let check = |imapdir: &Imapdir, client: &mut ImapClient, range: std::ops::Range<usize>| {
        for folder in folders {
            let local = maildir_messages(imapdir.maildir(), &local_folder(folder));
            assert_eq!(
                message_ids(local.iter().map(|m| m.message_id())),
                ids(folder, range.clone()),
                "{folder}: the window's messages, once each"
            );
            assert_eq!(
                client.fetch_all(folder).len(),
                120,
                "{folder}: nothing expunged"
            );
        }
    };

    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra = vec!["since = \"2024-01-01\"".into()];
    let mut window = INITIAL_KILL_WINDOW;
    let mut killed = 0;
    for _ in 0..3 {
        match killed_sync(&mut imapdir, &mut rng, window) {
            Some(took) => window = took,
            None => killed += 1,
        }
    }
    imapdir.sync_ok();
    check(&imapdir, &mut client, recent.clone());

    imapdir.account.extra = vec!["since = \"2018-01-01\"".into()];
    for _ in 0..3 {
        match killed_sync(&mut imapdir, &mut rng, window) {
            Some(took) => window = took,
            None => killed += 1,
        }
    }
    assert!(killed >= 2, "only {killed} of 6 runs were killed mid-sync");
    imapdir.sync_ok();
    check(&imapdir, &mut client, old.start..recent.end);
    for folder in folders {
        assert_folder_in_sync(
            &client.fetch_all(folder),
            &maildir_messages(imapdir.maildir(), &local_folder(folder)),
            folder,
        );
    }
    assert_noop_sync(&imapdir, &mut client);
}

/// A message of about `kib` KiB, over a placeholder limit of 100K.
fn large_message(i: usize, kib: usize) -> Vec<u8> {
    let mut msg = format!(
        "From: Big <big{i}@example.org>\r\nTo: bench@localhost\r\n\
         Subject: Large {i}\r\nMessage-ID: <large-{i}@example.org>\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    while msg.len() < kib * 1024 {
        msg.extend_from_slice(
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\r\n",
        );
    }
    msg
}

/// Runs killed while placeholders are written, then while they are
/// replaced by their whole messages (all flagged at once), end with one
/// file per message, whole, and the server untouched.
#[test]
fn kill_9_while_placeholders_are_written_and_replaced_leaves_one_file_each() {
    let seed = env_number("IMAPDIR_CRASH_SEED", 0x9ace_401d);
    eprintln!("kill -9 placeholder test seed: {seed} (set IMAPDIR_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let mut bodies = BTreeMap::new();
    for i in 0..30 {
        let big = large_message(i, 120 + i);
        client.append("INBOX", "\\Seen", &big);
        bodies.insert(format!("<large-{i}@example.org>"), big);
        client.append("INBOX", "\\Seen", &generate_message(i, "INBOX"));
    }
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir
        .account
        .extra
        .push("max_message_size = \"100K\"".into());
    let mut window = INITIAL_KILL_WINDOW;
    let mut killed = 0;
    for _ in 0..3 {
        match killed_sync(&mut imapdir, &mut rng, window) {
            Some(took) => window = took,
            None => killed += 1,
        }
    }
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 60, "one file per message");
    for m in &local {
        let mid = m.message_id().unwrap();
        if bodies.contains_key(&mid) {
            assert!(m.body.len() < 4096, "{mid} is a placeholder");
        }
    }

    // Every placeholder flagged at once, and the runs killed again.
    for m in &local {
        if bodies.contains_key(&m.message_id().unwrap()) {
            set_local_flags(m, "FS");
        }
    }
    // These runs do more than the last finished one: each kill waits
    // longer, so that some land among the replacements.
    let whole = |imapdir: &Imapdir| {
        maildir_messages(imapdir.maildir(), "INBOX")
            .iter()
            .filter(|m| m.body.len() > 100 * 1024)
            .count()
    };
    let mut partial = Vec::new();
    for _ in 0..4 {
        window *= 2;
        match killed_sync(&mut imapdir, &mut rng, window) {
            Some(took) => window = took,
            None => killed += 1,
        }
        partial.push(whole(&imapdir));
    }
    eprintln!("whole after each run: {partial:?}");
    assert!(killed >= 2, "only {killed} of 7 runs were killed mid-sync");
    eprintln!("{killed} of 7 runs killed");
    imapdir.sync_ok();
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(local.len(), 60, "still one file per message");
    for m in &local {
        if let Some(body) = bodies.get(&m.message_id().unwrap()) {
            assert_eq!(normalize(&m.body), normalize(body), "whole");
            assert_eq!(m.flags, "FS");
        }
    }
    let server = client.fetch_all("INBOX");
    assert_eq!(server.len(), 60, "nothing uploaded or expunged");
    assert_folder_in_sync(&server, &local, "INBOX");
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn kill_9_while_expunged_copies_move_to_the_archive_keeps_each_once_and_uploads_none() {
    let seed = env_number("IMAPDIR_CRASH_SEED", 0x00a7_c41e);
    eprintln!("kill -9 archive test seed: {seed} (set IMAPDIR_CRASH_SEED to replay)");
    let mut rng = Rng::new(seed);
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..300);
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra = vec![
        "server_deletions = \"keep-local\"".into(),
        "archive_folder = \"Kept\"".into(),
    ];
    imapdir.sync_ok();
    let mut gone = Vec::new();
    let mut window = INITIAL_KILL_WINDOW;
    let mut killed = 0;
    for round in 0..3 {
        // A quarter of the first corpus expunged on the server each round.
        let server = client.fetch_all("INBOX");
        for m in server.iter().filter(|m| m.uid % 4 == round as u32) {
            gone.push(m.message_id().unwrap());
            client.expunge_uid("INBOX", m.uid);
        }
        for _ in 0..3 {
            match killed_sync(&mut imapdir, &mut rng, window) {
                Some(took) => window = took.max(Duration::from_millis(50)),
                None => killed += 1,
            }
        }
    }
    imapdir.sync_ok();
    eprintln!("{killed} of 9 runs killed mid-sync");
    assert!(killed >= 3, "only {killed} of 9 runs were killed mid-sync");
    let server_ids = message_ids(client.fetch_all("INBOX").iter().map(|m| m.message_id()));
    let inbox = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(
        message_ids(inbox.iter().map(|m| m.message_id())),
        server_ids,
        "INBOX mirrors the server, each message once"
    );
    let archived = maildir_messages(imapdir.maildir(), "Kept");
    assert_eq!(
        message_ids(archived.iter().map(|m| m.message_id())),
        message_ids(gone.iter().cloned().map(Some)),
        "every expunged copy in the archive, once"
    );
    assert_eq!(server_ids.len() + gone.len(), 300, "nothing uploaded back");
    assert!(!client.list().iter().any(|f| f.contains("Kept")));
    assert_noop_sync(&imapdir, &mut client);
}
