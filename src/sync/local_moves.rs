//! Messages a mail reader moved from one local folder to another (aerc's
//! move, notmuch's MailMover, `mv`): sent to the server as a move, not as
//! an upload and a deletion. Identity before transfer: a file that left
//! folder A and appeared in folder B with the base imapdir gave it in A
//! (its unique part and `,U=`) is that message, certainly; anything less
//! certain stays an upload and a deletion, under the usual guards.
//!
//! Decided per account before the folders sync, since a move spans two
//! folders: `UID MOVE` from A to B (or COPY and the expunge of that UID),
//! the new UID from COPYUID, the file renamed in place to carry it, and
//! the pair moved to B with A's recorded flags, so a flag changed during
//! the move is pushed by B's own sync. Each move is one journaled intent
//! ([`crate::state::MoveIntent`]): a run killed between the server's MOVE
//! and the local record asks the server where the message went.

use std::collections::HashMap;

use anyhow::Context;

use crate::imap::Session;
use crate::maildir::{base_with_uid, parse_name, read_message_id};
use crate::model::{LocalMessage, Pair, Uid};
use crate::report::Reporter;
use crate::state::{MoveIntent, StateDb};

use super::folder::FolderWork;

/// One message to move: from a folder's pair to a file in another folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub from: usize,
    pub pair: Pair,
    pub to: usize,
    pub file: LocalMessage,
}

/// Pairs each recorded message gone from its folder with a file that
/// appeared in another folder under the same base. `departed` and
/// `arrived` are (folder index, what left / what came).
pub fn match_moves(
    departed: Vec<(usize, Pair)>,
    arrived: Vec<(usize, LocalMessage)>,
) -> Vec<Found> {
    let mut by_base: HashMap<String, (usize, LocalMessage)> = HashMap::new();
    for (folder, file) in arrived {
        // Two arrivals with one base (a copy in two folders): neither is certain.
        if by_base
            .insert(file.base.clone(), (folder, file.clone()))
            .is_some()
        {
            by_base.insert(file.base.clone(), (usize::MAX, file));
        }
    }
    let mut found = Vec::new();
    for (from, pair) in departed {
        if let Some((to, file)) = by_base.remove(&pair.local_base) {
            if to != usize::MAX && to != from {
                found.push(Found {
                    from,
                    pair,
                    to,
                    file,
                });
            }
        }
    }
    found.sort_by_key(|f| (f.from, f.to, f.pair.uid));
    found
}

/// What one folder offers: its pairs gone locally, its unrecorded files
/// that carry a UID.
fn departures_and_arrivals(
    db: &StateDb,
    work: &FolderWork,
) -> anyhow::Result<(Vec<Pair>, Vec<LocalMessage>)> {
    let Some(stored) = &work.stored else {
        return Ok((Vec::new(), Vec::new()));
    };
    let mut files: HashMap<String, LocalMessage> = HashMap::new();
    work.maildir
        .scan(&mut |m| {
            files.insert(m.base.clone(), m);
        })
        .with_context(|| format!("cannot read {}", work.job.local_path.display()))?;
    let pairs = db.pairs(stored.id)?;
    let recorded: std::collections::HashSet<&str> =
        pairs.iter().map(|p| p.local_base.as_str()).collect();
    let arrived = files
        .values()
        .filter(|m| m.uid_hint.is_some() && !recorded.contains(m.base.as_str()))
        .cloned()
        .collect();
    let departed = pairs
        .into_iter()
        .filter(|p| !files.contains_key(&p.local_base))
        .collect();
    Ok((departed, arrived))
}

/// The folders a move can leave or enter (their indices in `folders`):
/// synced before, on both sides, and changed locally since.
fn candidates(folders: &[&FolderWork]) -> Vec<usize> {
    (0..folders.len())
        .filter(|&i| folders[i].job.on_server && folders[i].job.on_disk)
        .filter(|&i| {
            folders[i]
                .stored
                .as_ref()
                .is_some_and(|s| s.stamp.is_none() || s.stamp != folders[i].maildir.stamp().ok())
        })
        .collect()
}

