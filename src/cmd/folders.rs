//! `imapdir folders`: the server's folders and where each lives locally.

use anyhow::Context;

use crate::cli::Cli;
use crate::config::Config;
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::folders::{
    folder_list, special_use_name, FolderJob, FolderList, KnownFolder, Skip, SkippedFolder,
};
use crate::imap::{ListEntry, Listing};
use crate::report::print_stdout;
use crate::state::StateDb;

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
        let listing = open_session(account, cli.trace_imap).and_then(|mut session| {
            let listing = session
                .list_folders(account.folder_rules.subscribed_only)
                .context("cannot list folders");
            let _ = session.logout();
            listing
        });
        let listing = match listing {
            Ok(listing) => listing,
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
        let list = planned_folders(account, &listing);
        let mut folders = Vec::new();
        for entry in &listing.entries {
            let job = list
                .jobs
                .iter()
                .find(|j| j.on_server && same_folder(&j.remote_name, &entry.name));
            let skipped = list.skipped.iter().find(|s| s.remote_name == entry.name);
            folders.push(describe(entry, job, skipped));
        }
        for job in list.jobs.iter().filter(|j| !j.on_server) {
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
            });
        }
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

/// INBOX is INBOX in any case.
fn same_folder(job: &str, listed: &str) -> bool {
    job == listed || (job == "INBOX" && listed.eq_ignore_ascii_case("INBOX"))
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
        action: job.filter(|j| !j.on_disk).map(|_| "create_local"),
    }
}

/// The text line's second column.
fn shown(folder: &json::RemoteFolder) -> String {
    match (folder.reason, &folder.local_path) {
        (None, Some(path)) => match folder.action {
            Some("create_local") => format!("{path}\t(created locally by the next sync)"),
            Some(_) => format!("{path}\t(local only: created on the server by the next sync)"),
            None => path.clone(),
        },
        (Some("container"), _) => "(container only, not synced)".to_string(),
        (Some("excluded"), _) => match &folder.excluded_by {
            Some(pattern) => format!("(excluded by the folders pattern {pattern:?}, not synced)"),
            None => "(matches no folders pattern, not synced)".to_string(),
        },
        (Some("unsubscribed"), _) => "(not subscribed, not synced: subscribed_only)".to_string(),
        (Some("other_namespace"), _) => {
            "(another user's or a shared namespace, not synced: see namespaces)".to_string()
        }
        _ => "(unsafe name, not synced)".to_string(),
    }
}

/// What a sync would do with each folder, with the state's memory of
/// where synced folders live (read-only; none when it cannot be read).
fn planned_folders(account: &crate::config::Account, listing: &Listing) -> FolderList {
    let local = crate::maildir::discover_folders(&account.maildir, account.folder_rules.layout)
        .map(|(folders, _)| folders)
        .unwrap_or_default();
    let known: Vec<KnownFolder> = StateDb::open_read_only(&account.state_file)
        .and_then(|db| db.folders())
        .map(|folders| {
            folders
                .into_iter()
                .map(|f| KnownFolder {
                    local_name: f
                        .local_name
                        .map(|n| n.split('/').map(str::to_string).collect()),
                    remote_name: f.name,
                })
                .collect()
        })
        .unwrap_or_default();
    folder_list(
        listing,
        &local,
        &known,
        &account.maildir,
        &account.folder_rules,
    )
}
