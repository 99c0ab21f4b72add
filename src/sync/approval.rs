//! One confirmation design for every guard. A guard that refuses a
//! folder's change records exactly what it refused; the refusal names the
//! folder, the counts on both sides and the command that approves that
//! change (`imapdir approve ACCOUNT FOLDER`). The next sync lets the change
//! through when the approval covers it, and only then: a different change
//! is refused again, with a new command to approve it.
//!
//! What "covers" means is per guard, in [`Change::covers`]: the same
//! deletions or fewer; a first meeting that has not grown; the same folder
//! deletion. The rule is pure; [`settle`] is the glue to the state.

use serde::{Deserialize, Serialize};

use crate::model::Uid;
use crate::state::StateDb;

/// What a guard refused, precisely enough that an approval of it lets
/// through that change and no other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "kebab-case")]
pub enum Change {
    /// Local files removed because the server expunged these UIDs, and
    /// these UIDs expunged on the server because their files went away.
    MassDelete { local: UidRanges, server: UidRanges },
    /// A folder's first meeting that would copy this many messages each way.
    FirstCopy {
        local_unpaired: usize,
        remote_unpaired: usize,
    },
    /// A folder deleted on one side, to delete on the other.
    FolderDelete { on_server: bool },
}

impl Change {
    /// The state's key for the guard that refused it.
    pub fn guard(&self) -> &'static str {
        match self {
            Change::MassDelete { .. } => "mass-delete",
            Change::FirstCopy { .. } => "first-copy",
            Change::FolderDelete { .. } => "folder-delete",
        }
    }

    /// Whether approving `self` lets `now` through: `now` does nothing the
    /// approved change did not.
    pub fn covers(&self, now: &Change) -> bool {
        match (self, now) {
            (
                Change::MassDelete { local, server },
                Change::MassDelete {
                    local: l,
                    server: s,
                },
            ) => local.contains_all(l) && server.contains_all(s),
            (
                Change::FirstCopy {
                    local_unpaired,
                    remote_unpaired,
                },
                Change::FirstCopy {
                    local_unpaired: l,
                    remote_unpaired: r,
                },
            ) => within_growth(*local_unpaired, *l) && within_growth(*remote_unpaired, *r),
            (Change::FolderDelete { on_server }, Change::FolderDelete { on_server: o }) => {
                on_server == o
            }
            _ => false,
        }
    }

    fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a change serialises")
    }

    fn from_text(text: &str) -> Option<Change> {
        serde_json::from_str(text).ok()
    }
}

/// Mail goes on arriving between a refusal and its approval: a first
/// meeting stays approved while each side's unpaired count grew by at most
/// a tenth (at least five messages).
fn within_growth(approved: usize, now: usize) -> bool {
    now <= approved + (approved / 10).max(5)
}

/// A set of UIDs as sorted, disjoint ranges; its text is IMAP's `1:5,9`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct UidRanges(Vec<(u32, u32)>);

impl UidRanges {
    pub fn of(uids: impl IntoIterator<Item = Uid>) -> UidRanges {
        let mut all: Vec<u32> = uids.into_iter().map(|u| u.0).collect();
        all.sort_unstable();
        all.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for uid in all {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == uid => *end = uid,
                _ => ranges.push((uid, uid)),
            }
        }
        UidRanges(ranges)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|(a, b)| (b - a) as usize + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn contains(&self, uid: u32) -> bool {
        let i = self.0.partition_point(|(_, end)| *end < uid);
        self.0.get(i).is_some_and(|(start, _)| *start <= uid)
    }

    /// Every UID of `other` is in `self`.
    pub fn contains_all(&self, other: &UidRanges) -> bool {
        other
            .0
            .iter()
            .all(|(a, b)| self.contains(*a) && self.contains(*b) && self.spans(*a, *b))
    }

    /// `a` and `b` lie in the same range (so everything between them is in).
    fn spans(&self, a: u32, b: u32) -> bool {
        let i = self.0.partition_point(|(_, end)| *end < a);
        self.0
            .get(i)
            .is_some_and(|(start, end)| *start <= a && b <= *end)
    }
}

