//! The mass-deletion guard: a run that would delete a large share of a
//! folder on either side is almost always a mistake (an unmounted disk, a
//! mistyped path, a mail reader that emptied a directory, a server that
//! lost a mailbox), so that folder is skipped with an error until a person
//! approves exactly that change (`imapdir approve`, see [`super::approval`])
//! or passes `--allow-mass-delete` for one run.
//!
//! The two sides have their own limits: expunging on the server cannot be
//! undone, so half a folder is the default limit there; local files go
//! because the server expunged them (a webmail clean-up, a retention
//! policy), so only a folder emptied or nearly trips that side. Trash and
//! Junk folders never trip it: emptying them is what they are for.
//!
//! The first-copy guard is its twin for a folder's first sync: when both
//! sides hold many messages and few of them pair, the Maildir is most
//! likely another tool's copy that imapdir failed to recognise (or another
//! account's), and going on would put every message twice on both sides.
//!
//! Pure: it looks only at the plan and the sizes of both sides.

use std::path::Path;

use super::approval::{Change, Objection, UidRanges};
use super::plan::Plan;
use crate::model::DeleteLimits;

/// Deleting this many messages or fewer never trips the guard, whatever the
/// share: emptying a folder of three messages is ordinary housekeeping.
pub const ALWAYS_ALLOWED_DELETIONS: usize = 5;

/// The command-line flag that overrides the guard for a whole run.
pub const OVERRIDE_FLAG: &str = "--allow-mass-delete";

/// Special uses whose folders hold what people threw away: emptying them
/// is their purpose, not an accident.
pub const EMPTIED_BY_DESIGN: [&str; 2] = ["\\Trash", "\\Junk"];

/// A plan that would delete too much of a folder, on one side or both.
#[derive(Debug, Clone, PartialEq)]
pub struct MassDeletion {
    /// Files to remove (the server expunged them), of `local_total`.
    pub local: Vec<crate::model::Uid>,
    pub local_total: usize,
    /// Messages to expunge (their files are gone), of `remote_total`.
    pub server: Vec<crate::model::Uid>,
    pub remote_total: usize,
    /// Which sides are over their limit: (local, server).
    pub over: (bool, bool),
    pub limits: DeleteLimits,
}

impl MassDeletion {
    /// The objection for `folder` (the server's name) shown as `display`.
    pub fn objection(&self, folder: &str, display: &str) -> Objection {
        let (local_n, server_n) = (self.local.len(), self.server.len());
        let mut parts = Vec::new();
        let mut doing = Vec::new();
        if self.over.1 {
            parts.push(format!(
                "delete {server_n} of the {} messages of {display} on the server ({}%, over \
                 max_server_delete_share = {}): their files are gone from the Maildir, which \
                 holds {} messages of this folder now",
                self.remote_total,
                percent(server_n, self.remote_total),
                self.limits.server_share,
                self.local_total,
            ));
            doing.push(format!(
                "deletes exactly these {server_n} messages on the server"
            ));
        }
        if self.over.0 {
            parts.push(format!(
                "remove {local_n} of the {} files of {display} from the Maildir ({}%, over \
                 max_local_delete_share = {}): the server expunged them and holds {} messages \
                 in this folder now",
                self.local_total,
                percent(local_n, self.local_total),
                self.limits.local_share,
                self.remote_total,
            ));
            doing.push(format!("removes exactly these {local_n} files"));
        }
        // An approval covers the whole plan's deletions, also those of the
        // side within its limit: the next run is then refused only if it
        // deletes something more.
        Objection {
            folder: folder.to_string(),
            display: display.to_string(),
            change: Change::MassDelete {
                local: UidRanges::of(self.local.iter().copied()),
                server: UidRanges::of(self.server.iter().copied()),
            },
            summary: parts.join(", and to "),
            consequence: doing.join(" and "),
        }
    }
}

fn percent(count: usize, total: usize) -> u64 {
    (count as f64 * 100.0 / total.max(1) as f64).round() as u64
}

