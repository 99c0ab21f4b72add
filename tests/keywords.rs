//! IMAP keywords against real Dovecot: letters `a`..`z` in the file names
//! as Dovecot writes them, named in the folder's `dovecot-keywords`, synced
//! both ways with the flags' three-way merge; a second Dovecot reading our
//! Maildir sees the same keywords; a keyword the folder cannot hold is
//! kept and reported.

mod common;

use common::fake_server::{FakeScript, FakeServer};
use common::*;
use std::fs;
use std::path::Path;

fn mid(i: usize) -> String {
    generated_message_id(i, "INBOX")
}

/// The folder's dovecot-keywords, as written.
fn keywords_file(folder_dir: &Path) -> String {
    fs::read_to_string(folder_dir.join("dovecot-keywords")).unwrap_or_default()
}

/// The letter dovecot-keywords gives `keyword`.
fn letter_of(folder_dir: &Path, keyword: &str) -> char {
    for line in keywords_file(folder_dir).lines() {
        let (n, name) = line.split_once(' ').unwrap();
        if name == keyword {
            return (b'a' + n.parse::<u8>().unwrap()) as char;
        }
    }
    panic!(
        "{keyword} not in {}/dovecot-keywords: {:?}",
        folder_dir.display(),
        keywords_file(folder_dir)
    )
}

/// The message's flags on the server, `\Recent` left out, sorted.
fn server_flags(client: &mut ImapClient, folder: &str, message_id: &str) -> Vec<String> {
    let msgs = client.fetch_all(folder);
    find_server_by_message_id(&msgs, message_id).flags.clone()
}

fn local(imapdir: &Imapdir, message_id: &str) -> LocalMsg {
    let msgs = maildir_messages(imapdir.maildir(), "INBOX");
    find_by_message_id(&msgs, message_id).clone()
}

/// A server with three INBOX messages, the first carrying `$NotJunk`
/// already, and a first sync.
fn synced_with_keywords() -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.append("INBOX", "\\Seen $NotJunk", &generate_message(0, "INBOX"));
    client.append("INBOX", "\\Seen", &generate_message(1, "INBOX"));
    client.append("INBOX", "", &generate_message(2, "INBOX"));
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    (dovecot, client, imapdir)
}

