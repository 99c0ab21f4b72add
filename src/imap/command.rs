//! Encoding command arguments: quoted strings, literals, dates.

use std::borrow::Cow;

/// Longest string sent as a quoted string; longer ones go as literals.
const MAX_QUOTED: usize = 1000;

/// Quotes `s` as an IMAP quoted string, escaping `"` and `\`.
///
/// Quoted strings cannot carry CR, LF or NUL; those are replaced by spaces
/// here. Commands built by [`super::Session`] send such strings (and long or
/// 8-bit ones) as literals instead, see [`needs_literal`].
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\0' => out.push(' '),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` must travel as a literal rather than a quoted string.
pub fn needs_literal(s: &str) -> bool {
    s.len() > MAX_QUOTED
        || s.bytes()
            .any(|b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80)
}

/// One piece of a command line.
pub enum Arg<'a> {
    /// Bytes sent verbatim (atoms, already-encoded lists, separators).
    Raw(Cow<'a, [u8]>),
    /// A string literal; traced as `{N bytes}`.
    Literal(Cow<'a, [u8]>),
    /// A literal streamed from a reader (APPEND), exactly `len` bytes.
    Stream(&'a mut dyn std::io::Read, u64),
    /// Ends the line, waits for the server's `+`, then sends these bytes
    /// (a SASL response); always redacted in traces.
    Continuation(Cow<'a, [u8]>),
}

impl<'a> Arg<'a> {
    pub fn raw(s: impl Into<String>) -> Arg<'a> {
        Arg::Raw(Cow::Owned(s.into().into_bytes()))
    }

    /// A string argument: quoted when possible, otherwise a literal.
    pub fn string(s: &'a str) -> Arg<'a> {
        if needs_literal(s) {
            Arg::Literal(Cow::Borrowed(s.as_bytes()))
        } else {
            Arg::Raw(Cow::Owned(quote(s).into_bytes()))
        }
    }
}

/// Formats a Unix time as an IMAP date-time in UTC: `05-Mar-2024 14:07:09 +0000`.
pub fn format_internal_date(unix_secs: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{day:02}-{}-{year:04} {:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether a command must not appear in traces as sent, and what to show instead.
pub fn redacted_trace(line: &str) -> Option<String> {
    let mut words = line.splitn(3, ' ');
    let tag = words.next()?;
    let command = words.next()?;
    if command.eq_ignore_ascii_case("LOGIN") {
        Some(format!("{tag} LOGIN <redacted>"))
    } else if command.eq_ignore_ascii_case("AUTHENTICATE") {
        Some(format!("{tag} AUTHENTICATE <redacted>"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(quote("INBOX"), "\"INBOX\"");
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a\r\nb"), "\"a  b\"");
        assert!(!needs_literal("plain password {5}"));
        assert!(needs_literal("pässword"));
        assert!(needs_literal("a\nb"));
        assert!(needs_literal(&"x".repeat(1001)));
    }

    #[test]
    fn string_args_choose_quoted_or_literal() {
        assert!(matches!(Arg::string("abc"), Arg::Raw(r) if &*r == b"\"abc\""));
        assert!(matches!(Arg::string("ä"), Arg::Literal(l) if &*l == "ä".as_bytes()));
    }

    #[test]
    fn formats_internal_dates() {
        assert_eq!(format_internal_date(0), "01-Jan-1970 00:00:00 +0000");
        assert_eq!(
            format_internal_date(1_709_647_629),
            "05-Mar-2024 14:07:09 +0000"
        );
        assert_eq!(
            format_internal_date(951_782_400),
            "29-Feb-2000 00:00:00 +0000"
        );
        assert_eq!(format_internal_date(-1), "31-Dec-1969 23:59:59 +0000");
        assert_eq!(
            format_internal_date(4_102_444_799),
            "31-Dec-2099 23:59:59 +0000"
        );
    }

    #[test]
    fn encodes_base64() {
        use crate::auth::sasl::base64;
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"\0bench\0bench"), "AGJlbmNoAGJlbmNo");
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redacted_trace("a1 LOGIN \"bench\" \"secret\"").as_deref(),
            Some("a1 LOGIN <redacted>")
        );
        assert_eq!(
            redacted_trace("a2 authenticate PLAIN AGJlbmNo").as_deref(),
            Some("a2 AUTHENTICATE <redacted>")
        );
        assert_eq!(redacted_trace("a3 SELECT INBOX"), None);
    }
}
