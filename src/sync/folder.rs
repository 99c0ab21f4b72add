//! One folder's sync: snapshots of both sides and the state, recovery from
//! an earlier crash, the plan, and its application.
//!
//! The remote snapshot costs as little as the server allows: nothing at all
//! when the folder's status matches what the last complete sync recorded
//! (the recorded pairs then are the server's state), only the changes since
//! the recorded modseq with CONDSTORE/QRESYNC, and a full UID/FLAGS listing
//! otherwise.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use anyhow::Context;

use crate::flags::Flags;
use crate::imap::{FolderChanges, MailboxInfo, MailboxStatus, Session};
use crate::import::peer_records::{self, PeerRecords};
use crate::maildir::{settle_ns, DirStamp, DirWitness, LocalMessage, Maildir, WitnessHub};
use crate::report::{Counts, Reporter};
use crate::state::{FolderState, Pair, StateDb};

use super::apply::Applier;
use super::folders::FolderJob;
use super::plan::{plan, Direction, RemoteMessage};
use super::repair;
use super::{LazySession, SyncOptions};

/// What one folder's sync did, or in a dry run would do.
#[derive(Debug, Default)]
pub struct FolderReport {
    pub counts: Counts,
    /// A dry run's actions, one line each, printed in folder order at the end.
    pub planned: Vec<String>,
    /// The stamp this sync's own writes left, not yet settled when the
    /// folder was done: recorded at the end of the run if it has settled
    /// by then and nothing else has touched the folder.
    pub unsettled: Option<UnsettledStamp>,
}

/// A folder's stamp after imapdir's own writes, still under watch.
#[derive(Debug)]
pub struct UnsettledStamp {
    pub folder_id: i64,
    pub witness: DirWitness,
    pub maildir: Maildir,
}

impl UnsettledStamp {
    /// The stamp, if it can be trusted now.
    pub fn trusted(mut self) -> Option<DirStamp> {
        self.witness.trusted(&self.maildir)
    }
}

/// Whether the server's folder is as the last complete sync left it: the
/// same UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, and no APPEND waiting to be
/// confirmed. The recorded pairs are then the server's messages and flags.
fn remote_unchanged(
    stored: &FolderState,
    status: Option<&MailboxStatus>,
    pending_appends: bool,
) -> bool {
    let Some(status) = status else { return false };
    !pending_appends
        && stored.highestmodseq.is_some()
        && status.highestmodseq == stored.highestmodseq
        && status.uidnext.is_some()
        && status.uidnext == stored.uidnext
        && status.uidvalidity == Some(stored.uidvalidity)
}

/// Whether a folder can be skipped without selecting or scanning it: the
/// server is unchanged and `cur/` and `new/` have the recorded mtimes.
pub fn is_unchanged(
    stored: &FolderState,
    status: Option<&MailboxStatus>,
    stamp: Option<DirStamp>,
    pending_appends: bool,
) -> bool {
    remote_unchanged(stored, status, pending_appends)
        && stored.stamp.is_some()
        && stored.stamp == stamp
}