#[test]
fn server_keywords_reach_the_file_names_and_dovecot_keywords() {
    let (_dovecot, mut client, imapdir) = synced_with_keywords();
    let inbox = imapdir.maildir().join("INBOX");
    // Downloaded with its keyword.
    assert_eq!(keywords_file(&inbox), "0 $NotJunk\n");
    assert_eq!(local(&imapdir, &mid(0)).flags, "Sa");

    // Set on the server later.
    let uids: Vec<u32> = client.fetch_all("INBOX").iter().map(|m| m.uid).collect();
    client.store("INBOX", uids[1], "+FLAGS", "$Label1");
    client.store("INBOX", uids[2], "+FLAGS", "$Junk $Label1 \\Flagged");
    imapdir.sync_ok();
    assert_eq!(keywords_file(&inbox), "0 $NotJunk\n1 $Label1\n2 $Junk\n");
    assert_eq!(local(&imapdir, &mid(1)).flags, "Sb");
    let third = local(&imapdir, &mid(2));
    assert_eq!(
        (third.subdir.as_str(), third.flags.as_str()),
        ("cur", "Fbc")
    );

    // Removed on the server.
    client.store("INBOX", uids[2], "-FLAGS", "$Label1");
    client.store("INBOX", uids[0], "-FLAGS", "$NotJunk");
    imapdir.sync_ok();
    assert_eq!(local(&imapdir, &mid(2)).flags, "Fc");
    assert_eq!(local(&imapdir, &mid(0)).flags, "S");
    // A slot once named keeps its number.
    assert_eq!(keywords_file(&inbox), "0 $NotJunk\n1 $Label1\n2 $Junk\n");
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn local_keywords_reach_the_server_and_their_removal_too() {
    let (_dovecot, mut client, imapdir) = synced_with_keywords();
    let inbox = imapdir.maildir().join("INBOX");
    // As Dovecot's own delivery or a mail reader writing through it would:
    // a new name in dovecot-keywords, and its letter on the file.
    fs::write(
        inbox.join("dovecot-keywords"),
        "0 $NotJunk\n1 $Label2\n3 $Important\n",
    )
    .unwrap();
    set_local_flags(&local(&imapdir, &mid(1)), "Sbd");
    let uploaded = write_local_message(
        imapdir.maildir(),
        "INBOX",
        "1700000000.M1P1.local",
        &generate_message(9, "INBOX"),
        Some("Sd"),
    );
    assert!(uploaded.exists());
    imapdir.sync_ok();
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(1)),
        ["$Important", "$Label2", "\\Seen"]
    );
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(9)),
        ["$Important", "\\Seen"]
    );
    // Nothing renumbered, nothing added.
    assert_eq!(
        keywords_file(&inbox),
        "0 $NotJunk\n1 $Label2\n3 $Important\n"
    );

    // Removed locally.
    set_local_flags(&local(&imapdir, &mid(1)), "Sd");
    set_local_flags(&local(&imapdir, &mid(0)), "S");
    imapdir.sync_ok();
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(1)),
        ["$Important", "\\Seen"]
    );
    assert_eq!(server_flags(&mut client, "INBOX", &mid(0)), ["\\Seen"]);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn letters_dovecot_keywords_does_not_name_stay_on_the_file_and_off_the_server() {
    let (_dovecot, mut client, imapdir) = synced_with_keywords();
    // 'q' has no name: not a keyword anyone can read.
    set_local_flags(&local(&imapdir, &mid(1)), "Sq");
    imapdir.sync_ok();
    assert_eq!(server_flags(&mut client, "INBOX", &mid(1)), ["\\Seen"]);
    // A flag change from the server keeps the letter.
    let uid = client.fetch_all("INBOX")[1].uid;
    client.store("INBOX", uid, "+FLAGS", "\\Flagged");
    imapdir.sync_ok();
    assert_eq!(local(&imapdir, &mid(1)).flags, "FSq");
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(1)),
        ["\\Flagged", "\\Seen"]
    );
}

#[test]
fn keyword_conflicts_merge_like_flags() {
    let (_dovecot, mut client, imapdir) = synced_with_keywords();
    let inbox = imapdir.maildir().join("INBOX");
    fs::write(inbox.join("dovecot-keywords"), "0 $NotJunk\n1 $Label2\n").unwrap();
    let uid0 = client.fetch_all("INBOX")[0].uid;
    let uid2 = client.fetch_all("INBOX")[2].uid;
    // Message 0: locally $Label2 added, on the server $NotJunk removed and
    // $Label3 added: each side's change wins.
    set_local_flags(&local(&imapdir, &mid(0)), "Sab");
    client.store("INBOX", uid0, "-FLAGS", "$NotJunk");
    client.store("INBOX", uid0, "+FLAGS", "$Label3");
    // Message 2: both add $Label2.
    set_local_flags(&local(&imapdir, &mid(2)), "b");
    client.store("INBOX", uid2, "+FLAGS", "$Label2");
    imapdir.sync_ok();

    let label3 = letter_of(&inbox, "$Label3");
    assert_eq!(label3, 'c');
    assert_eq!(local(&imapdir, &mid(0)).flags, "Sbc");
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(0)),
        ["$Label2", "$Label3", "\\Seen"]
    );
    assert_eq!(local(&imapdir, &mid(2)).flags, "b");
    assert_eq!(server_flags(&mut client, "INBOX", &mid(2)), ["$Label2"]);
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn dovecot_reading_our_maildir_sees_the_same_keywords() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.create("Archive");
    client.append(
        "INBOX",
        "\\Seen $Label1 $Junk",
        &generate_message(0, "INBOX"),
    );
    client.append("INBOX", "$Junk", &generate_message(1, "INBOX"));
    client.append(
        "Archive",
        "\\Flagged $Label5",
        &generate_message(2, "Archive"),
    );
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push(r#"layout = "maildir++""#.into());
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    // Each folder has its own table: Archive's letter a is $Label5.
    assert_eq!(keywords_file(&root.join(".Archive")), "0 $Label5\n");

    let reader = Dovecot::start_with(DovecotOptions {
        maildir_plus_plus: true,
        control_in_mail: true,
        ..DovecotOptions::default()
    });
    reader.load_mail(&root);
    let mut seen_by_reader = reader.client();
    for folder in ["INBOX", "Archive"] {
        let mut theirs: Vec<(Option<String>, Vec<String>)> = client
            .fetch_all(folder)
            .into_iter()
            .map(|m| (m.message_id(), m.flags))
            .collect();
        let mut ours: Vec<(Option<String>, Vec<String>)> = seen_by_reader
            .fetch_all(folder)
            .into_iter()
            .map(|m| (m.message_id(), m.flags))
            .collect();
        theirs.sort();
        ours.sort();
        assert_eq!(ours, theirs, "{folder}");
        assert!(ours
            .iter()
            .any(|(_, flags)| flags.iter().any(|f| f.starts_with('$'))));
    }
}

