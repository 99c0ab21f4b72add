//! Local Maildir helpers: reading a folder's messages and the folder tree,
//! writing and renaming messages as a mail client would, and comparing
//! local and server contents (CRLF-normalized, matched by Message-ID).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Msg;

/// A message file in a local Maildir folder.
#[derive(Clone, Debug)]
pub struct LocalMsg {
    pub path: PathBuf,
    /// "cur" or "new".
    pub subdir: String,
    pub name: String,
    /// Info letters after ":2," (empty when there is no info part).
    pub flags: String,
    pub body: Vec<u8>,
}

impl LocalMsg {
    /// UID carried in the name as `,U=<uid>`, if any.
    pub fn uid(&self) -> Option<u32> {
        uid_in_name(&self.name)
    }

    pub fn message_id(&self) -> Option<String> {
        message_id(&self.body)
    }

    /// The name without the ":2,..." info part.
    pub fn base_name(&self) -> &str {
        self.name.split(":2,").next().unwrap()
    }

    pub fn inode(&self) -> u64 {
        fs::metadata(&self.path).unwrap().ino()
    }
}

pub fn uid_in_name(name: &str) -> Option<u32> {
    let base = name.split(":2,").next().unwrap();
    let rest = base.split(",U=").nth(1)?;
    rest.split(',').next()?.parse().ok()
}

/// Messages in `<root>/<folder>/{cur,new}` (tmp is ignored), sorted by name.
pub fn maildir_messages(root: &Path, folder: &str) -> Vec<LocalMsg> {
    let mut msgs = Vec::new();
    for subdir in ["cur", "new"] {
        let dir = root.join(folder).join(subdir);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if !entry.file_type().unwrap().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let flags = name.split(":2,").nth(1).unwrap_or("").to_string();
            let Ok(body) = fs::read(entry.path()) else {
                continue;
            };
            msgs.push(LocalMsg {
                path: entry.path(),
                subdir: subdir.to_string(),
                name,
                flags,
                body,
            });
        }
    }
    msgs.sort_by(|a, b| a.name.cmp(&b.name));
    msgs
}

/// Local Maildir folders (relative paths of dirs holding cur/new/tmp).
pub fn maildir_folders(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        if dir.join("cur").is_dir() && dir.join("new").is_dir() {
            if let Ok(rel) = dir.strip_prefix(root) {
                if !rel.as_os_str().is_empty() {
                    out.insert(rel.to_string_lossy().into_owned());
                }
            }
        }
        for entry in entries.flatten() {
            let name = entry.file_name();
            if matches!(name.to_str(), Some("cur" | "new" | "tmp")) {
                continue;
            }
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(root, &entry.path(), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// Every file under `root` with its inode: equal listings before and after
/// a run mean nothing was created, renamed, removed or rewritten.
pub fn tree_listing(root: &Path) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel.to_string_lossy().into_owned(), meta.ino());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// CRLF → LF: the canonical form to compare server and local content.
pub fn normalize(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// LF → CRLF (bare LFs only).
pub fn to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 40);
    for (i, &c) in body.iter().enumerate() {
        if c == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// True when every LF in `body` is preceded by CR (server-side form).
pub fn is_crlf_only(body: &[u8]) -> bool {
    body.iter()
        .enumerate()
        .all(|(i, &c)| c != b'\n' || (i > 0 && body[i - 1] == b'\r'))
}

/// Multiset of normalized contents.
pub fn content_multiset<'a, I>(bodies: I) -> BTreeMap<Vec<u8>, usize>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut set = BTreeMap::new();
    for body in bodies {
        *set.entry(normalize(body)).or_insert(0) += 1;
    }
    set
}

pub fn local_contents(msgs: &[LocalMsg]) -> BTreeMap<Vec<u8>, usize> {
    content_multiset(msgs.iter().map(|m| m.body.as_slice()))
}

pub fn server_contents(msgs: &[Msg]) -> BTreeMap<Vec<u8>, usize> {
    content_multiset(msgs.iter().map(|m| m.body.as_slice()))
}

/// Asserts both sides of a folder hold the same messages (normalized
/// content multiset) with the same flags, matched by Message-ID.
pub fn assert_folder_in_sync(server: &[Msg], local: &[LocalMsg], folder: &str) {
    assert_eq!(
        local.len(),
        server.len(),
        "{folder}: {} local files vs {} server messages",
        local.len(),
        server.len()
    );
    assert!(
        local_contents(local) == server_contents(server),
        "{folder}: local and server contents differ"
    );
    assert_no_duplicate_message_ids(server.iter().map(|m| m.message_id()), folder);
    assert_no_duplicate_message_ids(local.iter().map(|m| m.message_id()), folder);
    for s in server {
        let mid = s.message_id().expect("server message has a Message-ID");
        let l = local
            .iter()
            .find(|l| l.message_id().as_deref() == Some(mid.as_str()))
            .unwrap_or_else(|| panic!("{folder}: {mid} missing locally"));
        // Standard flags; keyword letters (a-z) name the folder's own
        // dovecot-keywords slots, which tests/keywords.rs checks.
        let standard: String = l.flags.chars().filter(char::is_ascii_uppercase).collect();
        assert_eq!(
            standard,
            s.letters(),
            "{folder}: flags of {mid} ({})",
            l.name
        );
    }
}

pub fn assert_no_duplicate_message_ids<I>(ids: I, what: &str)
where
    I: IntoIterator<Item = Option<String>>,
{
    let mut seen = BTreeSet::new();
    for id in ids.into_iter().flatten() {
        assert!(
            seen.insert(id.clone()),
            "{what}: Message-ID {id} appears twice"
        );
    }
}

/// Value of the Message-ID header, if any.
pub fn message_id(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            if key.eq_ignore_ascii_case("message-id") {
                return Some(value.trim().to_string());
            }
        }
    }
    None
}

