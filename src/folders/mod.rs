//! Folders: how a server's mailbox names become local directories, and
//! which folders a run syncs.
//!
//! `names.rs` is the codec (modified UTF-7, hostile names, the mapping to
//! paths below the Maildir root); `list.rs` matches the server's list, the
//! Maildir's folders and the state's memory into one job per folder. Both
//! are pure: the server and the disk are read by their own layers. Folder
//! patterns, namespaces, layouts and renames belong here too.

mod list;
mod names;

pub use list::{folder_list, FolderJob, FolderList};
pub(crate) use names::component_problem;
pub use names::{
    decode_mutf7, encode_mutf7, local_components, local_path, remote_name, spelling_of, NameError,
    Spelling,
};
