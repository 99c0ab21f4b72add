//! A folder's keywords in its sync: the table read from the Maildir before
//! the server is read, new keywords' letters written out before any file
//! carries them, and the keywords the folder cannot sync recorded and
//! reported.

use anyhow::Context;

use crate::model::{Flags, Keywords, LocalMessage, RemoteMessage};
use crate::state::{KeywordGap, UnsyncedKeyword};

use super::super::LazySession;
use super::FolderWork;

/// Reads the folder's `dovecot-keywords` and hands it to the session, so
/// the server's FETCH FLAGS map through it.
pub fn load(session: &mut LazySession<'_>, work: &FolderWork) -> anyhow::Result<()> {
    let table = if work.maildir.exists() {
        work.maildir
            .read_keywords()
            .with_context(|| format!("cannot read the keywords of {}", work.job.display_name))?
    } else {
        Keywords::default()
    };
    session.set_keywords(&work.job.remote_name, table);
    Ok(())
}

/// The session's table for the folder, its new letters written to
/// `dovecot-keywords` first unless `dry_run`: a file never carries a
/// letter the file does not name.
pub fn settle(
    session: &mut LazySession<'_>,
    work: &FolderWork,
    dry_run: bool,
) -> anyhow::Result<Keywords> {
    let name = &work.job.remote_name;
    let table = session.keywords(name).cloned().unwrap_or_default();
    if dry_run || !table.has_additions() || !work.maildir.exists() {
        return Ok(table);
    }
    let written = work
        .maildir
        .write_keyword_additions(&table)
        .with_context(|| {
            format!(
                "cannot record new keywords of {} (nothing was changed; the next run tries again)",
                work.job.display_name
            )
        })?;
    session.set_keywords(name, written.clone());
    Ok(written)
}

/// Leaves out of each side's flags the keyword letters this folder does
/// not sync (`keep` is the rest): the letters stay on the files, since
/// only flag changes are applied to them, and the server is never asked
/// to store them.
pub fn restrict(local: &mut [LocalMessage], remote: &mut [RemoteMessage], keep: Flags) {
    for m in local {
        m.flags = m.flags.intersection(keep);
    }
    for r in remote {
        r.flags = r.flags.intersection(keep);
    }
}

/// Whether messages carry keywords in `slots` (before [`restrict`]).
pub fn carried(local: &[LocalMessage], slots: Flags) -> bool {
    !slots.is_empty()
        && local
            .iter()
            .any(|m| !m.flags.intersection(slots).is_empty())
}

/// What the folder cannot sync: keywords with no letter left (from the
/// server's listing), and the named keywords the server refuses that local
/// files carry, with how many files carry each.
pub fn unsynced(table: &Keywords, refused: Flags, local: &[LocalMessage]) -> Vec<UnsyncedKeyword> {
    let mut out: Vec<UnsyncedKeyword> = table
        .overflow()
        .iter()
        .map(|(keyword, &messages)| UnsyncedKeyword {
            keyword: keyword.clone(),
            reason: KeywordGap::NoLetter,
            messages,
        })
        .collect();
    for slot in refused.keyword_slots() {
        let bit = Flags::keyword(slot);
        let messages = local.iter().filter(|m| m.flags.contains(bit)).count() as u64;
        if let (Some(keyword), true) = (table.name(slot), messages > 0) {
            out.push(UnsyncedKeyword {
                keyword: keyword.to_string(),
                reason: KeywordGap::Refused,
                messages,
            });
        }
    }
    out
}

/// Whether a keyword recorded as unsynced syncs now: it has a letter (a
/// person named it in dovecot-keywords), and the server stores it, which
/// only a SELECT's PERMANENTFLAGS tell (`permanent_known`).
pub fn syncs_again(
    table: &Keywords,
    refused: Flags,
    permanent_known: bool,
    k: &UnsyncedKeyword,
) -> bool {
    let Some(slot) = table.slot(&k.keyword) else {
        return false;
    };
    match k.reason {
        KeywordGap::NoLetter => !refused.contains(Flags::keyword(slot)),
        KeywordGap::Refused => permanent_known && !refused.contains(Flags::keyword(slot)),
    }
}

/// The warning for one keyword the folder cannot sync.
pub fn describe(folder: &str, k: &UnsyncedKeyword) -> String {
    let n = k.messages;
    let s = if n == 1 { "" } else { "s" };
    match k.reason {
        KeywordGap::NoLetter => format!(
            "{folder}: keyword {} is not synced: all 26 keyword letters of the folder are \
             taken in its dovecot-keywords; it stays on the server ({n} message{s})",
            k.keyword
        ),
        KeywordGap::Refused => format!(
            "{folder}: keyword {} is not synced: the server does not store it (not in \
             PERMANENTFLAGS); it stays on the local files ({n} file{s})",
            k.keyword
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Subdir, Uid};

    fn file(base: &str, flags: Flags) -> LocalMessage {
        LocalMessage {
            subdir: Subdir::Cur,
            name: format!("{base}:2,{flags}"),
            base: base.into(),
            uid_hint: None,
            flags,
        }
    }

    #[test]
    fn unnamed_and_refused_letters_are_left_out_of_the_sync() {
        let mut table =
            Keywords::from_entries([(0, "$Junk".to_string()), (1, "$Label1".to_string())]);
        let listed = vec!["\\Seen".to_string(), "$Junk".to_string()];
        let refused = table.refused(Some(&listed));
        assert_eq!(refused, Flags::keyword(1));
        // b is named but refused, c has no name.
        let mut local = vec![
            file(
                "x",
                Flags::SEEN
                    .union(Flags::keyword(0))
                    .union(Flags::keyword(1)),
            ),
            file("y", Flags::keyword(1).union(Flags::keyword(2))),
        ];
        let mut remote = vec![RemoteMessage {
            uid: Uid(1),
            flags: Flags::keyword(1),
            size: None,
            modseq: None,
        }];
        for i in 0..27 {
            table.resolve(&format!("k{i}"));
        }
        let found = unsynced(&table, refused, &local);
        assert_eq!(
            found,
            vec![
                UnsyncedKeyword {
                    keyword: "k24".into(),
                    reason: KeywordGap::NoLetter,
                    messages: 1
                },
                UnsyncedKeyword {
                    keyword: "k25".into(),
                    reason: KeywordGap::NoLetter,
                    messages: 1
                },
                UnsyncedKeyword {
                    keyword: "k26".into(),
                    reason: KeywordGap::NoLetter,
                    messages: 1
                },
                UnsyncedKeyword {
                    keyword: "$Label1".into(),
                    reason: KeywordGap::Refused,
                    messages: 2
                },
            ]
        );
        assert!(describe("INBOX", &found[3]).contains("INBOX: keyword $Label1"));
        // k26 has no letter; $Label1 is refused until a SELECT says otherwise.
        assert!(!syncs_again(&table, refused, true, &found[2]));
        assert!(!syncs_again(&table, refused, true, &found[3]));
        assert!(!syncs_again(&table, Flags::empty(), false, &found[3]));
        assert!(syncs_again(&table, Flags::empty(), true, &found[3]));
        assert!(carried(&local, refused));
        let keep = Keywords::from_entries([(0, "$Junk".to_string()), (1, "$Label1".to_string())])
            .named()
            .difference(refused);
        restrict(&mut local, &mut remote, keep);
        assert_eq!(local[0].flags, Flags::SEEN.union(Flags::keyword(0)));
        assert_eq!(local[1].flags, Flags::empty());
        assert_eq!(remote[0].flags, Flags::empty());
    }
}
