//! Folders: how a server's mailbox names become local directories, and
//! which folders a run syncs.
//!
//! `names.rs` is the codec (modified UTF-7, hostile names, the mapping to
//! paths below the Maildir root); `patterns.rs` the `folders` key, which
//! folders an account syncs; `list.rs` matches the server's list, the
//! Maildir's folders and the state's memory into one job per folder. All
//! are pure: the server and the disk are read by their own layers. Folder
//! patterns, namespaces, layouts and renames belong here too.

mod list;
mod names;
mod patterns;

pub use list::{folder_list, FolderJob, FolderList};
pub(crate) use names::component_problem;
pub use names::{
    decode_mutf7, encode_mutf7, local_components, local_path, remote_name, spelling_of, NameError,
    Spelling,
};
pub use patterns::{Decision, FolderPatterns};
