//! Finding the Maildir folders under a root directory.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::is_maildir;
use crate::folders::{component_problem, components_of};
use crate::model::Layout;

/// Walks `root` and returns every directory below it that is a Maildir
/// folder (has cur/ new/ tmp/), as relative path components, sorted.
///
/// Hidden entries (starting with '.') are skipped. Symbolic links are never
/// followed: one leaving the root would sync mail that is not ours, and one
/// inside it would make two folders of one directory; each gets a warning.
/// Names that are not UTF-8 or not usable as folder names (see
/// [`crate::folders::local_components`]) are skipped with a warning. The root itself is
/// not a folder (INBOX is `root/INBOX`); if it is a Maildir, that is warned
/// about too.
///
/// In the `maildir++` and `flat` layouts every folder is a directory of the
/// root itself (see [`discover_beside`]).
pub fn discover_folders(
    root: &Path,
    layout: Layout,
) -> io::Result<(Vec<Vec<String>>, Vec<String>)> {
    if layout != Layout::Verbatim {
        return discover_beside(root, layout);
    }
    let mut folders = Vec::new();
    let mut warnings = Vec::new();
    if is_maildir(root) {
        warnings.push(format!(
            "{}: the root is itself a Maildir; its messages are not synced (folders live in subdirectories such as INBOX)",
            root.display()
        ));
    }
    let mut seen = HashSet::new();
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(root.to_path_buf(), Vec::new())];
    while let Some((dir, components)) = stack.pop() {
        let meta = match fs::metadata(&dir) {
            Ok(meta) => meta,
            // The root must exist; a subfolder vanishing meanwhile is
            // reported and the rest of the tree still synced.
            Err(e) if !components.is_empty() => {
                warnings.push(format!("{}: {e}", dir.display()));
                continue;
            }
            Err(e) => return Err(e),
        };
        // Bind mounts can still loop without symbolic links.
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let dir_is_maildir = is_maildir(&dir);
        if dir_is_maildir && !components.is_empty() {
            folders.push(components.clone());
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            // The root must be readable; an unreadable subfolder is reported
            // and the rest of the tree still synced.
            Err(e) if !components.is_empty() => {
                warnings.push(format!("{}: cannot list: {e}", dir.display()));
                continue;
            }
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let os_name = entry.file_name();
            let path = entry.path();
            if os_name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let file_type = entry.file_type()?;
            if file_type.is_symlink() {
                if path.is_dir() {
                    warnings.push(format!(
                        "{}: symbolic link to a directory, not followed",
                        path.display()
                    ));
                }
                continue;
            }
            if !file_type.is_dir() {
                continue;
            }
            let Some(name) = os_name.to_str() else {
                warnings.push(format!(
                    "{}: directory name is not UTF-8, skipped",
                    path.display()
                ));
                continue;
            };
            if dir_is_maildir && matches!(name, "cur" | "new" | "tmp") {
                continue;
            }
            if let Some(reason) = component_problem(name, !components.is_empty()) {
                // A Maildir's own subdirectories in a half-made folder are
                // not worth a warning; anything else skipped is.
                let is_subdir_name = matches!(name, "cur" | "new" | "tmp");
                if !is_subdir_name || is_maildir(&path) {
                    warnings.push(format!("{}: skipped, the name {reason}", path.display()));
                }
                continue;
            }
            let mut child = components.clone();
            child.push(name.to_string());
            stack.push((path, child));
        }
    }
    folders.sort();
    warnings.sort();
    Ok((folders, warnings))
}

