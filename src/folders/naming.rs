//! From a server's folder name to a local folder name and back, in two
//! steps: the namespaces (RFC 2342) turn a server name into a folder name
//! (`INBOX.Archive.2023` on Cyrus and `Archive/2023` on Dovecot are both
//! the folder `Archive/2023`), and the account's name map turns a folder
//! name into the local folder's name (`[Gmail]/Sent Mail` into `Sent`).
//!
//! Folder names are what `imapdir folders` shows and what the `folders`
//! patterns match; local names are what the Maildir holds.

use std::collections::BTreeMap;

use super::names::{component_problem, local_components, remote_name, NameError};
use crate::imap::{ListEntry, Namespace, Namespaces};

/// Which namespaces besides the personal one an account syncs, and the
/// local level each lands under (`namespaces`, `shared_folders_level`,
/// `other_users_level`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceChoice {
    /// Other users' folders, under this local level (`Users`).
    pub other_users: Option<String>,
    /// Shared folders, under this local level (`Shared`).
    pub shared: Option<String>,
}

/// A namespace other than the personal one, and where it lands locally
/// (`None`: not synced).
#[derive(Debug, Clone)]
struct OtherNamespace {
    namespace: Namespace,
    level: Option<String>,
}

/// How this server's names become folder names, for one run.
#[derive(Debug, Clone)]
pub struct FolderNaming {
    /// The personal namespace's prefix, raw (`INBOX.`); empty on most servers.
    prefix: String,
    /// The delimiter new server names are built with.
    delimiter: Option<char>,
    others: Vec<OtherNamespace>,
}

/// What a server name is to this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerName {
    /// A folder, by its components.
    Folder(Vec<String>),
    /// In a namespace the account does not sync.
    NotSynced,
    /// A namespace's own root (`Public`, `INBOX` of `INBOX.` is INBOX
    /// itself), not a folder below it.
    NamespaceRoot,
}

impl FolderNaming {
    /// The naming of a server that announced `namespaces` (`None`: it has
    /// no NAMESPACE) and listed `entries`. Warnings name the namespaces the
    /// account asks for and the server does not have.
    pub fn new(
        namespaces: Option<&Namespaces>,
        entries: &[ListEntry],
        choice: &NamespaceChoice,
    ) -> (FolderNaming, Vec<String>) {
        let mut warnings = Vec::new();
        // The server's hierarchy delimiter as its list shows it.
        let listed = entries
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case("INBOX"))
            .or_else(|| entries.iter().find(|e| e.delimiter.is_some()))
            .and_then(|e| e.delimiter);
        let empty = Namespaces::default();
        let namespaces = namespaces.unwrap_or(&empty);
        let personal = namespaces.personal.first();
        let mut others = Vec::new();
        for (kind, list, level) in [
            ("other", &namespaces.other_users, &choice.other_users),
            ("shared", &namespaces.shared, &choice.shared),
        ] {
            if level.is_some() && list.is_empty() {
                warnings.push(format!(
                    "namespaces includes {kind:?}, but the server announces no such namespace"
                ));
            }
            others.extend(list.iter().map(|namespace| OtherNamespace {
                namespace: namespace.clone(),
                level: level.clone(),
            }));
        }
        // The longest prefix decides, so check those first.
        others.sort_by_key(|o| std::cmp::Reverse(o.namespace.prefix.len()));
        let naming = FolderNaming {
            prefix: personal.map(|p| p.prefix.clone()).unwrap_or_default(),
            delimiter: personal.and_then(|p| p.delimiter).or(listed),
            others,
        };
        (naming, warnings)
    }

    /// The personal namespace's prefix, raw; empty when there is none.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// What the server name `raw` (with its LIST delimiter) is.
    pub fn folder_name(&self, raw: &str, delimiter: Option<char>) -> Result<ServerName, NameError> {
        if raw.eq_ignore_ascii_case("INBOX") {
            return Ok(ServerName::Folder(vec!["INBOX".to_string()]));
        }
        if self
            .others
            .iter()
            .any(|o| is_root_of(raw, &o.namespace.prefix))
        {
            return Ok(ServerName::NamespaceRoot);
        }
        let personal = strip_prefix(raw, &self.prefix);
        let other = self.others.iter().find_map(|o| {
            let rest = strip_prefix(raw, &o.namespace.prefix)?;
            Some((o, rest))
        });
        match (personal, other) {
            (Some(rest), Some((o, _))) if o.namespace.prefix.len() <= self.prefix.len() => {
                self.personal(rest, delimiter)
            }
            (_, Some((o, rest))) => {
                let Some(level) = &o.level else {
                    return Ok(ServerName::NotSynced);
                };
                if rest.is_empty() {
                    return Ok(ServerName::NamespaceRoot);
                }
                let mut components = vec![level.clone()];
                components.extend(local_components_below(rest, delimiter)?);
                Ok(ServerName::Folder(components))
            }
            (Some(rest), None) => self.personal(rest, delimiter),
            (None, None) => {
                if is_root_of(raw, &self.prefix) {
                    return Ok(ServerName::NamespaceRoot);
                }
                // Outside every namespace the server announced: as it is.
                Ok(ServerName::Folder(local_components(raw, delimiter)?))
            }
        }
    }

    fn personal(&self, rest: &str, delimiter: Option<char>) -> Result<ServerName, NameError> {
        if rest.is_empty() {
            return Ok(ServerName::NamespaceRoot);
        }
        Ok(ServerName::Folder(local_components(rest, delimiter)?))
    }

    /// The server name of a folder known only locally: the inverse of
    /// [`FolderNaming::folder_name`].
    pub fn server_name(&self, folder: &[String]) -> Result<String, NameError> {
        if folder == ["INBOX"] {
            return Ok("INBOX".to_string());
        }
        if folder.len() > 1 {
            if let Some(o) = self
                .others
                .iter()
                .find(|o| o.level.as_deref() == Some(folder[0].as_str()))
            {
                let rest = remote_name(&folder[1..], o.namespace.delimiter)?;
                return Ok(format!("{}{rest}", o.namespace.prefix));
            }
        }
        Ok(format!(
            "{}{}",
            self.prefix,
            remote_name(folder, self.delimiter)?
        ))
    }

    /// The server name a local folder had before the personal prefix was
    /// read as one (`INBOX.x` for the local `INBOX/x`); `None` without a
    /// prefix.
    pub fn unprefixed_server_name(&self, folder: &[String]) -> Option<String> {
        if self.prefix.is_empty() {
            return None;
        }
        remote_name(folder, self.delimiter).ok()
    }
}