/// Syncs one folder and returns what it did (or, in a dry run, would do).
pub fn sync_folder(
    session: &mut LazySession<'_>,
    db: &mut StateDb,
    job: &FolderJob,
    options: &SyncOptions,
    reporter: &Reporter,
    witnesses: Option<&Arc<WitnessHub>>,
) -> anyhow::Result<FolderReport> {
    let mut counts = Counts::default();
    let mut dry_lines: Vec<String> = Vec::new();
    let maildir = Maildir::new(&job.local_path);

    if !job.on_disk && job.in_state {
        return Err(super::guard::missing_local_folder(&job.local_path));
    }
    if !job.on_server {
        if options.dry_run {
            dry_lines.push(format!("create remote folder {}", job.display_name));
        } else {
            session.get()?.create(&job.remote_name).with_context(|| {
                format!("cannot create folder {} on the server", job.display_name)
            })?;
            reporter.info(format!("{}: created on the server", job.display_name));
        }
        counts.folders_created += 1;
    }
    if !maildir.exists() {
        if options.dry_run {
            dry_lines.push(format!("create local folder {}", job.local_path.display()));
        } else {
            maildir
                .create()
                .with_context(|| format!("cannot create {}", job.local_path.display()))?;
            reporter.info(format!(
                "{}: created {}",
                job.display_name,
                job.local_path.display()
            ));
        }
        if job.on_server {
            counts.folders_created += 1;
        }
    }

    // Watch cur/ and new/ from before they are read: if this sync's own
    // writes are the only changes, the stamp after them is as good as a
    // scan's and the next run need not list the folder again.
    let complete = options.direction == Direction::BOTH;
    let mut witness = match witnesses {
        Some(hub) if complete && !options.dry_run => hub.watch(&maildir),
        _ => None,
    };

    let stored = db.folder(&job.remote_name)?;
    let pending_appends = match &stored {
        Some(f) => !db.pending_appends(f.id)?.is_empty(),
        None => false,
    };
    let remote_unchanged = stored
        .as_ref()
        .is_some_and(|f| remote_unchanged(f, job.status.as_ref(), pending_appends));

    // The server's side and the local side (the recorded pairs and the
    // folder on disk) are independent: when the server is needed, read the
    // local side on another thread while it answers, so neither a big
    // folder's readdir nor its pairs delay the SELECT.
    let needs_server = !remote_unchanged && (job.on_server || !options.dry_run);
    let skipped_before = session.skipped_responses();
    let stored_id = stored.as_ref().map(|f| f.id);
    let read_local = |db: &mut StateDb| -> anyhow::Result<LocalSide> {
        let pairs = match stored_id {
            Some(id) => db.pairs(id)?,
            None => Vec::new(),
        };
        let (local, stamp) = scan_local(job, options, reporter)?;
        Ok(LocalSide {
            pairs,
            local,
            stamp,
        })
    };
    let snapshot = |session: &mut LazySession<'_>| {
        remote_snapshot(
            session,
            job,
            options,
            stored.as_ref(),
            pending_appends,
            remote_unchanged,
        )
    };
    // cur/ and new/ as the last complete sync left them hold exactly the
    // recorded pairs' files: then only the messages the server changed need
    // reading, on both sides, instead of the whole folder.
    let stamp_before = maildir.stamp().ok();
    let local_unchanged = needs_server
        && !pending_appends
        && stored
            .as_ref()
            .is_some_and(|f| f.stamp.is_some() && f.stamp == stamp_before);
    let sides = if local_unchanged {
        let (snapshot, info) = snapshot(session)?;
        let changed = match (&stored, &info) {
            (Some(f), Some(i)) => changed_only(db, &maildir, f, i, &snapshot, stamp_before)?,
            _ => None,
        };
        let sides = match changed {
            Some(sides) => {
                reporter.debug(format!(
                    "{}: the Maildir is as the last sync left it; reading only the {} messages \
                     the server changed",
                    job.display_name,
                    sides.changed_messages()
                ));
                sides
            }
            None => Sides::whole(read_local(db)?, snapshot),
        };
        (sides, info)
    } else if needs_server {
        let (local_side, remote) = std::thread::scope(|scope| {
            let db = &mut *db;
            let local_side = scope.spawn(move || read_local(db));
            let remote = snapshot(session);
            let local_side = local_side
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the local scan panicked")));
            (local_side, remote)
        });
        let (snapshot, info) = remote?;
        (Sides::whole(local_side?, snapshot), info)
    } else {
        let local_side = read_local(db)?;
        let (snapshot, info) = snapshot(session)?;
        (Sides::whole(local_side, snapshot), info)
    };
    let (
        Sides {
            remote,
            pairs: stored_pairs,
            mut local,
            stamp: scan_stamp,
            remote_count,
            local_count,
        },
        mut info,
    ) = sides;

    // A message line the parser could not read is a message missing from
    // the snapshot, which the plan would take for an expunge: stop here.
    if session.skipped_responses() > skipped_before {
        anyhow::bail!(
            "the server sent a response imapdir cannot read while listing the folder \
             (nothing was changed; the next run tries again): {}",
            session
                .last_skipped_response()
                .unwrap_or_else(|| "?".into())
        );
    }

    let uidvalidity = match (&info, &stored) {
        (Some(i), _) => i.uidvalidity,
        (None, Some(f)) => f.uidvalidity,
        (None, None) => 0,
    };
    let folder_state = match stored {
        Some(f) => Some(f),
        None if options.dry_run => None,
        None => Some(db.add_folder(&job.remote_name, uidvalidity)?),
    };
    // Nothing wrote this folder's pairs since they were read: one worker
    // owns the folder, and a new folder has none.
    let mut pairs = stored_pairs;

    // Re-pair by content where UIDs cannot be trusted: the server's
    // UIDVALIDITY changed, or both sides hold mail the state has never seen.
    let mut renamed_locally = false;
    let uidvalidity_changed = info.is_some()
        && folder_state
            .as_ref()
            .is_some_and(|f| f.uidvalidity != uidvalidity);
    let first_meeting = pairs.is_empty() && !remote.is_empty() && !local.is_empty();
    if uidvalidity_changed || first_meeting {
        if uidvalidity_changed {
            reporter.warn(format!(
                "{}: the server's UIDVALIDITY changed; pairing messages by Message-ID and size",
                job.display_name
            ));
        }
        let records = if first_meeting {
            peer_records_of(job, &local, uidvalidity, reporter)
        } else {
            None
        };
        let found = repair::pair_first_meeting(
            session.get()?,
            &maildir,
            &remote,
            &local,
            records.as_ref(),
            reporter,
            &job.display_name,
        )?;
        if first_meeting {
            let described = found.describe(local.len(), remote.len());
            if options.dry_run {
                dry_lines.push(described);
            } else {
                reporter.info(format!("{}: {described}", job.display_name));
            }
            if !options.allow_first_copy {
                let paired = found.by_records + found.by_content.len();
                super::guard::check_first_copy(local.len(), remote.len(), paired)?;
            }
        } else if options.dry_run {
            dry_lines.push(format!(
                "re-pair {} messages by Message-ID and size",
                found.by_content.len()
            ));
        }
        if options.dry_run {
            pairs = found.recorded;
            pairs.extend(found.by_content);
        } else {
            let f = folder_state
                .as_ref()
                .expect("state folder exists outside dry runs");
            pairs = repair::rename_to_new_uids(&maildir, &mut local, found.by_content)?;
            pairs.extend(found.recorded);
            pairs.sort_by_key(|p| p.uid);
            db.replace_pairs(f.id, uidvalidity, &pairs)?;
            renamed_locally = true;
        }
    } else if let (Some(f), false) = (&folder_state, options.dry_run) {
        let recovered = repair::recover_after_crash(
            session,
            db,
            f.id,
            &maildir,
            &remote,
            &mut local,
            &pairs,
            reporter,
            &job.display_name,
        )?;
        if recovered > 0 {
            pairs = db.pairs(f.id)?;
        }
    }

    let plan = plan(&remote, &pairs, &local, options.direction);
    if !options.allow_mass_delete {
        let limit = session.account().max_delete_share;
        super::guard::check_deletions(&plan, remote_count, local_count, limit)?;
    }
    if options.dry_run {
        dry_lines.extend(plan.describe());
        counts += planned_counts(&plan);
        return Ok(FolderReport {
            counts,
            planned: dry_lines,
            unsettled: None,
        });
    }
    for line in plan.describe() {
        reporter.debug(format!("{}: {line}", job.display_name));
    }
    let folder_state = folder_state.expect("state folder exists outside dry runs");

    // Selecting is needed only to change something; an unchanged server
    // with nothing to do costs no round trip at all.
    if info.is_none() && plan.action_count() > 0 {
        info = Some(open_mailbox(session.get()?, job, options)?);
    }

    let progress = reporter.folder(&job.display_name, plan.action_count() as u64);
    let mut done = Counts::default();
    if !plan.is_empty() {
        let mut applier = Applier::new(
            session.get()?,
            db,
            &maildir,
            folder_state.id,
            &job.remote_name,
            &progress,
        )
        .witnessed_by(witness.as_mut());
        let uidnext = info.as_ref().and_then(|i| i.uidnext);
        let applied = applier.apply(plan, uidnext);
        done = applier.counts();
        counts += done;
        if let Err(e) = applied {
            progress.finish("failed");
            return Err(e);
        }
    }
    progress.finish(if done.is_empty() {
        "up to date".to_string()
    } else {
        done.to_string()
    });
    if !done.is_empty() {
        reporter.info(format!("{}: {done}", job.display_name));
    }

    // Remember what the next run compares against, only where it is a
    // complete picture: after a two-way run, the status from before this
    // run's own changes (those then look changed once, harmlessly).
    let (uidnext, modseq) = match (&info, &job.status) {
        (Some(i), _) => (i.uidnext, i.highestmodseq),
        (None, Some(s)) => (s.uidnext, s.highestmodseq),
        (None, None) => (None, None),
    };
    let touched_locally = renamed_locally
        || done.downloaded + done.uploaded + done.flags_pulled + done.deleted_local > 0;
    let mut unsettled = None;
    let stamp = if !touched_locally {
        scan_stamp.filter(|s| complete && settled(s))
    } else if let Some(mut w) = witness.take() {
        w.writes_done(&maildir);
        let trusted = w.trusted(&maildir);
        if trusted.is_none() {
            // Perhaps trusted once the run's other folders are done.
            unsettled = Some(UnsettledStamp {
                folder_id: folder_state.id,
                witness: w,
                maildir: maildir.clone(),
            });
        }
        trusted
    } else {
        None
    };
    db.mark_folder_synced(folder_state.id, uidnext, modseq.filter(|_| complete), stamp)?;
    Ok(FolderReport {
        counts,
        planned: Vec::new(),
        unsettled,
    })
}

