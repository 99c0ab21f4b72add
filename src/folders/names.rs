//! IMAP mailbox names: modified UTF-7 (RFC 3501 section 5.1.3) and the
//! mapping between server folder names and local directory paths.
//!
//! Folder names come from the server, so they are hostile input: a name
//! such as `../x` or one that decodes to a NUL must never become a path
//! outside the Maildir root. Decoding is strict and only accepts the one
//! canonical encoding of every name, so two different server names can
//! never map to the same local directory.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// Subdirectory names of a Maildir folder; a child folder with one of these
/// names would land inside its parent's message directories.
const MAILDIR_SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

/// Longest component most file systems accept (bytes).
const MAX_COMPONENT_BYTES: usize = 255;

/// Why a folder name cannot be decoded, mapped to a local path, or encoded.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// The raw server name is not valid (canonical) modified UTF-7.
    #[error("folder {name:?}: invalid modified UTF-7: {reason}")]
    Encoding { name: String, reason: String },
    /// A component is unsafe or unusable as a directory name.
    #[error("folder {name:?}: component {component:?} {reason}")]
    Component {
        name: String,
        component: String,
        reason: &'static str,
    },
    /// A local folder name cannot be expressed as a server name.
    #[error("local folder {name:?}: {reason}")]
    Remote { name: String, reason: String },
}