/// `raw` without `prefix`, if it starts with it. INBOX is case-insensitive
/// (RFC 3501), so an `INBOX.` prefix is too.
fn strip_prefix<'a>(raw: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix.len() >= 5 && prefix[..5].eq_ignore_ascii_case("INBOX") {
        let head = raw.get(..prefix.len())?;
        return (head[..5].eq_ignore_ascii_case("INBOX") && head[5..] == prefix[5..])
            .then(|| &raw[prefix.len()..]);
    }
    raw.strip_prefix(prefix)
}

/// Whether `raw` is a prefix's root: `Public` for `Public/`.
fn is_root_of(raw: &str, prefix: &str) -> bool {
    !prefix.is_empty() && {
        let mut chars = prefix.chars();
        chars.next_back();
        let root = chars.as_str();
        !root.is_empty() && strip_prefix(raw, root) == Some("")
    }
}

/// Components of a name below a namespace level, where `INBOX` is only a
/// name like any other (another user's INBOX is not ours).
fn local_components_below(rest: &str, delimiter: Option<char>) -> Result<Vec<String>, NameError> {
    if rest.eq_ignore_ascii_case("INBOX") {
        return Ok(vec![rest.to_string()]);
    }
    local_components(rest, delimiter)
}

/// `folder_names`: server folder names mapped to local ones, both ways.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameMap {
    to_local: BTreeMap<Vec<String>, Vec<String>>,
    to_folder: BTreeMap<Vec<String>, Vec<String>>,
}