/// The folder's messages on disk, and the directories' stamp taken before
/// reading them. Also clears crash leftovers out of `tmp/`.
fn scan_local(
    job: &FolderJob,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<LocalMessage>, Option<DirStamp>)> {
    let maildir = Maildir::new(&job.local_path);
    if !maildir.exists() {
        return Ok((Vec::new(), None));
    }
    if !options.dry_run {
        // Leftovers of a crash, old enough that no delivery still writes them.
        if let Ok(n) = maildir.clean_tmp() {
            if n > 0 {
                reporter.info(format!(
                    "{}: removed {n} stale files from tmp/",
                    job.display_name
                ));
            }
        }
    }
    let mut local = Vec::new();
    let stamp = maildir
        .scan(&mut |m| local.push(m))
        .with_context(|| format!("cannot scan {}", job.local_path.display()))?;
    Ok((local, Some(stamp)))
}

/// What the local side holds: the recorded pairs, the messages on disk,
/// and the directories' stamp taken before reading them.
struct LocalSide {
    pairs: Vec<Pair>,
    local: Vec<LocalMessage>,
    stamp: Option<DirStamp>,
}

/// Both sides and the recorded pairs, as far as the plan needs them.
struct Sides {
    remote: Vec<RemoteMessage>,
    pairs: Vec<Pair>,
    local: Vec<LocalMessage>,
    /// The directories' stamp taken before reading them.
    stamp: Option<DirStamp>,
    /// Each side's size, for the mass-deletion guard: the whole folder,
    /// even where only the changed messages were read.
    remote_count: usize,
    local_count: usize,
}

