//! `imapdir relayout ACCOUNT`: moves a synced Maildir from the layout it
//! was synced with to the configured one, folder by folder, without
//! transferring a message: the state records local names, not paths, so
//! only the directories move.

use anyhow::Context;

use crate::config::{Account, Config, ConfigError};
use crate::exit_codes::ExitCode;
use crate::folders::relayout_moves;
use crate::lock::AccountLock;
use crate::maildir::{discover_folders, move_folder};
use crate::model::Layout;
use crate::report::print_stdout;
use crate::state::StateDb;

pub fn command(config: &Config, account: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&[account.to_string()])?;
    let account: &Account = accounts[0];
    let _lock = AccountLock::acquire(&account.name, &account.lock_file())?;
    let state = if dry_run {
        StateDb::open_read_only(&account.state_file)?
    } else {
        StateDb::open(&account.state_file)?
    };
    let to = account.folder_rules.layout;
    let from = match state.setting("layout")? {
        Some(text) => Layout::from_recorded(&text)
            .ok_or_else(|| ConfigError(format!("the state records the unknown layout {text:?}")))?,
        None if !state.folders()?.is_empty() => Layout::Verbatim,
        None => {
            print_stdout(&format!(
                "{}: nothing synced yet; the first sync uses {}\n",
                account.name,
                to.config_text()
            ));
            return Ok(ExitCode::Success);
        }
    };
    if from == to {
        print_stdout(&format!(
            "{}: the Maildir is already in {}\n",
            account.name,
            to.config_text()
        ));
        return Ok(ExitCode::Success);
    }
    let root = &account.maildir;
    let (folders, warnings) = discover_folders(root, from)
        .with_context(|| format!("cannot read Maildir {}", root.display()))?;
    for w in warnings {
        eprintln!("imapdir: {}: {w}", account.name);
    }
    let moves = relayout_moves(root, from, to, account.folder_rules.local_names, &folders)
        .map_err(|e| {
            ConfigError(format!(
                "{e}; nothing was moved. Rename that folder (or keep {})",
                from.config_text()
            ))
        })?;
    // Every target free before the first move, so a refusal changes nothing.
    for (_, target) in &moves {
        let taken = if target == root {
            ["cur", "new", "tmp", crate::maildir::KEYWORDS_FILE]
                .iter()
                .any(|s| target.join(s).exists())
        } else {
            target.exists()
        };
        if taken {
            return Err(ConfigError(format!(
                "{} exists already; nothing was moved. Move it aside and run again",
                target.display()
            ))
            .into());
        }
    }
    for (source, target) in &moves {
        print_stdout(&format!(
            "{} {} to {}\n",
            if dry_run { "would move" } else { "move" },
            source.display(),
            target.display()
        ));
        if !dry_run {
            move_folder(source, target).with_context(|| {
                format!(
                    "cannot move {} to {}; run imapdir relayout {} again to finish",
                    source.display(),
                    target.display(),
                    account.name
                )
            })?;
        }
    }
    if !dry_run {
        state.set_setting("layout", &to.describe())?;
        print_stdout(&format!(
            "{}: the Maildir is now in {} ({} folders moved)\n",
            account.name,
            to.config_text(),
            moves.len()
        ));
    }
    Ok(ExitCode::Success)
}
