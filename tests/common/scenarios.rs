//! Common scenarios built from the parts above: the standard folders and
//! corpus, seeding it, a first sync, and the "everything in sync" and
//! "a second sync changes nothing" checks.

use std::path::Path;

use super::{
    assert_folder_in_sync, generate_message, generated_message_id, maildir_messages, tree_listing,
    Dovecot, ImapClient, Imapdir,
};

/// The folders of the standard test corpus: INBOX, a nested folder with
/// its parent, and a non-ASCII name (raw mUTF-7 for "Été").
pub const STANDARD_FOLDERS: &[&str] = &["INBOX", "Archive", "Archive/2023", "&AMk-t&AOk-"];

/// Local path (relative to the Maildir root) of a raw server folder name.
pub fn local_folder(raw: &str) -> String {
    match raw {
        "&AMk-t&AOk-" => "Été".to_string(),
        "Caf&AOk-" => "Café".to_string(),
        other => {
            assert!(
                !other.contains('&'),
                "add a decoding for {other} to local_folder"
            );
            other.to_string()
        }
    }
}

/// Flag sets cycled through by [`seed_folder`]: none, each letter alone
/// and a few combinations.
pub const FLAG_CYCLE: &[&str] = &[
    "",
    "\\Seen",
    "\\Seen \\Flagged",
    "\\Answered \\Seen",
    "\\Draft",
    "$Forwarded \\Seen",
    "\\Flagged",
    "\\Deleted \\Seen",
];

/// Appends messages `range` of `folder` (created if needed), flags taken
/// from [`FLAG_CYCLE`]. Returns (uid, Message-ID) pairs.
pub fn seed_folder(
    client: &mut ImapClient,
    folder: &str,
    range: std::ops::Range<usize>,
) -> Vec<(u32, String)> {
    if folder != "INBOX" && !client.list().iter().any(|f| f == folder) {
        client.create(folder);
    }
    range
        .map(|i| {
            let flags = FLAG_CYCLE[i % FLAG_CYCLE.len()];
            let uid = client.append(folder, flags, &generate_message(i, folder));
            (uid, generated_message_id(i, folder))
        })
        .collect()
}

/// Seeds the standard corpus: `per_folder` messages in each folder of
/// [`STANDARD_FOLDERS`] except the bare parent "Archive", which gets two.
pub fn seed_standard(client: &mut ImapClient, per_folder: usize) {
    for folder in STANDARD_FOLDERS {
        let n = if *folder == "Archive" { 2 } else { per_folder };
        seed_folder(client, folder, 0..n);
    }
}

/// Asserts that every server folder is mirrored locally, message by message.
pub fn assert_all_in_sync(client: &mut ImapClient, maildir: &Path) {
    for folder in client.list() {
        let server = client.fetch_all(&folder);
        let local = maildir_messages(maildir, &local_folder(&folder));
        assert_folder_in_sync(&server, &local, &folder);
    }
}

/// Asserts that a run changed nothing: same local files (names and
/// inodes) and same server state (UIDVALIDITY, UIDs, flags, bodies).
pub fn assert_noop_sync(imapdir: &Imapdir, client: &mut ImapClient) {
    let local_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();
    imapdir.sync_ok();
    let local_after = tree_listing(imapdir.maildir());
    assert_eq!(
        local_before, local_after,
        "a no-change sync changed local files"
    );
    let server_after = client.snapshot();
    assert!(
        server_before == server_after,
        "a no-change sync changed the server"
    );
}

/// A server seeded with the standard corpus (`per_folder` messages per
/// folder) and a first successful sync, checked message by message.
pub fn synced_standard(per_folder: usize) -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, per_folder);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
    (dovecot, client, imapdir)
}

/// Lines of `text` that contain `word`, case-insensitively.
pub fn lines_mentioning<'a>(text: &'a str, word: &str) -> Vec<&'a str> {
    let word = word.to_ascii_lowercase();
    text.lines()
        .filter(|l| l.to_ascii_lowercase().contains(&word))
        .collect()
}
