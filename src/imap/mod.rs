//! A small synchronous IMAP client built on the `imap-proto` parser.
//!
//! Hand-written rather than built on the `imap` crate: that crate (2.4.1
//! and 3.0.0-alpha.15) buffers whole responses in memory (about 1.1 times
//! the folder size), loses protocol sync after one line it cannot parse,
//! panics on `* NO [ALERT]` during SELECT, and drops COPYUID and
//! `[MODIFIED]`. So this module owns framing (lines and literals), tags,
//! command encoding and quoting, and streams FETCH bodies straight to the
//! caller's writers. A response the parser cannot read is counted (see
//! [`Session::skipped_responses`]), printed only when tracing is on, and
//! skipped without losing sync.
//!
//! The client is split by concern: `session.rs` (connecting, login,
//! capabilities), `exchange.rs` (sending a command and the response loop),
//! `response.rs` (parsing and handlers), `mailbox.rs`, `fetch.rs` and
//! `store.rs` (the commands), `types.rs` (what they return). The byte
//! stream underneath (TCP, TLS, compression) is [`crate::net`].

pub mod command;
mod condstore;
mod connection;
mod exchange;
mod fetch;
pub mod framing;
mod header_text;
mod idle;
mod keywords;
mod listing;
mod mailbox;
mod message_id;
mod namespace;
mod probe;
mod quota;
mod response;
mod search;
pub mod search_query;
mod session;
mod store;
mod throttle;
mod types;
mod uid_set;

pub use command::{format_internal_date, quote};
pub use condstore::FolderChanges;
pub use header_text::decode_header_text;
pub use idle::{IdleEvent, IDLE_POLL};
pub use listing::{Listing, SUBSCRIBED};
pub use message_id::extract_message_id;
pub use namespace::{Namespace, Namespaces};
pub use probe::{Departures, FolderProbe, ProbeAnswer};
pub use quota::QuotaUsage;
pub use search::{MessageSummary, SearchHits};
pub use session::Session;
pub use store::{AppendUid, Expunged, Moved};
pub use throttle::Throttle;
pub use types::{
    AlertLog, ConnectOptions, FetchedBody, HeaderInfo, ImapError, ListEntry, MailboxInfo,
    MailboxStatus, Result, WholeHeader,
};
pub use uid_set::UidSet;

// For the fuzz targets (`crate::fuzzing`).
pub(crate) use namespace::parse_namespace_frame;
pub(crate) use response::parse_sanitised;

// The shared values the commands take and return.
use crate::model::{Flags, RemoteMessage};

// For the extension modules (`condstore`, `idle`, `quota`) and the tests.
use command::Arg;
use exchange::raw_command;
use mailbox::Selecting;
use response::{check, Event, Untagged};

#[cfg(test)]
mod tests;
