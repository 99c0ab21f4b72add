//! Self-tests of the test harness itself: they need Dovecot but not imapdir.

mod common;

use common::*;
use std::fs;
use std::process::{Command, Stdio};

#[test]
fn harness_selftest_imap_client_round_trip() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();

    for folder in ["Archive", "Archive/2023", "&AMk-t&AOk-"] {
        client.create(folder);
    }
    let folders = client.list();
    for folder in ["INBOX", "Archive", "Archive/2023", "&AMk-t&AOk-"] {
        assert!(
            folders.contains(&folder.to_string()),
            "{folder} in {folders:?}"
        );
    }
    // LAYOUT=fs: nested folders are nested directories on the server.
    assert!(dovecot.mail_dir().join("Archive/2023/cur").is_dir());

    let bodies: Vec<Vec<u8>> = (0..5).map(|i| generate_message(i, "INBOX")).collect();
    let uid0 = client.append("INBOX", "", &bodies[0]);
    let uid1 = client.append("INBOX", "\\Seen \\Flagged", &bodies[1]);
    let uid2 = client.append("INBOX", "\\Answered $Forwarded", &bodies[2]);
    let uid3 = client.append("INBOX", "\\Draft \\Deleted", &bodies[3]);
    let uid4 = client.append("&AMk-t&AOk-", "\\Seen", &bodies[4]);
    assert!(uid0 < uid1 && uid1 < uid2 && uid2 < uid3, "UIDs ascend");

    let (uidvalidity, exists) = client.select("INBOX");
    assert!(uidvalidity > 0);
    assert_eq!(exists, 4);

    let msgs = client.fetch_all("INBOX");
    assert_eq!(msgs.len(), 4);
    assert_eq!(
        msgs.iter().map(|m| m.uid).collect::<Vec<_>>(),
        vec![uid0, uid1, uid2, uid3]
    );
    for (msg, body) in msgs.iter().zip(&bodies) {
        assert_eq!(
            &msg.body, body,
            "body of uid {} comes back byte for byte",
            msg.uid
        );
        assert!(is_crlf_only(&msg.body));
    }
    assert_eq!(msgs[0].letters(), "");
    assert_eq!(msgs[1].letters(), "FS");
    assert_eq!(msgs[2].letters(), "PR");
    assert_eq!(msgs[3].letters(), "DT");
    assert!(!msgs[0].flags.iter().any(|f| f == "\\Recent"));
    assert_eq!(
        msgs[1].message_id().unwrap(),
        generated_message_id(1, "INBOX")
    );

    client.store("INBOX", uid1, "-FLAGS", "\\Seen");
    client.store("INBOX", uid0, "+FLAGS", "\\Answered \\Seen");
    client.expunge_uid("INBOX", uid2);
    let msgs = client.fetch_all("INBOX");
    assert_eq!(msgs.len(), 3);
    assert_eq!(msgs[0].letters(), "RS");
    assert_eq!(msgs[1].letters(), "F");
    assert!(
        msgs.iter().all(|m| m.uid != uid2),
        "exactly uid {uid2} expunged"
    );
    assert!(
        msgs.iter().any(|m| m.uid == uid3),
        "\\Deleted alone expunges nothing else"
    );

    let other = client.fetch_all("&AMk-t&AOk-");
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].uid, uid4);

    let snapshot = client.snapshot();
    assert_eq!(snapshot["INBOX"].1.len(), 3);
    assert_eq!(snapshot["Archive/2023"].1.len(), 0);

    client.delete("Archive/2023");
    assert!(!client.list().contains(&"Archive/2023".to_string()));
    client.logout();
}

#[test]
fn harness_selftest_literals_with_odd_bytes() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    // A body whose lines look like protocol (literal markers, tags, ")").
    let body = b"Message-ID: <odd@test>\r\nSubject: {5}\r\n\r\nT3 OK fake\r\n{12}\r\n)\r\n* 1 FETCH (\r\n\xc3\xa9t\xc3\xa9\r\n".to_vec();
    client.append("INBOX", "\\Seen", &body);
    let msgs = client.fetch_all("INBOX");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].body, body);
    assert_eq!(msgs[0].letters(), "S");
}

