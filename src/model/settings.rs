//! The config's enums, read by the layers that act on them.

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it.
    StartTls,
    /// No encryption at all.
    Plain,
}

/// Whether to use COMPRESS=DEFLATE when the server offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressMode {
    /// On for remote hosts, off for loopback, where it only costs CPU.
    Auto,
    Yes,
    No,
}

/// How local directory names spell folder names with non-ASCII letters or
/// `&`: mbsync and OfflineIMAP write the server's modified UTF-7
/// (`Entw&APw-rfe`), imapdir by default writes UTF-8 (`Entwürfe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalNames {
    /// What the Maildir already uses; UTF-8 for a Maildir that shows neither.
    #[default]
    Keep,
    Utf8,
    ModifiedUtf7,
}
