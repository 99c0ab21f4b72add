//! The subcommands, each returning how the run ended.

use std::path::PathBuf;

use anyhow::Context;

use crate::cli::{Cli, Command, ImportArgs, Peer, SyncArgs};
use crate::config::{Config, Environment};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::hooks::{SyncStatus, SyncSummary};
use crate::imap::TlsMode;
use crate::json::{self, ErrorDoc, JsonStdout};
use crate::mailbox_name::{local_components, local_path};
use crate::report::{print_stdout, Counts, Reporter};
use crate::sync::{sync_account, AccountOutcome, Direction, SyncOptions};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Generate { dir } = &cli.command {
        crate::generate::generate(dir)?;
        return Ok(ExitCode::Success);
    }
    if let Command::Import(args) = &cli.command {
        return import(&cli, args);
    }
    if !cli.json {
        return run_command(&cli, &mut None);
    }
    let mut sink = Some(JsonStdout::take().context("cannot set up --json output")?);
    let result = run_command(&cli, &mut sink);
    if let (Err(e), Some(out)) = (&result, sink.take()) {
        // The command ended before writing its document: write one with the error.
        out.emit(&ErrorDoc {
            version: json::SCHEMA_VERSION,
            command: command_name(&cli.command),
            exit_code: crate::exit_codes::for_error(e).code(),
            error: format!("{e:#}"),
        });
    }
    result
}

/// Where `--json` documents go; `None` without `--json` (or once written).
pub(crate) type Sink = Option<JsonStdout>;

pub(crate) fn emit<T: serde::Serialize>(sink: &mut Sink, doc: &T) {
    if let Some(out) = sink.take() {
        out.emit(doc);
    }
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Sync(_) => "sync",
        Command::Folders { .. } => "folders",
        Command::Check { .. } => "check",
        Command::Status(_) => "status",
        Command::Watch(_) => "watch",
        Command::Import(_) => "import",
        Command::Generate { .. } => "generate",
    }
}

fn run_command(cli: &Cli, sink: &mut Sink) -> anyhow::Result<ExitCode> {
    let env = Environment::from_process();
    let path = match &cli.config {
        Some(p) => p.clone(),
        None => env.default_config_path()?,
    };
    let config = Config::load(&path, &env)?;
    match &cli.command {
        Command::Sync(args) => sync(cli, &config, args, sink),
        Command::Folders { account } => folders(cli, &config, account.as_deref(), sink),
        Command::Check { account } => check(cli, &config, account.as_deref(), sink),
        Command::Status(args) => crate::status::command(cli, &config, args, sink),
        Command::Watch(args) => crate::watch::command(cli, &config, args),
        Command::Generate { .. } | Command::Import(_) => {
            unreachable!("handled before the config is read")
        }
    }
}

/// `import`: reads the peer's config, never imapdir's (except to append to it).
fn import(cli: &Cli, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    use crate::import::{self, Source};
    let env = Environment::from_process();
    let source = match args.peer {
        Peer::Mbsync => Source::Mbsync,
        Peer::Offlineimap => Source::OfflineImap,
    };
    let (file, imported) = import::read(source, args.file.as_deref(), &env)?;
    for line in import::diagnostics(&imported, &file) {
        eprintln!("{line}");
    }
    let text = import::render(&imported, source, &file);
    import::validate(&text, &env)?;
    if !args.write {
        print_stdout(&text);
        return Ok(ExitCode::Success);
    }
    let path = match &cli.config {
        Some(p) => p.clone(),
        None => env.default_config_path()?,
    };
    let names: Vec<String> = imported.accounts.iter().map(|a| a.name.clone()).collect();
    import::append_to_config(&path, &text, &names)?;
    eprintln!(
        "imapdir: added {} {} to {}",
        if names.len() == 1 {
            "account"
        } else {
            "accounts"
        },
        names.join(", "),
        path.display()
    );
    Ok(ExitCode::Success)
}

fn names(account: Option<&str>) -> Vec<String> {
    account.map(|a| vec![a.to_string()]).unwrap_or_default()
}

fn sync(cli: &Cli, config: &Config, args: &SyncArgs, sink: &mut Sink) -> anyhow::Result<ExitCode> {
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
        allow_mass_delete: args.allow_mass_delete,
        allow_first_copy: args.allow_first_copy,
        max_delete_share: crate::sync::guard::DEFAULT_MAX_DELETE_SHARE,
    };
    let reporter = Reporter::new(cli.verbose, !args.dry_run);
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in accounts {
        // Dry runs change nothing, so they run no hooks either.
        let hooks = !args.dry_run;
        if hooks {
            if let Err(e) = crate::hooks::pre_sync(account) {
                reporter.error(e.to_string());
                worst = worst.max(ExitCode::PartialFailure);
                docs.push(json::SyncAccount::failed(
                    &account.name,
                    "skipped",
                    e.to_string(),
                ));
                continue;
            }
        }
        let options = SyncOptions {
            max_delete_share: account.max_delete_share,
            ..options
        };
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
        docs.push(match &result {
            Ok(outcome) => json::SyncAccount::from_outcome(&account.name, outcome),
            Err(e) => json::SyncAccount::failed(&account.name, "failed", format!("{e:#}")),
        });
        if !args.dry_run {
            if let Err(e) = crate::status::record_outcome(account, &result) {
                reporter.warn(format!("{}: cannot record the result: {e:#}", account.name));
            }
        }
        if hooks {
            if let Err(warning) = crate::hooks::post_sync(account, &sync_summary(&result)) {
                reporter.warn(warning);
            }
        }
    }
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