impl From<UidRanges> for String {
    fn from(r: UidRanges) -> String {
        r.0.iter()
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}:{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl TryFrom<String> for UidRanges {
    type Error = String;

    fn try_from(text: String) -> Result<UidRanges, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (a, b) = part.split_once(':').unwrap_or((part, part));
            let parse = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| format!("bad UID range {part}"))
            };
            let (a, b) = (parse(a)?, parse(b)?);
            if a > b || ranges.last().is_some_and(|&(_, end): &(u32, u32)| end >= a) {
                return Err(format!("UID ranges out of order at {part}"));
            }
            ranges.push((a, b));
        }
        Ok(UidRanges(ranges))
    }
}

/// A change a guard objects to, before the state is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objection {
    /// The server's name of the folder (the state's key).
    pub folder: String,
    /// The folder's name as people read it, and as `approve` takes it.
    pub display: String,
    pub change: Change,
    /// What the change would do, with the counts on both sides.
    pub summary: String,
    /// What approving it lets the next sync do.
    pub consequence: String,
}

/// A change refused: the error a folder fails with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to {summary}; nothing was changed in this folder. If that is wanted, run \
     `{command}`: the next sync then {consequence}, and only that (a different change \
     is refused again)"
)]
pub struct Refused {
    pub summary: String,
    pub command: String,
    pub consequence: String,
}

/// Whether an objected change may go on: `Ok(true)` when an approval covers
/// it (the caller clears it with [`done`] once the change is made), else
/// the refusal is recorded (outside dry runs) and returned.
pub fn settle(
    db: &StateDb,
    account: &str,
    objection: Objection,
    dry_run: bool,
) -> anyhow::Result<bool> {
    if is_approved(db, &objection)? {
        return Ok(true);
    }
    if !dry_run {
        record(db, &objection)?;
    }
    Err(Refused {
        command: approve_command(account, &[objection.display.as_str()]),
        summary: objection.summary,
        consequence: objection.consequence,
    }
    .into())
}

/// Whether a person approved a change that covers this one.
pub fn is_approved(db: &StateDb, objection: &Objection) -> anyhow::Result<bool> {
    let recorded = db.refusal(&objection.folder, objection.change.guard())?;
    Ok(recorded
        .filter(|r| r.approved.is_some())
        .and_then(|r| Change::from_text(&r.change))
        .is_some_and(|c| c.covers(&objection.change)))
}

/// Records the refusal for `imapdir approve`, replacing the folder's
/// earlier one of that guard, and its approval.
pub fn record(db: &StateDb, objection: &Objection) -> anyhow::Result<()> {
    db.record_refusal(
        &objection.folder,
        objection.change.guard(),
        &objection.display,
        &objection.change.to_text(),
        &objection.summary,
    )?;
    Ok(())
}

/// The approved change of `guard` in `folder` was made (or is no longer
/// objected to): forget it, so it approves nothing later.
pub fn done(db: &StateDb, folder: &str, guard: &str) -> anyhow::Result<()> {
    db.clear_refusal(folder, guard)?;
    Ok(())
}

/// `imapdir approve ACCOUNT FOLDER...`, quoted for a POSIX shell.
pub fn approve_command(account: &str, folders: &[&str]) -> String {
    let mut words = vec!["imapdir".to_string(), "approve".into(), shell_word(account)];
    words.extend(folders.iter().map(|f| shell_word(f)));
    words.join(" ")
}

