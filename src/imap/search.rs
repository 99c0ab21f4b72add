//! Searching on the server for `imapdir search`: UID SEARCH with the keys
//! of a query (`RETURN (ALL)` where ESEARCH is offered, RFC 4731, so the
//! answer is a compact UID set rather than every UID), and a summary of
//! each match (ENVELOPE, size, INTERNALDATE) without its body.
//!
//! `imap-proto` 0.17 does not parse `* ESEARCH`, so it is read here from
//! the raw frame, the way `namespace.rs` reads NAMESPACE.

use imap_proto::{AttributeValue, MailboxDatum, Response};

use super::command::Arg;
use super::framing::{BodySink, Frame};
use super::header_text::decode_header_text;
use super::response::{check, starts_with_ignore_case, ResponseHandler, Untagged};
use super::search_query::{Piece, SearchKeys};
use super::uid_set::UidSet;
use super::{ImapError, Result, Session};
use crate::model::Uid;

/// The UIDs a search found, as ascending ranges: ESEARCH's `1:50000` stays
/// two numbers, never fifty thousand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchHits {
    ranges: Vec<(u32, u32)>,
}

impl SearchHits {
    fn from_ranges(mut ranges: Vec<(u32, u32)>) -> SearchHits {
        for r in &mut ranges {
            if r.0 > r.1 {
                *r = (r.1, r.0);
            }
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        SearchHits { ranges: merged }
    }

    /// How many messages matched.
    pub fn count(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| u64::from(e - s) + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The UIDs, ascending.
    pub fn uids(&self) -> impl Iterator<Item = Uid> + '_ {
        self.ranges.iter().flat_map(|&(s, e)| (s..=e).map(Uid))
    }
}

/// What a search shows of one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageSummary {
    pub uid: Uid,
    pub size: Option<u32>,
    /// INTERNALDATE as the server wrote it (`05-Mar-2024 14:07:09 +0000`).
    pub internal_date: Option<String>,
    /// The Date header as written.
    pub date: Option<String>,
    /// The first From address: display name (decoded) and address.
    pub from_name: Option<String>,
    pub from_address: Option<String>,
    /// Decoded.
    pub subject: Option<String>,
}

impl Session {
    /// `UID SEARCH` with `keys`, as `RETURN (ALL)` where the server has
    /// ESEARCH; strings go quoted, or as literals when they are 8-bit
    /// (`LITERAL+` where offered), after `CHARSET UTF-8` when needed.
    pub fn uid_search_keys(&mut self, keys: &SearchKeys) -> Result<SearchHits> {
        let mut args = vec![Arg::raw("UID SEARCH ")];
        if self.has_capability("ESEARCH") {
            args.push(Arg::raw("RETURN (ALL) "));
        }
        if keys.needs_utf8() {
            args.push(Arg::raw("CHARSET UTF-8 "));
        }
        for piece in keys.pieces() {
            args.push(match piece {
                Piece::Raw(r) => Arg::raw(r.clone()),
                Piece::Str(s) => Arg::string(s),
            });
        }
        let mut handler = SearchHandler::default();
        let done = self.run(args, &mut handler)?;
        check(done, "UID SEARCH")?;
        if let Some(line) = handler.unreadable {
            // Never "no matches" for an answer that could not be read.
            return Err(ImapError::Protocol(format!(
                "unreadable ESEARCH response: {line}"
            )));
        }
        Ok(SearchHits::from_ranges(handler.ranges))
    }

    /// `UID FETCH <set> (UID RFC822.SIZE INTERNALDATE ENVELOPE)`: no body.
    pub fn uid_fetch_summaries(
        &mut self,
        set: &UidSet,
        each: &mut dyn FnMut(MessageSummary),
    ) -> Result<()> {
        let done = self.run(
            vec![Arg::raw(format!(
                "UID FETCH {set} (UID RFC822.SIZE INTERNALDATE ENVELOPE)"
            ))],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::Fetch(_, attrs) = resp {
                    if let Some(summary) = summary_from(attrs) {
                        each(summary);
                    }
                }
            }),
        )?;
        check(done, "UID FETCH")?;
        Ok(())
    }
}

