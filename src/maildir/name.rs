//! Maildir file names: `<unique>,U=<uid>:2,<letters>`.
//!
//! Letters are the standard flags' capitals (`DFPRST`) and, after them,
//! keyword slots `a`..`z` the way Dovecot writes them (`:2,FSab`); which
//! keyword a letter stands for is the folder's `dovecot-keywords` (see
//! [`super::keywords`]), not this codec's business.
//!
//! The IMAP UID lives in the name so that a crash between writing a file
//! and recording it in the state database can be repaired from the
//! directory listing alone.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Subdir;
use crate::model::{Flags, Uid};

/// A Maildir file name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedName {
    /// Everything before the info part (`:2,` or `:1,`); the whole name if
    /// there is none. Stays the same when flags change.
    pub base: String,
    /// The `,U=<uid>` hint in the base (mbsync and OfflineIMAP style).
    pub uid: Option<Uid>,
    /// The Maildir++ `,S=<size>` in the base.
    pub size: Option<u64>,
    /// Flags from the letters of a `:2,` info part, keyword letters
    /// included.
    pub flags: Flags,
    /// Info letters that are neither a flag nor a keyword slot (another
    /// tool's capitals, digits), kept so a flag change does not drop them.
    pub other_info: String,
}

/// Takes a Maildir file name apart.
pub fn parse_name(name: &str) -> ParsedName {
    let (base, info) = split_info(name);
    let mut flags = Flags::empty();
    let mut other_info = String::new();
    // Experimental ":1," info carries no flags.
    if let Some(letters) = info.strip_prefix(":2,") {
        for c in letters.chars() {
            match Flags::from_maildir_letter(c) {
                Some(flag) => flags.insert(flag),
                None => other_info.push(c),
            }
        }
    }
    ParsedName {
        base: base.to_string(),
        uid: base_field(base, ",U=")
            .and_then(|(v, _)| v.parse::<u32>().ok())
            .filter(|&uid| uid != 0)
            .map(Uid),
        size: base_field(base, ",S=").and_then(|(v, _)| v.parse::<u64>().ok()),
        flags,
        other_info,
    }
}

/// Splits a name into base and info (`:2,…`, `:1,…`, or empty).
///
/// The last separator wins: info letters never contain one, while a
/// foreign tool's odd base might.
pub(crate) fn split_info(name: &str) -> (&str, &str) {
    let at = match (name.rfind(":2,"), name.rfind(":1,")) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    match at {
        Some(i) => name.split_at(i),
        None => (name, ""),
    }
}

/// The digits after the first `tag` in `base` that is followed by a digit,
/// and the byte range they occupy.
fn base_field<'a>(base: &'a str, tag: &str) -> Option<(&'a str, std::ops::Range<usize>)> {
    base.match_indices(tag).find_map(|(at, _)| {
        let start = at + tag.len();
        let len = base[start..].bytes().take_while(u8::is_ascii_digit).count();
        (len > 0).then(|| (&base[start..start + len], start..start + len))
    })
}

/// The info letters for `flags` plus the unknown letters of `other_info`:
/// known letters come only from `flags`, all sorted ASCII, no repeats.
fn info_letters(flags: Flags, other_info: &str) -> String {
    let mut letters: Vec<char> = flags.to_maildir_letters().chars().collect();
    letters.extend(
        other_info
            .chars()
            .filter(|&c| Flags::from_maildir_letter(c).is_none()),
    );
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// Name for a message with this base and flags where [`Subdir::for_flags`]
/// puts it: the bare base (new/) when there are no flags and no other info
/// letters, else `base:2,<letters>` (cur/).
pub fn format_name(base: &str, flags: Flags, other_info: &str) -> String {
    format_name_in(Subdir::for_flags(flags), base, flags, other_info)
}

/// Name for a message in a given subdir: only new/ may hold a name without
/// info; a message in cur/ always has `:2,` even with no flags.
///
/// A base that itself looks like it has an info part (a foreign tool's
/// `x:2,S:1,` parses to the base `x:2,S`) always gets `:2,`, so the name
/// parses back to the same base and no flags.
pub fn format_name_in(subdir: Subdir, base: &str, flags: Flags, other_info: &str) -> String {
    let letters = info_letters(flags, other_info);
    if subdir == Subdir::New && letters.is_empty() && split_info(base).1.is_empty() {
        base.to_string()
    } else {
        format!("{base}:2,{letters}")
    }
}

/// A new unique base with the UID embedded: `<unique>,U=<uid>`.
pub fn new_base(uid: Option<Uid>) -> String {
    let unique = unique_name();
    match uid {
        Some(uid) => format!("{unique},U={uid}"),
        None => unique,
    }
}

/// Replaces (or adds) the `,U=<uid>` of a base, keeping everything else.
pub fn base_with_uid(base: &str, uid: Uid) -> String {
    match base_field(base, ",U=") {
        Some((_, range)) => format!("{}{uid}{}", &base[..range.start], &base[range.end..]),
        None => format!("{base},U={uid}"),
    }
}

/// A base without its `,U=<uid>` (for a file leaving the folders that
/// UID belongs to).
pub fn base_without_uid(base: &str) -> String {
    match base_field(base, ",U=") {
        Some((_, range)) => format!("{}{}", &base[..range.start - 3], &base[range.end..]),
        None => base.to_string(),
    }
}

/// `<secs>.R<random hex>_<counter>.<hostname>`: unique per process and call.
///
/// The random part comes from std's per-process randomly keyed hasher, so
/// two processes started in the same second (or a reused pid) still differ.
pub(crate) fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut hasher = SEED.get_or_init(RandomState::new).build_hasher();
    hasher.write_u64(count);
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    format!(
        "{}.R{:016x}_{count}.{}",
        now.as_secs(),
        hasher.finish(),
        hostname()
    )
}

