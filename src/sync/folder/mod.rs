//! One folder's sync, in stages over one [`FolderWork`]:
//!
//! 1. **setup**: the folder created on the side that lacks it;
//! 2. **snapshot** ([`snapshot`]): the server's messages, the recorded
//!    pairs and the Maildir, each read once and as cheaply as possible;
//! 3. **reconcile** ([`reconcile`]): pairs found where UIDs cannot be
//!    trusted (a first meeting, a new UIDVALIDITY), or what a killed run
//!    left half recorded;
//! 4. **plan**: the pure planner, and the mass-deletion guard;
//! 5. **apply** ([`super::apply`]) and **record** ([`record`]): the
//!    changes, and what the next run compares against.
//!
//! A dry run is the same stages up to the plan, which is then printed:
//! each stage that would change something returns what it would do, and
//! only a real run does it.

mod archive;
mod keywords;
mod reconcile;
mod record;
mod snapshot;
mod upgrades;
mod window;

use std::sync::Arc;

use anyhow::Context;

use crate::maildir::{DirWitness, Maildir, WitnessHub};
use crate::model::DirStamp;
use crate::report::{Counts, Reporter};
use crate::state::{AppendIntent, FolderState, StateDb};

use super::apply::{Applier, Linking};
use super::plan::{plan, Direction, Plan};
use super::{approval, guard};
use super::{LazySession, SyncOptions};
use crate::config::Account;
use crate::folders::FolderJob;
use crate::model::{Flags, LocalDeletions, Pair, ServerDeletions, Uid, Window};
use snapshot::is_unchanged;

/// A folder to sync with what the run already read about it, so that no
/// stage reads it again.
#[derive(Debug)]
pub struct FolderWork {
    pub job: FolderJob,
    pub maildir: Maildir,
    /// The folder's row in the state; `None` for a folder never synced.
    pub stored: Option<FolderState>,
    /// APPENDs journaled but not confirmed by an earlier run.
    pub pending_appends: Vec<AppendIntent>,
    /// What a local deletion becomes on the server (`trash`).
    pub remote_delete: super::apply::RemoteDelete,
    /// In a dry run, the moves found for this folder, which its plan
    /// leaves out (a real run has made them before the folder syncs).
    pub dry_moves: DryMoves,
    /// The account's date and count window.
    pub window: Option<Window>,
    /// The window's spec as the folder's last complete sync recorded it.
    pub recorded_window: Option<String>,
    /// Some placeholder's whole message was asked for (`imapdir fetch`).
    pub fetch_requested: bool,
    /// Server messages outside the window asked for (`search --fetch`):
    /// downloaded all the same.
    pub window_requested: std::collections::HashSet<Uid>,
}

/// A folder's part in the moves a dry run found.
#[derive(Debug, Default, Clone)]
pub struct DryMoves {
    /// Its messages that move to another folder.
    pub leaving: std::collections::HashSet<crate::model::Uid>,
    /// Local files that arrived from another folder (bases).
    pub arriving_files: std::collections::HashSet<String>,
    /// Server messages that arrived from another folder.
    pub arriving_uids: std::collections::HashSet<crate::model::Uid>,
}

impl FolderWork {
    /// Reads the folder's state row and its unconfirmed APPENDs.
    pub fn read(
        state: &StateDb,
        job: FolderJob,
        window: Option<&Window>,
    ) -> anyhow::Result<FolderWork> {
        let stored = state.folder(&job.remote_name)?;
        let pending_appends = match &stored {
            Some(f) => state.pending_appends(f.id)?,
            None => Vec::new(),
        };
        let recorded_window = match &stored {
            Some(f) => state.window(f.id)?.spec,
            None => None,
        };
        let fetch_requested = match &stored {
            Some(f) => state.fetch_requested(f.id)?,
            None => false,
        };
        let window_requested = match (&stored, window) {
            (Some(f), Some(_)) => state.window_requested(f.id)?,
            _ => Default::default(),
        };
        Ok(FolderWork {
            maildir: Maildir::new(&job.local_path),
            job,
            stored,
            pending_appends,
            dry_moves: DryMoves::default(),
            remote_delete: super::apply::RemoteDelete::Expunge,
            window: window.cloned(),
            recorded_window,
            fetch_requested,
            window_requested,
        })
    }

