//! Which folders a run syncs: the server's list, the Maildir's folders and
//! the state's memory of both, matched by name.
//!
//! A server folder's local name comes from its folder name (namespaces,
//! `naming.rs`) and the account's name map, except for a folder synced
//! before: it stays where the state recorded it, so a change of the rules
//! (or of imapdir's) never turns into a second copy of a folder.
//!
//! Pure, so the matching rules (hostile names, folders that vanished from
//! one side) are unit-tested without a server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::layout::folder_path;
use super::names::{
    component_problem, encode_mutf7, local_components, local_path, spelling_of, Spelling,
};
use super::naming::{special_use_name, FolderNaming, NameMap, ServerName};
use super::rules::FolderRules;
use crate::imap::{ListEntry, Listing, SUBSCRIBED};
use crate::model::{Layout, LocalNames};

/// One folder to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderJob {
    /// The server's name, modified UTF-7 as on the wire; also the state key.
    pub remote_name: String,
    /// The folder's name as people read it (UTF-8, `/` between levels,
    /// without the personal namespace's prefix); what patterns match.
    pub display_name: String,
    /// The local folder's name, components as the state records them.
    pub local_name: Vec<String>,
    pub local_path: PathBuf,
    pub on_server: bool,
    pub on_disk: bool,
    /// Synced before: a missing side means it went away, not that it is new.
    pub in_state: bool,
    /// The server's status of the folder, when LIST-STATUS gave it.
    pub status: Option<crate::imap::MailboxStatus>,
    /// The RFC 6154 special use the server gave it, e.g. `\Sent`.
    pub special_use: Option<String>,
}

/// A folder the state knows, with where it was synced locally (`None`
/// for a state written before local names were recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFolder {
    pub remote_name: String,
    pub local_name: Option<Vec<String>>,
}

/// Why a server folder is not synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// `\Noselect` or `\NonExistent`: it holds no messages.
    Container,
    /// Left out by the `folders` patterns (by this one; `None`: none matched).
    Excluded(Option<String>),
    /// Left out by `exclude_special_use` (this attribute).
    SpecialUse(String),
    /// Not subscribed, with `subscribed_only`.
    Unsubscribed,
    /// In another user's or a shared namespace the account does not sync.
    OtherNamespace,
    /// Its name cannot be a local folder; the reason.
    Unusable(String),
}

/// A server folder this run leaves alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFolder {
    /// As on the wire.
    pub remote_name: String,
    /// As people read it, where the name could be read.
    pub display_name: Option<String>,
    pub reason: Skip,
}

/// A folder synced before that the server no longer lists: renamed on the
/// server, or deleted there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoneFolder {
    /// Its name in the state.
    pub remote_name: String,
    pub display_name: String,
    pub local_name: Vec<String>,
    pub local_path: PathBuf,
    /// Whether its local copy is still there.
    pub on_disk: bool,
}

impl GoneFolder {
    /// What a run says about it when nothing else is done with it.
    pub fn warning(&self) -> String {
        format!(
            "folder {} is gone from the server; its local copy {} is kept and no longer synced",
            self.display_name,
            self.local_path.display()
        )
    }
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
    /// Server folders left alone, in the server's order.
    pub skipped: Vec<SkippedFolder>,
    /// Local folders the patterns leave out, as (local name, the pattern).
    pub excluded_local: Vec<(String, Option<String>)>,
    /// The personal namespace's prefix the names were read with.
    pub prefix: String,
    /// Folders synced before that the server no longer lists.
    pub gone: Vec<GoneFolder>,
}

