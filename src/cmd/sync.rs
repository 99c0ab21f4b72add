//! `imapdir sync`: every selected account once, through the account
//! pipeline, and one summary document.

use crate::cli::{Cli, SyncArgs};
use crate::config::{Account, Config, ConfigError};
use crate::exit_codes::ExitCode;
use crate::report::Reporter;
use crate::sync::{run_account, AccountRun, Direction, SyncOptions};

use super::output::{self as json, emit, Sink};

pub fn command(
    cli: &Cli,
    config: &Config,
    args: &SyncArgs,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&args.accounts)?;
    let narrowed: Vec<Account>;
    let accounts: Vec<&Account> = if args.folders.is_empty() {
        accounts
    } else {
        narrowed = accounts
            .iter()
            .map(|a| {
                let mut a = (*a).clone();
                a.folder_rules.patterns = a
                    .folder_rules
                    .patterns
                    .narrowed(&args.folders)
                    .map_err(ConfigError)?;
                Ok(a)
            })
            .collect::<Result<_, ConfigError>>()?;
        narrowed.iter().collect()
    };
    let direction = match (args.pull, args.push) {
        (true, false) => Direction::PULL,
        (false, true) => Direction::PUSH,
        _ => Direction::BOTH,
    };
    let options = SyncOptions {
        direction,
        dry_run: args.dry_run,
        jobs: args.jobs.map(usize::from),
        trace_imap: cli.trace_imap,
        allow_mass_delete: args.allow_mass_delete,
        allow_first_copy: args.allow_first_copy,
        lock_wait: args.wait.map(std::time::Duration::from_secs),
    };
    let reporter = Reporter::new(cli.verbose, !args.dry_run);
    let mut worst = ExitCode::Success;
    let mut docs: Vec<Option<json::SyncAccount>> = accounts.iter().map(|_| None).collect();
    let (done, each_finished) = std::sync::mpsc::channel();
    let queue = std::sync::Mutex::new(accounts.iter().copied().enumerate());
    let at_once = config.accounts_at_once.min(accounts.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..at_once {
            let (done, queue, options, reporter) = (done.clone(), &queue, &options, &reporter);
            scope.spawn(move || loop {
                let Some((index, account)) = queue.lock().expect("account queue").next() else {
                    break;
                };
                let run = run_account(account, options, reporter);
                // Before any error: an alert often says why ("log in on the web").
                let alerts = json::show_alerts(&account.name);
                if done.send((index, account, run, alerts)).is_err() {
                    break;
                }
            });
        }
        drop(done);
        // Each account's errors as it ends; the document keeps the accounts' order.
        for (index, account, run, alerts) in each_finished {
            let (code, doc) = finish_account(account, run, alerts, &reporter);
            worst = worst.max(code);
            docs[index] = Some(doc);
        }
    });
    let docs: Vec<json::SyncAccount> = docs.into_iter().flatten().collect();
    emit(
        sink,
        &json::SyncDoc {
            version: json::SCHEMA_VERSION,
            command: "sync",
            dry_run: args.dry_run,
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}

/// Reports how one account's run ended: its exit code and its document.
fn finish_account(
    account: &Account,
    run: AccountRun,
    alerts: Vec<String>,
    reporter: &Reporter,
) -> (ExitCode, json::SyncAccount) {
    let (result, warnings) = match run {
        AccountRun::Skipped(e) => {
            reporter.error(e.to_string());
            let mut doc = json::SyncAccount::failed(&account.name, "skipped", e.to_string());
            doc.alerts = alerts;
            return (ExitCode::PartialFailure, doc);
        }
        AccountRun::Synced { result, warnings } => (result, warnings),
    };
    let code = match &result {
        Ok(outcome) if outcome.failed.is_empty() => ExitCode::Success,
        Ok(_) => ExitCode::PartialFailure,
        Err(e) => {
            let code = crate::exit_codes::for_error(e);
            reporter.error(format!("{}: {e:#}", account.name));
            code.max(ExitCode::PartialFailure)
        }
    };
    for warning in warnings {
        reporter.warn(format!("{}: {warning}", account.name));
    }
    let mut doc = match &result {
        Ok(outcome) => json::SyncAccount::from_outcome(&account.name, outcome),
        Err(e) => json::SyncAccount::failed(&account.name, "failed", format!("{e:#}")),
    };
    doc.alerts = alerts;
    (code, doc)
}
