//! The mass-deletion guard: a run that would delete a large share of a
//! folder on either side is almost always a mistake (an unmounted disk, a
//! mistyped path, a mail reader that emptied a directory, a server-side
//! accident), so that folder is skipped with an error unless the user
//! passes `--allow-mass-delete`.
//!
//! The first-copy guard is its twin for a folder's first sync: when both
//! sides hold many messages and few of them pair, the Maildir is most
//! likely another tool's copy that imapdir failed to recognise (or another
//! account's), and going on would put every message twice on both sides.
//! That folder is skipped with an error unless the user passes
//! `--allow-first-copy`.
//!
//! Pure: it looks only at the plan and the sizes of both sides.

use std::path::Path;

use super::plan::Plan;

/// Deleting this many messages or fewer never trips the guard, whatever the
/// share: emptying a folder of three messages is ordinary housekeeping.
pub const ALWAYS_ALLOWED_DELETIONS: usize = 5;

/// The command-line flag that overrides the guard; named in every message.
pub const OVERRIDE_FLAG: &str = "--allow-mass-delete";

/// A plan that would delete too much of a folder.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "refusing to delete {count} of {total} messages {side} ({percent}%, the limit is \
     max_delete_share = {limit}); nothing was changed in this folder. If that many \
     deletions are really wanted, run again with {OVERRIDE_FLAG}"
)]
pub struct MassDeletion {
    pub count: usize,
    pub total: usize,
    /// "in the Maildir" or "on the server".
    pub side: &'static str,
    pub percent: u64,
    pub limit: f64,
}

/// The flag that overrides the first-copy guard.
pub const FIRST_COPY_FLAG: &str = "--allow-first-copy";

/// Sides smaller than this never trip the first-copy guard: a handful of
/// unpaired messages is a new folder's ordinary start, and costs little.
pub const FIRST_COPY_MIN_MESSAGES: usize = 10;

/// A first sync that would copy most of both sides to the other.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing a first sync that would copy {local_unpaired} of {local} local messages to the \
     server and {remote_unpaired} of {remote} server messages here: only {paired} pair up. \
     Nothing was changed in this folder. If this Maildir was written by another tool for \
     this account, check that this directory is the copy of this server folder, that the \
     tool's records are in place (mbsync: .uidvalidity and its state file; OfflineIMAP: \
     its file names), and how `imapdir sync --dry-run` pairs it. If both sides really \
     should be merged, run again with {FIRST_COPY_FLAG}"
)]
pub struct FirstCopy {
    pub local: usize,
    pub remote: usize,
    pub local_unpaired: usize,
    pub remote_unpaired: usize,
    pub paired: usize,
}

/// Checks a first meeting's pairing: `paired` messages present on both
/// sides were paired, of `local` and `remote`.
pub fn check_first_copy(local: usize, remote: usize, paired: usize) -> Result<(), FirstCopy> {
    let smaller = local.min(remote);
    if smaller < FIRST_COPY_MIN_MESSAGES || paired * 2 >= smaller {
        return Ok(());
    }
    Err(FirstCopy {
        local,
        remote,
        local_unpaired: local.saturating_sub(paired),
        remote_unpaired: remote.saturating_sub(paired),
        paired,
    })
}

/// Checks a folder's plan. `remote_count` and `local_count` are the sizes
/// of both sides as scanned for this plan (before it is applied).
pub fn check_deletions(
    plan: &Plan,
    remote_count: usize,
    local_count: usize,
    max_share: f64,
) -> Result<(), MassDeletion> {
    let sides = [
        (plan.local_deletions.len(), local_count, "in the Maildir"),
        (plan.remote_deletions.len(), remote_count, "on the server"),
    ];
    for (count, total, side) in sides {
        if count <= ALWAYS_ALLOWED_DELETIONS {
            continue;
        }
        // A deletion is of something present on that side, so total >= count;
        // max(1) only guards the division.
        let total = total.max(count);
        let share = count as f64 / total.max(1) as f64;
        if share > max_share {
            return Err(MassDeletion {
                count,
                total,
                side,
                percent: (share * 100.0).round() as u64,
                limit: max_share,
            });
        }
    }
    Ok(())
}

