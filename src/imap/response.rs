//! Reading responses: the handler each command gives the response loop,
//! the parser behind a guard (it panics on a few inputs), and turning a
//! tagged NO or BAD into an error.

use imap_proto::{Capability, NameAttribute, Response, ResponseCode, Status};

use super::framing::{BodySink, Frame};
use super::{ImapError, Result};

/// The tagged response that ended a command.
#[derive(Debug)]
pub(super) struct Done {
    pub(super) status: Status,
    pub(super) code: Option<ResponseCode<'static>>,
    pub(super) text: String,
}

impl Done {
    pub(super) fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// Receives the responses of one command.
pub(super) trait ResponseHandler: BodySink {
    /// An untagged response the parser understood.
    fn untagged(&mut self, resp: &Response<'_>, frame: &Frame);
    /// An untagged response the parser could not read (NAMESPACE, which
    /// `imap-proto` does not know); true when the handler understood it.
    fn unparsed(&mut self, _frame: &Frame) -> bool {
        false
    }
    /// A response frame is finished, whether or not it parsed.
    fn frame_done(&mut self) {}
}

/// Handler from a closure, for commands without body literals.
pub(super) struct Untagged<F>(pub(super) F);

impl<F: FnMut(&Response<'_>, &Frame)> BodySink for Untagged<F> {
    fn begin(&mut self, _len: u64) {}
    fn chunk(&mut self, _data: &[u8]) {}
    fn end(&mut self) {}
}

impl<F: FnMut(&Response<'_>, &Frame)> ResponseHandler for Untagged<F> {
    fn untagged(&mut self, resp: &Response<'_>, frame: &Frame) {
        (self.0)(resp, frame)
    }
}

pub(super) fn ignore_untagged() -> Untagged<impl FnMut(&Response<'_>, &Frame)> {
    Untagged(|_: &Response<'_>, _: &Frame| {})
}

/// Parses one framed response, or `None` when the parser cannot read it.
///
/// `imap-proto` 0.17 panics on a few inputs (a non-ASCII byte right after a
/// response code, `INTERNALDATE NIL`, `ID` or `METADATA` data with NIL
/// values); those are sidestepped, and any other panic is caught so one
/// odd server response cannot take the process down.
pub(super) fn parse_response(data: &[u8]) -> Option<Response<'static>> {
    std::panic::catch_unwind(|| parse_sanitised(data)).unwrap_or(None)
}

/// [`parse_response`] without the panic guard.
pub(crate) fn parse_sanitised(data: &[u8]) -> Option<Response<'static>> {
    let upper_start: Vec<u8> = data[..data.len().min(12)].to_ascii_uppercase();
    // Never requested, and the parser unwraps NIL values in them.
    if upper_start.starts_with(b"* ID ") || upper_start.starts_with(b"* METADATA ") {
        return None;
    }
    if contains_ignore_case(data, b"INTERNALDATE NIL") {
        return None;
    }
    if upper_start.starts_with(b"* ") && contains_ignore_case(data, b"X-GUID ") {
        if let Some(fixed) = x_guid_as_emailid(data) {
            return parse_sanitised(&fixed);
        }
    }
    if is_status_line(data) && data.windows(2).any(|w| w[0] == b']' && w[1] >= 0x80) {
        // Separate the response code from its text as RFC 3501 requires.
        let mut fixed = Vec::with_capacity(data.len() + 4);
        for (i, &b) in data.iter().enumerate() {
            fixed.push(b);
            if b == b']' && data.get(i + 1).is_some_and(|&n| n >= 0x80) {
                fixed.push(b' ');
            }
        }
        return parse_owned(&fixed);
    }
    parse_owned(data)
}

/// Dovecot's `X-GUID <atom>` FETCH item rewritten as RFC 8474's
/// `EMAILID (<atom>)`, which the parser knows and which means the same
/// (one message across folders); `None` when the response has no such item
/// outside its strings and literals.
pub(super) fn x_guid_as_emailid(data: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'"' => {
                i += 1;
                while i < data.len() && data[i] != b'"' {
                    i += if data[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'{' => {
                let digits = data[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let len: usize = std::str::from_utf8(&data[i + 1..i + 1 + digits])
                    .ok()?
                    .parse()
                    .unwrap_or(0);
                // `{N}` CRLF, then N bytes of literal.
                i += 1 + digits + 3 + len;
            }
            b'(' | b' '
                if data.len() > i + 8 && data[i + 1..i + 8].eq_ignore_ascii_case(b"X-GUID ") =>
            {
                let start = i + 8;
                let atom = data[start..]
                    .iter()
                    .take_while(|&&b| b > b' ' && b < 0x7f && !b"(){\"\\%*".contains(&b))
                    .count();
                if atom == 0 {
                    return None;
                }
                let mut fixed = Vec::with_capacity(data.len() + 4);
                fixed.extend_from_slice(&data[..=i]);
                fixed.extend_from_slice(b"EMAILID (");
                fixed.extend_from_slice(&data[start..start + atom]);
                fixed.push(b')');
                fixed.extend_from_slice(&data[start + atom..]);
                return Some(fixed);
            }
            _ => i += 1,
        }
    }
    None
}

fn parse_owned(data: &[u8]) -> Option<Response<'static>> {
    match Response::parse(data) {
        Ok(([], resp)) => Some(resp.into_owned()),
        _ => None,
    }
}

/// Whether `data` is a status or continuation response, which carries no
/// literals (`* OK ...`, `tag NO ...`, `+ ...`).
fn is_status_line(data: &[u8]) -> bool {
    if data.starts_with(b"+") {
        return true;
    }
    let mut words = data.splitn(3, |&b| b == b' ');
    let _tag = words.next();
    let word = words.next().unwrap_or_default().to_ascii_uppercase();
    matches!(
        word.as_slice(),
        b"OK" | b"NO" | b"BAD" | b"BYE" | b"PREAUTH"
    )
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What one response meant for the command in progress.
pub(super) enum Event {
    Done(Done),
    Continue,
    Other,
}

/// Turns a tagged NO/BAD into an error.
pub(super) fn check(done: Done, command: &str) -> Result<Done> {
    if done.is_ok() {
        Ok(done)
    } else {
        let text = match (&done.code, done.text.is_empty()) {
            (Some(code), _) => format!("[{}] {}", code_name(code), done.text),
            (None, false) => done.text.clone(),
            (None, true) => format!("{:?}", done.status),
        };
        Err(ImapError::No {
            command: command.to_string(),
            text,
        })
    }
}

fn code_name(code: &ResponseCode<'_>) -> String {
    let debug = format!("{code:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

pub(super) fn starts_with_ignore_case(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix)
}

pub(super) fn capability_name(cap: &Capability<'_>) -> String {
    match cap {
        Capability::Imap4rev1 => "IMAP4rev1".to_string(),
        Capability::Auth(m) => format!("AUTH={m}"),
        Capability::Atom(a) => a.to_string(),
    }
}

pub(super) fn name_attribute(attr: &NameAttribute<'_>) -> String {
    match attr {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}
