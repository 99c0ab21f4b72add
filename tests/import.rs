//! `imapdir import`: a config that the real mbsync and OfflineIMAP accept,
//! turned into an imapdir config that then syncs the Maildir they wrote.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Seeds folders with a hierarchy and a non-ASCII name, as both tools meet them.
fn seed(client: &mut ImapClient) {
    seed_folder(client, "INBOX", 0..3);
    seed_folder(client, "Archive", 0..2);
    seed_folder(client, "Archive/2023", 0..2);
    seed_folder(client, "&AMk-t&AOk-", 0..1);
}

/// Runs a peer tool to completion, with HOME in the test's directory;
/// fails loudly when it is not installed (CI installs isync and offlineimap3).
fn run_peer(program: &str, args: &[&str], home: &Path) {
    let out = Command::new(program)
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (install it: isync, offlineimap3): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn password_file(imapdir: &Imapdir) -> PathBuf {
    let path = imapdir.dir().join("peer-password");
    fs::write(&path, format!("{PASSWORD}\n")).unwrap();
    path
}

/// Every server folder has the same messages and flags as its directory,
/// spelt as the server spells it (modified UTF-7, as the peers write it).
/// mbsync's `X-TUID` header in local files is no difference.
fn assert_mirrored(client: &mut ImapClient, maildir: &Path) {
    for folder in client.list() {
        let server = client.fetch_all(&folder);
        let local: Vec<LocalMsg> = maildir_messages(maildir, &folder)
            .into_iter()
            .map(|mut m| {
                let text = String::from_utf8_lossy(&m.body).into_owned();
                let kept: Vec<&str> = text
                    .split_inclusive('\n')
                    .filter(|l| !l.starts_with("X-TUID: "))
                    .collect();
                m.body = kept.concat().into_bytes();
                m
            })
            .collect();
        assert_folder_in_sync(&server, &local, &folder);
    }
}

/// Imports `rc` into a new config file, then syncs with it after one more
/// message arrived on the server; returns the import's stderr.
fn import_then_sync(
    imapdir: &Imapdir,
    client: &mut ImapClient,
    peer: &str,
    rc: &Path,
    maildir: &Path,
) -> String {
    let before = maildir_messages(maildir, "INBOX");
    assert_eq!(before.len(), 3, "{peer} downloaded INBOX");
    let config = imapdir.dir().join("fresh/imapdir/config.toml");
    let r =
        imapdir.run_with_config_path(&config, &["import", peer, rc.to_str().unwrap(), "--write"]);
    r.expect_success();
    let import_stderr = r.stderr.clone();
    assert!(
        r.stdout.is_empty(),
        "--write prints no config: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("added account harness to"),
        "{}",
        r.stderr
    );
    let written = fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("local_names = \"modified-utf-7\""),
        "{written}"
    );

    seed_folder(client, "INBOX", 3..4);
    let r = imapdir.run_with_config_path(&config, &["-v", "sync"]);
    r.expect_success();
    assert!(
        r.stderr
            .contains("INBOX: first meeting: 3 paired by peer records"),
        "the peer's records are used:\n{}",
        r.stderr
    );
    let after = maildir_messages(maildir, "INBOX");
    assert_eq!(
        after.len(),
        4,
        "one new message, nothing twice:\n{}",
        r.stderr
    );
    for old in &before {
        assert!(
            after.iter().any(|m| m.message_id() == old.message_id()),
            "{} kept",
            old.name
        );
    }
    assert!(
        maildir.join("&AMk-t&AOk-/cur").is_dir(),
        "names spelt as before"
    );
    assert!(!maildir.join("Été").exists());
    assert_mirrored(client, maildir);
    import_stderr
}

#[test]
fn an_mbsyncrc_that_mbsync_runs_is_imported_and_synced() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed(&mut client);
    let imapdir = Imapdir::new(&dovecot);
    let home = imapdir.dir().join("home");
    let maildir = imapdir.dir().join("mbsync-mail");
    let pw = password_file(&imapdir);
    let rc = imapdir.dir().join("mbsyncrc");
    fs::write(
        &rc,
        format!(
            r#"# mbsync talking to the test server
IMAPAccount harness
Host 127.0.0.1
Port {port}
User {USER}
PassCmd "cat \"{pw}\""
SSLType None
AuthMechs LOGIN

IMAPStore harness-remote
Account harness

MaildirStore harness-local
Path "{maildir}/"
Inbox "{maildir}/INBOX"
SubFolders Verbatim

Channel harness
Far :harness-remote:
Near :harness-local:
Patterns *
Create Both
Expunge Both
CopyArrivalDate yes
SyncState *
"#,
            port = dovecot.imap_port(),
            pw = pw.display(),
            maildir = maildir.display(),
        ),
    )
    .unwrap();
    fs::create_dir_all(&maildir).unwrap();
    run_peer("mbsync", &["-c", rc.to_str().unwrap(), "-a"], &home);

    let stderr = import_then_sync(&imapdir, &mut client, "mbsync", &rc, &maildir);
    let rc_name = rc.display().to_string();
    assert!(
        stderr.contains(&format!("{rc_name}:8: AuthMechs LOGIN: not mapped: ")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{rc_name}:23: Expunge Both: not mapped: ")),
        "{stderr}"
    );
}

