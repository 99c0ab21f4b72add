//! The record stage: what the next run compares against. Only where it is
//! a complete picture: after a two-way run, the status from before this
//! run's own changes (those then look changed once, harmlessly), and the
//! directories' stamp only where it can be trusted.

use crate::imap::MailboxInfo;
use crate::maildir::{settle_ns, DirWitness};
use crate::model::DirStamp;
use crate::report::Counts;
use crate::state::{FolderState, StateDb};

use super::{FolderWork, UnsettledStamp};

/// What the apply stage did, as far as the record needs it.
pub struct Done<'a> {
    /// The SELECT response, when the folder was selected.
    pub info: Option<&'a MailboxInfo>,
    pub counts: Counts,
    /// Files were renamed to carry new UIDs.
    pub renamed_locally: bool,
    /// The stamp taken before the scan.
    pub scan_stamp: Option<DirStamp>,
    /// A two-way run: its status and stamp are a complete picture.
    pub complete: bool,
    pub witness: Option<DirWitness>,
}

/// Marks the folder synced; returns the stamp to record at the end of the
/// run if this run's own writes have not settled yet.
pub fn folder_synced(
    db: &mut StateDb,
    work: &FolderWork,
    folder_state: &FolderState,
    done: Done<'_>,
) -> anyhow::Result<Option<UnsettledStamp>> {
    let (uidnext, modseq) = match (done.info, &work.job.status) {
        (Some(i), _) => (i.uidnext, i.highestmodseq),
        (None, Some(s)) => (s.uidnext, s.highestmodseq),
        (None, None) => (None, None),
    };
    let c = done.counts;
    let touched_locally =
        done.renamed_locally || c.downloaded + c.uploaded + c.flags_pulled + c.deleted_local > 0;
    let mut unsettled = None;
    let stamp = if !touched_locally {
        done.scan_stamp.filter(|s| done.complete && settled(s))
    } else if let Some(mut w) = done.witness {
        w.writes_done(&work.maildir);
        let trusted = w.trusted(&work.maildir);
        if trusted.is_none() {
            // Perhaps trusted once the run's other folders are done.
            unsettled = Some(UnsettledStamp {
                folder_id: folder_state.id,
                witness: w,
                maildir: work.maildir.clone(),
            });
        }
        trusted
    } else {
        None
    };
    db.mark_folder_synced(
        folder_state.id,
        uidnext,
        modseq.filter(|_| done.complete),
        stamp,
    )?;
    Ok(unsettled)
}

/// Whether both directory mtimes lie far enough in the past to be trusted.
pub(super) fn settled(stamp: &DirStamp) -> bool {
    stamp.age_ns() >= settle_ns(stamp)
}
