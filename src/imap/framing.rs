//! Reading one complete IMAP response off a byte stream.
//!
//! A response is a line, and when that line ends with a literal marker
//! `{N}` the next N bytes plus a further line belong to it too. Message
//! bodies can be hundreds of megabytes, so literals carrying a whole message
//! inside a FETCH response go to a [`BodySink`] chunk by chunk and are
//! replaced by an empty literal in the buffer given to the parser. Everything
//! here works over any `BufRead`, which keeps it testable with byte slices.

use std::io::{self, BufRead};

/// Largest literal (other than a message body) kept in memory.
pub const MAX_BUFFERED_LITERAL: u64 = 1 << 20;
/// Largest single response line kept in memory (a UID SEARCH over a huge
/// folder is the longest line servers send in practice).
pub const MAX_LINE: usize = 64 << 20;

/// Receives the bytes of message-body literals as they arrive.
///
/// The framing layer does all reading; a sink only writes, so a failing
/// sink can never make the framing lose its place in the stream. A sink
/// that has failed simply ignores further calls and reports later.
pub trait BodySink {
    /// A body literal of `len` bytes starts.
    fn begin(&mut self, len: u64);
    /// The next piece of the literal.
    fn chunk(&mut self, data: &[u8]);
    /// The literal is complete.
    fn end(&mut self);
}

/// A sink that drops body literals nobody asked for.
pub struct DiscardSink;

impl BodySink for DiscardSink {
    fn begin(&mut self, _len: u64) {}
    fn chunk(&mut self, _data: &[u8]) {}
    fn end(&mut self) {}
}

/// One framed response, ready for the parser.
#[derive(Debug, Default)]
pub struct Frame {
    /// The response with body literals replaced by `{0}` and `{N+}` markers
    /// normalised to `{N}`; always ends with CRLF.
    pub data: Vec<u8>,
    /// Lengths of the body literals that went to the sink, in order.
    pub body_literals: Vec<u64>,
    /// A literal or line exceeded its limit and was discarded; the response
    /// is incomplete and must not be trusted.
    pub oversized: bool,
    /// Human-readable form for protocol traces, literal contents summarised.
    pub trace: String,
}

/// Why no frame could be read.
#[derive(Debug)]
pub enum FrameError {
    /// The peer closed the connection cleanly between responses.
    Eof,
    /// Reading failed, or the stream ended in the middle of a response.
    Io(io::Error),
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// A literal marker at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralMarker {
    /// Byte offset of `{` in the line.
    pub start: usize,
    pub len: u64,
}

/// Finds a `{N}` or `{N+}` marker ending `line` (CRLF already removed),
/// ignoring braces inside quoted strings.
pub fn literal_marker(line: &[u8]) -> Option<LiteralMarker> {
    if line.last() != Some(&b'}') {
        return None;
    }
    let open = line.iter().rposition(|&b| b == b'{')?;
    let inner = &line[open + 1..line.len() - 1];
    let digits = inner.strip_suffix(b"+").unwrap_or(inner);
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // The brace must not sit inside a quoted string.
    let mut in_quote = false;
    let mut escaped = false;
    for &b in &line[..open] {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        }
    }
    if in_quote {
        return None;
    }
    let len = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(LiteralMarker { start: open, len })
}

/// Whether `data` (the response so far) starts like `* 12 FETCH (`.
fn is_fetch_response(data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(b"* ") else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let rest = &rest[digits..];
    rest.len() >= 8 && rest[..8].eq_ignore_ascii_case(b" FETCH (")
}

/// Whether the text before a literal marker names a whole-message body item:
/// `BODY[]`, `BODY[]<origin>`, `BODY.PEEK[]` or `RFC822`.
fn precedes_body_literal(before: &[u8]) -> bool {
    let Some(before) = before.strip_suffix(b" ") else {
        return false;
    };
    let upper = before.to_ascii_uppercase();
    let mut item: &[u8] = &upper;
    // Drop a partial-fetch origin such as `<0>`.
    if item.ends_with(b">") {
        if let Some(lt) = item.iter().rposition(|&b| b == b'<') {
            if item[lt + 1..item.len() - 1].iter().all(u8::is_ascii_digit) {
                item = &item[..lt];
            }
        }
    }
    let is_item = |name: &[u8]| {
        item.ends_with(name) && {
            let prefix = &item[..item.len() - name.len()];
            prefix.is_empty() || matches!(prefix.last(), Some(b' ' | b'('))
        }
    };
    is_item(b"BODY[]") || is_item(b"BODY.PEEK[]") || is_item(b"RFC822")
}

