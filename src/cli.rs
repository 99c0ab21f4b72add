//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Keeps local Maildirs and IMAP accounts in step, both ways, losing nothing.
#[derive(Debug, Parser)]
#[command(name = "imapdir", version, about, long_about = None)]
pub struct Cli {
    /// Config file [default: $XDG_CONFIG_HOME/imapdir/config.toml]
    #[arg(long, global = true, env = "IMAPDIR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More output: -v per-folder actions, -vv debug details
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print the IMAP protocol to stderr (passwords redacted)
    #[arg(long, global = true)]
    pub trace_imap: bool,

    /// Print one JSON document on stdout (sync, status, folders, check); logs go to stderr
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Synchronise accounts (all of them when none is named)
    Sync(SyncArgs),
    /// List remote folders and the local paths they map to
    Folders {
        /// Account name [default: every account]
        account: Option<String>,
    },
    /// Connect, negotiate TLS, log in and list the server's capabilities
    Check {
        /// Account name [default: every account]
        account: Option<String>,
    },
    /// Per folder: messages synced, local changes waiting to be pushed, last sync, quota
    Status(StatusArgs),
    /// Stay running: sync at start, within seconds of a change on the server (IDLE)
    /// or in the Maildir, and every `interval`; SIGTERM or Ctrl-C exits 0
    Watch(WatchArgs),
    /// Print an imapdir config made from an mbsync or OfflineIMAP config;
    /// what cannot be mapped is listed on stderr and as comments
    Import(ImportArgs),
    /// Add an account to the config: asks for the address, finds the server
    /// (preset, else the domain's published autoconfig, else asks), the
    /// Maildir and the secret source, then runs `check`; with --yes it asks
    /// nothing
    Init(InitArgs),
    /// List the provider presets (`provider = "NAME"`): host, how to log in, what to know
    Providers,
    /// Log in with OAuth2 once (in a browser, or with a code on another device:
    /// --device) and keep the refresh token for later runs
    Auth(AuthArgs),
    /// Move a synced Maildir to the configured `layout`, folder by folder,
    /// without transferring a message
    Relayout {
        /// Account name
        account: String,
        /// Print the moves, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Let the next sync make a change a guard refused in these folders (a mass
    /// deletion, a first sync copying most of both sides, folder deletions),
    /// exactly that change; without folders, list what was refused
    Approve {
        /// Account name
        account: String,
        /// Folders as the refusal names them
        folders: Vec<String>,
    },
    /// Download whole at the next sync messages stored as placeholders
    /// (larger than `max_message_size`); flagging a placeholder does the same
    Fetch {
        /// Account name
        account: String,
        /// Folder as `imapdir status` names it
        folder: String,
        /// The placeholders' UIDs (each placeholder's text names its own)
        #[arg(required = true)]
        uids: Vec<u32>,
    },
    /// Download new messages from a POP3 account (`protocol = "pop3"`) into
    /// its Maildir folder, each once, then delete from the server what the
    /// account says (`leave_on_server`, `delete_after_days`); `sync` does
    /// the same for POP3 accounts
    Pop3 {
        /// Account name
        account: String,
        /// Say how many messages would be downloaded, change nothing
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Read a message on stdin and put it in the account's outbox, then send
    /// the outbox at once (a message that cannot be sent now waits for the
    /// next sync): a `sendmail` for mutt, aerc and git send-email
    Sendmail(SendmailArgs),
    /// Search the server's folders (those the account syncs) without
    /// downloading anything: one line per match with folder, UID, date,
    /// sender, size, whether the Maildir has it (as of the last sync) and
    /// subject
    Search(SearchArgs),
    /// Write the man pages (DIR/man) and bash, zsh and fish completions (DIR/completions)
    Generate {
        /// Directory that receives man/ and completions/
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The account's mail address
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,

    /// The account's name in the config [default: the address's local part]
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,

    /// A provider preset (`imapdir providers` lists them) [default: the one
    /// for the address's domain]
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,

    /// IMAP server, where no preset knows the domain; with --provider it
    /// overrides the preset's host, without it no preset is used
    #[arg(long)]
    pub host: Option<String>,

    /// IMAP port [default: the preset's, else 993 for tls and 143 otherwise]
    #[arg(long)]
    pub port: Option<u16>,

    /// How the connection is encrypted [default: the preset's, else tls]
    #[arg(long, value_enum)]
    pub tls: Option<InitTls>,

    /// Login name [default: the address]
    #[arg(long)]
    pub user: Option<String>,

    /// A CA certificate (PEM) to trust for this server besides the system's
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// The local Maildir root, created when missing [default: ~/Mail/NAME]
    #[arg(long, value_name = "DIR")]
    pub maildir: Option<String>,

    /// A command that prints the password (password_command)
    #[arg(long, value_name = "COMMAND", group = "secret")]
    pub password_command: Option<String>,

    /// A file whose first line is the password (password_file)
    #[arg(long, value_name = "FILE", group = "secret")]
    pub password_file: Option<String>,

    /// An environment variable that holds the password (password_env)
    #[arg(long, value_name = "VAR", group = "secret")]
    pub password_env: Option<String>,

    /// A command that prints an OAuth2 access token (oauth2_token_command)
    #[arg(long, value_name = "COMMAND", group = "secret")]
    pub oauth2_token_command: Option<String>,

    /// Ask nothing: what the flags leave out is the default, or an error
    /// naming the flag
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Do not connect after writing the account
    #[arg(long)]
    pub no_check: bool,

    /// Replace an account of the same name instead of refusing
    #[arg(long)]
    pub force: bool,
}

/// `init --tls`: the values of the `tls` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitTls {
    /// TLS from the first byte (usually port 993)
    Tls,
    /// STARTTLS on a plain port (usually 143)
    Starttls,
    /// No encryption at all (writes allow_plaintext = true)
    Plain,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Whose config to read
    pub peer: Peer,

    /// The config file [default: mbsync: ~/.mbsyncrc, else $XDG_CONFIG_HOME/isyncrc;
    /// offlineimap: ~/.offlineimaprc, else $XDG_CONFIG_HOME/offlineimap/config]
    pub file: Option<PathBuf>,

    /// Append the accounts to imapdir's config file (--config, else the default),
    /// creating it when missing; refuses when an account name is already there
    #[arg(long)]
    pub write: bool,
}

/// The sync tools `import` reads configs of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Peer {
    /// mbsync (isync) 1.4: Channels, IMAP and Maildir Stores
    Mbsync,
    /// OfflineIMAP: accounts with a Maildir and an IMAP repository
    Offlineimap,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Account name (one with oauth2_client_id)
    pub account: String,

    /// Use the device authorization grant: a code to enter on any device with
    /// a browser, for a machine without one
    #[arg(long)]
    pub device: bool,

    /// Do not open a browser; only print the address to open
    #[arg(long)]
    pub no_browser: bool,
}

#[derive(Debug, Args)]
pub struct SendmailArgs {
    /// Recipients from the message's To, Cc and Bcc (as `sendmail -t`)
    #[arg(short = 't')]
    pub from_headers: bool,

