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

/// How the Maildir's folders sit on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// One directory per level: `Archive/2023`, INBOX in `INBOX`.
    #[default]
    Verbatim,
    /// As Dovecot and Courier keep Maildirs: INBOX is the root itself,
    /// `Archive/2023` is `.Archive.2023` beside it.
    MaildirPlusPlus,
    /// mbsync's `Flatten`: `Archive/2023` is `Archive.2023` (with this
    /// separator), INBOX in `INBOX`.
    Flat(char),
}

impl Layout {
    /// As the config spells it, and as the state records it.
    pub fn describe(self) -> String {
        match self {
            Layout::Verbatim => "verbatim".into(),
            Layout::MaildirPlusPlus => "maildir++".into(),
            Layout::Flat(separator) => format!("flat {separator}"),
        }
    }

    /// Reads what [`Layout::describe`] wrote.
    pub fn from_recorded(text: &str) -> Option<Layout> {
        match text {
            "verbatim" => Some(Layout::Verbatim),
            "maildir++" => Some(Layout::MaildirPlusPlus),
            _ => {
                let mut chars = text.strip_prefix("flat ")?.chars();
                let separator = chars.next()?;
                chars.next().is_none().then_some(Layout::Flat(separator))
            }
        }
    }

    /// The config keys that choose this layout.
    pub fn config_text(self) -> String {
        match self {
            Layout::Verbatim => "layout = \"verbatim\"".into(),
            Layout::MaildirPlusPlus => "layout = \"maildir++\"".into(),
            Layout::Flat(separator) => format!("layout = \"flat\", flatten = \"{separator}\""),
        }
    }
}

/// Which side a folder deleted on the other side is deleted on
/// (`propagate_folder_deletes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FolderDeletes {
    /// Neither: a folder gone from one side is kept on the other.
    #[default]
    None,
    ToServer,
    ToLocal,
    Both,
}

impl FolderDeletes {
    /// A folder deleted locally is deleted on the server.
    pub fn to_server(self) -> bool {
        matches!(self, FolderDeletes::ToServer | FolderDeletes::Both)
    }

    /// A folder deleted on the server is deleted locally.
    pub fn to_local(self) -> bool {
        matches!(self, FolderDeletes::ToLocal | FolderDeletes::Both)
    }
}

/// How the account logs in (`auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// The best the server offers for the account's secret.
    #[default]
    Auto,
    Plain,
    Login,
    XOAuth2,
    OAuthBearer,
}

/// How much of a folder one run may delete on each side before the
/// mass-deletion guard asks for a confirmation (shares from 0 to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DeleteLimits {
    /// Messages expunged on the server because their files went away.
    /// Irreversible, so strict by default.
    pub server_share: f64,
    /// Local files removed because the server expunged them. Clean-ups on
    /// the webmail are common and the server decided them, so this trips
    /// only when a folder is emptied or nearly: the shape of a server that
    /// lost a mailbox.
    pub local_share: f64,
}

impl Default for DeleteLimits {
    fn default() -> DeleteLimits {
        DeleteLimits {
            server_share: 0.5,
            local_share: 0.9,
        }
    }
}

/// What a message expunged on the server becomes locally
/// (`server_deletions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ServerDeletions {
    /// The local file is deleted too: a two-way sync.
    #[default]
    DeleteLocal,
    /// The local file stays, recorded as gone from the server: an archive.
    KeepLocal,
}

/// What a message whose file was deleted locally becomes on the server
/// (`local_deletions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LocalDeletions {
    /// Deleted on the server too (expunged, or moved to `trash`).
    #[default]
    DeleteServer,
    /// Kept on the server, recorded as gone locally: never downloaded again.
    KeepServer,
}
