//! `imapdir status`: per account and folder, what the last sync left
//! paired, what local changes wait to be pushed, and how the last sync
//! ended — from the state database and a Maildir scan, no network.
//!
//! Pending local changes are what the sync's own planner would push, with
//! the recorded pairs standing in for the server (as it was at the last
//! sync): its uploads are new, its flag changes are flag changes, its
//! server deletions are deletions. So the counts cannot drift from what a
//! sync does (two files sharing one base name: one is paired, the other
//! uploaded).

mod pop3;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::output::{account_error, emit, show_alerts, Sink};
use crate::cli::{Cli, StatusArgs};
use crate::config::{Account, Config, Protocol};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::folders::{
    folder_path, local_components, local_path, remote_name, spelling_of, Spelling,
};
use crate::maildir::{discover_folders, Maildir};
use crate::model::{LocalMessage, Pair, RemoteMessage};
use crate::report::print_stdout;
use crate::state::{KeywordGap, StateDb, ACCOUNT_RESULT};
use crate::sync::plan::{plan, Direction};

/// Local changes in one folder since the last sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pending {
    /// Files not synced yet (to be uploaded).
    pub new: u64,
    /// Synced messages whose flags changed locally.
    pub flags: u64,
    /// Synced messages whose file is gone (to be deleted on the server).
    pub deleted: u64,
}

/// One folder's status.
#[derive(Debug, Clone, Serialize)]
pub struct FolderStatus {
    /// Display name (UTF-8, `/` between levels).
    pub folder: String,
    pub local_path: String,
    /// Messages paired on both sides at the last sync.
    pub synced: u64,
    /// Messages in the Maildir now.
    pub local: u64,
    /// Of those, messages the server expunged that are kept here
    /// (`server_deletions = "keep-local"`).
    pub local_only: u64,
    /// Server messages whose files were deleted, kept there
    /// (`local_deletions = "keep-server"`).
    pub server_only: u64,
    /// Keywords this folder does not sync (no letter left, or refused by
    /// the server), as the last sync recorded them.
    pub unsynced_keywords: Vec<UnsyncedKeywordStatus>,
    /// Server messages the date and count window kept out at the last
    /// sync (`since`, `max_messages`): not downloaded, not deleted.
    pub outside_window: u64,
    /// Messages stored as placeholders (`max_message_size`).
    pub placeholders: u64,
    pub pending: Pending,
    /// Unix time of the last successful sync of this folder.
    pub last_sync: Option<i64>,
    /// Unix time the last attempt ended, and its error (None: it succeeded).
    pub last_attempt: Option<i64>,
    pub last_error: Option<String>,
    /// ok | failed | never | missing (synced before, directory gone)
    pub state: &'static str,
}

/// A keyword a folder does not sync.
#[derive(Debug, Clone, Serialize)]
pub struct UnsyncedKeywordStatus {
    pub keyword: String,
    /// no-letter (all 26 of the folder's letters are taken: it stays on the
    /// server) | refused (the server does not store it: it stays on the files)
    pub reason: &'static str,
    /// The most messages a sync saw carrying it.
    pub messages: u64,
}

/// One account's status.
#[derive(Debug, Clone, Serialize)]
pub struct AccountStatus {
    pub account: String,
    pub maildir: String,
    /// Unix time the last sync run of the account ended, and its account-wide error.
    pub last_run: Option<i64>,
    pub last_run_error: Option<String>,
    pub pending: Pending,
    pub folders: Vec<FolderStatus>,
    /// Changes a guard refused, waiting for `imapdir approve`.
    pub waiting_for_approval: Vec<WaitingChange>,
}

/// A change a guard refused.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingChange {
    pub folder: String,
    /// What the change would do.
    pub change: String,
    /// Approved already: the next sync makes it.
    pub approved: bool,
    /// The command that approves it.
    pub command: String,
}

