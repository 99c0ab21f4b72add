//! Another IMAP client changing the same folder while imapdir syncs it:
//! it appends, flags and expunges messages in INBOX while imapdir runs
//! sync after sync. Every run succeeds, and once the other client stops
//! the next syncs converge: both sides equal, no duplicates, nothing it
//! appended lost, nothing it expunged left behind.

mod common;

use common::*;
use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

const FOLDER: &str = "INBOX";
const SEEDED: usize = 300;
const OPERATIONS: usize = 60;

/// What the other client did, by Message-ID.
#[derive(Default)]
struct OtherClient {
    appended: BTreeSet<String>,
    expunged: BTreeSet<String>,
    flagged: usize,
}

/// Appends, flags and expunges at random among the live messages.
fn other_client(port: u16, mut live: Vec<(u32, String)>, seed: u64) -> OtherClient {
    let mut client = ImapClient::connect(port);
    let mut rng = Rng::new(seed);
    let mut did = OtherClient::default();
    const FLAGS: &[&str] = &["\\Seen", "\\Flagged", "\\Answered", "$Forwarded"];
    for op in 0..OPERATIONS {
        match rng.below(3) {
            0 => {
                let i = 10_000 + op;
                let flags = FLAGS[rng.below(FLAGS.len())];
                let uid = client.append(FOLDER, flags, &generate_message(i, FOLDER));
                let mid = generated_message_id(i, FOLDER);
                did.appended.insert(mid.clone());
                live.push((uid, mid));
            }
            1 => {
                let (uid, _) = &live[rng.below(live.len())];
                let op = if rng.below(2) == 0 {
                    "+FLAGS"
                } else {
                    "-FLAGS"
                };
                client.store(FOLDER, *uid, op, FLAGS[rng.below(FLAGS.len())]);
                did.flagged += 1;
            }
            _ => {
                let (uid, mid) = live.swap_remove(rng.below(live.len()));
                client.expunge_uid(FOLDER, uid);
                did.expunged.insert(mid);
            }
        }
        thread::sleep(Duration::from_millis(5 + rng.below(25) as u64));
    }
    client.logout();
    did
}

#[test]
fn another_client_changing_the_folder_during_syncs_loses_nothing() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let seeded = seed_folder(&mut client, FOLDER, 0..SEEDED);
    let imapdir = Imapdir::new(&dovecot);

    // The other client starts before the first sync, so its changes land
    // in the middle of the first full download and of the incremental
    // syncs after it.
    let port = dovecot.imap_port();
    let other = thread::spawn(move || other_client(port, seeded, 0x5eed_c0de));
    let started = Instant::now();
    let mut syncs = 0;
    while !other.is_finished() || syncs < 3 {
        let r = imapdir.run(&["sync"]);
        assert!(!r.all_output().contains("panicked"), "{}", r.all_output());
        r.expect_success();
        syncs += 1;
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the other client never finished"
        );
    }
    let did = other.join().expect("the other client failed");
    eprintln!("{syncs} syncs ran while the other client made {OPERATIONS} changes");
    assert!(
        !did.appended.is_empty() && !did.expunged.is_empty() && did.flagged > 0,
        "the other client appended, flagged and expunged"
    );
    assert!(
        syncs >= 3,
        "several syncs ran while the other client worked"
    );

    // Two final syncs: the first picks up the last changes, the second
    // must find nothing left to do.
    imapdir.sync_ok();
    assert_noop_sync(&imapdir, &mut client);

    let server = client.fetch_all(FOLDER);
    let local = maildir_messages(imapdir.maildir(), FOLDER);
    assert_folder_in_sync(&server, &local, FOLDER);
    assert_eq!(
        server.len(),
        SEEDED + did.appended.len() - did.expunged.len(),
        "the server holds exactly the seeded and appended messages not expunged"
    );
    let server_ids: BTreeSet<String> = server.iter().filter_map(|m| m.message_id()).collect();
    let local_ids: BTreeSet<String> = local.iter().filter_map(|m| m.message_id()).collect();
    for mid in did.appended.difference(&did.expunged) {
        assert!(
            server_ids.contains(mid),
            "{mid} appended but gone from the server"
        );
        assert!(
            local_ids.contains(mid),
            "{mid} appended but never downloaded"
        );
    }
    for mid in &did.expunged {
        assert!(
            !server_ids.contains(mid),
            "{mid} expunged but on the server"
        );
        assert!(!local_ids.contains(mid), "{mid} expunged but still local");
    }
}
