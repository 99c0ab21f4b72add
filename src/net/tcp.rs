//! TCP connect with a timeout on every step, and the socket options every
//! mail protocol wants (read and write timeouts, no Nagle delay).

use std::io;
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

/// Maps an I/O error, turning stalls into [`NetError::Timeout`].
pub fn io_error(e: io::Error, timeout: Duration) -> NetError {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => NetError::Timeout(timeout),
        _ => NetError::Io(e),
    }
}
