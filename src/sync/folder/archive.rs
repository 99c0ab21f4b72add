//! `archive_folder`: in keep-local mode, the local copies of messages the
//! server expunged leave the synced folder for a local-only one, so the
//! synced folder mirrors the server and the archive holds what it lost.
//!
//! The copy is first recorded as kept (its pair dropped, in one
//! transaction), then moved, then forgotten. A run killed in between
//! leaves a kept record: the file is then still in the folder, where it
//! is never uploaded and the next sync of the folder moves it, or already
//! in the archive, and the record alone is forgotten.

use anyhow::Context;

use crate::config::Account;
use crate::folders::folder_path;
use crate::maildir::{base_without_uid, Maildir};
use crate::model::LocalMessage;
use crate::state::StateDb;

/// The archive folder's Maildir, when the account has one.
pub fn archive_of(account: &Account) -> anyhow::Result<Option<Maildir>> {
    let Some(folder) = &account.archive_folder else {
        return Ok(None);
    };
    let disk: Vec<String> = folder.split('/').map(str::to_string).collect();
    let path = folder_path(&account.maildir, account.folder_rules.layout, &disk)
        .map_err(|e| anyhow::anyhow!("archive_folder {folder:?}: {e}"))?;
    Ok(Some(Maildir::new(path)))
}

/// Moves `files` (local copies the folder keeps alone) and the files of
/// the kept bases `others` from `source` into `archive`, flags and
/// keywords kept, and forgets them in `folder_id`'s records. `others` are
/// looked up with one listing of the folder (a run that trusted the
/// folder's stamp did not read it); one no longer there was moved by a run
/// that stopped before forgetting it. Returns how many files moved.
pub fn sweep(
    db: &mut StateDb,
    folder_id: i64,
    source: &Maildir,
    archive: &Maildir,
    mut files: Vec<LocalMessage>,
    others: Vec<String>,
) -> anyhow::Result<usize> {
    let mut done = Vec::new();
    if !others.is_empty() {
        let mut wanted: std::collections::HashSet<String> = others.into_iter().collect();
        source
            .scan(&mut |m| {
                if wanted.remove(&m.base) {
                    files.push(m);
                }
            })
            .with_context(|| format!("cannot read {}", source.path().display()))?;
        done.extend(wanted);
    }
    if files.is_empty() {
        db.forget_kept_local(folder_id, &done)?;
        return Ok(0);
    }
    archive
        .create()
        .with_context(|| format!("cannot create {}", archive.path().display()))?;
    for msg in &files {
        let flags = archive
            .carry_keywords(msg.flags, source)
            .with_context(|| format!("cannot carry keywords into {}", archive.path().display()))?;
        // Without the UID: it belongs to the folder the file leaves.
        let base = base_without_uid(&msg.base);
        source
            .move_into_as(msg, archive, &base, Some(flags))
            .with_context(|| {
                format!(
                    "cannot move {} into {}",
                    source.file_path(msg).display(),
                    archive.path().display()
                )
            })?;
        done.push(msg.base.clone());
    }
    source.sync_dirs()?;
    archive.sync_dirs()?;
    db.forget_kept_local(folder_id, &done)?;
    Ok(files.len())
}