/// 27 distinct keywords on one message.
fn many_keywords() -> String {
    (0..27)
        .map(|i| format!("$K{i:02}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn a_27th_keyword_is_kept_and_reported_not_dropped() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.append("INBOX", &many_keywords(), &generate_message(0, "INBOX"));
    let before = server_flags(&mut client, "INBOX", &mid(0));
    let imapdir = Imapdir::new(&dovecot);
    let run = imapdir.sync_ok();
    let inbox = imapdir.maildir().join("INBOX");
    assert_eq!(keywords_file(&inbox).lines().count(), 26);
    let letters = local(&imapdir, &mid(0)).flags;
    assert_eq!(letters.len(), 26, "{letters}");
    // Which keyword is left over is the server's order; it is named.
    let named = keywords_file(&inbox);
    let left: Vec<&String> = before
        .iter()
        .filter(|k| {
            !named
                .lines()
                .any(|l| l.split_once(' ').unwrap().1 == k.as_str())
        })
        .collect();
    assert_eq!(left.len(), 1, "{named}");
    let warnings = lines_mentioning(&run.stderr, left[0]);
    assert!(
        warnings.iter().any(|l| l.contains("INBOX")),
        "no warning naming INBOX and {}: {}",
        left[0],
        run.stderr
    );

    // Kept in the state.
    let db = rusqlite::Connection::open(imapdir.state_file()).unwrap();
    let kept: Vec<(String, String)> = db
        .prepare("SELECT keyword, reason FROM unsynced_keywords")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(kept, [(left[0].clone(), "no-letter".to_string())]);
    // And `status` says so, offline and in --json.
    let status = imapdir.run(&["status", "--offline"]);
    status.expect_success();
    assert!(
        status
            .stdout
            .contains(&format!("keyword {} of INBOX not synced", left[0])),
        "{}",
        status.stdout
    );
    let doc: serde_json::Value =
        serde_json::from_str(&imapdir.run(&["--json", "status", "--offline"]).stdout).unwrap();
    let inbox_doc = doc["accounts"][0]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["folder"] == "INBOX")
        .unwrap()
        .clone();
    assert_eq!(
        inbox_doc["unsynced_keywords"][0]["keyword"],
        left[0].as_str()
    );
    assert_eq!(inbox_doc["unsynced_keywords"][0]["reason"], "no-letter");

    // Never dropped: a local flag change leaves it on the server.
    set_local_flags(&local(&imapdir, &mid(0)), &format!("F{letters}"));
    imapdir.sync_ok();
    let after = server_flags(&mut client, "INBOX", &mid(0));
    let mut expected = before.clone();
    expected.push("\\Flagged".into());
    expected.sort();
    assert_eq!(after, expected);
}

/// A server whose PERMANENTFLAGS has no `\*` and no `$Label1` (Dovecot
/// always allows new keywords, so this is the fake server).
#[test]
fn a_keyword_the_server_will_not_store_stays_on_the_file_and_is_reported() {
    let server = FakeServer::start(FakeScript {
        list_names: vec![b"\"INBOX\"".to_vec()],
        with_message: vec!["INBOX".into()],
        permanent_flags: Some("\\Seen \\Answered \\Flagged \\Deleted \\Draft $Junk".into()),
        ..FakeScript::default()
    });
    let imapdir = Imapdir::for_port(server.port());
    imapdir.sync_ok();
    let inbox = imapdir.maildir().join("INBOX");
    let msgs = maildir_messages(imapdir.maildir(), "INBOX");
    assert_eq!(msgs.len(), 1);
    fs::write(inbox.join("dovecot-keywords"), "0 $Label1\n").unwrap();
    let renamed = set_local_flags(&msgs[0], "Sa");

    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.starts_with("C: ") && l.contains("STORE")),
        "a refused keyword was sent: {}",
        run.stderr
    );
    assert!(
        lines_mentioning(&run.stderr, "$Label1")
            .iter()
            .any(|l| l.contains("INBOX") && l.contains("not synced")),
        "{}",
        run.stderr
    );
    assert!(renamed.exists(), "the letter stays on the file");
    let db = rusqlite::Connection::open(imapdir.state_file()).unwrap();
    let reason: String = db
        .query_row(
            "SELECT reason FROM unsynced_keywords WHERE keyword = '$Label1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reason, "refused");
}

