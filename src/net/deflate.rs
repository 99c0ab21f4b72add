//! COMPRESS=DEFLATE (RFC 4978): raw deflate in both directions over the
//! one (possibly TLS) stream.
//!
//! flate2's reader and writer adapters each want to own the stream, but a
//! TLS stream cannot be split in two, so this drives the low-level
//! `Compress`/`Decompress` state machines over a single stream.

use std::io::{self, Read, Write};

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const BUFFER: usize = 32 * 1024;

/// A stream whose bytes are deflated on the way out and inflated on the
/// way in. `flush` ends each command with a sync flush so the server can
/// read it at once.
pub struct DeflateStream<S> {
    inner: S,
    inflate: Decompress,
    deflate: Compress,
    input: Box<[u8]>,
    input_start: usize,
    input_end: usize,
    output: Box<[u8]>,
}

impl<S> DeflateStream<S> {
    pub fn new(inner: S) -> DeflateStream<S> {
        DeflateStream {
            inner,
            inflate: Decompress::new(false),
            deflate: Compress::new(Compression::fast(), false),
            input: vec![0; BUFFER].into_boxed_slice(),
            input_start: 0,
            input_end: 0,
            output: vec![0; BUFFER].into_boxed_slice(),
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

fn corrupt(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad compressed data from the server: {e}"),
    )
}

impl<S: Read> Read for DeflateStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            // Inflate what is buffered first: the inflater may also hold
            // output that did not fit into the caller's last buffer.
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(
                    &self.input[self.input_start..self.input_end],
                    buf,
                    FlushDecompress::Sync,
                )
                .map_err(corrupt)?;
            let consumed = (self.inflate.total_in() - in_before) as usize;
            self.input_start += consumed;
            let produced = (self.inflate.total_out() - out_before) as usize;
            if produced > 0 {
                return Ok(produced);
            }
            if status == Status::StreamEnd {
                return Ok(0);
            }
            if consumed == 0 && self.input_start < self.input_end {
                return Err(corrupt("the inflater made no progress"));
            }
            if self.input_start == self.input_end {
                let n = self.inner.read(&mut self.input)?;
                if n == 0 {
                    return Ok(0);
                }
                self.input_start = 0;
                self.input_end = n;
            }
            // Consumed input without output yet (a block header): read on.
        }
    }
}

impl<S: Write> DeflateStream<S> {
    /// Runs the compressor over `data` with `flush`, writing what it makes.
    fn pump(&mut self, mut data: &[u8], flush: FlushCompress) -> io::Result<()> {
        loop {
            let (in_before, out_before) = (self.deflate.total_in(), self.deflate.total_out());
            self.deflate
                .compress(data, &mut self.output, flush)
                .map_err(|e| io::Error::other(e.to_string()))?;
            let consumed = (self.deflate.total_in() - in_before) as usize;
            let produced = (self.deflate.total_out() - out_before) as usize;
            self.inner.write_all(&self.output[..produced])?;
            data = &data[consumed..];
            // Done once the input is used up and the output buffer was not filled.
            if data.is_empty() && produced < self.output.len() {
                return Ok(());
            }
        }
    }
}

impl<S: Write> Write for DeflateStream<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pump(data, FlushCompress::None)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pump(&[], FlushCompress::Sync)?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A stream that records what is written and serves a fixed input in
    /// small reads.
    struct Pipe {
        written: Vec<u8>,
        to_read: Vec<u8>,
        at: usize,
        chunk: usize,
    }

    impl Read for Pipe {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.chunk).min(self.to_read.len() - self.at);
            buf[..n].copy_from_slice(&self.to_read[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn pipe(to_read: Vec<u8>, chunk: usize) -> Pipe {
        Pipe {
            written: Vec::new(),
            to_read,
            at: 0,
            chunk,
        }
    }

    proptest! {
        #[test]
        fn what_one_side_writes_the_other_reads(
            commands in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..5000), 1..8),
            chunk in 1usize..4096,
        ) {
            // Write each command with a sync flush, as the session does.
            let mut sender = DeflateStream::new(pipe(Vec::new(), 1));
            for c in &commands {
                sender.write_all(c).unwrap();
                sender.flush().unwrap();
            }
            let wire = sender.inner.written.clone();
            let mut receiver = DeflateStream::new(pipe(wire, chunk));
            let mut got = Vec::new();
            receiver.read_to_end(&mut got).unwrap();
            prop_assert_eq!(got, commands.concat());
        }
    }

    #[test]
    fn every_flush_makes_the_command_readable_at_once() {
        let mut sender = DeflateStream::new(pipe(Vec::new(), 1));
        sender.write_all(b"a1 NOOP\r\n").unwrap();
        sender.flush().unwrap();
        let first = sender.inner.written.len();
        let mut receiver = DeflateStream::new(pipe(sender.inner.written.clone(), 7));
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while got.len() < 9 {
            let n = receiver.read(&mut buf).unwrap();
            assert!(n > 0, "the flushed command must decode without more input");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"a1 NOOP\r\n");
        assert!(first > 0);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut receiver = DeflateStream::new(pipe(vec![0xff; 64], 64));
        let mut buf = [0u8; 64];
        assert!(receiver.read(&mut buf).is_err());
    }
}
