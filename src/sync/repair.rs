//! Pairing messages by content where UIDs cannot be trusted: after the
//! server's UIDVALIDITY changed, when both sides already hold mail the state
//! has never seen, and after a crash left work half recorded.
//!
//! A message's identity here is its Message-ID with its size on the wire;
//! where those are ambiguous (several server messages share them) or absent
//! (no Message-ID), a hash of the content decides. A message without a
//! Message-ID is paired only with one of identical content: a wrong pair
//! would hide a message from the other side, while leaving it unpaired at
//! worst copies it twice.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use anyhow::Context;

use crate::imap::{HeaderInfo, Session, UidSet};
use crate::import::peer_records::{Peer, PeerRecords};
use crate::maildir::placeholder::placeholder_size;
use crate::maildir::{base_with_uid, crlf_size, read_message_id, Maildir};
use crate::model::{Flags, LocalMessage, Pair, RemoteMessage, Uid};
use crate::report::Reporter;
use crate::state::{AppendIntent, PairChange, StateDb};

use super::content_hash::{ContentHash, ContentHasher, WithoutPeerFields, TUID_FIELD_SIZE};
use super::LazySession;

type ContentKey = (String, u64);

/// Fetches Message-ID and size for the given UIDs.
fn remote_keys(session: &mut Session, uids: &[Uid]) -> anyhow::Result<Vec<HeaderInfo>> {
    let mut out = Vec::with_capacity(uids.len());
    for set in UidSet::covering(uids) {
        session
            .uid_fetch_headers(&set, &mut |h| out.push(h))
            .context("cannot fetch Message-IDs")?;
    }
    out.sort_by_key(|h| h.uid);
    Ok(out)
}

/// Message-ID and wire size of a local file.
fn local_key(maildir: &Maildir, msg: &LocalMessage) -> std::io::Result<Option<ContentKey>> {
    let mut file = maildir.open(msg)?;
    let Some(message_id) = read_message_id(&mut file)? else {
        return Ok(None);
    };
    Ok(Some((message_id, wire_size(&mut file, false)?)))
}

/// A local file's size on the server: a placeholder's is the size it
/// records (its file holds only the header), any other file's its own.
fn wire_size(file: &mut std::fs::File, without_peer_fields: bool) -> std::io::Result<u64> {
    use std::io::Seek;
    file.rewind()?;
    if let Some(size) = placeholder_size(&mut *file)? {
        return Ok(size);
    }
    file.rewind()?;
    if without_peer_fields {
        crlf_size(&mut WithoutPeerFields::new(&mut *file))
    } else {
        crlf_size(&mut *file)
    }
}

/// Message-ID (if any) and wire size of a local file, without the fields
/// another sync tool added to it (see [`WithoutPeerFields`]).
fn local_identity(maildir: &Maildir, msg: &LocalMessage) -> std::io::Result<(Option<String>, u64)> {
    let mut file = maildir.open(msg)?;
    let message_id = read_message_id(&mut file)?;
    Ok((message_id, wire_size(&mut file, true)?))
}

/// Server sizes a local message of `size` (peer fields left out) may have:
/// its own, or with the `X-TUID` field mbsync adds to what it uploads.
fn sizes_on_server(size: u64) -> [u64; 2] {
    [size, size + TUID_FIELD_SIZE]
}

/// Content hashes of server messages, fetched (streamed, not kept) on
/// first use and remembered.
struct RemoteHashes(HashMap<Uid, ContentHash>);

impl RemoteHashes {
    fn get(&mut self, session: &mut Session, uids: &[Uid]) -> anyhow::Result<()> {
        let missing: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| !self.0.contains_key(u))
            .collect();
        for set in UidSet::covering(&missing) {
            let hashes = &mut self.0;
            session
                .uid_fetch_bodies(
                    &set,
                    &mut |_len| Ok(ContentHasher::new()),
                    &mut |body, hasher| {
                        hashes.insert(body.uid, hasher.finish());
                        Ok(())
                    },
                )
                .context("cannot fetch messages to compare their contents")?;
        }
        Ok(())
    }
}

