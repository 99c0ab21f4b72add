//! The IMAP side of the byte stream: [`crate::net::Transport`] read as
//! IMAP responses (lines and literals, see [`super::framing`]), with its
//! errors as [`ImapError`]s.

use std::time::Duration;

use super::framing::{self, BodySink, Frame, FrameError};
use super::{ConnectOptions, Result};
use crate::net::Transport;

/// An open connection: buffered reads, direct writes, optional trace.
pub struct Connection {
    transport: Transport,
}

impl Connection {
    /// Opens TCP (and TLS when `tls`) with all timeouts applied.
    pub fn open(opts: &ConnectOptions, tls: bool) -> Result<Connection> {
        let transport = Transport::open(
            &opts.host,
            opts.port,
            tls,
            opts.ca_file.clone(),
            opts.timeout,
            opts.trace,
        )?;
        Ok(Connection { transport })
    }

    /// Switches the plain stream to TLS after a successful STARTTLS.
    pub fn start_tls(&mut self) -> Result<()> {
        Ok(self.transport.start_tls("STARTTLS")?)
    }

    /// Compresses the stream from here on, after COMPRESS DEFLATE succeeded.
    pub fn start_compress(&mut self) -> Result<()> {
        Ok(self.transport.start_compress("COMPRESS")?)
    }

    /// Whether the connection is still usable.
    pub fn is_open(&self) -> bool {
        self.transport.is_open()
    }

    pub fn is_compressed(&self) -> bool {
        self.transport.is_compressed()
    }

    /// Closes from this side after the last command (see [`Transport::close`]).
    pub fn close(&mut self) {
        self.transport.close()
    }

    /// Drops the stream after an error that left the protocol out of step.
    pub fn poison(&mut self) {
        self.transport.poison()
    }

    /// Writes bytes; `trace` is what the protocol trace shows for them.
    pub fn write(&mut self, data: &[u8], trace: Option<&str>) -> Result<()> {
        Ok(self.transport.write(data, trace)?)
    }

    pub fn flush(&mut self) -> Result<()> {
        Ok(self.transport.flush()?)
    }

    /// Waits up to `wait` for the server to send something, consuming
    /// nothing: `Ok(false)` when nothing arrived in time; a following
    /// [`Connection::read_frame`] has the usual patience.
    pub fn wait_readable(&mut self, wait: Duration) -> Result<bool> {
        Ok(self.transport.wait_readable(wait)?)
    }

    /// Reads one framed response. `Ok(None)` means the server closed the
    /// connection between responses.
    pub fn read_frame(&mut self, sink: &mut dyn BodySink) -> Result<Option<Frame>> {
        let trace = self.transport.tracing();
        let reader = self.transport.reader()?;
        match framing::read_response(reader, sink, trace) {
            Ok(frame) => {
                if trace {
                    self.transport.trace_line(format!("S: {}", frame.trace));
                }
                Ok(Some(frame))
            }
            Err(FrameError::Eof) => {
                self.transport.mark_closed();
                Ok(None)
            }
            Err(FrameError::Io(e)) => Err(self.transport.read_failed(e).into()),
        }
    }

    /// Trace lines as printed.
    #[cfg(test)]
    pub fn traced(&self) -> &[String] {
        &self.transport.traced
    }
}
