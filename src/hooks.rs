//! `pre_sync_command` and `post_sync_command`: shell commands an account
//! runs around its sync (mount a disk, `notmuch new`, a notification).
//!
//! Both run through `sh -c` with stdin from /dev/null and their stdout
//! sent to imapdir's stderr, so `--json` output stays one clean document.
//! Dry runs run neither.

use std::os::fd::AsFd;
use std::process::{Command, ExitStatus, Stdio};

use crate::config::Account;
use crate::report::Counts;

/// The pre-sync hook failed: the account is skipped (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("account {account}: pre_sync_command {what}; account skipped, nothing was synced")]
pub struct PreSyncFailed {
    pub account: String,
    pub what: String,
}

/// How an account's sync ended, as the post hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// Every folder synced.
    Ok,
    /// Some folders failed, the others synced.
    Partial,
    /// The account failed as a whole (login, lock, state).
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Ok => "ok",
            SyncStatus::Partial => "partial",
            SyncStatus::Failed => "failed",
        }
    }
}

/// What the post hook is told, in `IMAPDIR_*` environment variables.
#[derive(Debug, Clone, Copy)]
pub struct SyncSummary {
    pub counts: Counts,
    pub failed_folders: usize,
    pub status: SyncStatus,
}

impl SyncSummary {
    /// The environment of the post hook.
    pub fn env(&self, account: &str) -> Vec<(&'static str, String)> {
        let c = &self.counts;
        vec![
            ("IMAPDIR_ACCOUNT", account.to_string()),
            ("IMAPDIR_NEW", c.downloaded.to_string()),
            ("IMAPDIR_UPLOADED", c.uploaded.to_string()),
            (
                "IMAPDIR_FLAGS",
                (c.flags_pulled + c.flags_pushed).to_string(),
            ),
            (
                "IMAPDIR_DELETED",
                (c.deleted_local + c.deleted_remote).to_string(),
            ),
            ("IMAPDIR_MOVED", c.moved.to_string()),
            ("IMAPDIR_LINKED", c.linked.to_string()),
            ("IMAPDIR_SENT", c.sent.to_string()),
            ("IMAPDIR_FAILED_FOLDERS", self.failed_folders.to_string()),
            ("IMAPDIR_STATUS", self.status.as_str().to_string()),
        ]
    }
}

/// Runs `command` through `sh -c` with `env` added; its stdout goes to our stderr.
fn run_shell(command: &str, env: &[(&str, String)]) -> std::io::Result<ExitStatus> {
    let stdout = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => Stdio::from(fd),
        Err(_) => Stdio::null(),
    };
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::inherit())
        .status()
}

/// Runs the account's `pre_sync_command`, if any. An error means: skip the account.
pub fn pre_sync(account: &Account) -> Result<(), PreSyncFailed> {
    let Some(command) = &account.pre_sync_command else {
        return Ok(());
    };
    let env = [("IMAPDIR_ACCOUNT", account.name.clone())];
    let failed = |what: String| PreSyncFailed {
        account: account.name.clone(),
        what,
    };
    match run_shell(command, &env) {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(failed(format!("failed ({status})"))),
        Err(e) => Err(failed(format!("could not run: {e}"))),
    }
}

/// Runs the account's `post_sync_command`, if any. Its failure does not
/// change how the sync went; the returned message is for a warning
/// (the caller names the account).
pub fn post_sync(account: &Account, summary: &SyncSummary) -> Result<(), String> {
    let Some(command) = &account.post_sync_command else {
        return Ok(());
    };
    match run_shell(command, &summary.env(&account.name)) {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("post_sync_command failed ({status})")),
        Err(e) => Err(format!("post_sync_command could not run: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_env_sums_both_directions() {
        let s = SyncSummary {
            counts: Counts {
                downloaded: 3,
                uploaded: 1,
                flags_pulled: 2,
                flags_pushed: 1,
                deleted_local: 1,
                deleted_remote: 4,
                folders_created: 0,
                moved: 2,
                linked: 5,
                sent: 1,
            },
            failed_folders: 2,
            status: SyncStatus::Partial,
        };
        let env: std::collections::BTreeMap<_, _> = s.env("work").into_iter().collect();
        assert_eq!(env["IMAPDIR_ACCOUNT"], "work");
        assert_eq!(env["IMAPDIR_NEW"], "3");
        assert_eq!(env["IMAPDIR_UPLOADED"], "1");
        assert_eq!(env["IMAPDIR_FLAGS"], "3");
        assert_eq!(env["IMAPDIR_DELETED"], "5");
        assert_eq!(env["IMAPDIR_MOVED"], "2");
        assert_eq!(env["IMAPDIR_LINKED"], "5");
        assert_eq!(env["IMAPDIR_SENT"], "1");
        assert_eq!(env["IMAPDIR_FAILED_FOLDERS"], "2");
        assert_eq!(env["IMAPDIR_STATUS"], "partial");
    }
}