/// Pairs local files with server messages, one to one, in name order:
///
/// - same Message-ID and size: paired; where several server messages share
///   them, the one with the same content (hash of the body, line endings
///   normalized) is preferred;
/// - no Message-ID: paired only with a server message without one, of the
///   same size and the same content hash.
///
/// `skip_uids` are already paired. The recorded base flags are the
/// server's, so local differences win.
pub fn pair_by_content(
    session: &mut Session,
    maildir: &Maildir,
    remote: &[RemoteMessage],
    local: &[LocalMessage],
    skip_uids: &[Uid],
) -> anyhow::Result<Vec<Pair>> {
    let uids: Vec<Uid> = remote
        .iter()
        .map(|r| r.uid)
        .filter(|u| !skip_uids.contains(u))
        .collect();
    if uids.is_empty() || local.is_empty() {
        return Ok(Vec::new());
    }
    let flags_by_uid: HashMap<Uid, _> = remote.iter().map(|r| (r.uid, r.flags)).collect();
    let mut by_key: HashMap<ContentKey, VecDeque<Uid>> = HashMap::new();
    let mut anonymous_by_size: HashMap<u64, Vec<Uid>> = HashMap::new();
    for h in remote_keys(session, &uids)? {
        match h.message_id {
            Some(mid) => by_key
                .entry((mid, u64::from(h.size)))
                .or_default()
                .push_back(h.uid),
            None => anonymous_by_size
                .entry(u64::from(h.size))
                .or_default()
                .push(h.uid),
        }
    }
    let mut hashes = RemoteHashes(HashMap::new());
    let mut sorted: Vec<&LocalMessage> = local.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut pairs = Vec::new();
    for msg in sorted {
        let (mid, size) = match local_identity(maildir, msg) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", msg.name)),
        };
        let mut candidates: Vec<(Uid, u64)> = Vec::new();
        for server_size in sizes_on_server(size) {
            let uids = match &mid {
                Some(mid) => by_key
                    .get(&(mid.clone(), server_size))
                    .map(|q| q.iter().copied().collect::<Vec<_>>()),
                None => anonymous_by_size.get(&server_size).cloned(),
            };
            candidates.extend(
                uids.unwrap_or_default()
                    .into_iter()
                    .map(|u| (u, server_size)),
            );
        }
        if candidates.is_empty() {
            continue;
        }
        let chosen = if mid.is_some() && candidates.len() == 1 {
            candidates.first().copied()
        } else {
            let mut file = maildir
                .open(msg)
                .with_context(|| format!("cannot read {}", msg.name))?;
            let local_hash = ContentHasher::of_reader(&mut file)
                .with_context(|| format!("cannot read {}", msg.name))?;
            let uids: Vec<Uid> = candidates.iter().map(|c| c.0).collect();
            hashes.get(session, &uids)?;
            let same = candidates
                .iter()
                .copied()
                .find(|c| hashes.0.get(&c.0) == Some(&local_hash));
            // Same Message-ID and size but no identical body: still the
            // same message as far as pairing goes (take them in order).
            same.or_else(|| mid.as_ref().and(candidates.first().copied()))
        };
        let Some((uid, server_size)) = chosen else {
            continue;
        };
        match &mid {
            Some(mid) => {
                if let Some(q) = by_key.get_mut(&(mid.clone(), server_size)) {
                    q.retain(|&u| u != uid);
                }
            }
            None => {
                if let Some(v) = anonymous_by_size.get_mut(&server_size) {
                    v.retain(|&u| u != uid);
                }
            }
        }
        pairs.push(Pair {
            uid,
            local_base: msg.base.clone(),
            flags: flags_by_uid[&uid],
        });
    }
    pairs.sort_by_key(|p| p.uid);
    Ok(pairs)
}

/// How a folder's first meeting paired its messages.
#[derive(Debug, Default)]
pub struct FirstPairing {
    /// Pairs from the peer's records; their files keep their names, so
    /// the peer can still read the Maildir.
    pub recorded: Vec<Pair>,
    /// Pairs found by content.
    pub by_content: Vec<Pair>,
    /// Records with both sides present.
    pub by_records: usize,
    /// Records of messages deleted on one side since the peer's last run.
    pub deleted_since: usize,
    /// The peer whose records were used.
    pub peer: Option<Peer>,
    /// Of `deleted_since`, those whose local file is gone.
    gone_locally: usize,
}

