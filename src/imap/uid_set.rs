//! UID sets (`1:5,7,9:12`) for UID commands, as a type that is valid and
//! short enough for one command line by construction.
//!
//! Servers limit command line length (Dovecot at 64 KiB, others lower), so
//! long sets are split into several sets of bounded size, each sent as its
//! own command. Because a [`UidSet`] can only be built from UIDs or from
//! checked text, no command has to check or split its set again, and no
//! caller can smuggle other command text into a UID command.

use std::fmt;

use super::{ImapError, Result};
use crate::model::Uid;

/// Upper bound for one UID set string.
pub const MAX_UID_SET_LEN: usize = 4000;

/// A non-empty UID set of at most [`MAX_UID_SET_LEN`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UidSet(String);

impl UidSet {
    /// Every message of the folder: `1:*`.
    pub fn all() -> UidSet {
        UidSet("1:*".into())
    }

    /// `first:*`: the message with UID `first` and every later one.
    pub fn from_uid(first: Uid) -> UidSet {
        UidSet(format!("{first}:*"))
    }

    /// The fewest sets that cover `uids` (any order, duplicates allowed).
    /// No UIDs, no sets.
    pub fn covering(uids: &[Uid]) -> Vec<UidSet> {
        uid_sets(uids.iter().map(|u| u.0).collect())
            .into_iter()
            .map(UidSet)
            .collect()
    }

    /// Checks set text such as `1:100,200,300:*` and splits it at commas
    /// into command-sized sets.
    pub fn parse(text: &str) -> Result<Vec<UidSet>> {
        if !is_valid_uid_set(text) {
            return Err(ImapError::Protocol(format!("invalid UID set {text:?}")));
        }
        Ok(split_uid_set(text, MAX_UID_SET_LEN)
            .into_iter()
            .map(UidSet)
            .collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Compresses `uids` (any order, duplicates allowed) into UID set strings of
/// at most [`MAX_UID_SET_LEN`] bytes each. No UIDs → no strings.
fn uid_sets(mut sorted: Vec<u32>) -> Vec<String> {
    sorted.sort_unstable();
    sorted.dedup();
    let mut items = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        items.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    pack(items.iter().map(String::as_str), MAX_UID_SET_LEN)
}

/// Splits a caller-supplied set such as `1:100,200,300:*` at commas into
/// strings of at most `max` bytes, so a long set becomes several commands.
fn split_uid_set(set: &str, max: usize) -> Vec<String> {
    if set.len() <= max {
        return vec![set.to_string()];
    }
    pack(set.split(',').filter(|s| !s.is_empty()), max)
}

fn pack<'a>(items: impl Iterator<Item = &'a str>, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for item in items {
        if !cur.is_empty() && cur.len() + 1 + item.len() > max {
            out.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(',');
        }
        cur.push_str(item);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether `set` is a syntactically valid UID set (numbers, ranges, `*`),
/// so callers cannot smuggle other command text into a UID command.
fn is_valid_uid_set(set: &str) -> bool {
    !set.is_empty()
        && set.split(',').all(|item| {
            let mut parts = item.split(':');
            let ok = |p: Option<&str>| {
                p.is_some_and(|p| {
                    p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                })
            };
            match (parts.next(), parts.next(), parts.next()) {
                (a, None, None) => ok(a),
                (a, b, None) => ok(a) && ok(b),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn parse_back(sets: &[String]) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        for set in sets {
            for item in set.split(',') {
                match item.split_once(':') {
                    Some((a, b)) => out.extend(a.parse::<u32>().unwrap()..=b.parse().unwrap()),
                    None => {
                        out.insert(item.parse().unwrap());
                    }
                }
            }
        }
        out
    }

    #[test]
    fn compresses_runs() {
        assert_eq!(
            uid_sets(vec![9, 1, 2, 3, 4, 5, 7, 10, 11, 12, 3]),
            vec!["1:5,7,9:12"]
        );
        assert_eq!(uid_sets(vec![42]), vec!["42"]);
        assert!(uid_sets(vec![]).is_empty());
        assert_eq!(
            uid_sets(vec![u32::MAX - 1, u32::MAX]),
            vec!["4294967294:4294967295"]
        );
    }

    #[test]
    fn splits_long_sets() {
        let uids: Vec<u32> = (0..5000).map(|i| i * 2 + 1).collect();
        let sets = uid_sets(uids.clone());
        assert!(sets.len() > 1);
        assert!(sets.iter().all(|s| s.len() <= MAX_UID_SET_LEN));
        assert_eq!(parse_back(&sets), uids.iter().copied().collect());
    }

    #[test]
    fn splits_caller_sets_at_commas() {
        assert_eq!(split_uid_set("1:*", 10), vec!["1:*"]);
        assert_eq!(split_uid_set("1,2,3,4,5", 3), vec!["1,2", "3,4", "5"]);
    }

    #[test]
    fn typed_sets_come_only_from_uids_or_checked_text() {
        assert_eq!(UidSet::all().as_str(), "1:*");
        assert_eq!(UidSet::from_uid(Uid(7)).to_string(), "7:*");
        assert_eq!(
            UidSet::covering(&[Uid(3), Uid(1), Uid(2)]),
            vec![UidSet("1:3".into())]
        );
        assert!(UidSet::parse("1 FLAGS").is_err());
        assert!(UidSet::parse("").is_err());
        let long: Vec<String> = (1..3000).map(|i| (i * 2).to_string()).collect();
        let sets = UidSet::parse(&long.join(",")).unwrap();
        assert!(sets.len() > 1 && sets.iter().all(|s| s.as_str().len() <= MAX_UID_SET_LEN));
    }

    #[test]
    fn validates_sets() {
        assert!(is_valid_uid_set("1:5,7,9:*"));
        assert!(!is_valid_uid_set(""));
        assert!(!is_valid_uid_set("1 FLAGS"));
        assert!(!is_valid_uid_set("1:2:3"));
        assert!(!is_valid_uid_set("1,,2"));
    }

    proptest! {
        #[test]
        fn uid_sets_round_trip(uids in proptest::collection::vec(1u32..20_000, 0..3000)) {
            let sets = uid_sets(uids.clone());
            prop_assert!(sets.iter().all(|s| s.len() <= MAX_UID_SET_LEN && is_valid_uid_set(s)));
            prop_assert_eq!(parse_back(&sets), uids.iter().copied().collect::<BTreeSet<_>>());
        }

        #[test]
        fn uid_sets_round_trip_any_u32(uids in proptest::collection::vec(any::<u32>(), 0..200)) {
            let sets = uid_sets(uids.clone());
            prop_assert_eq!(parse_back(&sets), uids.iter().copied().collect::<BTreeSet<_>>());
        }
    }
}
