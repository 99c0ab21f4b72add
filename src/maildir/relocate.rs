//! Moving a whole Maildir folder to another place under the root, for a
//! change of layout: one rename where it can be, never over anything that
//! exists, and durable before the next move.

use std::fs;
use std::io;
use std::path::Path;

const SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

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
        // Into a directory of its own, or out of one: the three subdirs.
        for sub in SUBDIRS {
            if to.join(sub).exists() {
                return Err(taken(&to.join(sub)));
            }
        }
        fs::create_dir_all(to)?;
        for sub in SUBDIRS {
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

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::Maildir;

    #[test]
    fn moves_into_and_out_of_the_root_and_refuses_what_exists() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        Maildir::new(r.join("INBOX")).create().unwrap();
        fs::write(r.join("INBOX/cur/1,U=1:2,S"), "x").unwrap();
        Maildir::new(r.join("Projects/Plans")).create().unwrap();

        move_folder(&r.join("Projects/Plans"), &r.join(".Projects.Plans")).unwrap();
        assert!(r.join(".Projects.Plans/cur").is_dir());
        assert!(!r.join("Projects").exists(), "the empty parent is gone");
        move_folder(&r.join("INBOX"), r).unwrap();
        assert!(r.join("cur/1,U=1:2,S").is_file());
        assert!(!r.join("INBOX").exists());

        Maildir::new(r.join("Taken")).create().unwrap();
        let err = move_folder(&r.join(".Projects.Plans"), &r.join("Taken")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        move_folder(r, &r.join("INBOX")).unwrap();
        assert!(r.join("INBOX/cur/1,U=1:2,S").is_file());
        assert!(!r.join("cur").exists());
    }
}