/// The flag that overrides the first-copy guard for a whole run.
pub const FIRST_COPY_FLAG: &str = "--allow-first-copy";

/// Sides smaller than this never trip the first-copy guard: a handful of
/// unpaired messages is a new folder's ordinary start, and costs little.
pub const FIRST_COPY_MIN_MESSAGES: usize = 10;

/// A first sync that would copy most of both sides to the other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstCopy {
    pub local: usize,
    pub remote: usize,
    pub local_unpaired: usize,
    pub remote_unpaired: usize,
    pub paired: usize,
}

impl FirstCopy {
    pub fn objection(&self, folder: &str, display: &str) -> Objection {
        Objection {
            folder: folder.to_string(),
            display: display.to_string(),
            change: Change::FirstCopy {
                local_unpaired: self.local_unpaired,
                remote_unpaired: self.remote_unpaired,
            },
            summary: format!(
                "copy {} of {} local messages to the server and {} of {} server messages \
                 here in the first sync of {display}: only {} pair up. If another tool wrote \
                 this Maildir for this account, check that this directory is the copy of this \
                 server folder, that the tool's records are in place (mbsync: .uidvalidity and \
                 its state file; OfflineIMAP: its file names), and how `imapdir sync \
                 --dry-run` pairs it",
                self.local_unpaired, self.local, self.remote_unpaired, self.remote, self.paired
            ),
            consequence: format!(
                "copies the unpaired messages of {display} to the other side, putting both \
                 sides together"
            ),
        }
    }
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
/// of both sides as scanned for this plan (before it is applied);
/// `special_use` is the folder's, as the server gave it.
pub fn check_deletions(
    plan: &Plan,
    remote_count: usize,
    local_count: usize,
    limits: DeleteLimits,
    special_use: Option<&str>,
) -> Result<(), MassDeletion> {
    if special_use.is_some_and(|u| EMPTIED_BY_DESIGN.iter().any(|e| e.eq_ignore_ascii_case(u))) {
        return Ok(());
    }
    // A deletion is of something present on that side, so total >= count;
    // the max only guards the division.
    let local_total = local_count.max(plan.local_deletions.len());
    let remote_total = remote_count.max(plan.remote_deletions.len());
    let over = |count: usize, total: usize, share: f64| {
        count > ALWAYS_ALLOWED_DELETIONS && count as f64 / total.max(1) as f64 > share
    };
    let local_over = over(plan.local_deletions.len(), local_total, limits.local_share);
    let server_over = over(
        plan.remote_deletions.len(),
        remote_total,
        limits.server_share,
    );
    if !local_over && !server_over {
        return Ok(());
    }
    Err(MassDeletion {
        local: plan.local_deletions.iter().map(|(uid, _)| *uid).collect(),
        local_total,
        server: plan.remote_deletions.clone(),
        remote_total,
        over: (local_over, server_over),
        limits,
    })
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
         (neither `imapdir approve` nor {OVERRIDE_FLAG} applies: a vanished directory \
         never empties a server folder)",
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

    const LIMITS: DeleteLimits = DeleteLimits {
        server_share: 0.5,
        local_share: 0.9,
    };

    fn check(plan: &Plan, remote: usize, local: usize) -> Result<(), MassDeletion> {
        check_deletions(plan, remote, local, LIMITS, None)
    }

    #[test]
    fn most_of_a_folder_expunged_from_the_server_trips() {
        // 8 of 10 files removed locally: 8 expunges of 10 server messages.
        let err = check(&plan_deleting(0, 8), 10, 2).unwrap_err();
        assert_eq!(
            (err.server.len(), err.remote_total, err.over),
            (8, 10, (false, true))
        );
        let text = err.objection("INBOX.Sent", "Sent").summary;
        assert!(
            text.contains("delete 8 of the 10 messages of Sent on the server (80%")
                && text.contains("max_server_delete_share = 0.5")
                && text.contains("holds 2 messages"),
            "{text}"
        );
        // Everything gone locally.
        assert!(check(&plan_deleting(0, 1000), 1000, 0).is_err());
    }

    #[test]
    fn the_local_side_trips_only_when_a_folder_is_emptied_or_nearly() {
        // The server expunged 8 of 10: a clean-up on the webmail.
        assert!(check(&plan_deleting(8, 0), 2, 10).is_ok());
        assert!(check(&plan_deleting(9, 0), 1, 10).is_ok());
        // All of them: the shape of a server that lost the mailbox.
        let err = check(&plan_deleting(10, 0), 0, 10).unwrap_err();
        assert_eq!(err.over, (true, false));
        let objection = err.objection("INBOX", "INBOX");
        assert!(
            objection
                .summary
                .contains("remove 10 of the 10 files of INBOX")
                && objection.summary.contains("holds 0 messages"),
            "{}",
            objection.summary
        );
        assert_eq!(objection.consequence, "removes exactly these 10 files");
    }

    #[test]
    fn few_deletions_or_a_small_share_pass() {
        // Five or fewer never trip, even if that is the whole folder.
        assert!(check(&plan_deleting(5, 5), 5, 5).is_ok());
        // Six is more than a few, but 6 of 20 is 30%.
        assert!(check(&plan_deleting(6, 6), 20, 20).is_ok());
        // Exactly at the limit passes; just over it does not.
        assert!(check(&plan_deleting(0, 10), 20, 20).is_ok());
        assert!(check(&plan_deleting(0, 11), 20, 20).is_err());
        assert!(check(&plan_deleting(18, 0), 20, 20).is_ok());
        assert!(check(&plan_deleting(19, 0), 20, 20).is_err());
        // Nothing to delete.
        assert!(check(&Plan::default(), 0, 0).is_ok());
    }

    #[test]
    fn trash_and_junk_may_be_emptied() {
        for use_ in ["\\Trash", "\\Junk", "\\trash"] {
            let plan = plan_deleting(50, 0);
            assert!(check_deletions(&plan, 0, 50, LIMITS, Some(use_)).is_ok());
            let plan = plan_deleting(0, 50);
            assert!(check_deletions(&plan, 50, 0, LIMITS, Some(use_)).is_ok());
        }
        let plan = plan_deleting(0, 50);
        assert!(check_deletions(&plan, 50, 0, LIMITS, Some("\\Sent")).is_err());
    }

    #[test]
    fn the_shares_are_configurable() {
        let loose = DeleteLimits {
            server_share: 0.9,
            local_share: 1.0,
        };
        assert!(check_deletions(&plan_deleting(10, 8), 10, 10, loose, None).is_ok());
        let strict = DeleteLimits {
            server_share: 0.1,
            local_share: 0.1,
        };
        let err = check_deletions(&plan_deleting(0, 6), 30, 30, strict, None).unwrap_err();
        assert!(
            err.objection("X", "X")
                .summary
                .contains("(20%, over max_server_delete_share = 0.1)"),
            "{:?}",
            err
        );
    }

    #[test]
    fn an_objection_records_both_sides_deletions() {
        let err = check(&plan_deleting(3, 8), 10, 10).unwrap_err();
        let Change::MassDelete { local, server } = err.objection("F", "F").change else {
            panic!("a mass deletion")
        };
        assert_eq!((local.len(), server.len()), (3, 8));
    }

    /// Change sets as people and accidents make them, with whether the
    /// guard should stop them. Disasters must all be stopped; the
    /// clean-ups stopped are each one `imapdir approve` for that folder.
    /// Today's rule stops 4 of the 12 clean-ups, the earlier one (half of
    /// a folder on either side, no exceptions) stopped 9.
    #[test]
    fn realistic_change_sets() {
        // (what, disaster, local deletions of local files, server
        // deletions of server messages, special use)
        type Case = (
            &'static str,
            bool,
            (usize, usize),
            (usize, usize),
            Option<&'static str>,
        );
        let cases: [Case; 17] = [
            (
                "webmail: 20 of the 39 messages of Sent deleted",
                false,
                (20, 39),
                (0, 39),
                None,
            ),
            (
                "mutt: an old local folder of 15 emptied",
                false,
                (0, 15),
                (15, 15),
                None,
            ),
            (
                "mutt: daily triage, 10 of 200 deleted",
                false,
                (0, 200),
                (10, 200),
                None,
            ),
            (
                "webmail: triage, 30 of 400 deleted",
                false,
                (30, 400),
                (0, 400),
                None,
            ),
            (
                "webmail: Trash emptied, 120",
                false,
                (120, 120),
                (0, 120),
                Some("\\Trash"),
            ),
            (
                "mutt: Junk emptied, 60",
                false,
                (0, 60),
                (60, 60),
                Some("\\Junk"),
            ),
            (
                "provider retention: 300 of 400 older than 90 days",
                false,
                (300, 400),
                (0, 400),
                None,
            ),
            (
                "mutt: a thread of 8 in a folder of 12",
                false,
                (0, 12),
                (8, 12),
                None,
            ),
            (
                "webmail: list folder pruned, 700 of 1000",
                false,
                (700, 1000),
                (0, 1000),
                None,
            ),
            (
                "aerc: 40 of 100 in an archive folder",
                false,
                (0, 100),
                (40, 100),
                None,
            ),
            (
                "mutt: all but the newest 5 of 50 notices",
                false,
                (0, 50),
                (45, 50),
                None,
            ),
            (
                "webmail: delete all in a folder of 80",
                false,
                (80, 80),
                (0, 80),
                None,
            ),
            (
                "rm of cur/*: 200 of 200 local files gone",
                true,
                (0, 200),
                (200, 200),
                None,
            ),
            (
                "a mail reader bug: 120 of 200 files gone",
                true,
                (0, 200),
                (120, 200),
                None,
            ),
            (
                "the server lost a mailbox: 500 of 500",
                true,
                (500, 500),
                (0, 500),
                None,
            ),
            (
                "server restored from a partial backup: 950 of 1000",
                true,
                (950, 1000),
                (0, 1000),
                None,
            ),
            (
                "a server filter moved all 300 out of INBOX",
                true,
                (300, 300),
                (0, 300),
                None,
            ),
        ];
        let old_rule = |(l, lt): (usize, usize), (s, st): (usize, usize)| {
            let over = |n: usize, t: usize| n > 5 && n as f64 / t as f64 > 0.5;
            over(l, lt) || over(s, st)
        };
        let (mut stopped_now, mut stopped_before) = (0, 0);
        for (what, disaster, (l, lt), (s, st), use_) in cases {
            let plan = plan_deleting(l, s);
            let stopped = check_deletions(&plan, st, lt, LIMITS, use_).is_err();
            if disaster {
                assert!(stopped, "a disaster passed: {what}");
            } else {
                stopped_now += usize::from(stopped);
                stopped_before += usize::from(old_rule((l, lt), (s, st)));
            }
        }
        assert_eq!((stopped_now, stopped_before), (4, 9));
    }

    #[test]
    fn missing_folder_error_names_the_flag_and_says_it_does_not_apply() {
        let e = missing_local_folder(Path::new("/m/Archive")).to_string();
        assert!(e.contains("/m/Archive") && e.contains(OVERRIDE_FLAG), "{e}");
        assert!(e.contains("applies: a vanished directory"), "{e}");
    }

    #[test]
    fn a_first_sync_pairing_little_of_two_big_sides_trips() {
        let err = check_first_copy(30, 40, 3).unwrap_err();
        let objection = err.objection("INBOX", "INBOX");
        let text = objection.summary;
        assert!(
            text.contains("27 of 30 local") && text.contains("37 of 40 server"),
            "{text}"
        );
        assert_eq!(
            objection.change,
            Change::FirstCopy {
                local_unpaired: 27,
                remote_unpaired: 37
            }
        );
        // Half paired, or a small side: ordinary.
        assert!(check_first_copy(30, 40, 15).is_ok());
        assert!(check_first_copy(9, 1000, 0).is_ok());
        assert!(check_first_copy(1000, 9, 0).is_ok());
        assert!(check_first_copy(10, 10, 4).is_err());
    }
}
