//! First sync, no-change sync, `folders`, `check`, parallel jobs and a
//! server without CONDSTORE/QRESYNC.

mod common;

use common::*;
use std::fs;

/// Capabilities of Dovecot 2.3 minus CONDSTORE and QRESYNC.
const CAPS_WITHOUT_CONDSTORE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
     SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
     CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT \
     SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY \
     PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY COMPRESS=DEFLATE";

#[test]
fn first_sync_downloads_every_folder_with_names_flags_and_contents() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 10);
    let imapdir = Imapdir::new(&dovecot);

    imapdir.run(&["sync", "test"]).expect_success();

    let maildir = imapdir.maildir();
    assert!(maildir.join("INBOX/cur").is_dir());
    assert!(maildir.join("INBOX/new").is_dir());
    assert!(maildir.join("INBOX/tmp").is_dir());
    assert!(maildir.join("Archive/2023/cur").is_dir(), "nested folder");
    assert!(maildir.join("Été/cur").is_dir(), "mUTF-7 name decoded");
    assert!(
        !maildir.join("&AMk-t&AOk-").exists(),
        "raw mUTF-7 name not used"
    );

    for folder in STANDARD_FOLDERS {
        let server = client.fetch_all(folder);
        let local = maildir_messages(maildir, &local_folder(folder));
        let expected = if *folder == "Archive" { 2 } else { 10 };
        assert_eq!(server.len(), expected);
        assert_eq!(local.len(), expected, "{folder}: local message count");
        for s in &server {
            let mid = s.message_id().unwrap();
            let l = find_by_message_id(&local, &mid);
            assert_eq!(
                l.body,
                normalize(&s.body),
                "{folder} {mid}: content, LF endings"
            );
            assert!(
                !l.body.contains(&b'\r'),
                "{folder} {mid}: no CR stored locally"
            );
            assert_eq!(l.uid(), Some(s.uid), "{folder} {mid}: ,U= in {}", l.name);
            assert!(
                l.base_name().ends_with(&format!(",U={}", s.uid)),
                "{folder}: name {} is <unique>,U=<uid>",
                l.name
            );
            if s.flags.is_empty() {
                assert_eq!(l.subdir, "new", "{folder} {mid}: unflagged goes to new/");
                assert!(!l.name.contains(":2,"), "{}: no info in new/", l.name);
            } else {
                assert_eq!(l.subdir, "cur", "{folder} {mid}: flagged goes to cur/");
                assert_eq!(
                    l.flags,
                    s.letters(),
                    "{folder} {mid}: letters of {}",
                    l.name
                );
            }
        }
        let tmp_files = fs::read_dir(maildir.join(local_folder(folder)).join("tmp"))
            .unwrap()
            .count();
        assert_eq!(tmp_files, 0, "{folder}: tmp/ left empty");
    }

    // Every flag letter of the spec shows up at least once.
    let inbox = maildir_messages(maildir, "INBOX");
    let names: Vec<&str> = inbox.iter().map(|m| m.name.as_str()).collect();
    for (letters, count) in [
        ("", 2),
        ("S", 2),
        ("FS", 1),
        ("RS", 1),
        ("D", 1),
        ("PS", 1),
        ("F", 1),
        ("ST", 1),
    ] {
        let n = inbox.iter().filter(|m| m.flags == letters).count();
        assert_eq!(n, count, "files with letters {letters:?} in {names:?}");
    }
    assert!(imapdir.state_file().exists(), "state file created");
}

#[test]
fn second_sync_without_changes_is_a_no_op() {
    let (_dovecot, mut client, imapdir) = synced_standard(8);
    let state_before = fs::metadata(imapdir.state_file()).is_ok();
    assert!(state_before);
    assert_noop_sync(&imapdir, &mut client);
    assert_noop_sync(&imapdir, &mut client);
    assert_all_in_sync(&mut client, imapdir.maildir());
}

#[test]
fn folders_lists_raw_names_and_local_paths() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, 1);
    let imapdir = Imapdir::new(&dovecot);

    let result = imapdir.run(&["folders", "test"]);
    result.expect_success();
    let mut listed = Vec::new();
    for line in result.stdout.lines().filter(|l| l.contains('\t')) {
        // Name, local path, and what the next sync does to the folder.
        let mut columns = line.split('\t');
        let (raw, local) = (columns.next().unwrap(), columns.next().unwrap());
        listed.push((raw.to_string(), local.to_string()));
    }
    listed.sort();
    let server = client.list();
    assert_eq!(
        listed.iter().map(|(r, _)| r.clone()).collect::<Vec<_>>(),
        server,
        "one line per server folder:\n{}",
        result.stdout
    );
    for (raw, local) in &listed {
        let relative = local_folder(raw);
        let absolute = imapdir.maildir().join(&relative);
        assert!(
            local == &relative || local == absolute.to_str().unwrap(),
            "{raw} maps to {local}, expected {relative} or {}",
            absolute.display()
        );
    }
    // `folders` only reports: nothing is downloaded.
    assert!(tree_listing(imapdir.maildir()).is_empty());
}

