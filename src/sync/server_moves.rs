//! Messages moved between folders on the server (a filter rule, the
//! webmail, another client): the local file is moved to the new folder,
//! not downloaded again while the old copy is deleted. Identity before
//! transfer: a message gone from folder A and a new one in folder B are
//! the same when their Message-ID and size match, each exactly once among
//! this run's departures and arrivals; anything less certain is a download
//! and a deletion, as before.
//!
//! Looked for only where the servers' statuses show both: a folder holding
//! fewer messages than were synced, and another whose UIDNEXT moved on;
//! every folder concerned is looked at in one round trip
//! ([`Session::probe_folders`]).
//! The file is renamed into the target folder first, carrying its new UID,
//! and the pair moved after: a run killed between finds a file whose name
//! carries a UID the target folder has, and adopts it. For the same reason
//! an arrival that a file in the target folder already names (a download a
//! killed run did not record) is no move: that file is adopted instead.

use std::collections::{HashMap, HashSet};
use std::io::Seek;

use anyhow::Context;

use crate::imap::{Departures, FolderProbe, HeaderInfo, Session};
use crate::maildir::{base_with_uid, crlf_size, read_message_id};
use crate::model::{Pair, Uid};
use crate::report::Reporter;
use crate::state::StateDb;

use super::folder::FolderWork;
use super::local_moves::{DryMove, Moves};

/// What identifies a message across folders here: Message-ID and size.
type Key = (String, u64);

/// A message that left one folder and arrived in another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub from: usize,
    pub pair: Pair,
    pub to: usize,
    pub uid: Uid,
}

/// Pairs departures with arrivals whose key matches, when the key is
/// unique on both sides and the folders differ.
pub fn match_moves(
    departed: Vec<(usize, Pair, Key)>,
    arrived: Vec<(usize, Uid, Key)>,
) -> Vec<Found> {
    let mut departed_count: HashMap<Key, usize> = HashMap::new();
    for (_, _, key) in &departed {
        *departed_count.entry(key.clone()).or_default() += 1;
    }
    let mut arrivals: HashMap<Key, Option<(usize, Uid)>> = HashMap::new();
    for (folder, uid, key) in arrived {
        arrivals
            .entry(key)
            .and_modify(|seen| *seen = None)
            .or_insert(Some((folder, uid)));
    }
    let mut found: Vec<Found> = departed
        .into_iter()
        .filter(|(_, _, key)| departed_count[key] == 1)
        .filter_map(|(from, pair, key)| match arrivals.get(&key) {
            Some(Some((to, uid))) if *to != from => Some(Found {
                from,
                pair,
                to: *to,
                uid: *uid,
            }),
            _ => None,
        })
        .collect();
    found.sort_by_key(|f| (f.from, f.to, f.pair.uid));
    found
}