impl Sides {
    /// How many messages these sides hold: the changed ones, when only
    /// those were read.
    fn changed_messages(&self) -> usize {
        let mut uids: Vec<u32> = self.remote.iter().map(|r| r.uid).collect();
        uids.extend(self.pairs.iter().map(|p| p.uid));
        uids.sort_unstable();
        uids.dedup();
        uids.len()
    }

    /// Every message of the folder on both sides.
    fn whole(local_side: LocalSide, snapshot: RemoteSnapshot) -> Sides {
        let LocalSide {
            pairs,
            local,
            stamp,
        } = local_side;
        let remote = match snapshot {
            RemoteSnapshot::Unchanged => remote_from_pairs(&pairs),
            RemoteSnapshot::Changes(changes) => apply_remote_changes(&pairs, changes),
            RemoteSnapshot::Listed(remote) => remote,
        };
        Sides {
            remote_count: remote.len(),
            local_count: local.len(),
            remote,
            pairs,
            local,
            stamp,
        }
    }
}

/// The sides of a folder whose directories are as the last complete sync
/// left them, reduced to the messages the server changed since: those
/// changes, the pairs they touch, and those pairs' files, found by name.
/// Every other pair is the same on both sides and needs no action, so the
/// plan over these is the plan over the whole folder, at the cost of the
/// changes rather than of the folder.
///
/// `None` where that shortcut does not hold and the whole folder must be
/// read: the server reset its UIDs, or a recorded file is not where its
/// name says (renamed with letters imapdir does not sync, say).
fn changed_only(
    db: &StateDb,
    maildir: &Maildir,
    stored: &FolderState,
    info: &MailboxInfo,
    snapshot: &RemoteSnapshot,
    stamp: Option<DirStamp>,
) -> anyhow::Result<Option<Sides>> {
    if info.uidvalidity != stored.uidvalidity {
        return Ok(None);
    }
    let (remote, pairs, local_count) = match snapshot {
        RemoteSnapshot::Unchanged => return Ok(None),
        RemoteSnapshot::Changes(changes) => {
            let mut by_uid = BTreeMap::new();
            merge_changes(&mut by_uid, changes);
            let uids: Vec<u32> = by_uid.keys().copied().collect();
            let pairs = db.pairs_among(stored.id, &uids, &changes.vanished)?;
            // A pair whose message did not change needs nothing.
            let remote: Vec<RemoteMessage> = by_uid.into_values().collect();
            (remote, pairs, db.pair_count(stored.id)?)
        }
        RemoteSnapshot::Listed(listed) => {
            let all = db.pairs(stored.id)?;
            let listed_by_uid: HashMap<u32, &RemoteMessage> =
                listed.iter().map(|r| (r.uid, r)).collect();
            let paired: HashMap<u32, Flags> = all.iter().map(|p| (p.uid, p.flags)).collect();
            let remote: Vec<RemoteMessage> = listed
                .iter()
                .filter(|r| paired.get(&r.uid) != Some(&r.flags))
                .copied()
                .collect();
            let count = all.len();
            let pairs: Vec<Pair> = all
                .into_iter()
                .filter(|p| listed_by_uid.get(&p.uid).is_none_or(|r| r.flags != p.flags))
                .collect();
            (remote, pairs, count)
        }
    };
    let mut local = Vec::with_capacity(pairs.len());
    for pair in &pairs {
        match maildir.find_recorded(&pair.local_base, pair.flags)? {
            Some(found) => local.push(found),
            None => return Ok(None),
        }
    }
    Ok(Some(Sides {
        remote,
        pairs,
        local,
        stamp,
        remote_count: info.exists as usize,
        local_count,
    }))
}

