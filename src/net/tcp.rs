//! TCP connect with a timeout on every step, the socket options every
//! mail protocol wants (read and write timeouts, no Nagle delay), and
//! reads and writes that resume after an interrupted system call.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::{NetError, Result};

/// Resolves `host`, tries each address with `timeout`, and sets the read
/// and write timeouts (none when `timeout` is zero) and TCP_NODELAY.
pub fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let target = format!("{host}:{port}");
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| NetError::Connect(target.clone(), e))?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "host has no addresses");
    let mut tcp = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
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
            return Err(NetError::Timeout(timeout))
        }
        None => return Err(NetError::Connect(target, last)),
    };
    let read_write = Some(timeout).filter(|t| !t.is_zero());
    tcp.set_read_timeout(read_write)
        .and_then(|_| tcp.set_write_timeout(read_write))
        .and_then(|_| tcp.set_nodelay(true))
        .map_err(NetError::Io)?;
    Ok(tcp)
}

/// A stream whose reads and writes resume after `EINTR`.
///
/// On Linux a socket call with a receive or send timeout fails with
/// `EINTR` after the process was stopped and continued (a suspended
/// laptop, Ctrl-Z then `fg`, a debugger, a paused container), even with no
/// signal handler installed. Retrying here, below TLS, keeps OpenSSL from
/// ever seeing it: it would end a handshake or a record read with a
/// "system call" error. Each retry waits the socket's full timeout again,
/// so the time the process spent stopped never counts as the server's
/// silence.
#[derive(Debug)]
pub struct Resuming<S>(pub S);

impl<S> Resuming<S> {
    pub fn get_ref(&self) -> &S {
        &self.0
    }
}

/// Runs `call` until it fails with something other than `EINTR`.
pub fn resume<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl<S: Read> Read for Resuming<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        resume(|| self.0.read(buf))
    }
}

impl<S: Write> Write for Resuming<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        resume(|| self.0.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        resume(|| self.0.flush())
    }
}

/// Maps an I/O error, turning stalls into [`NetError::Timeout`].
pub fn io_error(e: io::Error, timeout: Duration) -> NetError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => NetError::Timeout(timeout),
        _ => NetError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails every other call with EINTR.
    struct Flaky {
        calls: usize,
        written: Vec<u8>,
    }

    impl Flaky {
        fn interrupted(&mut self) -> bool {
            self.calls += 1;
            self.calls % 2 == 1
        }
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            buf[0] = b'x';
            Ok(1)
        }
    }

    impl Write for Flaky {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            self.written.push(buf[0]);
            Ok(1)
        }
        fn flush(&mut self) -> io::Result<()> {
            if self.interrupted() {
                return Err(io::ErrorKind::Interrupted.into());
            }
            Ok(())
        }
    }

    #[test]
    fn interrupted_calls_are_resumed_and_other_errors_are_not() {
        let mut s = Resuming(Flaky {
            calls: 0,
            written: Vec::new(),
        });
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap(), 1);
        assert_eq!(s.write(b"ab").unwrap(), 1);
        s.flush().unwrap();
        assert_eq!(s.0.written, b"a");
        let mut calls = 0;
        let r: io::Result<()> = resume(|| {
            calls += 1;
            Err(io::ErrorKind::TimedOut.into())
        });
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(calls, 1);
    }
}