impl NameMap {
    /// Checks a `folder_names` table: every name a safe path, no two
    /// folders mapped to one local name. Names use `/` between levels.
    pub fn parse(table: &BTreeMap<String, String>) -> Result<NameMap, String> {
        let mut map = NameMap::default();
        for (folder, local) in table {
            let from =
                split_checked(folder).map_err(|e| format!("folder_names: {folder:?} {e}"))?;
            let to = split_checked(local)
                .map_err(|e| format!("folder_names: {folder:?} = {local:?}: {local:?} {e}"))?;
            if let Some(other) = map.to_folder.get(&to) {
                return Err(format!(
                    "folder_names maps both {:?} and {folder:?} to {local:?}; \
                     two folders cannot share one local folder",
                    other.join("/")
                ));
            }
            map.to_folder.insert(to.clone(), from.clone());
            map.to_local.insert(from, to);
        }
        Ok(map)
    }

    pub fn is_empty(&self) -> bool {
        self.to_local.is_empty()
    }

    /// The local name of a folder, if the map names one.
    pub fn local(&self, folder: &[String]) -> Option<&Vec<String>> {
        self.to_local.get(folder)
    }

    /// The folder a local name stands for, if the map names one.
    pub fn folder(&self, local: &[String]) -> Option<&Vec<String>> {
        self.to_folder.get(local)
    }

    /// Adds a mapping unless either name is taken already.
    pub(super) fn add(&mut self, folder: Vec<String>, local: Vec<String>) -> bool {
        if self.to_local.contains_key(&folder) || self.to_folder.contains_key(&local) {
            return false;
        }
        self.to_folder.insert(local.clone(), folder.clone());
        self.to_local.insert(folder, local);
        true
    }
}

/// `a/b` as checked components.
fn split_checked(name: &str) -> Result<Vec<String>, String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if name.eq_ignore_ascii_case("INBOX") && name != "INBOX" {
        return Err("is INBOX in another case; write INBOX".into());
    }
    let components: Vec<String> = name.split('/').map(str::to_string).collect();
    for (i, c) in components.iter().enumerate() {
        if let Some(reason) = component_problem(c, i > 0) {
            return Err(format!("has a component {c:?} that {reason}"));
        }
    }
    Ok(components)
}

