//! Placeholders replaced by their whole messages: those asked for with
//! `imapdir fetch`, and those flagged locally since the last sync (a
//! flag set in the mail reader is the way to ask from there).
//!
//! A flagged placeholder is recorded as asked for before anything is
//! downloaded, so an upgrade that fails is tried again at the next sync.

use std::collections::HashSet;

use crate::config::Account;
use crate::maildir::placeholder::placeholder_size;
use crate::maildir::Maildir;
use crate::model::{Flags, Pair, Uid};
use crate::state::{FolderState, Placeholder, StateDb};

use super::super::apply::{Applier, PlaceholderRule};
use super::super::approval::shell_word;
use super::super::plan::Plan;
use super::super::SyncOptions;

/// The placeholders of a folder this sync replaces by whole messages.
#[derive(Debug, Default)]
pub struct Upgrades {
    /// UIDs to download whole.
    uids: Vec<Uid>,
    /// Every placeholder of the folder.
    placeholders: HashSet<Uid>,
}

/// The rule for new downloads, from `max_message_size`.
pub fn rule(account: &Account, display_name: &str) -> Option<PlaceholderRule> {
    account
        .max_message_size_of(display_name)
        .map(|above| PlaceholderRule {
            above,
            fetch_command: format!(
                "imapdir fetch {} {}",
                shell_word(&account.name),
                shell_word(display_name)
            ),
        })
}

/// The placeholders to download whole: asked for, or flagged locally.
/// `placeholders_made`: the account makes placeholders, so a flagged file
/// the state does not know for one is worth a look.
pub fn wanted(
    db: &mut StateDb,
    maildir: &Maildir,
    placeholders_made: bool,
    folder_state: Option<&FolderState>,
    plan: &Plan,
    pairs: &[Pair],
    options: &SyncOptions,
) -> anyhow::Result<Upgrades> {
    let Some(f) = folder_state else {
        return Ok(Upgrades::default());
    };
    let mut recorded = db.placeholders(f.id)?;
    let flagged_here: HashSet<Uid> = plan
        .flag_changes
        .iter()
        .filter(|c| c.local.flags.contains(Flags::FLAGGED))
        .map(|c| c.uid)
        .collect();
    if recorded.is_empty() && (flagged_here.is_empty() || !placeholders_made) {
        return Ok(Upgrades::default());
    }
    // Flagged since the last sync: the recorded flags lack \Flagged.
    let newly_flagged: HashSet<Uid> = pairs
        .iter()
        .filter(|p| flagged_here.contains(&p.uid) && !p.flags.contains(Flags::FLAGGED))
        .map(|p| p.uid)
        .collect();
    let mut flagged = Vec::new();
    let mut found = Vec::new();
    for c in plan
        .flag_changes
        .iter()
        .filter(|c| newly_flagged.contains(&c.uid))
    {
        if recorded.iter().any(|p| p.uid == c.uid) {
            flagged.push(c.uid);
            continue;
        }
        if !placeholders_made {
            continue;
        }
        // A placeholder the state does not know (it was lost and rebuilt):
        // its mark says what it is.
        let size = maildir
            .open(&c.local)
            .and_then(|mut file| placeholder_size(&mut file));
        if let Ok(Some(size)) = size {
            found.push((c.uid, size));
            flagged.push(c.uid);
        }
    }
    if !options.dry_run {
        if !found.is_empty() {
            db.add_placeholders(f.id, &found)?;
        }
        if !flagged.is_empty() {
            db.request_fetch(f.id, &flagged)?;
        }
    }
    recorded.extend(found.iter().map(|&(uid, size)| Placeholder {
        uid,
        size,
        requested: false,
    }));
    if recorded.is_empty() {
        return Ok(Upgrades::default());
    }
    let placeholders: HashSet<Uid> = recorded.iter().map(|p| p.uid).collect();
    let deleted = deleted_uids(plan);
    let mut uids: Vec<Uid> = recorded
        .iter()
        .filter(|p| p.requested)
        .map(|p| p.uid)
        .chain(flagged)
        .filter(|u| !deleted.contains(u))
        .collect();
    uids.sort_unstable();
    uids.dedup();
    if !options.direction.pull {
        // Nothing comes down in a push-only run; the requests wait.
        uids.clear();
    }
    Ok(Upgrades { uids, placeholders })
}

fn deleted_uids(plan: &Plan) -> HashSet<Uid> {
    plan.local_deletions
        .iter()
        .map(|(u, _)| *u)
        .chain(plan.remote_deletions.iter().copied())
        .chain(plan.forgotten.iter().copied())
        .collect()
}

/// The placeholders whose pairs this plan deletes, to forget with them.
pub fn gone(plan: &Plan, upgrades: &Upgrades) -> Vec<Uid> {
    if upgrades.placeholders.is_empty() {
        return Vec::new();
    }
    deleted_uids(plan)
        .into_iter()
        .filter(|u| upgrades.placeholders.contains(u))
        .collect()
}

impl Upgrades {
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }

    pub fn len(&self) -> usize {
        self.uids.len()
    }

    /// A dry run's lines.
    pub fn describe(&self) -> Vec<String> {
        self.uids
            .iter()
            .map(|u| format!("download uid {u} whole, in place of its placeholder"))
            .collect()
    }

    /// Forgets the deleted placeholders and downloads the wanted ones.
    pub fn apply(&self, applier: &mut Applier<'_>, gone: &[Uid]) -> anyhow::Result<()> {
        if !gone.is_empty() {
            applier.forget_placeholders(gone)?;
        }
        if !self.uids.is_empty() {
            applier.upgrade_placeholders(&self.uids)?;
        }
        Ok(())
    }
}