#[test]
fn a_no_change_sync_with_keywords_costs_the_same_commands() {
    let (_dovecot, mut client, imapdir) = synced_with_keywords();
    let uid = client.fetch_all("INBOX")[1].uid;
    client.store("INBOX", uid, "+FLAGS", "$Label1");
    imapdir.sync_ok();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    imapdir.sync_ok();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    let verbs: Vec<String> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter_map(|l| {
            l.split_once(' ')
                .map(|(_, c)| c.split_whitespace().next().unwrap_or("").to_string())
        })
        .collect();
    assert_eq!(
        verbs,
        ["AUTHENTICATE", "ENABLE", "NAMESPACE", "LIST", "LOGOUT"],
        "{}",
        run.stderr
    );
}

/// INBOX and Archive with different tables: INBOX's `a` is `$Label1`,
/// Archive's `a` is `$Junk`. One message in INBOX carries `$Label1`.
fn two_folders_with_different_letters() -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    client.create("Archive");
    client.append("INBOX", "\\Seen $Label1", &generate_message(0, "INBOX"));
    client.append("INBOX", "\\Seen", &generate_message(1, "INBOX"));
    client.append("Archive", "$Junk", &generate_message(5, "Archive"));
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    let root = imapdir.maildir();
    assert_eq!(keywords_file(&root.join("INBOX")), "0 $Label1\n");
    assert_eq!(keywords_file(&root.join("Archive")), "0 $Junk\n");
    (dovecot, client, imapdir)
}

fn archived(imapdir: &Imapdir, message_id: &str) -> LocalMsg {
    let msgs = maildir_messages(imapdir.maildir(), "Archive");
    find_by_message_id(&msgs, message_id).clone()
}

#[test]
fn a_move_on_the_server_keeps_the_keywords_in_the_target_folders_letters() {
    let (_dovecot, mut client, imapdir) = two_folders_with_different_letters();
    let inode = local(&imapdir, &mid(0)).inode();
    let uid = client.fetch_all("INBOX")[0].uid;
    client.select("INBOX");
    client.command(&format!("UID MOVE {uid} Archive"));
    imapdir.sync_ok();

    let moved = archived(&imapdir, &mid(0));
    assert_eq!(moved.inode(), inode, "moved, not downloaded");
    let archive = imapdir.maildir().join("Archive");
    assert_eq!(keywords_file(&archive), "0 $Junk\n1 $Label1\n");
    assert_eq!(moved.flags, "Sb");
    assert_eq!(
        server_flags(&mut client, "Archive", &mid(0)),
        ["$Label1", "\\Seen"]
    );
    assert_noop_sync(&imapdir, &mut client);
}

