//! The records mbsync and OfflineIMAP keep of which local file is which
//! server message, read on the first meeting of a folder.
//!
//! mbsync keeps, per folder, `.uidvalidity` (its own UIDs for the Maildir
//! side) and a state file (`.mbsyncstate` in the folder with `SyncState *`,
//! else one file per folder under `~/.mbsync/`) listing
//! `server-uid local-uid flags`; its files carry the local UID as `,U=`.
//! OfflineIMAP puts the server UID itself in its names (`,U=7,FMD5=…`).
//!
//! Records are evidence, not truth: the caller checks each against the
//! messages' Message-IDs and sizes before using any. A record one side of
//! which is gone means the message was deleted after the tool's last run;
//! that is believed only from an mbsync state that is complete (no
//! journal of an interrupted run) and whose UIDVALIDITYs match both sides.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::model::{Flags, LocalMessage, Uid, UidValidity};

/// Which tool wrote the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Mbsync,
    OfflineImap,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Peer::Mbsync => "mbsync",
            Peer::OfflineImap => "OfflineIMAP",
        })
    }
}

/// One message as the peer recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    /// The server UID.
    pub uid: Uid,
    /// The local file's base name; `None` when the file is gone.
    pub local_base: Option<String>,
    /// The flags both sides had at the peer's last run, when it kept them.
    pub flags: Option<Flags>,
}

/// A folder's records from one peer.
#[derive(Debug, Clone)]
pub struct PeerRecords {
    pub peer: Peer,
    pub records: Vec<PeerRecord>,
    /// A record whose server message or local file is missing means a
    /// deletion since the peer's last run (else such records say nothing).
    pub deletions_known: bool,
    /// What the user should know about how the records were read.
    pub notes: Vec<String>,
}

/// Reads the records a peer left for the folder in `folder_dir`, whose
/// messages are `local` and whose server UIDVALIDITY is `uidvalidity`.
/// `state_dirs` are where mbsync keeps state files outside the folders
/// (`~/.mbsync/`). `None`: no peer wrote this folder, or its records do
/// not belong to this server folder (the reason is in the error).
pub fn read(
    folder_dir: &Path,
    local: &[LocalMessage],
    uidvalidity: UidValidity,
    state_dirs: &StateDirs,
) -> Result<Option<PeerRecords>, String> {
    // The other tools write the number as it is; compared as such below.
    let UidValidity(uidvalidity) = uidvalidity;
    if let Some(records) = read_mbsync(folder_dir, local, uidvalidity, &state_dirs.mbsync)? {
        return Ok(Some(records));
    }
    read_offlineimap(local, uidvalidity, &state_dirs.offlineimap)
}

/// Where the peers keep state outside the Maildir.
#[derive(Debug, Clone, Default)]
pub struct StateDirs {
    /// mbsync's `SyncState` directories.
    pub mbsync: Vec<PathBuf>,
    /// OfflineIMAP's metadata directories.
    pub offlineimap: Vec<PathBuf>,
}

/// Where the peers keep state by default: mbsync's `~/.mbsync/` (its
/// default `SyncState`) and the XDG state dir of newer versions;
/// OfflineIMAP's `~/.offlineimap` and the `metadata` its config names.
pub fn default_state_dirs() -> StateDirs {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let xdg_state = std::env::var_os("XDG_STATE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from);
    let xdg_config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    let mut dirs = StateDirs::default();
    if let Some(home) = &home {
        dirs.mbsync.push(home.join(".mbsync"));
    }
    match (&xdg_state, &home) {
        (Some(state), _) => dirs.mbsync.push(state.join("isync")),
        (None, Some(home)) => dirs.mbsync.push(home.join(".local/state/isync")),
        _ => {}
    }
    let mut rc_files = Vec::new();
    if let Some(home) = &home {
        rc_files.push(home.join(".offlineimaprc"));
        dirs.offlineimap.push(home.join(".offlineimap"));
    }
    if let Some(config) = &xdg_config {
        rc_files.push(config.join("offlineimap/config"));
    }
    for rc in rc_files {
        if let Some(meta) = fs::read_to_string(&rc)
            .ok()
            .and_then(|text| offlineimap_metadata(&text, home.as_deref()))
        {
            dirs.offlineimap.insert(0, meta);
        }
    }
    dirs
}

/// The `metadata` setting of an offlineimaprc's `[general]` section.
fn offlineimap_metadata(rc: &str, home: Option<&Path>) -> Option<PathBuf> {
    let mut in_general = false;
    for line in rc.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_general = line.eq_ignore_ascii_case("[general]");
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        if in_general && key.trim().eq_ignore_ascii_case("metadata") {
            let value = value.trim();
            return Some(match (value.strip_prefix("~/"), home) {
                (Some(rest), Some(home)) => home.join(rest),
                _ => PathBuf::from(value),
            });
        }
    }
    None
}