    /// The account whose outbox takes it [default: the only account with an
    /// outbox, else the one whose user is the message's From]
    #[arg(long, short = 'a', value_name = "ACCOUNT")]
    pub account: Option<String>,

    /// Only queue the message; the next sync sends it
    #[arg(long)]
    pub queue_only: bool,

    /// Accepted for sendmail compatibility and ignored (-i, -oi: a lone "."
    /// never ends the message here)
    #[arg(short = 'i')]
    pub ignore_dots: bool,

    /// Accepted for sendmail compatibility and ignored (`-oi`, `-oem`)
    #[arg(short = 'o', value_name = "OPTION")]
    pub options: Vec<String>,

    /// Accepted for sendmail compatibility and ignored: the sender is the
    /// message's From
    #[arg(short = 'f', value_name = "ADDRESS")]
    pub envelope_from: Option<String>,

    /// Recipients (without -t); the message's To and Cc are then left as they are
    pub recipients: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Account name
    pub account: String,

    /// The query, all terms must match: from:, to:, cc:, bcc:, subject:,
    /// body:, text: and header:NAME: with a word; since:, before:, on:
    /// with YYYY-MM-DD (the server's arrival date); larger:, smaller: with
    /// a size (500k, 1M); unread, read, flagged, unflagged, answered,
    /// unanswered, draft, deleted, undeleted; any other word is searched
    /// in the whole message. "…" quotes, -term negates (after `--`, as in
    /// `search ACCOUNT -- -unread`), `a or b`, ( ) groups
    #[arg(
        value_name = "QUERY",
        required_unless_present = "imap",
        conflicts_with = "imap"
    )]
    pub query: Vec<String>,

    /// Raw IMAP SEARCH keys instead of a query, sent as written (ASCII),
    /// e.g. 'OR FROM alice SUBJECT budget'
    #[arg(long, value_name = "KEYS")]
    pub imap: Option<String>,

    /// Search only the folders this pattern names (repeatable; *, % and ! as
    /// in the folders key, the last match decides); the account's folders
    /// key still applies
    #[arg(long = "folder", value_name = "PATTERN")]
    pub folders: Vec<String>,

    /// Stop after N matches
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Bring the matches the Maildir lacks into it as normal pairs: a
    /// placeholder is replaced by the whole message, a message outside the
    /// window is downloaded (and stays); then syncs the folders with
    /// matches, as `imapdir sync ACCOUNT --folder` would
    #[arg(long)]
    pub fetch: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Accounts to watch [default: every account]
    pub accounts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Accounts to show [default: every account]
    pub accounts: Vec<String>,

    /// Use only the state and the Maildir: no connection, so no quota
    #[arg(long)]
    pub offline: bool,
}

