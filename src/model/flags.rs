//! The six message flags imapdir synchronises, shared by every layer.
//!
//! A compact bit set keeps the planner's three-way merge a handful of bit
//! operations and lets the state database store flags as one integer.

use std::fmt;

/// A set of the flags imapdir keeps in step between Maildir and IMAP.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flags(u8);

impl Flags {
    pub const SEEN: Flags = Flags(1);
    pub const ANSWERED: Flags = Flags(2);
    pub const FLAGGED: Flags = Flags(4);
    pub const DELETED: Flags = Flags(8);
    pub const DRAFT: Flags = Flags(16);
    pub const FORWARDED: Flags = Flags(32);

    /// Every flag with its Maildir letter and IMAP name, in Maildir order
    /// (the info part of a Maildir name lists letters in ASCII order).
    pub const TABLE: [(Flags, char, &'static str); 6] = [
        (Flags::DRAFT, 'D', "\\Draft"),
        (Flags::FLAGGED, 'F', "\\Flagged"),
        (Flags::FORWARDED, 'P', "$Forwarded"),
        (Flags::ANSWERED, 'R', "\\Answered"),
        (Flags::SEEN, 'S', "\\Seen"),
        (Flags::DELETED, 'T', "\\Deleted"),
    ];

    pub const fn empty() -> Flags {
        Flags(0)
    }
    pub const fn all() -> Flags {
        Flags(63)
    }
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Builds a set from stored bits, ignoring bits no flag uses.
    pub const fn from_bits(bits: u8) -> Flags {
        Flags(bits & 63)
    }
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    pub const fn intersection(self, other: Flags) -> Flags {
        Flags(self.0 & other.0)
    }
    pub const fn difference(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }
    pub fn remove(&mut self, other: Flags) {
        self.0 &= !other.0;
    }

    /// The flag for a Maildir info letter, if imapdir syncs it.
    pub fn from_maildir_letter(letter: char) -> Option<Flags> {
        Self::TABLE
            .iter()
            .find(|(_, l, _)| *l == letter)
            .map(|(f, _, _)| *f)
    }

    /// The flag for an IMAP flag name (case-insensitive), if imapdir syncs it.
    pub fn from_imap_name(name: &str) -> Option<Flags> {
        Self::TABLE
            .iter()
            .find(|(_, _, n)| n.eq_ignore_ascii_case(name))
            .map(|(f, _, _)| *f)
    }

    /// Maildir info letters in ASCII order, e.g. `"FS"`.
    pub fn to_maildir_letters(self) -> String {
        Self::TABLE
            .iter()
            .filter(|(f, _, _)| self.contains(*f))
            .map(|(_, l, _)| *l)
            .collect()
    }

    /// IMAP flag names, e.g. `["\\Flagged", "\\Seen"]`.
    pub fn imap_names(self) -> impl Iterator<Item = &'static str> {
        Self::TABLE
            .iter()
            .filter(move |(f, _, _)| self.contains(*f))
            .map(|(_, _, n)| *n)
    }

    /// A parenthesised IMAP flag list, e.g. `(\Flagged \Seen)`.
    pub fn to_imap_list(self) -> String {
        let names: Vec<&str> = self.imap_names().collect();
        format!("({})", names.join(" "))
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flags({})", self.to_maildir_letters())
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_maildir_letters())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_sorted_and_round_trip() {
        let f = Flags::SEEN.union(Flags::FLAGGED).union(Flags::FORWARDED);
        assert_eq!(f.to_maildir_letters(), "FPS");
        let back = "FPS"
            .chars()
            .filter_map(Flags::from_maildir_letter)
            .fold(Flags::empty(), Flags::union);
        assert_eq!(back, f);
    }

    #[test]
    fn imap_names_map_both_ways() {
        for (flag, _, name) in Flags::TABLE {
            assert_eq!(Flags::from_imap_name(name), Some(flag));
            assert_eq!(
                Flags::from_imap_name(&name.to_ascii_uppercase()),
                Some(flag)
            );
        }
        assert_eq!(Flags::from_imap_name("\\Recent"), None);
        assert_eq!(
            Flags::SEEN.union(Flags::ANSWERED).to_imap_list(),
            "(\\Answered \\Seen)"
        );
        assert_eq!(Flags::empty().to_imap_list(), "()");
    }

    #[test]
    fn from_bits_masks_unknown_bits() {
        assert_eq!(Flags::from_bits(0xff), Flags::all());
    }
}
