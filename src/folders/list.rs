//! Which folders a run syncs: the server's list, the Maildir's folders and
//! the state's memory of both, matched by name.
//!
//! Pure, so the matching rules (hostile names, folders that vanished from
//! one side) are unit-tested without a server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::names::{
    component_problem, encode_mutf7, local_components, local_path, remote_name, spelling_of,
    Spelling,
};
use super::patterns::FolderPatterns;
use crate::imap::{ListEntry, MailboxStatus};
use crate::model::LocalNames;

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
    /// Folders not synced this run because of a problem the user must
    /// fix, as (folder, reason); they count as failed folders.
    pub conflicts: Vec<(String, String)>,
    /// Directories to rename to their UTF-8 spelling (`local_names =
    /// "utf-8"` on a Maildir another tool spelt in modified UTF-7), parents
    /// first; each source is under its parent's new name.
    pub renames: Vec<(PathBuf, PathBuf)>,
    /// Folders the `folders` patterns leave out, on either side, as
    /// (folder, the pattern that excluded it); left alone, state kept.
    pub excluded: Vec<(String, Option<String>)>,
}

/// Matches the server's folders with the Maildir's.
///
/// `local` holds each local folder as path components under `root`, as
/// spelt on disk; `names` says how to read and write those spellings;
/// `known` the remote names recorded in state; `patterns` which folders
/// the account syncs.
pub fn folder_list(
    remote: &[ListEntry],
    local: &[Vec<String>],
    known: &BTreeSet<String>,
    root: &Path,
    names: LocalNames,
    patterns: &FolderPatterns,
) -> FolderList {
    // The server's hierarchy delimiter, used to name local-only folders.
    let delimiter = remote
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case("INBOX"))
        .or_else(|| remote.iter().find(|e| e.delimiter.is_some()))
        .and_then(|e| e.delimiter);
    let mut list = FolderList::default();
    let spelling = LocalSpelling::new(local, names);
    // Local folders by the folder name they spell; two spellings of one
    // name (an old tool's `Entw&APw-rfe` beside `Entwürfe`) are an error
    // for that folder, never a guess.
    let mut on_disk: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    let mut conflicted: BTreeSet<Vec<String>> = BTreeSet::new();
    for components in local.iter().filter(|c| !c.is_empty()) {
        let name = spelling.read(components);
        if let Some(other) = on_disk.get(&name) {
            if conflicted.insert(name.clone()) {
                list.conflicts.push((
                    name.join("/"),
                    format!(
                        "two local directories spell this folder: {} and {}; \
                         merge them into one (or set local_names) and run again",
                        local_path(root, other).display(),
                        local_path(root, components).display()
                    ),
                ));
            }
            continue;
        }
        on_disk.insert(name, components.clone());
    }
    on_disk.retain(|name, _| !conflicted.contains(name));
    let mut excluded: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Every folder name decided on, for the patterns that match none.
    let mut decided: Vec<String> = Vec::new();
    let mut is_excluded = |components: &[String]| {
        let name = components.join("/");
        let decision = patterns.decide(&name);
        if !decision.included {
            excluded.insert(name.clone(), decision.by.map(str::to_string));
        }
        decided.push(name);
        !decision.included
    };
    on_disk.retain(|name, _| !is_excluded(name));
    if names == LocalNames::Utf8 {
        let mut renames = BTreeSet::new();
        for (name, disk) in &on_disk {
            for depth in 0..disk.len() {
                if disk[depth] != name[depth] {
                    let parent = local_path(root, &name[..depth]);
                    renames.insert((depth, parent.join(&disk[depth]), parent.join(&name[depth])));
                }
            }
        }
        list.renames = renames
            .into_iter()
            .map(|(_, from, to)| (from, to))
            .collect();
    }
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
        if conflicted.contains(&components) || is_excluded(&components) {
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
        let (disk, exists) = match on_disk.get(&components) {
            Some(disk) => (disk.clone(), true),
            None => match spelling.write(&components) {
                Some(disk) => (disk, false),
                None => {
                    list.warnings.push(format!(
                        "skipping server folder {:?}: its modified UTF-7 spelling is not a usable directory name",
                        entry.name
                    ));
                    continue;
                }
            },
        };
        by_components.insert(
            components.clone(),
            FolderJob {
                in_state: known.contains(&name),
                on_disk: exists,
                display_name: components.join("/"),
                local_path: local_path(root, &disk),
                remote_name: name,
                on_server: true,
                status: None,
            },
        );
    }

    for (components, disk) in &on_disk {
        if by_components.contains_key(components) {
            continue;
        }
        let path = local_path(root, disk);
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

    if !patterns.is_everything() {
        for pattern in patterns.unmatched(decided.iter().map(String::as_str)) {
            list.warnings.push(format!(
                "the folders pattern {pattern:?} matches no folder on either side"
            ));
        }
    }
    list.excluded = excluded.into_iter().collect();
    list.jobs = by_components.into_values().collect();
    // INBOX first: it is what people wait for.
    list.jobs
        .sort_by_key(|j| (j.remote_name != "INBOX", j.display_name.clone()));
    list
}