/// Reads one line including its LF; returns false at EOF before any byte.
/// Lines longer than `limit` are read to their end but not stored.
fn read_line<R: BufRead + ?Sized>(
    r: &mut R,
    out: &mut Vec<u8>,
    limit: usize,
) -> io::Result<(bool, bool)> {
    let mut any = false;
    let mut overflow = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !any {
                return Ok((false, overflow));
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a response",
            ));
        }
        any = true;
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if out.len() + take <= limit && !overflow {
            out.extend_from_slice(&buf[..take]);
        } else {
            overflow = true;
        }
        r.consume(take);
        if done {
            return Ok((true, overflow));
        }
    }
}

/// Copies exactly `len` bytes from `r` to `write`.
fn copy_exact<R: BufRead + ?Sized>(
    r: &mut R,
    mut len: u64,
    write: &mut dyn FnMut(&[u8]),
) -> io::Result<()> {
    while len > 0 {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a literal",
            ));
        }
        let n = buf.len().min(usize::try_from(len).unwrap_or(usize::MAX));
        write(&buf[..n]);
        r.consume(n);
        len -= n as u64;
    }
    Ok(())
}

fn push_trace_text(trace: &mut String, bytes: &[u8]) {
    trace.push_str(&String::from_utf8_lossy(bytes));
}

