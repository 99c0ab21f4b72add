//! The byte stream to the server: TCP, TLS, timeouts and protocol tracing.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::compress::DeflateStream;
use super::framing::{self, BodySink, Frame, FrameError};
use super::{ConnectOptions, ImapError, Result};

/// Read buffer size; also bounds how much of a message body sits in memory.
const READ_BUFFER: usize = 64 * 1024;

/// A plain or TLS-wrapped TCP stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<super::tls::TlsStream>),
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
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
            Stream::Deflate(s) => s.get_ref().tcp(),
        }
    }
}

/// Maps an I/O error, turning stalls into [`ImapError::Timeout`].
pub fn io_error(e: io::Error, timeout: Duration) -> ImapError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ImapError::Timeout(timeout),
        _ => ImapError::Io(e),
    }
}

/// An open connection: buffered reads, direct writes, optional trace.
pub struct Connection {
    reader: Option<BufReader<Stream>>,
    timeout: Duration,
    trace: bool,
    host: String,
    ca_file: Option<std::path::PathBuf>,
    /// Trace lines as printed, kept for tests.
    #[cfg(test)]
    pub traced: Vec<String>,
}

impl Connection {
    /// Opens TCP (and TLS when `tls`) with all timeouts applied.
    pub fn open(opts: &ConnectOptions, tls: bool) -> Result<Connection> {
        let target = format!("{}:{}", opts.host, opts.port);
        let addrs: Vec<_> = (opts.host.as_str(), opts.port)
            .to_socket_addrs()
            .map_err(|e| ImapError::Connect(target.clone(), e))?
            .collect();
        let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no addresses");
        let mut tcp = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, opts.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let tcp = match tcp {
            Some(s) => s,
            None if matches!(
                last.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
            {
                return Err(ImapError::Timeout(opts.timeout))
            }
            None => return Err(ImapError::Connect(target, last)),
        };
        let timeout = Some(opts.timeout).filter(|t| !t.is_zero());
        tcp.set_read_timeout(timeout)
            .and_then(|_| tcp.set_write_timeout(timeout))
            .and_then(|_| tcp.set_nodelay(true))
            .map_err(ImapError::Io)?;
        let mut conn = Connection {
            reader: None,
            timeout: opts.timeout,
            trace: opts.trace,
            host: opts.host.clone(),
            ca_file: opts.ca_file.clone(),
            #[cfg(test)]
            traced: Vec::new(),
        };
        let stream = if tls {
            conn.wrap_tls(tcp)?
        } else {
            Stream::Plain(tcp)
        };
        conn.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(conn)
    }

    fn wrap_tls(&self, tcp: TcpStream) -> Result<Stream> {
        let stream = super::tls::connect(&self.host, self.ca_file.as_deref(), tcp)?;
        Ok(Stream::Tls(Box::new(stream)))
    }

    /// Switches the plain stream to TLS after a successful STARTTLS.
    pub fn start_tls(&mut self) -> Result<()> {
        let reader = self.reader.take().ok_or_else(closed)?;
        if !reader.buffer().is_empty() {
            // Bytes sent before the handshake could be injected by an attacker.
            return Err(ImapError::Protocol(
                "server sent data after the STARTTLS response".into(),
            ));
        }
        let tcp = match reader.into_inner() {
            Stream::Plain(tcp) => tcp,
            _ => return Err(ImapError::Protocol("TLS is already active".into())),
        };
        let stream = self.wrap_tls(tcp)?;
        self.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(())
    }

    /// Compresses the stream from here on, after COMPRESS DEFLATE succeeded.
    pub fn start_compress(&mut self) -> Result<()> {
        let reader = self.reader.take().ok_or_else(closed)?;
        if !reader.buffer().is_empty() {
            return Err(ImapError::Protocol(
                "server sent data after the COMPRESS response".into(),
            ));
        }
        let stream = Stream::Deflate(Box::new(DeflateStream::new(reader.into_inner())));
        self.reader = Some(BufReader::with_capacity(READ_BUFFER, stream));
        Ok(())
    }

    pub fn is_tls(&self) -> bool {
        fn tls(s: &Stream) -> bool {
            match s {
                Stream::Plain(_) => false,
                Stream::Tls(_) => true,
                Stream::Deflate(d) => tls(d.get_ref()),
            }
        }
        self.reader.as_ref().is_some_and(|r| tls(r.get_ref()))
    }

    fn trace_line(&mut self, line: String) {
        eprintln!("{line}");
        #[cfg(test)]
        self.traced.push(line);
    }

    /// Whether the connection is still usable.
    pub fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Drops the stream after an error that left the protocol out of step.
    pub fn poison(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.get_ref().tcp().shutdown(std::net::Shutdown::Both);
        }
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
    /// [`Connection::read_frame`] has the usual patience. Waiting only
    /// between responses keeps a timeout from ever splitting one.
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
            .map_err(ImapError::Io)?;
        let result = reader.fill_buf().map(|_| ());
        let normal = Some(timeout).filter(|t| !t.is_zero());
        let restored = reader.get_ref().tcp().set_read_timeout(normal);
        match result {
            // Data, or end of stream, which the next read_frame reports.
            Ok(()) => restored.map(|_| true).map_err(ImapError::Io),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                restored.map(|_| false).map_err(ImapError::Io)
            }
            Err(e) => {
                self.poison();
                Err(io_error(e, timeout))
            }
        }
    }

    /// Reads one framed response. `Ok(None)` means the server closed the
    /// connection between responses.
    pub fn read_frame(&mut self, sink: &mut dyn BodySink) -> Result<Option<Frame>> {
        let timeout = self.timeout;
        let trace = self.trace;
        let reader = self.reader.as_mut().ok_or_else(closed)?;
        match framing::read_response(reader, sink, trace) {
            Ok(frame) => {
                if trace {
                    self.trace_line(format!("S: {}", frame.trace));
                }
                Ok(Some(frame))
            }
            Err(FrameError::Eof) => {
                self.reader = None;
                Ok(None)
            }
            Err(FrameError::Io(e)) => {
                self.poison();
                Err(io_error(e, timeout))
            }
        }
    }
}

fn closed() -> ImapError {
    ImapError::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection is closed or unusable after an earlier error",
    ))
}
