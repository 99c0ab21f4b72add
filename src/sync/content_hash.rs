//! A keyed hash of a message's content, used to tell apart messages that
//! Message-ID and size cannot (no Message-ID, or several candidates with the
//! same one). Line endings are normalized (CRLF → LF) so a server's CRLF
//! body and a Maildir's LF file of the same message hash alike.
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

/// Hashes what is written to it, with CRLF normalized to LF.
pub struct ContentHasher {
    a: std::hash::DefaultHasher,
    b: std::hash::DefaultHasher,
    pending_cr: bool,
    buf: Vec<u8>,
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

impl Write for ContentHasher {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
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

    proptest! {
        #[test]
        fn chunking_does_not_change_the_hash(
            data in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..200),
            chunk in 1usize..17,
        ) {
            prop_assert_eq!(hash_chunks(&data, chunk), hash_chunks(&data, data.len().max(1)));
        }
    }
}