/// The server's messages and flags, in the form it was cheapest to get.
enum RemoteSnapshot {
    /// As recorded: the server's status is unchanged.
    Unchanged,
    /// As recorded, with these changes (QRESYNC).
    Changes(FolderChanges),
    /// Every message, listed.
    Listed(Vec<RemoteMessage>),
}

/// The server's messages and flags, as cheaply as the server allows: none
/// when its status is unchanged, only what changed since the recorded
/// HIGHESTMODSEQ with QRESYNC, else every UID and its flags. Also the
/// SELECT response when the folder was selected.
fn remote_snapshot(
    session: &mut LazySession<'_>,
    job: &FolderJob,
    options: &SyncOptions,
    stored: Option<&FolderState>,
    pending_appends: bool,
    remote_unchanged: bool,
) -> anyhow::Result<(RemoteSnapshot, Option<MailboxInfo>)> {
    if !job.on_server && options.dry_run {
        return Ok((RemoteSnapshot::Listed(Vec::new()), None));
    }
    if remote_unchanged {
        return Ok((RemoteSnapshot::Unchanged, None));
    }
    // With QRESYNC, the SELECT and the changes since the last sync go out
    // together: one round trip for a changed folder.
    let since = stored.and_then(|f| Some((f.uidvalidity, f.highestmodseq?)));
    if let (Some((uidvalidity, modseq)), false, true) = (
        since,
        pending_appends,
        session.get()?.has_capability("QRESYNC"),
    ) {
        let (selected, changes) = session
            .get()?
            .select_with_changes(&job.remote_name, options.dry_run, uidvalidity, modseq)
            .with_context(|| format!("cannot open {} on the server", job.display_name))?;
        let snapshot = match changes {
            Some(changes) => RemoteSnapshot::Changes(changes),
            None if selected.exists > 0 => RemoteSnapshot::Listed(fetch_remote(session.get()?)?),
            None => RemoteSnapshot::Listed(Vec::new()),
        };
        return Ok((snapshot, Some(selected)));
    }
    let selected = open_mailbox(session.get()?, job, options)?;
    let listed = if selected.exists > 0 {
        fetch_remote(session.get()?)?
    } else {
        Vec::new()
    };
    Ok((RemoteSnapshot::Listed(listed), Some(selected)))
}

