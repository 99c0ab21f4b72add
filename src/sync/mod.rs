//! Syncing one account: the lock, the folder list, and a pool of workers
//! that each own an IMAP connection and take folders from a shared queue.
//!
//! Workers are plain threads rather than a rayon pool: each must keep its
//! own logged-in session across folders, and a folder job blocks on the
//! network, which is not what a work-stealing CPU pool is for.

pub mod apply;
pub mod approval;
pub mod backoff;
pub mod content_hash;
pub mod folder;
pub mod folder_deletes;
pub mod guard;
pub mod host_slots;
pub mod local_moves;
pub mod outbox;
pub mod pipeline;
pub mod plan;
pub mod pop3_import;
pub mod renames;
pub mod repair;
pub mod server_moves;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;

use crate::config::{Account, ConfigError};
use crate::connect::{compress_wanted, is_loopback, open_session};
use crate::imap::{MailboxStatus, Session};
use crate::lock::AccountLock;
use crate::maildir::{discover_folders, WitnessHub};
use crate::model::Layout;
use crate::report::{Counts, Reporter};
use crate::state::StateDb;

use crate::folders::{folder_list, FolderJob, KnownFolder};
use apply::RemoteDelete;
use backoff::{Backoff, Deferred, Next};
pub use folder::{FolderReport, FolderWork};
pub use pipeline::{run_account, AccountRun};
pub use plan::Direction;

/// What the user asked of this run.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub direction: Direction,
    pub dry_run: bool,
    /// Overrides the account's `jobs`.
    pub jobs: Option<usize>,
    pub trace_imap: bool,
    /// `--allow-mass-delete`: skip the mass-deletion guard.
    pub allow_mass_delete: bool,
    /// `--allow-first-copy`: skip the first-copy guard.
    pub allow_first_copy: bool,
    /// `--wait`: how long to wait for the account lock held by another run.
    pub lock_wait: Option<std::time::Duration>,
}

/// How one account's sync went.
#[derive(Debug, Default)]
pub struct AccountOutcome {
    pub counts: Counts,
    /// Folders that failed, with the reason; the others were synced.
    pub failed: Vec<(String, String)>,
    /// Every folder's result, in folder order (for `--json`).
    pub folders: Vec<FolderResult>,
    /// Results as the workers finished them, by position in the folder list.
    pending: Vec<(usize, String, anyhow::Result<FolderReport>)>,
}

/// One folder's result within an [`AccountOutcome`].
#[derive(Debug, Clone)]
pub struct FolderResult {
    pub folder: String,
    pub counts: Counts,
    /// Why the folder failed; `None` when it synced.
    pub error: Option<String>,
}

impl AccountOutcome {
    /// Sums the folders' results, reports failures, and prints a dry run's
    /// plan in folder order.
    fn report(&mut self, account: &Account, options: &SyncOptions, reporter: &Reporter) {
        self.pending.sort_by_key(|(index, _, _)| *index);
        let mut deferred: Vec<String> = Vec::new();
        let mut why_deferred = None;
        for (_, folder, result) in std::mem::take(&mut self.pending) {
            if let Some(d) = result
                .as_ref()
                .err()
                .and_then(|e| e.downcast_ref::<Deferred>())
            {
                why_deferred.get_or_insert_with(|| d.reason.clone());
                let reason = d.to_string();
                self.folders.push(FolderResult {
                    folder: folder.clone(),
                    counts: Counts::default(),
                    error: Some(reason.clone()),
                });
                self.failed.push((folder.clone(), reason));
                deferred.push(folder);
                continue;
            }
            match result {
                Ok(report) => {
                    if options.dry_run {
                        print_plan(&folder, &report.planned);
                    }
                    self.counts += report.counts;
                    self.folders.push(FolderResult {
                        folder,
                        counts: report.counts,
                        error: None,
                    });
                }
                Err(e) => {
                    let reason = format!("{e:#}");
                    reporter.error(format!("{}: folder {folder}: {reason}", account.name));
                    self.folders.push(FolderResult {
                        folder: folder.clone(),
                        counts: Counts::default(),
                        error: Some(reason.clone()),
                    });
                    self.failed.push((folder, reason));
                }
            }
        }
        if let Some(why) = why_deferred {
            reporter.warn(format!(
                "{}: the server asked to stop for now ({why}); {} folders left for the next \
                 run, which resumes where this one stopped: {}",
                account.name,
                deferred.len(),
                deferred.join(", ")
            ));
        }
    }
}

