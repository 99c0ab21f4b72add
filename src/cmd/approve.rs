//! `imapdir approve ACCOUNT [FOLDER...]`: lets the next sync make the
//! change a guard refused in those folders, exactly that change (see
//! `sync::approval`). Without folders, lists what was refused.

use crate::config::{Config, ConfigError};
use crate::exit_codes::ExitCode;
use crate::report::print_stdout;
use crate::state::{unix_now, Refusal, StateDb};

use super::status::age;

pub fn command(config: &Config, account: &str, folders: &[String]) -> anyhow::Result<ExitCode> {
    let accounts = config.select(&[account.to_string()])?;
    let account = accounts[0];
    let state = if folders.is_empty() {
        StateDb::open_read_only(&account.state_file)?
    } else {
        StateDb::open(&account.state_file)?
    };
    let refusals = state.refusals()?;
    let now = unix_now();
    if folders.is_empty() {
        if refusals.is_empty() {
            print_stdout(&format!(
                "{}: no change is waiting for approval\n",
                account.name
            ));
        }
        for r in &refusals {
            print_stdout(&format!("{}\n", describe(r, now)));
        }
        return Ok(ExitCode::Success);
    }
    // Every name first, so a typo approves nothing.
    let mut chosen = Vec::new();
    for name in folders {
        let matching: Vec<&Refusal> = refusals
            .iter()
            .filter(|r| r.display == *name || r.folder == *name)
            .collect();
        if matching.is_empty() {
            let waiting: Vec<&str> = refusals.iter().map(|r| r.display.as_str()).collect();
            return Err(ConfigError(format!(
                "{}: no refused change in folder {name:?} to approve ({}); approve names a \
                 folder as the refusal did",
                account.name,
                if waiting.is_empty() {
                    "no change is waiting for approval".to_string()
                } else {
                    format!("waiting: {}", waiting.join(", "))
                }
            ))
            .into());
        }
        chosen.extend(matching);
    }
    for r in chosen {
        state.approve_refusal(&r.folder, &r.guard)?;
        print_stdout(&format!(
            "{}: approved: {}: {}; the next sync makes this change\n",
            account.name, r.display, r.summary
        ));
    }
    Ok(ExitCode::Success)
}

fn describe(r: &Refusal, now: i64) -> String {
    let approved = match r.approved {
        Some(when) => format!(", approved {}", age(Some(when), now)),
        None => String::new(),
    };
    format!(
        "{}: {} (refused {}{approved})",
        r.display,
        r.summary,
        age(Some(r.refused), now)
    )
}