/// SELECT, or EXAMINE for a dry run.
fn open_mailbox(
    session: &mut Session,
    job: &FolderJob,
    options: &SyncOptions,
) -> anyhow::Result<MailboxInfo> {
    let info = if options.dry_run {
        session.examine(&job.remote_name)
    } else {
        session.select(&job.remote_name)
    };
    info.with_context(|| format!("cannot open {} on the server", job.display_name))
}

/// After a complete sync the recorded flags are the server's flags.
fn remote_from_pairs(pairs: &[Pair]) -> Vec<RemoteMessage> {
    pairs
        .iter()
        .map(|p| RemoteMessage {
            uid: p.uid,
            flags: p.flags,
            size: None,
        })
        .collect()
}

/// Adds or updates the changed messages and drops the expunged ones.
fn merge_changes(by_uid: &mut BTreeMap<u32, RemoteMessage>, changes: &FolderChanges) {
    for m in &changes.changed {
        let entry = by_uid.entry(m.uid).or_insert(RemoteMessage {
            uid: m.uid,
            flags: m.flags,
            size: m.size,
        });
        entry.flags = m.flags;
        entry.size = entry.size.or(m.size);
    }
    for range in &changes.vanished {
        let gone: Vec<u32> = by_uid.range(range.clone()).map(|(&uid, _)| uid).collect();
        for uid in gone {
            by_uid.remove(&uid);
        }
    }
}

/// The recorded pairs, updated with what changed since the last sync and
/// without what was expunged since (QRESYNC).
fn apply_remote_changes(pairs: &[Pair], changes: FolderChanges) -> Vec<RemoteMessage> {
    let mut by_uid: BTreeMap<u32, RemoteMessage> = remote_from_pairs(pairs)
        .into_iter()
        .map(|r| (r.uid, r))
        .collect();
    merge_changes(&mut by_uid, &changes);
    by_uid.into_values().collect()
}

/// Every message's UID, flags and size.
fn fetch_remote(session: &mut Session) -> anyhow::Result<Vec<RemoteMessage>> {
    let mut remote = Vec::new();
    session
        .uid_fetch_meta("1:*", None, &mut |m| {
            remote.push(RemoteMessage {
                uid: m.uid,
                flags: m.flags,
                size: m.size,
            })
        })
        .context("cannot list the folder's messages")?;
    // An unsolicited FETCH (another client changed flags) can repeat a UID;
    // keep the last flags and any size seen.
    remote.sort_by_key(|r| r.uid);
    remote.dedup_by(|later, kept| {
        if later.uid != kept.uid {
            return false;
        }
        kept.flags = later.flags;
        kept.size = kept.size.or(later.size);
        true
    });
    Ok(remote)
}

/// Whether both directory mtimes lie far enough in the past to be trusted.
fn settled(stamp: &DirStamp) -> bool {
    stamp.age_ns() >= settle_ns(stamp)
}

fn planned_counts(plan: &super::plan::Plan) -> Counts {
    Counts {
        downloaded: plan.downloads.len() as u64,
        uploaded: plan.uploads.len() as u64,
        flags_pulled: plan
            .flag_changes
            .iter()
            .filter(|c| c.new_local_flags.is_some())
            .count() as u64,
        flags_pushed: plan
            .flag_changes
            .iter()
            .filter(|c| !c.remote_add.is_empty() || !c.remote_remove.is_empty())
            .count() as u64,
        deleted_local: plan.local_deletions.len() as u64,
        deleted_remote: plan.remote_deletions.len() as u64,
        folders_created: 0,
    }
}

