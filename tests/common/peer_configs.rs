//! The real mbsync (isync) and OfflineIMAP in configurable setups (extra
//! IMAPAccount lines, state in `~/.mbsync/`, OfflineIMAP's `metadata` and
//! `utf8foldernames`), for a harness Dovecot or a proxy in front of it and
//! an imapdir Maildir root: the files those programs really write, not
//! imitations.
//!
//! Both programs talk plaintext IMAP to the server (or to a proxy in front
//! of it) on loopback. A missing program fails the test: these tests are
//! the only proof of adoption and must not pass by being skipped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{Imapdir, PASSWORD, USER};

/// Name of the mbsync channel and OfflineIMAP account in the configs.
pub const PEER_ACCOUNT: &str = "test";

/// The program's path on PATH; panics when it is missing.
fn require(program: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not on PATH (Debian package {package}); \
                 the adoption tests need it"
            )
        })
}

/// Double-quoted for mbsync's config parser.
fn mbsync_quote(s: &Path) -> String {
    format!("\"{}\"", s.display())
}

/// The HOME both programs and imapdir run with.
fn home(imapdir: &Imapdir) -> PathBuf {
    imapdir.dir().join("home")
}

/// How an mbsyncrc differs from the one [`write_mbsyncrc`] writes by
/// default.
#[derive(Clone, Debug, Default)]
pub struct MbsyncSetup {
    /// Lines for the IMAPAccount section (e.g. `DisableExtensions
    /// COMPRESS=DEFLATE`, so a proxy sees the messages in clear).
    pub account_extra: Vec<String>,
    /// No `SyncState *`: the state files go to mbsync's default place,
    /// `~/.mbsync/`, instead of each folder's directory.
    pub state_in_home: bool,
}

/// Writes `~/.mbsyncrc` (in imapdir's HOME, where a user keeps it): the
/// far side is 127.0.0.1:`port`, the near side imapdir's Maildir root
/// with INBOX at `<root>/INBOX` and folders spelt as the server spells
/// them (`SubFolders Verbatim`), state in each folder (`SyncState *`).
pub fn write_mbsyncrc(imapdir: &Imapdir, port: u16, setup: &MbsyncSetup) -> PathBuf {
    let root = imapdir.maildir();
    let rc = home(imapdir).join(".mbsyncrc");
    let text = format!(
        "IMAPAccount {PEER_ACCOUNT}\n\
         Host 127.0.0.1\n\
         Port {port}\n\
         User {USER}\n\
         Pass {PASSWORD}\n\
         SSLType None\n\
         AuthMechs LOGIN\n\
         {extra}\
         \n\
         IMAPStore far\n\
         Account {PEER_ACCOUNT}\n\
         \n\
         MaildirStore near\n\
         Path {path}\n\
         Inbox {inbox}\n\
         SubFolders Verbatim\n\
         \n\
         Channel {PEER_ACCOUNT}\n\
         Far :far:\n\
         Near :near:\n\
         Patterns *\n\
         Create Both\n\
         Expunge Both\n\
         {sync_state}",
        path = mbsync_quote(&PathBuf::from(format!("{}/", root.display()))),
        inbox = mbsync_quote(&root.join("INBOX")),
        extra = setup
            .account_extra
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
        sync_state = if setup.state_in_home {
            ""
        } else {
            "SyncState *\n"
        },
    );
    fs::write(&rc, text).unwrap();
    rc
}

/// Runs `mbsync -c <rc> -a` against 127.0.0.1:`port` and returns its
/// output, whatever its exit status.
pub fn run_mbsync(imapdir: &Imapdir, port: u16, setup: &MbsyncSetup) -> Output {
    let program = require("mbsync", "isync");
    let rc = write_mbsyncrc(imapdir, port, setup);
    peer_command(imapdir, &program)
        .arg("-c")
        .arg(&rc)
        .arg("-a")
        .output()
        .expect("run mbsync")
}

