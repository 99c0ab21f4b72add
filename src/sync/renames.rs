//! Folders renamed on either side, recognised before anything moves, so a
//! rename costs one RENAME or one directory rename instead of every
//! message downloaded or uploaded again.
//!
//! On the server: a folder synced before is gone from the list, and a
//! folder new to the state has its UIDVALIDITY (Dovecot and most servers
//! keep it, with the UIDs, on RENAME). The match must be the only one both
//! ways, and a sample of the recorded pairs must be the same messages there
//! (Message-ID and size), since UIDVALIDITY alone is only a number. Locally:
//! a synced folder's directory is gone and a directory new to the state
//! holds its recorded files. Whatever is not certain stays what it was
//! before: a folder gone from one side is kept, never deleted.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;

use crate::folders::{FolderJob, FolderList};
use crate::imap::{Listing, Session, UidSet};
use crate::maildir::{crlf_size, move_folder, read_message_id, Maildir};
use crate::model::{Layout, Pair, UidValidity};
use crate::report::Reporter;
use crate::state::{FolderState, StateDb};

/// How many recorded pairs are compared with the server's messages.
const SAMPLE: usize = 8;

/// Gone and new folders compared by content in one run, at most.
const MAX_CONTENT_CANDIDATES: usize = 16;

/// A rename found, described for the log and the dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderRename {
    pub folder_id: i64,
    /// The state's name before, and the server's name after.
    pub from: String,
    pub to: String,
    pub from_local_name: Vec<String>,
    pub to_local_name: Vec<String>,
    pub from_path: std::path::PathBuf,
    pub to_path: std::path::PathBuf,
    /// Renamed on the server (so the directory follows), or locally (so
    /// the server folder follows).
    pub on_server: bool,
    pub display_from: String,
    pub display_to: String,
}

impl FolderRename {
    fn new(
        row: &FolderState,
        from_local_name: &[String],
        from_path: &std::path::Path,
        display_from: &str,
        to: &FolderJob,
        on_server: bool,
    ) -> FolderRename {
        FolderRename {
            folder_id: row.id,
            from: row.name.clone(),
            to: to.remote_name.clone(),
            from_local_name: from_local_name.to_vec(),
            to_local_name: to.local_name.clone(),
            from_path: from_path.to_path_buf(),
            to_path: to.local_path.clone(),
            on_server,
            display_from: display_from.to_string(),
            display_to: to.display_name.clone(),
        }
    }

    pub fn describe(&self) -> String {
        if self.on_server {
            format!(
                "folder {} renamed on the server to {}: rename {} to {}",
                self.display_from,
                self.display_to,
                self.from_path.display(),
                self.to_path.display()
            )
        } else {
            format!(
                "folder {} renamed locally to {}: rename it on the server",
                self.display_from, self.display_to
            )
        }
    }
}

/// Finds the renames of this run, each checked.
pub fn find(
    session: &mut Session,
    state: &StateDb,
    stored: &[FolderState],
    list: &FolderList,
    listing: &Listing,
) -> anyhow::Result<Vec<FolderRename>> {
    let by_name: BTreeMap<&str, &FolderState> =
        stored.iter().map(|f| (f.name.as_str(), f)).collect();
    let mut found = Vec::new();
    found.extend(server_renames(session, state, &by_name, list, listing)?);
    let local = local_renames(state, &by_name, list)?;
    // A child of a folder renamed locally is renamed with it on the server.
    let below = |r: &FolderRename| {
        local.iter().any(|parent| {
            r.from_local_name.len() > parent.from_local_name.len()
                && r.from_local_name.starts_with(&parent.from_local_name)
        })
    };
    let parents: Vec<FolderRename> = local.iter().filter(|r| !below(r)).cloned().collect();
    found.extend(parents);
    Ok(found)
}

