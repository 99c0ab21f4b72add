//! The subcommands, each returning how the run ended.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{Cli, Command, SyncArgs};
use crate::config::{Config, Environment};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::hooks::{SyncStatus, SyncSummary};
use crate::mailbox_name::{local_components, local_path};
use crate::report::{print_stdout, Counts, Reporter};
use crate::sync::{sync_account, AccountOutcome, Direction, SyncOptions};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Generate { dir } = &cli.command {
        crate::generate::generate(dir)?;
        return Ok(ExitCode::Success);
    }
    let env = Environment::from_process();
    let path = match &cli.config {
        Some(p) => p.clone(),
        None => env.default_config_path()?,
    };
    let config = Config::load(&path, &env)?;
    match &cli.command {
        Command::Sync(args) => sync(&cli, &config, args),
        Command::Folders { account } => folders(&cli, &config, account.as_deref()),
        Command::Check { account } => check(&cli, &config, account.as_deref()),
        Command::Generate { .. } => unreachable!("handled before the config is read"),
    }
}

fn names(account: Option<&str>) -> Vec<String> {
    account.map(|a| vec![a.to_string()]).unwrap_or_default()
}

fn sync(cli: &Cli, config: &Config, args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&args.accounts)?;
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
    };
    let reporter = Reporter::new(cli.verbose, !args.dry_run);
    let mut worst = ExitCode::Success;
    for account in accounts {
        // Dry runs change nothing, so they run no hooks either.
        let hooks = !args.dry_run;
        if hooks {
            if let Err(e) = crate::hooks::pre_sync(account) {
                reporter.error(e.to_string());
                worst = worst.max(ExitCode::PartialFailure);
                continue;
            }
        }
        let result = sync_account(account, &options, &reporter);
        let code = match &result {
            Ok(outcome) if outcome.failed.is_empty() => ExitCode::Success,
            Ok(_) => ExitCode::PartialFailure,
            Err(e) => {
                let code = crate::exit_codes::for_error(e);
                reporter.error(format!("{}: {e:#}", account.name));
                code.max(ExitCode::PartialFailure)
            }
        };
        worst = worst.max(code);
        if hooks {
            if let Err(warning) = crate::hooks::post_sync(account, &sync_summary(&result)) {
                reporter.warn(warning);
            }
        }
    }
    Ok(worst)
}

/// What the post-sync hook is told about an account's sync.
fn sync_summary(result: &anyhow::Result<AccountOutcome>) -> SyncSummary {
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

fn folders(cli: &Cli, config: &Config, account: Option<&str>) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&names(account))?;
    let many = accounts.len() > 1;
    for account in accounts {
        let mut session = open_session(account, cli.trace_imap)?;
        let list = session.list().context("cannot list folders")?;
        let _ = session.logout();
        for entry in list {
            let path: Option<PathBuf> = local_components(&entry.name, entry.delimiter)
                .ok()
                .map(|c| local_path(&account.maildir, &c));
            let shown = match (&path, entry.is_selectable()) {
                (Some(p), true) => p.display().to_string(),
                (Some(_), false) => "(container only, not synced)".to_string(),
                (None, _) => "(unsafe name, not synced)".to_string(),
            };
            let line = if many {
                format!("{}\t{}\t{shown}\n", account.name, entry.name)
            } else {
                format!("{}\t{shown}\n", entry.name)
            };
            print_stdout(&line);
        }
    }
    Ok(ExitCode::Success)
}

fn check(cli: &Cli, config: &Config, account: Option<&str>) -> anyhow::Result<ExitCode> {
    for account in config.select(&names(account))? {
        let session = open_session(account, cli.trace_imap)?;
        print_stdout(&format!(
            "{}: connected to {}:{} ({:?}), logged in as {}\ncapabilities: {}\n",
            account.name,
            account.host,
            account.port,
            account.tls,
            account.user,
            session.capabilities().join(" ")
        ));
        let _ = session.logout();
    }
    Ok(ExitCode::Success)
}