#[test]
fn harness_selftest_doveadm_uidvalidity_and_restart() {
    let mut dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..3);
    let (before, _) = client.select("INBOX");
    client.logout();

    let status = dovecot.doveadm_ok(&["mailbox", "status", "-u", USER, "messages", "INBOX"]);
    assert!(status.contains("messages=3"), "doveadm status: {status}");

    let new_validity = before.wrapping_add(1000);
    dovecot.set_uidvalidity("INBOX", new_validity);
    let mut client = dovecot.client();
    let (after, exists) = client.select("INBOX");
    assert_eq!(after, new_validity);
    assert_eq!(exists, 3);
    client.logout();

    let (imap, imaps) = (dovecot.imap_port(), dovecot.imaps_port());
    dovecot.restart();
    assert_eq!((dovecot.imap_port(), dovecot.imaps_port()), (imap, imaps));
    let mut client = dovecot.client();
    assert_eq!(
        client.fetch_all("INBOX").len(),
        3,
        "data survives a restart"
    );
    client.logout();

    dovecot.stop();
    assert!(!dovecot.is_running());
    assert!(ImapClient::connect_as(imap, USER, PASSWORD).is_err());
    dovecot.restart();
    assert!(dovecot.is_running());
}

#[test]
fn harness_selftest_tls_certificate_verifies_for_localhost() {
    let dovecot = Dovecot::start();
    let out = Command::new("openssl")
        .args(["s_client", "-connect"])
        .arg(format!("127.0.0.1:{}", dovecot.imaps_port()))
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .arg("-CAfile")
        .arg(dovecot.ca_file())
        .arg("-verify_return_error")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Verify return code: 0 (ok)"),
        "certificate does not verify: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn harness_selftest_capability_option() {
    let plain = Dovecot::start();
    let caps = plain.client().capabilities();
    assert!(caps.iter().any(|c| c == "CONDSTORE"), "{caps:?}");
    assert!(caps.iter().any(|c| c == "QRESYNC"), "{caps:?}");

    let limited = Dovecot::start_with(DovecotOptions {
        imap_capability: Some("IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE UIDPLUS MOVE".into()),
        ..Default::default()
    });
    let caps = limited.client().capabilities();
    assert!(caps.iter().any(|c| c == "UIDPLUS"), "{caps:?}");
    assert!(
        !caps.iter().any(|c| c == "CONDSTORE" || c == "QRESYNC"),
        "{caps:?}"
    );
    assert_ne!(plain.imap_port(), limited.imap_port());
}

#[test]
fn harness_selftest_dovecot_cleans_up() {
    let dovecot = Dovecot::start();
    let dir = dovecot.dir().to_path_buf();
    let port = dovecot.imap_port();
    assert!(dir.join("dovecot.conf").exists());
    drop(dovecot);
    assert!(!dir.exists(), "temp dir removed on drop");
    assert!(
        ImapClient::connect_as(port, USER, PASSWORD).is_err(),
        "server stopped"
    );
}

#[test]
fn harness_selftest_local_helpers() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let body = generate_message(7, "Archive/2023");
    assert!(is_crlf_only(&body));
    assert_eq!(message_id(&body).unwrap(), "<7.Archive-2023@test>");
    assert_eq!(to_crlf(&normalize(&body)), body);
    let sizes: Vec<usize> = (0..10)
        .map(|i| generate_message(i, "INBOX").len())
        .collect();
    assert!(
        sizes.iter().min() < sizes.iter().max(),
        "sizes vary: {sizes:?}"
    );

    write_local_message(root, "Local/Sub", "1700000000.test1.localhost", &body, None);
    write_local_message(
        root,
        "Local/Sub",
        "1700000000.test2.localhost,U=5",
        &body,
        Some("SF"),
    );
    let msgs = maildir_messages(root, "Local/Sub");
    assert_eq!(msgs.len(), 2);
    let cur = msgs.iter().find(|m| m.subdir == "cur").unwrap();
    assert_eq!(cur.flags, "SF");
    assert_eq!(cur.uid(), Some(5));
    assert_eq!(cur.body, normalize(&body), "stored with LF endings");
    let new = msgs.iter().find(|m| m.subdir == "new").unwrap();
    assert_eq!(new.uid(), None);
    assert_eq!(new.flags, "");

    let moved = set_local_flags(new, "S");
    assert!(moved.ends_with("Local/Sub/cur/1700000000.test1.localhost:2,S"));
    let listing = tree_listing(root);
    assert_eq!(listing.len(), 2);
    assert_eq!(
        maildir_folders(root).into_iter().collect::<Vec<_>>(),
        vec!["Local/Sub".to_string()]
    );
    assert_eq!(uid_in_name("abc,U=42:2,S"), Some(42));
    assert_eq!(uid_in_name("abc,S=100,U=42,W=3:2,"), Some(42));
    assert_eq!(
        imap_flags_to_letters(&["\\Seen", "\\Draft", "$Forwarded"]),
        "DPS"
    );
    assert_eq!(letters_to_imap_flags("FS"), "\\Flagged \\Seen");
    let set = content_multiset([body.as_slice(), normalize(&body).as_slice()]);
    assert_eq!(set.values().copied().collect::<Vec<_>>(), vec![2]);
    fs::remove_dir_all(root.join("Local")).unwrap();
}