/// How long `sync --wait` waits for the account lock, in seconds: longer
/// than any ordinary sync by `watch` (seconds; a first sync of a large
/// mailbox can take minutes), short enough that runs from a timer every
/// five minutes do not pile up behind a stuck one.
pub const DEFAULT_LOCK_WAIT: &str = "300";

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Accounts to synchronise [default: every account]
    pub accounts: Vec<String>,

    /// Only bring server changes to the Maildir
    #[arg(long, conflicts_with = "push")]
    pub pull: bool,

    /// Only send Maildir changes to the server
    #[arg(long)]
    pub push: bool,

    /// Print the actions a sync would take, change nothing
    #[arg(long, short = 'n')]
    pub dry_run: bool,

    /// Folders synchronised at once, one IMAP connection each [default: from config, else 4; fewer for a server on this machine]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: Option<u16>,

    /// Let this run delete more of a folder than the guard allows (on the server
    /// max_server_delete_share, default half; locally max_local_delete_share,
    /// default 0.9), in every folder it syncs; `imapdir approve` lets through
    /// one folder's refused change only
    #[arg(long)]
    pub allow_mass_delete: bool,

    /// Let a folder's first sync copy both sides to each other even when few
    /// of their messages pair up (a Maildir from another tool that is not
    /// recognised would end up twice on both sides), in every folder it syncs;
    /// `imapdir approve` lets one folder's through
    #[arg(long)]
    pub allow_first_copy: bool,

    /// When another imapdir run (such as `watch`) holds the account, wait up
    /// to SECONDS (300 when not given) for it to finish, then sync; without
    /// --wait such a run exits 4 at once
    #[arg(
        long,
        value_name = "SECONDS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = DEFAULT_LOCK_WAIT,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub wait: Option<u64>,

    /// Sync only the folders this pattern names (repeatable; *, % and ! as
    /// in the folders key, the last match decides); the account's folders
    /// key still applies
    #[arg(long = "folder", value_name = "PATTERN")]
    pub folders: Vec<String>,
}
