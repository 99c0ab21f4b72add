//! Line ending conversion: IMAP messages are CRLF, Maildir files are LF
//! (as mbsync and OfflineIMAP store them, and as local mail tools expect).
//!
//! Conversion streams so a large message never has to fit in memory twice.
//! A lone CR is kept as it is both ways, so CRLF text without lone CRs in
//! front of a line break comes back byte for byte.

use std::io::{self, Read, Write};

/// A writer that turns CRLF into LF on the way to `inner`.
///
/// A CR at the end of one `write` is held back until the next byte shows
/// whether it starts a CRLF; [`LfWriter::into_inner`] writes a CR still held
/// at the end, so always finish with it (dropping the writer loses that CR).
pub struct LfWriter<W: Write> {
    inner: W,
    pending_cr: bool,
    written: u64,
}

impl<W: Write> LfWriter<W> {
    pub fn new(inner: W) -> LfWriter<W> {
        LfWriter {
            inner,
            pending_cr: false,
            written: 0,
        }
    }

    /// Bytes written to `inner` so far (after conversion): the size of the
    /// Maildir file.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes a CR still held back, flushes and returns the inner writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        if self.pending_cr {
            self.emit(b"\r")?;
            self.pending_cr = false;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn emit(&mut self, bytes: &[u8]) -> io::Result<()> {
        if !bytes.is_empty() {
            self.inner.write_all(bytes)?;
            self.written += bytes.len() as u64;
        }
        Ok(())
    }
}

impl<W: Write> Write for LfWriter<W> {
    /// Passes the runs between CRs straight to `inner` (a buffer, in
    /// practice): no copy of its own, and `memchr` finds the CRs.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut start = 0;
        if self.pending_cr {
            self.pending_cr = false;
            if buf[0] != b'\n' {
                self.emit(b"\r")?;
            }
        }
        for i in memchr::memchr_iter(b'\r', buf) {
            match buf.get(i + 1) {
                None => {
                    self.emit(&buf[start..i])?;
                    self.pending_cr = true;
                    return Ok(buf.len());
                }
                // CRLF: drop the CR; the LF goes out with the next run.
                Some(b'\n') => {
                    self.emit(&buf[start..i])?;
                    start = i + 1;
                }
                // A lone CR stays in the run.
                Some(_) => {}
            }
        }
        self.emit(&buf[start..])?;
        Ok(buf.len())
    }

    /// Flushes `inner`; a held-back CR stays held (the next write may start
    /// with its LF).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file writer that buffers whole filesystem blocks.
///
/// `BufWriter` passes a large write straight through, after which every
/// write starts mid-block and the kernel zeroes the rest of each new block
/// first; writing only whole blocks (until the last) avoids that, and the
/// buffer is handed back by [`BlockWriter::finish`] for the next message.
pub struct BlockWriter {
    file: std::fs::File,
    buf: Vec<u8>,
}

/// Bytes collected before a write; a multiple of [`BLOCK`].
pub const BLOCK_WRITER_CAPACITY: usize = 256 * 1024;
const BLOCK: usize = 4096;

impl BlockWriter {
    /// Writes into `file` through `buf` (cleared first; reused capacity).
    pub fn new(file: std::fs::File, mut buf: Vec<u8>) -> BlockWriter {
        buf.clear();
        BlockWriter { file, buf }
    }

    /// Writes what is buffered and returns the buffer for reuse.
    pub fn finish(mut self) -> io::Result<Vec<u8>> {
        self.file.write_all(&self.buf)?;
        self.buf.clear();
        Ok(std::mem::take(&mut self.buf))
    }
}

impl Write for BlockWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BLOCK_WRITER_CAPACITY {
            let whole = self.buf.len() / BLOCK * BLOCK;
            self.file.write_all(&self.buf[..whole])?;
            self.buf.drain(..whole);
        }
        Ok(data.len())
    }

    /// Keeps the partial block: only [`BlockWriter::finish`] writes it.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that turns LF not preceded by CR into CRLF, for APPEND.
pub struct CrlfReader<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    prev_cr: bool,
    pending_lf: bool,
}

impl<R: Read> CrlfReader<R> {
    pub fn new(inner: R) -> CrlfReader<R> {
        CrlfReader {
            inner,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            pos: 0,
            len: 0,
            prev_cr: false,
            pending_lf: false,
        }
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for CrlfReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.pending_lf {
                out[n] = b'\n';
                n += 1;
                self.pending_lf = false;
                continue;
            }
            if self.pos == self.len {
                // Return what we have rather than block for more.
                if n > 0 {
                    break;
                }
                self.len = loop {
                    match self.inner.read(&mut self.buf) {
                        Ok(len) => break len,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                self.pos = 0;
                if self.len == 0 {
                    break;
                }
            }
            // Copy up to the next LF (or as much as fits) in one go.
            let avail = &self.buf[self.pos..self.len];
            let room = out.len() - n;
            let take = avail.len().min(room);
            let chunk = &avail[..take];
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let lone = if i == 0 {
                        !self.prev_cr
                    } else {
                        chunk[i - 1] != b'\r'
                    };
                    out[n..n + i].copy_from_slice(&chunk[..i]);
                    n += i;
                    self.pos += i + 1;
                    if lone {
                        out[n] = b'\r';
                        n += 1;
                        self.pending_lf = true;
                    } else {
                        // n < out.len() here: i < take <= room.
                        out[n] = b'\n';
                        n += 1;
                    }
                    self.prev_cr = false;
                }
                None => {
                    out[n..n + take].copy_from_slice(chunk);
                    n += take;
                    self.pos += take;
                    self.prev_cr = chunk.last() == Some(&b'\r');
                }
            }
        }
        Ok(n)
    }
}

