//! What a sync costs on the wire does not grow with the mailbox: the same
//! commands and the same number of waits for the server (round trips) at
//! 8 and at 8,000 messages in INBOX, for a sync with nothing to do and for one with
//! a few changes. Counted through a proxy that holds the server's bytes a
//! little, so that pipelined commands cannot pass for waits; nothing here
//! is timed.

mod common;

use common::proxy::FaultProxy;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

const FOLDERS: [&str; 3] = ["INBOX", "Archive", "Lists"];

/// A server whose INBOX holds `inbox` messages and the other folders a
/// quarter of that each, written straight into its Maildir (quicker than
/// APPEND).
fn server_with(inbox: usize) -> Dovecot {
    let dovecot = Dovecot::start();
    let tree = tempfile::tempdir().unwrap();
    for folder in FOLDERS {
        let dir = if folder == "INBOX" {
            tree.path().to_path_buf()
        } else {
            tree.path().join(folder)
        };
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let count = if folder == "INBOX" { inbox } else { inbox / 4 };
        for i in 0..count {
            fs::write(
                dir.join(format!("cur/{}.M{i}P1.corpus:2,S", 1_700_000_000 + i)),
                generate_message(i, folder),
            )
            .unwrap();
        }
    }
    dovecot.load_mail(tree.path());
    dovecot
}

/// The commands of a `--trace-imap` run, tags and numbers left out (UIDs
/// and MODSEQs differ between the two mailboxes, the commands do not), in
/// order (connections run side by side, so their lines interleave).
fn commands(trace: &str) -> Vec<String> {
    let mut commands: Vec<String> = trace
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .map(|l| {
            let command = l.split_once(' ').map_or(l, |(_, rest)| rest);
            let mut out = String::new();
            for c in command.chars() {
                if !c.is_ascii_digit() {
                    out.push(c);
                } else if !out.ends_with('#') {
                    out.push('#');
                }
            }
            out
        })
        .collect();
    commands.sort();
    commands
}

/// What one sync cost on the wire.
#[derive(Debug, PartialEq, Eq)]
struct Cost {
    commands: Vec<String>,
    connections: usize,
    waits: usize,
}

fn measured_sync(imapdir: &Imapdir, proxy: &FaultProxy) -> Cost {
    // Longer than anything the client does between two commands it does
    // not wait between (reading a folder's pairs, scanning its files).
    proxy.set_delay(Duration::from_millis(50));
    let (conns_before, waits_before) = proxy.waits();
    let out = imapdir.run(&["sync", "--trace-imap"]);
    out.expect_success();
    // The last bytes of a connection may still be on their way.
    std::thread::sleep(Duration::from_millis(50));
    let (conns_after, waits_after) = proxy.waits();
    proxy.set_delay(Duration::ZERO);
    Cost {
        commands: commands(&out.stderr),
        connections: conns_after - conns_before,
        waits: waits_after - waits_before,
    }
}

/// A few changes on the server: a new message in INBOX, a flag in Archive.
fn change_server(dovecot: &Dovecot) {
    let mut client = dovecot.client();
    client.append("INBOX", "", &generate_message(99_999, "new"));
    client.store("Archive", 1, "+FLAGS", "\\Flagged");
}

/// A few changes in the Maildir: a file flagged, one deleted, one new.
fn change_local(maildir: &Path) {
    let mut files: Vec<_> = fs::read_dir(maildir.join("Lists/cur"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let flagged = files[0].to_str().unwrap().replace(":2,S", ":2,FS");
    fs::rename(&files[0], flagged).unwrap();
    fs::remove_file(&files[1]).unwrap();
    fs::write(
        maildir.join("INBOX/new/1800000000.M1P1.laptop"),
        generate_message(88_888, "local"),
    )
    .unwrap();
}

/// The three syncs' costs on a mailbox of `inbox` messages in INBOX.
fn costs(inbox: usize) -> [Cost; 3] {
    let dovecot = server_with(inbox);
    let proxy = FaultProxy::start(dovecot.imaps_port());
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.port = proxy.port();
    imapdir.sync_ok();
    assert_eq!(
        maildir_messages(imapdir.maildir(), "INBOX").len(),
        inbox,
        "first sync"
    );
    let unchanged = measured_sync(&imapdir, &proxy);
    change_server(&dovecot);
    let server = measured_sync(&imapdir, &proxy);
    change_local(imapdir.maildir());
    let local = measured_sync(&imapdir, &proxy);
    assert_eq!(
        dovecot.client().fetch_all("INBOX").len(),
        inbox + 2,
        "both new messages are on the server"
    );
    [unchanged, server, local]
}

#[test]
fn the_wire_cost_of_a_sync_does_not_grow_with_the_mailbox() {
    let [small_unchanged, small_server, small_local] = costs(8);
    let [big_unchanged, big_server, big_local] = costs(8_000);
    for (step, small, big) in [
        ("no change", &small_unchanged, &big_unchanged),
        ("server changes", &small_server, &big_server),
        ("local changes", &small_local, &big_local),
    ] {
        assert_eq!(small, big, "{step}: 8 messages in INBOX, then 8,000");
    }
    // A sync with nothing to do: log in, list with statuses, log out, on
    // one connection, not waiting for the server's goodbye.
    assert_eq!(small_unchanged.connections, 1, "{small_unchanged:?}");
    // TLS, greeting, login, list: with TCP's connect, 5 round trips.
    assert_eq!(small_unchanged.waits, 4, "{small_unchanged:?}");
    assert!(small_unchanged
        .commands
        .contains(&"AUTHENTICATE PLAIN <redacted>".to_string()));
    assert!(small_unchanged.commands.contains(&"LOGOUT".to_string()));
}