/// Finds the server's moves among `folders` and moves the local files.
/// Returns how many; in a dry run, only describes them.
pub fn run(
    session: &mut Session,
    db: &mut StateDb,
    folders: &[&FolderWork],
    dry_run: bool,
    reporter: &Reporter,
    account: &str,
) -> anyhow::Result<Moves> {
    let mut out = Moves::default();
    let mut losing = Vec::new();
    let mut gaining = Vec::new();
    for (i, work) in folders.iter().enumerate() {
        let (Some(stored), Some(status)) = (&work.stored, &work.job.status) else {
            continue;
        };
        if !(work.job.on_server && work.job.on_disk) {
            continue;
        }
        if let (Some(now), Some(before)) = (status.uidnext, stored.uidnext) {
            if now > before {
                gaining.push(i);
            }
        }
        if status
            .messages
            .is_some_and(|n| (n as usize) < db.pair_count(stored.id).unwrap_or(0))
        {
            losing.push(i);
        }
    }
    if losing.is_empty() || !gaining.iter().any(|g| losing.iter().any(|l| l != g)) {
        return Ok(out);
    }
    // One look at every folder concerned, in one round trip.
    let mut concerned: Vec<usize> = losing.iter().chain(&gaining).copied().collect();
    concerned.sort_unstable();
    concerned.dedup();
    let probes: Vec<FolderProbe> = concerned
        .iter()
        .map(|&i| {
            let work = folders[i];
            let stored = work.stored.as_ref().expect("a synced folder");
            FolderProbe {
                name: work.job.remote_name.clone(),
                departures_since: losing.contains(&i).then_some(stored.highestmodseq),
                arrivals_from: gaining.contains(&i).then_some(stored.uidnext).flatten(),
            }
        })
        .collect();
    let answers = session.probe_folders(&probes)?;
    let mut departed = Vec::new();
    let mut arrived = Vec::new();
    for (&i, answer) in concerned.iter().zip(answers) {
        let work = folders[i];
        let answer = answer
            .with_context(|| format!("cannot open {} on the server", work.job.display_name))?;
        let stored = work.stored.as_ref().expect("a synced folder");
        if answer.info.uidvalidity != stored.uidvalidity {
            continue;
        }
        if let Some(departures) = &answer.departures {
            departed.extend(
                departed_pairs(db, work, departures)?
                    .into_iter()
                    .map(|(p, k)| (i, p, k)),
            );
        }
        if !answer.arrivals.is_empty() {
            arrived.extend(
                arrivals(db, work, answer.arrivals)?
                    .into_iter()
                    .map(|(u, k)| (i, u, k)),
            );
        }
    }
    if departed.is_empty() {
        return Ok(out);
    }
    let found = match_moves(departed, arrived);
    let mut moved_by_pair: HashMap<(usize, usize), u64> = HashMap::new();
    for f in &found {
        let (from, to) = (folders[f.from], folders[f.to]);
        if dry_run {
            out.described.push(format!(
                "move a message from {} to {} locally (moved on the server)",
                from.job.display_name, to.job.display_name
            ));
            out.dry.push(DryMove {
                from: f.from,
                uid: f.pair.uid,
                to: f.to,
                arrival: Err(f.uid),
            });
            continue;
        }
        if move_file(db, from, to, f)? {
            *moved_by_pair.entry((f.from, f.to)).or_default() += 1;
        }
    }
    for ((from, to), n) in moved_by_pair {
        out.moved += n;
        reporter.info(format!(
            "{account}: {}: {n} moved to {} on the server; moved here without a download",
            folders[from].job.display_name, folders[to].job.display_name
        ));
    }
    for work in folders {
        if !dry_run && work.maildir.exists() {
            work.maildir
                .sync_dirs()
                .context("cannot sync the Maildir")?;
        }
    }
    Ok(out)
}

/// The pairs of a folder whose messages the server no longer has, with
/// the key of their local files: read among the UIDs expunged where the
/// server told them, else against every UID present.
fn departed_pairs(
    db: &StateDb,
    work: &FolderWork,
    departures: &Departures,
) -> anyhow::Result<Vec<(Pair, Key)>> {
    let stored = work.stored.as_ref().expect("a synced folder");
    let gone: Vec<Pair> = match departures {
        Departures::Vanished(ranges) => db.pairs_among(stored.id, &[], ranges)?,
        Departures::Present(uids) => {
            let present: HashSet<Uid> = uids.iter().copied().collect();
            db.pairs(stored.id)?
                .into_iter()
                .filter(|p| !present.contains(&p.uid))
                .collect()
        }
    };
    let mut out = Vec::new();
    for pair in gone {
        let Some(msg) = work.maildir.find_recorded(&pair.local_base, pair.flags)? else {
            continue;
        };
        let mut file = work.maildir.open(&msg)?;
        let Some(id) = read_message_id(&mut file)? else {
            continue;
        };
        file.rewind()?;
        let size = crlf_size(&mut file)?;
        out.push((pair, (id, size)));
    }
    Ok(out)
}

/// The messages new in a folder since its last sync and not yet paired,
/// with their keys, from what the server told of them.
fn arrivals(
    db: &StateDb,
    work: &FolderWork,
    headers: Vec<HeaderInfo>,
) -> anyhow::Result<Vec<(Uid, Key)>> {
    let stored = work.stored.as_ref().expect("a synced folder");
    let (Some(from), Some(next)) = (
        stored.uidnext,
        work.job.status.as_ref().and_then(|s| s.uidnext),
    ) else {
        return Ok(Vec::new());
    };
    if next <= from {
        return Ok(Vec::new());
    }
    let range = from.0..=next.0.saturating_sub(1);
    let mut paired: HashSet<Uid> = db
        .pairs_among(stored.id, &[], std::slice::from_ref(&range))?
        .into_iter()
        .map(|p| p.uid)
        .collect();
    // A file here already named with the UID is a download a killed run
    // did not record: the folder's sync adopts it; a move would make two.
    work.maildir
        .scan(&mut |m| {
            if let Some(uid) = m.uid_hint.filter(|u| range.contains(&u.0)) {
                paired.insert(uid);
            }
        })
        .with_context(|| format!("cannot read {}", work.job.local_path.display()))?;
    Ok(headers
        .into_iter()
        .filter(|h| h.uid >= from && !paired.contains(&h.uid))
        .filter_map(|h| h.message_id.map(|id| (h.uid, (id, u64::from(h.size)))))
        .collect())
}

