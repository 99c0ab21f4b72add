//! `imapdir folders`: the server's folders and where each lives locally.

use anyhow::Context;

use crate::cli::Cli;
use crate::config::{Account, Config, Protocol};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::folders::{folder_list, special_use_name, FolderJob, FolderList, Skip, SkippedFolder};
use crate::imap::{ListEntry, Listing, Session};
use crate::report::print_stdout;
use crate::state::StateDb;
use crate::sync::folder_deletes::FolderDeletions;
use crate::sync::renames::FolderRename;

use super::output::{self as json, account_error, emit, Sink};

pub fn command(
    cli: &Cli,
    config: &Config,
    account: Option<&str>,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&super::names(account))?;
    let many = accounts.len() > 1;
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in accounts {
        if account.protocol == Protocol::Pop3 {
            let doc = pop3_folders(account, many, sink.is_none());
            if doc.error.is_some() {
                worst = worst.max(ExitCode::UsageError);
            }
            docs.push(doc);
            continue;
        }
        let planned = open_session(account, cli.trace_imap).and_then(|mut session| {
            let listing = session
                .list_folders(account.folder_rules.subscribed_only)
                .context("cannot list folders")?;
            let plan = plan_account(account, &mut session, &listing);
            let _ = session.logout();
            Ok((listing, plan?))
        });
        let (listing, plan) = match planned {
            Ok(planned) => planned,
            Err(e) => {
                worst = worst.max(account_error(&e));
                docs.push(json::FoldersAccount {
                    account: account.name.clone(),
                    error: Some(format!("{e:#}")),
                    folders: Vec::new(),
                });
                continue;
            }
        };
        let folders = describe_all(&listing, &plan);
        if sink.is_none() {
            for folder in &folders {
                let shown = shown(folder);
                let line = if many {
                    format!("{}\t{}\t{shown}\n", account.name, folder.name)
                } else {
                    format!("{}\t{shown}\n", folder.name)
                };
                print_stdout(&line);
            }
        }
        docs.push(json::FoldersAccount {
            account: account.name.clone(),
            error: None,
            folders,
        });
    }
    emit(
        sink,
        &json::FoldersDoc {
            version: json::SCHEMA_VERSION,
            command: "folders",
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}

/// A POP3 account has one mailbox, the maildrop, imported into one local
/// folder: no server to ask.
fn pop3_folders(account: &Account, many: bool, human: bool) -> json::FoldersAccount {
    let path = match crate::sync::pop3_import::import_folder(account) {
        Ok(path) => path,
        Err(e) => {
            eprintln!("imapdir: account {}: {e:#}", account.name);
            return json::FoldersAccount {
                account: account.name.clone(),
                error: Some(format!("{e:#}")),
                folders: Vec::new(),
            };
        }
    };
    let note = "POP3 maildrop: imported, never uploaded back".to_string();
    if human {
        let line = format!("INBOX\t-> {} ({note})\n", path.display());
        print_stdout(&if many {
            format!("{}\t{line}", account.name)
        } else {
            line
        });
    }
    json::FoldersAccount {
        account: account.name.clone(),
        error: None,
        folders: vec![json::RemoteFolder {
            name: "INBOX".into(),
            folder: Some(account.pop3.folder.clone()),
            delimiter: None,
            local_path: Some(path.display().to_string()),
            special_use: None,
            synced: true,
            reason: None,
            excluded_by: None,
            action: None,
            rename_from: None,
            rename_to: None,
            note: Some(note),
        }],
    }
}

/// INBOX is INBOX in any case.
fn same_folder(job: &str, listed: &str) -> bool {
    job == listed || (job == "INBOX" && listed.eq_ignore_ascii_case("INBOX"))
}

/// What a sync would do with an account's folders.
struct AccountPlan {
    list: FolderList,
    renames: Vec<FolderRename>,
    deletions: FolderDeletions,
}

/// One row per server folder, then the folders only the Maildir has and
/// those only the state remembers, each with what the next sync does.
fn describe_all(listing: &Listing, plan: &AccountPlan) -> Vec<json::RemoteFolder> {
    let list = &plan.list;
    let mut folders = Vec::new();
    for entry in &listing.entries {
        let job = list
            .jobs
            .iter()
            .find(|j| j.on_server && same_folder(&j.remote_name, &entry.name));
        let skipped = list.skipped.iter().find(|s| s.remote_name == entry.name);
        let mut row = describe(entry, job, skipped);
        if let Some(job) = job {
            for r in &plan.renames {
                if r.on_server && r.to == job.remote_name {
                    row.action = Some("rename_local");
                    row.rename_from = Some(r.from_path.display().to_string());
                    row.rename_to = Some(r.to_path.display().to_string());
                } else if !r.on_server && r.from == job.remote_name {
                    row.action = Some("rename_on_server");
                    row.rename_from = Some(r.from.clone());
                    row.rename_to = Some(r.to.clone());
                }
            }
            if plan
                .deletions
                .delete
                .iter()
                .any(|d| d.on_server && d.remote_name == job.remote_name)
            {
                row.action = Some("delete_on_server");
            }
            if let Some((_, reason)) = plan
                .deletions
                .kept
                .iter()
                .find(|(f, _)| *f == job.display_name)
            {
                row.note = Some(reason.clone());
            }
        }
        folders.push(row);
    }
    for job in list.jobs.iter().filter(|j| !j.on_server) {
        if plan
            .renames
            .iter()
            .any(|r| !r.on_server && r.to == job.remote_name)
        {
            continue;
        }
        folders.push(json::RemoteFolder {
            name: job.remote_name.clone(),
            folder: Some(job.display_name.clone()),
            delimiter: None,
            local_path: Some(job.local_path.display().to_string()),
            special_use: None,
            synced: true,
            reason: None,
            excluded_by: None,
            action: Some("create_on_server"),
            rename_from: None,
            rename_to: None,
            note: None,
        });
    }
    for gone in list.gone.iter().filter(|g| g.on_disk) {
        if plan.renames.iter().any(|r| r.from == gone.remote_name) {
            continue;
        }
        let deleted = plan
            .deletions
            .delete
            .iter()
            .any(|d| !d.on_server && d.remote_name == gone.remote_name);
        let note = plan
            .deletions
            .kept_locally
            .iter()
            .find(|(f, _)| *f == gone.display_name)
            .map(|(_, w)| w.clone());
        folders.push(json::RemoteFolder {
            name: gone.remote_name.clone(),
            folder: Some(gone.display_name.clone()),
            delimiter: None,
            local_path: Some(gone.local_path.display().to_string()),
            special_use: None,
            synced: false,
            reason: Some("gone_from_server"),
            excluded_by: None,
            action: deleted.then_some("delete_local"),
            rename_from: None,
            rename_to: None,
            note,
        });
    }
    folders
}

/// One server folder: where it is synced, or why not.
fn describe(
    entry: &ListEntry,
    job: Option<&FolderJob>,
    skipped: Option<&SkippedFolder>,
) -> json::RemoteFolder {
    let (reason, excluded_by) = match (job, skipped.map(|s| &s.reason)) {
        (Some(_), _) => (None, None),
        (None, Some(Skip::Container)) => (Some("container"), None),
        (None, Some(Skip::Excluded(by))) => (Some("excluded"), by.clone()),
        (None, Some(Skip::SpecialUse(attribute))) => (
            Some("excluded"),
            Some(format!("exclude_special_use {attribute}")),
        ),
        (None, Some(Skip::Unsubscribed)) => (Some("unsubscribed"), None),
        (None, Some(Skip::OtherNamespace)) => (Some("other_namespace"), None),
        (None, Some(Skip::Unusable(_)) | None) => (Some("unsafe_name"), None),
    };
    json::RemoteFolder {
        name: entry.name.clone(),
        folder: job
            .map(|j| j.display_name.clone())
            .or_else(|| skipped.and_then(|s| s.display_name.clone())),
        delimiter: entry.delimiter.map(String::from),
        local_path: job.map(|j| j.local_path.display().to_string()),
        special_use: special_use_name(&entry.attributes).map(|n| format!("\\{n}")),
        synced: job.is_some(),
        reason,
        excluded_by,
        action: job
            .filter(|j| !j.on_disk && !j.in_state)
            .map(|_| "create_local"),
        rename_from: None,
        rename_to: None,
        note: job.filter(|j| !j.on_disk && j.in_state).map(|j| {
            format!(
                "synced before and missing locally: the next sync leaves it alone and fails it \
                 (restore {}, or see propagate_folder_deletes)",
                j.local_path.display()
            )
        }),
    }
}

/// The text line's second column, and the third: what the next sync does.
fn shown(folder: &json::RemoteFolder) -> String {
    let action = match (folder.action, &folder.rename_from, &folder.rename_to) {
        (Some("create_local"), ..) => Some("created locally by the next sync".to_string()),
        (Some("create_on_server"), ..) => {
            Some("local only: created on the server by the next sync".to_string())
        }
        (Some("rename_local"), Some(from), _) => Some(format!(
            "renamed on the server: the next sync renames {from} to this"
        )),
        (Some("rename_on_server"), _, Some(to)) => Some(format!(
            "renamed locally: the next sync renames it on the server to {to}"
        )),
        (Some("delete_on_server"), ..) => {
            Some("deleted locally: the next sync deletes it on the server".to_string())
        }
        (Some("delete_local"), ..) => {
            Some("deleted on the server: the next sync moves it to the trash".to_string())
        }
        _ => folder.note.clone(),
    };
    let place = match (folder.reason, &folder.local_path) {
        (None, Some(path)) => path.clone(),
        (Some("gone_from_server"), Some(path)) => format!("{path} (gone from the server)"),
        (Some("container"), _) => "(container only, not synced)".to_string(),
        (Some("excluded"), _) => match &folder.excluded_by {
            Some(by) if by.starts_with("exclude_special_use ") => {
                format!("(excluded by {by}, not synced)")
            }
            Some(pattern) => format!("(excluded by the folders pattern {pattern:?}, not synced)"),
            None => "(matches no folders pattern, not synced)".to_string(),
        },
        (Some("unsubscribed"), _) => "(not subscribed, not synced: subscribed_only)".to_string(),
        (Some("other_namespace"), _) => {
            "(another user's or a shared namespace, not synced: see namespaces)".to_string()
        }
        _ => "(unsafe name, not synced)".to_string(),
    };
    match action {
        Some(action) => format!("{place}\t({action})"),
        None => place,
    }
}

/// The renames and deletions a sync would find, found the same way
/// (read-only: the state is opened read-only and folders only examined).
fn plan_account(
    account: &crate::config::Account,
    session: &mut Session,
    listing: &Listing,
) -> anyhow::Result<AccountPlan> {
    let state = StateDb::open_read_only(&account.state_file)?;
    let stored = state.folders()?;
    let list = planned_folders(account, listing, &stored, &account.folder_rules);
    let renames = crate::sync::renames::find(session, &state, &stored, &list, listing)?;
    let mut deletions =
        crate::sync::folder_deletes::find(session, &state, &stored, &list, account, false, true)?;
    deletions
        .delete
        .retain(|d| !renames.iter().any(|r| r.from == d.remote_name));
    Ok(AccountPlan {
        list,
        renames,
        deletions,
    })
}

/// What a sync would do with each folder, with the state's memory of
/// where synced folders live (read-only; none when it cannot be read).
pub(super) fn planned_folders(
    account: &crate::config::Account,
    listing: &Listing,
    stored: &[crate::state::FolderState],
    rules: &crate::folders::FolderRules,
) -> FolderList {
    let local = crate::maildir::discover_folders(&account.maildir, rules.layout)
        .map(|(folders, _)| folders)
        .unwrap_or_default();
    folder_list(
        listing,
        &local,
        &crate::sync::known_of(stored),
        &account.maildir,
        rules,
    )
}