/// Computes the offline status of an account. Reads only.
pub fn account_status(account: &Account) -> anyhow::Result<AccountStatus> {
    let db = StateDb::open_read_only(&account.state_file)?;
    let results: HashMap<String, (i64, Option<String>)> = db
        .sync_results()?
        .into_iter()
        .map(|(f, t, e)| (f, (t, e)))
        .collect();
    let root = &account.maildir;
    let local = if root.is_dir() {
        discover_folders(root, account.folder_rules.layout)?.0
    } else {
        Vec::new()
    };

    // Map each state folder (keyed by its server name) to its local
    // components. The server's delimiter is not known offline: accept a
    // local folder whose name under '/' or '.' is the state's name.
    let known = db.folders()?;
    // Keyed by folder name; the value holds the directory's own spelling
    // (modified UTF-7 in a Maildir another tool wrote).
    let mut by_components: BTreeMap<Vec<String>, (Vec<String>, Option<crate::state::FolderState>)> =
        BTreeMap::new();
    for disk in local.into_iter().filter(|c| !c.is_empty()) {
        let components: Vec<String> = disk
            .iter()
            .map(|c| match spelling_of(c) {
                Spelling::ModifiedUtf7(name) => name,
                _ => c.clone(),
            })
            .collect();
        let joined = components.join("/");
        let state = known
            .iter()
            .find(|f| f.local_name.as_deref() == Some(joined.as_str()))
            .or_else(|| {
                known.iter().filter(|f| f.local_name.is_none()).find(|f| {
                    [Some('/'), Some('.'), None].iter().any(|d| {
                        remote_name(&components, *d).is_ok_and(|n| n == f.name)
                            || (components == ["INBOX"] && f.name.eq_ignore_ascii_case("INBOX"))
                    })
                })
            })
            .cloned();
        by_components.insert(components, (disk, state));
    }
    for f in &known {
        let mapped = by_components
            .values()
            .any(|(_, s)| s.as_ref().is_some_and(|s| s.id == f.id));
        if !mapped {
            let components = match &f.local_name {
                Some(name) => name.split('/').map(str::to_string).collect(),
                None => {
                    local_components(&f.name, Some('/')).unwrap_or_else(|_| vec![f.name.clone()])
                }
            };
            by_components.insert(components.clone(), (components, Some(f.clone())));
        }
    }

    let mut folders = Vec::new();
    let mut total = Pending::default();
    for (components, (disk, state)) in by_components {
        let path = folder_path(root, account.folder_rules.layout, &disk)
            .unwrap_or_else(|_| local_path(root, &disk));
        let maildir = Maildir::new(&path);
        let kept = match &state {
            Some(f) => db.kept(f.id)?,
            None => Default::default(),
        };
        // cur/ and new/ as the last complete sync left them hold exactly
        // its pairs' files (and the copies kept here alone): nothing waits,
        // and neither the folder nor its pairs need reading.
        let as_synced = state
            .as_ref()
            .filter(|f| f.stamp.is_some() && f.stamp == maildir.stamp().ok());
        let (synced, on_disk, pending) = if let Some(f) = as_synced {
            let synced = db.pair_count(f.id)?;
            (synced, synced, Pending::default())
        } else {
            let mut files: Vec<LocalMessage> = Vec::new();
            if maildir.exists() {
                maildir.scan(&mut |m| files.push(m))?;
                // Letters dovecot-keywords does not name are not synced, as in
                // the sync itself: no change waiting to be pushed.
                let named = maildir.read_keywords()?.named();
                for m in &mut files {
                    m.flags = m.flags.intersection(named);
                }
            }
            let pairs: Vec<Pair> = match &state {
                Some(f) => db.pairs(f.id)?,
                None => Vec::new(),
            };
            // Kept only here (archive mode): not a change waiting to be pushed.
            files.retain(|m| !kept.local_only.contains(&m.base));
            let pending = pending_changes(&pairs, &files);
            (pairs.len(), files.len(), pending)
        };
        total.new += pending.new;
        total.flags += pending.flags;
        total.deleted += pending.deleted;
        let folder = components.join("/");
        let result = results.get(&folder);
        let last_error = result.and_then(|(_, e)| e.clone());
        let st = if state.is_some() && !maildir.exists() {
            "missing"
        } else if last_error.is_some() {
            "failed"
        } else if state.as_ref().is_some_and(|f| f.last_sync.is_some()) {
            "ok"
        } else {
            "never"
        };
        let unsynced_keywords = match &state {
            Some(f) => db
                .unsynced_keywords(f.id)?
                .into_iter()
                .map(|k| UnsyncedKeywordStatus {
                    reason: match k.reason {
                        KeywordGap::NoLetter => "no-letter",
                        KeywordGap::Refused => "refused",
                    },
                    keyword: k.keyword,
                    messages: k.messages,
                })
                .collect(),
            None => Vec::new(),
        };
        folders.push(FolderStatus {
            unsynced_keywords,
            local_path: path.display().to_string(),
            synced: synced as u64,
            local: (on_disk + kept.local_only.len()) as u64,
            local_only: kept.local_only.len() as u64,
            server_only: kept.server_only.len() as u64,
            outside_window: match &state {
                Some(f) => db.window_out_count(f.id)? as u64,
                None => 0,
            },
            placeholders: match &state {
                Some(f) => db.placeholders(f.id)?.len() as u64,
                None => 0,
            },
            pending,
            last_sync: state.as_ref().and_then(|f| f.last_sync),
            last_attempt: result.map(|(t, _)| *t),
            last_error,
            state: st,
            folder,
        });
    }
    // Folders whose last attempt failed before they had state or a directory.
    for (name, (when, error)) in &results {
        if name == ACCOUNT_RESULT || error.is_none() || folders.iter().any(|f| &f.folder == name) {
            continue;
        }
        folders.push(FolderStatus {
            folder: name.clone(),
            local_path: String::new(),
            synced: 0,
            local: 0,
            local_only: 0,
            server_only: 0,
            unsynced_keywords: Vec::new(),
            outside_window: 0,
            placeholders: 0,
            pending: Pending::default(),
            last_sync: None,
            last_attempt: Some(*when),
            last_error: error.clone(),
            state: "failed",
        });
    }
    folders.sort_by_key(|f| (f.folder != "INBOX", f.folder.clone()));
    let account_result = results.get(ACCOUNT_RESULT);
    let waiting_for_approval = db
        .refusals()?
        .into_iter()
        .map(|r| WaitingChange {
            command: crate::sync::approval::approve_command(&account.name, &[r.display.as_str()]),
            folder: r.display,
            change: r.summary,
            approved: r.approved.is_some(),
        })
        .collect();
    Ok(AccountStatus {
        waiting_for_approval,
        account: account.name.clone(),
        maildir: root.display().to_string(),
        last_run: account_result.map(|(t, _)| *t),
        last_run_error: account_result.and_then(|(_, e)| e.clone()),
        pending: total,
        folders,
    })
}