/// Reads one complete response. Body literals in FETCH responses go to `sink`.
pub fn read_response<R: BufRead + ?Sized>(
    r: &mut R,
    sink: &mut dyn BodySink,
    want_trace: bool,
) -> Result<Frame, FrameError> {
    let mut frame = Frame::default();
    let mut line = Vec::new();
    let mut first = true;
    loop {
        line.clear();
        let (got, overflow) = read_line(r, &mut line, MAX_LINE.saturating_sub(frame.data.len()))?;
        if !got {
            if first {
                return Err(FrameError::Eof);
            }
            return Err(FrameError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a response",
            )));
        }
        first = false;
        if overflow {
            // The line is lost; keep the stream in sync by treating it as the end.
            frame.oversized = true;
            frame.data.extend_from_slice(b"\r\n");
            return Ok(frame);
        }
        // Strip the line ending (accept a bare LF from sloppy servers).
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let Some(marker) = literal_marker(&line) else {
            frame.data.extend_from_slice(&line);
            frame.data.extend_from_slice(b"\r\n");
            if want_trace {
                push_trace_text(&mut frame.trace, &line);
            }
            return Ok(frame);
        };
        let before = &line[..marker.start];
        frame.data.extend_from_slice(before);
        if want_trace {
            push_trace_text(&mut frame.trace, before);
            frame
                .trace
                .push_str(&format!("{{{}}} {{{} bytes}} ", marker.len, marker.len));
        }
        let is_body = is_fetch_response(&frame.data) && precedes_body_literal(before);
        if is_body {
            frame.data.extend_from_slice(b"{0}\r\n");
            sink.begin(marker.len);
            copy_exact(r, marker.len, &mut |chunk| sink.chunk(chunk))?;
            sink.end();
            frame.body_literals.push(marker.len);
        } else if marker.len > MAX_BUFFERED_LITERAL {
            frame.oversized = true;
            frame.data.extend_from_slice(b"{0}\r\n");
            copy_exact(r, marker.len, &mut |_| {})?;
        } else {
            frame
                .data
                .extend_from_slice(format!("{{{}}}\r\n", marker.len).as_bytes());
            let data = &mut frame.data;
            copy_exact(r, marker.len, &mut |chunk| data.extend_from_slice(chunk))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects body literals in memory for inspection.
    #[derive(Default)]
    struct VecSink {
        bodies: Vec<Vec<u8>>,
        open: bool,
    }

    impl BodySink for VecSink {
        fn begin(&mut self, _len: u64) {
            assert!(!self.open);
            self.open = true;
            self.bodies.push(Vec::new());
        }
        fn chunk(&mut self, data: &[u8]) {
            self.bodies.last_mut().unwrap().extend_from_slice(data);
        }
        fn end(&mut self) {
            self.open = false;
        }
    }

    fn frames(input: &[u8]) -> (Vec<Frame>, VecSink, Option<FrameError>) {
        let mut r = io::BufReader::with_capacity(7, input);
        let mut sink = VecSink::default();
        let mut out = Vec::new();
        loop {
            match read_response(&mut r, &mut sink, true) {
                Ok(f) => out.push(f),
                Err(FrameError::Eof) => return (out, sink, None),
                Err(e) => return (out, sink, Some(e)),
            }
        }
    }

    #[test]
    fn reads_plain_lines() {
        let (f, _, err) = frames(b"* OK ready\r\na1 OK done\r\n");
        assert!(err.is_none());
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].data, b"* OK ready\r\n");
        assert_eq!(f[1].data, b"a1 OK done\r\n");
    }

    #[test]
    fn accepts_bare_lf() {
        let (f, _, _) = frames(b"* OK ready\n");
        assert_eq!(f[0].data, b"* OK ready\r\n");
    }

    #[test]
    fn buffers_several_literals_in_one_response() {
        let input = b"* LIST () \"/\" {3}\r\nabc\r\n* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {5}\r\nab\r\nc UID 7 X {2+}\r\nxy)\r\n";
        let (f, sink, err) = frames(input);
        assert!(err.is_none());
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].data, b"* LIST () \"/\" {3}\r\nabc\r\n");
        assert_eq!(
            f[1].data,
            b"* 1 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {5}\r\nab\r\nc UID 7 X {2}\r\nxy)\r\n"
        );
        assert!(sink.bodies.is_empty());
    }

    #[test]
    fn streams_body_literals_to_the_sink() {
        let input = b"* 3 FETCH (UID 9 BODY[] {12}\r\nhello\r\nworld FLAGS (\\Seen))\r\n* 4 FETCH (UID 10 RFC822 {2}\r\nhi)\r\n* 5 FETCH (UID 11 BODY[]<0> {1}\r\nz)\r\na2 OK done\r\n";
        let (f, sink, err) = frames(input);
        assert!(err.is_none());
        assert_eq!(f.len(), 4);
        assert_eq!(
            f[0].data,
            b"* 3 FETCH (UID 9 BODY[] {0}\r\n FLAGS (\\Seen))\r\n"
        );
        assert_eq!(f[0].body_literals, vec![12]);
        assert_eq!(f[1].data, b"* 4 FETCH (UID 10 RFC822 {0}\r\n)\r\n");
        assert_eq!(
            sink.bodies,
            vec![b"hello\r\nworld".to_vec(), b"hi".to_vec(), b"z".to_vec()]
        );
        assert!(f[0].trace.contains("{12 bytes}"));
        assert!(!f[0].trace.contains("hello"));
        // The replaced response still parses.
        let (_, resp) = imap_proto::Response::parse(&f[0].data).unwrap();
        assert!(matches!(resp, imap_proto::Response::Fetch(3, _)));
    }

    #[test]
    fn body_literal_outside_fetch_is_buffered() {
        let (f, sink, _) = frames(b"* OK BODY[] {2}\r\nab\r\n");
        assert!(sink.bodies.is_empty());
        assert_eq!(f[0].data, b"* OK BODY[] {2}\r\nab\r\n");
    }

    #[test]
    fn quoted_braces_are_not_literals() {
        let (f, _, err) = frames(b"* LIST () \"/\" \"odd {5}\"\r\na1 OK x\r\n");
        assert!(err.is_none());
        assert_eq!(f.len(), 2);
        assert_eq!(literal_marker(b"x \"a\\\" {5}\""), None);
        assert_eq!(
            literal_marker(b"x \"a\\\\\" {5}"),
            Some(LiteralMarker { start: 8, len: 5 })
        );
        assert_eq!(literal_marker(b"x {}"), None);
        assert_eq!(literal_marker(b"x {5a}"), None);
        assert_eq!(
            literal_marker(b"x {5+}"),
            Some(LiteralMarker { start: 2, len: 5 })
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        for input in [
            &b"* OK no newline"[..],
            b"* 1 FETCH (BODY[] {10}\r\nabc",
            b"* LIST () \"/\" {3}\r\nabc",
        ] {
            let (_, _, err) = frames(input);
            assert!(matches!(err, Some(FrameError::Io(_))), "{input:?}");
        }
    }

    #[test]
    fn oversized_literal_is_discarded_but_stream_stays_in_sync() {
        let n = MAX_BUFFERED_LITERAL as usize + 1;
        let mut input = format!("* LIST () \"/\" {{{n}}}\r\n").into_bytes();
        input.extend(std::iter::repeat_n(b'x', n));
        input.extend_from_slice(b"\r\na1 OK done\r\n");
        let (f, _, err) = frames(&input);
        assert!(err.is_none());
        assert!(f[0].oversized);
        assert_eq!(f[1].data, b"a1 OK done\r\n");
    }
}
