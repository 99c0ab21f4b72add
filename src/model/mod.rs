//! The values every layer shares: flags and a folder's keyword table, the numbers IMAP names things by,
//! a server message, a local message's identity, a recorded pair, a
//! directory stamp, and the settings' enums.
//!
//! It imports nothing from the crate. The planner takes all its input from
//! here, and the stores (`maildir`, `imap`, `state`) and the config build
//! and read these values without importing one another.

mod flags;
mod identity;
mod ids;
mod keywords;
mod message;
mod settings;
mod window;

pub use flags::Flags;
pub use identity::{identity_key, Identities};
pub use ids::{ModSeq, Uid, UidValidity};
pub use keywords::{is_keyword, keyword_storable, Keywords};
pub use message::{DirStamp, LocalMessage, Pair, RemoteMessage, Subdir};
pub use settings::{
    AuthMethod, CompressMode, DeleteLimits, FolderDeletes, Layout, LocalDeletions, LocalNames,
    ServerDeletions, TlsMode,
};
pub use window::{today, Since, Window};
