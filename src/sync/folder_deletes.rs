//! A folder deleted on one side, deleted on the other (opt-in:
//! `propagate_folder_deletes`). Leaving is not deleting: a folder is
//! deleted on the other side only if nothing there is unsynced (no message
//! the state has not seen, no flag changed since the last sync), never
//! INBOX, and never more than a few folders in one run without a person's
//! approval (`imapdir approve`, or `--allow-mass-delete` for one run). A
//! local folder goes to a trash directory in the Maildir, not to `rm -rf`;
//! it is removed from there after `deleted_folder_days`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::approval::{self, Change, Objection};
use crate::config::Account;
use crate::folders::FolderList;
use crate::imap::{Session, UidSet};
use crate::maildir::{trash_folder, Maildir};
use crate::model::{Flags, FolderDeletes, Uid};
use crate::state::{FolderState, StateDb};

/// A run deleting more folders than this, and more than a tenth of the
/// account's, needs `--allow-mass-delete`.
pub const ALWAYS_ALLOWED_FOLDER_DELETIONS: usize = 2;

/// One folder to delete on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderDeletion {
    pub folder_id: i64,
    pub remote_name: String,
    pub display_name: String,
    pub local_path: PathBuf,
    /// Deleted on the server (it is gone locally), or locally.
    pub on_server: bool,
}

impl FolderDeletion {
    pub fn describe(&self) -> String {
        if self.on_server {
            format!(
                "delete folder {} on the server (deleted locally)",
                self.display_name
            )
        } else {
            format!(
                "move local folder {} to the trash (deleted on the server)",
                self.local_path.display()
            )
        }
    }
}

/// What this run does about folders gone from one side.
#[derive(Debug, Default)]
pub struct FolderDeletions {
    pub delete: Vec<FolderDeletion>,
    /// Folders not deleted, with why: (folder, reason). They fail: a
    /// synced folder gone locally is not synced, and a refused mass
    /// deletion needs a decision.
    pub kept: Vec<(String, String)>,
    /// Folders gone from the server whose local copy is kept because it
    /// holds changes: warnings, as for any folder gone from the server.
    pub kept_locally: Vec<(String, String)>,
    /// State rows of folders gone from both sides.
    pub forget: Vec<i64>,
}

/// Decides, for folders gone from one side, what the mode allows and the
/// other side's state permits.
pub fn find(
    session: &mut Session,
    state: &StateDb,
    stored: &[FolderState],
    list: &FolderList,
    account: &Account,
    allow_mass_delete: bool,
    dry_run: bool,
) -> anyhow::Result<FolderDeletions> {
    let mode = account.folder_deletes;
    let mut out = FolderDeletions::default();
    if mode == FolderDeletes::None {
        return Ok(out);
    }
    let by_name: BTreeMap<&str, &FolderState> =
        stored.iter().map(|f| (f.name.as_str(), f)).collect();
    if mode.to_server() {
        for job in list
            .jobs
            .iter()
            .filter(|j| j.in_state && j.on_server && !j.on_disk && j.remote_name != "INBOX")
        {
            let Some(row) = by_name.get(job.remote_name.as_str()) else {
                continue;
            };
            match server_changes(session, state, row)? {
                None => out.delete.push(FolderDeletion {
                    folder_id: row.id,
                    remote_name: job.remote_name.clone(),
                    display_name: job.display_name.clone(),
                    local_path: job.local_path.clone(),
                    on_server: true,
                }),
                Some(change) => out.kept.push((
                    job.display_name.clone(),
                    format!(
                        "deleted locally, but not deleted on the server: {change} since the \
                         last sync. Restore {} to sync it, or delete the folder on the server",
                        job.local_path.display()
                    ),
                )),
            }
        }
    }
    for gone in &list.gone {
        let Some(row) = by_name.get(gone.remote_name.as_str()) else {
            continue;
        };
        if !gone.on_disk {
            out.forget.push(row.id);
            continue;
        }
        if !mode.to_local() || gone.remote_name == "INBOX" {
            continue;
        }
        match local_changes(state, row, &gone.local_path)? {
            None => out.delete.push(FolderDeletion {
                folder_id: row.id,
                remote_name: gone.remote_name.clone(),
                display_name: gone.display_name.clone(),
                local_path: gone.local_path.clone(),
                on_server: false,
            }),
            Some(change) => out.kept_locally.push((
                gone.display_name.clone(),
                format!(
                    "folder {} is deleted on the server, but its local copy {} is kept: \
                     {change} since the last sync",
                    gone.display_name,
                    gone.local_path.display()
                ),
            )),
        }
    }
    if !allow_mass_delete {
        refuse_mass_deletion(state, &account.name, stored.len(), &mut out, dry_run)?;
    }
    // Children before their parents, so a parent never goes with them.
    out.delete
        .sort_by_key(|d| std::cmp::Reverse(d.display_name.matches('/').count()));
    Ok(out)
}

impl FolderDeletion {
    fn objection(&self) -> Objection {
        Objection {
            folder: self.remote_name.clone(),
            display: self.display_name.clone(),
            change: Change::FolderDelete {
                on_server: self.on_server,
            },
            summary: self.describe(),
            consequence: "deletes exactly these folders".into(),
        }
    }
}