/// The error for a folder synced before whose local directory is gone.
/// `--allow-mass-delete` does not override it: a vanished directory is far
/// more often an unmounted disk or a renamed path than a wish to empty the
/// folder on the server.
pub fn missing_local_folder(path: &Path) -> anyhow::Error {
    anyhow::anyhow!(
        "local folder {} is missing but was synced before; not syncing it, \
         so its messages are not deleted from the server. Restore the folder, \
         or delete it on the server too if that is what you want \
         ({OVERRIDE_FLAG} does not apply: a vanished directory never empties a server folder)",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flags, LocalMessage, Subdir, Uid};

    fn local(i: usize) -> LocalMessage {
        LocalMessage {
            subdir: Subdir::Cur,
            name: format!("m{i}:2,S"),
            base: format!("m{i}"),
            uid_hint: None,
            flags: Flags::empty(),
        }
    }

    fn plan_deleting(local_n: usize, remote_n: usize) -> Plan {
        Plan {
            local_deletions: (0..local_n)
                .map(|i| (Uid(i as u32 + 1), local(i)))
                .collect(),
            remote_deletions: (0..remote_n).map(|i| Uid(i as u32 + 100)).collect(),
            ..Plan::default()
        }
    }

    #[test]
    fn most_of_a_folder_deleted_on_either_side_trips() {
        // The server expunged 8 of 10: 8 local deletions out of 10 files.
        let err = check_deletions(&plan_deleting(8, 0), 2, 10, 0.5).unwrap_err();
        assert_eq!((err.count, err.total, err.side), (8, 10, "in the Maildir"));
        assert!(err.to_string().contains(OVERRIDE_FLAG), "{err}");
        // 8 of 10 files removed locally: 8 expunges out of 10 server messages.
        let err = check_deletions(&plan_deleting(0, 8), 10, 2, 0.5).unwrap_err();
        assert_eq!((err.count, err.total, err.side), (8, 10, "on the server"));
        // Everything gone on one side.
        assert!(check_deletions(&plan_deleting(0, 1000), 1000, 0, 0.5).is_err());
    }

    #[test]
    fn few_deletions_or_a_small_share_pass() {
        // Five or fewer never trip, even if that is the whole folder.
        assert!(check_deletions(&plan_deleting(5, 5), 5, 5, 0.5).is_ok());
        // Six is more than a few, but 6 of 20 is 30%.
        assert!(check_deletions(&plan_deleting(6, 6), 20, 20, 0.5).is_ok());
        // Exactly at the limit passes; just over it does not.
        assert!(check_deletions(&plan_deleting(10, 0), 20, 20, 0.5).is_ok());
        assert!(check_deletions(&plan_deleting(11, 0), 20, 20, 0.5).is_err());
        // Nothing to delete.
        assert!(check_deletions(&Plan::default(), 0, 0, 0.5).is_ok());
    }

    #[test]
    fn the_share_is_configurable() {
        assert!(check_deletions(&plan_deleting(8, 0), 2, 10, 0.9).is_ok());
        assert!(check_deletions(&plan_deleting(8, 0), 2, 10, 1.0).is_ok());
        let err = check_deletions(&plan_deleting(0, 6), 30, 30, 0.1).unwrap_err();
        assert_eq!(err.percent, 20);
        assert!(err.to_string().contains("max_delete_share = 0.1"), "{err}");
    }

    #[test]
    fn missing_folder_error_names_the_flag_and_says_it_does_not_apply() {
        let e = missing_local_folder(Path::new("/m/Archive")).to_string();
        assert!(e.contains("/m/Archive") && e.contains(OVERRIDE_FLAG), "{e}");
        assert!(e.contains("does not apply"), "{e}");
    }

    #[test]
    fn a_first_sync_pairing_little_of_two_big_sides_trips() {
        let err = check_first_copy(30, 40, 3).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("27 of 30 local") && text.contains("37 of 40 server"),
            "{text}"
        );
        assert!(text.contains(FIRST_COPY_FLAG), "{text}");
        // Half paired, or a small side: ordinary.
        assert!(check_first_copy(30, 40, 15).is_ok());
        assert!(check_first_copy(9, 1000, 0).is_ok());
        assert!(check_first_copy(1000, 9, 0).is_ok());
        assert!(check_first_copy(10, 10, 4).is_err());
    }
}