#[test]
fn check_logs_in_and_prints_capabilities() {
    let dovecot = Dovecot::start();
    let imapdir = Imapdir::new(&dovecot);
    let result = imapdir.run(&["check"]);
    result.expect_success();
    let out = result.stdout.to_ascii_uppercase();
    assert!(
        out.contains("IMAP4REV1"),
        "capabilities printed:\n{}",
        result.stdout
    );
    assert!(
        out.contains("UIDPLUS"),
        "capabilities printed:\n{}",
        result.stdout
    );

    imapdir.run(&["check", "test"]).expect_success();
    assert!(
        tree_listing(imapdir.maildir()).is_empty(),
        "check changes nothing"
    );
}

/// Initial sync, changes on both sides, sync, no-op sync — with `jobs`.
fn sync_scenario_with_jobs(jobs: u32) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    let folders = ["INBOX", "Alpha", "Beta", "Beta/Gamma", "Delta", "Epsilon"];
    for folder in folders {
        seed_folder(&mut client, folder, 0..15);
    }
    let imapdir = Imapdir::with_jobs(&dovecot, jobs);
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());

    let maildir = imapdir.maildir();
    let mut expected_counts = Vec::new();
    for (k, folder) in folders.iter().enumerate() {
        let server = client.fetch_all(folder);
        client.append(folder, "\\Seen", &generate_message(100 + k, folder));
        client.store(folder, server[1].uid, "+FLAGS", "\\Answered");
        client.expunge_uid(folder, server[2].uid);

        let local = maildir_messages(maildir, folder);
        write_local_message(
            maildir,
            folder,
            &format!("1700000000.jobs{k}.localhost"),
            &generate_message(200 + k, folder),
            None,
        );
        let m3 = find_by_message_id(&local, &generated_message_id(3, folder));
        set_local_flags(m3, &format!("{}F", m3.flags.replace('F', "")));
        let m4 = find_by_message_id(&local, &generated_message_id(4, folder));
        fs::remove_file(&m4.path).unwrap();
        expected_counts.push((folder, 15 + 1 - 1 + 1 - 1));
    }

    imapdir.sync_ok();
    for (folder, count) in expected_counts {
        let server = client.fetch_all(folder);
        assert_eq!(server.len(), count, "{folder} on the server");
        let mids: Vec<String> = server.iter().filter_map(|m| m.message_id()).collect();
        assert!(
            !mids.contains(&generated_message_id(2, folder)),
            "{folder}: expunged"
        );
        assert!(
            !mids.contains(&generated_message_id(4, folder)),
            "{folder}: unlinked"
        );
        let m3 = find_server_by_message_id(&server, &generated_message_id(3, folder));
        assert!(
            m3.flags.iter().any(|f| f == "\\Flagged"),
            "{folder}: local flag pushed"
        );
        let local = maildir_messages(maildir, folder);
        let m1 = find_by_message_id(&local, &generated_message_id(1, folder));
        assert!(m1.flags.contains('R'), "{folder}: server flag pulled");
    }
    assert_all_in_sync(&mut client, maildir);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn sync_with_one_job() {
    sync_scenario_with_jobs(1);
}

#[test]
fn sync_with_four_jobs() {
    sync_scenario_with_jobs(4);
}

#[test]
fn sync_works_without_condstore_and_qresync() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        imap_capability: Some(CAPS_WITHOUT_CONDSTORE.into()),
        ..Default::default()
    });
    let mut client = dovecot.client();
    assert!(!client.capabilities().iter().any(|c| c == "CONDSTORE"));
    seed_standard(&mut client, 6);
    let imapdir = Imapdir::new(&dovecot);

    let check = imapdir.run(&["check"]);
    check.expect_success();
    assert!(!check.stdout.to_ascii_uppercase().contains("CONDSTORE"));

    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());

    // Flag changes must be found without modification sequences.
    let server = client.fetch_all("INBOX");
    client.store("INBOX", server[0].uid, "+FLAGS", "\\Flagged");
    client.store("INBOX", server[1].uid, "-FLAGS", "\\Seen");
    client.expunge_uid("INBOX", server[2].uid);
    let local = maildir_messages(imapdir.maildir(), "Archive/2023");
    let m = find_by_message_id(&local, &generated_message_id(0, "Archive/2023"));
    set_local_flags(m, "S");

    imapdir.sync_ok();
    let inbox = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(
        find_by_message_id(&inbox, &generated_message_id(0, "INBOX")).flags,
        "F"
    );
    assert_eq!(
        find_by_message_id(&inbox, &generated_message_id(1, "INBOX")).flags,
        ""
    );
    assert_eq!(inbox.len(), 5);
    let archive = client.fetch_all("Archive/2023");
    let m = find_server_by_message_id(&archive, &generated_message_id(0, "Archive/2023"));
    assert_eq!(m.letters(), "S");
    assert_all_in_sync(&mut client, imapdir.maildir());
    assert_noop_sync(&imapdir, &mut client);
}