/// Creates `<root>/<folder>/{cur,new,tmp}`.
pub fn make_local_folder(root: &Path, folder: &str) -> PathBuf {
    let dir = root.join(folder);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    dir
}

/// Writes a new local message (LF line endings): into new/ when `letters`
/// is None, else into cur/ as `<name>:2,<letters>`.
pub fn write_local_message(
    root: &Path,
    folder: &str,
    name: &str,
    body: &[u8],
    letters: Option<&str>,
) -> PathBuf {
    let dir = make_local_folder(root, folder);
    let path = match letters {
        None => dir.join("new").join(name),
        Some(l) => dir.join("cur").join(format!("{name}:2,{l}")),
    };
    // Written via tmp/ and renamed, as a Maildir delivery does.
    let tmp = dir.join("tmp").join(name);
    fs::write(&tmp, normalize(body)).unwrap();
    fs::rename(&tmp, &path).unwrap();
    path
}

/// Renames a local message so its info letters are `letters` (moving it
/// from new/ to cur/ if needed). Returns the new path.
pub fn set_local_flags(msg: &LocalMsg, letters: &str) -> PathBuf {
    let mut sorted: Vec<char> = letters.chars().collect();
    sorted.sort_unstable();
    let letters: String = sorted.into_iter().collect();
    let folder_dir = msg.path.parent().unwrap().parent().unwrap();
    let new_path = folder_dir
        .join("cur")
        .join(format!("{}:2,{letters}", msg.base_name()));
    fs::rename(&msg.path, &new_path).unwrap();
    new_path
}

/// Finds the local message with this Message-ID.
pub fn find_by_message_id<'a>(msgs: &'a [LocalMsg], mid: &str) -> &'a LocalMsg {
    msgs.iter()
        .find(|m| m.message_id().as_deref() == Some(mid))
        .unwrap_or_else(|| panic!("no local message with Message-ID {mid}"))
}

pub fn find_server_by_message_id<'a>(msgs: &'a [Msg], mid: &str) -> &'a Msg {
    msgs.iter()
        .find(|m| m.message_id().as_deref() == Some(mid))
        .unwrap_or_else(|| panic!("no server message with Message-ID {mid}"))
}
