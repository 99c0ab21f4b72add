//! Folders: how a server's mailbox names become local directories, and
//! which folders a run syncs.
//!
//! `names.rs` is the codec (modified UTF-7, hostile names, the mapping to
//! paths below the Maildir root); `naming.rs` turns server names into
//! folder names (namespaces) and folder names into local names
//! (`folder_names`, special use); `patterns.rs` the `folders` key, which
//! folders an account syncs; `rules.rs` an account's folder settings;
//! `list.rs` matches the server's list, the Maildir's folders and the
//! state's memory into one job per folder. All are pure: the server and
//! the disk are read by their own layers. Layouts and renames belong here
//! too.

mod layout;
mod list;
mod names;
mod naming;
mod patterns;
mod rules;

pub use layout::{components_of, folder_path, relayout_moves};
pub use list::{folder_list, FolderJob, FolderList, GoneFolder, KnownFolder, Skip, SkippedFolder};
pub(crate) use names::component_problem;
pub use names::{
    decode_mutf7, encode_mutf7, local_components, local_path, remote_name, spelling_of, NameError,
    Spelling,
};
pub use naming::{special_use_name, FolderNaming, NameMap, NamespaceChoice, ServerName};
pub use patterns::{Decision, FolderPatterns};
pub use rules::FolderRules;
