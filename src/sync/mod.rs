//! Syncing one account: the lock, the folder list, and a pool of workers
//! that each own an IMAP connection and take folders from a shared queue.
//!
//! Workers are plain threads rather than a rayon pool: each must keep its
//! own logged-in session across folders, and a folder job blocks on the
//! network, which is not what a work-stealing CPU pool is for.

pub mod apply;
pub mod folder;
pub mod folders;
pub mod plan;
pub mod repair;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;

use crate::config::Account;
use crate::connect::open_session;
use crate::imap::Session;
use crate::lock::AccountLock;
use crate::maildir::discover_folders;
use crate::report::{Counts, Reporter};
use crate::state::StateDb;

pub use folder::FolderReport;
pub use folders::{folder_list, FolderJob, FolderList};
pub use plan::Direction;

/// What the user asked of this run.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    pub direction: Direction,
    pub dry_run: bool,
    /// Overrides the account's `jobs`.
    pub jobs: Option<usize>,
    pub trace_imap: bool,
}

/// How one account's sync went.
#[derive(Debug, Default)]
pub struct AccountOutcome {
    pub counts: Counts,
    /// Folders that failed, with the reason; the others were synced.
    pub failed: Vec<(String, String)>,
    /// Every folder's result, in folder order (for `--json`).
    pub folders: Vec<FolderResult>,
}

/// One folder's result within an [`AccountOutcome`].
#[derive(Debug, Clone)]
pub struct FolderResult {
    pub folder: String,
    pub counts: Counts,
    /// Why the folder failed; `None` when it synced.
    pub error: Option<String>,
}

/// Syncs one account. Errors are account-wide failures (lock, login, state);
/// a folder's failure is recorded in the outcome and the others go on.
pub fn sync_account(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<AccountOutcome> {
    let started = Instant::now();
    // A dry run changes nothing, not even the lock file.
    let _lock = if options.dry_run {
        None
    } else {
        Some(AccountLock::acquire(&account.name, &account.lock_file())?)
    };
    let state = open_state(account, options.dry_run)?;
    let known_folders: BTreeSet<String> = state.folders()?.into_iter().map(|f| f.name).collect();

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

    let mut session = open_session(account, options.trace_imap)?;
    let remote = session.list().context("cannot list the server's folders")?;
    let (local, local_warnings) = if root.is_dir() {
        discover_folders(root).with_context(|| format!("cannot read Maildir {}", root.display()))?
    } else {
        (Vec::new(), Vec::new())
    };
    let list = folder_list(&remote, &local, &known_folders, root);
    for w in local_warnings.iter().chain(&list.warnings) {
        reporter.warn(format!("{}: {w}", account.name));
    }
    drop(state);

    let outcome = run_workers(account, options, reporter, session, list.jobs)?;
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

fn open_state(account: &Account, dry_run: bool) -> anyhow::Result<StateDb> {
    let db = if dry_run {
        StateDb::open_read_only(&account.state_file)
    } else {
        StateDb::open(&account.state_file)
    };
    Ok(db?)
}

/// Runs folder jobs on up to `jobs` connections. The first worker reuses
/// the session that listed the folders.
fn run_workers(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
    first_session: Session,
    jobs: Vec<FolderJob>,
) -> anyhow::Result<AccountOutcome> {
    let workers = options
        .jobs
        .unwrap_or(account.jobs)
        .clamp(1, jobs.len().max(1));
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let results: Mutex<Vec<(usize, String, anyhow::Result<FolderReport>)>> = Mutex::new(Vec::new());
    let first_session = Mutex::new(Some(first_session));

    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut session = first_session.lock().expect("session slot").take();
                let mut state = None;
                loop {
                    let Some((index, job)) = queue.lock().expect("job queue").pop_front() else {
                        break;
                    };
                    let result =
                        run_job(account, options, reporter, &mut session, &mut state, &job);
                    results.lock().expect("results").push((
                        index,
                        job.display_name.clone(),
                        result,
                    ));
                }
                if let Some(s) = session {
                    let _ = s.logout();
                }
            });
        }
    });

    let mut outcome = AccountOutcome::default();
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(index, _, _)| *index);
    for (_, folder, result) in results {
        match result {
            Ok(report) => {
                if options.dry_run {
                    print_plan(&folder, &report.planned);
                }
                outcome.counts += report.counts;
                outcome.folders.push(FolderResult {
                    folder,
                    counts: report.counts,
                    error: None,
                });
            }
            Err(e) => {
                let reason = format!("{e:#}");
                reporter.error(format!("{}: folder {folder}: {reason}", account.name));
                outcome.folders.push(FolderResult {
                    folder: folder.clone(),
                    counts: Counts::default(),
                    error: Some(reason.clone()),
                });
                outcome.failed.push((folder, reason));
            }
        }
    }
    Ok(outcome)
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

/// One folder on this worker's connection, reconnecting first if an earlier
/// folder lost it.
fn run_job(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
    session: &mut Option<Session>,
    state: &mut Option<StateDb>,
    job: &FolderJob,
) -> anyhow::Result<FolderReport> {
    if session.is_none() {
        *session = Some(open_session(account, options.trace_imap)?);
    }
    if state.is_none() {
        *state = Some(open_state(account, options.dry_run)?);
    }
    let s = session.as_mut().expect("session just opened");
    let db = state.as_mut().expect("state just opened");
    let result = folder::sync_folder(s, db, job, options, reporter);
    if let Err(e) = &result {
        let lost = e
            .chain()
            .filter_map(|c| c.downcast_ref::<crate::imap::ImapError>())
            .any(|ie| ie.is_connection_lost());
        if lost {
            *session = None;
        }
    }
    result
}
