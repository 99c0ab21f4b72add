//! What an account's config says about its folders, checked once: which
//! are synced, what they are called locally, and how new directories are
//! spelt.

use super::naming::{NameMap, NamespaceChoice};
use super::patterns::FolderPatterns;
use crate::model::{Layout, LocalNames};

/// An account's folder settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FolderRules {
    /// `folders`: which folders are synced.
    pub patterns: FolderPatterns,
    /// `local_names`: how directory names are spelt.
    pub local_names: LocalNames,
    /// `layout` and `flatten`: how folders sit on disk.
    pub layout: Layout,
    /// `subscribed_only`: only the folders subscribed on the server; the
    /// folders created there are subscribed.
    pub subscribed_only: bool,
    /// `namespaces`: other users' and shared folders, where asked for.
    pub namespaces: NamespaceChoice,
    /// `folder_names`: server folders under local names of the user's choice.
    pub names: NameMap,
    /// `special_use_names`: \Sent, \Drafts, \Trash, \Junk and \Archive
    /// folders under those plain local names.
    pub special_use_names: bool,
    /// `exclude_special_use`: server folders with one of these attributes
    /// (`\\All`) are left alone, as if a pattern excluded them.
    pub exclude_special_use: Vec<String>,
}