/// Printable US-ASCII represents itself in modified UTF-7; everything else
/// (including DEL and control characters) must be base64-encoded.
fn is_direct(c: char) -> bool {
    ('\x20'..='\x7e').contains(&c)
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some((b - b'A') as u32),
        b'a'..=b'z' => Some((b - b'a') as u32 + 26),
        b'0'..=b'9' => Some((b - b'0') as u32 + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Decodes a server mailbox name from modified UTF-7.
///
/// Strict: errors (never panics) on bad base64, an incomplete UTF-16 unit,
/// nonzero padding bits, unpaired surrogates, an unterminated `&`, raw
/// non-ASCII or control characters, and non-canonical forms (encoded
/// printable ASCII, two encoded runs in a row).
pub fn decode_mutf7(raw: &str) -> Result<String, NameError> {
    let err = |reason: String| NameError::Encoding {
        name: raw.to_string(),
        reason,
    };
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    // Where the last base64 run ended, to reject "&...-&...-" (the RFC
    // forbids splitting one run in two).
    let mut last_run_end: Option<usize> = None;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'&' {
            if !(0x20..=0x7e).contains(&b) {
                let c = raw[i..].chars().next().unwrap_or('\u{fffd}');
                return Err(err(format!(
                    "character {c:?} at byte {i} must be base64-encoded"
                )));
            }
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i + 1;
        let Some(len) = bytes[start..].iter().position(|&b| b == b'-') else {
            return Err(err(format!("'&' at byte {i} is not terminated by '-'")));
        };
        let end = start + len;
        if len == 0 {
            out.push('&');
            i = end + 1;
            continue;
        }
        if last_run_end == Some(i) {
            return Err(err(format!(
                "encoded run at byte {i} directly follows another one"
            )));
        }
        let units =
            decode_base64_run(&bytes[start..end]).map_err(|r| err(format!("{r} at byte {i}")))?;
        for decoded in char::decode_utf16(units) {
            let c = decoded.map_err(|e| {
                err(format!(
                    "unpaired surrogate {:#06x} at byte {i}",
                    e.unpaired_surrogate()
                ))
            })?;
            if is_direct(c) {
                return Err(err(format!(
                    "printable ASCII {c:?} is base64-encoded at byte {i}"
                )));
            }
            out.push(c);
        }
        i = end + 1;
        last_run_end = Some(i);
    }
    // Every check above should make the encoding canonical; this guards the
    // "one name, one path" promise against any case they missed.
    if encode_mutf7(&out) != raw {
        return Err(err("not in canonical form".to_string()));
    }
    Ok(out)
}

/// Decodes one modified-base64 run into UTF-16 code units.
fn decode_base64_run(run: &[u8]) -> Result<Vec<u16>, &'static str> {
    let mut units = Vec::with_capacity(run.len() * 6 / 16);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in run {
        let v = base64_value(b).ok_or("invalid base64 character")?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push((acc >> bits) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err("odd number of bytes (incomplete UTF-16 unit)");
    }
    if acc != 0 {
        return Err("nonzero padding bits");
    }
    Ok(units)
}

/// Encodes a mailbox name in modified UTF-7 (canonical form).
///
/// Written here rather than taken from `utf7-imap`, whose encoder passes
/// DEL (0x7f) through unencoded.
pub fn encode_mutf7(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if is_direct(c) {
            flush_base64_run(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_base64_run(&mut pending, &mut out);
    out
}

fn flush_base64_run(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &u in units.iter() {
        acc = (acc << 16) | u as u32;
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(BASE64_ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE64_ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out.push('-');
    units.clear();
}

/// Why a path component is unusable, or None if it is fine.
///
/// `is_child` is true for every component but the first: those live inside
/// a parent folder's directory, next to its cur/ new/ tmp/.
pub(crate) fn component_problem(component: &str, is_child: bool) -> Option<&'static str> {
    if component.is_empty() {
        return Some("is empty");
    }
    if component == "." || component == ".." {
        return Some("is a relative directory reference");
    }
    if component.starts_with('.') {
        return Some("starts with '.' (hidden; Maildir tools treat such names specially)");
    }
    if component.contains('/') {
        return Some("contains '/'");
    }
    if component.contains('\0') {
        return Some("contains a NUL character");
    }
    if component.chars().any(|c| c < '\x20' || c == '\x7f') {
        return Some("contains a control character");
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Some("is longer than 255 bytes");
    }
    if is_child
        && MAILDIR_SUBDIRS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(component))
    {
        return Some("would collide with the parent folder's Maildir subdirectory");
    }
    None
}

/// Which spelling one local directory name shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spelling {
    /// Plain ASCII without `&`: the same in both spellings.
    Either,
    /// A modified UTF-7 spelling of the contained (different) name.
    ModifiedUtf7(String),
    /// Only readable as UTF-8: non-ASCII, or an `&` that is not a shift.
    Utf8,
}

/// Tells which spelling a local directory name is in. A name counts as
/// modified UTF-7 only when it decodes and encodes back to itself, so no
/// UTF-8 name is ever misread (`bench & co` is not valid modified UTF-7).
pub fn spelling_of(component: &str) -> Spelling {
    if component.is_ascii() && !component.contains('&') {
        return Spelling::Either;
    }
    match decode_mutf7(component) {
        Ok(decoded) if decoded != component && encode_mutf7(&decoded) == component => {
            Spelling::ModifiedUtf7(decoded)
        }
        _ => Spelling::Utf8,
    }
}

fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// Maps a raw server folder name to safe local path components.
///
/// INBOX (any case, whole name) becomes `["INBOX"]`. Everything else is
/// decoded and split on the server's hierarchy delimiter (`None`: the server
/// has no hierarchy, so the whole name is one component), and every
/// component is checked so that joining it to the root stays inside it.
pub fn local_components(raw_name: &str, delimiter: Option<char>) -> Result<Vec<String>, NameError> {
    if is_inbox(raw_name) {
        return Ok(vec!["INBOX".to_string()]);
    }
    let decoded = decode_mutf7(raw_name)?;
    let components: Vec<String> = match delimiter {
        Some(d) => decoded.split(d).map(str::to_string).collect(),
        None => vec![decoded.clone()],
    };
    for (i, component) in components.iter().enumerate() {
        if let Some(reason) = component_problem(component, i > 0) {
            return Err(NameError::Component {
                name: decoded,
                component: component.clone(),
                reason,
            });
        }
    }
    Ok(components)
}

/// The local directory of a folder: `root` joined with its components.
///
/// The components must come from [`local_components`] or
/// [`crate::maildir::discover_folders`]; the debug assertions catch any
/// caller that skipped that validation.
pub fn local_path(root: &Path, components: &[String]) -> PathBuf {
    let mut path = root.to_path_buf();
    for (i, component) in components.iter().enumerate() {
        debug_assert!(
            component_problem(component, i > 0).is_none(),
            "unsafe folder component {component:?}"
        );
        path.push(component);
    }
    debug_assert!(stays_under(root, &path), "{path:?} escapes {root:?}");
    path
}

/// True if `path` is `root` plus only normal components.
fn stays_under(root: &Path, path: &Path) -> bool {
    match path.strip_prefix(root) {
        Ok(rest) => rest.components().all(|c| matches!(c, Component::Normal(_))),
        Err(_) => false,
    }
}

/// Server name for a folder that exists only locally: the inverse of
/// [`local_components`].
pub fn remote_name(components: &[String], delimiter: Option<char>) -> Result<String, NameError> {
    let display = DisplayComponents(components);
    let err = |reason: String| NameError::Remote {
        name: display.to_string(),
        reason,
    };
    if components.is_empty() {
        return Err(err("has no name".to_string()));
    }
    if components.len() > 1 && delimiter.is_none() {
        return Err(err(
            "is nested, but the server has no hierarchy delimiter".to_string()
        ));
    }
    for (i, component) in components.iter().enumerate() {
        if let Some(reason) = component_problem(component, i > 0) {
            return Err(err(format!("component {component:?} {reason}")));
        }
        if let Some(d) = delimiter.filter(|d| component.contains(*d)) {
            return Err(err(format!(
                "component {component:?} contains the server's hierarchy delimiter {d:?}"
            )));
        }
    }
    if components.len() == 1 && is_inbox(&components[0]) && components[0] != "INBOX" {
        // The server treats any case of INBOX as INBOX, which already maps
        // to the local "INBOX" directory.
        return Err(err(format!(
            "{:?} would name the server's INBOX, which is synced with the local \"INBOX\"",
            components[0]
        )));
    }
    let joined = match delimiter {
        Some(d) => components.join(d.to_string().as_str()),
        None => components[0].clone(),
    };
    Ok(encode_mutf7(&joined))
}

/// Shows local components as a path for error messages.
struct DisplayComponents<'a>(&'a [String]);

impl fmt::Display for DisplayComponents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn comps(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tells_the_spelling_of_a_directory_name() {
        assert_eq!(spelling_of("Archive"), Spelling::Either);
        assert_eq!(
            spelling_of("Entw&APw-rfe"),
            Spelling::ModifiedUtf7("Entwürfe".into())
        );
        assert_eq!(
            spelling_of("bench &- co"),
            Spelling::ModifiedUtf7("bench & co".into())
        );
        assert_eq!(spelling_of("bench & co"), Spelling::Utf8);
        assert_eq!(spelling_of("Entwürfe"), Spelling::Utf8);
        // Not canonical (would encode differently), so not read as UTF-7.
        assert_eq!(spelling_of("&AGE-"), Spelling::Utf8);
        assert_eq!(spelling_of("AT&T"), Spelling::Utf8);
    }

    #[test]
    fn decodes_and_encodes_known_names() {
        let cases = [
            ("Archive/2023", "Archive/2023"),
            ("&AMk-t&AOk-", "Été"),
            ("&-", "&"),
            ("a&-b", "a&b"),
            ("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-", "Отправленные"),
            ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"),
            ("&2D3eAA-", "\u{1F600}"),
            ("&AH8-", "\x7f"),
            ("", ""),
        ];
        for (raw, decoded) in cases {
            assert_eq!(decode_mutf7(raw).unwrap(), decoded, "decoding {raw:?}");
            assert_eq!(encode_mutf7(decoded), raw, "encoding {decoded:?}");
        }
    }

    #[test]
    fn rejects_malformed_encodings_without_panicking() {
        let bad = [
            "&",              // unterminated
            "abc&AMk",        // unterminated
            "&AM/-",          // '/' is not modified base64
            "&AM=-",          // padding is not allowed
            "&AM-",           // 12 bits: incomplete unit
            "&AMkA-",         // 24 bits: odd byte count
            "&AMl-",          // nonzero padding bits
            "&2D0-",          // lone high surrogate
            "&3gA-",          // lone low surrogate
            "&2D0-&3gA-",     // surrogate pair split across runs
            "&AGE-",          // encodes printable 'a'
            "&AC8-",          // encodes '/'
            "&AOk-&AOk-",     // two runs in a row
            "caf\u{e9}",      // raw 8-bit
            "a\tb",           // raw control character
            "&-&AMk-&-&AOk-", // fine
        ];
        for raw in &bad[..bad.len() - 1] {
            assert!(decode_mutf7(raw).is_err(), "{raw:?} should be rejected");
        }
        assert_eq!(decode_mutf7(bad[bad.len() - 1]).unwrap(), "&É&é");
    }

    #[test]
    fn error_message_names_the_folder() {
        let msg = decode_mutf7("Bad&AM").unwrap_err().to_string();
        assert!(msg.contains("\"Bad&AM\""), "{msg}");
        let msg = local_components("a/../b", Some('/'))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("a/../b") && msg.contains("\"..\""), "{msg}");
    }

    #[test]
    fn maps_names_to_components() {
        assert_eq!(
            local_components("Archive/2023", Some('/')).unwrap(),
            comps(&["Archive", "2023"])
        );
        assert!(local_components("Archive/2023", None).is_err());
        assert_eq!(
            local_components("&AMk-t&AOk-", Some('/')).unwrap(),
            comps(&["Été"])
        );
        assert_eq!(
            local_components("INBOX.Sent", Some('.')).unwrap(),
            comps(&["INBOX", "Sent"])
        );
        assert!(local_components("Lists.a/b", Some('.')).is_err());
        assert_eq!(local_components("Q&-A", None).unwrap(), comps(&["Q&A"]));
        for inbox in ["INBOX", "inbox", "InBoX"] {
            assert_eq!(
                local_components(inbox, Some('/')).unwrap(),
                comps(&["INBOX"])
            );
        }
        assert_eq!(local_components("tmp", Some('/')).unwrap(), comps(&["tmp"]));
    }

    #[test]
    fn rejects_hostile_names() {
        let hostile: [(&str, Option<char>); 17] = [
            ("../x", Some('/')),
            ("a/../../b", Some('/')),
            (".", Some('/')),
            ("..", Some('/')),
            ("..", None),
            ("/etc", Some('/')),
            ("a//b", Some('/')),
            ("a/", Some('/')),
            (".hidden", Some('/')),
            ("a/.b", Some('/')),
            ("&AAA-", None), // NUL
            ("a&AAA-b", Some('/')),
            ("&AAo-", None),    // newline
            ("&AH8-", None),    // DEL
            ("&AC8-etc", None), // mUTF-7 for "/etc"
            ("x/y", None),      // '/' inside a component
            ("Archive/cur", Some('/')),
        ];
        for (raw, delimiter) in hostile {
            assert!(
                local_components(raw, delimiter).is_err(),
                "{raw:?} with {delimiter:?} should be rejected"
            );
        }
        assert_eq!(
            local_components("x.y", Some('.')).unwrap(),
            comps(&["x", "y"])
        );
        assert!(local_components(&"a".repeat(256), None).is_err());
    }

    #[test]
    fn local_path_joins_components_under_root() {
        let root = Path::new("/home/u/Mail");
        let path = local_path(root, &comps(&["Archive", "2023"]));
        assert_eq!(path, Path::new("/home/u/Mail/Archive/2023"));
        assert!(stays_under(root, &path));
        assert!(!stays_under(root, Path::new("/home/u/Mail/../x")));
        assert!(!stays_under(root, Path::new("/home/u/Other")));
    }

    #[test]
    #[should_panic]
    #[cfg(debug_assertions)]
    fn local_path_refuses_parent_components() {
        local_path(Path::new("/root"), &comps(&["a", ".."]));
    }

    #[test]
    fn remote_names() {
        assert_eq!(
            remote_name(&comps(&["Archive", "2023"]), Some('/')).unwrap(),
            "Archive/2023"
        );
        assert_eq!(
            remote_name(&comps(&["INBOX", "Été"]), Some('.')).unwrap(),
            "INBOX.&AMk-t&AOk-"
        );
        assert_eq!(remote_name(&comps(&["A&B"]), None).unwrap(), "A&-B");
        assert_eq!(remote_name(&comps(&["INBOX"]), None).unwrap(), "INBOX");
        assert!(remote_name(&comps(&["a.b"]), Some('.')).is_err());
        assert!(remote_name(&comps(&["a", "b"]), None).is_err());
        assert!(remote_name(&[], Some('/')).is_err());
        assert!(remote_name(&comps(&["inbox"]), Some('/')).is_err());
        assert!(remote_name(&comps(&["a", ".."]), Some('/')).is_err());
        let msg = remote_name(&comps(&["Lists", "a.b"]), Some('.'))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("Lists/a.b"), "{msg}");
    }

    fn component() -> impl Strategy<Value = String> {
        "[^./\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]{0,12}"
            .prop_filter("not a Maildir subdirectory name", |s| {
                component_problem(s, true).is_none()
            })
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(s in "\\PC*|[\\x00-\\x7f&]*") {
            prop_assert_eq!(decode_mutf7(&encode_mutf7(&s)).unwrap(), s);
        }

        #[test]
        fn encode_agrees_with_utf7_imap(s in "[^\\x7f]*") {
            // utf7-imap only differs on DEL, which it leaves unencoded.
            prop_assert_eq!(encode_mutf7(&s), utf7_imap::encode_utf7_imap(s.clone()));
        }

        #[test]
        fn decode_never_panics(s in "[A-Za-z0-9+,&/=\\-]{0,16}") {
            let _ = decode_mutf7(&s);
        }

        #[test]
        fn components_round_trip(
            parts in proptest::collection::vec(component(), 1..4),
            delimiter in proptest::sample::select(vec!['/', '.']),
        ) {
            let parts: Vec<String> = parts.into_iter().map(|p| p.replace(delimiter, "_")).collect();
            prop_assume!(parts.iter().all(|p| component_problem(p, true).is_none()));
            prop_assume!(!(parts.len() == 1 && is_inbox(&parts[0])));
            let raw = remote_name(&parts, Some(delimiter)).unwrap();
            prop_assert_eq!(local_components(&raw, Some(delimiter)).unwrap(), parts);
        }
    }
}
