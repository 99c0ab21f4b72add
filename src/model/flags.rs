//! The message flags imapdir synchronises, shared by every layer: the six
//! standard flags and 26 keyword slots.
//!
//! A compact bit set keeps the planner's three-way merge a handful of bit
//! operations and lets the state database store flags as one integer.
//! Keyword slots are the Maildir letters `a`..`z` as Dovecot uses them:
//! which keyword a slot stands for is per folder (its `dovecot-keywords`
//! file, see [`super::Keywords`]), so the bits mean the same thing on both
//! sides of one folder and the merge needs no names.

use std::fmt;

/// A set of the flags imapdir keeps in step between Maildir and IMAP.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flags(u32);

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

    /// How many keyword slots a folder has (Maildir letters `a`..`z`).
    pub const KEYWORD_SLOTS: u8 = 26;
    /// The first bit a keyword slot uses.
    const KEYWORD_SHIFT: u32 = 6;
    /// Every standard flag.
    pub const STANDARD: Flags = Flags(63);

    pub const fn empty() -> Flags {
        Flags(0)
    }
    /// Every standard flag and every keyword slot.
    pub const fn all() -> Flags {
        Flags(u32::MAX)
    }
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// Builds a set from stored bits (all 32 are in use).
    pub const fn from_bits(bits: u32) -> Flags {
        Flags(bits)
    }
    /// The keyword slot `slot` (0 = letter `a`); empty for a slot past `z`.
    pub const fn keyword(slot: u8) -> Flags {
        if slot < Self::KEYWORD_SLOTS {
            Flags(1 << (Self::KEYWORD_SHIFT + slot as u32))
        } else {
            Flags(0)
        }
    }
    /// The keyword slots set, as slot numbers (0 = `a`), ascending.
    pub fn keyword_slots(self) -> impl Iterator<Item = u8> {
        (0..Self::KEYWORD_SLOTS).filter(move |&s| self.contains(Flags::keyword(s)))
    }
    /// Only the keyword slots of this set.
    pub const fn keywords(self) -> Flags {
        Flags(self.0 & !Self::STANDARD.0)
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

    /// The flag for a Maildir info letter, if imapdir syncs it: a standard
    /// flag's capital, or a keyword slot's `a`..`z`.
    pub fn from_maildir_letter(letter: char) -> Option<Flags> {
        if letter.is_ascii_lowercase() {
            return Some(Flags::keyword(letter as u8 - b'a'));
        }
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

    /// Maildir info letters in ASCII order, e.g. `"FSab"`: the standard
    /// flags' capitals, then the keyword slots' letters.
    pub fn to_maildir_letters(self) -> String {
        Self::TABLE
            .iter()
            .filter(|(f, _, _)| self.contains(*f))
            .map(|(_, l, _)| *l)
            .chain(self.keyword_slots().map(|s| (b'a' + s) as char))
            .collect()
    }

    /// IMAP names of the standard flags, e.g. `["\\Flagged", "\\Seen"]`
    /// (keywords need the folder's table: [`super::Keywords::imap_list`]).
    pub fn imap_names(self) -> impl Iterator<Item = &'static str> {
        Self::TABLE
            .iter()
            .filter(move |(f, _, _)| self.contains(*f))
            .map(|(_, _, n)| *n)
    }

    /// A parenthesised IMAP list of the standard flags, e.g.
    /// `(\Flagged \Seen)`.
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
    fn keyword_slots_are_lowercase_letters_after_the_capitals() {
        let f = Flags::SEEN
            .union(Flags::FLAGGED)
            .union(Flags::keyword(0))
            .union(Flags::keyword(25));
        assert_eq!(f.to_maildir_letters(), "FSaz");
        assert_eq!(Flags::from_maildir_letter('b'), Some(Flags::keyword(1)));
        assert_eq!(Flags::from_maildir_letter('z'), Some(Flags::keyword(25)));
        assert_eq!(Flags::from_maildir_letter('Q'), None);
        assert_eq!(Flags::keyword(26), Flags::empty());
        assert_eq!(f.keywords(), Flags::keyword(0).union(Flags::keyword(25)));
        assert_eq!(f.keyword_slots().collect::<Vec<_>>(), vec![0, 25]);
        // Keyword bits carry no standard IMAP name of their own.
        assert_eq!(f.to_imap_list(), "(\\Flagged \\Seen)");
        assert_eq!(Flags::from_bits(f.bits()), f);
        assert_eq!(Flags::all().keyword_slots().count(), 26);
    }
}