/// Moves the file into the target folder under its new UID, then the
/// pair. False when the file could not be moved (it is downloaded then).
fn move_file(
    db: &mut StateDb,
    from: &FolderWork,
    to: &FolderWork,
    found: &Found,
) -> anyhow::Result<bool> {
    let (Some(from_state), Some(to_state)) = (&from.stored, &to.stored) else {
        return Ok(false);
    };
    let Some(msg) = from
        .maildir
        .find_recorded(&found.pair.local_base, found.pair.flags)?
    else {
        return Ok(false);
    };
    let new_base = base_with_uid(&found.pair.local_base, found.uid);
    // Keyword letters are per folder: the file gets the target's letters
    // for the same keywords, named there before the file carries them.
    let flags = moved_keywords(from, to, found.pair.flags)?;
    let moved = match from
        .maildir
        .move_into_as(&msg, &to.maildir, &new_base, Some(flags))
    {
        Ok(m) => m,
        // Another file system, or the file went meanwhile: a download.
        Err(_) => return Ok(false),
    };
    db.move_pair(
        from_state.id,
        found.pair.uid,
        to_state.id,
        &Pair {
            uid: found.uid,
            local_base: moved.base,
            flags,
        },
        None,
    )?;
    Ok(true)
}

/// `flags` of a message in `from` as `to`'s letters; new names in `to`
/// are written to its dovecot-keywords first.
pub(super) fn moved_keywords(
    from: &FolderWork,
    to: &FolderWork,
    flags: crate::model::Flags,
) -> anyhow::Result<crate::model::Flags> {
    to.maildir
        .carry_keywords(flags, &from.maildir)
        .with_context(|| {
            format!(
                "cannot carry the keywords of {} to {}",
                from.job.display_name, to.job.display_name
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flags;

    fn pair(uid: u32) -> Pair {
        Pair {
            uid: Uid(uid),
            local_base: format!("b{uid},U={uid}"),
            flags: Flags::SEEN,
        }
    }

    fn key(id: &str, size: u64) -> Key {
        (id.to_string(), size)
    }

    #[test]
    fn a_message_gone_here_and_new_there_is_a_move() {
        let found = match_moves(
            vec![
                (0, pair(3), key("<a@x>", 100)),
                (0, pair(4), key("<b@x>", 200)),
            ],
            vec![
                (1, Uid(50), key("<a@x>", 100)),
                (1, Uid(51), key("<c@x>", 10)),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].from, found[0].to, found[0].uid), (0, 1, Uid(50)));
    }

    #[test]
    fn anything_uncertain_is_a_download() {
        // Same Message-ID, another size: another message.
        assert!(match_moves(
            vec![(0, pair(3), key("<a@x>", 100))],
            vec![(1, Uid(50), key("<a@x>", 101))]
        )
        .is_empty());
        // Two arrivals with the key: which one is not certain.
        assert!(match_moves(
            vec![(0, pair(3), key("<a@x>", 100))],
            vec![
                (1, Uid(50), key("<a@x>", 100)),
                (2, Uid(7), key("<a@x>", 100))
            ]
        )
        .is_empty());
        // Two departures with the key.
        assert!(match_moves(
            vec![
                (0, pair(3), key("<a@x>", 100)),
                (2, pair(9), key("<a@x>", 100))
            ],
            vec![(1, Uid(50), key("<a@x>", 100))]
        )
        .is_empty());
        // The same folder: an expunge and a new copy there, not a move.
        assert!(match_moves(
            vec![(0, pair(3), key("<a@x>", 100))],
            vec![(0, Uid(50), key("<a@x>", 100))]
        )
        .is_empty());
    }
}
