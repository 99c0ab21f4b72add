//! The byte stream to a mail server: TCP with timeouts, TLS, the upgrade to
//! TLS after STARTTLS, an optional compression layer, and protocol tracing.
//!
//! It lives apart from `imap/` because it knows no protocol: IMAP uses it
//! today, and POP3 and SMTP will use the same connect, trust and timeout
//! rules rather than grow their own. Framing, commands and the decision to
//! upgrade or compress belong to each protocol's client.

mod deflate;
mod tcp;
mod tls;
mod transport;

pub use deflate::DeflateStream;
pub use tcp::{connect, io_error, resume, Resuming};
pub use tls::{TlsStream, CERTIFICATE_NAMES};
pub use transport::{Endpoint, Stream, Transport};

use std::time::Duration;

/// Why the transport failed. Each protocol client maps these onto its own
/// error type, keeping the texts.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("timed out after {0:?} waiting for the server")]
    Timeout(Duration),
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    /// The peer broke a rule of the stream, e.g. sent bytes before a TLS
    /// handshake that could have been injected.
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub type Result<T> = std::result::Result<T, NetError>;