/// The records another sync tool left for this folder, if any; records
/// that do not belong to it are reported and ignored.
fn peer_records_of(
    job: &FolderJob,
    local: &[LocalMessage],
    uidvalidity: u32,
    reporter: &Reporter,
) -> Option<PeerRecords> {
    let dirs = peer_records::default_state_dirs();
    match peer_records::read(&job.local_path, local, uidvalidity, &dirs) {
        Ok(records) => records,
        Err(why) => {
            reporter.warn(format!(
                "{}: {why}; pairing by content instead",
                job.display_name
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maildir::{COARSE_STAMP_SETTLE_NS, STAMP_SETTLE_NS};
    use std::time::{SystemTime, UNIX_EPOCH};

    fn stored() -> FolderState {
        FolderState {
            id: 1,
            name: "INBOX".into(),
            uidvalidity: 7,
            uidnext: Some(10),
            highestmodseq: Some(99),
            stamp: Some(DirStamp {
                cur_mtime_ns: 1,
                new_mtime_ns: 2,
            }),
            last_sync: Some(0),
        }
    }

    fn status() -> MailboxStatus {
        MailboxStatus {
            messages: Some(9),
            uidnext: Some(10),
            uidvalidity: Some(7),
            highestmodseq: Some(99),
        }
    }

    #[test]
    fn unchanged_needs_every_witness_to_agree() {
        let stamp = Some(DirStamp {
            cur_mtime_ns: 1,
            new_mtime_ns: 2,
        });
        assert!(is_unchanged(&stored(), Some(&status()), stamp, false));
        assert!(!is_unchanged(&stored(), None, stamp, false), "no status");
        assert!(
            !is_unchanged(&stored(), Some(&status()), stamp, true),
            "pending APPEND"
        );
        assert!(
            !is_unchanged(
                &stored(),
                Some(&status()),
                Some(DirStamp {
                    cur_mtime_ns: 3,
                    new_mtime_ns: 2
                }),
                false
            ),
            "cur/ changed"
        );
        for changed in [
            MailboxStatus {
                highestmodseq: Some(100),
                ..status()
            },
            MailboxStatus {
                uidnext: Some(11),
                ..status()
            },
            MailboxStatus {
                uidvalidity: Some(8),
                ..status()
            },
            MailboxStatus {
                highestmodseq: None,
                ..status()
            },
        ] {
            assert!(
                !is_unchanged(&stored(), Some(&changed), stamp, false),
                "{changed:?}"
            );
        }
        let incomplete = FolderState {
            highestmodseq: None,
            ..stored()
        };
        assert!(!is_unchanged(
            &incomplete,
            Some(&MailboxStatus {
                highestmodseq: None,
                ..status()
            }),
            stamp,
            false
        ));
        let unscanned = FolderState {
            stamp: None,
            ..stored()
        };
        assert!(!is_unchanged(&unscanned, Some(&status()), stamp, false));
    }

    #[test]
    fn fresh_mtimes_are_not_trusted() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!(!settled(&DirStamp {
            cur_mtime_ns: now,
            new_mtime_ns: 0
        }));
        assert!(settled(&DirStamp {
            cur_mtime_ns: now - 2 * STAMP_SETTLE_NS,
            new_mtime_ns: 0
        }));
    }

    #[test]
    fn whole_second_mtimes_need_longer_to_settle() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        let whole = |ns: i64| ns / 1_000_000_000 * 1_000_000_000;
        let two_seconds_ago = whole(now - 2 * STAMP_SETTLE_NS);
        assert!(!settled(&DirStamp {
            cur_mtime_ns: two_seconds_ago,
            new_mtime_ns: two_seconds_ago,
        }));
        assert!(settled(&DirStamp {
            cur_mtime_ns: two_seconds_ago + 1,
            new_mtime_ns: two_seconds_ago,
        }));
        let long_ago = whole(now - 2 * COARSE_STAMP_SETTLE_NS);
        assert!(settled(&DirStamp {
            cur_mtime_ns: long_ago,
            new_mtime_ns: long_ago,
        }));
    }
}