/// What finding moves gave: how many were made, what a dry run would do
/// (lines, and the moves themselves by index in the folders given).
#[derive(Debug, Default)]
pub struct Moves {
    pub moved: u64,
    pub described: Vec<String>,
    pub dry: Vec<DryMove>,
}

/// A move a dry run found.
#[derive(Debug, Clone)]
pub struct DryMove {
    pub from: usize,
    pub uid: Uid,
    pub to: usize,
    /// The local file's base (a local move), or the server's new UID.
    pub arrival: Result<String, Uid>,
}

/// Finishes moves a killed run left, then (when pushing) finds the local
/// moves among `folders` and makes them on the server; in a dry run, only
/// describes them.
pub fn run(
    session: &mut Session,
    db: &mut StateDb,
    folders: &[&FolderWork],
    dry_run: bool,
    push: bool,
    reporter: &Reporter,
    account: &str,
) -> anyhow::Result<Moves> {
    // Also on a `--pull` run: a folder's sync must not find a half-made
    // move's message as a new one.
    if !dry_run {
        resume(session, db, folders, reporter, account)?;
    }
    if !push {
        return Ok(Moves::default());
    }
    let changed = candidates(folders);
    let mut out = Moves::default();
    // Without MOVE or UIDPLUS a copy's original may stay behind, marked
    // \Deleted: a move could not tell that it happened. Transfers then.
    let can_move = session.has_capability("MOVE") || session.has_capability("UIDPLUS");
    if changed.len() < 2 || !can_move {
        return Ok(out);
    }
    let mut departed = Vec::new();
    let mut arrived = Vec::new();
    for &i in &changed {
        let (gone, came) = departures_and_arrivals(db, folders[i])?;
        departed.extend(gone.into_iter().map(|p| (i, p)));
        arrived.extend(came.into_iter().map(|m| (i, m)));
    }
    let found = match_moves(departed, arrived);
    let mut groups: Vec<Vec<Found>> = Vec::new();
    for f in found {
        match groups.last_mut() {
            Some(g) if g[0].from == f.from && g[0].to == f.to => g.push(f),
            _ => groups.push(vec![f]),
        }
    }
    for group in groups {
        let (from, to) = (folders[group[0].from], folders[group[0].to]);
        if dry_run {
            out.described.push(format!(
                "move {} messages from {} to {} on the server (moved locally)",
                group.len(),
                from.job.display_name,
                to.job.display_name
            ));
            out.dry.extend(group.iter().map(|f| DryMove {
                from: f.from,
                uid: f.pair.uid,
                to: f.to,
                arrival: Ok(f.file.base.clone()),
            }));
            continue;
        }
        let done = move_group(session, db, from, to, &group).with_context(|| {
            format!(
                "cannot move messages from {} to {}",
                from.job.display_name, to.job.display_name
            )
        })?;
        out.moved += done;
        reporter.info(format!(
            "{account}: {}: {done} moved to {} without a transfer",
            from.job.display_name, to.job.display_name
        ));
    }
    Ok(out)
}