/// Local changes of a folder against the pairs recorded at the last sync:
/// what the planner pushes when the server still holds what those pairs
/// recorded.
pub fn pending_changes(pairs: &[Pair], files: &[LocalMessage]) -> Pending {
    let server_as_recorded: Vec<RemoteMessage> =
        pairs.iter().map(RemoteMessage::as_recorded).collect();
    let plan = plan(&server_as_recorded, pairs, files, Direction::PUSH);
    Pending {
        new: plan.uploads.len() as u64,
        flags: plan
            .flag_changes
            .iter()
            .filter(|c| !c.remote_add.is_empty() || !c.remote_remove.is_empty())
            .count() as u64,
        deleted: plan.remote_deletions.len() as u64,
    }
}

/// "3 min ago" style age of a unix time.
pub fn age(then: Option<i64>, now: i64) -> String {
    let Some(then) = then else {
        return "never".to_string();
    };
    let secs = (now - then).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} days ago", secs / 86_400),
    }
}

/// The text table of one account.
pub fn render(status: &AccountStatus, now: i64) -> String {
    let mut out = format!(
        "{}: {} (last run {}{})\n",
        status.account,
        status.maildir,
        age(status.last_run, now),
        match &status.last_run_error {
            Some(e) => format!(", FAILED: {e}"),
            None if status.last_run.is_some() => ", ok".to_string(),
            None => String::new(),
        }
    );
    let width = status
        .folders
        .iter()
        .map(|f| f.folder.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    out.push_str(&format!(
        "  {:<width$}  {:>7}  {:>7}  {:>5}  {:>5}  {:>7}  LAST SYNC\n",
        "FOLDER", "SYNCED", "LOCAL", "NEW", "FLAGS", "DELETED"
    ));
    for f in &status.folders {
        let when = match f.state {
            "failed" => format!(
                "{}, last attempt FAILED {}: {}",
                age(f.last_sync, now),
                age(f.last_attempt, now),
                f.last_error.as_deref().unwrap_or("")
            ),
            "missing" => format!("{}, local folder MISSING", age(f.last_sync, now)),
            _ => age(f.last_sync, now),
        };
        out.push_str(&format!(
            "  {:<width$}  {:>7}  {:>7}  {:>5}  {:>5}  {:>7}  {when}\n",
            f.folder, f.synced, f.local, f.pending.new, f.pending.flags, f.pending.deleted
        ));
    }
    let (here, there) = status
        .folders
        .iter()
        .fold((0, 0), |(h, t), f| (h + f.local_only, t + f.server_only));
    if here + there > 0 {
        out.push_str(&format!(
            "  kept on one side (archive mode): {here} only here, {there} only on the server\n"
        ));
    }
    for f in &status.folders {
        for k in &f.unsynced_keywords {
            out.push_str(&format!(
                "  keyword {} of {} not synced: {} ({} messages)\n",
                k.keyword,
                f.folder,
                match k.reason {
                    "refused" => "the server does not store it; it stays on the local files",
                    _ => "all 26 keyword letters of the folder are taken; it stays on the server",
                },
                k.messages
            ));
        }
    }
    let outside: Vec<String> = status
        .folders
        .iter()
        .filter(|f| f.outside_window > 0)
        .map(|f| format!("{} {}", f.outside_window, f.folder))
        .collect();
    if !outside.is_empty() {
        out.push_str(&format!(
            "  outside the window (on the server, not downloaded): {}\n",
            outside.join(", ")
        ));
    }
    let placeholders: Vec<String> = status
        .folders
        .iter()
        .filter(|f| f.placeholders > 0)
        .map(|f| format!("{} {}", f.placeholders, f.folder))
        .collect();
    if !placeholders.is_empty() {
        out.push_str(&format!(
            "  placeholders (imapdir fetch, or flag them): {}\n",
            placeholders.join(", ")
        ));
    }
    for w in &status.waiting_for_approval {
        out.push_str(&format!(
            "  {} {}: {} ({})\n",
            if w.approved {
                "approved, next sync:"
            } else {
                "waiting for approval:"
            },
            w.folder,
            w.change,
            if w.approved {
                "imapdir sync"
            } else {
                w.command.as_str()
            }
        ));
    }
    let p = &status.pending;
    if p.new + p.flags + p.deleted > 0 {
        out.push_str(&format!(
            "  waiting to be pushed: {} new, {} flag changes, {} deletions\n",
            p.new, p.flags, p.deleted
        ));
    }
    out
}

/// One quota resource in the status output.
#[derive(Debug, Clone, Serialize)]
pub struct QuotaStatus {
    pub root: String,
    /// STORAGE (KiB), MESSAGE (count), or another resource name.
    pub resource: String,
    pub usage: u64,
    pub limit: u64,
    pub percent: f64,
    /// Above [`QUOTA_WARNING_PERCENT`].
    pub warning: bool,
}

/// Quota use above this share is warned about.
pub const QUOTA_WARNING_PERCENT: f64 = 90.0;

/// An account in the `status` JSON document: the offline status plus,
/// online, the quota (or why it could not be read).
#[derive(Debug, Serialize)]
pub struct StatusAccountDoc {
    #[serde(flatten)]
    pub status: AccountStatus,
    /// None with --offline; empty when the server reports no quota.
    pub quota: Option<Vec<QuotaStatus>>,
    pub quota_error: Option<String>,
    /// The server's `[ALERT]` texts (none with --offline).
    pub alerts: Vec<String>,
    /// A POP3 account's import (`protocol = "pop3"`); its `folders` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop3: Option<pop3::Pop3Status>,
}

#[derive(Debug, Serialize)]
struct StatusDoc {
    version: u32,
    command: &'static str,
    offline: bool,
    exit_code: i32,
    accounts: Vec<StatusAccountDoc>,
}

/// One POP3 account's status; the server is asked unless `offline`.
fn pop3_account(
    cli: &Cli,
    account: &Account,
    offline: bool,
    sink: &Sink,
    now: i64,
) -> (Option<StatusAccountDoc>, ExitCode) {
    let (status, mut pop3) = match pop3::account_status(account) {
        Ok(s) => s,
        Err(e) => return (None, account_error(&e).max(ExitCode::PartialFailure)),
    };
    let mut code = ExitCode::Success;
    if !offline {
        if let Err(e) = pop3::ask_server(account, cli.trace_imap, &mut pop3) {
            code = account_error(&e);
            pop3.server_error = Some(format!("{e:#}"));
        }
    }
    if sink.is_none() {
        print_stdout(&pop3::render(&status, &pop3, now));
    }
    let doc = StatusAccountDoc {
        status,
        quota: None,
        quota_error: None,
        alerts: Vec::new(),
        pop3: Some(pop3),
    };
    (Some(doc), code)
}

/// Reads the quota of INBOX's quota roots.
fn read_quota(account: &Account, trace: bool) -> anyhow::Result<Vec<QuotaStatus>> {
    let mut session = open_session(account, trace)?;
    let quota = session.quota("INBOX");
    let _ = session.logout();
    Ok(quota?
        .into_iter()
        .map(|q| QuotaStatus {
            percent: (q.percent() * 10.0).round() / 10.0,
            warning: q.percent() > QUOTA_WARNING_PERCENT,
            root: q.root,
            resource: q.resource,
            usage: q.usage,
            limit: q.limit,
        })
        .collect())
}

fn render_quota(q: &QuotaStatus) -> String {
    let (usage, limit) = if q.resource == "STORAGE" {
        (mib(q.usage), mib(q.limit))
    } else {
        (q.usage.to_string(), format!("{} messages", q.limit))
    };
    format!(
        "  quota {}: {usage} of {limit} ({:.1}%){}\n",
        q.resource.to_ascii_lowercase(),
        q.percent,
        if q.warning {
            " WARNING: nearly full"
        } else {
            ""
        }
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `imapdir status [ACCOUNT...] [--offline]`.
pub fn command(
    cli: &Cli,
    config: &Config,
    args: &StatusArgs,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let now = crate::state::unix_now();
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in config.select(&args.accounts)? {
        if account.protocol == Protocol::Pop3 {
            let (doc, code) = pop3_account(cli, account, args.offline, sink, now);
            worst = worst.max(code);
            docs.extend(doc);
            continue;
        }
        let status = match account_status(account) {
            Ok(s) => s,
            Err(e) => {
                worst = worst.max(account_error(&e).max(ExitCode::PartialFailure));
                continue;
            }
        };
        let (quota, quota_error, alerts) = if args.offline {
            (None, None, Vec::new())
        } else {
            let quota = read_quota(account, cli.trace_imap);
            // Before any error: an alert may say why.
            let alerts = show_alerts(&account.name);
            match quota {
                Ok(q) => (Some(q), None, alerts),
                Err(e) => {
                    worst = worst.max(account_error(&e));
                    (None, Some(format!("{e:#}")), alerts)
                }
            }
        };
        if sink.is_none() {
            let mut text = render(&status, now);
            for q in quota.iter().flatten() {
                text.push_str(&render_quota(q));
            }
            print_stdout(&text);
        }
        for q in quota.iter().flatten().filter(|q| q.warning) {
            eprintln!(
                "warning: {}: quota {} is {:.1}% full",
                account.name,
                q.resource.to_ascii_lowercase(),
                q.percent
            );
        }
        docs.push(StatusAccountDoc {
            status,
            quota,
            quota_error,
            alerts,
            pop3: None,
        });
    }
    emit(
        sink,
        &StatusDoc {
            version: super::output::SCHEMA_VERSION,
            command: "status",
            offline: args.offline,
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flags, Subdir, Uid};

    fn file(base: &str, flags: Flags) -> LocalMessage {
        LocalMessage {
            subdir: Subdir::Cur,
            name: format!("{base}:2,{flags}"),
            base: base.into(),
            uid_hint: None,
            flags,
        }
    }

    fn pair(uid: u32, base: &str, flags: Flags) -> Pair {
        Pair {
            uid: Uid(uid),
            local_base: base.into(),
            flags,
        }
    }

    #[test]
    fn pending_counts_new_flag_changes_and_deletions() {
        let pairs = vec![
            pair(1, "a,U=1", Flags::SEEN),
            pair(2, "b,U=2", Flags::empty()),
            pair(3, "c,U=3", Flags::SEEN),
        ];
        let files = vec![
            file("a,U=1", Flags::SEEN),    // unchanged
            file("b,U=2", Flags::FLAGGED), // flags changed
            file("new1", Flags::empty()),  // new
            file("new2,U=9", Flags::SEEN), // a UID hint alone does not pair it
        ];
        assert_eq!(
            pending_changes(&pairs, &files),
            Pending {
                new: 2,
                flags: 1,
                deleted: 1
            }
        );
    }

    /// A mail reader's copy of a file keeps its base name (in new/ and
    /// cur/, or twice after a restore): the planner pairs one and uploads
    /// the other, and status says the same.
    #[test]
    fn two_files_sharing_one_base_name_are_one_synced_and_one_new() {
        let pairs = vec![pair(1, "a,U=1", Flags::SEEN)];
        let mut copy = file("a,U=1", Flags::SEEN.union(Flags::FLAGGED));
        copy.subdir = Subdir::New;
        let files = vec![file("a,U=1", Flags::SEEN), copy];
        assert_eq!(
            pending_changes(&pairs, &files),
            Pending {
                new: 1,
                flags: 0,
                deleted: 0
            }
        );
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(None, 100), "never");
        assert_eq!(age(Some(90), 100), "10s ago");
        assert_eq!(age(Some(0), 7200), "2 h ago");
    }
}
