//! `imapdir pop3 ACCOUNT`: one POP3 account's import, run as `sync` runs
//! it (hooks, the recorded outcome, the same summary and `--json`
//! document).

use crate::cli::{Cli, SyncArgs};
use crate::config::{Config, ConfigError, Protocol};
use crate::exit_codes::ExitCode;

use super::output::Sink;

pub fn command(
    cli: &Cli,
    config: &Config,
    account: &str,
    dry_run: bool,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let selected = config.select(&[account.to_string()])?;
    if selected[0].protocol != Protocol::Pop3 {
        return Err(ConfigError(format!(
            "account {account} is an IMAP account; `imapdir pop3` imports from an account \
             with protocol = \"pop3\""
        ))
        .into());
    }
    let args = SyncArgs {
        accounts: vec![account.to_string()],
        pull: false,
        push: false,
        dry_run,
        jobs: None,
        allow_mass_delete: false,
        allow_first_copy: false,
        wait: None,
        folders: Vec::new(),
    };
    super::sync::command(cli, config, &args, sink)
}
