//! A keyed hash of a message's content, used to tell apart messages that
//! Message-ID and size cannot (no Message-ID, or several candidates with the
//! same one). Line endings are normalized (CRLF → LF) so a server's CRLF
//! body and a Maildir's LF file of the same message hash alike.
//!
//! Header fields other tools add for their own bookkeeping (mbsync's
//! `X-TUID`) are left out of the hash and of the size, so a Maildir written
//! by such a tool pairs with the server copy it came from.
//!
//! The hash is streamed, so memory stays bounded whatever the message size.
//! It is 128 bits from two SipHash instances keyed at random per process:
//! both sides are hashed by the same process, and nobody can craft a
//! message that collides with another on purpose.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::sync::OnceLock;

/// A message's content hash.
pub type ContentHash = (u64, u64);

fn keys() -> &'static (RandomState, RandomState) {
    static KEYS: OnceLock<(RandomState, RandomState)> = OnceLock::new();
    KEYS.get_or_init(|| (RandomState::new(), RandomState::new()))
}

/// Header fields another sync tool adds to the copies it writes, which the
/// message's other copy may lack: mbsync's `X-TUID` (a transaction id it
/// appends to every message it stores, on either side).
const PEER_FIELDS: [&[u8]; 1] = [b"x-tuid"];

/// Longest header line the filter holds while deciding; a longer one is
/// passed on as it is (no peer field is that long).
const MAX_HELD_LINE: usize = 8 * 1024;

/// The size on the wire that a peer field such as `X-TUID: ` + 12 chars +
/// CRLF adds to a copy. A server copy mbsync uploaded carries it while the
/// local file may not.
pub const TUID_FIELD_SIZE: u64 = 22;

/// Drops peer fields (and their continuation lines) from a message's
/// header as it streams through; the body passes untouched.
#[derive(Debug, Default)]
pub struct PeerFieldFilter {
    in_body: bool,
    skipping: bool,
    line: Vec<u8>,
    /// Inside a header line longer than [`MAX_HELD_LINE`]: whether its
    /// rest is kept.
    long_line: Option<bool>,
}

impl PeerFieldFilter {
    /// Feeds `data`, passing what is kept to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut impl FnMut(&[u8])) {
        while !data.is_empty() {
            if self.in_body {
                out(data);
                return;
            }
            let end = data.iter().position(|&b| b == b'\n');
            if let Some(keep) = self.long_line {
                // The rest of an over-long line: passed or dropped whole.
                let upto = end.map_or(data.len(), |e| e + 1);
                if keep {
                    out(&data[..upto]);
                }
                data = &data[upto..];
                if end.is_some() {
                    self.long_line = None;
                }
                continue;
            }
            match end {
                Some(end) => {
                    self.line.extend_from_slice(&data[..=end]);
                    data = &data[end + 1..];
                    self.end_line(out);
                }
                None => {
                    self.line.extend_from_slice(data);
                    if self.line.len() > MAX_HELD_LINE {
                        let line = std::mem::take(&mut self.line);
                        let keep = !self.skip(&line);
                        if keep {
                            out(&line);
                        }
                        self.long_line = Some(keep);
                    }
                    return;
                }
            }
        }
    }

    /// Passes on what is still held (a last header line without newline).
    pub fn finish(&mut self, out: &mut impl FnMut(&[u8])) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            if !self.skip(&line) {
                out(&line);
            }
        }
    }

    fn end_line(&mut self, out: &mut impl FnMut(&[u8])) {
        let mut line = std::mem::take(&mut self.line);
        if line == b"\n" || line == b"\r\n" {
            self.in_body = true;
            out(&line);
        } else if !self.skip(&line) {
            out(&line);
        }
        line.clear();
        self.line = line;
    }

    /// Whether a whole header line is (part of) a peer field.
    fn skip(&mut self, line: &[u8]) -> bool {
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            return self.skipping;
        }
        let name = line
            .iter()
            .position(|&b| b == b':')
            .map(|colon| line[..colon].trim_ascii_end());
        self.skipping = name.is_some_and(|n| PEER_FIELDS.iter().any(|f| n.eq_ignore_ascii_case(f)));
        self.skipping
    }
}

/// A reader of a message without its peer fields.
pub struct WithoutPeerFields<R> {
    inner: R,
    filter: PeerFieldFilter,
    ready: Vec<u8>,
    pos: usize,
    done: bool,
}