/// Runs mbsync against the server on `port` and panics with its output
/// unless it succeeds.
pub fn mbsync_ok(imapdir: &Imapdir, port: u16, setup: &MbsyncSetup) {
    let out = run_mbsync(imapdir, port, setup);
    assert_ran_ok("mbsync", &out, &home(imapdir).join(".mbsyncrc"));
}

/// How an offlineimaprc differs from the one [`write_offlineimaprc`]
/// writes by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OfflineImapSetup {
    /// The `[general]` `metadata` setting (a `~/` path); None leaves
    /// OfflineIMAP's `~/.offlineimap`.
    pub metadata: Option<&'static str>,
    /// `utf8foldernames = yes`: local directories named in UTF-8, not in
    /// the server's modified UTF-7.
    pub utf8_names: bool,
}

/// Writes `~/.offlineimaprc` (in imapdir's HOME, where a user keeps it):
/// the remote repository is 127.0.0.1:`port` without TLS, the local one
/// imapdir's Maildir root with `sep = /`, so `Archive/2023` is a nested
/// directory.
pub fn write_offlineimaprc(imapdir: &Imapdir, port: u16, setup: &OfflineImapSetup) -> PathBuf {
    let rc = home(imapdir).join(".offlineimaprc");
    let text = format!(
        "[general]\n\
         accounts = {PEER_ACCOUNT}\n\
         {metadata}\
         \n\
         [Account {PEER_ACCOUNT}]\n\
         localrepository = local\n\
         remoterepository = remote\n\
         {utf8}\
         \n\
         [Repository local]\n\
         type = Maildir\n\
         localfolders = {root}\n\
         sep = /\n\
         \n\
         [Repository remote]\n\
         type = IMAP\n\
         remotehost = 127.0.0.1\n\
         remoteport = {port}\n\
         remoteuser = {USER}\n\
         remotepass = {PASSWORD}\n\
         ssl = no\n\
         starttls = no\n",
        root = imapdir.maildir().display(),
        metadata = setup
            .metadata
            .map(|m| format!("metadata = {m}\n"))
            .unwrap_or_default(),
        utf8 = if setup.utf8_names {
            "utf8foldernames = yes\n"
        } else {
            ""
        },
    );
    fs::write(&rc, text).unwrap();
    rc
}

/// Runs `offlineimap -c <rc> -o -u basic` against 127.0.0.1:`port` and
/// panics with its output unless it succeeds.
pub fn offlineimap_ok(imapdir: &Imapdir, port: u16, setup: &OfflineImapSetup) {
    let program = require("offlineimap", "offlineimap3");
    let rc = write_offlineimaprc(imapdir, port, setup);
    let out = peer_command(imapdir, &program)
        .arg("-c")
        .arg(&rc)
        .args(["-o", "-u", "basic"])
        .output()
        .expect("run offlineimap");
    assert_ran_ok("offlineimap", &out, &rc);
    let status = match setup.metadata {
        Some(m) => home(imapdir).join(m.strip_prefix("~/").expect("a ~/ path")),
        None => home(imapdir).join(".offlineimap"),
    };
    let status = status.join(format!("Account-{PEER_ACCOUNT}/LocalStatus-sqlite"));
    assert!(
        status.is_dir(),
        "offlineimap keeps its status in {}",
        status.display()
    );
    // OfflineIMAP reports some failures only in its log and exits 0.
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("ERROR"),
        "offlineimap reported an error:\n{text}"
    );
}

/// A command with imapdir's HOME and XDG directories: the programs never
/// touch the caller's dotfiles, and imapdir finds their configs and
/// records where a user's would be.
fn peer_command(imapdir: &Imapdir, program: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("HOME", home(imapdir))
        .env("XDG_CONFIG_HOME", imapdir.dir().join("config"))
        .env("XDG_STATE_HOME", imapdir.dir().join("state-home"))
        .stdin(Stdio::null());
    cmd
}

fn assert_ran_ok(program: &str, out: &Output, rc: &Path) {
    assert!(
        out.status.success(),
        "{program} failed ({})\n--- config\n{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        fs::read_to_string(rc).unwrap_or_default(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
