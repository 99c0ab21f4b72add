//! Keywords on the wire: FETCH FLAGS names map to flag bits through the
//! selected folder's keyword table, and STORE and APPEND name the bits
//! they carry through the target folder's table.
//!
//! The tables belong to the sync, which reads them from the Maildir and
//! hands them to the session per folder ([`Session::set_keywords`]); the
//! session only maps through them, naming a new keyword's slot as it first
//! sees it. Where a folder has no table, only the standard flags map.

use super::{Flags, Session};
use crate::model::Keywords;

impl Session {
    /// Makes `table` the keyword table FETCH, STORE and APPEND use for
    /// `mailbox` (raw name).
    pub fn set_keywords(&mut self, mailbox: &str, table: Keywords) {
        self.keywords.insert(mailbox.to_string(), table);
    }

    /// The keyword table of `mailbox`, with the slots named since it was
    /// set; it stays in use.
    pub fn keywords(&self, mailbox: &str) -> Option<&Keywords> {
        self.keywords.get(mailbox)
    }

    /// Takes the table of `mailbox` out of the session: FETCH then maps
    /// only the standard flags there.
    pub fn take_keywords(&mut self, mailbox: &str) -> Option<Keywords> {
        self.keywords.remove(mailbox)
    }

    /// The selected folder's table, taken out while a response handler
    /// borrows it; give it back with [`Session::restore_selected_keywords`].
    pub(super) fn take_selected_keywords(&mut self) -> Option<(String, Keywords)> {
        let name = self.selected.clone()?;
        let table = self.keywords.remove(&name)?;
        Some((name, table))
    }

    pub(super) fn restore_selected_keywords(&mut self, taken: Option<(String, Keywords)>) {
        if let Some((name, table)) = taken {
            self.keywords.insert(name, table);
        }
    }

    /// A parenthesised flag list for `flags` in `mailbox`: keywords by the
    /// folder's names; without a table, the standard flags only.
    pub(super) fn flag_list(&self, mailbox: Option<&str>, flags: Flags) -> String {
        match mailbox.and_then(|m| self.keywords.get(m)) {
            Some(table) => table.imap_list(flags),
            None => flags.to_imap_list(),
        }
    }

    /// The flag list for a STORE in the selected folder.
    pub(super) fn selected_flag_list(&self, flags: Flags) -> String {
        self.flag_list(self.selected.as_deref(), flags)
    }
}

/// The flags in a FETCH's FLAGS names, keywords through `table` when there
/// is one (which names a new keyword's slot).
pub(super) fn flags_from_names(
    names: &[std::borrow::Cow<'_, str>],
    table: Option<&mut Keywords>,
) -> Flags {
    match table {
        Some(table) => names
            .iter()
            .filter_map(|n| table.resolve(n))
            .fold(Flags::empty(), Flags::union),
        None => names
            .iter()
            .filter_map(|n| Flags::from_imap_name(n))
            .fold(Flags::empty(), Flags::union),
    }
}