/// Matches the server's folders with the Maildir's.
///
/// `local` holds each local folder as path components under `root`, as
/// spelt on disk; `known` the folders recorded in state; `rules` the
/// account's folder settings.
pub fn folder_list(
    server: &Listing,
    local: &[Vec<String>],
    known: &[KnownFolder],
    root: &Path,
    rules: &FolderRules,
) -> FolderList {
    let mut list = FolderList::default();
    let (naming, warnings) = FolderNaming::new(
        server.namespaces.as_ref(),
        &server.entries,
        &rules.namespaces,
    );
    list.warnings.extend(warnings);
    list.prefix = naming.prefix().to_string();
    let spelling = LocalSpelling::new(local, rules.local_names, rules.layout);
    let path_of = |disk: &[String]| folder_path(root, rules.layout, disk);
    let known_by_name: BTreeMap<&str, &KnownFolder> =
        known.iter().map(|k| (k.remote_name.as_str(), k)).collect();

    // Local folders by the name they spell; two spellings of one name (an
    // old tool's `Entw&APw-rfe` beside `Entwürfe`) are an error for that
    // folder, never a guess.
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
                        shown(path_of(other)),
                        shown(path_of(components))
                    ),
                ));
            }
            continue;
        }
        on_disk.insert(name, components.clone());
    }
    on_disk.retain(|name, _| !conflicted.contains(name));

    // Every folder name decided on, for the patterns that match none.
    let mut decided: Vec<String> = Vec::new();
    let names = run_name_map(&naming, server, rules);
    // Local names no local-only folder may take: those of server folders,
    // synced or left alone.
    let mut claimed: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut unselectable: BTreeSet<Vec<String>> = BTreeSet::new();
    // Synced folders the server now has only as containers.
    let mut emptied: BTreeSet<Vec<String>> = BTreeSet::new();
    let mut by_local: BTreeMap<Vec<String>, FolderJob> = BTreeMap::new();

    for entry in &server.entries {
        let skip = |reason: Skip, display: Option<&Vec<String>>| SkippedFolder {
            remote_name: entry.name.clone(),
            display_name: display.map(|d| d.join("/")),
            reason,
        };
        let folder = match naming.folder_name(&entry.name, entry.delimiter) {
            Ok(ServerName::Folder(folder)) => folder,
            Ok(ServerName::NotSynced) => {
                list.skipped.push(skip(Skip::OtherNamespace, None));
                continue;
            }
            Ok(ServerName::NamespaceRoot) => {
                list.skipped.push(skip(Skip::Container, None));
                continue;
            }
            Err(e) => {
                list.warnings
                    .push(format!("skipping server folder {:?}: {e}", entry.name));
                list.skipped.push(skip(Skip::Unusable(e.to_string()), None));
                continue;
            }
        };
        let remote_name = if folder == ["INBOX"] {
            "INBOX".to_string()
        } else {
            entry.name.clone()
        };
        let stored = known_by_name.get(remote_name.as_str());
        let mapped = names
            .local(&folder)
            .cloned()
            .unwrap_or_else(|| folder.clone());
        let local_name = match stored.and_then(|k| k.local_name.clone()) {
            Some(recorded) => recorded,
            None if stored.is_some() => {
                // Synced before local names were recorded: where the
                // folder was, if it is still there and the new place is not.
                match local_components(&remote_name, entry.delimiter) {
                    Ok(legacy)
                        if legacy != mapped
                            && on_disk.contains_key(&legacy)
                            && !on_disk.contains_key(&mapped) =>
                    {
                        legacy
                    }
                    _ => mapped,
                }
            }
            None => mapped,
        };
        if !entry.is_selectable() {
            // Synced before and now only a container: its messages were
            // deleted on the server (Dovecot keeps a deleted folder with
            // children so).
            if let (Some(_), Some(Ok(path))) =
                (stored, on_disk.get(&local_name).map(|d| path_of(d)))
            {
                list.gone.push(GoneFolder {
                    remote_name: remote_name.clone(),
                    display_name: folder.join("/"),
                    local_name: local_name.clone(),
                    local_path: path,
                    on_disk: true,
                });
                emptied.insert(local_name.clone());
            }
            unselectable.insert(local_name);
            list.skipped.push(skip(Skip::Container, Some(&folder)));
            continue;
        }
        claimed.insert(local_name.clone());
        if conflicted.contains(&local_name) {
            continue;
        }
        let display = folder.join("/");
        decided.push(display.clone());
        let decision = rules.patterns.decide(&display);
        if !decision.included {
            list.skipped.push(skip(
                Skip::Excluded(decision.by.map(str::to_string)),
                Some(&folder),
            ));
            continue;
        }
        // INBOX is the account's own, subscribed or not.
        if let Some(attribute) = rules
            .exclude_special_use
            .iter()
            .find(|a| has_attribute(entry, a))
        {
            list.skipped
                .push(skip(Skip::SpecialUse(attribute.clone()), Some(&folder)));
            continue;
        }
        if rules.subscribed_only && folder != ["INBOX"] && !has_attribute(entry, SUBSCRIBED) {
            list.skipped.push(skip(Skip::Unsubscribed, Some(&folder)));
            continue;
        }
        if let Some(other) = by_local.get(&local_name) {
            let reason = format!(
                "it maps to the same local folder as {:?}",
                other.remote_name
            );
            list.warnings
                .push(format!("skipping server folder {:?}: {reason}", entry.name));
            list.skipped
                .push(skip(Skip::Unusable(reason), Some(&folder)));
            continue;
        }
        let placed = match on_disk.get(&local_name) {
            Some(disk) => path_of(disk).map(|path| (path, true)),
            None => match spelling.write(&local_name) {
                Some(disk) => path_of(&disk).map(|path| (path, false)),
                None => Err("its modified UTF-7 spelling is not a usable directory name".into()),
            },
        };
        let (path, exists) = match placed {
            Ok(placed) => placed,
            Err(reason) => {
                list.warnings
                    .push(format!("skipping server folder {:?}: {reason}", entry.name));
                list.skipped
                    .push(skip(Skip::Unusable(reason), Some(&folder)));
                continue;
            }
        };
        by_local.insert(
            local_name.clone(),
            FolderJob {
                in_state: stored.is_some(),
                on_disk: exists,
                display_name: display,
                local_path: path,
                local_name,
                remote_name,
                on_server: true,
                status: None,
                special_use: special_use_name(&entry.attributes).map(|name| format!("\\{name}")),
            },
        );
    }

    // Where the state put folders the server no longer lists.
    let recorded: BTreeMap<&Vec<String>, &str> = known
        .iter()
        .filter_map(|k| Some((k.local_name.as_ref()?, k.remote_name.as_str())))
        .collect();
    let mut excluded_local = BTreeMap::new();
    for (local_name, disk) in &on_disk {
        if by_local.contains_key(local_name) {
            continue;
        }
        let path = match path_of(disk) {
            Ok(path) => path,
            // Read from disk in this layout, so never expected.
            Err(reason) => {
                list.warnings.push(format!(
                    "skipping local folder {}: {reason}",
                    disk.join("/")
                ));
                continue;
            }
        };
        if emptied.contains(local_name) {
            continue;
        }
        if unselectable.contains(local_name) {
            list.warnings.push(format!(
                "skipping local folder {}: the server has it only as a container that cannot hold messages",
                path.display()
            ));
            continue;
        }
        if claimed.contains(local_name) {
            // Its server folder is left alone this run; so is it.
            continue;
        }
        if names.local(local_name).is_some() && names.folder(local_name).is_none() {
            list.warnings.push(format!(
                "skipping local folder {}: its server folder is synced under another local name (folder_names)",
                path.display()
            ));
            continue;
        }
        let folder = names
            .folder(local_name)
            .cloned()
            .unwrap_or_else(|| local_name.clone());
        let display = folder.join("/");
        decided.push(display.clone());
        let decision = rules.patterns.decide(&display);
        if !decision.included {
            excluded_local.insert(display, decision.by.map(str::to_string));
            continue;
        }
        let name = match naming.server_name(&folder) {
            Ok(n) => n,
            Err(e) => {
                list.warnings
                    .push(format!("skipping local folder {}: {e}", path.display()));
                continue;
            }
        };
        // Known by its recorded local name, its server name, or the server
        // name it had before namespaces were read.
        let unprefixed = naming.unprefixed_server_name(&folder);
        let gone = recorded.get(local_name).map(|n| n.to_string()).or_else(|| {
            [Some(name.clone()), unprefixed]
                .into_iter()
                .flatten()
                .find(|n| known_by_name.contains_key(n.as_str()))
        });
        if let Some(remote_name) = gone {
            list.gone.push(GoneFolder {
                remote_name,
                display_name: display,
                local_name: local_name.clone(),
                local_path: path,
                on_disk: true,
            });
            continue;
        }
        by_local.insert(
            local_name.clone(),
            FolderJob {
                remote_name: name,
                display_name: display,
                local_name: local_name.clone(),
                local_path: path,
                on_server: false,
                on_disk: true,
                in_state: false,
                status: None,
                special_use: None,
            },
        );
    }

    // Folders synced before that neither side has now: renamed on the
    // server by a run cut short after it moved the directory, or gone.
    let listed: BTreeSet<&str> = server
        .entries
        .iter()
        .map(|e| {
            if e.name.eq_ignore_ascii_case("INBOX") {
                "INBOX"
            } else {
                e.name.as_str()
            }
        })
        .collect();
    for k in known {
        if listed.contains(k.remote_name.as_str())
            || list.gone.iter().any(|g| g.remote_name == k.remote_name)
        {
            continue;
        }
        let Some(local_name) = k.local_name.clone() else {
            continue;
        };
        if on_disk.contains_key(&local_name) {
            continue;
        }
        let Some(path) = spelling.write(&local_name).and_then(|d| path_of(&d).ok()) else {
            continue;
        };
        list.gone.push(GoneFolder {
            remote_name: k.remote_name.clone(),
            display_name: local_name.join("/"),
            local_name,
            local_path: path,
            on_disk: false,
        });
    }

    if rules.local_names == LocalNames::Utf8 {
        let mut renames = BTreeSet::new();
        for job in by_local.values().filter(|j| j.on_disk) {
            let disk = &on_disk[&job.local_name];
            let name = &job.local_name;
            if rules.layout != Layout::Verbatim {
                // One directory per folder: rename it whole.
                if disk != name {
                    if let Ok(to) = path_of(name) {
                        renames.insert((0, job.local_path.clone(), to));
                    }
                }
                continue;
            }
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
    if !rules.patterns.is_everything() {
        for pattern in rules.patterns.unmatched(decided.iter().map(String::as_str)) {
            list.warnings.push(format!(
                "the folders pattern {pattern:?} matches no folder on either side"
            ));
        }
    }
    list.excluded_local = excluded_local.into_iter().collect();
    list.jobs = by_local.into_values().collect();
    // INBOX first: it is what people wait for.
    list.jobs
        .sort_by_key(|j| (j.remote_name != "INBOX", j.display_name.clone()));
    list
}

fn has_attribute(entry: &ListEntry, attribute: &str) -> bool {
    entry
        .attributes
        .iter()
        .any(|a| a.eq_ignore_ascii_case(attribute))
}

/// The account's name map for this run: `folder_names`, and with
/// `special_use_names` the special-use folders under their plain names
/// where that name is free (no mapping and no server folder has it).
fn run_name_map(naming: &FolderNaming, server: &Listing, rules: &FolderRules) -> NameMap {
    let mut names = rules.names.clone();
    if !rules.special_use_names {
        return names;
    }
    let folders: Vec<(Vec<String>, &ListEntry)> = server
        .entries
        .iter()
        .filter_map(|e| match naming.folder_name(&e.name, e.delimiter) {
            Ok(ServerName::Folder(f)) => Some((f, e)),
            _ => None,
        })
        .collect();
    let taken: BTreeSet<&Vec<String>> = folders.iter().map(|(f, _)| f).collect();
    for (folder, entry) in &folders {
        let Some(plain) = special_use_name(&entry.attributes) else {
            continue;
        };
        let plain = vec![plain.to_string()];
        if *folder == plain || names.local(folder).is_some() {
            continue;
        }
        if taken.contains(&plain) {
            continue;
        }
        names.add(folder.clone(), plain);
    }
    names
}

/// A path for a message.
fn shown(path: Result<PathBuf, String>) -> String {
    match path {
        Ok(path) => path.display().to_string(),
        Err(reason) => reason,
    }
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
    /// A Maildir++ tree that shows neither is spelt in modified UTF-7, as
    /// Dovecot and Courier, its readers, spell it.
    fn new(local: &[Vec<String>], names: LocalNames, layout: Layout) -> LocalSpelling {
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
                let default = layout == Layout::MaildirPlusPlus && !mutf7 && !utf8;
                LocalSpelling {
                    read_mutf7: true,
                    write_mutf7: default || (mutf7 && !utf8),
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
    use crate::folders::patterns::FolderPatterns;

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

    /// A run over a server without NAMESPACE, `known` synced before
    /// local names were recorded.
    fn run(
        remote: &[ListEntry],
        local: &[Vec<String>],
        known: &[&str],
        root: &Path,
        local_names: LocalNames,
        patterns: &FolderPatterns,
    ) -> FolderList {
        let listing = Listing {
            entries: remote.to_vec(),
            ..Listing::default()
        };
        let known: Vec<KnownFolder> = known
            .iter()
            .map(|k| KnownFolder {
                remote_name: k.to_string(),
                local_name: None,
            })
            .collect();
        let rules = FolderRules {
            patterns: patterns.clone(),
            local_names,
            ..FolderRules::default()
        };
        folder_list(&listing, local, &known, root, &rules)
    }

    #[test]
    fn matches_both_sides_and_orders_inbox_first() {
        let root = Path::new("/m");
        let remote = [entry("Archive/2023"), entry("INBOX"), entry("&AMk-t&AOk-")];
        let local = [comps("INBOX"), comps("Local/Sub")];
        let list = run(
            &remote,
            &local,
            &[],
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let known = ["INBOX", "Old"];
        let list = run(
            &[entry("INBOX")],
            &[comps("INBOX"), comps("Old")],
            &known,
            Path::new("/m"),
            LocalNames::Keep,
            &FolderPatterns::default(),
        );
        assert_eq!(list.jobs.len(), 1);
        assert_eq!(list.gone.len(), 1);
        assert!(
            list.gone[0].warning().contains("gone from the server"),
            "{:?}",
            list.gone
        );
    }

    #[test]
    fn a_synced_folder_missing_locally_is_marked() {
        let known = ["Work"];
        let list = run(
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let utf7 = run(
            &remote,
            &local,
            &[],
            Path::new("/m"),
            LocalNames::ModifiedUtf7,
            &FolderPatterns::default(),
        );
        assert_eq!(utf7.jobs[1].local_path, PathBuf::from("/m/Entw&APw-rfe"));
        let utf8 = run(
            &remote,
            &local,
            &[],
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
        let list = run(
            &remote,
            &local,
            &[],
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
        let known = ["Lists/rust"];
        let list = run(
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
        let skipped: Vec<(&str, &Skip)> = list
            .skipped
            .iter()
            .map(|s| (s.remote_name.as_str(), &s.reason))
            .collect();
        assert_eq!(
            skipped,
            vec![
                ("Junk", &Skip::Excluded(Some("!Junk".to_string()))),
                ("Lists/rust", &Skip::Excluded(Some("!Lists/%".to_string()))),
            ]
        );
        assert_eq!(
            list.warnings,
            vec!["the folders pattern \"!Nowhere\" matches no folder on either side".to_string()]
        );
    }
}