    /// Whether the window differs from the one the folder was last synced
    /// with: the folder is then listed in full, so that what a wider
    /// window takes in is downloaded.
    pub fn window_changed(&self) -> bool {
        self.window.as_ref().map(Window::spec) != self.recorded_window
    }

    /// Whether the folder can be skipped without selecting or scanning it.
    pub fn is_unchanged(&self) -> bool {
        let (job, Some(stored)) = (&self.job, &self.stored) else {
            return false;
        };
        job.on_server
            && job.on_disk
            && !self.window_changed()
            && !self.fetch_requested
            && self.window_requested.is_empty()
            && is_unchanged(
                stored,
                job.status.as_ref(),
                self.maildir.stamp().ok(),
                !self.pending_appends.is_empty(),
            )
    }
}

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

/// The folders a sync creates before anything else: on the server, in the
/// Maildir, or both.
#[derive(Debug, Clone, Copy)]
struct Setup {
    create_remote: bool,
    create_local: bool,
}

impl Setup {
    fn of(work: &FolderWork) -> Setup {
        Setup {
            create_remote: !work.job.on_server,
            create_local: !work.maildir.exists(),
        }
    }

    /// Folders created, as counted: a folder new on both sides is one.
    fn count(self) -> u64 {
        u64::from(self.create_remote) + u64::from(self.create_local && !self.create_remote)
    }

    fn describe(self, work: &FolderWork) -> Vec<String> {
        let mut lines = Vec::new();
        if self.create_remote {
            lines.push(format!("create remote folder {}", work.job.display_name));
        }
        if self.create_local {
            lines.push(format!(
                "create local folder {}",
                work.job.local_path.display()
            ));
        }
        lines
    }

    fn apply(
        self,
        session: &mut LazySession<'_>,
        work: &FolderWork,
        reporter: &Reporter,
    ) -> anyhow::Result<()> {
        let job = &work.job;
        if self.create_remote {
            session.get()?.create(&job.remote_name).with_context(|| {
                format!("cannot create folder {} on the server", job.display_name)
            })?;
            if session.account().folder_rules.subscribed_only {
                // Else the next run, which lists only subscribed folders,
                // would leave it alone.
                session
                    .get()?
                    .subscribe(&job.remote_name)
                    .with_context(|| {
                        format!(
                            "cannot subscribe to folder {} on the server",
                            job.display_name
                        )
                    })?;
            }
            reporter.info(format!("{}: created on the server", job.display_name));
        }
        if self.create_local {
            work.maildir
                .create()
                .with_context(|| format!("cannot create {}", job.local_path.display()))?;
            reporter.info(format!(
                "{}: created {}",
                job.display_name,
                job.local_path.display()
            ));
        }
        Ok(())
    }
}

/// Whether the plan's deletions may go on though the mass-deletion guard
/// objects (approved with `imapdir approve`); `Ok(false)` when it does not
/// object, an error when it refuses.
fn mass_deletion_approved(
    account: &Account,
    db: &StateDb,
    job: &FolderJob,
    plan: &Plan,
    sides: &snapshot::Sides,
    options: &SyncOptions,
) -> anyhow::Result<bool> {
    match guard::check_deletions(
        plan,
        sides.remote_count,
        sides.local_count,
        account.delete_limits,
        job.special_use.as_deref(),
    ) {
        Ok(()) => {
            if !options.dry_run {
                // A refusal that no longer applies approves nothing later.
                approval::done(db, &job.remote_name, "mass-delete")?;
            }
            Ok(false)
        }
        Err(mass) => approval::settle(
            db,
            &account.name,
            mass.objection(&job.remote_name, &job.display_name),
            options.dry_run,
        ),
    }
}