impl FirstPairing {
    /// The dry run's and `-v`'s account of the pairing.
    pub fn describe(&self, local: usize, remote: usize) -> String {
        let paired = self.by_records + self.by_content.len();
        let peer = self.peer.map(|p| format!(" ({p})")).unwrap_or_default();
        let mut line = format!(
            "first meeting: {} paired by peer records{peer}, {} by content, {} local and {} \
             server messages not paired",
            self.by_records,
            self.by_content.len(),
            local.saturating_sub(paired + self.recorded_local_only()),
            remote.saturating_sub(paired + self.recorded_remote_only()),
        );
        if self.deleted_since > 0 {
            line.push_str(&format!(
                "; {} deleted on one side since the peer's last run",
                self.deleted_since
            ));
        }
        line
    }

    fn recorded_local_only(&self) -> usize {
        self.recorded.len() - self.by_records - self.gone_locally
    }

    fn recorded_remote_only(&self) -> usize {
        self.gone_locally
    }
}

/// Pairs a folder both sides of which hold mail the state has never seen:
/// first by the records a peer left (each checked against the messages'
/// Message-IDs and sizes; one that does not match discards them all), then
/// the rest by content.
pub fn pair_first_meeting(
    session: &mut Session,
    maildir: &Maildir,
    remote: &[RemoteMessage],
    local: &[LocalMessage],
    records: Option<&PeerRecords>,
    reporter: &Reporter,
    folder: &str,
) -> anyhow::Result<FirstPairing> {
    let mut found = FirstPairing::default();
    if let Some(records) = records {
        match checked_records(session, maildir, remote, local, records)? {
            Ok(checked) => {
                found = checked;
                found.peer = Some(records.peer);
                for note in &records.notes {
                    reporter.warn(format!("{folder}: {note}"));
                }
            }
            Err(why) => reporter.warn(format!(
                "{folder}: not using {}'s records: {why}; pairing by content instead",
                records.peer
            )),
        }
    }
    let used_uids: HashSet<Uid> = found.recorded.iter().map(|p| p.uid).collect();
    let used_bases: HashSet<&str> = found
        .recorded
        .iter()
        .map(|p| p.local_base.as_str())
        .collect();
    let remote_rest: Vec<RemoteMessage> = remote
        .iter()
        .filter(|r| !used_uids.contains(&r.uid))
        .copied()
        .collect();
    let local_rest: Vec<LocalMessage> = local
        .iter()
        .filter(|l| !used_bases.contains(l.base.as_str()))
        .cloned()
        .collect();
    found.by_content = pair_by_content(session, maildir, &remote_rest, &local_rest, &[])?;
    Ok(found)
}