/// How this Maildir's directory names are read and how new ones are spelt.
struct LocalSpelling {
    /// Read modified UTF-7 spellings as the names they encode (always, so
    /// far: a tree written by mbsync stays readable whatever the setting).
    read_mutf7: bool,
    /// Spell new directories in modified UTF-7.
    write_mutf7: bool,
}

impl LocalSpelling {
    /// `Keep` writes modified UTF-7 when the Maildir shows that spelling
    /// and no UTF-8 one, so new folders look like the old tool's.
    fn new(local: &[Vec<String>], names: LocalNames) -> LocalSpelling {
        match names {
            LocalNames::Utf8 => LocalSpelling {
                read_mutf7: true,
                write_mutf7: false,
            },
            LocalNames::ModifiedUtf7 => LocalSpelling {
                read_mutf7: true,
                write_mutf7: true,
            },
            LocalNames::Keep => {
                let seen: Vec<Spelling> = local.iter().flatten().map(|c| spelling_of(c)).collect();
                let mutf7 = seen.iter().any(|s| matches!(s, Spelling::ModifiedUtf7(_)));
                let utf8 = seen.contains(&Spelling::Utf8);
                LocalSpelling {
                    read_mutf7: true,
                    write_mutf7: mutf7 && !utf8,
                }
            }
        }
    }

    /// The folder name (UTF-8 components) a local directory spells.
    fn read(&self, disk: &[String]) -> Vec<String> {
        disk.iter()
            .map(|c| match spelling_of(c) {
                Spelling::ModifiedUtf7(decoded) if self.read_mutf7 => decoded,
                _ => c.clone(),
            })
            .collect()
    }