/// The host name with `/` and `:` escaped as the Maildir spec says (and `,`
/// too, so it cannot fake a `,U=` field).
fn hostname() -> &'static str {
    static HOSTNAME: OnceLock<String> = OnceLock::new();
    HOSTNAME.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at
        // most that many bytes.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        let raw = if rc == 0 {
            let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            String::from_utf8_lossy(&buf[..len]).into_owned()
        } else {
            String::new()
        };
        let raw = if raw.is_empty() {
            "localhost".to_string()
        } else {
            raw
        };
        raw.replace('/', "\\057")
            .replace(':', "\\072")
            .replace(',', "\\054")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn flags(letters: &str) -> Flags {
        letters
            .chars()
            .filter_map(Flags::from_maildir_letter)
            .fold(Flags::empty(), Flags::union)
    }

    #[test]
    fn parses_mbsync_names() {
        let p = parse_name("1700000000.R1a2b_3.host,U=123:2,FS");
        assert_eq!(p.base, "1700000000.R1a2b_3.host,U=123");
        assert_eq!(p.uid, Some(Uid(123)));
        assert_eq!(p.size, None);
        assert_eq!(p.flags, flags("FS"));
        assert_eq!(p.other_info, "");
    }

    #[test]
    fn parses_offlineimap_and_maildirplusplus_names() {
        let p = parse_name("1700000000_0.123.host,U=42,FMD5=0123abcd:2,RSab");
        assert_eq!(p.base, "1700000000_0.123.host,U=42,FMD5=0123abcd");
        assert_eq!(p.uid, Some(Uid(42)));
        assert_eq!(p.flags, flags("RSab"));
        assert_eq!(p.other_info, "");

        let p = parse_name("1700000000.M1P2.host,S=2048,W=2100:2,S");
        assert_eq!(p.uid, None);
        assert_eq!(p.size, Some(2048));
    }

    #[test]
    fn parses_names_without_info_or_with_experimental_info() {
        let p = parse_name("1700000000.1.host");
        assert_eq!(p.base, "1700000000.1.host");
        assert_eq!(p.flags, Flags::empty());

        let p = parse_name("1700000000.1.host:1,whatever");
        assert_eq!(p.base, "1700000000.1.host");
        assert_eq!(p.flags, Flags::empty());
        assert_eq!(p.other_info, "");
    }

    #[test]
    fn base_without_uid_drops_only_the_uid_field() {
        assert_eq!(base_without_uid("1.R2_3.host,U=42"), "1.R2_3.host");
        assert_eq!(
            base_without_uid("1.R2_3.host,U=42,S=100"),
            "1.R2_3.host,S=100"
        );
        assert_eq!(base_without_uid("1.R2_3.host"), "1.R2_3.host");
    }

    #[test]
    fn uid_hint_needs_digits_and_fits_u32() {
        assert_eq!(parse_name("x,U=:2,S").uid, None);
        assert_eq!(parse_name("x,U=abc").uid, None);
        assert_eq!(parse_name("x,U=0").uid, None);
        assert_eq!(parse_name("x,U=4294967295").uid, Some(Uid(u32::MAX)));
        assert_eq!(parse_name("x,U=4294967296").uid, None);
        assert_eq!(parse_name("x,U=7abc").uid, Some(Uid(7)));
    }

    #[test]
    fn format_keeps_unknown_letters_and_sorts() {
        assert_eq!(format_name("b", flags("SF"), "Q"), "b:2,FQS");
        // Known letters in other_info do not override the flags.
        assert_eq!(format_name("b", flags("F"), "SzaQ"), "b:2,FQ");
        assert_eq!(format_name("b", Flags::empty(), ""), "b");
        assert_eq!(format_name("b", Flags::empty(), "Q"), "b:2,Q");
        assert_eq!(format_name_in(Subdir::Cur, "b", Flags::empty(), ""), "b:2,");
        assert_eq!(format_name_in(Subdir::New, "b", flags("S"), ""), "b:2,S");
    }

    #[test]
    fn a_base_that_looks_like_it_has_info_keeps_it_without_flags() {
        // Found by fuzzing: `x:2,:2,S` parses to the base `x:2,`; with no
        // flags its new/ name was that bare base, which parses to `x`.
        for name in ["Old/cur/1,U=1b:2,:2,SS", "x:2,S:1,", "x:1,:2,", "x:2,"] {
            let p = parse_name(name);
            let renamed = format_name(&p.base, Flags::empty(), "");
            let back = parse_name(&renamed);
            assert_eq!(back.base, p.base, "{name:?} renamed {renamed:?}");
            assert_eq!(back.flags, Flags::empty(), "{name:?} renamed {renamed:?}");
        }
        assert_eq!(format_name("x:2,S", Flags::empty(), ""), "x:2,S:2,");
        assert_eq!(format_name("x:2", Flags::empty(), ""), "x:2");
    }

    #[test]
    fn base_with_uid_replaces_or_adds() {
        assert_eq!(base_with_uid("u.host", Uid(5)), "u.host,U=5");
        assert_eq!(base_with_uid("u.host,U=5", Uid(77)), "u.host,U=77");
        assert_eq!(
            base_with_uid("u.host,U=5,FMD5=ab", Uid(6)),
            "u.host,U=6,FMD5=ab"
        );
        assert_eq!(base_with_uid("u.host,U=", Uid(6)), "u.host,U=,U=6");
        assert_eq!(base_with_uid("u.host,U=x,U=5", Uid(6)), "u.host,U=x,U=6");
        assert_eq!(
            parse_name(&base_with_uid("u.host,U=", Uid(6))).uid,
            Some(Uid(6))
        );
    }

    #[test]
    fn new_bases_are_unique_and_carry_the_uid() {
        let a = new_base(Some(Uid(9)));
        let b = new_base(Some(Uid(9)));
        assert_ne!(a, b);
        assert!(a.ends_with(",U=9"));
        assert_eq!(parse_name(&a).uid, Some(Uid(9)));
        assert_eq!(parse_name(&new_base(None)).uid, None);
        assert!(!a.contains('/') && !a.contains(':'));
        assert!(!a.starts_with('.'));
    }

    #[test]
    fn keyword_letters_parse_into_slots_and_format_after_the_capitals() {
        // As Dovecot writes them: capitals, then keyword letters.
        let p = parse_name("1700000000.M1P2.host,S=20,W=21:2,FSab");
        assert_eq!(
            p.flags,
            flags("FS")
                .union(Flags::keyword(0))
                .union(Flags::keyword(1))
        );
        assert_eq!(p.other_info, "");
        // Any order in, sorted out; a repeated letter counts once.
        let p = parse_name("x,U=3:2,zbSaab");
        assert_eq!(p.flags.to_maildir_letters(), "Sabz");
        assert_eq!(format_name(&p.base, p.flags, &p.other_info), "x,U=3:2,Sabz");
        // Keywords alone put a message in cur/.
        assert_eq!(format_name("x", Flags::keyword(2), ""), "x:2,c");
        // Removing a keyword keeps the rest, and other tools' letters.
        let p = parse_name("x:2,RSacQ");
        let fewer = p.flags.difference(Flags::keyword(0));
        assert_eq!(format_name(&p.base, fewer, &p.other_info), "x:2,QRSc");
        // Experimental info carries no keywords either.
        assert_eq!(parse_name("x:1,ab").flags, Flags::empty());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(
            base in "[a-zA-Z0-9.,=_]{1,20}",
            bits in any::<u32>(),
            other in "[0-9A-CEG-OQUV-Z]{0,4}",
            uid in 1u32..,
        ) {
            let f = Flags::from_bits(bits);
            let name = format_name(&base, f, &other);
            let p = parse_name(&name);
            prop_assert_eq!(&p.base, &base);
            prop_assert_eq!(p.flags, f);
            let mut expected: Vec<char> = other.chars().collect();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(p.other_info, expected.into_iter().collect::<String>());
            prop_assert_eq!(parse_name(&base_with_uid(&base, Uid(uid))).uid, Some(Uid(uid)));
        }
    }
}