/// Keeps back the deletions no one approved when there are too many of
/// them: each is recorded for `imapdir approve`, and fails with the command
/// that approves them all.
fn refuse_mass_deletion(
    state: &StateDb,
    account: &str,
    total: usize,
    out: &mut FolderDeletions,
    dry_run: bool,
) -> anyhow::Result<()> {
    let mut unapproved = Vec::new();
    for (i, deletion) in out.delete.iter().enumerate() {
        if !approval::is_approved(state, &deletion.objection())? {
            unapproved.push(i);
        }
    }
    let count = unapproved.len();
    if !is_mass_folder_deletion(count, total) {
        return Ok(());
    }
    // From the back, so each index still points at its deletion.
    let mut refused: Vec<FolderDeletion> = unapproved
        .iter()
        .rev()
        .map(|&i| out.delete.remove(i))
        .collect();
    refused.reverse();
    let names: Vec<&str> = refused.iter().map(|d| d.display_name.as_str()).collect();
    let command = approval::approve_command(account, &names);
    for deletion in &refused {
        if !dry_run {
            approval::record(state, &deletion.objection())?;
        }
        out.kept.push((
            deletion.display_name.clone(),
            format!(
                "refusing to delete {count} of {total} folders in one run ({}); nothing was \
                 deleted. If that is wanted, run `{command}`: the next sync then deletes \
                 exactly these folders, and only those (a different change is refused again)",
                names.join(", "),
            ),
        ));
    }
    Ok(())
}

/// More than a few folders, and more than a tenth of the account.
pub fn is_mass_folder_deletion(count: usize, total: usize) -> bool {
    count > ALWAYS_ALLOWED_FOLDER_DELETIONS && count * 10 > total
}

/// What changed on the server since the last sync, if anything: messages
/// the state has not seen, or flags that differ from the recorded ones.
fn server_changes(
    session: &mut Session,
    state: &StateDb,
    row: &FolderState,
) -> anyhow::Result<Option<String>> {
    let recorded: HashMap<Uid, Flags> = state
        .pairs(row.id)?
        .into_iter()
        .map(|p| (p.uid, p.flags))
        .collect();
    // The folder's dovecot-keywords went with its local directory: the
    // server's keywords get slots of a table of their own, so only how
    // many each message has compares with the record (a swap of one
    // keyword for another goes unseen; any other keyword change is seen).
    session.set_keywords(&row.name, crate::model::Keywords::default());
    let same = |a: Flags, b: Flags| {
        a.intersection(Flags::STANDARD) == b.intersection(Flags::STANDARD)
            && a.keyword_slots().count() == b.keyword_slots().count()
    };
    let info = session
        .examine(&row.name)
        .with_context(|| format!("cannot open {} on the server", row.name));
    let info = match info {
        Ok(info) => info,
        Err(e) => {
            session.take_keywords(&row.name);
            return Err(e);
        }
    };
    if info.uidvalidity != row.uidvalidity {
        session.take_keywords(&row.name);
        return Ok(Some("its UIDVALIDITY changed".into()));
    }
    let (mut new, mut changed) = (0usize, 0usize);
    let listed = if info.exists > 0 {
        session.uid_fetch_meta(&UidSet::all(), None, &mut |m| match recorded.get(&m.uid) {
            None => new += 1,
            Some(flags) if !same(*flags, m.flags) => changed += 1,
            Some(_) => {}
        })
    } else {
        Ok(())
    };
    session.take_keywords(&row.name);
    listed?;
    session.close().ok();
    Ok(describe_changes(new, changed))
}

/// What changed in a local folder since the last sync, if anything.
fn local_changes(
    state: &StateDb,
    row: &FolderState,
    path: &Path,
) -> anyhow::Result<Option<String>> {
    let recorded: HashMap<String, Flags> = state
        .pairs(row.id)?
        .into_iter()
        .map(|p| (p.local_base, p.flags))
        .collect();
    let (mut new, mut changed) = (0usize, 0usize);
    let maildir = Maildir::new(path);
    // Letters dovecot-keywords does not name are not synced: no change.
    let named = maildir.read_keywords()?.named();
    maildir.scan(&mut |m| match recorded.get(&m.base) {
        None => new += 1,
        Some(flags) if *flags != m.flags.intersection(named) => changed += 1,
        Some(_) => {}
    })?;
    Ok(describe_changes(new, changed))
}

fn describe_changes(new: usize, changed: usize) -> Option<String> {
    match (new, changed) {
        (0, 0) => None,
        (n, 0) => Some(format!("{n} messages not synced yet")),
        (0, c) => Some(format!("{c} flag changes not synced yet")),
        (n, c) => Some(format!("{n} messages and {c} flag changes not synced yet")),
    }
}

/// Deletes what [`find`] decided, and forgets the folders gone from both
/// sides. Each deletion is done before its state row goes, so a run cut
/// short finds the folder gone from both sides and forgets it.
pub fn apply(
    session: &mut Session,
    state: &StateDb,
    deletions: &FolderDeletions,
    root: &Path,
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for deletion in &deletions.delete {
        if deletion.on_server {
            session.delete(&deletion.remote_name).with_context(|| {
                format!("cannot delete {} on the server", deletion.display_name)
            })?;
        } else {
            trash_folder(root, &deletion.local_path, &deletion.display_name).with_context(
                || format!("cannot move {} to the trash", deletion.local_path.display()),
            )?;
        }
        state.remove_folder(deletion.folder_id)?;
        approval::done(state, &deletion.remote_name, "folder-delete")?;
        done.push(deletion.describe());
    }
    for id in &deletions.forget {
        state.remove_folder(*id)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_folder_deletions_pass_and_many_need_the_flag() {
        assert!(!is_mass_folder_deletion(2, 5));
        assert!(!is_mass_folder_deletion(3, 40));
        assert!(is_mass_folder_deletion(3, 20));
        assert!(is_mass_folder_deletion(10, 10));
        assert!(!is_mass_folder_deletion(0, 0));
    }

    #[test]
    fn changes_are_named() {
        assert_eq!(describe_changes(0, 0), None);
        assert_eq!(
            describe_changes(2, 1).as_deref(),
            Some("2 messages and 1 flag changes not synced yet")
        );
    }
}
