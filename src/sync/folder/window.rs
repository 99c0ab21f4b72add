//! The window stage: the downloads a date and count window holds back.
//!
//! Only downloads are held back. Pairs keep syncing whether their message
//! is inside or not, local files are uploaded whatever their date, and a
//! message outside the window is recorded as kept out, so that its missing
//! local copy is never taken for a deletion.
//!
//! The server says what is inside (one `UID SEARCH` per folder with
//! downloads to decide; for a window of dates alone, sent with the SELECT
//! when the status shows new messages). A message kept out by the same window at an
//! earlier sync stays out (a date window only moves forward, and the
//! newest N only move up), so a folder whose only candidates are those
//! costs no SEARCH.

use std::collections::HashSet;

use anyhow::Context;

use crate::imap::MailboxInfo;
use crate::model::{today, Uid};
use crate::state::{FolderState, StateDb};

use super::super::plan::Plan;
use super::super::{LazySession, SyncOptions};
use super::snapshot::{open_mailbox, Sides};
use super::FolderWork;

/// What the window held back, and how its record changes.
#[derive(Debug, Default)]
pub struct Held {
    /// UIDs now kept out, not recorded so before.
    now_out: Vec<Uid>,
    /// Recorded as kept out, and no longer (downloaded or expunged).
    now_in: Vec<Uid>,
    /// Whether the record changes at all.
    dirty: bool,
    /// How many server messages the window keeps out after this sync.
    pub count: usize,
}

/// Takes out of the plan the downloads outside the window.
#[allow(clippy::too_many_arguments)]
pub fn hold_back(
    session: &mut LazySession<'_>,
    db: &StateDb,
    work: &FolderWork,
    folder_state: Option<&FolderState>,
    plan: &mut Plan,
    sides: &Sides,
    info: &mut Option<MailboxInfo>,
    searched: Option<Vec<Uid>>,
    options: &SyncOptions,
) -> anyhow::Result<Option<Held>> {
    let Some(window) = &work.window else {
        return Ok(None);
    };
    let same_window = !work.window_changed();
    if plan.downloads.is_empty() && sides.vanished.is_empty() && !sides.remote_listed && same_window
    {
        // Nothing new to decide and nothing known gone: the record stands.
        let count = match folder_state {
            Some(f) => db.window_out_count(f.id)?,
            None => 0,
        };
        return Ok(Some(Held {
            count,
            ..Held::default()
        }));
    }
    // UIDs recorded under another UIDVALIDITY name other messages.
    let recorded = match folder_state {
        Some(f) if info.as_ref().is_none_or(|i| i.uidvalidity == f.uidvalidity) => {
            db.window_out(f.id)?
        }
        _ => HashSet::new(),
    };
    let asked = |uid: &Uid| work.window_requested.contains(uid);
    let undecided: Vec<Uid> = plan
        .downloads
        .iter()
        .filter(|r| !window.kept_in_by_flags(r) && !asked(&r.uid))
        .filter(|r| !(same_window && recorded.contains(&r.uid)))
        .map(|r| r.uid)
        .collect();
    let inside: HashSet<Uid> = if undecided.is_empty() {
        HashSet::new()
    } else if let Some(found) = searched {
        // Sent with the SELECT.
        found.into_iter().collect()
    } else {
        if info.is_none() {
            *info = Some(open_mailbox(session.get()?, &work.job, options)?);
        }
        let exists = info.as_ref().map_or(0, |i| i.exists);
        session
            .get()?
            .uid_search(&window.search_criteria(today(), exists))
            .with_context(|| {
                format!(
                    "cannot search {} for the messages inside the window",
                    work.job.display_name
                )
            })?
            .into_iter()
            .collect()
    };
    let mut now_out = Vec::new();
    plan.downloads.retain(|r| {
        let keep = window.kept_in_by_flags(r) || asked(&r.uid) || inside.contains(&r.uid);
        if !keep {
            now_out.push(r.uid);
        }
        keep
    });
    let now_out_set: HashSet<Uid> = now_out.iter().copied().collect();
    let now_in: Vec<Uid> = if sides.remote_listed {
        // The listing named every candidate: what is not out now is in.
        recorded
            .iter()
            .filter(|u| !now_out_set.contains(u))
            .copied()
            .collect()
    } else {
        let downloaded: HashSet<Uid> = plan.downloads.iter().map(|r| r.uid).collect();
        recorded
            .iter()
            .filter(|u| downloaded.contains(u) || sides.vanished.iter().any(|r| r.contains(&u.0)))
            .copied()
            .collect()
    };
    now_out.retain(|u| !recorded.contains(u));
    let count = recorded.len() - now_in.len() + now_out.len();
    Ok(Some(Held {
        dirty: !same_window || !now_out.is_empty() || !now_in.is_empty(),
        now_out,
        now_in,
        count,
    }))
}

/// The dry run's line for what the window keeps out.
pub fn describe(work: &FolderWork, held: Option<&Held>) -> Option<String> {
    let (window, held) = (work.window.as_ref()?, held?);
    (held.count > 0).then(|| {
        format!(
            "leave {} server messages outside the window ({})",
            held.count,
            window.spec()
        )
    })
}

/// Records the window the folder was synced with, once the sync is done:
/// recorded earlier, a crash would leave a widened window's downloads
/// undone with nothing to say they are owed.
pub fn record(
    db: &mut StateDb,
    work: &FolderWork,
    folder_id: i64,
    held: Option<&Held>,
) -> anyhow::Result<()> {
    match (&work.window, held) {
        (Some(window), Some(held)) if held.dirty => {
            db.record_window(folder_id, Some(&window.spec()), &held.now_out, &held.now_in)?;
        }
        (None, _) if work.recorded_window.is_some() => {
            db.record_window(folder_id, None, &[], &[])?;
        }
        _ => {}
    }
    Ok(())
}