pub(crate) fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+@%:,=".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(uids: &[u32]) -> UidRanges {
        UidRanges::of(uids.iter().map(|&u| Uid(u)))
    }

    #[test]
    fn uid_ranges_round_trip_through_their_text() {
        let r = ranges(&[9, 1, 2, 3, 5, 3]);
        assert_eq!(String::from(r.clone()), "1:3,5,9");
        assert_eq!(r.len(), 5);
        assert_eq!(UidRanges::try_from("1:3,5,9".to_string()).unwrap(), r);
        assert!(UidRanges::try_from("5,1".to_string()).is_err());
        assert!(UidRanges::try_from("x".to_string()).is_err());
        assert!(UidRanges::try_from(String::new()).unwrap().is_empty());
    }

    #[test]
    fn an_approval_covers_the_same_deletions_or_fewer_and_nothing_else() {
        let approved = Change::MassDelete {
            local: ranges(&[]),
            server: ranges(&[1, 2, 3, 4, 5, 6, 7, 20]),
        };
        let same = approved.clone();
        let fewer = Change::MassDelete {
            local: ranges(&[]),
            server: ranges(&[2, 3, 20]),
        };
        let another = Change::MassDelete {
            local: ranges(&[]),
            server: ranges(&[2, 3, 8]),
        };
        let other_side = Change::MassDelete {
            local: ranges(&[2]),
            server: ranges(&[2, 3]),
        };
        assert!(approved.covers(&same));
        assert!(approved.covers(&fewer));
        assert!(!approved.covers(&another));
        assert!(!approved.covers(&other_side));
        assert!(!approved.covers(&Change::FolderDelete { on_server: true }));
    }

    #[test]
    fn a_first_meeting_stays_approved_while_it_grows_a_little() {
        let approved = Change::FirstCopy {
            local_unpaired: 100,
            remote_unpaired: 20,
        };
        let grown = |l, r| Change::FirstCopy {
            local_unpaired: l,
            remote_unpaired: r,
        };
        assert!(approved.covers(&grown(100, 25)));
        assert!(approved.covers(&grown(110, 0)));
        assert!(!approved.covers(&grown(111, 20)));
        assert!(!approved.covers(&grown(100, 26)));
    }

    #[test]
    fn changes_survive_the_state_as_text() {
        for change in [
            Change::MassDelete {
                local: ranges(&[1, 2, 3]),
                server: ranges(&[7]),
            },
            Change::FirstCopy {
                local_unpaired: 3,
                remote_unpaired: 4,
            },
            Change::FolderDelete { on_server: false },
        ] {
            assert_eq!(Change::from_text(&change.to_text()), Some(change));
        }
        assert_eq!(Change::from_text("{\"guard\":\"new-kind\"}"), None);
    }

    #[test]
    fn the_command_is_quoted_for_the_shell() {
        assert_eq!(
            approve_command("work", &["Sent"]),
            "imapdir approve work Sent"
        );
        assert_eq!(
            approve_command("my mail", &["Archive/2023", "Bob's things", "Ünïcode"]),
            "imapdir approve 'my mail' Archive/2023 'Bob'\\''s things' 'Ünïcode'"
        );
    }

    fn db() -> (tempfile::TempDir, StateDb) {
        let dir = tempfile::tempdir().unwrap();
        let db = StateDb::open(&dir.path().join("state.db")).unwrap();
        (dir, db)
    }

    fn objection(server: &[u32]) -> Objection {
        Objection {
            folder: "INBOX.Sent".into(),
            display: "Sent".into(),
            change: Change::MassDelete {
                local: ranges(&[]),
                server: ranges(server),
            },
            summary: format!("delete {} messages on the server", server.len()),
            consequence: "deletes them".into(),
        }
    }

    #[test]
    fn a_refusal_is_recorded_then_approved_once_for_that_change_only() {
        let (_dir, db) = db();
        let err = settle(&db, "work", objection(&[1, 2, 3]), false).unwrap_err();
        assert!(
            err.to_string().contains("`imapdir approve work Sent`"),
            "{err}"
        );
        let row = db.refusal("INBOX.Sent", "mass-delete").unwrap().unwrap();
        assert_eq!((row.display.as_str(), row.approved), ("Sent", None));

        // Refused again until approved.
        assert!(settle(&db, "work", objection(&[1, 2, 3]), false).is_err());
        assert!(db.approve_refusal("INBOX.Sent", "mass-delete").unwrap());
        // A different change is refused, and replaces the approval.
        assert!(settle(&db, "work", objection(&[1, 2, 4]), false).is_err());
        assert!(settle(&db, "work", objection(&[1, 2, 3]), false).is_err());
        assert!(db.approve_refusal("INBOX.Sent", "mass-delete").unwrap());
        assert!(settle(&db, "work", objection(&[1, 2]), false).unwrap());
        done(&db, "INBOX.Sent", "mass-delete").unwrap();
        assert!(db.refusal("INBOX.Sent", "mass-delete").unwrap().is_none());
        assert!(settle(&db, "work", objection(&[1, 2]), false).is_err());
    }

    #[test]
    fn a_dry_run_records_nothing() {
        let (_dir, db) = db();
        assert!(settle(&db, "work", objection(&[1, 2, 3]), true).is_err());
        assert!(db.refusals().unwrap().is_empty());
        assert!(!db.approve_refusal("INBOX.Sent", "mass-delete").unwrap());
    }
}
