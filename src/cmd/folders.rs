//! `imapdir folders`: the server's folders and where each lives locally.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;

use crate::cli::Cli;
use crate::config::Config;
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::folders::{local_components, local_path};
use crate::report::print_stdout;

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
        let list = open_session(account, cli.trace_imap).and_then(|mut session| {
            let list = session.list().context("cannot list folders");
            let _ = session.logout();
            list
        });
        let list = match list {
            Ok(list) => list,
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
        let (paths, excluded) = local_paths(account, &list);
        let mut folders = Vec::new();
        for entry in list {
            let components = local_components(&entry.name, entry.delimiter).ok();
            let path: Option<PathBuf> = components.as_ref().map(|c| {
                let key = if c == &["INBOX"] {
                    "INBOX"
                } else {
                    &entry.name
                };
                paths
                    .get(key)
                    .cloned()
                    .unwrap_or_else(|| local_path(&account.maildir, c))
            });
            let excluded_by = components
                .as_ref()
                .and_then(|c| excluded.get(&c.join("/")).cloned());
            let reason = match (&path, entry.is_selectable(), &excluded_by) {
                (Some(_), true, None) => None,
                (Some(_), false, _) => Some("container"),
                (Some(_), true, Some(_)) => Some("excluded"),
                (None, _, _) => Some("unsafe_name"),
            };
            let shown = match (&path, reason, &excluded_by) {
                (Some(p), None, _) => p.display().to_string(),
                (_, Some("container"), _) => "(container only, not synced)".to_string(),
                (_, Some("excluded"), Some(Some(pattern))) => {
                    format!("(excluded by the folders pattern {pattern:?}, not synced)")
                }
                (_, Some("excluded"), _) => "(matches no folders pattern, not synced)".to_string(),
                _ => "(unsafe name, not synced)".to_string(),
            };
            if sink.is_none() {
                let line = if many {
                    format!("{}\t{}\t{shown}\n", account.name, entry.name)
                } else {
                    format!("{}\t{shown}\n", entry.name)
                };
                print_stdout(&line);
            }
            folders.push(json::RemoteFolder {
                name: entry.name.clone(),
                delimiter: entry.delimiter.map(String::from),
                local_path: path
                    .filter(|_| reason.is_none())
                    .map(|p| p.display().to_string()),
                synced: reason.is_none(),
                reason,
                excluded_by: excluded_by.flatten(),
            });
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

/// Where sync puts each server folder, by its server name: the Maildir's
/// existing spelling of it, or the one a new directory would get. Also the
/// folders the account's patterns exclude, with the pattern that did.
fn local_paths(
    account: &crate::config::Account,
    remote: &[crate::imap::ListEntry],
) -> (HashMap<String, PathBuf>, HashMap<String, Option<String>>) {
    let local = crate::maildir::discover_folders(&account.maildir)
        .map(|(folders, _)| folders)
        .unwrap_or_default();
    let list = crate::folders::folder_list(
        remote,
        &local,
        &Default::default(),
        &account.maildir,
        account.local_names,
        &account.folders,
    );
    let paths = list
        .jobs
        .into_iter()
        .filter(|j| j.on_server)
        .map(|j| (j.remote_name, j.local_path))
        .collect();
    (paths, list.excluded.into_iter().collect())
}
