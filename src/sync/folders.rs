//! Which folders a run syncs: the server's list, the Maildir's folders and
//! the state's memory of both, matched by name.
//!
//! Pure, so the matching rules (hostile names, folders that vanished from
//! one side) are unit-tested without a server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::imap::{ListEntry, MailboxStatus};
use crate::mailbox_name::{local_components, local_path, remote_name};

/// One folder to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderJob {
    /// The server's name, modified UTF-7 as on the wire; also the state key.
    pub remote_name: String,
    /// Human-readable name (UTF-8, `/` between levels).
    pub display_name: String,
    pub local_path: PathBuf,
    pub on_server: bool,
    pub on_disk: bool,
    /// Synced before: a missing side means it went away, not that it is new.
    pub in_state: bool,
    /// The server's status of the folder, when LIST-STATUS gave it.
    pub status: Option<MailboxStatus>,
}

/// The folders of a run and what was skipped, with reasons.
#[derive(Debug, Clone, Default)]
pub struct FolderList {
    pub jobs: Vec<FolderJob>,
    pub warnings: Vec<String>,
    /// The server's hierarchy delimiter, used to name local-only folders.
    pub delimiter: Option<char>,
}

/// Matches the server's folders with the Maildir's.
///
/// `local` holds each local folder as path components under `root`;
/// `known` the remote names recorded in state.
pub fn folder_list(
    remote: &[ListEntry],
    local: &[Vec<String>],
    known: &BTreeSet<String>,
    root: &Path,
) -> FolderList {
    let delimiter = remote
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case("INBOX"))
        .or_else(|| remote.iter().find(|e| e.delimiter.is_some()))
        .and_then(|e| e.delimiter);
    let mut list = FolderList {
        delimiter,
        ..FolderList::default()
    };
    let local_set: BTreeSet<&Vec<String>> = local.iter().filter(|c| !c.is_empty()).collect();
    let mut by_components: BTreeMap<Vec<String>, FolderJob> = BTreeMap::new();
    let mut unselectable: BTreeSet<Vec<String>> = BTreeSet::new();

    for entry in remote {
        let components = match local_components(&entry.name, entry.delimiter) {
            Ok(c) => c,
            Err(e) => {
                list.warnings
                    .push(format!("skipping server folder {:?}: {e}", entry.name));
                continue;
            }
        };
        if !entry.is_selectable() {
            unselectable.insert(components);
            continue;
        }
        let name = if components == ["INBOX"] {
            "INBOX".to_string()
        } else {
            entry.name.clone()
        };
        if let Some(other) = by_components.get(&components) {
            list.warnings.push(format!(
                "skipping server folder {:?}: it maps to the same local folder as {:?}",
                entry.name, other.remote_name
            ));
            continue;
        }
        by_components.insert(
            components.clone(),
            FolderJob {
                in_state: known.contains(&name),
                on_disk: local_set.contains(&components),
                display_name: components.join("/"),
                local_path: local_path(root, &components),
                remote_name: name,
                on_server: true,
                status: None,
            },
        );
    }

    for components in local_set {
        if by_components.contains_key(components) {
            continue;
        }
        let path = local_path(root, components);
        if unselectable.contains(components) {
            list.warnings.push(format!(
                "skipping local folder {}: the server has it only as a container that cannot hold messages",
                path.display()
            ));
            continue;
        }
        let name = match remote_name(components, delimiter) {
            Ok(n) => n,
            Err(e) => {
                list.warnings
                    .push(format!("skipping local folder {}: {e}", path.display()));
                continue;
            }
        };
        if known.contains(&name) {
            list.warnings.push(format!(
                "folder {} is gone from the server; its local copy {} is kept and no longer synced",
                components.join("/"),
                path.display()
            ));
            continue;
        }
        by_components.insert(
            components.clone(),
            FolderJob {
                remote_name: name,
                display_name: components.join("/"),
                local_path: path,
                on_server: false,
                on_disk: true,
                in_state: false,
                status: None,
            },
        );
    }

    list.jobs = by_components.into_values().collect();
    // INBOX first: it is what people wait for.
    list.jobs
        .sort_by_key(|j| (j.remote_name != "INBOX", j.display_name.clone()));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> ListEntry {
        ListEntry {
            name: name.into(),
            delimiter: Some('/'),
            attributes: vec![],
        }
    }

    fn comps(path: &str) -> Vec<String> {
        path.split('/').map(String::from).collect()
    }

    #[test]
    fn matches_both_sides_and_orders_inbox_first() {
        let root = Path::new("/m");
        let remote = [entry("Archive/2023"), entry("INBOX"), entry("&AMk-t&AOk-")];
        let local = [comps("INBOX"), comps("Local/Sub")];
        let list = folder_list(&remote, &local, &BTreeSet::new(), root);
        assert!(list.warnings.is_empty(), "{:?}", list.warnings);
        let names: Vec<(&str, bool, bool)> = list
            .jobs
            .iter()
            .map(|j| (j.remote_name.as_str(), j.on_server, j.on_disk))
            .collect();
        assert_eq!(
            names,
            vec![
                ("INBOX", true, true),
                ("Archive/2023", true, false),
                ("Local/Sub", false, true),
                ("&AMk-t&AOk-", true, false),
            ]
        );
        assert_eq!(list.jobs[3].local_path, PathBuf::from("/m/Été"));
        assert_eq!(list.jobs[3].display_name, "Été");
        assert_eq!(list.delimiter, Some('/'));
    }

    #[test]
    fn hostile_and_unselectable_names_are_skipped_with_a_reason() {
        let mut noselect = entry("Parent");
        noselect.attributes = vec!["\\Noselect".into()];
        let remote = [entry("INBOX"), entry("../x"), entry("a/../../b"), noselect];
        let local = [comps("Parent")];
        let list = folder_list(&remote, &local, &BTreeSet::new(), Path::new("/m"));
        assert_eq!(list.jobs.len(), 1);
        assert_eq!(list.warnings.len(), 3, "{:?}", list.warnings);
        assert!(list.jobs.iter().all(|j| j.local_path.starts_with("/m")));
    }

    #[test]
    fn a_folder_gone_from_the_server_is_reported_not_recreated() {
        let known: BTreeSet<String> = ["INBOX".to_string(), "Old".to_string()].into();
        let list = folder_list(
            &[entry("INBOX")],
            &[comps("INBOX"), comps("Old")],
            &known,
            Path::new("/m"),
        );
        assert_eq!(list.jobs.len(), 1);
        assert!(
            list.warnings[0].contains("gone from the server"),
            "{:?}",
            list.warnings
        );
    }

    #[test]
    fn a_synced_folder_missing_locally_is_marked() {
        let known: BTreeSet<String> = ["Work".to_string()].into();
        let list = folder_list(&[entry("Work")], &[], &known, Path::new("/m"));
        assert_eq!(list.jobs.len(), 1);
        assert!(list.jobs[0].in_state && !list.jobs[0].on_disk);
    }
}