/// The plain local name of an RFC 6154 special-use folder.
pub fn special_use_name(attributes: &[String]) -> Option<&'static str> {
    const NAMES: [(&str, &str); 5] = [
        ("\\Sent", "Sent"),
        ("\\Drafts", "Drafts"),
        ("\\Trash", "Trash"),
        ("\\Junk", "Junk"),
        ("\\Archive", "Archive"),
    ];
    NAMES.iter().find_map(|(attribute, name)| {
        attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
            .then_some(*name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, delimiter: char) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            delimiter: Some(delimiter),
        }
    }

    fn folder(parts: &[&str]) -> ServerName {
        ServerName::Folder(parts.iter().map(|s| s.to_string()).collect())
    }

    fn comps(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    fn cyrus() -> Namespaces {
        Namespaces {
            personal: vec![ns("INBOX.", '.')],
            other_users: vec![ns("user.", '.')],
            shared: vec![ns("", '.')],
        }
    }

    #[test]
    fn the_personal_prefix_is_not_a_level() {
        let (naming, warnings) =
            FolderNaming::new(Some(&cyrus()), &[], &NamespaceChoice::default());
        assert!(warnings.is_empty());
        let name = |raw| naming.folder_name(raw, Some('.')).unwrap();
        assert_eq!(name("INBOX"), folder(&["INBOX"]));
        assert_eq!(name("inbox"), folder(&["INBOX"]));
        assert_eq!(name("INBOX.Archive.2023"), folder(&["Archive", "2023"]));
        assert_eq!(name("Inbox.Sent"), folder(&["Sent"]));
        // Cyrus's shared namespace has the empty prefix; not synced by default.
        assert_eq!(name("Announcements"), ServerName::NotSynced);
        assert_eq!(name("user.alice.Sent"), ServerName::NotSynced);
        assert_eq!(
            naming.server_name(&comps(&["Archive", "2023"])).unwrap(),
            "INBOX.Archive.2023"
        );
        assert_eq!(naming.server_name(&comps(&["INBOX"])).unwrap(), "INBOX");
        assert_eq!(
            naming.server_name(&comps(&["Été"])).unwrap(),
            "INBOX.&AMk-t&AOk-"
        );
    }

    #[test]
    fn without_namespaces_names_are_as_listed() {
        let entries = [ListEntry {
            name: "INBOX".into(),
            delimiter: Some('/'),
            attributes: vec![],
        }];
        let (naming, _) = FolderNaming::new(None, &entries, &NamespaceChoice::default());
        assert_eq!(
            naming.folder_name("Archive/2023", Some('/')).unwrap(),
            folder(&["Archive", "2023"])
        );
        assert_eq!(naming.server_name(&comps(&["A", "b"])).unwrap(), "A/b");
    }

    #[test]
    fn other_namespaces_land_under_their_own_level_when_asked_for() {
        let dovecot = Namespaces {
            personal: vec![ns("", '/')],
            other_users: vec![ns("Other Users/", '/')],
            shared: vec![ns("Public/", '/')],
        };
        let choice = NamespaceChoice {
            other_users: None,
            shared: Some("Shared".into()),
        };
        let (naming, warnings) = FolderNaming::new(Some(&dovecot), &[], &choice);
        assert!(warnings.is_empty());
        let name = |raw| naming.folder_name(raw, Some('/')).unwrap();
        assert_eq!(
            name("Public/News/2024"),
            folder(&["Shared", "News", "2024"])
        );
        assert_eq!(name("Public"), ServerName::NamespaceRoot);
        assert_eq!(name("Other Users/bob/INBOX"), ServerName::NotSynced);
        assert_eq!(name("Work"), folder(&["Work"]));
        assert_eq!(
            naming.server_name(&comps(&["Shared", "News"])).unwrap(),
            "Public/News"
        );
        assert_eq!(naming.server_name(&comps(&["Shared"])).unwrap(), "Shared");

        let (cyrus, _) = FolderNaming::new(Some(&cyrus()), &[], &choice);
        assert_eq!(
            cyrus.folder_name("Announcements", Some('.')).unwrap(),
            folder(&["Shared", "Announcements"])
        );
        assert_eq!(
            cyrus.folder_name("INBOX.Sent", Some('.')).unwrap(),
            folder(&["Sent"])
        );
    }

    #[test]
    fn a_namespace_asked_for_and_not_announced_is_a_warning() {
        let choice = NamespaceChoice {
            other_users: Some("Users".into()),
            shared: None,
        };
        let only_personal = Namespaces {
            personal: vec![ns("", '/')],
            ..Namespaces::default()
        };
        let (_, warnings) = FolderNaming::new(Some(&only_personal), &[], &choice);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("\"other\""), "{warnings:?}");
    }

    #[test]
    fn hostile_names_stay_errors_below_a_prefix() {
        let (naming, _) = FolderNaming::new(Some(&cyrus()), &[], &NamespaceChoice::default());
        assert!(naming.folder_name("INBOX...", Some('.')).is_err());
        assert!(naming.folder_name("INBOX./x", Some('/')).is_err());
    }

    #[test]
    fn the_name_map_checks_paths_and_collisions() {
        let table: BTreeMap<String, String> = [
            ("[Gmail]/Sent Mail".to_string(), "Sent".to_string()),
            ("Old/Stuff".to_string(), "Archive/Old".to_string()),
        ]
        .into();
        let map = NameMap::parse(&table).unwrap();
        assert_eq!(
            map.local(&comps(&["[Gmail]", "Sent Mail"])),
            Some(&comps(&["Sent"]))
        );
        assert_eq!(
            map.folder(&comps(&["Archive", "Old"])),
            Some(&comps(&["Old", "Stuff"]))
        );
        for (from, to) in [
            ("A", "../x"),
            ("A", ""),
            ("A", "x/cur"),
            ("..", "B"),
            ("A", "inbox"),
        ] {
            let table: BTreeMap<String, String> = [(from.to_string(), to.to_string())].into();
            assert!(NameMap::parse(&table).is_err(), "{from} = {to}");
        }
        let table: BTreeMap<String, String> = [
            ("A".to_string(), "Same".to_string()),
            ("B".to_string(), "Same".to_string()),
        ]
        .into();
        let err = NameMap::parse(&table).unwrap_err();
        assert!(err.contains("\"A\"") && err.contains("\"B\""), "{err}");
    }

    #[test]
    fn special_use_attributes_name_plain_folders() {
        assert_eq!(
            special_use_name(&["\\HasNoChildren".into(), "\\Sent".into()]),
            Some("Sent")
        );
        assert_eq!(special_use_name(&["\\junk".into()]), Some("Junk"));
        assert_eq!(special_use_name(&["\\All".into()]), None);
    }
}