/// A folder job with its position in the folder list.
type NumberedJob = (usize, FolderWork);

/// Gives each job the server's status of its folder: from LIST-STATUS when
/// the server has it, else one STATUS per previously synced folder when
/// CONDSTORE makes the answer worth having.
fn attach_statuses(
    session: &mut Session,
    jobs: &mut [FolderJob],
    statuses: &mut HashMap<String, MailboxStatus>,
) -> anyhow::Result<()> {
    let by_status = !statuses.is_empty();
    for job in jobs.iter_mut().filter(|j| j.on_server) {
        job.status = statuses.remove(&job.remote_name);
        if job.status.is_none() && job.remote_name == "INBOX" {
            let key = statuses
                .keys()
                .find(|k| k.eq_ignore_ascii_case("INBOX"))
                .cloned();
            job.status = key.and_then(|k| statuses.remove(&k));
        }
        if job.status.is_none() && !by_status && job.in_state {
            job.status = session
                .status_with_modseq(&job.remote_name)
                .with_context(|| format!("cannot get the status of {}", job.display_name))?;
        }
    }
    Ok(())
}

/// The folders of a run, as [`split_unchanged`] sorts them.
struct WorkList {
    to_sync: Vec<NumberedJob>,
    unchanged: Vec<NumberedJob>,
    /// An upper bound on the messages the run downloads, from the
    /// servers' statuses: every message of a folder not synced before,
    /// and the UIDs assigned since the last sync of the others.
    expected_downloads: u64,
}

/// Separates the folders that need no work at all, so that a run where
/// nothing changed opens no further connection and selects nothing. The
/// others come out biggest first, so the last worker is not left alone
/// with the archive; each keeps its position in the list for reporting.
fn split_unchanged(
    state: &StateDb,
    jobs: Vec<FolderJob>,
    account: &Account,
) -> anyhow::Result<WorkList> {
    let archiving = account.archive_folder.is_some();
    let mut work = WorkList {
        to_sync: Vec::new(),
        unchanged: Vec::new(),
        expected_downloads: 0,
    };
    for (index, job) in jobs.into_iter().enumerate() {
        let window = account.window_of(&job.display_name);
        let folder = FolderWork::read(state, job, window.as_ref())?;
        // Copies kept here go to the archive folder even without a change.
        let to_archive = match (&folder.stored, archiving) {
            (Some(f), true) => state.has_kept_local(f.id)?,
            _ => false,
        };
        if folder.is_unchanged() && !to_archive {
            work.unchanged.push((index, folder));
            continue;
        }
        if let Some(status) = &folder.job.status {
            let new = match folder.stored.as_ref().and_then(|f| f.uidnext) {
                Some(before) => status.uidnext.map(|next| next.0.saturating_sub(before.0)),
                None => status.messages,
            };
            work.expected_downloads += u64::from(new.unwrap_or(0));
        }
        work.to_sync.push((index, folder));
    }
    work.to_sync.sort_by_key(|(_, folder)| {
        std::cmp::Reverse(
            folder
                .job
                .status
                .as_ref()
                .and_then(|s| s.messages)
                .unwrap_or(0),
        )
    });
    Ok(work)
}