/// Size of an LF file as CRLF on the wire (the server's RFC822.SIZE), used
/// to pair local files with server messages. Agrees with [`CrlfReader`].
pub fn crlf_size(file: &mut impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    let mut prev_cr = false;
    loop {
        let len = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(len) => len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..len];
        size += len as u64;
        for (i, &b) in chunk.iter().enumerate() {
            if b == b'\n' {
                let after_cr = if i == 0 {
                    prev_cr
                } else {
                    chunk[i - 1] == b'\r'
                };
                if !after_cr {
                    size += 1;
                }
            }
        }
        prev_cr = chunk[len - 1] == b'\r';
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn to_lf_in_chunks(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut w = LfWriter::new(Vec::new());
        let mut start = 0;
        for &cut in cuts {
            let cut = cut.clamp(start, input.len());
            w.write_all(&input[start..cut]).unwrap();
            start = cut;
        }
        w.write_all(&input[start..]).unwrap();
        let count = w.bytes_written();
        let out = w.into_inner().unwrap();
        assert!(count == out.len() as u64 || out.last() == Some(&b'\r'));
        out
    }

    fn to_crlf(input: &[u8], read_size: usize) -> Vec<u8> {
        let mut r = CrlfReader::new(input);
        let mut out = Vec::new();
        let mut buf = vec![0; read_size];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// One-shot reference for CRLF -> LF.
    fn reference_lf(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &b) in input.iter().enumerate() {
            if b == b'\r' && input.get(i + 1) == Some(&b'\n') {
                continue;
            }
            out.push(b);
        }
        out
    }

    #[test]
    fn lf_writer_handles_cr_at_chunk_boundaries() {
        let input = b"a\r\nb\rc\r\r\nd\r";
        let expected = b"a\nb\rc\r\nd\r";
        for cut in 0..=input.len() {
            assert_eq!(to_lf_in_chunks(input, &[cut]), expected, "cut at {cut}");
        }
        // One byte at a time.
        let cuts: Vec<usize> = (0..input.len()).collect();
        assert_eq!(to_lf_in_chunks(input, &cuts), expected);
    }

    #[test]
    fn lf_writer_counts_bytes() {
        let mut w = LfWriter::new(Vec::new());
        w.write_all(b"ab\r\ncd\r").unwrap();
        assert_eq!(w.bytes_written(), 5);
        w.write_all(b"\n").unwrap();
        assert_eq!(w.bytes_written(), 6);
        assert_eq!(w.into_inner().unwrap(), b"ab\ncd\n");
    }

    #[test]
    fn crlf_reader_converts_bare_lf_only() {
        let input = b"a\nb\r\nc\rd\n\n";
        assert_eq!(to_crlf(input, 1), b"a\r\nb\r\nc\rd\r\n\r\n");
        assert_eq!(to_crlf(input, 2), b"a\r\nb\r\nc\rd\r\n\r\n");
        assert_eq!(to_crlf(input, 4096), b"a\r\nb\r\nc\rd\r\n\r\n");
        assert_eq!(crlf_size(&mut &input[..]).unwrap(), 13);
        assert_eq!(to_crlf(b"", 8), b"");
    }

    /// Lines of text where a CR is only ever followed by a letter, joined
    /// with CRLF: the CRLF text a server sends.
    fn crlf_normal() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec("([a-z \t]|\r[a-z])*", 0..8),
            any::<bool>(),
        )
            .prop_map(|(lines, trailing)| {
                let mut text = lines.join("\r\n");
                if trailing {
                    text.push_str("\r\n");
                }
                text.into_bytes()
            })
    }

    proptest! {
        #[test]
        fn lf_writer_chunking_does_not_matter(
            input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..64),
            mut cuts in proptest::collection::vec(0usize..64, 0..8),
        ) {
            cuts.sort_unstable();
            prop_assert_eq!(to_lf_in_chunks(&input, &cuts), reference_lf(&input));
        }

        #[test]
        fn crlf_reader_restores_crlf_text(input in crlf_normal(), cuts in proptest::collection::vec(0usize..64, 0..4), read_size in 1usize..10) {
            let lf = to_lf_in_chunks(&input, &cuts);
            prop_assert_eq!(to_crlf(&lf, read_size), input);
        }

        #[test]
        fn block_writer_writes_every_byte_in_order(
            sizes in proptest::collection::vec(0usize..150_000, 0..12),
            seed in any::<u8>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("m");
            let mut expected = Vec::new();
            let mut w = BlockWriter::new(std::fs::File::create(&path).unwrap(), vec![1, 2, 3]);
            for (i, size) in sizes.iter().enumerate() {
                let chunk: Vec<u8> = (0..*size).map(|j| (j as u8).wrapping_mul(seed) ^ i as u8).collect();
                w.write_all(&chunk).unwrap();
                expected.extend_from_slice(&chunk);
            }
            let buffer = w.finish().unwrap();
            prop_assert!(buffer.is_empty());
            prop_assert!(std::fs::read(&path).unwrap() == expected);
        }

        #[test]
        fn crlf_size_matches_reader(
            input in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..64),
        ) {
            let converted = to_crlf(&input, 7);
            prop_assert_eq!(crlf_size(&mut &input[..]).unwrap(), converted.len() as u64);
        }
    }
}
