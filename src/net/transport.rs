//! One open connection as a buffered stream: plain, TLS or compressed,
//! with timeouts, the in-place upgrades (STARTTLS, compression) and the
//! protocol trace. Reading responses is the protocol's job; it borrows the
//! buffered reader through [`Transport::reader`].

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use super::deflate::DeflateStream;
use super::tcp::Resuming;
use super::{io_error, tls, NetError, Result};

/// Where a server is and how to reach it: the part of a POP3 or SMTP
/// session's setup that is the same for both.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub tls: crate::model::TlsMode,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub trace: bool,
}

/// Read buffer size; also bounds how much of a message body sits in memory.
const READ_BUFFER: usize = 64 * 1024;

/// A plain or TLS-wrapped TCP stream, possibly compressed. The TCP calls
/// resume after `EINTR` (see [`Resuming`]).
pub enum Stream {
    Plain(Resuming<TcpStream>),
    Tls(Box<tls::TlsStream>),
    Deflate(Box<DeflateStream<Stream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Deflate(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Deflate(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Deflate(s) => s.flush(),
        }
    }
}

impl Stream {
    /// The TLS layer, under compression too.
    fn tls_mut(&mut self) -> Option<&mut tls::TlsStream> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => Some(s),
            Stream::Deflate(s) => s.get_mut().tls_mut(),
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s.get_ref(),
            Stream::Tls(s) => s.get_ref().get_ref(),
            Stream::Deflate(s) => s.get_ref().tcp(),
        }
    }
}

/// An open connection: buffered reads, direct writes, optional trace.
pub struct Transport {
    reader: Option<BufReader<Stream>>,
    timeout: Duration,
    trace: bool,
    host: String,
    ca_file: Option<PathBuf>,
    /// Trace lines as printed, kept for tests.
    #[cfg(test)]
    pub traced: Vec<String>,
}

impl Transport {
    /// [`Transport::open`] for `endpoint`: TLS from the first byte for
    /// `tls`, plain (to be upgraded by the protocol) otherwise.
    pub fn open_endpoint(endpoint: &Endpoint) -> Result<Transport> {
        Transport::open(
            &endpoint.host,
            endpoint.port,
            endpoint.tls == crate::model::TlsMode::Tls,
            endpoint.ca_file.clone(),
            endpoint.timeout,
            endpoint.trace,
        )
    }

    /// Opens TCP (and TLS when `tls`, verified against the system roots
    /// plus `ca_file`) with all timeouts applied. `trace` prints what
    /// [`Transport::write`] and [`Transport::trace_line`] are given.
    pub fn open(
        host: &str,
        port: u16,
        tls: bool,
        ca_file: Option<PathBuf>,
        timeout: Duration,
        trace: bool,
    ) -> Result<Transport> {
        let tcp = super::connect(host, port, timeout)?;
        let mut transport = Transport {
            reader: None,
            timeout,
            trace,
            host: host.to_string(),
            ca_file,
            #[cfg(test)]
            traced: Vec::new(),
        };
        let stream = if tls {
            transport.wrap_tls(tcp)?
        } else {
            Stream::Plain(Resuming(tcp))
        };
        transport.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(transport)
    }

    fn wrap_tls(&self, tcp: TcpStream) -> Result<Stream> {
        let stream = tls::connect(&self.host, self.ca_file.as_deref(), tcp)?;
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// Switches the plain stream to TLS after the server agreed to
    /// STARTTLS (`command` names it in the error).
    pub fn start_tls(&mut self, command: &str) -> Result<()> {
        let reader = self.reader.take().ok_or_else(closed)?;
        if !reader.buffer().is_empty() {
            // Bytes sent before the handshake could be injected by an attacker.
            return Err(NetError::Protocol(format!(
                "server sent data after the {command} response"
            )));
        }
        let tcp = match reader.into_inner() {
            Stream::Plain(tcp) => tcp.0,
            _ => return Err(NetError::Protocol("TLS is already active".into())),
        };
        let stream = self.wrap_tls(tcp)?;
        self.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(())
    }

    /// Compresses the stream from here on, after the server agreed to
    /// `command`.
    pub fn start_compress(&mut self, command: &str) -> Result<()> {
        let reader = self.reader.take().ok_or_else(closed)?;
        if !reader.buffer().is_empty() {
            return Err(NetError::Protocol(format!(
                "server sent data after the {command} response"
            )));
        }
        let stream = Stream::Deflate(Box::new(DeflateStream::new(reader.into_inner())));
        self.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(())
    }

    /// Prints one trace line (when tracing is on, which the caller checks).
    pub fn trace_line(&mut self, line: String) {
        eprintln!("{line}");
        #[cfg(test)]
        self.traced.push(line);
    }

    /// Whether the protocol trace is on.
    pub fn tracing(&self) -> bool {
        self.trace
    }

    /// Whether the connection is still usable.
    pub fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Whether compression is in effect.
    pub fn is_compressed(&self) -> bool {
        matches!(
            self.reader.as_ref().map(|r| r.get_ref()),
            Some(Stream::Deflate(_))
        )
    }

    /// Drops the stream after an error that left the protocol out of step.
    pub fn poison(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.get_ref().tcp().shutdown(std::net::Shutdown::Both);
        }
    }

