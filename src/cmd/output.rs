//! What every command writes: the `--json` document and the account
//! errors shown on stderr.
//!
//! `--json`: one JSON document on stdout, and nothing else there.
//!
//! On `--json` the process's stdout (fd 1) is pointed at stderr for the
//! whole run, so summaries, dry-run plans and hook output all land on
//! stderr; the document is written at the end to a saved copy of the
//! original stdout. The schema is documented in `docs/json.md`; field
//! names are stable, new fields may be added.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;

use serde::Serialize;

use crate::exit_codes::ExitCode;
use crate::report::Counts;
use crate::sync::{AccountOutcome, FolderResult};

/// Where `--json` documents go; `None` without `--json` (or once written).
pub type Sink = Option<JsonStdout>;

/// Writes `doc` when the run has a `--json` sink that has not been used.
pub fn emit<T: Serialize>(sink: &mut Sink, doc: &T) {
    if let Some(out) = sink.take() {
        out.emit(doc);
    }
}

/// Reports an account-wide error on stderr and returns its exit code; the
/// other accounts still run.
pub fn account_error(e: &anyhow::Error) -> ExitCode {
    eprintln!("imapdir: {e:#}");
    crate::exit_codes::for_error(e)
}

/// The `[ALERT]` texts an account's sessions received since the last call
/// (RFC 3501 requires showing them to the user: "mailbox nearly full",
/// "password expires", "log in on the web"), each text once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Alerts {
    /// Every distinct text, in arrival order (for the `--json` document).
    pub texts: Vec<String>,
    /// Those this process has not shown before: a text the server repeats
    /// at every login is shown once per run, and once per `watch`.
    pub unseen: Vec<String>,
}

/// Takes the account's alerts (see [`Alerts`]).
pub fn take_alerts(account: &str) -> Alerts {
    static SHOWN: Mutex<BTreeSet<(String, String)>> = Mutex::new(BTreeSet::new());
    let mut alerts = Alerts::default();
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    for text in crate::connect::take_alerts(account) {
        let text = printable(&text);
        if alerts.texts.contains(&text) {
            continue;
        }
        if shown.insert((account.to_string(), text.clone())) {
            alerts.unseen.push(text.clone());
        }
        alerts.texts.push(text);
    }
    alerts
}

/// Shows the account's new alerts on stderr; returns all of them for the
/// `--json` document.
pub fn show_alerts(account: &str) -> Vec<String> {
    let alerts = take_alerts(account);
    for text in &alerts.unseen {
        eprintln!("imapdir: {account}: server alert: {text}");
    }
    alerts.texts
}

/// A server's text made safe for a terminal: control characters (which
/// could move the cursor or retitle the window) become `?`.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Version of the document layout; bumped only for incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The real stdout, kept aside while fd 1 points at stderr.
pub struct JsonStdout {
    out: File,
}

impl JsonStdout {
    /// Saves stdout and sends everything else written to fd 1 to stderr.
    pub fn take() -> std::io::Result<JsonStdout> {
        let stdout = std::io::stdout();
        let _ = stdout.lock().flush();
        let saved: OwnedFd = stdout.as_fd().try_clone_to_owned()?;
        let stderr = std::io::stderr();
        // SAFETY: dup2 on two open descriptors of this process; fd 1 stays
        // open (now a copy of fd 2) and `saved` owns the original.
        let rc = unsafe { libc::dup2(stderr.as_fd().as_raw_fd(), 1) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(JsonStdout {
            out: File::from(saved),
        })
    }

    /// The saved stdout, for a command that writes its document as it
    /// goes (`search`: its matches are never all in memory).
    pub fn into_file(self) -> File {
        self.out
    }

    /// Writes the document and a newline. A closed pipe is not an error.
    pub fn emit<T: Serialize>(mut self, doc: &T) {
        let mut text = serde_json::to_string_pretty(doc)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", format!("cannot encode JSON: {e}")));
        text.push('\n');
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }
}

/// The document for a run that failed before its command could report
/// (bad config, unknown account).
#[derive(Debug, Serialize)]
pub struct ErrorDoc<'a> {
    pub version: u32,
    pub command: &'a str,
    pub exit_code: i32,
    pub error: String,
}

/// What a sync did, by counter: the summary's own counts, whose field
/// names are part of the documented schema.
pub type JsonCounts = Counts;

/// `imapdir --json sync`.
#[derive(Debug, Serialize)]
pub struct SyncDoc {
    pub version: u32,
    pub command: &'static str,
    pub dry_run: bool,
    pub exit_code: i32,
    pub accounts: Vec<SyncAccount>,
}

