//! Provider presets against real Dovecot dressed as Gmail, host and port
//! overridden: the preset's folder defaults hold (All Mail, Important and
//! Starred left alone, Sent and Trash under plain names), an account's
//! own value wins over the preset's, and an unknown name lists the known.

mod common;

use common::*;

fn gmail_like() -> Dovecot {
    Dovecot::start_with(DovecotOptions {
        special_use: vec![
            ("[Gmail]/All Mail", "\\All"),
            ("[Gmail]/Important", "\\Important"),
            ("[Gmail]/Starred", "\\Flagged"),
            ("[Gmail]/Sent Mail", "\\Sent"),
            ("[Gmail]/Trash", "\\Trash"),
        ],
        ..DovecotOptions::default()
    })
}

#[test]
fn the_gmail_preset_leaves_out_the_folders_that_repeat_every_message() {
    let dovecot = gmail_like();
    let mut client = dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    for folder in [
        "[Gmail]/All Mail",
        "[Gmail]/Important",
        "[Gmail]/Starred",
        "[Gmail]/Sent Mail",
        "[Gmail]/Trash",
    ] {
        seed_folder(&mut client, folder, 0..2);
    }
    let mut imapdir = Imapdir::new(&dovecot);
    imapdir.account.extra.push(r#"provider = "gmail""#.into());
    imapdir.sync_ok();
    let root = imapdir.maildir().to_path_buf();
    assert_eq!(
        maildir_folders(&root).into_iter().collect::<Vec<_>>(),
        vec!["INBOX", "Sent", "Trash"]
    );
    let out = imapdir.run(&["folders"]);
    out.expect_success();
    assert!(
        lines_mentioning(&out.stdout, "All Mail")
            .iter()
            .any(|l| l.contains("exclude_special_use \\All")),
        "{}",
        out.stdout
    );

    // The account's own settings win over the preset's.
    imapdir
        .account
        .extra
        .push("exclude_special_use = []".into());
    imapdir
        .account
        .extra
        .push("special_use_names = false".into());
    imapdir.sync_ok();
    assert_eq!(maildir_messages(&root, "[Gmail]/All Mail").len(), 2);
    assert_eq!(
        maildir_messages(&root, "Sent").len(),
        2,
        "a synced folder stays where it is"
    );
}

#[test]
fn presets_are_listed_and_an_unknown_one_is_a_config_error() {
    let dovecot = Dovecot::start();
    let mut imapdir = Imapdir::new(&dovecot);
    let listed = imapdir.run(&["--json", "providers"]);
    listed.expect_success();
    let doc: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let names: Vec<&str> = doc["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"gmail") && names.contains(&"outlook"),
        "{names:?}"
    );

    imapdir.account.extra.push(r#"provider = "gmial""#.into());
    let out = imapdir.run(&["sync"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("gmail") && out.stderr.contains("imapdir providers"),
        "{}",
        out.stderr
    );
}