    /// The directory components for a folder new to this Maildir; `None`
    /// when the encoded spelling is not a usable directory name.
    fn write(&self, name: &[String]) -> Option<Vec<String>> {
        if !self.write_mutf7 || name == ["INBOX"] {
            return Some(name.to_vec());
        }
        let disk: Vec<String> = name.iter().map(|c| encode_mutf7(c)).collect();
        disk.iter()
            .enumerate()
            .all(|(i, c)| component_problem(c, i > 0).is_none())
            .then_some(disk)
    }
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
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            root,
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
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
    }

    #[test]
    fn hostile_and_unselectable_names_are_skipped_with_a_reason() {
        let mut noselect = entry("Parent");
        noselect.attributes = vec!["\\Noselect".into()];
        let remote = [entry("INBOX"), entry("../x"), entry("a/../../b"), noselect];
        let local = [comps("Parent")];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
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
            LocalNames::Keep,
            &FolderPatterns::default(),
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
        let list = folder_list(
            &[entry("Work")],
            &[],
            &known,
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert_eq!(list.jobs.len(), 1);
        assert!(list.jobs[0].in_state && !list.jobs[0].on_disk);
    }

    fn paths(list: &FolderList) -> Vec<(String, String, bool)> {
        list.jobs
            .iter()
            .map(|j| {
                (
                    j.remote_name.clone(),
                    j.local_path.display().to_string(),
                    j.on_disk,
                )
            })
            .collect()
    }

    #[test]
    fn a_modified_utf7_maildir_is_read_as_the_names_it_encodes() {
        let remote = [
            entry("INBOX"),
            entry("Entw&APw-rfe"),
            entry("Projects/bench &- co"),
            entry("&AMk-t&AOk-"),
        ];
        let local = [
            comps("INBOX"),
            comps("Entw&APw-rfe"),
            comps("Projects/bench &- co"),
        ];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert!(list.warnings.is_empty() && list.conflicts.is_empty());
        assert_eq!(
            paths(&list),
            vec![
                ("INBOX".into(), "/m/INBOX".into(), true),
                ("Entw&APw-rfe".into(), "/m/Entw&APw-rfe".into(), true),
                (
                    "Projects/bench &- co".into(),
                    "/m/Projects/bench &- co".into(),
                    true
                ),
                // New folders follow the spelling the Maildir shows.
                ("&AMk-t&AOk-".into(), "/m/&AMk-t&AOk-".into(), false),
            ]
        );
        assert_eq!(list.jobs[1].display_name, "Entwürfe");
    }

    #[test]
    fn a_utf8_maildir_keeps_utf8_and_is_never_misread() {
        let remote = [
            entry("INBOX"),
            entry("Projects/bench &- co"),
            entry("&AMk-t&AOk-"),
        ];
        let local = [comps("INBOX"), comps("Projects/bench & co")];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert_eq!(
            paths(&list),
            vec![
                ("INBOX".into(), "/m/INBOX".into(), true),
                (
                    "Projects/bench &- co".into(),
                    "/m/Projects/bench & co".into(),
                    true
                ),
                ("&AMk-t&AOk-".into(), "/m/Été".into(), false),
            ]
        );
    }

    #[test]
    fn a_local_only_modified_utf7_folder_gets_its_decoded_server_name() {
        let remote = [entry("INBOX")];
        let local = [comps("INBOX"), comps("Entw&APw-rfe")];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert_eq!(list.jobs[1].remote_name, "Entw&APw-rfe");
        assert_eq!(list.jobs[1].local_path, PathBuf::from("/m/Entw&APw-rfe"));
        assert!(list.renames.is_empty());
    }

    #[test]
    fn utf8_names_rename_modified_utf7_directories_parents_first() {
        let remote = [entry("INBOX"), entry("Entw&APw-rfe/&AMk-t&AOk-")];
        let local = [
            comps("INBOX"),
            comps("Entw&APw-rfe"),
            comps("Entw&APw-rfe/&AMk-t&AOk-"),
        ];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Utf8,
            &FolderPatterns::default(),
        );
        assert_eq!(list.jobs[1].remote_name, "Entw&APw-rfe");
        let renames: Vec<(String, String)> = list
            .renames
            .iter()
            .map(|(a, b)| (a.display().to_string(), b.display().to_string()))
            .collect();
        assert_eq!(
            renames,
            vec![
                ("/m/Entw&APw-rfe".into(), "/m/Entwürfe".into()),
                ("/m/Entwürfe/&AMk-t&AOk-".into(), "/m/Entwürfe/Été".into()),
            ]
        );
    }

    #[test]
    fn explicit_spellings_decide_new_directories() {
        let remote = [entry("INBOX"), entry("Entw&APw-rfe")];
        let local = [comps("INBOX")];
        let utf7 = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::ModifiedUtf7,
            &FolderPatterns::default(),
        );
        assert_eq!(utf7.jobs[1].local_path, PathBuf::from("/m/Entw&APw-rfe"));
        let utf8 = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Utf8,
            &FolderPatterns::default(),
        );
        assert_eq!(utf8.jobs[1].local_path, PathBuf::from("/m/Entwürfe"));
    }

    #[test]
    fn two_spellings_of_one_folder_are_an_error_naming_both() {
        let remote = [entry("INBOX"), entry("Entw&APw-rfe")];
        let local = [comps("INBOX"), comps("Entw&APw-rfe"), comps("Entwürfe")];
        let list = folder_list(
            &remote,
            &local,
            &BTreeSet::new(),
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert_eq!(
            list.jobs.len(),
            1,
            "only INBOX is synced: {:?}",
            paths(&list)
        );
        assert_eq!(list.conflicts.len(), 1);
        let (folder, reason) = &list.conflicts[0];
        assert_eq!(folder, "Entwürfe");
        assert!(
            reason.contains("/m/Entw&APw-rfe") && reason.contains("/m/Entwürfe"),
            "{reason}"
        );
    }

    #[test]
    fn excluded_folders_are_left_alone_on_both_sides() {
        let patterns = FolderPatterns::parse(&[
            "*".to_string(),
            "!Junk".to_string(),
            "!Lists/%".to_string(),
            "!Nowhere".to_string(),
        ])
        .unwrap();
        let remote = [
            entry("INBOX"),
            entry("Junk"),
            entry("Lists/rust"),
            entry("Lists/rust/deep"),
        ];
        // A local-only Junk/old is synced; a folder synced before and now
        // excluded (Lists/rust, in state) gets no "gone" warning.
        let local = [
            comps("INBOX"),
            comps("Junk"),
            comps("Junk/old"),
            comps("Lists/rust"),
        ];
        let known: BTreeSet<String> = ["Lists/rust".to_string()].into();
        let list = folder_list(
            &remote,
            &local,
            &known,
            Path::new("/m"),
            LocalNames::Keep,
            &patterns,
        );
        let jobs: Vec<(&str, bool, bool)> = list
            .jobs
            .iter()
            .map(|j| (j.display_name.as_str(), j.on_server, j.on_disk))
            .collect();
        assert_eq!(
            jobs,
            vec![
                ("INBOX", true, true),
                ("Junk/old", false, true),
                ("Lists/rust/deep", true, false),
            ]
        );
        assert_eq!(
            list.excluded,
            vec![
                ("Junk".to_string(), Some("!Junk".to_string())),
                ("Lists/rust".to_string(), Some("!Lists/%".to_string())),
            ]
        );
        assert_eq!(
            list.warnings,
            vec!["the folders pattern \"!Nowhere\" matches no folder on either side".to_string()]
        );
    }
}
