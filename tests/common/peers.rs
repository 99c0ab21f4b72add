//! The tools users come from, run for real against a test Dovecot: mbsync
//! (isync) and OfflineIMAP write the Maildir imapdir must then adopt.
//! Their configs live in the imapdir runner's temp dir, and both run with
//! its `home` as HOME, where imapdir later looks for their state.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::{Dovecot, Imapdir, USER};

/// Panics unless `program` is on PATH: a test that needs a peer tool must
/// fail, not pass silently, where the tool is missing (`.ci/run` installs it).
pub fn require(program: &str, package: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed (apt-get install {package}); the adoption tests need it"
    );
}

fn home(imapdir: &Imapdir) -> PathBuf {
    let home = imapdir.dir().join("home");
    fs::create_dir_all(&home).unwrap();
    home
}

fn check(what: &str, out: Output) -> String {
    let text = format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

// ---------------------------------------------------------------------------
// mbsync
// ---------------------------------------------------------------------------

/// Writes `<dir>/mbsyncrc`: the whole account into imapdir's Maildir, the
/// state of each folder in the folder (`SyncState *`), as a typical user
/// setup with `SubFolders Verbatim` has it.
pub fn write_mbsyncrc(imapdir: &Imapdir, port: u16) -> PathBuf {
    write_mbsyncrc_with(imapdir, port, "SyncState *")
}

/// [`write_mbsyncrc`] with another state line: `""` keeps mbsync's
/// default, one state file per folder under `~/.mbsync/`.
pub fn write_mbsyncrc_with(imapdir: &Imapdir, port: u16, sync_state: &str) -> PathBuf {
    imapdir.write_config();
    let root = imapdir.maildir().display().to_string();
    let rc = format!(
        "IMAPAccount test\n\
         Host 127.0.0.1\n\
         Port {port}\n\
         User {USER}\n\
         PassCmd \"cat {pass}\"\n\
         SSLType None\n\
         AuthMechs LOGIN\n\
         \n\
         IMAPStore remote\n\
         Account test\n\
         \n\
         MaildirStore local\n\
         Path {root}/\n\
         Inbox {root}/INBOX\n\
         SubFolders Verbatim\n\
         \n\
         Channel test\n\
         Far :remote:\n\
         Near :local:\n\
         Patterns *\n\
         Create Both\n\
         Expunge Both\n\
         {sync_state}\n",
        pass = imapdir.password_file().display(),
    );
    let path = imapdir.dir().join("mbsyncrc");
    fs::write(&path, rc).unwrap();
    path
}

fn mbsync_command(imapdir: &Imapdir, rc: &Path) -> Command {
    require("mbsync", "isync");
    let mut cmd = Command::new("mbsync");
    cmd.arg("-c")
        .arg(rc)
        .arg("-a")
        .env("HOME", home(imapdir))
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null());
    cmd
}

/// Runs `mbsync -a` against the server's plaintext port to completion;
/// panics with its output if it fails. Returns that output.
pub fn run_mbsync(dovecot: &Dovecot, imapdir: &Imapdir) -> String {
    let rc = write_mbsyncrc(imapdir, dovecot.imap_port());
    let out = mbsync_command(imapdir, &rc).output().expect("run mbsync");
    check("mbsync -a", out)
}

/// [`run_mbsync`] with mbsync's default `SyncState`: the state of every
/// folder in `~/.mbsync/`, none in the Maildir.
pub fn run_mbsync_state_in_home(dovecot: &Dovecot, imapdir: &Imapdir) -> String {
    let rc = write_mbsyncrc_with(imapdir, dovecot.imap_port(), "");
    let out = mbsync_command(imapdir, &rc).output().expect("run mbsync");
    check("mbsync -a", out)
}

/// Starts `mbsync -a` without waiting (output discarded), through `port`.
pub fn spawn_mbsync(imapdir: &Imapdir, port: u16) -> Child {
    let rc = write_mbsyncrc(imapdir, port);
    mbsync_command(imapdir, &rc)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mbsync")
}

// ---------------------------------------------------------------------------
// OfflineIMAP
// ---------------------------------------------------------------------------

/// OfflineIMAP's metadata directory (status databases, UID validity).
pub fn offlineimap_metadata(imapdir: &Imapdir) -> PathBuf {
    imapdir.dir().join("offlineimap-metadata")
}

/// Writes `~/.offlineimaprc` (in imapdir's HOME, so imapdir finds the
/// `metadata` directory it names) for the whole account, nested folders
/// with `sep = /`, status in SQLite (the default).
pub fn write_offlineimaprc(dovecot: &Dovecot, imapdir: &Imapdir) -> PathBuf {
    imapdir.write_config();
    let rc = format!(
        "[general]\n\
         accounts = test\n\
         metadata = {metadata}\n\
         \n\
         [Account test]\n\
         localrepository = local\n\
         remoterepository = remote\n\
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
         remotepassfile = {pass}\n\
         ssl = no\n\
         starttls = no\n",
        metadata = offlineimap_metadata(imapdir).display(),
        root = imapdir.maildir().display(),
        port = dovecot.imap_port(),
        pass = imapdir.password_file().display(),
    );
    let path = home(imapdir).join(".offlineimaprc");
    fs::write(&path, rc).unwrap();
    path
}

/// Runs `offlineimap -o -u basic` once to completion; panics with its
/// output if it fails or reports an error. Returns that output.
pub fn run_offlineimap(dovecot: &Dovecot, imapdir: &Imapdir) -> String {
    require("offlineimap", "offlineimap3");
    let rc = write_offlineimaprc(dovecot, imapdir);
    let out = Command::new("offlineimap")
        .arg("-c")
        .arg(&rc)
        .args(["-o", "-u", "basic"])
        .env("HOME", home(imapdir))
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run offlineimap");
    let text = check("offlineimap", out);
    // OfflineIMAP exits 0 after some per-folder errors; they would leave
    // the Maildir half written and the test meaningless.
    assert!(
        !text.contains("ERROR:"),
        "offlineimap reported errors:\n{text}"
    );
    text
}