fn server_renames(
    session: &mut Session,
    state: &StateDb,
    by_name: &BTreeMap<&str, &FolderState>,
    list: &FolderList,
    listing: &Listing,
) -> anyhow::Result<Vec<FolderRename>> {
    let new_on_server: Vec<&FolderJob> = list
        .jobs
        .iter()
        .filter(|j| j.on_server && !j.in_state)
        .collect();
    if list.gone.is_empty() || new_on_server.is_empty() {
        return Ok(Vec::new());
    }
    // UIDVALIDITY of each new folder: from the list, else one STATUS each.
    let mut validity: BTreeMap<&str, Option<UidValidity>> = BTreeMap::new();
    for job in &new_on_server {
        let known = listing
            .statuses
            .get(&job.remote_name)
            .and_then(|s| s.uidvalidity);
        let v = match known {
            Some(v) => Some(v),
            None => {
                session
                    .status(&job.remote_name)
                    .with_context(|| format!("cannot read the status of {}", job.display_name))?
                    .uidvalidity
            }
        };
        validity.insert(job.remote_name.as_str(), v);
    }
    let mut matches: Vec<(&crate::folders::GoneFolder, &FolderState, &FolderJob)> = Vec::new();
    for gone in &list.gone {
        let Some(row) = by_name.get(gone.remote_name.as_str()) else {
            continue;
        };
        let same: Vec<&&FolderJob> = new_on_server
            .iter()
            .filter(|j| validity[j.remote_name.as_str()] == Some(row.uidvalidity))
            .collect();
        if let [job] = same.as_slice() {
            matches.push((gone, *row, **job));
        }
    }
    let matches = only_matches(matches);
    let mut found = Vec::new();
    for (gone, row, job) in matches {
        // A run cut short after the directory moved left the files there.
        let files = if gone.on_disk {
            &gone.local_path
        } else {
            &job.local_path
        };
        if !same_messages(session, state, row, files, &job.remote_name)? {
            continue;
        }
        found.push(FolderRename::new(
            row,
            &gone.local_name,
            &gone.local_path,
            &gone.display_name,
            job,
            true,
        ));
    }
    found.extend(renames_with_new_uidvalidity(
        session,
        state,
        by_name,
        list,
        &new_on_server,
        &found,
    )?);
    // Parents before children: a parent's directory carries its children.
    found.sort_by_key(|r| r.from_path.components().count());
    Ok(found)
}

/// Courier-IMAP gives a renamed folder a new UIDVALIDITY: a folder gone
/// from the list and a new one are the same folder when every sampled
/// recorded message (by Message-ID) is in the new one, and no other pair
/// of them matches so. The folder's sync then re-pairs its messages by
/// Message-ID and size, as after any UIDVALIDITY change.
fn renames_with_new_uidvalidity(
    session: &mut Session,
    state: &StateDb,
    by_name: &BTreeMap<&str, &FolderState>,
    list: &FolderList,
    new_on_server: &[&FolderJob],
    matched: &[FolderRename],
) -> anyhow::Result<Vec<FolderRename>> {
    let gone: Vec<_> = list
        .gone
        .iter()
        .filter(|g| !matched.iter().any(|r| r.from == g.remote_name))
        .collect();
    let new: Vec<&&FolderJob> = new_on_server
        .iter()
        .filter(|j| !matched.iter().any(|r| r.to == j.remote_name))
        .collect();
    // Each candidate costs a few searches; a reorganisation of many
    // folders at once is left to copying, which loses nothing.
    if gone.is_empty() || new.is_empty() || gone.len() * new.len() > MAX_CONTENT_CANDIDATES {
        return Ok(Vec::new());
    }
    let mut matches = Vec::new();
    for g in &gone {
        let Some(row) = by_name.get(g.remote_name.as_str()) else {
            continue;
        };
        if !g.on_disk {
            continue;
        }
        let ids = sampled_message_ids(state, row, &g.local_path)?;
        if ids.is_empty() {
            continue;
        }
        let mut holding = Vec::new();
        for job in &new {
            session
                .examine(&job.remote_name)
                .with_context(|| format!("cannot open {} on the server", job.display_name))?;
            let mut all = true;
            for id in &ids {
                if session.uid_search_message_id(id)?.is_empty() {
                    all = false;
                    break;
                }
            }
            session.close().ok();
            if all {
                holding.push(**job);
            }
        }
        if let [job] = holding.as_slice() {
            matches.push((*g, *row, *job));
        }
    }
    let matches = only_matches(matches);
    Ok(matches
        .into_iter()
        .map(|(gone, row, job)| {
            FolderRename::new(
                row,
                &gone.local_name,
                &gone.local_path,
                &gone.display_name,
                job,
                true,
            )
        })
        .collect())
}

