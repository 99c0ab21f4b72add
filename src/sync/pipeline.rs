//! One account's run from start to end, the same for `sync` and `watch`:
//! the pre-sync hook, the sync, the outcome recorded for `status`, and the
//! post-sync hook. A dry run changes nothing, so it runs no hooks and
//! records nothing.

use crate::config::{Account, Protocol};
use crate::hooks::{self, PreSyncFailed, SyncStatus, SyncSummary};
use crate::report::{Counts, Reporter};
use crate::state::{StateDb, ACCOUNT_RESULT};

use super::{sync_account, AccountOutcome, SyncOptions};

/// How an account's run ended.
pub enum AccountRun {
    /// The pre-sync hook failed, so the account was not synced.
    Skipped(PreSyncFailed),
    /// The sync ran; `warnings` are what went wrong around it (the outcome
    /// not recorded, the post-sync hook failing), which does not change
    /// how the sync went.
    Synced {
        result: anyhow::Result<AccountOutcome>,
        warnings: Vec<String>,
    },
}

/// Runs one account: hooks, sync and the record of its outcome.
pub fn run_account(account: &Account, options: &SyncOptions, reporter: &Reporter) -> AccountRun {
    let hooks = !options.dry_run;
    if hooks {
        if let Err(e) = hooks::pre_sync(account) {
            return AccountRun::Skipped(e);
        }
    }
    let mut result = match account.protocol {
        Protocol::Imap => sync_account(account, options, reporter),
        Protocol::Pop3 => super::pop3_import::import_account(account, options, reporter),
    };
    let mut warnings = Vec::new();
    if account.outbox.is_some() {
        outbox_step(account, options, reporter, &mut result, &mut warnings);
    }
    if !options.dry_run {
        if let Err(e) = record_outcome(account, &result) {
            warnings.push(format!("cannot record the result: {e:#}"));
        }
    }
    if hooks {
        if let Err(warning) = hooks::post_sync(account, &sync_summary(&result)) {
            warnings.push(warning);
        }
    }
    AccountRun::Synced { result, warnings }
}

/// Sends the outbox after the sync (whether or not the sync succeeded:
/// sending needs only the SMTP server). A failure of the outbox fails the
/// account's run as a failed folder "Outbox" does.
fn outbox_step(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
    result: &mut anyhow::Result<AccountOutcome>,
    warnings: &mut Vec<String>,
) {
    let folder = account
        .outbox
        .as_ref()
        .map(|o| o.folder.clone())
        .unwrap_or_default();
    match super::outbox::send_outbox(account, options, reporter) {
        Ok(Some(report)) => {
            if let Ok(outcome) = result {
                outcome.counts.sent += report.sent;
            }
        }
        Ok(None) => {}
        // Another run holds the account: it sends.
        Err(e) if e.chain().any(|c| c.is::<crate::lock::Locked>()) => {}
        Err(e) => match result {
            Ok(outcome) => {
                // The folders' failures were reported already; this one now.
                reporter.error(format!("{}: {folder}: {e:#}", account.name));
                outcome.failed.push((folder, format!("{e:#}")));
            }
            Err(_) => warnings.push(format!("outbox: {e:#}")),
        },
    }
}

/// What the post-sync hook is told about an account's sync.
pub fn sync_summary(result: &anyhow::Result<AccountOutcome>) -> SyncSummary {
    match result {
        Ok(outcome) => SyncSummary {
            counts: outcome.counts,
            failed_folders: outcome.failed.len(),
            status: if outcome.failed.is_empty() {
                SyncStatus::Ok
            } else {
                SyncStatus::Partial
            },
        },
        Err(_) => SyncSummary {
            counts: Counts::default(),
            failed_folders: 0,
            status: SyncStatus::Failed,
        },
    }
}

/// Records how a sync run ended in the state, for `status`. Best effort:
/// returns an error only for the caller to show as a warning.
pub fn record_outcome(
    account: &Account,
    result: &anyhow::Result<AccountOutcome>,
) -> anyhow::Result<()> {
    if !account.state_file.exists() {
        return Ok(());
    }
    if let Err(e) = result {
        // Another run holds the account: it records its own result.
        if e.chain().any(|c| c.is::<crate::lock::Locked>()) {
            return Ok(());
        }
    }
    // A run that got this far checked the file when it opened it; after a
    // failure, check again rather than write into a damaged file.
    let mut db = match result {
        Ok(_) => StateDb::reopen(&account.state_file)?,
        Err(_) => StateDb::open(&account.state_file)?,
    };
    match result {
        Ok(outcome) => {
            let mut results = vec![(ACCOUNT_RESULT, None)];
            results.extend(
                outcome
                    .folders
                    .iter()
                    .map(|f| (f.folder.as_str(), f.error.as_deref())),
            );
            db.record_sync_results(&results)?;
        }
        Err(e) => {
            let error = format!("{e:#}");
            db.record_sync_results(&[(ACCOUNT_RESULT, Some(error.as_str()))])?;
        }
    }
    Ok(())
}