/// Takes out of the plan the deletions archive mode turns into one-sided
/// records: `(uid, local base, kept on the server)`.
fn keep_one_sided(account: &Account, plan: &mut Plan, pairs: &[Pair]) -> Vec<(Uid, String, bool)> {
    let mut kept = Vec::new();
    if account.server_deletions == ServerDeletions::KeepLocal {
        kept.extend(
            std::mem::take(&mut plan.local_deletions)
                .into_iter()
                .map(|(uid, msg)| (uid, msg.base, false)),
        );
    }
    if account.local_deletions == LocalDeletions::KeepServer {
        let base_of: std::collections::HashMap<Uid, &str> = pairs
            .iter()
            .map(|p| (p.uid, p.local_base.as_str()))
            .collect();
        kept.extend(
            std::mem::take(&mut plan.remote_deletions)
                .into_iter()
                .map(|uid| {
                    let base = base_of.get(&uid).copied().unwrap_or_default().to_string();
                    (uid, base, true)
                }),
        );
    }
    kept
}

fn describe_one_sided(kept: &[(Uid, String, bool)]) -> Vec<String> {
    let here = kept.iter().filter(|k| !k.2).count();
    let there = kept.len() - here;
    let mut lines = Vec::new();
    if here > 0 {
        lines.push(format!(
            "keep {here} local copies of messages expunged on the server (server_deletions = \"keep-local\")"
        ));
    }
    if there > 0 {
        lines.push(format!(
            "keep {there} server messages whose files were deleted (local_deletions = \"keep-server\")"
        ));
    }
    lines
}