/// Reports an account-wide error of `folders` or `check` on stderr and
/// returns its exit code; the other accounts still run.
pub(crate) fn account_error(e: &anyhow::Error) -> ExitCode {
    eprintln!("imapdir: {e:#}");
    crate::exit_codes::for_error(e)
}

/// What the post-sync hook is told about an account's sync.
pub(crate) fn sync_summary(result: &anyhow::Result<AccountOutcome>) -> SyncSummary {
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

fn folders(
    cli: &Cli,
    config: &Config,
    account: Option<&str>,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&names(account))?;
    let many = accounts.len() > 1;
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in accounts {
        let list = open_session(account, cli.trace_imap).and_then(|mut session| {
            let list = session.list().context("cannot list folders");
            let _ = session.logout();
            list
        });
        let list = match list {
            Ok(list) => list,
            Err(e) => {
                worst = worst.max(account_error(&e));
                docs.push(json::FoldersAccount {
                    account: account.name.clone(),
                    error: Some(format!("{e:#}")),
                    folders: Vec::new(),
                });
                continue;
            }
        };
        let paths = local_paths(account, &list);
        let mut folders = Vec::new();
        for entry in list {
            let path: Option<PathBuf> =
                local_components(&entry.name, entry.delimiter)
                    .ok()
                    .map(|c| {
                        let key = if c == ["INBOX"] { "INBOX" } else { &entry.name };
                        paths
                            .get(key)
                            .cloned()
                            .unwrap_or_else(|| local_path(&account.maildir, &c))
                    });
            let reason = match (&path, entry.is_selectable()) {
                (Some(_), true) => None,
                (Some(_), false) => Some("container"),
                (None, _) => Some("unsafe_name"),
            };
            let shown = match (&path, reason) {
                (Some(p), None) => p.display().to_string(),
                (_, Some("container")) => "(container only, not synced)".to_string(),
                _ => "(unsafe name, not synced)".to_string(),
            };
            if sink.is_none() {
                let line = if many {
                    format!("{}\t{}\t{shown}\n", account.name, entry.name)
                } else {
                    format!("{}\t{shown}\n", entry.name)
                };
                print_stdout(&line);
            }
            folders.push(json::RemoteFolder {
                name: entry.name.clone(),
                delimiter: entry.delimiter.map(String::from),
                local_path: path
                    .filter(|_| reason.is_none())
                    .map(|p| p.display().to_string()),
                synced: reason.is_none(),
                reason,
            });
        }
        docs.push(json::FoldersAccount {
            account: account.name.clone(),
            error: None,
            folders,
        });
    }
    emit(
        sink,
        &json::FoldersDoc {
            version: json::SCHEMA_VERSION,
            command: "folders",
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}

/// Where sync puts each server folder, by its server name: the Maildir's
/// existing spelling of it, or the one a new directory would get.
fn local_paths(
    account: &crate::config::Account,
    remote: &[crate::imap::ListEntry],
) -> std::collections::HashMap<String, PathBuf> {
    let local = crate::maildir::discover_folders(&account.maildir)
        .map(|(folders, _)| folders)
        .unwrap_or_default();
    let list = crate::sync::folder_list(
        remote,
        &local,
        &Default::default(),
        &account.maildir,
        account.local_names,
    );
    list.jobs
        .into_iter()
        .filter(|j| j.on_server)
        .map(|j| (j.remote_name, j.local_path))
        .collect()
}

fn check(
    cli: &Cli,
    config: &Config,
    account: Option<&str>,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in config.select(&names(account))? {
        let mut doc = json::CheckAccount {
            account: account.name.clone(),
            host: account.host.clone(),
            port: account.port,
            tls: match account.tls {
                TlsMode::Tls => "tls",
                TlsMode::StartTls => "starttls",
                TlsMode::Plain => "plain",
            },
            user: account.user.clone(),
            ok: false,
            error: None,
            capabilities: Vec::new(),
        };
        match open_session(account, cli.trace_imap) {
            Ok(session) => {
                doc.ok = true;
                doc.capabilities = session.capabilities().to_vec();
                if sink.is_none() {
                    print_stdout(&format!(
                        "{}: connected to {}:{} ({:?}), logged in as {}\ncapabilities: {}\n",
                        account.name,
                        account.host,
                        account.port,
                        account.tls,
                        account.user,
                        session.capabilities().join(" ")
                    ));
                }
                let _ = session.logout();
            }
            Err(e) => {
                worst = worst.max(account_error(&e));
                doc.error = Some(format!("{e:#}"));
            }
        }
        docs.push(doc);
    }
    emit(
        sink,
        &json::CheckDoc {
            version: json::SCHEMA_VERSION,
            command: "check",
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}