/// The account's lock for this run, waiting as `--wait` allows; a dry run
/// changes nothing, not even the lock file, so it takes none.
pub fn lock_account(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<Option<AccountLock>> {
    if options.dry_run {
        return Ok(None);
    }
    Ok(Some(AccountLock::acquire_within(
        &account.name,
        &account.lock_file(),
        options.lock_wait,
        || reporter.info(format!("{}: waiting for another imapdir run", account.name)),
    )?))
}

/// Syncs one account. Errors are account-wide failures (lock, login, state);
/// a folder's failure is recorded in the outcome and the others go on.
pub fn sync_account(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<AccountOutcome> {
    let started = Instant::now();
    let _lock = lock_account(account, options, reporter)?;
    // The first connection waits for its host's cap; held to the end.
    let _first_slot = host_slots::HostSlot::wait(account);
    // Log in while the state is opened and checked and the Maildir is
    // listed: on a run with little to do, these are most of the time.
    let connecting = {
        let account = account.clone();
        let trace = options.trace_imap;
        std::thread::spawn(move || open_session(&account, trace))
    };
    let state = open_state(account, options.dry_run)?;
    let mut stored_folders = state.folders()?;
    let known_folders = known_of(&stored_folders);

    check_layout(&state, account, !stored_folders.is_empty(), options.dry_run)?;
    let root = &account.maildir;
    if !root.is_dir() {
        if !known_folders.is_empty() {
            anyhow::bail!(
                "Maildir {} is missing, but {} folders were synced into it before. \
                 Is the disk mounted? Nothing was changed on the server. \
                 If the mail really is gone, move the state file {} aside to start afresh",
                root.display(),
                known_folders.len(),
                account.state_file.display()
            );
        }
        if !options.dry_run {
            std::fs::create_dir_all(root)
                .with_context(|| format!("cannot create Maildir {}", root.display()))?;
        }
    }

    let (local, local_warnings) = if root.is_dir() {
        discover_folders(root, account.folder_rules.layout)
            .with_context(|| format!("cannot read Maildir {}", root.display()))?
    } else {
        (Vec::new(), Vec::new())
    };
    let mut session = connecting
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the login thread panicked")))?;
    let mut listing = session
        .list_folders(account.folder_rules.subscribed_only)
        .context("cannot list the server's folders")?;
    let mut list = folder_list(
        &listing,
        &local,
        &known_folders,
        root,
        &account.folder_rules,
    );
    if !list.renames.is_empty() {
        if options.dry_run {
            for (from, to) in &list.renames {
                crate::report::print_stdout(&format!(
                    "rename {} to {}\n",
                    from.display(),
                    to.display()
                ));
            }
        } else {
            rename_to_utf8(&list.renames, reporter, &account.name);
            let (local, _) = discover_folders(root, account.folder_rules.layout)
                .with_context(|| format!("cannot read Maildir {}", root.display()))?;
            list = folder_list(
                &listing,
                &local,
                &known_folders,
                root,
                &account.folder_rules,
            );
        }
    }
    let found = renames::find(&mut session, &state, &stored_folders, &list, &listing)?;
    if !found.is_empty() {
        if options.dry_run {
            for rename in &found {
                crate::report::print_stdout(&format!("{}\n", rename.describe()));
            }
            // Neither side of a rename is a folder to copy.
            list.jobs.retain(|j| {
                !found
                    .iter()
                    .any(|r| r.to == j.remote_name || r.from == j.remote_name)
            });
            list.gone
                .retain(|g| !found.iter().any(|r| r.from == g.remote_name));
        } else {
            let delimiter = listing.entries.iter().find_map(|e| e.delimiter);
            renames::apply(
                &mut session,
                &state,
                &found,
                delimiter,
                account.folder_rules.layout,
                reporter,
                &account.name,
            )?;
            // Everything read again under the new names.
            stored_folders = state.folders()?;
            if found.iter().any(|r| !r.on_server) {
                listing = session
                    .list_folders(account.folder_rules.subscribed_only)
                    .context("cannot list the server's folders")?;
            }
            let (local, _) = discover_folders(root, account.folder_rules.layout)
                .with_context(|| format!("cannot read Maildir {}", root.display()))?;
            list = folder_list(
                &listing,
                &local,
                &known_of(&stored_folders),
                root,
                &account.folder_rules,
            );
        }
    }
    let deletions = folder_deletes::find(
        &mut session,
        &state,
        &stored_folders,
        &list,
        account,
        options.allow_mass_delete,
        options.dry_run,
    )?;
    // Decided on here; neither is a folder to sync any more.
    list.jobs.retain(|j| {
        !deletions
            .delete
            .iter()
            .any(|d| d.remote_name == j.remote_name)
            && !deletions.kept.iter().any(|(f, _)| *f == j.display_name)
    });
    list.gone.retain(|g| {
        !deletions
            .delete
            .iter()
            .any(|d| d.remote_name == g.remote_name)
            && !deletions.kept.iter().any(|(f, _)| *f == g.display_name)
            && !deletions
                .kept_locally
                .iter()
                .any(|(f, _)| *f == g.display_name)
    });
    list.warnings
        .extend(deletions.kept_locally.iter().map(|(_, w)| w.clone()));
    if options.dry_run {
        for deletion in &deletions.delete {
            crate::report::print_stdout(&format!("{}\n", deletion.describe()));
        }
    } else {
        for line in folder_deletes::apply(&mut session, &state, &deletions, root)? {
            reporter.info(format!("{}: {line}", account.name));
        }
        if account.folder_deletes != crate::model::FolderDeletes::None {
            let keep = std::time::Duration::from_secs(account.deleted_folder_days * 86_400);
            if let Err(e) = crate::maildir::purge_trash(root, keep) {
                reporter.warn(format!(
                    "{}: cannot empty the folder trash: {e}",
                    account.name
                ));
            }
        }
    }
    list.conflicts.extend(deletions.kept);
    let conflicts = std::mem::take(&mut list.conflicts);
    let gone = list.gone.iter().filter(|g| g.on_disk).map(|g| g.warning());
    for w in local_warnings
        .iter()
        .cloned()
        .chain(list.warnings.clone())
        .chain(gone)
    {
        reporter.warn(format!("{}: {w}", account.name));
    }
    if !options.dry_run {
        record_local_names(&state, &stored_folders, &list.jobs)?;
    }
    attach_statuses(&mut session, &mut list.jobs, &mut listing.statuses)?;
    let remote_delete = trash_of(account, &list.jobs, &list.skipped, &listing.entries);
    let WorkList {
        mut to_sync,
        unchanged,
        expected_downloads,
    } = split_unchanged(&state, list.jobs, account)?;
    for (_, work) in to_sync.iter_mut() {
        work.remote_delete = match &remote_delete {
            // The trash's own deletions are expunges.
            RemoteDelete::MoveTo(trash) if *trash == work.job.remote_name => RemoteDelete::Expunge,
            other => other.clone(),
        };
    }

    // Compression pays for its round trip only with much to download.
    let compress = compress_wanted(account, expected_downloads);
    if compress {
        crate::connect::compress(&mut session, account)?;
    }

    // A dry run says what the window keeps out of unchanged folders too.
    let mut unchanged_plans = Vec::with_capacity(unchanged.len());
    for (index, work) in unchanged {
        let mut report = FolderReport::default();
        if let (true, Some(f)) = (options.dry_run, &work.stored) {
            let out = state.window_out_count(f.id)?;
            if let (Some(window), true) = (&work.window, out > 0) {
                report.planned.push(format!(
                    "leave {out} server messages outside the window ({})",
                    window.spec()
                ));
            }
        }
        unchanged_plans.push((index, work.job.display_name, report));
    }

    // Moves span two folders: made before either folder syncs.
    let moves = find_moves(
        &mut session,
        &state,
        &mut to_sync,
        account,
        options,
        reporter,
    )?;
    let mut outcome = run_workers(
        account,
        options,
        reporter,
        session,
        state,
        to_sync,
        expected_downloads,
    )?;
    outcome.counts.moved += moves;
    for (index, folder, report) in unchanged_plans {
        outcome.pending.push((index, folder, Ok(report)));
    }
    let listed = outcome.pending.len();
    for (i, (folder, reason)) in conflicts.into_iter().enumerate() {
        outcome
            .pending
            .push((listed + i, folder, Err(anyhow::anyhow!(reason))));
    }
    outcome.report(account, options, reporter);
    if reporter.chatty() || !outcome.failed.is_empty() {
        let line = crate::report::summary_line(
            &account.name,
            &outcome.counts,
            outcome.failed.len(),
            started.elapsed(),
        );
        if options.dry_run {
            reporter.info(line);
        } else if reporter.chatty() {
            crate::report::print_stdout(&format!("{line}\n"));
        }
    }
    Ok(outcome)
}

/// The layout a Maildir was synced with must stay the configured one: read
/// in another layout, every synced folder would look missing and a second
/// tree would be written beside the first. The first sync records it; a
/// state from before layouts were recorded was written in `verbatim`.
fn check_layout(
    state: &StateDb,
    account: &Account,
    has_folders: bool,
    dry_run: bool,
) -> anyhow::Result<()> {
    let configured = account.folder_rules.layout;
    let recorded = state.setting("layout")?;
    let synced_with = match recorded.as_deref() {
        Some(text) => Layout::from_recorded(text).ok_or_else(|| {
            ConfigError(format!(
                "the state {} records the layout {text:?}, which this imapdir does not know",
                account.state_file.display()
            ))
        })?,
        None if has_folders => Layout::Verbatim,
        None => configured,
    };
    if synced_with != configured {
        return Err(ConfigError(format!(
            "the Maildir {} was synced with {}, and the config now says {}. Nothing was \
             changed. Put {} back, or move the Maildir to the new layout without \
             transferring anything: imapdir relayout {}",
            account.maildir.display(),
            synced_with.config_text(),
            configured.config_text(),
            synced_with.config_text(),
            account.name
        ))
        .into());
    }
    if recorded.is_none() && !dry_run {
        state.set_setting("layout", &configured.describe())?;
    }
    Ok(())
}

/// The state's folders as the folder list reads them.
pub fn known_of(stored: &[crate::state::FolderState]) -> Vec<KnownFolder> {
    stored
        .iter()
        .map(|f| KnownFolder {
            remote_name: f.name.clone(),
            local_name: f
                .local_name
                .as_ref()
                .map(|n| n.split('/').map(str::to_string).collect()),
        })
        .collect()
}

/// Records where folders synced before local names were recorded live,
/// so later changes of the naming rules leave them there.
fn record_local_names(
    state: &StateDb,
    stored: &[crate::state::FolderState],
    jobs: &[FolderJob],
) -> anyhow::Result<()> {
    for job in jobs.iter().filter(|j| j.in_state && j.on_disk) {
        if let Some(f) = stored
            .iter()
            .find(|f| f.name == job.remote_name && f.local_name.is_none())
        {
            state.set_local_name(f.id, &job.local_name.join("/"))?;
        }
    }
    Ok(())
}

/// Renames directories to their UTF-8 spelling, parents first. A rename
/// that cannot be done is a warning: the folder syncs under its old name.
fn rename_to_utf8(renames: &[(PathBuf, PathBuf)], reporter: &Reporter, account: &str) {
    for (from, to) in renames {
        if to.exists() {
            reporter.warn(format!(
                "{account}: not renaming {} to {}: that name is taken",
                from.display(),
                to.display()
            ));
            continue;
        }
        let renamed = std::fs::rename(from, to).and_then(|()| match to.parent() {
            Some(parent) => std::fs::File::open(parent)?.sync_all(),
            None => Ok(()),
        });
        match renamed {
            Ok(()) => reporter.info(format!(
                "{account}: renamed {} to {}",
                from.display(),
                to.display()
            )),
            Err(e) => reporter.warn(format!(
                "{account}: cannot rename {} to {}: {e}",
                from.display(),
                to.display()
            )),
        }
    }
}

fn open_state(account: &Account, dry_run: bool) -> anyhow::Result<StateDb> {
    let db = if dry_run {
        StateDb::open_read_only(&account.state_file)
    } else {
        StateDb::open(&account.state_file)
    };
    Ok(db?)
}

/// The server folder that `trash` names: one the account syncs, or one it
/// leaves out (a Gmail user seldom wants Trash copied; deleting into it
/// works all the same).
fn trash_of(
    account: &Account,
    jobs: &[FolderJob],
    skipped: &[crate::folders::SkippedFolder],
    entries: &[crate::imap::ListEntry],
) -> RemoteDelete {
    use crate::config::Trash;
    use crate::folders::Skip;
    let Some(trash) = &account.trash else {
        return RemoteDelete::Expunge;
    };
    let attributes = |remote: &str| {
        entries
            .iter()
            .find(|e| e.name == remote)
            .map(|e| e.attributes.as_slice())
            .unwrap_or_default()
    };
    let synced = jobs
        .iter()
        .filter(|j| j.on_server)
        .map(|j| (j.remote_name.as_str(), Some(j.display_name.as_str())));
    // Left out by the patterns, but a folder of the account's namespace.
    let left_out = skipped
        .iter()
        .filter(|s| {
            matches!(
                s.reason,
                Skip::Excluded(_) | Skip::SpecialUse(_) | Skip::Unsubscribed
            )
        })
        .map(|s| (s.remote_name.as_str(), s.display_name.as_deref()));
    let found = synced
        .chain(left_out)
        .find(|(remote, display)| match trash {
            Trash::SpecialUse => attributes(remote)
                .iter()
                .any(|a| a.eq_ignore_ascii_case("\\Trash")),
            Trash::Folder(name) => *display == Some(name.as_str()) || remote == name,
        });
    match (found, trash) {
        (Some((remote, _)), _) => RemoteDelete::MoveTo(remote.to_string()),
        (None, Trash::SpecialUse) => RemoteDelete::Unavailable(
            "trash = \"special-use\", but no folder of the server is marked \\Trash".into(),
        ),
        (None, Trash::Folder(name)) => RemoteDelete::Unavailable(format!(
            "trash = {name:?} is not a folder of the server (imapdir folders lists them)"
        )),
    }
}

/// Makes the moves between folders, local ones on the server and the
/// server's ones locally, before any folder syncs; a dry run prints them
/// and leaves them out of the folders' plans. Returns how many were made.
fn find_moves(
    session: &mut Session,
    state: &StateDb,
    to_sync: &mut [NumberedJob],
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<u64> {
    let mut found = Vec::new();
    {
        let folders: Vec<&FolderWork> = to_sync.iter().map(|(_, w)| w).collect();
        let mut db = state.open_another()?;
        let local = local_moves::run(
            session,
            &mut db,
            &folders,
            options.dry_run,
            options.direction.push,
            reporter,
            &account.name,
        )
        .context("cannot make the local moves on the server")?;
        found.push(local);
        if options.direction.pull {
            let server = server_moves::run(
                session,
                &mut db,
                &folders,
                options.dry_run,
                reporter,
                &account.name,
            )
            .context("cannot follow the server's moves")?;
            found.push(server);
        }
    }
    let mut moved = 0;
    for moves in found {
        moved += moves.moved;
        for line in moves.described {
            crate::report::print_stdout(&format!("{line}\n"));
        }
        for m in moves.dry {
            to_sync[m.from].1.dry_moves.leaving.insert(m.uid);
            let arriving = &mut to_sync[m.to].1.dry_moves;
            match m.arrival {
                Ok(base) => arriving.arriving_files.insert(base),
                Err(uid) => arriving.arriving_uids.insert(uid),
            };
        }
    }
    Ok(moved)
}

/// Runs folder jobs on up to `jobs` connections. The first worker reuses
/// the session that listed the folders; every worker has a connection of
/// its own to the database checked at the start, which records at the end
/// the stamps that settled meanwhile.
fn run_workers(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
    first_session: Session,
    state: StateDb,
    jobs: Vec<NumberedJob>,
    expected_downloads: u64,
) -> anyhow::Result<AccountOutcome> {
    let compress = compress_wanted(account, expected_downloads);
    if jobs.is_empty() {
        let _ = first_session.logout();
        return Ok(AccountOutcome::default());
    }
    let workers = options
        .jobs
        .unwrap_or_else(|| {
            let light = expected_downloads < HEAVY_DOWNLOADS;
            account.jobs(light && is_loopback(&account.host, account.port))
        })
        .clamp(1, jobs.len().max(1));
    // The first worker has the first session's slot; the others only
    // the host's free ones, each freed when its worker ends.
    let mut slots: Vec<Option<host_slots::HostSlot>> = vec![None];
    slots.extend((1..workers).map_while(|_| host_slots::HostSlot::try_take(account).map(Some)));
    let workers = slots.len();
    let mut states = Vec::with_capacity(workers);
    for _ in 0..workers {
        states.push(state.open_another()?);
    }
    // A dry run writes nothing, so it has nothing to witness.
    let witnesses = if options.dry_run {
        None
    } else {
        WitnessHub::new()
    };
    let queue = Mutex::new(jobs.into_iter().collect::<VecDeque<_>>());
    let results: Mutex<Vec<(usize, String, anyhow::Result<FolderReport>)>> = Mutex::new(Vec::new());
    let first_session = Mutex::new(Some(first_session));

    let backoff = Backoff::new(workers);
    std::thread::scope(|scope| {
        for (mut state, slot) in states.into_iter().zip(slots) {
            let (queue, results, first_session, witnesses, backoff) =
                (&queue, &results, &first_session, &witnesses, &backoff);
            scope.spawn(move || {
                let _slot = slot;
                let mut connection = WorkerConnection {
                    session: first_session.lock().expect("session slot").take(),
                    compress,
                };
                while backoff.stopped().is_none() {
                    let Some((index, job)) = queue.lock().expect("job queue").pop_front() else {
                        break;
                    };
                    let connected = connection.session.is_some();
                    let result = run_job(
                        account,
                        options,
                        reporter,
                        &mut connection,
                        &mut state,
                        &job,
                        witnesses.as_ref(),
                    );
                    if let Err(e) = &result {
                        match backoff.decide(index, e, connected) {
                            Next::GiveBack => {
                                queue.lock().expect("job queue").push_front((index, job));
                                break;
                            }
                            Next::Retry(wait) => {
                                reporter.info(format!(
                                    "{}: {}: the server asks to wait {} s; waiting",
                                    account.name,
                                    job.job.display_name,
                                    wait.as_secs_f32().ceil()
                                ));
                                std::thread::sleep(wait);
                                queue.lock().expect("job queue").push_front((index, job));
                                continue;
                            }
                            Next::Report | Next::Stop => {}
                        }
                    }
                    results.lock().expect("results").push((
                        index,
                        job.job.display_name.clone(),
                        result,
                    ));
                }
                backoff.leave();
                if let Some(s) = connection.session {
                    let _ = s.logout();
                }
            });
        }
    });
    // The folders not reached wait for the next run, in one line.
    let mut results = results.into_inner().expect("results");
    let left = queue.into_inner().expect("job queue");
    if !left.is_empty() {
        // Stopped, or a folder given back just as the last other worker ended.
        let reason = backoff
            .stopped()
            .unwrap_or_else(|| "the server refused further connections".to_string());
        for (index, job) in left {
            results.push((
                index,
                job.job.display_name,
                Err(Deferred {
                    reason: reason.clone(),
                }
                .into()),
            ));
        }
    }
    let fewer = backoff.gave_back.load(std::sync::atomic::Ordering::SeqCst);
    if fewer > 0 {
        reporter.info(format!(
            "{}: the server refused {fewer} further connections; synced on {}",
            account.name,
            workers - fewer
        ));
    }
    let results = Mutex::new(results);

    let mut pending = results.into_inner().expect("results");
    record_settled_stamps(&state, &mut pending)?;
    if let Some(hub) = witnesses {
        WitnessHub::close_in_background(hub);
    }
    Ok(AccountOutcome {
        pending,
        ..AccountOutcome::default()
    })
}

/// New messages from which a run to a server on this machine uses every
/// connection `jobs` allows: a bulk download keeps both sides busy
/// enough to pay for the logins (the large benchmark preset's first sync
/// took 22-23 s with 4 connections and 24-32 s with 2 on 2 cores).
const HEAVY_DOWNLOADS: u64 = 2_000;

/// Records the stamps folders' own writes left that have settled while
/// the other folders synced.
fn record_settled_stamps(
    state: &StateDb,
    results: &mut [(usize, String, anyhow::Result<FolderReport>)],
) -> anyhow::Result<()> {
    for (_, _, result) in results.iter_mut() {
        let Ok(report) = result else { continue };
        if let Some(unsettled) = report.unsettled.take() {
            let folder_id = unsettled.folder_id;
            if let Some(stamp) = unsettled.trusted() {
                state.set_stamp(folder_id, stamp)?;
            }
        }
    }
    Ok(())
}

/// A dry run's plan for one folder on stdout.
fn print_plan(folder: &str, lines: &[String]) {
    let mut text = if lines.is_empty() {
        format!("{folder}: nothing to do\n")
    } else {
        format!("{folder}:\n")
    };
    for l in lines {
        text.push_str("  ");
        text.push_str(l);
        text.push('\n');
    }
    crate::report::print_stdout(&text);
}

/// A worker's connection, and whether it is compressed when it opens (a
/// run with much to download).
struct WorkerConnection {
    session: Option<Session>,
    compress: bool,
}

/// A worker's connection, opened on first use: a folder with nothing to do
/// on the server (its status unchanged, only local scanning needed) costs
/// no connection at all. A connection lost by an earlier folder is
/// reopened here.
pub struct LazySession<'a> {
    slot: &'a mut Option<Session>,
    account: &'a Account,
    trace: bool,
    /// Compress the connection when it opens (a run with much to download).
    compress: bool,
    /// Keyword tables handed over before the connection was opened: the
    /// session gets them when it is.
    keywords: Vec<(String, crate::model::Keywords)>,
}

impl<'a> LazySession<'a> {
    /// The account this connection logs in to (and whose settings apply).
    pub fn account(&self) -> &'a Account {
        self.account
    }

    pub fn get(&mut self) -> anyhow::Result<&mut Session> {
        if self.slot.is_none() {
            let mut session = open_session(self.account, self.trace)?;
            if self.compress {
                crate::connect::compress(&mut session, self.account)?;
            }
            *self.slot = Some(session);
        }
        let session = self.slot.as_mut().expect("session just opened");
        for (mailbox, table) in self.keywords.drain(..) {
            session.set_keywords(&mailbox, table);
        }
        Ok(session)
    }

    /// Makes `table` the keyword table of `mailbox` for this session,
    /// without opening the connection.
    pub fn set_keywords(&mut self, mailbox: &str, table: crate::model::Keywords) {
        match self.slot.as_mut() {
            Some(session) => session.set_keywords(mailbox, table),
            None => {
                self.keywords.retain(|(m, _)| m != mailbox);
                self.keywords.push((mailbox.to_string(), table));
            }
        }
    }

    /// The keyword table of `mailbox` as the session has it now (with the
    /// slots it named for new keywords).
    pub fn keywords(&self, mailbox: &str) -> Option<&crate::model::Keywords> {
        match self.slot.as_ref() {
            Some(session) => session.keywords(mailbox),
            None => self
                .keywords
                .iter()
                .find(|(m, _)| m == mailbox)
                .map(|(_, t)| t),
        }
    }

    /// Takes the keyword table of `mailbox` out of the session.
    pub fn take_keywords(&mut self, mailbox: &str) -> Option<crate::model::Keywords> {
        if let Some(at) = self.keywords.iter().position(|(m, _)| m == mailbox) {
            return Some(self.keywords.remove(at).1);
        }
        self.slot.as_mut().and_then(|s| s.take_keywords(mailbox))
    }

    /// Responses the parser skipped so far on this connection.
    pub fn skipped_responses(&self) -> u64 {
        self.slot.as_ref().map_or(0, |s| s.skipped_responses())
    }

    pub fn last_skipped_response(&self) -> Option<String> {
        self.slot
            .as_ref()
            .and_then(|s| s.last_skipped_response().map(String::from))
    }
}

/// One folder on this worker's connection.
fn run_job(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
    connection: &mut WorkerConnection,
    db: &mut StateDb,
    job: &FolderWork,
    witnesses: Option<&Arc<WitnessHub>>,
) -> anyhow::Result<FolderReport> {
    let mut lazy = LazySession {
        slot: &mut connection.session,
        account,
        trace: options.trace_imap,
        compress: connection.compress,
        keywords: Vec::new(),
    };
    let result = folder::sync_folder(&mut lazy, db, job, options, reporter, witnesses);
    if let Err(e) = &result {
        let lost = e
            .chain()
            .filter_map(|c| c.downcast_ref::<crate::imap::ImapError>())
            .any(|ie| ie.is_connection_lost());
        if lost {
            connection.session = None;
        }
    }
    result
}