/// The header and entries of an mbsync state file.
#[derive(Debug, Default, PartialEq, Eq)]
struct MbsyncState {
    far_uidvalidity: Option<u32>,
    near_uidvalidity: Option<u32>,
    /// (server UID, local UID, flags); 0 on a side: nothing there.
    entries: Vec<(u32, u32, Flags)>,
}

/// Parses an mbsync (1.3 and later) state file: header lines up to a blank
/// line, then one `far near flags` line per message.
fn parse_mbsync_state(reader: impl BufRead, header_only: bool) -> io::Result<MbsyncState> {
    let mut state = MbsyncState::default();
    let mut in_header = true;
    for line in reader.lines() {
        let line = line?;
        if in_header {
            if line.is_empty() {
                in_header = false;
                if header_only {
                    break;
                }
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(key), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            let value = value.parse().ok();
            match key {
                "FarUidValidity" | "MasterUidValidity" => state.far_uidvalidity = value,
                "NearUidValidity" | "SlaveUidValidity" => state.near_uidvalidity = value,
                _ => {}
            }
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(far), Some(near)) = (words.next(), words.next()) else {
            continue;
        };
        // Negative UIDs are placeholders of messages being propagated.
        let (Ok(far), Ok(near)) = (far.parse::<i64>(), near.parse::<i64>()) else {
            continue;
        };
        // Standard flags only: a peer's lowercase letters are not this
        // folder's keyword slots, and with no keyword in the base a
        // keyword either side has reaches the other.
        let flags = words
            .next()
            .unwrap_or("")
            .chars()
            .filter_map(Flags::from_maildir_letter)
            .fold(Flags::empty(), Flags::union)
            .intersection(Flags::STANDARD);
        let side = |uid: i64| u32::try_from(uid).unwrap_or(0);
        state.entries.push((side(far), side(near), flags));
    }
    Ok(state)
}

/// The UIDVALIDITY mbsync gave the Maildir side: `.uidvalidity`'s first line.
fn near_uidvalidity(folder_dir: &Path) -> Option<u32> {
    let text = fs::read_to_string(folder_dir.join(".uidvalidity")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// Finds the state file mbsync keeps for this folder: `.mbsyncstate` in
/// it, else one under `state_dirs` with this folder's NearUidValidity.
/// mbsync draws that number from the clock, so folders created in the same
/// second share it: among such files the one named for this folder
/// (`:far:BOX_:near:BOX`, `/` written `!`) wins, else the only one whose
/// FarUidValidity is the server's. Anything less certain finds none.
fn find_mbsync_state(
    folder_dir: &Path,
    near: u32,
    uidvalidity: u32,
    state_dirs: &[PathBuf],
) -> Option<PathBuf> {
    let inside = folder_dir.join(".mbsyncstate");
    if inside.is_file() {
        return Some(inside);
    }
    let mut candidates: Vec<(PathBuf, bool, bool)> = Vec::new();
    for dir in state_dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".journal") || name.ends_with(".new") || name.ends_with(".lock") {
                continue;
            }
            let path = entry.path();
            let Ok(file) = fs::File::open(&path) else {
                continue;
            };
            let Ok(header) = parse_mbsync_state(BufReader::new(file), true) else {
                continue;
            };
            if header.near_uidvalidity != Some(near) {
                continue;
            }
            let named = near_box(&name).is_some_and(|b| folder_dir.ends_with(b));
            let far_matches = header.far_uidvalidity == Some(uidvalidity);
            candidates.push((path, named, far_matches));
        }
    }
    let named: Vec<&PathBuf> = candidates.iter().filter(|c| c.1).map(|c| &c.0).collect();
    if let [only] = named[..] {
        return Some(only.clone());
    }
    let far: Vec<&PathBuf> = candidates.iter().filter(|c| c.2).map(|c| &c.0).collect();
    match far[..] {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The Maildir box an mbsync state file is named for:
/// `:far:Archive!2023_:near:Archive!2023` → `Archive/2023`.
fn near_box(file_name: &str) -> Option<PathBuf> {
    let (_, near) = file_name.rsplit_once("_:")?;
    let (_, name) = near.split_once(':')?;
    (!name.is_empty()).then(|| PathBuf::from(name.replace('!', "/")))
}

fn journal_of(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_os_string();
    name.push(".journal");
    PathBuf::from(name)
}

/// The number after `,U=` in a file's base name.
fn uid_in_base(base: &str) -> Option<Uid> {
    let start = base.find(",U=")? + 3;
    let digits: String = base[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().map(Uid)
}

fn read_mbsync(
    folder_dir: &Path,
    local: &[LocalMessage],
    uidvalidity: u32,
    state_dirs: &[PathBuf],
) -> Result<Option<PeerRecords>, String> {
    let Some(near) = near_uidvalidity(folder_dir) else {
        return Ok(None);
    };
    let Some(path) = find_mbsync_state(folder_dir, near, uidvalidity, state_dirs) else {
        return Ok(None);
    };
    let file = fs::File::open(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let state = parse_mbsync_state(BufReader::new(file), false)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if state.near_uidvalidity != Some(near) {
        return Err(format!(
            "mbsync's state {} is for another Maildir folder (its NearUidValidity is not the \
             folder's .uidvalidity)",
            path.display()
        ));
    }
    if state.far_uidvalidity != Some(uidvalidity) {
        return Err(format!(
            "mbsync's state {} is for another server folder, or the server renumbered it \
             (FarUidValidity {:?}, the server says {uidvalidity})",
            path.display(),
            state.far_uidvalidity
        ));
    }
    let by_local_uid: HashMap<Uid, &str> = local
        .iter()
        .filter_map(|m| Some((uid_in_base(&m.base)?, m.base.as_str())))
        .collect();
    let mut notes = Vec::new();
    let journal = journal_of(&path);
    let complete = !journal.exists();
    if !complete {
        notes.push(format!(
            "mbsync's last run was interrupted ({} is left), so messages missing on one \
             side are not taken as deleted: they are copied back",
            journal.display()
        ));
    }
    let records = state
        .entries
        .iter()
        .filter(|(far, near, _)| *far > 0 && *near > 0)
        .map(|&(far, near, flags)| PeerRecord {
            uid: Uid(far),
            local_base: by_local_uid.get(&Uid(near)).map(|b| b.to_string()),
            flags: Some(flags),
        })
        .collect();
    Ok(Some(PeerRecords {
        peer: Peer::Mbsync,
        records,
        deletions_known: complete,
        notes,
    }))
}

/// OfflineIMAP names its files `…,U=<server uid>,FMD5=<md5 of the folder
/// name>…`; the hash must be one for the whole folder. It also names the
/// folder's status database, which says what both sides held at its last
/// run, and so which messages were deleted since.
fn read_offlineimap(
    local: &[LocalMessage],
    uidvalidity: u32,
    metadata_dirs: &[PathBuf],
) -> Result<Option<PeerRecords>, String> {
    let mut folder_hash: Option<&str> = None;
    let mut by_uid: HashMap<Uid, &str> = HashMap::new();
    for m in local {
        let Some(at) = m.base.find(",FMD5=") else {
            continue;
        };
        let hash = m.base[at + 6..].split(',').next().unwrap_or("");
        if *folder_hash.get_or_insert(hash) != hash {
            // Files from two folders mixed: the names say nothing reliable.
            return Ok(None);
        }
        if let Some(uid) = uid_in_base(&m.base[..at]) {
            by_uid.insert(uid, m.base.as_str());
        }
    }
    let Some(hash) = folder_hash.filter(|_| !by_uid.is_empty()) else {
        return Ok(None);
    };
    let mut notes = Vec::new();
    let status = match offlineimap_status_of(hash, &by_uid, uidvalidity, metadata_dirs) {
        Ok(status) => status,
        Err(why) => {
            notes.push(why);
            None
        }
    };
    let deletions_known = status.is_some();
    let mut records = Vec::new();
    if let Some(status) = status {
        for (uid, letters) in status {
            // Standard flags only, as for mbsync's records.
            let flags = letters
                .chars()
                .filter_map(Flags::from_maildir_letter)
                .fold(Flags::empty(), Flags::union)
                .intersection(Flags::STANDARD);
            let uid = Uid(uid);
            records.push(PeerRecord {
                uid,
                local_base: by_uid.remove(&uid).map(str::to_string),
                flags: Some(flags),
            });
        }
    }
    // Files the status does not list (or no status at all): the name is
    // the only record.
    let mut rest: Vec<(Uid, &str)> = by_uid.into_iter().collect();
    rest.sort_unstable();
    records.extend(rest.into_iter().map(|(uid, base)| PeerRecord {
        uid,
        local_base: Some(base.to_string()),
        flags: None,
    }));
    Ok(Some(PeerRecords {
        peer: Peer::OfflineImap,
        records,
        deletions_known,
        notes,
    }))
}

/// Finds the status database of the folder whose name hashes to `hash`:
/// `Account-*/LocalStatus-sqlite/NAME` under a metadata directory, where
/// NAME is the folder name with `.` for its separator, checked against a
/// `Repository-*/FolderValidity/NAME` holding the server's UIDVALIDITY.
/// More than one such file (two accounts with one folder name) that lists
/// these files' UIDs means none is used.
fn offlineimap_status_of(
    hash: &str,
    files: &HashMap<Uid, &str>,
    uidvalidity: u32,
    metadata_dirs: &[PathBuf],
) -> Result<Option<Vec<(u32, String)>>, String> {
    let mut found: Vec<(PathBuf, Vec<(u32, String)>)> = Vec::new();
    let mut wrong_validity = None;
    for meta in metadata_dirs {
        let Ok(accounts) = fs::read_dir(meta) else {
            continue;
        };
        for account in accounts.flatten() {
            if !account
                .file_name()
                .to_string_lossy()
                .starts_with("Account-")
            {
                continue;
            }
            let Ok(statuses) = fs::read_dir(account.path().join("LocalStatus-sqlite")) else {
                continue;
            };
            for status in statuses.flatten() {
                let name = status.file_name().to_string_lossy().into_owned();
                let hashes = [name.clone(), name.replace('.', "/")].map(|n| md5_hex(&n));
                if !hashes.iter().any(|h| h == hash) {
                    continue;
                }
                if !folder_validity_matches(meta, &name, uidvalidity) {
                    wrong_validity = Some(status.path());
                    continue;
                }
                let rows = crate::state::offlineimap_status(&status.path())
                    .map_err(|e| format!("cannot read {}: {e}", status.path().display()))?;
                let listed: std::collections::HashSet<Uid> =
                    rows.iter().map(|r| Uid(r.0)).collect();
                if files.keys().all(|u| listed.contains(u)) {
                    found.push((status.path(), rows));
                }
            }
        }
    }
    match found.len() {
        1 => Ok(found.pop().map(|(_, rows)| rows)),
        0 => match wrong_validity {
            Some(path) => Err(format!(
                "OfflineIMAP's status {} is for another server folder, or the server \
                 renumbered it (its FolderValidity is not the server's UIDVALIDITY {uidvalidity}), \
                 so messages missing on one side are copied back",
                path.display()
            )),
            None => Ok(None),
        },
        _ => Err(format!(
            "OfflineIMAP keeps several status files for this folder ({}), so messages \
             missing on one side are copied back",
            found
                .iter()
                .map(|(p, _)| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn folder_validity_matches(meta: &Path, name: &str, uidvalidity: u32) -> bool {
    let Ok(repos) = fs::read_dir(meta) else {
        return false;
    };
    repos.flatten().any(|repo| {
        repo.file_name()
            .to_string_lossy()
            .starts_with("Repository-")
            && fs::read_to_string(repo.path().join("FolderValidity").join(name))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
                == Some(uidvalidity)
    })
}

fn md5_hex(text: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Subdir;

    fn msg(name: &str) -> LocalMessage {
        let base = name.split(':').next().unwrap().to_string();
        LocalMessage {
            subdir: Subdir::Cur,
            name: name.to_string(),
            base,
            uid_hint: None,
            flags: Flags::empty(),
        }
    }

    const STATE: &str = "FarUidValidity 1700000001\nNearUidValidity 1796547408\n\
                         MaxPulledUid 4\nMaxPushedUid 4\n\n1 1 \n2 2 S\n3 3 FS\n4 0 \n0 5 \n-1 6 S\n";

    #[test]
    fn parses_an_mbsync_state_file() {
        let s = parse_mbsync_state(STATE.as_bytes(), false).unwrap();
        assert_eq!(s.far_uidvalidity, Some(1_700_000_001));
        assert_eq!(s.near_uidvalidity, Some(1_796_547_408));
        assert_eq!(s.entries.len(), 6);
        assert_eq!(s.entries[2], (3, 3, Flags::FLAGGED.union(Flags::SEEN)));
        assert_eq!(s.entries[5].0, 0, "a placeholder is no server message");
    }

    fn folder(state: &str, journal: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".uidvalidity"), "1796547408\n6\n").unwrap();
        fs::write(dir.path().join(".mbsyncstate"), state).unwrap();
        if journal {
            fs::write(dir.path().join(".mbsyncstate.journal"), "3\n").unwrap();
        }
        dir
    }

    #[test]
    fn mbsync_records_name_the_files_by_their_local_uid() {
        let dir = folder(STATE, false);
        let local = [msg("17.1_1.h,U=1:2,"), msg("17.2_2.h,U=3:2,FS")];
        let r = read(
            dir.path(),
            &local,
            UidValidity(1_700_000_001),
            &StateDirs::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.peer, Peer::Mbsync);
        assert!(r.deletions_known);
        let bases: Vec<(u32, Option<&str>)> = r
            .records
            .iter()
            .map(|r| (r.uid.0, r.local_base.as_deref()))
            .collect();
        assert_eq!(
            bases,
            vec![
                (1, Some("17.1_1.h,U=1")),
                (2, None),
                (3, Some("17.2_2.h,U=3"))
            ]
        );
    }

    #[test]
    fn an_interrupted_mbsync_run_is_no_evidence_of_deletions() {
        let dir = folder(STATE, true);
        let r = read(
            dir.path(),
            &[],
            UidValidity(1_700_000_001),
            &StateDirs::default(),
        )
        .unwrap()
        .unwrap();
        assert!(!r.deletions_known);
        assert!(r.notes[0].contains("interrupted"), "{:?}", r.notes);
    }

    #[test]
    fn mbsync_state_of_another_server_folder_is_refused() {
        let dir = folder(STATE, false);
        let err = read(dir.path(), &[], UidValidity(99), &StateDirs::default()).unwrap_err();
        assert!(err.contains("FarUidValidity"), "{err}");
    }

    #[test]
    fn mbsync_state_outside_the_folder_is_found_by_its_uidvalidity() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".uidvalidity"), "1796547408\n6\n").unwrap();
        let states = tempfile::tempdir().unwrap();
        fs::write(
            states.path().join(":far:Other_:near:Other"),
            "FarUidValidity 1\nNearUidValidity 5\n\n",
        )
        .unwrap();
        fs::write(states.path().join(":far:INBOX_:near:INBOX"), STATE).unwrap();
        let r = read(
            dir.path(),
            &[],
            UidValidity(1_700_000_001),
            &StateDirs {
                mbsync: vec![states.path().to_path_buf()],
                offlineimap: Vec::new(),
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.records.len(), 3);
    }

    #[test]
    fn mbsync_state_files_sharing_a_uidvalidity_are_told_apart_by_name() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("Archive/2023");
        fs::create_dir_all(&folder).unwrap();
        fs::write(folder.join(".uidvalidity"), "1796547408\n6\n").unwrap();
        let states = tempfile::tempdir().unwrap();
        let other = STATE.replace("FarUidValidity 1700000001", "FarUidValidity 1700000002");
        fs::write(states.path().join(":far:INBOX_:near:INBOX"), &other).unwrap();
        fs::write(
            states.path().join(":far:Archive!2023_:near:Archive!2023"),
            STATE,
        )
        .unwrap();
        let dirs = StateDirs {
            mbsync: vec![states.path().to_path_buf()],
            offlineimap: Vec::new(),
        };
        let r = read(&folder, &[], UidValidity(1_700_000_001), &dirs)
            .unwrap()
            .unwrap();
        assert_eq!(r.records.len(), 3);
        // Unnamed files: the server's UIDVALIDITY decides, if only one fits.
        fs::rename(
            states.path().join(":far:Archive!2023_:near:Archive!2023"),
            states.path().join("renamed"),
        )
        .unwrap();
        assert!(read(&folder, &[], UidValidity(1_700_000_001), &dirs)
            .unwrap()
            .is_some());
        fs::write(states.path().join("copy"), STATE).unwrap();
        assert!(read(&folder, &[], UidValidity(1_700_000_001), &dirs)
            .unwrap()
            .is_none());
        assert_eq!(
            near_box(":far:Archive!2023_:near:Archive!2023"),
            Some(PathBuf::from("Archive/2023"))
        );
    }

    #[test]
    fn offlineimap_names_carry_the_server_uid() {
        let local = [
            msg("1796547441_16.8529.vm,U=7,FMD5=abc:2,S"),
            msg("1796547441_17.8529.vm,U=9,FMD5=abc:2,"),
            msg("new-by-hand"),
        ];
        let r = read(
            Path::new("/nonexistent"),
            &local,
            UidValidity(1),
            &StateDirs::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.peer, Peer::OfflineImap);
        assert!(!r.deletions_known);
        assert_eq!(
            r.records.iter().map(|r| r.uid).collect::<Vec<_>>(),
            vec![Uid(7), Uid(9)]
        );
        // Two folders' files mixed: no records at all.
        let mixed = [msg("a,U=1,FMD5=abc:2,"), msg("b,U=2,FMD5=def:2,")];
        assert!(read(
            Path::new("/nonexistent"),
            &mixed,
            UidValidity(1),
            &StateDirs::default()
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn offlineimap_status_gives_flags_and_deletions() {
        let meta = tempfile::tempdir().unwrap();
        let status_dir = meta.path().join("Account-t/LocalStatus-sqlite");
        let validity = meta.path().join("Repository-R/FolderValidity");
        fs::create_dir_all(&status_dir).unwrap();
        fs::create_dir_all(&validity).unwrap();
        fs::write(validity.join("Archive.2023"), "1796558565").unwrap();
        let conn = rusqlite::Connection::open(status_dir.join("Archive.2023")).unwrap();
        conn.execute_batch(
            "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));
             INSERT INTO status VALUES (1, 'S', 0, ''), (2, 'FS', 0, ''), (3, '', 0, '');",
        )
        .unwrap();
        drop(conn);
        let hash = md5_hex("Archive/2023");
        assert_eq!(hash, "66aa22ecfe38d39f0754fa7a5d49dd2a");
        let local = [
            msg(&format!("17_1.h,U=1,FMD5={hash}:2,S")),
            msg(&format!("17_2.h,U=2,FMD5={hash}:2,FS")),
        ];
        let dirs = StateDirs {
            mbsync: Vec::new(),
            offlineimap: vec![meta.path().to_path_buf()],
        };
        let r = read(
            Path::new("/nonexistent"),
            &local,
            UidValidity(1_796_558_565),
            &dirs,
        )
        .unwrap()
        .unwrap();
        assert!(r.deletions_known);
        assert_eq!(r.records.len(), 3);
        let gone = r.records.iter().find(|r| r.uid == Uid(3)).unwrap();
        assert_eq!(gone.local_base, None);
        assert_eq!(r.records[1].flags, Some(Flags::FLAGGED.union(Flags::SEEN)));
        // Another UIDVALIDITY: the status is not used.
        let r = read(Path::new("/nonexistent"), &local, UidValidity(7), &dirs)
            .unwrap()
            .unwrap();
        assert!(!r.deletions_known);
        assert_eq!(r.records.len(), 2);
        assert!(
            r.notes[0].contains("another server folder"),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn reads_the_metadata_setting_of_an_offlineimaprc() {
        let rc = "[general]\naccounts = t\nmetadata = ~/meta\n\n[Account t]\nmetadata = /wrong\n";
        assert_eq!(
            offlineimap_metadata(rc, Some(Path::new("/h"))),
            Some(PathBuf::from("/h/meta"))
        );
        assert_eq!(
            offlineimap_metadata("[general]\naccounts = t\n", None),
            None
        );
    }
}
