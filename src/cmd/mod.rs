//! The subcommands: one module each, over [`output`] (the `--json` sink and
//! account errors). Nothing outside `cmd` imports a command.

mod approve;
mod auth;
mod check;
mod fetch;
mod folders;
mod generate;
mod import;
mod init;
pub mod output;
mod pop3;
mod providers;
mod relayout;
mod search;
mod sendmail;
mod status;
mod sync;
mod watch;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::{Config, Environment};
use crate::exit_codes::ExitCode;
use output::{ErrorDoc, JsonStdout, Sink};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Generate { dir } = &cli.command {
        generate::generate(dir)?;
        return Ok(ExitCode::Success);
    }
    if let Command::Import(args) = &cli.command {
        return import::command(&cli, args);
    }
    if let Command::Init(args) = &cli.command {
        return init::command(&cli, args);
    }
    if matches!(cli.command, Command::Providers) && !cli.json {
        return providers::command(&mut None);
    }
    if !cli.json {
        return run_command(&cli, &mut None);
    }
    let mut sink = Some(JsonStdout::take().context("cannot set up --json output")?);
    let result = if matches!(cli.command, Command::Providers) {
        providers::command(&mut sink)
    } else {
        run_command(&cli, &mut sink)
    };
    if let (Err(e), Some(out)) = (&result, sink.take()) {
        // The command ended before writing its document: write one with the error.
        out.emit(&ErrorDoc {
            version: output::SCHEMA_VERSION,
            command: command_name(&cli.command),
            exit_code: crate::exit_codes::for_error(e).code(),
            error: format!("{e:#}"),
        });
    }
    result
}

fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Sync(_) => "sync",
        Command::Folders { .. } => "folders",
        Command::Check { .. } => "check",
        Command::Status(_) => "status",
        Command::Watch(_) => "watch",
        Command::Import(_) => "import",
        Command::Init(_) => "init",
        Command::Generate { .. } => "generate",
        Command::Relayout { .. } => "relayout",
        Command::Providers => "providers",
        Command::Approve { .. } => "approve",
        Command::Fetch { .. } => "fetch",
        Command::Auth(_) => "auth",
        Command::Pop3 { .. } => "pop3",
        Command::Sendmail(_) => "sendmail",
        Command::Search(_) => "search",
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
        Command::Sync(args) => sync::command(cli, &config, args, sink),
        Command::Folders { account } => folders::command(cli, &config, account.as_deref(), sink),
        Command::Check { account } => check::command(cli, &config, account.as_deref(), sink),
        Command::Status(args) => status::command(cli, &config, args, sink),
        Command::Watch(args) => watch::command(cli, &config, args),
        Command::Relayout { account, dry_run } => relayout::command(&config, account, *dry_run),
        Command::Approve { account, folders } => approve::command(&config, account, folders),
        Command::Fetch {
            account,
            folder,
            uids,
        } => fetch::command(&config, account, folder, uids),
        Command::Auth(args) => auth::command(&config, args, sink),
        Command::Sendmail(args) => sendmail::command(cli, &config, args, sink),
        Command::Search(args) => search::command(cli, &config, args, sink),
        Command::Pop3 { account, dry_run } => pop3::command(cli, &config, account, *dry_run, sink),
        Command::Generate { .. } | Command::Import(_) | Command::Init(_) | Command::Providers => {
            unreachable!("handled before the config is read")
        }
    }
}

/// The accounts a command naming at most one account runs on (all when none).
fn names(account: Option<&str>) -> Vec<String> {
    account.map(|a| vec![a.to_string()]).unwrap_or_default()
}