/// Journals, moves on the server and records one folder pair's moves.
fn move_group(
    session: &mut Session,
    db: &mut StateDb,
    from: &FolderWork,
    to: &FolderWork,
    group: &[Found],
) -> anyhow::Result<u64> {
    let (Some(from_state), Some(to_state)) = (&from.stored, &to.stored) else {
        return Ok(0);
    };
    let to_uidnext = to
        .job
        .status
        .as_ref()
        .and_then(|s| s.uidnext)
        .or(to_state.uidnext);
    let intents: Vec<MoveIntent> = group
        .iter()
        .map(|f| MoveIntent {
            id: 0,
            from_folder: from_state.id,
            uid: f.pair.uid,
            to_folder: to_state.id,
            local_base: f.pair.local_base.clone(),
            message_id: to
                .maildir
                .open(&f.file)
                .ok()
                .and_then(|mut file| read_message_id(&mut file).ok().flatten()),
            to_uidnext,
        })
        .collect();
    let intents = db.add_move_intents(&intents)?;
    let selected = session.select(&from.job.remote_name)?;
    if selected.uidvalidity != from_state.uidvalidity {
        // The folder's own sync re-pairs it; these are transfers then.
        for intent in &intents {
            db.drop_move(intent.id)?;
        }
        return Ok(0);
    }
    let uids: Vec<Uid> = group.iter().map(|f| f.pair.uid).collect();
    let moved = session.uid_move(&uids, &to.job.remote_name)?;
    let new_uids: HashMap<Uid, Uid> = match moved {
        Some(m) if m.uidvalidity == to_state.uidvalidity => m.uids.into_iter().collect(),
        _ => HashMap::new(),
    };
    let mut done = 0;
    let mut files = files_by_base(&to.maildir)
        .with_context(|| format!("cannot read {}", to.job.local_path.display()))?;
    for (found, intent) in group.iter().zip(&intents) {
        let new_uid = match new_uids.get(&found.pair.uid) {
            Some(uid) => Some(*uid),
            // No COPYUID: the server's answer names no UID; ask it.
            None => find_in_target(session, &to.job.remote_name, intent)?,
        };
        if finish(db, from, to, &mut files, intent, new_uid, &found.pair)? {
            done += 1;
        }
    }
    to.maildir.sync_dirs().context("cannot sync the Maildir")?;
    Ok(done)
}

/// A folder's files by base, read once for all the moves into it (a
/// lookup per move would read the whole directory each time); cur/ wins
/// over new/, as [`crate::maildir::Maildir::find_base`] has it.
fn files_by_base(
    maildir: &crate::maildir::Maildir,
) -> std::io::Result<HashMap<String, LocalMessage>> {
    let mut files = HashMap::new();
    if maildir.exists() {
        maildir.scan(&mut |m| {
            if m.subdir == crate::model::Subdir::Cur || !files.contains_key(&m.base) {
                files.insert(m.base.clone(), m);
            }
        })?;
    }
    Ok(files)
}

/// The moved message's UID in the target folder, by its Message-ID among
/// the UIDs the move can have given it; `None` when not exactly one.
fn find_in_target(
    session: &mut Session,
    to: &str,
    intent: &MoveIntent,
) -> anyhow::Result<Option<Uid>> {
    let Some(message_id) = &intent.message_id else {
        return Ok(None);
    };
    session.select(to)?;
    let found: Vec<Uid> = session
        .uid_search_message_id(message_id)?
        .into_iter()
        .filter(|u| intent.to_uidnext.is_none_or(|next| *u >= next))
        .collect();
    Ok(match found.as_slice() {
        [uid] => Some(*uid),
        _ => None,
    })
}

/// Renames the file to carry its new UID and records the pair in the
/// target folder; without a UID, leaves the message to the folders' own
/// syncs (the file is then uploaded, never lost). True when recorded.
///
/// The file came with the source folder's keyword letters (a mail reader
/// keeps the name): they become the target's letters for the same
/// keywords, and so does the recorded base, so a keyword changed during
/// the move still reaches the server by B's own sync.
fn finish(
    db: &mut StateDb,
    source: &FolderWork,
    to: &FolderWork,
    files: &mut HashMap<String, LocalMessage>,
    intent: &MoveIntent,
    new_uid: Option<Uid>,
    source_pair: &Pair,
) -> anyhow::Result<bool> {
    let Some(uid) = new_uid else {
        db.drop_move(intent.id)?;
        return Ok(false);
    };
    let target = &to.maildir;
    let new_base = base_with_uid(&intent.local_base, uid);
    let names = source
        .maildir
        .read_keywords()
        .with_context(|| format!("cannot read the keywords of {}", source.job.display_name))?;
    let mut table = target
        .read_keywords()
        .with_context(|| format!("cannot read the keywords of {}", to.job.display_name))?;
    let file = match files.remove(&intent.local_base) {
        Some(file) => {
            let mut moved_letters = table.clone();
            let letters = moved_letters.translate(parse_name(&file.name).flags, &names);
            table = moved_letters;
            table = target.write_keyword_additions(&table).with_context(|| {
                format!("cannot record new keywords of {}", to.job.display_name)
            })?;
            let renamed = target.rename_base_as(&file, &new_base, &|_| letters)?;
            files.insert(renamed.base.clone(), renamed.clone());
            Some(renamed)
        }
        None => files.get(&new_base).cloned(),
    };
    let flags = table.translate(source_pair.flags, &names);
    target
        .write_keyword_additions(&table)
        .with_context(|| format!("cannot record new keywords of {}", to.job.display_name))?;
    let local_base = file.map_or(new_base, |f| f.base);
    db.finish_move(
        intent,
        &Pair {
            uid,
            local_base,
            flags,
        },
    )?;
    Ok(true)
}