fn summary_from(attrs: &[AttributeValue<'_>]) -> Option<MessageSummary> {
    let mut summary = MessageSummary::default();
    let mut uid = None;
    for attr in attrs {
        match attr {
            AttributeValue::Uid(u) => uid = Some(Uid(*u)),
            AttributeValue::Rfc822Size(s) => summary.size = Some(*s),
            AttributeValue::InternalDate(d) => summary.internal_date = Some(d.to_string()),
            AttributeValue::Envelope(env) => {
                summary.date = env
                    .date
                    .as_deref()
                    .map(|d| String::from_utf8_lossy(d).trim().to_string());
                summary.subject = env.subject.as_deref().map(decode_header_text);
                if let Some(first) = env.from.as_ref().and_then(|f| f.first()) {
                    summary.from_name = first
                        .name
                        .as_deref()
                        .map(decode_header_text)
                        .filter(|n| !n.is_empty());
                    summary.from_address = match (first.mailbox.as_deref(), first.host.as_deref()) {
                        (Some(m), Some(h)) => Some(format!(
                            "{}@{}",
                            String::from_utf8_lossy(m),
                            String::from_utf8_lossy(h)
                        )),
                        (Some(m), None) => Some(String::from_utf8_lossy(m).into_owned()),
                        _ => None,
                    };
                }
            }
            _ => {}
        }
    }
    summary.uid = uid?;
    Some(summary)
}

/// Collects `* SEARCH` UIDs and `* ESEARCH ... ALL` sets.
#[derive(Default)]
struct SearchHandler {
    ranges: Vec<(u32, u32)>,
    /// The start of an ESEARCH response that did not parse.
    unreadable: Option<String>,
}

impl BodySink for SearchHandler {
    fn begin(&mut self, _len: u64) {}
    fn chunk(&mut self, _data: &[u8]) {}
    fn end(&mut self) {}
}

impl ResponseHandler for SearchHandler {
    fn untagged(&mut self, resp: &Response<'_>, _frame: &Frame) {
        if let Response::MailboxData(MailboxDatum::Search(uids)) = resp {
            self.ranges.extend(uids.iter().map(|&u| (u, u)));
        }
    }

    fn unparsed(&mut self, frame: &Frame) -> bool {
        // One command at a time on this connection: an ESEARCH during it
        // is its answer, whatever its TAG correlator says.
        match parse_esearch(&frame.data) {
            Some(ranges) => {
                self.ranges.extend(ranges);
                true
            }
            None if starts_with_ignore_case(&frame.data, b"* ESEARCH ") => {
                let shown = String::from_utf8_lossy(&frame.data[..frame.data.len().min(100)]);
                self.unreadable
                    .get_or_insert_with(|| shown.trim_end().to_string());
                true
            }
            None => false,
        }
    }
}

/// Reads `* ESEARCH [(TAG "x")] [UID] *(name value)` (RFC 4731) and returns
/// the `ALL` set as ranges (none when nothing matched); `None` for any
/// other response or one that does not follow the grammar.
fn parse_esearch(data: &[u8]) -> Option<Vec<(u32, u32)>> {
    if !starts_with_ignore_case(data, b"* ESEARCH") {
        return None;
    }
    let line = std::str::from_utf8(data).ok()?.trim_end();
    let mut rest = line["* ESEARCH".len()..].trim_start();
    if line.len() > "* ESEARCH".len() && !line.as_bytes()["* ESEARCH".len()].is_ascii_whitespace() {
        return None;
    }
    if rest.starts_with('(') {
        let close = rest.find(')')?;
        let inside = rest[1..close].trim();
        if !starts_with_ignore_case(inside.as_bytes(), b"TAG ") {
            return None;
        }
        rest = rest[close + 1..].trim_start();
    }
    let mut words = rest.split_ascii_whitespace().peekable();
    if words.peek().is_some_and(|w| w.eq_ignore_ascii_case("UID")) {
        words.next();
    }
    let mut ranges = Vec::new();
    while let Some(name) = words.next() {
        let value = words.next()?;
        if name.eq_ignore_ascii_case("ALL") {
            for item in value.split(',') {
                let (a, b) = item.split_once(':').unwrap_or((item, item));
                ranges.push((a.parse().ok()?, b.parse().ok()?));
            }
        } else if value.starts_with('(') {
            // An extension's list value: not ours to read.
            return None;
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_esearch_answers() {
        assert_eq!(
            parse_esearch(b"* ESEARCH (TAG \"a5\") UID ALL 1:3,5,9:7\r\n"),
            Some(vec![(1, 3), (5, 5), (9, 7)])
        );
        assert_eq!(
            parse_esearch(b"* ESEARCH (TAG \"a5\") UID\r\n"),
            Some(vec![])
        );
        assert_eq!(parse_esearch(b"* ESEARCH\r\n"), Some(vec![]));
        assert_eq!(
            parse_esearch(b"* esearch uid count 2 all 4,6 min 4\r\n"),
            Some(vec![(4, 4), (6, 6)])
        );
        assert_eq!(parse_esearch(b"* ESEARCH (TAG \"a5\") UID ALL\r\n"), None);
        assert_eq!(
            parse_esearch(b"* ESEARCH (TAG \"a5\") UID ALL 1:x\r\n"),
            None
        );
        assert_eq!(parse_esearch(b"* ESEARCHX\r\n"), None);
        assert_eq!(parse_esearch(b"* SEARCH 1 2\r\n"), None);
        assert_eq!(parse_esearch(b"* ESEARCH (FOO 1) UID ALL 1\r\n"), None);
    }

    #[test]
    fn hits_merge_ranges_and_count() {
        let hits = SearchHits::from_ranges(vec![(5, 5), (1, 3), (4, 4), (9, 7), (20, 20)]);
        assert_eq!(hits.ranges, vec![(1, 5), (7, 9), (20, 20)]);
        assert_eq!(hits.count(), 9);
        assert_eq!(
            hits.uids().map(|u| u.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 7, 8, 9, 20]
        );
        assert!(SearchHits::default().is_empty());
        let huge = SearchHits::from_ranges(vec![(1, u32::MAX)]);
        assert_eq!(huge.count(), u64::from(u32::MAX));
    }
}