#[derive(Debug, Serialize)]
pub struct SyncAccount {
    pub account: String,
    /// ok | partial | failed | skipped
    pub status: &'static str,
    /// Why the account failed or was skipped.
    pub error: Option<String>,
    pub counts: JsonCounts,
    pub folders: Vec<SyncFolder>,
    /// The server's `[ALERT]` texts during the run.
    pub alerts: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SyncFolder {
    pub folder: String,
    /// ok | failed
    pub status: &'static str,
    pub error: Option<String>,
    pub counts: JsonCounts,
}

impl SyncAccount {
    pub fn from_outcome(account: &str, outcome: &AccountOutcome) -> SyncAccount {
        SyncAccount {
            account: account.to_string(),
            status: if outcome.failed.is_empty() {
                "ok"
            } else {
                "partial"
            },
            error: None,
            counts: outcome.counts,
            folders: outcome.folders.iter().map(SyncFolder::from).collect(),
            alerts: Vec::new(),
        }
    }

    pub fn failed(account: &str, status: &'static str, error: String) -> SyncAccount {
        SyncAccount {
            account: account.to_string(),
            status,
            error: Some(error),
            counts: JsonCounts::default(),
            folders: Vec::new(),
            alerts: Vec::new(),
        }
    }
}

impl From<&FolderResult> for SyncFolder {
    fn from(f: &FolderResult) -> SyncFolder {
        SyncFolder {
            folder: f.folder.clone(),
            status: if f.error.is_some() { "failed" } else { "ok" },
            error: f.error.clone(),
            counts: f.counts,
        }
    }
}

/// `imapdir --json folders`.
#[derive(Debug, Serialize)]
pub struct FoldersDoc {
    pub version: u32,
    pub command: &'static str,
    pub exit_code: i32,
    pub accounts: Vec<FoldersAccount>,
}

#[derive(Debug, Serialize)]
pub struct FoldersAccount {
    pub account: String,
    pub error: Option<String>,
    pub folders: Vec<RemoteFolder>,
}

#[derive(Debug, Serialize)]
pub struct RemoteFolder {
    /// The server's name, as the server spells it (modified UTF-7).
    pub name: String,
    /// The folder's name as people read it (UTF-8, `/` between levels,
    /// the personal namespace's prefix left out): what `folders` matches.
    pub folder: Option<String>,
    pub delimiter: Option<String>,
    /// Where it is synced to; `None` when it is not synced.
    pub local_path: Option<String>,
    /// Its RFC 6154 special use, e.g. `\\Sent`.
    pub special_use: Option<String>,
    /// Whether imapdir syncs it.
    pub synced: bool,
    /// Why not: "container" (\Noselect), "unsafe_name", "excluded",
    /// "unsubscribed" or "other_namespace".
    pub reason: Option<&'static str>,
    /// The `folders` pattern that excluded it, when one did.
    pub excluded_by: Option<String>,
    /// What the next sync does to the folder itself: "create_local",
    /// "create_on_server", "rename_local", "rename_on_server",
    /// "delete_on_server", "delete_local", or nothing.
    pub action: Option<&'static str>,
    /// For a rename: the old and new local path ("rename_local") or
    /// server name ("rename_on_server").
    pub rename_from: Option<String>,
    pub rename_to: Option<String>,
    /// Why the next sync leaves a folder as it is, when it says so.
    pub note: Option<String>,
}

/// `imapdir --json auth`: where the login was kept (never the tokens).
#[derive(Debug, Serialize)]
pub struct AuthDoc {
    pub version: u32,
    pub command: &'static str,
    pub exit_code: i32,
    pub account: String,
    /// browser | device
    pub flow: &'static str,
    /// keyring | file
    pub store: &'static str,
    /// The token file, when the store is a file.
    pub file: Option<String>,
}

/// `imapdir --json check`.
#[derive(Debug, Serialize)]
pub struct CheckDoc {
    pub version: u32,
    pub command: &'static str,
    pub exit_code: i32,
    pub accounts: Vec<CheckAccount>,
}

#[derive(Debug, Serialize)]
pub struct CheckAccount {
    pub account: String,
    /// imap | pop3
    pub protocol: &'static str,
    pub host: String,
    pub port: u16,
    /// tls | starttls | plain
    pub tls: &'static str,
    pub user: String,
    pub ok: bool,
    pub error: Option<String>,
    /// What to do about the error (or, after a login that worked, about a
    /// weakness such as a password sent in the clear) in one sentence.
    pub hint: Option<String>,
    pub capabilities: Vec<String>,
    /// The server's `[ALERT]` texts (greeting, login).
    pub alerts: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_characters_in_server_text_are_not_printed() {
        assert_eq!(printable("full\x1b]0;pwned\x07 now"), "full?]0;pwned? now");
        assert_eq!(printable("Été 95%"), "Été 95%");
    }
}