/// The records as pairs, or why they do not describe this folder.
fn checked_records(
    session: &mut Session,
    maildir: &Maildir,
    remote: &[RemoteMessage],
    local: &[LocalMessage],
    records: &PeerRecords,
) -> anyhow::Result<Result<FirstPairing, String>> {
    let remote_by_uid: HashMap<Uid, &RemoteMessage> = remote.iter().map(|r| (r.uid, r)).collect();
    let local_by_base: HashMap<&str, &LocalMessage> =
        local.iter().map(|l| (l.base.as_str(), l)).collect();
    let mut seen_uids = HashSet::new();
    let mut seen_bases = HashSet::new();
    let mut both = Vec::new();
    let mut one_sided = Vec::new();
    for record in &records.records {
        if !seen_uids.insert(record.uid) {
            continue;
        }
        let file = record
            .local_base
            .as_deref()
            .and_then(|b| local_by_base.get(b).copied())
            .filter(|l| seen_bases.insert(l.base.clone()));
        match (file, remote_by_uid.get(&record.uid)) {
            (Some(l), Some(r)) => both.push((record, l, *r)),
            (None, None) => {}
            (file, r) => one_sided.push((record, file, r.copied())),
        }
    }
    if both.is_empty() {
        return Ok(Err(
            "none of them names a message present on both sides".into()
        ));
    }
    let uids: Vec<Uid> = both.iter().map(|(r, _, _)| r.uid).collect();
    let server: HashMap<Uid, HeaderInfo> = remote_keys(session, &uids)?
        .into_iter()
        .map(|h| (h.uid, h))
        .collect();
    let mut mismatched = 0;
    for (record, file, _) in &both {
        let (mid, size) = match local_identity(maildir, file) {
            Ok(k) => k,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.name)),
        };
        let matches = server.get(&record.uid).is_some_and(|h| {
            h.message_id == mid && sizes_on_server(size).contains(&u64::from(h.size))
        });
        if !matches {
            mismatched += 1;
        }
    }
    if mismatched > 0 {
        return Ok(Err(format!(
            "{mismatched} of {} records name messages whose Message-ID or size differ",
            both.len()
        )));
    }
    let mut found = FirstPairing {
        by_records: both.len(),
        ..FirstPairing::default()
    };
    for (record, file, r) in both {
        found.recorded.push(Pair {
            uid: record.uid,
            local_base: file.base.clone(),
            flags: record.flags.unwrap_or(unknown_base(file.flags, r.flags)),
        });
    }
    if records.deletions_known {
        for (record, file, r) in one_sided {
            let local_base = match (file, r) {
                (Some(l), None) => l.base.clone(),
                // The file is gone: a name no file has, so the plan sees
                // a pair whose local side was deleted.
                (None, Some(r)) => {
                    found.gone_locally += 1;
                    format!("{GONE_PREFIX}{}", r.uid)
                }
                _ => continue,
            };
            found.deleted_since += 1;
            found.recorded.push(Pair {
                uid: record.uid,
                local_base,
                flags: record.flags.unwrap_or_default(),
            });
        }
    }
    Ok(Ok(found))
}

/// The base for a pair whose flags at the peer's last run are unknown
/// (OfflineIMAP's records without its status database): only the flags
/// both sides have. A flag one side alone has then counts as added there
/// and reaches the other side; taking either side as the base would make
/// the other side's extra flags look removed, and remove them (a server's
/// `$Forwarded`, which OfflineIMAP does not write into file names).
fn unknown_base(local: Flags, server: Flags) -> Flags {
    local.intersection(server)
}

/// Starts the base of a recorded pair whose local file is gone; no
/// Maildir file name starts with a dot.
const GONE_PREFIX: &str = ".gone-since-peer-";

/// Renames re-paired files so the UID in their names is the new one, and
/// returns the pairs with the new bases. Updates `local` to match.
pub fn rename_to_new_uids(
    maildir: &Maildir,
    local: &mut [LocalMessage],
    pairs: Vec<Pair>,
) -> anyhow::Result<Vec<Pair>> {
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, m) in local.iter().enumerate() {
        index.entry(m.base.clone()).or_insert(i);
    }
    let mut out = Vec::with_capacity(pairs.len());
    for mut pair in pairs {
        let wanted = base_with_uid(&pair.local_base, pair.uid);
        if wanted != pair.local_base {
            if let Some(&i) = index.get(&pair.local_base) {
                let renamed = maildir
                    .rename_base(&local[i], &wanted)
                    .with_context(|| format!("cannot rename {}", local[i].name))?;
                local[i] = renamed;
                pair.local_base = wanted;
            }
        }
        out.push(pair);
    }
    maildir.sync_dirs().context("cannot sync the Maildir")?;
    Ok(out)
}