    /// Ends the connection from this side after the last command: TLS's
    /// close_notify (not waiting for the server's), then TCP's FIN. What
    /// the server still sends is not read.
    pub fn close(&mut self) {
        if let Some(mut r) = self.reader.take() {
            if let Some(tls) = r.get_mut().tls_mut() {
                let _ = tls.shutdown();
            }
            let _ = r.get_ref().tcp().shutdown(std::net::Shutdown::Write);
        }
    }

    /// Forgets the stream after the server closed it.
    pub fn mark_closed(&mut self) {
        self.reader = None;
    }

    /// The buffered reader, for the protocol's framing; an error once the
    /// connection is closed or poisoned.
    pub fn reader(&mut self) -> Result<&mut BufReader<Stream>> {
        self.reader.as_mut().ok_or_else(closed)
    }

    /// Drops the stream after a failed read and maps the error, turning a
    /// stall into [`NetError::Timeout`].
    pub fn read_failed(&mut self, e: io::Error) -> NetError {
        self.poison();
        io_error(e, self.timeout)
    }

    /// Writes bytes; `trace` is what the protocol trace shows for them.
    pub fn write(&mut self, data: &[u8], trace: Option<&str>) -> Result<()> {
        if self.trace {
            if let Some(t) = trace {
                for line in t.lines() {
                    self.trace_line(format!("C: {line}"));
                }
            }
        }
        let timeout = self.timeout;
        let reader = self.reader.as_mut().ok_or_else(closed)?;
        let result = reader.get_mut().write_all(data);
        result.map_err(|e| {
            self.poison();
            io_error(e, timeout)
        })
    }

    pub fn flush(&mut self) -> Result<()> {
        let timeout = self.timeout;
        let reader = self.reader.as_mut().ok_or_else(closed)?;
        let result = reader.get_mut().flush();
        result.map_err(|e| {
            self.poison();
            io_error(e, timeout)
        })
    }

    /// Waits up to `wait` for the server to send something, consuming
    /// nothing: `Ok(false)` when nothing arrived in time. The socket's read
    /// timeout is lowered for the wait and restored after, so a following
    /// read has the usual patience. Waiting only between responses keeps a
    /// timeout from ever splitting one.
    pub fn wait_readable(&mut self, wait: Duration) -> Result<bool> {
        let timeout = self.timeout;
        let reader = self.reader.as_mut().ok_or_else(closed)?;
        if !reader.buffer().is_empty() {
            return Ok(true);
        }
        // A zero timeout would mean "block forever" to the socket.
        let wait = wait.max(Duration::from_millis(1));
        reader
            .get_ref()
            .tcp()
            .set_read_timeout(Some(wait))
            .map_err(NetError::Io)?;
        let result = reader.fill_buf().map(|_| ());
        let normal = Some(timeout).filter(|t| !t.is_zero());
        let restored = reader.get_ref().tcp().set_read_timeout(normal);
        match result {
            // Data, or end of stream, which the next read reports.
            Ok(()) => restored.map(|_| true).map_err(NetError::Io),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                restored.map(|_| false).map_err(NetError::Io)
            }
            Err(e) => {
                self.poison();
                Err(io_error(e, timeout))
            }
        }
    }
}

fn closed() -> NetError {
    NetError::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection is closed or unusable after an earlier error",
    ))
}