impl<R: Read> WithoutPeerFields<R> {
    pub fn new(inner: R) -> Self {
        WithoutPeerFields {
            inner,
            filter: PeerFieldFilter::default(),
            ready: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl<R: Read> Read for WithoutPeerFields<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        while self.pos == self.ready.len() {
            if self.done {
                return Ok(0);
            }
            self.ready.clear();
            self.pos = 0;
            let n = self.inner.read(&mut chunk)?;
            let ready = &mut self.ready;
            if n == 0 {
                self.done = true;
                self.filter.finish(&mut |d| ready.extend_from_slice(d));
            } else {
                self.filter
                    .push(&chunk[..n], &mut |d| ready.extend_from_slice(d));
            }
        }
        let n = buf.len().min(self.ready.len() - self.pos);
        buf[..n].copy_from_slice(&self.ready[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Hashes what is written to it, with CRLF normalized to LF and peer
/// fields left out.
pub struct ContentHasher {
    a: std::hash::DefaultHasher,
    b: std::hash::DefaultHasher,
    pending_cr: bool,
    buf: Vec<u8>,
    filter: PeerFieldFilter,
}

impl Default for ContentHasher {
    fn default() -> Self {
        ContentHasher::new()
    }
}

impl ContentHasher {
    pub fn new() -> ContentHasher {
        let (ka, kb) = keys();
        ContentHasher {
            a: ka.build_hasher(),
            b: kb.build_hasher(),
            pending_cr: false,
            buf: Vec::new(),
            filter: PeerFieldFilter::default(),
        }
    }

    fn feed(&mut self) {
        // Hasher::write of a slice is not split-invariant for all hashers;
        // feeding fixed-size units keeps the result independent of how the
        // stream was chunked.
        for &byte in &self.buf {
            self.a.write_u8(byte);
            self.b.write_u8(byte);
        }
        self.buf.clear();
    }

    pub fn finish(mut self) -> ContentHash {
        let mut filter = std::mem::take(&mut self.filter);
        let mut kept = Vec::new();
        filter.finish(&mut |d| kept.extend_from_slice(d));
        self.hash_kept(&kept);
        if self.pending_cr {
            self.buf.push(b'\r');
            self.feed();
        }
        (self.a.finish(), self.b.finish())
    }

    /// Hashes everything `reader` yields.
    pub fn of_reader(reader: &mut impl Read) -> io::Result<ContentHash> {
        let mut hasher = ContentHasher::new();
        io::copy(reader, &mut hasher)?;
        Ok(hasher.finish())
    }
}

impl ContentHasher {
    fn hash_kept(&mut self, data: &[u8]) {
        for &byte in data {
            if self.pending_cr {
                self.pending_cr = false;
                if byte != b'\n' {
                    self.buf.push(b'\r');
                }
            }
            if byte == b'\r' {
                self.pending_cr = true;
            } else {
                self.buf.push(byte);
            }
        }
        self.feed();
    }
}

impl Write for ContentHasher {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut filter = std::mem::take(&mut self.filter);
        filter.push(data, &mut |kept| self.hash_kept(kept));
        self.filter = filter;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hash_chunks(data: &[u8], chunk: usize) -> ContentHash {
        let mut h = ContentHasher::new();
        for c in data.chunks(chunk.max(1)) {
            h.write_all(c).unwrap();
        }
        h.finish()
    }

    #[test]
    fn crlf_and_lf_forms_hash_alike_and_content_matters() {
        let crlf = b"Subject: x\r\n\r\nbody\r\nline\r\n";
        let lf = b"Subject: x\n\nbody\nline\n";
        assert_eq!(hash_chunks(crlf, 3), hash_chunks(lf, 5));
        assert_ne!(
            hash_chunks(lf, 5),
            hash_chunks(b"Subject: x\n\nbodY\nline\n", 5)
        );
        // A lone CR is content, not a line ending.
        assert_ne!(hash_chunks(b"a\rb", 1), hash_chunks(b"ab", 1));
        assert_ne!(hash_chunks(b"a\r", 1), hash_chunks(b"a", 1));
    }

    fn filtered(data: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut r = WithoutPeerFields::new(data);
        let mut buf = vec![0u8; chunk.max(1)];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        out
    }

    #[test]
    fn peer_fields_are_left_out_of_header_but_not_body() {
        let with = b"Subject: x\nX-TUID: ylcsog/VejbH\nFrom: a\n\nX-TUID: body\n";
        let without = b"Subject: x\nFrom: a\n\nX-TUID: body\n";
        for chunk in [1, 3, 7, 100] {
            assert_eq!(filtered(with, chunk), without.to_vec(), "chunk {chunk}");
            assert_eq!(hash_chunks(with, chunk), hash_chunks(without, 5));
        }
        // Continuation lines go with their field; case does not matter.
        let folded = b"x-tuid: a\r\n b\r\nSubject: y\r\n\r\nbody";
        assert_eq!(filtered(folded, 4), b"Subject: y\r\n\r\nbody".to_vec());
        // A header without body or final newline.
        assert_eq!(
            filtered(b"Subject: y\nX-TUID: z", 2),
            b"Subject: y\n".to_vec()
        );
        // A line longer than the filter holds passes whole.
        let mut long = b"Subject: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 3 * MAX_HELD_LINE));
        long.extend_from_slice(b"\nX-TUID: q\n\nbody");
        let mut expected = long.clone();
        let cut = expected
            .windows(10)
            .position(|w| w == b"X-TUID: q\n")
            .unwrap();
        expected.drain(cut..cut + 10);
        assert_eq!(filtered(&long, 4096), expected);
        // Other fields stay.
        assert_eq!(filtered(b"X-TUIDS: a\n\n", 2), b"X-TUIDS: a\n\n".to_vec());
    }

    proptest! {
        #[test]
        fn the_filter_does_not_depend_on_chunking(
            data in proptest::collection::vec(proptest::sample::select(vec![b'X', b'-', b'T', b'U', b'I', b'D', b':', b' ', b'\n', b'a']), 0..200),
            chunk in 1usize..17,
        ) {
            prop_assert_eq!(filtered(&data, chunk), filtered(&data, 1000));
        }

        #[test]
        fn chunking_does_not_change_the_hash(
            data in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..200),
            chunk in 1usize..17,
        ) {
            prop_assert_eq!(hash_chunks(&data, chunk), hash_chunks(&data, data.len().max(1)));
        }
    }
}
