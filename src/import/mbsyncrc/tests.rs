use super::channel::sync_cells;
use super::syntax::split_line;
use super::*;
use std::path::PathBuf;

fn ctx() -> Context {
    Context {
        home: Some(PathBuf::from("/home/u")),
        cwd: PathBuf::from("/cwd"),
    }
}

fn lines_of(us: &[Unmapped]) -> Vec<(usize, String)> {
    us.iter().map(|u| (u.line, u.directive.clone())).collect()
}

#[test]
fn splits_like_mbsync() {
    assert_eq!(split_line("  # comment"), None);
    assert_eq!(split_line("   "), None);
    assert_eq!(
        split_line(r#"PassCmd "gpg -d \"a b\".gpg" # trailing"#).unwrap(),
        ["PassCmd", r#"gpg -d "a b".gpg"#]
    );
    assert_eq!(
        split_line(r#"Far :remote:"[Gmail]/Sent Mail""#).unwrap(),
        ["Far", ":remote:[Gmail]/Sent Mail"]
    );
    assert_eq!(
        split_line(r"Path ~/My\ Mail/").unwrap(),
        ["Path", "~/My Mail/"]
    );
    assert_eq!(
        split_line("Patterns * !Trash").unwrap(),
        ["Patterns", "*", "!Trash"]
    );
}

const RC: &str = r#"# global defaults
Create Both
Expunge Both
FSync no

IMAPAccount work
host imap.example.org
USER "me@example.org"
PassCmd "+pass show \"work mail\""
SSLType IMAPS
CertificateFile ~/certs/work.pem
Timeout 30
PipelineDepth 1

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns *
SyncState *
Sync All

IMAPStore home-remote
Host 127.0.0.1
Port 1143
User bob
Pass hunter2
SSLType None

MaildirStore home-local
Path ~/Mail/home/
SubFolders Maildir++

channel home-inbox
master :home-remote:
slave :home-local:
Sync Pull

Channel home-lists
Far :home-remote:
Near :home-local:
Patterns lists/* !lists/spam
Expunge None

Group everything
Channel work
Channel home-inbox
"#;

#[test]
fn maps_accounts_stores_and_channels() {
    let imported = parse(RC, &ctx()).unwrap();
    assert_eq!(imported.accounts.len(), 2, "{imported:#?}");
    let work = &imported.accounts[0];
    assert_eq!(work.name, "work");
    assert_eq!(work.host, "imap.example.org");
    assert_eq!(work.user, "me@example.org");
    assert_eq!(work.tls, TlsMode::Tls);
    assert_eq!(
        work.password,
        Password::Command("pass show \"work mail\"".into())
    );
    assert_eq!(work.ca_file.as_deref(), Some("~/certs/work.pem"));
    assert_eq!(work.timeout, Some(30));
    assert_eq!(work.maildir, "~/Mail/work");
    assert_eq!(work.local_names, Some("modified-utf-7"));
    assert_eq!(
        lines_of(&work.unmapped),
        [
            (3, "Expunge Both".to_string()),
            (13, "PipelineDepth 1".to_string())
        ]
    );

    let home = &imported.accounts[1];
    assert_eq!(home.name, "home-remote", "two Channels, one pair of Stores");
    assert_eq!((home.host.as_str(), home.port), ("127.0.0.1", Some(1143)));
    assert_eq!(home.tls, TlsMode::Plain);
    assert_eq!(home.password, Password::Missing);
    assert_eq!(home.maildir, "~/Mail/home");
    let got = lines_of(&home.unmapped);
    for expected in [
        (3, "Expunge Both"),
        (34, "Pass <hidden>"),
        (
            37,
            "Inbox ~/Maildir (mbsync's default for MaildirStore home-local)",
        ),
        (39, "SubFolders Maildir++"),
        (41, "channel home-inbox"),
        (44, "Sync Pull"),
        (49, "Patterns lists/* !lists/spam"),
        (50, "Expunge None"),
    ] {
        assert!(
            got.contains(&(expected.0, expected.1.to_string())),
            "{expected:?} missing from {got:#?}"
        );
    }
    let all = format!("{imported:?}");
    assert!(!all.contains("hunter2"), "the password is never copied");
    assert!(home
        .notes
        .iter()
        .any(|n| n.why.contains("merged into account home-remote")));
    assert!(home.unmapped.iter().any(|u| u.why.contains("--pull")));
    assert_eq!(
        lines_of(&imported.unmapped),
        [
            (4, "FSync no".to_string()),
            (52, "Group everything".to_string())
        ]
    );
}

#[test]
fn unusable_channels_are_reported_not_imported() {
    let rc = "IMAPStore r\nTunnel \"ssh host imapd\"\nUser u\n\nMaildirStore l\nPath ~/M/\n\n\
              Channel c\nFar :r:\nNear :l:\n\nChannel d\nFar :nope:\nNear :l:\n\n\
              Channel e\nFar :l:\nNear :l:\n";
    let imported = parse(rc, &ctx()).unwrap();
    assert!(imported.accounts.is_empty());
    let why: Vec<(usize, &str)> = imported
        .unmapped
        .iter()
        .map(|u| (u.line, u.why.as_str()))
        .collect();
    assert_eq!(why.len(), 3, "{why:#?}");
    assert_eq!(why[0].0, 8);
    assert!(why[0].1.contains("Tunnel"));
    assert_eq!(why[1].0, 12);
    assert!(why[1].1.contains(":nope:"));
    assert_eq!(why[2].0, 16);
    assert!(why[2].1.contains("two of the same kind"));
}

#[test]
fn defaults_inbox_utf8_and_relative_paths() {
    let rc = "IMAPStore r\nHost h\nUser u\nUTF8 yes\n\nMaildirStore l\nInbox Mail/INBOX\n\n\
              Channel c\nFar :r:\nNear :l:\nPatterns *\n";
    let imported = parse(rc, &ctx()).unwrap();
    let a = &imported.accounts[0];
    assert_eq!(a.tls, TlsMode::StartTls, "mbsync's default");
    assert_eq!(
        a.maildir, "/cwd/Mail",
        "INBOX's parent, relative to the working directory"
    );
    assert_eq!(a.local_names, Some("utf-8"));
    assert!(
        a.unmapped.iter().all(|u| !u.directive.starts_with("Inbox")),
        "{a:#?}"
    );
    assert!(a
        .unmapped
        .iter()
        .any(|u| u.why.contains("no Pass or PassCmd")));
}

#[test]
fn sync_values() {
    assert_eq!(sync_cells("All"), (true, true, true));
    assert_eq!(sync_cells("Pull Push"), (true, true, true));
    assert_eq!(sync_cells("New Delete Flags"), (true, true, true));
    assert_eq!(sync_cells("Pull"), (false, true, false));
    assert_eq!(sync_cells("PullNew PullDelete Push"), (false, true, true));
    assert_eq!(sync_cells("None"), (false, false, false));
}

#[test]
fn a_nameless_section_is_an_error() {
    let err = parse("\n\nIMAPAccount\nHost h\n", &ctx()).unwrap_err();
    assert!(err.starts_with("3: IMAPAccount needs a name"), "{err}");
}

#[test]
fn one_channels_patterns_become_the_folders_key() {
    let rc = "IMAPStore r\nHost h\nUser u\n\nMaildirStore l\nPath ~/Mail/\n\n\
              Channel c\nFar :r:\nNear :l:\nPatterns * !Junk \"!Lists/%\"\n";
    let a = &parse(rc, &ctx()).unwrap().accounts[0];
    assert_eq!(
        a.folders,
        Some(vec!["*".into(), "!Junk".into(), "!Lists/%".into()])
    );
    assert!(
        a.unmapped
            .iter()
            .all(|u| !u.directive.starts_with("Patterns")),
        "{a:#?}"
    );
    // What it writes is an account imapdir reads, with the same patterns.
    let text = crate::import::render(
        &Imported {
            accounts: vec![a.clone()],
            unmapped: Vec::new(),
        },
        crate::import::Source::Mbsync,
        std::path::Path::new("/home/u/.mbsyncrc"),
    );
    let config = crate::config::Config::parse(
        &text,
        &crate::config::Environment {
            home: Some(PathBuf::from("/home/u")),
            ..Default::default()
        },
    );
    let config = config.unwrap_or_else(|e| panic!("{e}\n{text}"));
    let folders = &config.accounts[0].folder_rules.patterns;
    assert!(folders.decide("Archive").included);
    assert!(!folders.decide("Junk").included);
    assert!(!folders.decide("Lists/rust").included);

    // Without Patterns mbsync syncs only INBOX, and so does the import.
    let rc = "IMAPStore r\nHost h\nUser u\n\nMaildirStore l\nPath ~/Mail/\n\n\
              Channel c\nFar :r:\nNear :l:\n";
    let a = &parse(rc, &ctx()).unwrap().accounts[0];
    assert_eq!(a.folders, Some(vec!["INBOX".into()]));
    assert!(a
        .unmapped
        .iter()
        .all(|u| !u.why.contains("without Patterns")));
}