#[test]
fn an_offlineimaprc_that_offlineimap_runs_is_imported_and_synced() {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed(&mut client);
    let imapdir = Imapdir::new(&dovecot);
    let home = imapdir.dir().join("home");
    let maildir = imapdir.dir().join("offlineimap-mail");
    let pw = password_file(&imapdir);
    let rc = imapdir.dir().join("offlineimaprc");
    fs::write(
        &rc,
        format!(
            "[general]\naccounts = harness\n\n\
             [Account harness]\nlocalrepository = local\nremoterepository = remote\n\n\
             [Repository local]\ntype = Maildir\nlocalfolders = {maildir}\nsep = /\n\n\
             [Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {port}\n\
             remoteuser = {USER}\nremotepassfile = {pw}\nssl = no\nstarttls = no\n\
             folderfilter = lambda f: True\n",
            port = dovecot.imap_port(),
            pw = pw.display(),
            maildir = maildir.display(),
        ),
    )
    .unwrap();
    run_peer(
        "offlineimap",
        &["-c", rc.to_str().unwrap(), "-o", "-u", "basic"],
        &home,
    );

    let stderr = import_then_sync(&imapdir, &mut client, "offlineimap", &rc, &maildir);
    assert!(
        stderr.contains(&format!(
            "{}:21: folderfilter = lambda f: True: not mapped: ",
            rc.display()
        )),
        "{stderr}"
    );
}

const SMALL_RC: &str = "IMAPStore r\nHost imap.example.org\nUser me\nPass s3cret\n\
                        SSLType IMAPS\n\nMaildirStore l\nPath ~/Mail/\nInbox ~/Mail/INBOX\n\n\
                        Channel harness\nFar :r:\nNear :l:\nPatterns *\nExpunge Both\n";

#[test]
fn write_refuses_an_account_name_already_there() {
    let imapdir = Imapdir::for_port(1);
    let rc = imapdir.dir().join("mbsyncrc");
    fs::write(&rc, SMALL_RC).unwrap();
    let rc_arg = rc.to_str().unwrap();

    // Without --write: the config on stdout, what is not mapped on stderr.
    let r = imapdir.run_with_config_path(
        &imapdir.dir().join("unused.toml"),
        &["import", "mbsync", rc_arg],
    );
    r.expect_success();
    assert!(r.stdout.contains("[accounts.harness]"), "{}", r.stdout);
    assert!(
        r.stdout.contains("# not mapped (line 15): Expunge Both"),
        "{}",
        r.stdout
    );
    assert!(
        r.stderr
            .contains(&format!("{rc_arg}:4: Pass <hidden>: not mapped: ")),
        "{}",
        r.stderr
    );
    assert!(
        !r.all_output().contains("s3cret"),
        "the password is never copied"
    );

    let config = imapdir.dir().join("config.toml");
    let existing = "[accounts.harness]\nhost = \"other\"\nuser = \"u\"\npassword_env = \"PW\"\nmaildir = \"/m\"\n";
    fs::write(&config, existing).unwrap();
    let r = imapdir.run_with_config_path(&config, &["import", "mbsync", rc_arg, "--write"]);
    r.expect_code(2);
    assert!(
        r.stderr.contains("already has an account named harness"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read_to_string(&config).unwrap(), existing, "unchanged");

    // Another name is appended to what is there.
    fs::write(&rc, SMALL_RC.replace("Channel harness", "Channel second")).unwrap();
    imapdir
        .run_with_config_path(&config, &["import", "mbsync", rc_arg, "--write"])
        .expect_success();
    let both = fs::read_to_string(&config).unwrap();
    assert!(
        both.starts_with(existing) && both.contains("[accounts.second]"),
        "{both}"
    );
    let env = imapdir::config::Environment {
        home: Some("/home/u".into()),
        ..Default::default()
    };
    let parsed = imapdir::config::Config::parse(&both, &env).unwrap();
    assert_eq!(parsed.accounts.len(), 2);
}

#[test]
fn a_missing_file_is_a_usage_error_naming_it() {
    let imapdir = Imapdir::for_port(1);
    let missing = imapdir.dir().join("no-such-mbsyncrc");
    for peer in ["mbsync", "offlineimap"] {
        let r = imapdir.run_with_config_path(
            &imapdir.dir().join("config.toml"),
            &["import", peer, missing.to_str().unwrap()],
        );
        r.expect_code(2);
        assert!(
            r.stderr.contains(&missing.display().to_string()),
            "{}",
            r.stderr
        );
    }
    // No file named and none at the tools' default places.
    let r = imapdir.run_with_config_path(&imapdir.dir().join("config.toml"), &["import", "mbsync"]);
    r.expect_code(2);
    assert!(r.stderr.contains(".mbsyncrc"), "{}", r.stderr);
    // A file with no usable account.
    let rc = imapdir.dir().join("empty-rc");
    fs::write(&rc, "# nothing\nFSync no\n").unwrap();
    let r = imapdir.run_with_config_path(
        &imapdir.dir().join("config.toml"),
        &["import", "mbsync", rc.to_str().unwrap()],
    );
    r.expect_code(2);
    assert!(r.stderr.contains("defines no account"), "{}", r.stderr);
}