#[test]
fn a_local_move_keeps_the_keywords_and_a_change_made_with_it() {
    let (_dovecot, mut client, imapdir) = two_folders_with_different_letters();
    // A mail reader moves the file keeping its name, and adds INBOX's
    // letter for a new keyword on the way.
    let inbox = imapdir.maildir().join("INBOX");
    fs::write(inbox.join("dovecot-keywords"), "0 $Label1\n1 $Later\n").unwrap();
    let file = local(&imapdir, &mid(0));
    let target = imapdir.maildir().join("Archive/cur").join(&file.name);
    fs::rename(&file.path, &target).unwrap();
    set_local_flags(
        &maildir_messages(imapdir.maildir(), "Archive")
            .into_iter()
            .find(|m| m.message_id() == Some(mid(0)))
            .unwrap(),
        "Sab",
    );
    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("C: ") && l.contains("UID MOVE")),
        "{}",
        run.stderr
    );

    let archive = imapdir.maildir().join("Archive");
    assert_eq!(keywords_file(&archive), "0 $Junk\n1 $Label1\n2 $Later\n");
    assert_eq!(archived(&imapdir, &mid(0)).flags, "Sbc");
    assert_eq!(
        server_flags(&mut client, "Archive", &mid(0)),
        ["$Label1", "$Later", "\\Seen"]
    );
    assert_noop_sync(&imapdir, &mut client);
}

/// The Maildir files and the dovecot-keywords Dovecot itself wrote for its
/// INBOX, copied as our INBOX (odd lines added to the keywords file, as an
/// older version or a hand edit leave them): the first sync pairs them,
/// and every keyword already agrees, so nothing is stored or transferred.
#[test]
fn a_maildir_and_dovecot_keywords_written_by_dovecot_are_read_as_they_are() {
    let dovecot = Dovecot::start_with(DovecotOptions {
        control_in_mail: true,
        ..DovecotOptions::default()
    });
    let mut client = dovecot.client();
    client.append("INBOX", "\\Seen $Label1", &generate_message(0, "INBOX"));
    client.append("INBOX", "$Junk $Label1", &generate_message(1, "INBOX"));
    client.append("INBOX", "$NotJunk", &generate_message(2, "INBOX"));
    client.logout();
    let written = fs::read_to_string(dovecot.mail_dir().join("dovecot-keywords"))
        .expect("Dovecot wrote its keywords file beside its INBOX");
    assert_eq!(
        written, "0 $Label1\n1 $Junk\n2 $NotJunk\n",
        "Dovecot's own format"
    );

    let imapdir = Imapdir::new(&dovecot);
    let inbox = make_local_folder(imapdir.maildir(), "INBOX");
    for entry in fs::read_dir(dovecot.mail_dir().join("cur")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), inbox.join("cur").join(entry.file_name())).unwrap();
    }
    let with_odd_lines = format!("{written}bogus\n\n30 $Beyond\n1 $Again\n");
    fs::write(inbox.join("dovecot-keywords"), &with_odd_lines).unwrap();
    let names_before: Vec<String> = maildir_messages(imapdir.maildir(), "INBOX")
        .into_iter()
        .map(|m| m.flags)
        .collect();
    assert_eq!(names_before.len(), 3);
    assert!(
        names_before.iter().any(|f| f.contains('b')),
        "{names_before:?}"
    );

    let run = imapdir.run(&["--trace-imap", "sync"]);
    run.expect_success();
    let sent: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .collect();
    assert!(
        !sent.iter().any(|c| c.contains("UID STORE")
            || c.contains(" APPEND ")
            || c.contains("BODY.PEEK[]")),
        "{sent:#?}"
    );
    let mut client = dovecot.client();
    assert_eq!(
        server_flags(&mut client, "INBOX", &mid(1)),
        ["$Junk", "$Label1"]
    );
    assert_eq!(local(&imapdir, &mid(1)).flags, "ab");
    assert_eq!(keywords_file(&inbox), with_odd_lines, "left as it was");

    // A new keyword: the file rewritten as Dovecot writes it.
    let uid = client.fetch_all("INBOX")[2].uid;
    client.store("INBOX", uid, "+FLAGS", "$Label2");
    imapdir.sync_ok();
    assert_eq!(
        keywords_file(&inbox),
        "0 $Label1\n1 $Junk\n2 $NotJunk\n3 $Label2\n"
    );
    assert_eq!(local(&imapdir, &mid(2)).flags, "cd");
    assert_noop_sync(&imapdir, &mut client);
}