/// Message-IDs of a sample of a folder's recorded messages, read from
/// their local files.
fn sampled_message_ids(
    state: &StateDb,
    row: &FolderState,
    local: &std::path::Path,
) -> anyhow::Result<Vec<String>> {
    let pairs = state.pairs(row.id)?;
    let step = pairs.len().div_ceil(SAMPLE).max(1);
    let maildir = Maildir::new(local);
    let mut ids = Vec::new();
    for pair in pairs.iter().step_by(step).take(SAMPLE) {
        if let Some(msg) = maildir.find_recorded(&pair.local_base, pair.flags)? {
            if let Some(id) = read_message_id(&mut maildir.open(&msg)?)? {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// The matches whose target no other match claims too: a rename must be
/// the only candidate both ways.
fn only_matches<'a, G>(
    matches: Vec<(G, &'a FolderState, &'a FolderJob)>,
) -> Vec<(G, &'a FolderState, &'a FolderJob)> {
    let mut claims: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, job) in &matches {
        *claims.entry(job.remote_name.as_str()).or_default() += 1;
    }
    let unique: BTreeSet<String> = claims
        .into_iter()
        .filter(|(_, n)| *n == 1)
        .map(|(name, _)| name.to_string())
        .collect();
    matches
        .into_iter()
        .filter(|(_, _, job)| unique.contains(&job.remote_name))
        .collect()
}

/// Whether the server folder `name` holds the messages recorded for `row`
/// under the same UIDs: a sample of them, by Message-ID and size.
fn same_messages(
    session: &mut Session,
    state: &StateDb,
    row: &FolderState,
    local: &std::path::Path,
    name: &str,
) -> anyhow::Result<bool> {
    let pairs = state.pairs(row.id)?;
    if pairs.is_empty() {
        // Nothing to compare: only an empty folder is taken for it.
        return Ok(session.status(name)?.messages == Some(0));
    }
    let step = pairs.len().div_ceil(SAMPLE).max(1);
    let sample: Vec<&Pair> = pairs.iter().step_by(step).take(SAMPLE).collect();
    let maildir = Maildir::new(local);
    let mut local_keys = BTreeMap::new();
    for pair in &sample {
        let Some(msg) = maildir.find_recorded(&pair.local_base, pair.flags)? else {
            continue;
        };
        let mut file = maildir.open(&msg)?;
        let id = read_message_id(&mut file)?;
        use std::io::Seek;
        file.rewind()?;
        local_keys.insert(pair.uid, (id, crlf_size(&mut file)?));
    }
    if local_keys.is_empty() {
        return Ok(false);
    }
    session
        .examine(name)
        .with_context(|| format!("cannot open {name} on the server"))?;
    let uids: Vec<_> = local_keys.keys().copied().collect();
    let mut agreeing = 0usize;
    let mut differing = 0usize;
    for set in UidSet::covering(&uids) {
        session
            .uid_fetch_headers(&set, &mut |h| {
                if let Some((id, size)) = local_keys.get(&h.uid) {
                    if *id == h.message_id && *size == u64::from(h.size) {
                        agreeing += 1;
                    } else {
                        differing += 1;
                    }
                }
            })
            .context("cannot fetch Message-IDs")?;
    }
    session.close().ok();
    Ok(agreeing > 0 && differing == 0)
}

fn local_renames(
    state: &StateDb,
    by_name: &BTreeMap<&str, &FolderState>,
    list: &FolderList,
) -> anyhow::Result<Vec<FolderRename>> {
    let missing: Vec<&FolderJob> = list
        .jobs
        .iter()
        .filter(|j| j.in_state && j.on_server && !j.on_disk)
        .collect();
    let new_local: Vec<&FolderJob> = list
        .jobs
        .iter()
        .filter(|j| !j.on_server && !j.in_state)
        .collect();
    if missing.is_empty() || new_local.is_empty() {
        return Ok(Vec::new());
    }
    let mut files: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for job in &new_local {
        let mut bases = BTreeSet::new();
        Maildir::new(&job.local_path).scan(&mut |m| {
            bases.insert(m.base);
        })?;
        files.insert(job.remote_name.as_str(), bases);
    }
    let mut matches = Vec::new();
    for gone in &missing {
        let Some(row) = by_name.get(gone.remote_name.as_str()) else {
            continue;
        };
        let recorded: BTreeSet<String> = state
            .pairs(row.id)?
            .into_iter()
            .map(|p| p.local_base)
            .collect();
        let holding: Vec<&&FolderJob> = new_local
            .iter()
            .filter(|d| {
                let here = &files[d.remote_name.as_str()];
                let common = here.intersection(&recorded).count();
                common > 0 && 2 * common >= here.len().min(recorded.len())
            })
            .collect();
        if let [target] = holding.as_slice() {
            matches.push((*gone, *row, **target));
        }
    }
    let matches = only_matches(matches);
    Ok(matches
        .into_iter()
        .map(|(gone, row, job)| {
            FolderRename::new(
                row,
                &gone.local_name,
                &gone.local_path,
                &gone.display_name,
                job,
                false,
            )
        })
        .collect())
}

/// Carries out the renames: the directory or the server folder follows,
/// then the state records the new names. Each step is safe to repeat: a
/// run cut off between them finds the rename half done and finishes it.
pub fn apply(
    session: &mut Session,
    state: &StateDb,
    renames: &[FolderRename],
    delimiter: Option<char>,
    layout: Layout,
    reporter: &Reporter,
    account: &str,
) -> anyhow::Result<()> {
    for rename in renames {
        if rename.on_server {
            match (rename.from_path.exists(), rename.to_path.exists()) {
                (true, false) => {
                    move_folder(&rename.from_path, &rename.to_path).with_context(|| {
                        format!(
                            "cannot rename {} to {}",
                            rename.from_path.display(),
                            rename.to_path.display()
                        )
                    })?;
                }
                // Moved by a run cut short before it recorded the rename.
                (false, true) => {}
                (true, true) => {
                    reporter.warn(format!(
                        "{account}: not renaming {} to {}: that name is taken",
                        rename.from_path.display(),
                        rename.to_path.display()
                    ));
                    continue;
                }
                (false, false) => {
                    reporter.warn(format!(
                        "{account}: folder {} was renamed on the server to {}, and its local copy {} is gone",
                        rename.display_from,
                        rename.display_to,
                        rename.from_path.display()
                    ));
                    continue;
                }
            }
        } else {
            session
                .rename(&rename.from, &rename.to)
                .with_context(|| format!("cannot rename {} on the server", rename.display_from))?;
            if let Err(e) = session.subscribe(&rename.to) {
                reporter.debug(format!("{account}: not subscribed to {}: {e}", rename.to));
            }
        }
        state.rename_folder(
            rename.folder_id,
            &rename.to,
            &rename.to_local_name.join("/"),
        )?;
        if !rename.on_server {
            // The server renamed the children with it; the state follows.
            if let Some(d) = delimiter {
                rename_children(state, rename, d, layout)?;
            }
        }
        reporter.info(format!("{account}: {}", rename.describe()));
    }
    Ok(())
}

/// State rows of a folder's children after a RENAME: their server names
/// under the new name, and, in nested directories (where the user's move
/// carried them along), their local names too.
fn rename_children(
    state: &StateDb,
    rename: &FolderRename,
    delimiter: char,
    layout: Layout,
) -> anyhow::Result<()> {
    let old_prefix = format!("{}{delimiter}", rename.from);
    for child in state.folders()? {
        let Some(rest) = child.name.strip_prefix(&old_prefix) else {
            continue;
        };
        let name = format!("{}{delimiter}{rest}", rename.to);
        let mut local: Vec<String> = child
            .local_name
            .as_deref()
            .unwrap_or_default()
            .split('/')
            .map(str::to_string)
            .collect();
        if layout == Layout::Verbatim && local.starts_with(&rename.from_local_name) {
            let below = local.split_off(rename.from_local_name.len());
            local = rename.to_local_name.clone();
            local.extend(below);
        }
        state.rename_folder(child.id, &name, &local.join("/"))?;
    }
    Ok(())
}
