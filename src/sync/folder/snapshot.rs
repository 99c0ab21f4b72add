//! The snapshot stage: the server's messages and flags, the recorded
//! pairs and the Maildir, each read once and as cheaply as the folder
//! allows.
//!
//! The remote snapshot costs nothing at all when the folder's status
//! matches what the last complete sync recorded (the recorded pairs then
//! are the server's state), only the changes since the recorded modseq
//! with CONDSTORE/QRESYNC, and a full UID/FLAGS listing otherwise. When
//! the Maildir too is as the last sync left it, only the messages the
//! server changed are read on either side.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;

use crate::imap::{FolderChanges, MailboxInfo, MailboxStatus, Session, UidSet};
use crate::maildir::Maildir;
use crate::model::{DirStamp, LocalMessage, Pair, RemoteMessage, Uid, UidValidity};
use crate::model::{Flags, Identities};
use crate::report::Reporter;
use crate::state::{FolderState, StateDb};

use super::super::{LazySession, SyncOptions};
use super::FolderWork;
use crate::folders::FolderJob;

/// Both sides as the later stages see them.
pub struct Snapshot {
    pub sides: Sides,
    /// The SELECT response, when the folder was selected.
    pub info: Option<MailboxInfo>,
    /// The server's UIDVALIDITY: selected, else as recorded. None for a
    /// folder neither selected nor recorded, which only a dry run sees.
    pub uidvalidity: Option<UidValidity>,
    /// The UIDs inside the date window, where the search went out with
    /// the SELECT (see [`window_search`]).
    pub inside_window: Option<Vec<Uid>>,
}