/// Finishes what a killed run left half recorded, before planning:
/// files that carry a UID in their names but were never recorded, and
/// APPENDs journaled but never confirmed. Returns the pairs it recorded.
#[allow(clippy::too_many_arguments)]
pub fn recover_after_crash(
    session: &mut LazySession<'_>,
    db: &mut StateDb,
    folder_id: i64,
    maildir: &Maildir,
    intents: &[AppendIntent],
    remote: &[RemoteMessage],
    local: &mut [LocalMessage],
    pairs: &[Pair],
    reporter: &Reporter,
    folder: &str,
) -> anyhow::Result<usize> {
    let paired_uids: BTreeSet<Uid> = pairs.iter().map(|p| p.uid).collect();
    let paired_bases: BTreeSet<&str> = pairs.iter().map(|p| p.local_base.as_str()).collect();
    let remote_by_uid: HashMap<Uid, &RemoteMessage> = remote
        .iter()
        .filter(|r| !paired_uids.contains(&r.uid))
        .map(|r| (r.uid, r))
        .collect();

    // Files named with a UID this folder's state does not know, whose UID
    // is an unpaired server message: a download or upload that was done but
    // not recorded. Trust the name only if size and Message-ID agree.
    let hinted: Vec<&LocalMessage> = local
        .iter()
        .filter(|m| !paired_bases.contains(m.base.as_str()))
        .filter(|m| m.uid_hint.is_some_and(|u| remote_by_uid.contains_key(&u)))
        .collect();
    if hinted.is_empty() && intents.is_empty() {
        return Ok(0);
    }

    let mut changes = Vec::new();
    let mut adopted_uids = BTreeSet::new();
    if !hinted.is_empty() {
        let uids: Vec<Uid> = hinted.iter().filter_map(|m| m.uid_hint).collect();
        let headers: HashMap<Uid, HeaderInfo> = remote_keys(session.get()?, &uids)?
            .into_iter()
            .map(|h| (h.uid, h))
            .collect();
        for msg in hinted {
            let uid = msg.uid_hint.expect("filtered on uid_hint");
            let Some(h) = headers.get(&uid) else { continue };
            let key =
                local_key(maildir, msg).with_context(|| format!("cannot read {}", msg.name))?;
            let local_size = match &key {
                Some((_, size)) => *size,
                None => {
                    let mut f = maildir.open(msg)?;
                    crlf_size(&mut f)?
                }
            };
            let same = local_size == u64::from(h.size)
                && key.as_ref().map(|k| &k.0) == h.message_id.as_ref();
            if same && adopted_uids.insert(uid) {
                changes.push(PairChange::Insert(Pair {
                    uid,
                    local_base: msg.base.clone(),
                    flags: msg.flags,
                }));
            }
        }
    }

    // APPENDs journaled but not confirmed: find them on the server.
    let mut resolved = Vec::new();
    let adopted_bases: BTreeSet<String> = changes
        .iter()
        .filter_map(|c| match c {
            PairChange::Insert(p) => Some(p.local_base.clone()),
            _ => None,
        })
        .collect();
    for intent in intents {
        resolved.push(intent.id);
        let already = paired_bases.contains(intent.local_base.as_str())
            || adopted_bases
                .iter()
                .any(|b| b.starts_with(&intent.local_base));
        if already {
            continue;
        }
        let floor = intent.uidnext.unwrap_or(Uid(1));
        let candidates: Vec<Uid> = remote
            .iter()
            .filter(|r| {
                r.uid >= floor && !paired_uids.contains(&r.uid) && !adopted_uids.contains(&r.uid)
            })
            .filter(|r| r.size.map(u64::from) == Some(intent.size))
            .map(|r| r.uid)
            .collect();
        let found = match (&intent.message_id, candidates.is_empty()) {
            (_, true) => None,
            (None, false) => candidates.first().copied(),
            (Some(mid), false) => remote_keys(session.get()?, &candidates)?
                .into_iter()
                .find(|h| h.message_id.as_deref() == Some(mid.as_str()))
                .map(|h| h.uid),
        };
        if let Some(uid) = found {
            adopted_uids.insert(uid);
            let flags = remote_by_uid.get(&uid).map(|r| r.flags).unwrap_or_default();
            changes.push(PairChange::Insert(Pair {
                uid,
                local_base: intent.local_base.clone(),
                flags,
            }));
        }
    }
    let recorded = changes.len();
    if recorded > 0 {
        reporter.info(format!(
            "{folder}: recovered {recorded} messages left unrecorded by an interrupted run"
        ));
    }
    db.apply_and_resolve(folder_id, &changes, &resolved)?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::plan::{merge_flags, Direction};

    /// With no base known, the merge keeps every flag either side has.
    #[test]
    fn an_unknown_base_loses_no_flag_of_either_side() {
        // Every combination of the six flags on each side.
        for bits in 0..64u32 {
            let local = Flags::from_bits(bits);
            for other in 0..64u32 {
                let server = Flags::from_bits(other);
                let (new_local, new_server, _) =
                    merge_flags(unknown_base(local, server), local, server, Direction::BOTH);
                let both = local.union(server);
                assert_eq!((new_local, new_server), (both, both), "{local} {server}");
            }
        }
    }
}
