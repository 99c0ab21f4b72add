//! `imapdir fetch ACCOUNT FOLDER UID...`: asks for the whole messages of
//! placeholders (messages larger than `max_message_size`), which the next
//! sync downloads in their place.

use crate::config::{Config, ConfigError};
use crate::exit_codes::ExitCode;
use crate::model::Uid;
use crate::report::print_stdout;
use crate::state::StateDb;

pub fn command(
    config: &Config,
    account: &str,
    folder: &str,
    uids: &[u32],
) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&[account.to_string()])?;
    let account = accounts[0];
    if !account.state_file.exists() {
        return Err(ConfigError(format!(
            "{}: never synced, so no message is a placeholder yet",
            account.name
        ))
        .into());
    }
    let mut state = StateDb::open(&account.state_file)?;
    let folders = state.folders()?;
    let Some(f) = folders
        .iter()
        .find(|f| f.local_name.as_deref() == Some(folder) || f.name == folder)
    else {
        return Err(ConfigError(format!(
            "{}: no synced folder {folder:?} (name it as imapdir status does)",
            account.name
        ))
        .into());
    };
    // Every UID first, so a typo asks for nothing.
    let placeholders = state.placeholders(f.id)?;
    if let Some(uid) = uids
        .iter()
        .find(|u| !placeholders.iter().any(|p| p.uid == Uid(**u)))
    {
        return Err(ConfigError(format!(
            "{}: uid {uid} in {folder} is not a placeholder (placeholders there: {})",
            account.name,
            if placeholders.is_empty() {
                "none".to_string()
            } else {
                placeholders
                    .iter()
                    .map(|p| p.uid.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
        .into());
    }
    let wanted: Vec<Uid> = uids.iter().map(|&u| Uid(u)).collect();
    state.request_fetch(f.id, &wanted)?;
    print_stdout(&format!(
        "{}: {folder}: {} messages will be downloaded whole at the next sync\n",
        account.name,
        wanted.len()
    ));
    Ok(ExitCode::Success)
}