/// Syncs one folder and returns what it did (or, in a dry run, would do).
pub fn sync_folder(
    session: &mut LazySession<'_>,
    db: &mut StateDb,
    work: &FolderWork,
    options: &SyncOptions,
    reporter: &Reporter,
    witnesses: Option<&Arc<WitnessHub>>,
) -> anyhow::Result<FolderReport> {
    let job = &work.job;
    if !job.on_disk && job.in_state {
        return Err(guard::missing_local_folder(&job.local_path));
    }
    let setup = Setup::of(work);
    if !options.dry_run {
        setup.apply(session, work, reporter)?;
    }

    // Watch cur/ and new/ from before they are read: if this sync's own
    // writes are the only changes, the stamp after them is as good as a
    // scan's and the next run need not list the folder again.
    let complete = options.direction == Direction::BOTH;
    let mut witness = match witnesses {
        Some(hub) if complete && !options.dry_run => hub.watch(&work.maildir),
        _ => None,
    };

    keywords::load(session, work)?;
    let snapshot::Snapshot {
        mut sides,
        mut info,
        uidvalidity,
        inside_window,
    } = snapshot::take(session, db, work, options, reporter)?;
    // New keywords on the server got letters: named in dovecot-keywords
    // before any file carries them. Letters without a name stay on the
    // files and out of the sync.
    let keyword_table = keywords::settle(session, work, options.dry_run)?;
    let named = keyword_table.named();
    if sides
        .local
        .iter()
        .any(|m| !m.flags.difference(named).is_empty())
    {
        reporter.debug(format!(
            "{}: files carry keyword letters dovecot-keywords does not name; they stay on the files",
            job.display_name
        ));
    }
    keywords::restrict(&mut sides.local, &mut sides.remote, named);
    let folder_state = match &work.stored {
        Some(f) => Some(f.clone()),
        None if options.dry_run => None,
        None => {
            let uidvalidity = uidvalidity.context("the folder was not selected on the server")?;
            Some(db.add_folder(&job.remote_name, uidvalidity, &job.local_name.join("/"))?)
        }
    };
    let reconciled = reconcile::pairs(
        session,
        db,
        work,
        folder_state.as_ref(),
        &mut sides,
        info.is_some(),
        uidvalidity,
        options,
        reporter,
    )?;

    // Archive mode: what one side keeps alone is no change for the other.
    let kept = match &folder_state {
        Some(f) => db.kept(f.id)?,
        None => Default::default(),
    };
    // With an archive folder, the copies still here go there.
    let archive = archive::archive_of(session.account())?;
    let mut to_archive: Vec<crate::model::LocalMessage> = Vec::new();
    let mut archive_bases: Vec<String> = Vec::new();
    if !kept.local_only.is_empty() {
        if archive.is_some() {
            to_archive.extend(
                sides
                    .local
                    .iter()
                    .filter(|m| kept.local_only.contains(&m.base))
                    .cloned(),
            );
            let read: std::collections::HashSet<&str> =
                to_archive.iter().map(|m| m.base.as_str()).collect();
            archive_bases.extend(
                kept.local_only
                    .iter()
                    .filter(|b| !read.contains(b.as_str()))
                    .cloned(),
            );
        }
        sides.local.retain(|m| !kept.local_only.contains(&m.base));
    }
    if !kept.server_only.is_empty() {
        sides.remote.retain(|r| !kept.server_only.contains(&r.uid));
    }
    let mut plan = plan(
        &sides.remote,
        &reconciled.pairs,
        &sides.local,
        options.direction,
    );
    // A keyword the server will not store stays on the files: whether it
    // does is in the SELECT's PERMANENTFLAGS, read here only where the plan
    // sends keywords (and so selects the folder anyway).
    if info.is_none() && pushes_keywords(&plan) && job.on_server {
        info = Some(snapshot::open_mailbox(session.get()?, job, options)?);
    }
    let refused = keyword_table.refused(info.as_ref().and_then(|i| i.permanent_flags.as_deref()));
    let unsynced = keywords::unsynced(&keyword_table, refused, &sides.local);
    if keywords::carried(&sides.local, refused) {
        keywords::restrict(
            &mut sides.local,
            &mut sides.remote,
            Flags::all().difference(refused),
        );
        plan = super::plan::plan(
            &sides.remote,
            &reconciled.pairs,
            &sides.local,
            options.direction,
        );
    }
    match (&folder_state, options.dry_run) {
        (Some(f), false) => {
            for k in db.record_unsynced_keywords(f.id, &unsynced)? {
                reporter.warn(keywords::describe(&job.display_name, &k));
            }
            let permanent_known = info.is_some();
            for k in db.unsynced_keywords(f.id)? {
                if keywords::syncs_again(&keyword_table, refused, permanent_known, &k) {
                    db.forget_unsynced_keyword(f.id, &k.keyword)?;
                    reporter.info(format!(
                        "{}: keyword {} syncs again",
                        job.display_name, k.keyword
                    ));
                }
            }
        }
        _ => {
            for k in &unsynced {
                reporter.warn(keywords::describe(&job.display_name, k));
            }
        }
    }
    if archive.is_some() && session.account().server_deletions == ServerDeletions::KeepLocal {
        to_archive.extend(plan.local_deletions.iter().map(|(_, m)| m.clone()));
    }
    let one_sided = keep_one_sided(session.account(), &mut plan, &reconciled.pairs);
    if options.dry_run {
        // A real run made these moves before the folder synced.
        let moves = &work.dry_moves;
        plan.remote_deletions.retain(|u| !moves.leaving.contains(u));
        plan.local_deletions
            .retain(|(u, _)| !moves.leaving.contains(u));
        plan.uploads
            .retain(|m| !moves.arriving_files.contains(&m.base));
        plan.downloads
            .retain(|m| !moves.arriving_uids.contains(&m.uid));
    }
    let held = window::hold_back(
        session,
        db,
        work,
        folder_state.as_ref(),
        &mut plan,
        &sides,
        &mut info,
        inside_window,
        options,
    )?;
    let upgrades = upgrades::wanted(
        db,
        &work.maildir,
        session
            .account()
            .max_message_size_of(&job.display_name)
            .is_some(),
        folder_state.as_ref(),
        &plan,
        &reconciled.pairs,
        options,
    )?;
    let approved = if options.allow_mass_delete {
        false
    } else {
        mass_deletion_approved(session.account(), db, job, &plan, &sides, options)?
    };
    if options.dry_run {
        let mut planned = setup.describe(work);
        planned.extend(reconciled.described);
        planned.extend(describe_one_sided(&one_sided));
        let archiving = to_archive.len() + archive_bases.len();
        if let (Some(folder), true) = (&session.account().archive_folder, archiving > 0) {
            planned.push(format!(
                "move {archiving} local copies of messages expunged on the server to {folder} \
                 (archive_folder)"
            ));
        }
        planned.extend(plan.describe());
        planned.extend(window::describe(work, held.as_ref()));
        planned.extend(upgrades.describe());
        if let Some(above) = session.account().max_message_size_of(&job.display_name) {
            let large = plan
                .downloads
                .iter()
                .filter(|m| m.size.is_some_and(|s| u64::from(s) > above))
                .count();
            if large > 0 {
                planned.push(format!(
                    "store {large} of these downloads as placeholders (larger than max_message_size)"
                ));
            }
        }
        return Ok(FolderReport {
            counts: Counts {
                folders_created: setup.count(),
                ..planned_counts(&plan)
            },
            planned,
            unsettled: None,
        });
    }
    for line in plan.describe() {
        reporter.debug(format!("{}: {line}", job.display_name));
    }
    let folder_state = folder_state.expect("state folder exists outside dry runs");
    if !one_sided.is_empty() {
        db.keep_one_sided(folder_state.id, &one_sided)?;
        for line in describe_one_sided(&one_sided) {
            reporter.debug(format!("{}: {line}", job.display_name));
        }
    }
    if let Some(archive) = &archive {
        let moved = archive::sweep(
            db,
            folder_state.id,
            &work.maildir,
            archive,
            to_archive,
            archive_bases,
        )?;
        if moved > 0 {
            reporter.info(format!(
                "{}: moved {moved} local copies of messages expunged on the server to {}",
                job.display_name,
                session
                    .account()
                    .archive_folder
                    .as_deref()
                    .unwrap_or_default()
            ));
        }
    }

    // Selecting is needed only to change something; an unchanged server
    // with nothing to do costs no round trip at all.
    if info.is_none() && (plan.action_count() > 0 || !upgrades.is_empty()) {
        info = Some(snapshot::open_mailbox(session.get()?, job, options)?);
    }

    let progress = reporter.folder(
        &job.display_name,
        (plan.action_count() + upgrades.len()) as u64,
    );
    let gone = upgrades::gone(&plan, &upgrades);
    let mut done = Counts::default();
    if !plan.is_empty() || !upgrades.is_empty() {
        let rule = upgrades::rule(session.account(), &job.display_name);
        let account = session.account();
        let mut applier = Applier::new(
            session.get()?,
            db,
            &work.maildir,
            folder_state.id,
            &job.remote_name,
            &progress,
        )
        .witnessed_by(witness.as_mut())
        .deleting_by(work.remote_delete.clone())
        .placeholders(rule)
        .linking(Some(Linking {
            identities: &sides.identities,
            root: &account.maildir,
            layout: account.folder_rules.layout,
        }));
        let uidnext = info.as_ref().and_then(|i| i.uidnext);
        let applied = applier
            .apply(plan, uidnext)
            .and_then(|()| upgrades.apply(&mut applier, &gone));
        done = applier.counts();
        drop(applier);
        // A keyword first seen while downloading got its letter then.
        let applied = applied.and(keywords::settle(session, work, false).map(drop));
        if let Err(e) = applied {
            progress.finish("failed");
            return Err(e);
        }
    }
    if approved {
        approval::done(db, &job.remote_name, "mass-delete")?;
    }
    progress.finish(if done.is_empty() {
        "up to date".to_string()
    } else {
        done.to_string()
    });
    if !done.is_empty() {
        reporter.info(format!("{}: {done}", job.display_name));
    }

    if complete {
        // A one-way run downloads nothing, or uploads nothing: the window
        // it saw is not yet the folder's.
        window::record(db, work, folder_state.id, held.as_ref())?;
    }
    let unsettled = record::folder_synced(
        db,
        work,
        &folder_state,
        record::Done {
            info: info.as_ref(),
            counts: done,
            renamed_locally: reconciled.renamed_locally,
            scan_stamp: sides.stamp,
            complete,
            witness,
        },
    )?;
    let mut counts = Counts {
        folders_created: setup.count(),
        ..Counts::default()
    };
    counts += done;
    Ok(FolderReport {
        counts,
        planned: Vec::new(),
        unsettled,
    })
}

/// Whether the plan sends keywords to the server (a flag change or an
/// upload carrying one).
fn pushes_keywords(plan: &Plan) -> bool {
    plan.flag_changes
        .iter()
        .any(|c| !c.remote_add.keywords().is_empty())
        || plan.uploads.iter().any(|m| !m.flags.keywords().is_empty())
}

fn planned_counts(plan: &Plan) -> Counts {
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
        ..Counts::default()
    }
}

#[cfg(test)]
mod tests;
