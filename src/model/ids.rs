//! The numbers IMAP names things by, each its own type so that one cannot
//! be passed where another is meant (a UIDVALIDITY or a sequence number
//! where a UID goes, a modseq where a size goes).

use std::fmt;

/// A message's UID in its folder: unique and ascending while the folder's
/// UIDVALIDITY stays the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(pub u32);

/// A folder's UIDVALIDITY: while it stays the same, a UID names the same
/// message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UidValidity(pub u32);

/// A modification sequence (CONDSTORE, RFC 7162): a folder's
/// HIGHESTMODSEQ, or the last change of one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModSeq(pub u64);

impl Uid {
    /// The UID after this one: where a folder's next message goes.
    pub fn next(self) -> Uid {
        Uid(self.0.saturating_add(1))
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for UidValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
