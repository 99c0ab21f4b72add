//! A message as each side and the record know it.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Flags, ModSeq, Uid};

/// A message as the server lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteMessage {
    pub uid: Uid,
    pub flags: Flags,
    /// RFC822.SIZE, when the listing carried it.
    pub size: Option<u32>,
    /// MODSEQ, on servers with CONDSTORE.
    pub modseq: Option<ModSeq>,
}

impl RemoteMessage {
    /// The server's message as a pair recorded it at the last sync: what
    /// the planner is given to plan against the record alone.
    pub fn as_recorded(pair: &super::Pair) -> RemoteMessage {
        RemoteMessage {
            uid: pair.uid,
            flags: pair.flags,
            size: None,
            modseq: None,
        }
    }
}

/// The subdirectory a message file lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subdir {
    New,
    Cur,
}

impl Subdir {
    pub fn dir_name(self) -> &'static str {
        match self {
            Subdir::New => "new",
            Subdir::Cur => "cur",
        }
    }

    /// Where a message with these flags is delivered: new/ only when it has
    /// none (unseen and untouched, as a mail reader would find it).
    pub fn for_flags(flags: Flags) -> Subdir {
        if flags.is_empty() {
            Subdir::New
        } else {
            Subdir::Cur
        }
    }
}

/// One message file in a Maildir folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMessage {
    pub subdir: Subdir,
    /// File name only.
    pub name: String,
    /// The name without its info part; stays the same across flag changes,
    /// so it identifies the message.
    pub base: String,
    pub uid_hint: Option<Uid>,
    /// From the info part; a file in new/ without info has no flags.
    pub flags: Flags,
}

/// A message known on both sides at the last sync, with the flags both had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub uid: Uid,
    pub local_base: String,
    pub flags: Flags,
}

/// mtimes of cur/ and new/ (nanoseconds): lets a later run skip a folder
/// nothing has changed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirStamp {
    pub cur_mtime_ns: i64,
    pub new_mtime_ns: i64,
}

impl DirStamp {
    /// Both mtimes in whole seconds: a file system with coarse timestamps.
    pub fn whole_seconds(&self) -> bool {
        [self.cur_mtime_ns, self.new_mtime_ns]
            .iter()
            .all(|ns| ns % 1_000_000_000 == 0)
    }

    /// Nanoseconds since the later of the two mtimes.
    pub fn age_ns(&self) -> i64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        now - self.cur_mtime_ns.max(self.new_mtime_ns)
    }
}
