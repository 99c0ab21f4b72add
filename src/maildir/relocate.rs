//! Moving a whole Maildir folder to another place under the root, for a
//! change of layout, or into the trash directory when it was deleted on the
//! server: one rename where it can be, never over anything that exists,
//! and durable before the next move.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The directory under the Maildir root where deleted folders wait; hidden,
/// and not a Maildir itself, so no layout reads it as a folder.
pub const TRASH_DIR: &str = ".imapdir-trash";

const SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

/// A folder's own file that moves with its subdirectories: the names of
/// the keyword letters on its files.
const KEYWORDS: &str = super::KEYWORDS_FILE;

/// What moves when a folder's subdirectories move: the three, and its
/// dovecot-keywords where it has one.
fn folder_entries(from: &Path) -> Vec<&'static str> {
    let mut entries = SUBDIRS.to_vec();
    if from.join(KEYWORDS).is_file() {
        entries.push(KEYWORDS);
    }
    entries
}

/// Moves the folder at `from` to `to`. A folder that is the root itself
/// (INBOX in Maildir++), or moves to the root, moves its `cur`, `new` and
/// `tmp`; anything else is one rename of its directory, subfolders and the
/// other tools' files inside included. Refuses when `to` is taken.
pub fn move_folder(from: &Path, to: &Path) -> io::Result<()> {
    let taken = |path: &Path| {
        io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists already", path.display()),
        )
    };
    if to.starts_with(from) || from.starts_with(to) {
        // Into a directory of its own, or out of one: the three subdirs
        // (and the keywords' names).
        let entries = folder_entries(from);
        for sub in &entries {
            if to.join(sub).exists() {
                return Err(taken(&to.join(sub)));
            }
        }
        fs::create_dir_all(to)?;
        for sub in entries {
            fs::rename(from.join(sub), to.join(sub))?;
        }
        sync_dir(to)?;
        sync_dir(from)?;
        if from.starts_with(to) {
            // Empty now, unless it held more than the folder.
            let _ = fs::remove_dir(from);
            sync_dir(to)?;
        }
        return Ok(());
    }
    if to.exists() {
        return Err(taken(to));
    }
    let parent = to.parent().unwrap_or(to);
    fs::create_dir_all(parent)?;
    fs::rename(from, to)?;
    sync_dir(parent)?;
    // A nested directory left empty (`Projects` of `Projects/Plans`) goes.
    if let Some(old_parent) = from.parent() {
        if old_parent != parent {
            if fs::remove_dir(old_parent).is_ok() {
                if let Some(p) = old_parent.parent() {
                    sync_dir(p)?;
                }
            } else {
                sync_dir(old_parent)?;
            }
        }
    }
    Ok(())
}

/// Moves a folder's `cur`, `new` and `tmp` into a new entry of the trash
/// (`<seconds>-<name>`), leaving its subfolders where they are, and removes
/// its directory when nothing else is left in it. Returns the entry.
pub fn trash_folder(root: &Path, folder: &Path, name: &str) -> io::Result<PathBuf> {
    let trash = root.join(TRASH_DIR);
    fs::create_dir_all(&trash)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let label: String = name
        .chars()
        .map(|c| if c == '/' { '.' } else { c })
        .collect();
    let mut entry = trash.join(format!("{now}-{label}"));
    let mut n = 1;
    while entry.exists() {
        entry = trash.join(format!("{now}-{label}-{n}"));
        n += 1;
    }
    fs::create_dir(&entry)?;
    for sub in folder_entries(folder) {
        if folder.join(sub).exists() {
            fs::rename(folder.join(sub), entry.join(sub))?;
        }
    }
    sync_dir(&entry)?;
    sync_dir(folder)?;
    if folder != root && fs::remove_dir(folder).is_ok() {
        if let Some(parent) = folder.parent() {
            sync_dir(parent)?;
        }
    }
    Ok(entry)
}

/// Removes trash entries older than `keep`; returns how many went.
pub fn purge_trash(root: &Path, keep: Duration) -> io::Result<usize> {
    let trash = root.join(TRASH_DIR);
    let Ok(entries) = fs::read_dir(&trash) else {
        return Ok(0);
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(seconds) = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if now.saturating_sub(seconds) > keep.as_secs() && entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::Maildir;

    #[test]
    fn a_trashed_folder_keeps_its_messages_and_leaves_its_children() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        Maildir::new(r.join("Old")).create().unwrap();
        Maildir::new(r.join("Old/Child")).create().unwrap();
        fs::write(r.join("Old/cur/1,U=1:2,S"), "x").unwrap();
        let entry = trash_folder(r, &r.join("Old"), "Old").unwrap();
        assert!(entry.join("cur/1,U=1:2,S").is_file());
        assert!(r.join("Old/Child/cur").is_dir(), "the child stays");
        assert!(!r.join("Old/cur").exists());

        Maildir::new(r.join("Gone")).create().unwrap();
        trash_folder(r, &r.join("Gone"), "Gone").unwrap();
        assert!(!r.join("Gone").exists(), "an emptied directory goes");
        assert_eq!(purge_trash(r, Duration::from_secs(3600)).unwrap(), 0);
        fs::create_dir(r.join(TRASH_DIR).join("1000-Ancient")).unwrap();
        assert_eq!(purge_trash(r, Duration::from_secs(3600)).unwrap(), 1);
        assert!(entry.exists());
    }

    #[test]
    fn moves_into_and_out_of_the_root_and_refuses_what_exists() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        Maildir::new(r.join("INBOX")).create().unwrap();
        fs::write(r.join("INBOX/cur/1,U=1:2,S"), "x").unwrap();
        fs::write(r.join("INBOX/dovecot-keywords"), "0 $Junk\n").unwrap();
        Maildir::new(r.join("Projects/Plans")).create().unwrap();

        move_folder(&r.join("Projects/Plans"), &r.join(".Projects.Plans")).unwrap();
        assert!(r.join(".Projects.Plans/cur").is_dir());
        assert!(!r.join("Projects").exists(), "the empty parent is gone");
        move_folder(&r.join("INBOX"), r).unwrap();
        assert!(r.join("cur/1,U=1:2,S").is_file());
        assert!(r.join("dovecot-keywords").is_file(), "the names go along");
        assert!(!r.join("INBOX").exists());

        Maildir::new(r.join("Taken")).create().unwrap();
        let err = move_folder(&r.join(".Projects.Plans"), &r.join("Taken")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        move_folder(r, &r.join("INBOX")).unwrap();
        assert!(r.join("INBOX/cur/1,U=1:2,S").is_file());
        assert!(r.join("INBOX/dovecot-keywords").is_file());
        assert!(!r.join("cur").exists() && !r.join("dovecot-keywords").exists());
    }
}
