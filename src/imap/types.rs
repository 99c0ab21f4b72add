//! The client's public types: what commands return and how they fail.

use super::Flags;
use crate::model::{ModSeq, TlsMode, Uid, UidValidity};
use crate::net::NetError;
use std::time::Duration;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trust root (PEM), added to the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Connect, read and write timeout; a stall becomes [`ImapError::Timeout`].
    pub timeout: Duration,
    /// Print the protocol to stderr, credentials redacted and literal
    /// contents summarised.
    pub trace: bool,
    /// Where the session also puts every `[ALERT]` text it receives, for
    /// the command to show them (the sessions of one account share one).
    pub alerts: Option<AlertLog>,
}

/// `[ALERT]` texts (RFC 3501 7.1: the client must show them to the user)
/// collected from any number of sessions, on any thread, in arrival order.
#[derive(Debug, Clone, Default)]
pub struct AlertLog(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl AlertLog {
    pub fn push(&self, text: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(text);
    }

    /// The texts collected since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("login failed: {0}")]
    Auth(String),
    #[error("server does not offer STARTTLS")]
    NoStartTls,
    #[error("server refuses login on an unencrypted connection (LOGINDISABLED)")]
    LoginDisabled,
    #[error("timed out after {0:?} waiting for the server")]
    Timeout(std::time::Duration),
    #[error("connection closed by server{}", .0.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    Bye(Option<String>),
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    /// A tagged NO or BAD.
    #[error("{command} failed: {text}")]
    No { command: String, text: String },
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ImapError {
    /// Whether the session is gone and a new connection is needed.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ImapError::Io(_) | ImapError::Timeout(_) | ImapError::Bye(_) | ImapError::Tls(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, ImapError>;

/// One mailbox from LIST.
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// Raw name, modified UTF-7 as on the wire.
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes as sent, e.g. `\Noselect`, `\HasChildren`.
    pub attributes: Vec<String>,
}

impl ListEntry {
    /// False for `\Noselect` and `\NonExistent` entries, which hold no messages.
    pub fn is_selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

/// What SELECT or EXAMINE reported.
#[derive(Debug, Clone, Default)]
pub struct MailboxInfo {
    pub uidvalidity: UidValidity,
    pub uidnext: Option<Uid>,
    pub exists: u32,
    pub highestmodseq: Option<ModSeq>,
    pub read_only: bool,
    /// PERMANENTFLAGS as sent (`\*` included); `None` when the server
    /// sent none, which means every flag is permanent.
    pub permanent_flags: Option<Vec<String>>,
}

/// What STATUS reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: Option<u32>,
    pub uidnext: Option<Uid>,
    pub uidvalidity: Option<UidValidity>,
    pub highestmodseq: Option<ModSeq>,
}

/// A message whose body has been written to the caller's sink.
#[derive(Debug)]
pub struct FetchedBody {
    pub uid: Uid,
    pub flags: Flags,
    pub size: Option<u32>,
    pub internal_date: Option<String>,
    /// Bytes written to the sink.
    pub body_len: u64,
}

/// One message's whole header, flags and size (for a placeholder).
#[derive(Debug, Clone)]
pub struct WholeHeader {
    pub uid: Uid,
    pub flags: Flags,
    pub size: u32,
    pub header: Vec<u8>,
}

/// Identity of one message for re-pairing after a UIDVALIDITY change.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    pub uid: Uid,
    pub size: u32,
    /// Message-ID header value, trimmed, angle brackets kept.
    pub message_id: Option<String>,
}

impl From<NetError> for ImapError {
    fn from(e: NetError) -> ImapError {
        match e {
            NetError::Connect(target, e) => ImapError::Connect(target, e),
            NetError::Tls(text) => ImapError::Tls(text),
            NetError::Timeout(t) => ImapError::Timeout(t),
            NetError::Io(e) => ImapError::Io(e),
            NetError::Protocol(text) => ImapError::Protocol(text),
        }
    }
}
