use super::ini::python_list;
use super::*;
use crate::import::Password;
use crate::model::TlsMode;
use std::path::PathBuf;

fn ctx() -> Context {
    Context {
        home: Some(PathBuf::from("/home/u")),
        cwd: PathBuf::from("/cwd"),
    }
}

const RC: &str = r#"# OfflineIMAP
[DEFAULT]
base = ~/Mail

[general]
accounts = Work, Gmail,Missing
; a comment
socktimeout = 45
ui = basic

[Account Work]
localrepository = WorkLocal
remoterepository = WorkRemote
autorefresh = 5
postsynchook = notmuch new
quick = 10
utf8foldernames = yes

[Repository WorkLocal]
type = Maildir
localfolders = %(base)s/work
sep = /

[Repository WorkRemote]
type = IMAP
remotehost = imap.example.org
remoteport: 1993
remoteuser = me@example.org
remotepassfile = ~/.work-pass
sslcacertfile = OS-DEFAULT
maxconnections = 3
idlefolders = ['INBOX', "Lists"]
folderfilter = lambda f: f not in ['Trash',
    'Spam']
nametrans = lambda f: f

[Account Gmail]
LocalRepository = GLocal
remoterepository = GRemote

[Repository GLocal]
type = GmailMaildir
localfolders = ~/Mail/gmail

[Repository GRemote]
type = Gmail
remoteuser = me@gmail.com
remotepass = sup3rsecret
ssl = yes
synclabels = yes

[mbnames]
enabled = yes
"#;

#[test]
fn maps_accounts_and_repositories() {
    let imported = parse(RC, &ctx()).unwrap();
    assert_eq!(imported.accounts.len(), 2, "{imported:#?}");
    let work = &imported.accounts[0];
    assert_eq!(work.name, "Work");
    assert_eq!(
        (work.host.as_str(), work.port),
        ("imap.example.org", Some(1993))
    );
    assert_eq!(work.user, "me@example.org");
    assert_eq!(work.tls, TlsMode::Tls);
    assert_eq!(work.password, Password::File("~/.work-pass".into()));
    assert_eq!(work.ca_file, None, "OS-DEFAULT is the system's roots");
    assert_eq!(work.maildir, "~/Mail/work", "interpolated from [DEFAULT]");
    assert_eq!(work.jobs, Some(3));
    assert_eq!(work.interval, Some(300));
    assert_eq!(work.timeout, Some(45));
    assert_eq!(work.post_sync_command.as_deref(), Some("notmuch new"));
    assert_eq!(work.local_names, Some("utf-8"));
    assert_eq!(
        work.watch_folders.as_deref(),
        Some(&["INBOX".to_string(), "Lists".to_string()][..])
    );
    let lines: Vec<(usize, &str)> = work
        .unmapped
        .iter()
        .map(|u| (u.line, u.directive.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (16, "quick = 10"),
            (33, "folderfilter = lambda f: f not in ['Trash', 'Spam']"),
            (35, "nametrans = lambda f: f"),
        ]
    );

    let gmail = &imported.accounts[1];
    assert_eq!(
        (gmail.host.as_str(), gmail.tls),
        ("imap.gmail.com", TlsMode::Tls)
    );
    assert_eq!(gmail.password, Password::Missing);
    assert_eq!(gmail.local_names, Some("modified-utf-7"));
    let lines: Vec<(usize, &str)> = gmail
        .unmapped
        .iter()
        .map(|u| (u.line, u.directive.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            (41, "[Repository GLocal] (sep = . by default)"),
            (48, "remotepass = <hidden>"),
            (50, "synclabels = yes"),
        ]
    );
    assert!(!format!("{imported:?}").contains("sup3rsecret"));
    let general: Vec<(usize, &str)> = imported
        .unmapped
        .iter()
        .map(|u| (u.line, u.directive.as_str()))
        .collect();
    assert_eq!(
        general,
        [
            (9, "ui = basic"),
            (6, "accounts = ... Missing ..."),
            (52, "[mbnames]"),
        ]
    );
}

#[test]
fn plaintext_starttls_and_errors() {
    let rc = "[general]\naccounts = a\n[Account a]\nlocalrepository = l\nremoterepository = r\n\
              [Repository l]\ntype = Maildir\nlocalfolders = m\nsep = /\n\
              [Repository r]\ntype = IMAP\nremotehost = localhost\nremoteuser = u\n\
              remotepassfile = p\nssl = no\nstarttls = no\n";
    let a = &parse(rc, &ctx()).unwrap().accounts[0];
    assert_eq!(a.tls, TlsMode::Plain);
    assert_eq!(a.maildir, "/cwd/m");
    assert_eq!(a.password, Password::File("/cwd/p".into()));
    assert!(a.notes.is_empty(), "loopback: no warning");
    let starttls = rc.replace("starttls = no\n", "");
    assert_eq!(
        parse(&starttls, &ctx()).unwrap().accounts[0].tls,
        TlsMode::StartTls
    );

    assert!(parse("key = v\n", &ctx()).unwrap_err().starts_with("1: "));
    assert!(parse("[a]\n[a]\n", &ctx()).unwrap_err().contains("twice"));
    assert!(parse("[general]\nnope\n", &ctx())
        .unwrap_err()
        .starts_with("2: "));
    let bad = rc.replace("localfolders = m", "localfolders = %(nope)s");
    let imported = parse(&bad, &ctx()).unwrap();
    assert!(imported.accounts.is_empty());
    assert!(
        imported.unmapped[0].why.contains("no localfolders"),
        "{imported:#?}"
    );
}

#[test]
fn python_lists() {
    assert_eq!(
        python_list("['INBOX', \"a b\"]"),
        Some(vec!["INBOX".into(), "a b".into()])
    );
    assert_eq!(python_list("[]"), Some(vec![]));
    assert_eq!(python_list("INBOX"), None);
    assert_eq!(python_list("[x]"), None);
}

#[test]
fn durations_beyond_imapdir_s_ceiling_are_not_mapped() {
    let rc = RC
        .replace("autorefresh = 5", "autorefresh = 5999999999999999999999")
        .replace("socktimeout = 45", "socktimeout = 18446744073709551615");
    let imported = parse(&rc, &ctx()).unwrap();
    let work = &imported.accounts[0];
    assert_eq!((work.interval, work.timeout), (None, None));
    assert!(work
        .unmapped
        .iter()
        .any(|u| u.directive.starts_with("autorefresh") && u.why.contains("longest interval")));
    assert!(imported
        .unmapped
        .iter()
        .any(|u| u.directive.starts_with("socktimeout") && u.why.contains("longest timeout")));
    let rendered =
        crate::import::render(&imported, crate::import::Source::OfflineImap, "rc".as_ref());
    rendered.parse::<toml::Table>().unwrap();
}
