//! The reconcile stage: the pairs the plan works from. Usually the
//! recorded ones; re-found by content where UIDs cannot be trusted (the
//! server's UIDVALIDITY changed, or both sides hold mail the state has
//! never seen), and completed where a killed run left them half recorded.

use crate::import::peer_records::{self, PeerRecords};
use crate::model::{LocalMessage, Pair, UidValidity};
use crate::report::Reporter;
use crate::state::{FolderState, StateDb};
use anyhow::Context;

use super::super::{approval, guard, repair, LazySession, SyncOptions};
use super::snapshot::Sides;
use super::FolderWork;

/// The pairs to plan from.
pub struct Reconciled {
    pub pairs: Vec<Pair>,
    /// Files were renamed to carry new UIDs.
    pub renamed_locally: bool,
    /// What a dry run shows of this stage.
    pub described: Vec<String>,
}

/// Finds the pairs to plan from; in a real run, also records them and
/// renames files to carry their new UIDs. `selected` says whether the
/// snapshot selected the folder (and so saw its UIDVALIDITY).
#[allow(clippy::too_many_arguments)]
pub fn pairs(
    session: &mut LazySession<'_>,
    db: &mut StateDb,
    work: &FolderWork,
    folder_state: Option<&FolderState>,
    sides: &mut Sides,
    selected: bool,
    uidvalidity: Option<UidValidity>,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<Reconciled> {
    let job = &work.job;
    // Nothing wrote this folder's pairs since they were read: one worker
    // owns the folder, and a new folder has none.
    let mut reconciled = Reconciled {
        pairs: std::mem::take(&mut sides.pairs),
        renamed_locally: false,
        described: Vec::new(),
    };
    let (remote, local) = (&sides.remote, &mut sides.local);
    let uidvalidity_changed =
        selected && folder_state.is_some_and(|f| Some(f.uidvalidity) != uidvalidity);
    let first_meeting = reconciled.pairs.is_empty() && !remote.is_empty() && !local.is_empty();
    if uidvalidity_changed || first_meeting {
        if uidvalidity_changed {
            reporter.warn(format!(
                "{}: the server's UIDVALIDITY changed; pairing messages by Message-ID and size",
                job.display_name
            ));
        }
        let records = match uidvalidity {
            Some(uidvalidity) if first_meeting => {
                peer_records_of(work, local, uidvalidity, reporter)
            }
            _ => None,
        };
        let mut approved_first_copy = false;
        let found = repair::pair_first_meeting(
            session.get()?,
            &work.maildir,
            remote,
            local,
            records.as_ref(),
            reporter,
            &job.display_name,
        )?;
        if first_meeting {
            let described = found.describe(local.len(), remote.len());
            if options.dry_run {
                reconciled.described.push(described);
            } else {
                reporter.info(format!("{}: {described}", job.display_name));
            }
            let paired = found.by_records + found.by_content.len();
            if let (false, Err(refused)) = (
                options.allow_first_copy,
                guard::check_first_copy(local.len(), remote.len(), paired),
            ) {
                let objection = refused.objection(&job.remote_name, &job.display_name);
                let account = &session.account().name;
                approved_first_copy = approval::settle(db, account, objection, options.dry_run)?;
            }
        } else {
            reconciled.described.push(format!(
                "re-pair {} messages by Message-ID and size",
                found.by_content.len()
            ));
        }
        if options.dry_run {
            reconciled.pairs = found.recorded;
            reconciled.pairs.extend(found.by_content);
        } else {
            let f = folder_state.expect("state folder exists outside dry runs");
            let mut pairs = repair::rename_to_new_uids(&work.maildir, local, found.by_content)?;
            pairs.extend(found.recorded);
            pairs.sort_by_key(|p| p.uid);
            let uidvalidity = uidvalidity.context("the folder was not selected on the server")?;
            db.replace_pairs(f.id, uidvalidity, &pairs)?;
            if approved_first_copy {
                // The meeting is over: the approval has nothing left to let through.
                approval::done(db, &job.remote_name, "first-copy")?;
            }
            reconciled.pairs = pairs;
            reconciled.renamed_locally = true;
        }
    } else if let (Some(f), false) = (folder_state, options.dry_run) {
        let recovered = repair::recover_after_crash(
            session,
            db,
            f.id,
            &work.maildir,
            &work.pending_appends,
            remote,
            local,
            &reconciled.pairs,
            reporter,
            &job.display_name,
        )?;
        if recovered > 0 {
            reconciled.pairs = db.pairs(f.id)?;
        }
    }
    Ok(reconciled)
}

/// The records another sync tool left for this folder, if any; records
/// that do not belong to it are reported and ignored.
fn peer_records_of(
    work: &FolderWork,
    local: &[LocalMessage],
    uidvalidity: UidValidity,
    reporter: &Reporter,
) -> Option<PeerRecords> {
    let dirs = peer_records::default_state_dirs();
    match peer_records::read(&work.job.local_path, local, uidvalidity, &dirs) {
        Ok(records) => records,
        Err(why) => {
            reporter.warn(format!(
                "{}: {why}; pairing by content instead",
                work.job.display_name
            ));
            None
        }
    }
}