/// The folders of a `maildir++` tree (the root is INBOX, `.A.b` is
/// `A/b`) or a `flat` one (`A.b` with the separator), one level deep.
fn discover_beside(root: &Path, layout: Layout) -> io::Result<(Vec<Vec<String>>, Vec<String>)> {
    let mut folders = Vec::new();
    let mut warnings = Vec::new();
    if is_maildir(root) {
        if layout == Layout::MaildirPlusPlus {
            folders.push(vec!["INBOX".to_string()]);
        } else {
            warnings.push(format!(
                "{}: the root is itself a Maildir; its messages are not synced (INBOX is {}/INBOX)",
                root.display(),
                root.display()
            ));
        }
    }
    for entry in fs::read_dir(root)? {
        let entry = entry?;
        let path = entry.path();
        let file_type = entry.file_type()?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            if file_type.is_dir() {
                warnings.push(format!(
                    "{}: directory name is not UTF-8, skipped",
                    path.display()
                ));
            }
            continue;
        };
        if matches!(name.as_str(), "cur" | "new" | "tmp") {
            continue;
        }
        let hidden = name.starts_with('.');
        if hidden != (layout == Layout::MaildirPlusPlus) {
            continue;
        }
        if file_type.is_symlink() {
            if path.is_dir() {
                warnings.push(format!(
                    "{}: symbolic link to a directory, not followed",
                    path.display()
                ));
            }
            continue;
        }
        if !file_type.is_dir() || !is_maildir(&path) {
            continue;
        }
        let Some(components) = components_of(layout, &name) else {
            continue;
        };
        if let Some(reason) = components.iter().find_map(|c| component_problem(c, false)) {
            warnings.push(format!("{}: skipped, the name {reason}", path.display()));
            continue;
        }
        folders.push(components);
    }
    folders.sort();
    warnings.sort();
    Ok((folders, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::Maildir;

    fn comps(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn finds_nested_and_non_ascii_folders() {
        let root = tempfile::tempdir().unwrap();
        for folder in [
            "INBOX",
            "Archive/2023",
            "Archive/2023/Q1",
            "Été/Reçus",
            "Lists/rust",
        ] {
            Maildir::new(root.path().join(folder)).create().unwrap();
        }
        // Hidden folders, hidden parents, plain files and half-made folders
        // are not folders.
        Maildir::new(root.path().join(".Trash")).create().unwrap();
        Maildir::new(root.path().join(".hidden/Inside"))
            .create()
            .unwrap();
        fs::create_dir_all(root.path().join("Partial/cur")).unwrap();
        fs::write(root.path().join("notes.txt"), "x").unwrap();

        let (folders, warnings) = discover_folders(root.path(), Layout::Verbatim).unwrap();
        assert_eq!(
            folders,
            vec![
                comps(&["Archive", "2023"]),
                comps(&["Archive", "2023", "Q1"]),
                comps(&["INBOX"]),
                comps(&["Lists", "rust"]),
                comps(&["Été", "Reçus"]),
            ]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn finds_maildir_plus_plus_and_flat_folders_one_level_deep() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        for dir in [
            "",
            ".Archive",
            ".Archive.2023",
            ".Été",
            "Plain",
            ".bad..name",
        ] {
            Maildir::new(r.join(dir)).create().unwrap();
        }
        fs::create_dir_all(r.join(".Half/cur")).unwrap();
        let (folders, warnings) = discover_folders(r, Layout::MaildirPlusPlus).unwrap();
        assert_eq!(
            folders,
            vec![
                comps(&["Archive"]),
                comps(&["Archive", "2023"]),
                comps(&["INBOX"]),
                comps(&["Été"]),
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");

        let flat = tempfile::tempdir().unwrap();
        for dir in ["INBOX", "Archive.2023", ".hidden"] {
            Maildir::new(flat.path().join(dir)).create().unwrap();
        }
        let (folders, warnings) = discover_folders(flat.path(), Layout::Flat('.')).unwrap();
        assert_eq!(
            folders,
            vec![comps(&["Archive", "2023"]), comps(&["INBOX"])]
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn does_not_follow_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        Maildir::new(root.path().join("INBOX")).create().unwrap();
        Maildir::new(outside.path().join("Elsewhere"))
            .create()
            .unwrap();
        std::os::unix::fs::symlink(outside.path().join("Elsewhere"), root.path().join("Link"))
            .unwrap();
        std::os::unix::fs::symlink(root.path().join("INBOX"), root.path().join("Alias")).unwrap();
        std::os::unix::fs::symlink(root.path(), root.path().join("Loop")).unwrap();

        let (folders, warnings) = discover_folders(root.path(), Layout::Verbatim).unwrap();
        assert_eq!(folders, vec![comps(&["INBOX"])]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }

    #[test]
    fn warns_about_unusable_names_and_a_maildir_root() {
        use std::os::unix::ffi::OsStrExt;
        let root = tempfile::tempdir().unwrap();
        Maildir::new(root.path()).create().unwrap();
        let bad = root.path().join(std::ffi::OsStr::from_bytes(b"bad\xff"));
        Maildir::new(&bad).create().unwrap();
        Maildir::new(root.path().join("INBOX")).create().unwrap();
        Maildir::new(root.path().join("Ctl\x01")).create().unwrap();
        Maildir::new(root.path().join("INBOX/cur/x"))
            .create()
            .unwrap();

        let (folders, warnings) = discover_folders(root.path(), Layout::Verbatim).unwrap();
        assert_eq!(folders, vec![comps(&["INBOX"])]);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("control character")));
        assert!(warnings.iter().any(|w| w.contains("not UTF-8")));
        assert!(warnings
            .iter()
            .any(|w| w.contains("root is itself a Maildir")));
    }
}