/// Reads both sides of the folder.
pub fn take(
    session: &mut LazySession<'_>,
    db: &mut StateDb,
    work: &FolderWork,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<Snapshot> {
    let (job, maildir, stored) = (&work.job, &work.maildir, work.stored.as_ref());
    let pending_appends = !work.pending_appends.is_empty();
    // Unconfirmed APPENDs, a changed window, and messages outside it asked
    // for, need the whole listing.
    let relist = pending_appends || work.window_changed() || !work.window_requested.is_empty();
    let remote_unchanged = stored.is_some_and(|f| remote_unchanged(f, job.status.as_ref(), relist));

    // The server's side and the local side (the recorded pairs and the
    // folder on disk) are independent: when the server is needed, read the
    // local side on another thread while it answers, so neither a big
    // folder's readdir nor its pairs delay the SELECT.
    let needs_server = !remote_unchanged && (job.on_server || !options.dry_run);
    let skipped_before = session.skipped_responses();
    let stored_id = stored.map(|f| f.id);
    // Its own handle on the Maildir, which may be read on another thread.
    let scanned = maildir.clone();
    let read_local = move |db: &mut StateDb| -> anyhow::Result<LocalSide> {
        let pairs = match stored_id {
            Some(id) => db.pairs(id)?,
            None => Vec::new(),
        };
        let (local, stamp) = scan_local(job, &scanned, options, reporter)?;
        Ok(LocalSide {
            pairs,
            local,
            stamp,
        })
    };
    let search = window_search(work);
    let inside_window = std::cell::Cell::new(None);
    let snapshot = |session: &mut LazySession<'_>| {
        let (snapshot, info, inside) = remote_snapshot(
            session,
            job,
            options,
            stored,
            relist,
            remote_unchanged,
            search.as_deref(),
        )?;
        inside_window.set(inside);
        Ok::<_, anyhow::Error>((snapshot, info))
    };
    // cur/ and new/ as the last complete sync left them hold exactly the
    // recorded pairs' files: then only the messages the server changed need
    // reading, on both sides, instead of the whole folder.
    let stamp_before = maildir.stamp().ok();
    let local_unchanged = needs_server
        && !pending_appends
        && stored.is_some_and(|f| f.stamp.is_some() && f.stamp == stamp_before);
    let (sides, info) = if local_unchanged {
        let (snapshot, info) = snapshot(session)?;
        let changed = match (stored, &info) {
            (Some(f), Some(i)) => changed_only(db, maildir, f, i, &snapshot, stamp_before)?,
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
    let uidvalidity = match (&info, stored) {
        (Some(i), _) => Some(i.uidvalidity),
        (None, stored) => stored.map(|f| f.uidvalidity),
    };
    Ok(Snapshot {
        sides,
        info,
        uidvalidity,
        inside_window: inside_window.take(),
    })
}

/// The date window's search, to send with the SELECT of a folder whose
/// status shows new messages: then the window stage needs no round trip of
/// its own. Only for a window of dates alone (the newest N need the
/// folder's size, which the SELECT is to tell), and only where the window
/// is the one the folder was synced with (else the folder is listed anew).
fn window_search(work: &FolderWork) -> Option<String> {
    let window = work.window.as_ref()?;
    let (stored, status) = (work.stored.as_ref()?, work.job.status.as_ref()?);
    let grew = matches!(
        (status.uidnext, stored.uidnext),
        (Some(now), Some(before)) if now > before
    );
    (window.max_messages.is_none() && window.since.is_some() && grew && !work.window_changed())
        .then(|| window.search_criteria(crate::model::today(), 0))
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

/// The folder's messages on disk, and the directories' stamp taken before
/// reading them. Also clears crash leftovers out of `tmp/`.
fn scan_local(
    job: &FolderJob,
    maildir: &Maildir,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<(Vec<LocalMessage>, Option<DirStamp>)> {
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
pub struct Sides {
    pub remote: Vec<RemoteMessage>,
    /// The recorded pairs (only those the changes touch, where only the
    /// changes were read).
    pub pairs: Vec<Pair>,
    pub local: Vec<LocalMessage>,
    /// The directories' stamp taken before reading them.
    pub stamp: Option<DirStamp>,
    /// Each side's size, for the mass-deletion guard: the whole folder,
    /// even where only the changed messages were read.
    pub remote_count: usize,
    pub local_count: usize,
    /// Whether `remote` lists every server message (else: the changes
    /// only, or the recorded pairs).
    pub remote_listed: bool,
    /// UIDs the server reported expunged (QRESYNC), where only the
    /// changes were read.
    pub vanished: Vec<std::ops::RangeInclusive<u32>>,
    /// The server's identities of the listed messages not yet paired
    /// (where it names them), so a download can be a link instead.
    pub identities: Identities,
}

impl Sides {
    /// How many messages these sides hold: the changed ones, when only
    /// those were read.
    fn changed_messages(&self) -> usize {
        let mut uids: Vec<Uid> = self.remote.iter().map(|r| r.uid).collect();
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
        let (mut remote_listed, mut vanished) = (false, Vec::new());
        let mut identities = Identities::default();
        let remote = match snapshot {
            RemoteSnapshot::Unchanged => remote_from_pairs(&pairs),
            RemoteSnapshot::Changes(mut changes) => {
                vanished = changes.vanished.clone();
                identities = std::mem::take(&mut changes.identities);
                apply_remote_changes(&pairs, changes)
            }
            RemoteSnapshot::Listed(remote, listed_identities) => {
                remote_listed = true;
                identities = listed_identities;
                remote
            }
        };
        unpaired_only(&mut identities, &pairs);
        Sides {
            identities,
            remote_count: remote.len(),
            local_count: local.len(),
            remote_listed,
            vanished,
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
    let (mut remote_listed, mut vanished) = (false, Vec::new());
    let mut identities = Identities::default();
    let (remote, pairs, local_count) = match snapshot {
        RemoteSnapshot::Unchanged => return Ok(None),
        RemoteSnapshot::Changes(changes) => {
            let mut by_uid = BTreeMap::new();
            merge_changes(&mut by_uid, changes);
            let uids: Vec<Uid> = by_uid.keys().copied().collect();
            let pairs = db.pairs_among(stored.id, &uids, &changes.vanished)?;
            // A pair whose message did not change needs nothing.
            let remote: Vec<RemoteMessage> = by_uid.into_values().collect();
            vanished = changes.vanished.clone();
            identities.extend(&changes.identities);
            (remote, pairs, db.pair_count(stored.id)?)
        }
        RemoteSnapshot::Listed(listed, listed_identities) => {
            identities.extend(listed_identities);
            let all = db.pairs(stored.id)?;
            let listed_by_uid: HashMap<Uid, &RemoteMessage> =
                listed.iter().map(|r| (r.uid, r)).collect();
            let paired: HashMap<Uid, Flags> = all.iter().map(|p| (p.uid, p.flags)).collect();
            let remote: Vec<RemoteMessage> = listed
                .iter()
                .filter(|r| paired.get(&r.uid) != Some(&r.flags))
                .copied()
                .collect();
            let count = all.len();
            remote_listed = true;
            identities.retain(|uid| !paired.contains_key(&uid));
            let pairs: Vec<Pair> = all
                .into_iter()
                .filter(|p| listed_by_uid.get(&p.uid).is_none_or(|r| r.flags != p.flags))
                .collect();
            (remote, pairs, count)
        }
    };
    identities.sort();
    unpaired_only(&mut identities, &pairs);
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
        remote_listed,
        vanished,
        identities,
    }))
}

/// Drops the identities of messages already paired: only a download can
/// become a link. `pairs` is by UID.
fn unpaired_only(identities: &mut Identities, pairs: &[Pair]) {
    identities.sort();
    identities.retain(|uid| pairs.binary_search_by_key(&uid, |p| p.uid).is_err());
}

/// The server's messages and flags, in the form it was cheapest to get.
enum RemoteSnapshot {
    /// As recorded: the server's status is unchanged.
    Unchanged,
    /// As recorded, with these changes (QRESYNC).
    Changes(FolderChanges),
    /// Every message, listed.
    Listed(Vec<RemoteMessage>, Identities),
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
    search: Option<&str>,
) -> anyhow::Result<(RemoteSnapshot, Option<MailboxInfo>, Option<Vec<Uid>>)> {
    if !job.on_server && options.dry_run {
        return Ok((
            RemoteSnapshot::Listed(Vec::new(), Identities::default()),
            None,
            None,
        ));
    }
    if remote_unchanged {
        return Ok((RemoteSnapshot::Unchanged, None, None));
    }
    // The changes since the last sync, where the server can tell them
    // (QRESYNC: in the same round trip as the SELECT). Not while APPENDs
    // are unconfirmed: finding them needs the whole listing.
    let since = stored
        .filter(|_| !pending_appends)
        .and_then(|f| Some((f.uidvalidity, f.highestmodseq?)));
    let (selected, changes, inside) = session
        .get()?
        .open_with_changes_searching(&job.remote_name, options.dry_run, since, search)
        .with_context(|| format!("cannot open {} on the server", job.display_name))?;
    let snapshot = match changes {
        Some(changes) => RemoteSnapshot::Changes(changes),
        None if selected.exists > 0 => {
            let (remote, identities) = fetch_remote(session.get()?)?;
            RemoteSnapshot::Listed(remote, identities)
        }
        None => RemoteSnapshot::Listed(Vec::new(), Identities::default()),
    };
    Ok((snapshot, Some(selected), inside))
}

/// SELECT, or EXAMINE for a dry run.
pub(super) fn open_mailbox(
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
    pairs.iter().map(RemoteMessage::as_recorded).collect()
}

/// Adds or updates the changed messages and drops the expunged ones.
fn merge_changes(by_uid: &mut BTreeMap<Uid, RemoteMessage>, changes: &FolderChanges) {
    for m in &changes.changed {
        let entry = by_uid.entry(m.uid).or_insert(*m);
        entry.flags = m.flags;
        entry.size = entry.size.or(m.size);
    }
    for range in &changes.vanished {
        let gone: Vec<Uid> = by_uid
            .range(Uid(*range.start())..=Uid(*range.end()))
            .map(|(&uid, _)| uid)
            .collect();
        for uid in gone {
            by_uid.remove(&uid);
        }
    }
}

/// The recorded pairs, updated with what changed since the last sync and
/// without what was expunged since (QRESYNC).
fn apply_remote_changes(pairs: &[Pair], changes: FolderChanges) -> Vec<RemoteMessage> {
    let mut by_uid: BTreeMap<Uid, RemoteMessage> = remote_from_pairs(pairs)
        .into_iter()
        .map(|r| (r.uid, r))
        .collect();
    merge_changes(&mut by_uid, &changes);
    by_uid.into_values().collect()
}

/// Every message's UID, flags and size.
fn fetch_remote(session: &mut Session) -> anyhow::Result<(Vec<RemoteMessage>, Identities)> {
    let mut remote = Vec::new();
    let mut identities = Identities::default();
    session
        .uid_fetch_listing(&UidSet::all(), &mut identities, &mut |m| remote.push(m))
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
    Ok((remote, identities))
}
