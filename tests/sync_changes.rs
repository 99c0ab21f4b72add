//! Changes after a first sync: on the server, locally, on both sides at
//! once, new folders, UIDVALIDITY changes, `--pull`, `--push`, `--dry-run`.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::fs;

fn mid(i: usize, folder: &str) -> String {
    generated_message_id(i, folder)
}

/// Inode of every local message of a folder, by Message-ID.
fn inodes_by_message_id(msgs: &[LocalMsg]) -> BTreeMap<String, u64> {
    msgs.iter()
        .map(|m| (m.message_id().unwrap(), m.inode()))
        .collect()
}

#[test]
fn server_changes_arrive_locally() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    let maildir = imapdir.maildir();
    let inbox = client.fetch_all("INBOX");
    let ete = client.fetch_all("&AMk-t&AOk-");
    let local_before = maildir_messages(maildir, "INBOX");

    let new_seen = client.append("INBOX", "\\Seen", &generate_message(100, "INBOX"));
    let new_plain = client.append("Archive/2023", "", &generate_message(101, "Archive/2023"));
    client.store("INBOX", inbox[0].uid, "+FLAGS", "\\Flagged"); // "" -> F
    client.store("INBOX", inbox[1].uid, "-FLAGS", "\\Seen"); // S -> ""
    client.store("INBOX", inbox[2].uid, "+FLAGS", "\\Answered"); // FS -> FRS
    client.store("INBOX", inbox[2].uid, "-FLAGS", "\\Seen"); // FRS -> FR
    client.expunge_uid("INBOX", inbox[3].uid);
    client.expunge_uid("&AMk-t&AOk-", ete[4].uid);

    imapdir.sync_ok();

    let local = maildir_messages(maildir, "INBOX");
    assert_eq!(local.len(), 10, "one new, one expunged");
    let added = find_by_message_id(&local, &mid(100, "INBOX"));
    assert_eq!((added.subdir.as_str(), added.flags.as_str()), ("cur", "S"));
    assert_eq!(added.uid(), Some(new_seen));
    let archive = maildir_messages(maildir, "Archive/2023");
    assert_eq!(archive.len(), 11);
    let plain = find_by_message_id(&archive, &mid(101, "Archive/2023"));
    assert_eq!(plain.subdir, "new");
    assert_eq!(plain.uid(), Some(new_plain));
    assert!(!plain.name.contains(":2,"));

    let m0 = find_by_message_id(&local, &mid(0, "INBOX"));
    assert_eq!((m0.subdir.as_str(), m0.flags.as_str()), ("cur", "F"));
    assert_eq!(find_by_message_id(&local, &mid(1, "INBOX")).flags, "");
    assert_eq!(find_by_message_id(&local, &mid(2, "INBOX")).flags, "FR");
    assert!(
        !local
            .iter()
            .any(|m| m.message_id() == Some(mid(3, "INBOX"))),
        "expunged message unlinked locally"
    );
    let ete_local = maildir_messages(maildir, "Été");
    assert_eq!(ete_local.len(), 9);
    assert!(!ete_local
        .iter()
        .any(|m| m.message_id() == Some(mid(4, "&AMk-t&AOk-"))));

    // Untouched messages keep their files: same name, same inode.
    for i in 4..10 {
        let before = find_by_message_id(&local_before, &mid(i, "INBOX"));
        let after = find_by_message_id(&local, &mid(i, "INBOX"));
        assert_eq!(before.path, after.path, "message {i} untouched");
        assert_eq!(before.inode(), after.inode());
    }
    // The local side never changes what the server already had.
    let server_inbox = client.fetch_all("INBOX");
    assert_eq!(server_inbox.len(), 10);
    assert_all_in_sync(&mut client, maildir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn local_changes_arrive_on_server() {
    let (_dovecot, mut client, imapdir) = synced_standard(10);
    let maildir = imapdir.maildir();
    let server_before = client.fetch_all("INBOX");
    let local = maildir_messages(maildir, "INBOX");

    let new_name = "1700000000.test42.localhost";
    let cur_name = "1700000001.test43.localhost";
    let nested_name = "1700000002.test44.localhost";
    write_local_message(
        maildir,
        "INBOX",
        new_name,
        &generate_message(200, "INBOX"),
        None,
    );
    write_local_message(
        maildir,
        "INBOX",
        cur_name,
        &generate_message(201, "INBOX"),
        Some("S"),
    );
    write_local_message(
        maildir,
        "Archive/2023",
        nested_name,
        &generate_message(202, "Archive/2023"),
        None,
    );
    set_local_flags(find_by_message_id(&local, &mid(0, "INBOX")), "S"); // new/ -> cur/ S
    set_local_flags(find_by_message_id(&local, &mid(1, "INBOX")), "FS"); // S -> FS
    set_local_flags(find_by_message_id(&local, &mid(2, "INBOX")), "F"); // FS -> F
    let deleted = find_by_message_id(&local, &mid(5, "INBOX"));
    let deleted_uid = deleted.uid().unwrap();
    fs::remove_file(&deleted.path).unwrap();

    imapdir.sync_ok();

    let server = client.fetch_all("INBOX");
    assert_eq!(server.len(), 11, "two uploaded, one expunged");
    let server_uids: Vec<u32> = server.iter().map(|m| m.uid).collect();
    assert!(
        !server_uids.contains(&deleted_uid),
        "uid {deleted_uid} expunged"
    );
    for old in &server_before {
        if old.uid != deleted_uid {
            assert!(server_uids.contains(&old.uid), "uid {} kept", old.uid);
        }
    }

    let local = maildir_messages(maildir, "INBOX");
    for (name, i, subdir, letters) in [(new_name, 200, "new", ""), (cur_name, 201, "cur", "S")] {
        let s = find_server_by_message_id(&server, &mid(i, "INBOX"));
        assert!(is_crlf_only(&s.body), "uploaded with CRLF line endings");
        assert_eq!(s.body, generate_message(i, "INBOX"), "uploaded content");
        assert_eq!(s.letters(), letters);
        let l = find_by_message_id(&local, &mid(i, "INBOX"));
        assert!(l.name.starts_with(name), "{} keeps its unique part", l.name);
        assert_eq!(l.uid(), Some(s.uid), "{} carries ,U=<uid>", l.name);
        assert_eq!(l.subdir, subdir, "{} stays in {subdir}/", l.name);
        assert_eq!(l.flags, letters);
    }
    let archive = client.fetch_all("Archive/2023");
    assert_eq!(archive.len(), 11);
    let nested = find_server_by_message_id(&archive, &mid(202, "Archive/2023"));
    assert_eq!(nested.letters(), "");

    assert_eq!(
        find_server_by_message_id(&server, &mid(0, "INBOX")).letters(),
        "S"
    );
    assert_eq!(
        find_server_by_message_id(&server, &mid(1, "INBOX")).letters(),
        "FS"
    );
    assert_eq!(
        find_server_by_message_id(&server, &mid(2, "INBOX")).letters(),
        "F"
    );
    assert_all_in_sync(&mut client, maildir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn flag_changes_on_both_sides_are_merged() {
    let (_dovecot, mut client, imapdir) = synced_standard(6);
    let maildir = imapdir.maildir();
    let inbox = client.fetch_all("INBOX");
    let archive = client.fetch_all("Archive/2023");
    let local_inbox = maildir_messages(maildir, "INBOX");
    let local_archive = maildir_messages(maildir, "Archive/2023");

    // Message 1 (S): local adds F, server adds \Answered.
    set_local_flags(find_by_message_id(&local_inbox, &mid(1, "INBOX")), "FS");
    client.store("INBOX", inbox[1].uid, "+FLAGS", "\\Answered");
    // Message 2 (FS): local removes S, server adds \Draft.
    set_local_flags(find_by_message_id(&local_inbox, &mid(2, "INBOX")), "F");
    client.store("INBOX", inbox[2].uid, "+FLAGS", "\\Draft");
    // Archive message 0 (none, in new/): local sets F, server sets \Seen.
    set_local_flags(
        find_by_message_id(&local_archive, &mid(0, "Archive/2023")),
        "F",
    );
    client.store("Archive/2023", archive[0].uid, "+FLAGS", "\\Seen");

    imapdir.sync_ok();

    let inbox = client.fetch_all("INBOX");
    let archive = client.fetch_all("Archive/2023");
    let local_inbox = maildir_messages(maildir, "INBOX");
    let local_archive = maildir_messages(maildir, "Archive/2023");
    for (server, local, i, folder, merged) in [
        (&inbox, &local_inbox, 1, "INBOX", "FRS"),
        (&inbox, &local_inbox, 2, "INBOX", "DF"),
        (&archive, &local_archive, 0, "Archive/2023", "FS"),
    ] {
        let s = find_server_by_message_id(server, &mid(i, folder));
        let l = find_by_message_id(local, &mid(i, folder));
        assert_eq!(s.letters(), merged, "server flags of {folder} message {i}");
        assert_eq!(l.flags, merged, "local flags of {folder} message {i}");
        assert_eq!(l.subdir, "cur");
    }
    assert_all_in_sync(&mut client, maildir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn folder_created_on_server_appears_locally() {
    let (_dovecot, mut client, imapdir) = synced_standard(3);
    let maildir = imapdir.maildir();
    client.create("Projects");
    client.create("Projects/Alpha");
    client.create("Empty");
    seed_folder(&mut client, "Projects/Alpha", 0..2);
    seed_folder(&mut client, "Projects", 0..1);

    imapdir.sync_ok();

    assert!(
        maildir.join("Empty/cur").is_dir(),
        "empty server folder created"
    );
    assert!(maildir.join("Empty/new").is_dir());
    assert!(maildir.join("Empty/tmp").is_dir());
    let alpha = maildir_messages(maildir, "Projects/Alpha");
    assert_eq!(alpha.len(), 2);
    assert_eq!(maildir_messages(maildir, "Projects").len(), 1);
    let server = client.fetch_all("Projects/Alpha");
    assert_eq!(local_contents(&alpha), server_contents(&server));
    let folders = maildir_folders(maildir);
    for f in [
        "INBOX",
        "Archive",
        "Archive/2023",
        "Été",
        "Projects",
        "Projects/Alpha",
        "Empty",
    ] {
        assert!(folders.contains(f), "{f} in {folders:?}");
    }
    assert_all_in_sync(&mut client, maildir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn folder_created_locally_appears_on_server() {
    let (_dovecot, mut client, imapdir) = synced_standard(3);
    let maildir = imapdir.maildir().to_path_buf();
    make_local_folder(&maildir, "Local/Sub");
    write_local_message(
        &maildir,
        "Local/Sub",
        "1700000100.sub1.localhost",
        &generate_message(0, "Local/Sub"),
        None,
    );
    write_local_message(
        &maildir,
        "Local/Sub",
        "1700000101.sub2.localhost",
        &generate_message(1, "Local/Sub"),
        None,
    );
    write_local_message(
        &maildir,
        "Local/Sub",
        "1700000102.sub3.localhost",
        &generate_message(2, "Local/Sub"),
        Some("FS"),
    );
    write_local_message(
        &maildir,
        "Café",
        "1700000103.cafe.localhost",
        &generate_message(0, "Café"),
        Some("S"),
    );

    imapdir.sync_ok();

    let folders = client.list();
    assert!(folders.contains(&"Local/Sub".to_string()), "{folders:?}");
    assert!(
        folders.contains(&"Caf&AOk-".to_string()),
        "encoded to mUTF-7: {folders:?}"
    );
    let sub = client.fetch_all("Local/Sub");
    assert_eq!(sub.len(), 3);
    for (i, letters) in [(0, ""), (1, ""), (2, "FS")] {
        let s = find_server_by_message_id(&sub, &mid(i, "Local/Sub"));
        assert_eq!(s.letters(), letters);
        assert_eq!(s.body, generate_message(i, "Local/Sub"));
    }
    let cafe = client.fetch_all("Caf&AOk-");
    assert_eq!(cafe.len(), 1);
    assert_eq!(cafe[0].letters(), "S");
    let local_sub = maildir_messages(&maildir, "Local/Sub");
    assert!(
        local_sub.iter().all(|m| m.uid().is_some()),
        "renamed with ,U="
    );
    assert_all_in_sync(&mut client, &maildir);
    assert_noop_sync(&imapdir, &mut client);
}

/// After UIDVALIDITY changed, checks that re-pairing downloaded nothing,
/// duplicated nothing, deleted nothing, and that later changes still
/// reach the right message on the other side.
fn assert_repaired_after_uidvalidity_change(
    client: &mut ImapClient,
    imapdir: &Imapdir,
    inodes_before: &BTreeMap<String, u64>,
    new_uidvalidity: u32,
) {
    let maildir = imapdir.maildir();
    imapdir.sync_ok();
    let local = maildir_messages(maildir, "INBOX");
    assert_eq!(
        inodes_by_message_id(&local),
        *inodes_before,
        "no file re-downloaded"
    );
    let (uidvalidity, exists) = client.select("INBOX");
    assert_eq!(uidvalidity, new_uidvalidity);
    assert_eq!(
        exists as usize,
        inodes_before.len(),
        "nothing uploaded twice or deleted"
    );
    assert_all_in_sync(client, maildir);

    // The pairing is right: changes reach the matching message.
    let server = client.fetch_all("INBOX");
    let flagged_mid = server[0].message_id().unwrap();
    client.store("INBOX", server[0].uid, "+FLAGS", "\\Flagged");
    let removed = find_by_message_id(&local, &server[1].message_id().unwrap());
    let removed_uid = server[1].uid;
    fs::remove_file(&removed.path).unwrap();
    imapdir.sync_ok();
    let local = maildir_messages(maildir, "INBOX");
    assert!(find_by_message_id(&local, &flagged_mid).flags.contains('F'));
    let server = client.fetch_all("INBOX");
    assert!(
        server.iter().all(|m| m.uid != removed_uid),
        "uid {removed_uid} expunged"
    );
    assert_eq!(server.len(), inodes_before.len() - 1);
    assert_all_in_sync(client, maildir);
    assert_noop_sync(imapdir, client);
}

#[test]
fn uidvalidity_change_is_repaired_by_message_id() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..12);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let inodes_before = inodes_by_message_id(&maildir_messages(imapdir.maildir(), "INBOX"));
    assert_eq!(inodes_before.len(), 12);

    let (old, _) = client.select("INBOX");
    let new_uidvalidity = old.wrapping_add(12345);
    dovecot.set_uidvalidity("INBOX", new_uidvalidity);

    assert_repaired_after_uidvalidity_change(
        &mut client,
        &imapdir,
        &inodes_before,
        new_uidvalidity,
    );
}

#[test]
fn uidvalidity_change_with_renumbered_uids_is_repaired() {
    let mut dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let seeded = seed_folder(&mut client, "INBOX", 0..10);
    for (uid, _) in &seeded[..3] {
        client.expunge_uid("INBOX", *uid);
    }
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let inodes_before = inodes_by_message_id(&maildir_messages(imapdir.maildir(), "INBOX"));
    assert_eq!(inodes_before.len(), 7);
    let (old, _) = client.select("INBOX");
    client.logout();

    // Losing its uidlist and indexes makes Dovecot number messages anew.
    dovecot.stop();
    let control = dovecot.dir().join("control").join(USER).join("INBOX");
    fs::remove_file(control.join("dovecot-uidlist")).unwrap();
    fs::remove_dir_all(dovecot.dir().join("index").join(USER).join("INBOX")).unwrap();
    dovecot.restart();
    let new_uidvalidity = old.wrapping_add(777);
    dovecot.set_uidvalidity("INBOX", new_uidvalidity);
    let mut client = dovecot.client();
    let renumbered: Vec<u32> = client.fetch_all("INBOX").iter().map(|m| m.uid).collect();
    assert_eq!(
        renumbered,
        (1..=7).collect::<Vec<u32>>(),
        "precondition: UIDs renumbered"
    );

    assert_repaired_after_uidvalidity_change(
        &mut client,
        &imapdir,
        &inodes_before,
        new_uidvalidity,
    );
}

/// Changes on both sides used by the --pull/--push/--dry-run tests.
struct PendingChanges {
    server_new: String,
    server_flagged: String,
    server_expunged: String,
    local_new_path: std::path::PathBuf,
    local_new: String,
    local_flagged: String,
    local_deleted: String,
}

fn make_changes_on_both_sides(client: &mut ImapClient, imapdir: &Imapdir) -> PendingChanges {
    let maildir = imapdir.maildir();
    let inbox = client.fetch_all("INBOX");
    client.append("INBOX", "\\Seen", &generate_message(300, "INBOX"));
    client.store("INBOX", inbox[0].uid, "+FLAGS", "\\Flagged"); // "" -> F
    client.expunge_uid("INBOX", inbox[3].uid);

    let local = maildir_messages(maildir, "INBOX");
    let local_new_path = write_local_message(
        maildir,
        "INBOX",
        "1700000300.pending.localhost",
        &generate_message(301, "INBOX"),
        None,
    );
    set_local_flags(find_by_message_id(&local, &mid(1, "INBOX")), "FS"); // S -> FS
    fs::remove_file(&find_by_message_id(&local, &mid(4, "INBOX")).path).unwrap();
    PendingChanges {
        server_new: mid(300, "INBOX"),
        server_flagged: mid(0, "INBOX"),
        server_expunged: mid(3, "INBOX"),
        local_new_path,
        local_new: mid(301, "INBOX"),
        local_flagged: mid(1, "INBOX"),
        local_deleted: mid(4, "INBOX"),
    }
}

fn has_mid(ids: &[Option<String>], mid: &str) -> bool {
    ids.iter().any(|m| m.as_deref() == Some(mid))
}

fn assert_server_changes_pulled(imapdir: &Imapdir, c: &PendingChanges) {
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let ids: Vec<_> = local.iter().map(|m| m.message_id()).collect();
    assert!(
        has_mid(&ids, &c.server_new),
        "server's new message downloaded"
    );
    assert_eq!(find_by_message_id(&local, &c.server_flagged).flags, "F");
    assert!(
        !has_mid(&ids, &c.server_expunged),
        "server's expunge applied"
    );
}

fn assert_local_changes_pushed(client: &mut ImapClient, c: &PendingChanges) {
    let server = client.fetch_all("INBOX");
    let ids: Vec<_> = server.iter().map(|m| m.message_id()).collect();
    assert!(has_mid(&ids, &c.local_new), "local new message uploaded");
    assert_eq!(
        find_server_by_message_id(&server, &c.local_flagged).letters(),
        "FS"
    );
    assert!(!has_mid(&ids, &c.local_deleted), "local deletion expunged");
}

#[test]
fn pull_applies_only_server_changes() {
    let (_dovecot, mut client, imapdir) = synced_standard(8);
    let changes = make_changes_on_both_sides(&mut client, &imapdir);
    let server_before = client.snapshot();

    imapdir.run(&["sync", "--pull"]).expect_success();

    assert_server_changes_pulled(&imapdir, &changes);
    assert!(
        client.snapshot() == server_before,
        "--pull changed the server"
    );
    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let ids: Vec<_> = local.iter().map(|m| m.message_id()).collect();
    assert!(
        changes.local_new_path.exists(),
        "pending local message left alone"
    );
    assert_eq!(
        find_by_message_id(&local, &changes.local_flagged).flags,
        "FS"
    );
    assert!(
        !has_mid(&ids, &changes.local_deleted),
        "local deletion not undone"
    );
    assert_eq!(local.len(), 8 + 1 - 1 + 1 - 1);

    // A later plain sync pushes what was left pending.
    imapdir.sync_ok();
    assert_local_changes_pushed(&mut client, &changes);
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn push_applies_only_local_changes() {
    let (_dovecot, mut client, imapdir) = synced_standard(8);
    let changes = make_changes_on_both_sides(&mut client, &imapdir);
    let local_before = maildir_messages(imapdir.maildir(), "INBOX");

    imapdir.run(&["sync", "--push"]).expect_success();

    assert_local_changes_pushed(&mut client, &changes);
    let server = client.fetch_all("INBOX");
    let server_ids: Vec<_> = server.iter().map(|m| m.message_id()).collect();
    assert!(
        has_mid(&server_ids, &changes.server_new),
        "server change not undone"
    );
    assert!(
        !has_mid(&server_ids, &changes.server_expunged),
        "server expunge not undone"
    );

    let local = maildir_messages(imapdir.maildir(), "INBOX");
    let ids: Vec<_> = local.iter().map(|m| m.message_id()).collect();
    assert!(!has_mid(&ids, &changes.server_new), "--push downloaded");
    assert_eq!(
        find_by_message_id(&local, &changes.server_flagged).flags,
        ""
    );
    assert!(
        has_mid(&ids, &changes.server_expunged),
        "--push applied an expunge"
    );
    // Only the uploaded file was touched (renamed to carry its UID).
    assert_eq!(local.len(), local_before.len());
    for before in &local_before {
        if before.message_id().as_deref() != Some(changes.local_new.as_str()) {
            assert!(before.path.exists(), "{} untouched by --push", before.name);
        }
    }

    imapdir.sync_ok();
    assert_server_changes_pulled(&imapdir, &changes);
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn dry_run_on_a_fresh_account_changes_nothing() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 5);
    let server_before = client.snapshot();
    let imapdir = Imapdir::new(&dovecot);

    let result = imapdir.run(&["sync", "--dry-run"]);
    result.expect_success();
    let downloads = lines_mentioning(&result.stdout, "download");
    assert!(
        downloads.len() >= STANDARD_FOLDERS.len(),
        "a download line per folder at least:\n{}",
        result.stdout
    );
    assert!(
        tree_listing(imapdir.maildir()).is_empty(),
        "no local file written"
    );
    assert!(!imapdir.state_file().exists(), "no state file created");
    assert!(client.snapshot() == server_before, "server untouched");

    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn dry_run_after_changes_lists_actions_and_changes_nothing() {
    let (_dovecot, mut client, imapdir) = synced_standard(8);
    let changes = make_changes_on_both_sides(&mut client, &imapdir);
    client.create("FromServer");
    seed_folder(&mut client, "FromServer", 0..1);
    make_local_folder(imapdir.maildir(), "FromLocal");
    write_local_message(
        imapdir.maildir(),
        "FromLocal",
        "1700000400.dry.localhost",
        &generate_message(0, "FromLocal"),
        None,
    );
    let local_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();

    let result = imapdir.run(&["sync", "--dry-run"]);
    result.expect_success();
    for word in ["download", "upload", "flag", "delete", "create"] {
        assert!(
            !lines_mentioning(&result.stdout, word).is_empty(),
            "a planned action mentions {word:?}:\n{}",
            result.stdout
        );
    }
    assert_eq!(
        tree_listing(imapdir.maildir()),
        local_before,
        "local side untouched"
    );
    assert!(client.snapshot() == server_before, "server untouched");
    assert!(!client.list().contains(&"FromLocal".to_string()));

    imapdir.sync_ok();
    assert_server_changes_pulled(&imapdir, &changes);
    assert_local_changes_pushed(&mut client, &changes);
    assert!(client.list().contains(&"FromLocal".to_string()));
    assert_eq!(maildir_messages(imapdir.maildir(), "FromServer").len(), 1);
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}