/// Ends the moves a killed run left journaled: a message still in its
/// source folder was not moved (this run finds the move again); one gone
/// from there is looked for in the target folder.
fn resume(
    session: &mut Session,
    db: &mut StateDb,
    folders: &[&FolderWork],
    reporter: &Reporter,
    account: &str,
) -> anyhow::Result<()> {
    let pending = db.pending_moves()?;
    if pending.is_empty() {
        return Ok(());
    }
    let by_id: HashMap<i64, &FolderWork> = folders
        .iter()
        .filter_map(|w| w.stored.as_ref().map(|s| (s.id, *w)))
        .collect();
    for intent in pending {
        let (Some(from), Some(to)) = (by_id.get(&intent.from_folder), by_id.get(&intent.to_folder))
        else {
            db.drop_move(intent.id)?;
            continue;
        };
        session.select(&from.job.remote_name)?;
        let still_there = !session
            .uid_search(&format!("UID {}", intent.uid))?
            .is_empty();
        if still_there {
            db.drop_move(intent.id)?;
            continue;
        }
        let new_uid = find_in_target(session, &to.job.remote_name, &intent)?;
        let pair = db
            .pairs_among(intent.from_folder, &[intent.uid], &[])?
            .into_iter()
            .next();
        let flags = pair.map(|p| p.flags).unwrap_or_default();
        let source = Pair {
            uid: intent.uid,
            local_base: intent.local_base.clone(),
            flags,
        };
        let mut files = files_by_base(&to.maildir)
            .with_context(|| format!("cannot read {}", to.job.local_path.display()))?;
        if finish(db, from, to, &mut files, &intent, new_uid, &source)? {
            reporter.info(format!(
                "{account}: finished moving a message from {} to {}",
                from.job.display_name, to.job.display_name
            ));
        }
        to.maildir.sync_dirs().context("cannot sync the Maildir")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Flags, Subdir};

    fn pair(uid: u32, base: &str) -> Pair {
        Pair {
            uid: Uid(uid),
            local_base: base.into(),
            flags: Flags::SEEN,
        }
    }

    fn file(name: &str) -> LocalMessage {
        LocalMessage::from_name(Subdir::Cur, name)
    }

    #[test]
    fn a_file_that_changed_folders_under_its_base_is_a_move() {
        let found = match_moves(
            vec![(0, pair(7, "100.a,U=7")), (0, pair(8, "100.b,U=8"))],
            vec![(1, file("100.a,U=7:2,FS")), (2, file("200.c,U=3:2,S"))],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].from, found[0].to, found[0].pair.uid),
            (0, 1, Uid(7))
        );
        assert_eq!(found[0].file.name, "100.a,U=7:2,FS");
    }

    #[test]
    fn anything_uncertain_is_no_move() {
        // The same base arriving in two folders: a copy, not a move.
        let found = match_moves(
            vec![(0, pair(7, "100.a,U=7"))],
            vec![(1, file("100.a,U=7:2,S")), (2, file("100.a,U=7:2,S"))],
        );
        assert!(found.is_empty());
        // Nothing left the source: no move.
        assert!(match_moves(vec![], vec![(1, file("100.a,U=7:2,S"))]).is_empty());
        // Another base: no move.
        let found = match_moves(
            vec![(0, pair(7, "100.a,U=7"))],
            vec![(1, file("100.x,U=7:2,S"))],
        );
        assert!(found.is_empty());
    }
}
