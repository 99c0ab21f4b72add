//! One folder's keyword table: which IMAP keyword each of the 26 keyword
//! slots (Maildir letters `a`..`z`) stands for, as Dovecot keeps it in the
//! folder's `dovecot-keywords` file, and the decisions around it.
//!
//! Pure: the Maildir layer reads and writes the file, the IMAP layer maps
//! names through the table, the sync decides what to report.

use std::collections::BTreeMap;

use super::Flags;

/// A folder's slot ↔ keyword mapping.
///
/// Names compare case-insensitively (IMAP flag names do, and so does
/// Dovecot's table). A slot, once named, is never renamed or reused: the
/// letters on files and the bits in the state depend on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keywords {
    names: [Option<String>; Flags::KEYWORD_SLOTS as usize],
    /// Slots named since the table was read, to be written out.
    added: Vec<u8>,
    /// Keywords seen with no slot left for them (a 27th keyword), with how
    /// many times a message carried them.
    overflow: BTreeMap<String, u64>,
}

impl Keywords {
    /// A table from `(slot, name)` entries as read from a file: a slot past
    /// `z`, an empty name, a second entry for a slot or a name already
    /// named are ignored, as Dovecot ignores them. A name that is no IMAP
    /// keyword (a space in it, say) still holds its slot, so the slot is
    /// never given to another keyword, but it is not synced.
    pub fn from_entries(entries: impl IntoIterator<Item = (u32, String)>) -> Keywords {
        let mut table = Keywords::default();
        for (slot, name) in entries {
            if slot >= u32::from(Flags::KEYWORD_SLOTS)
                || name.is_empty()
                || table.names[slot as usize].is_some()
                || table.slot(&name).is_some()
            {
                continue;
            }
            table.names[slot as usize] = Some(name);
        }
        table
    }

    /// The named slots in slot order, as a file lists them.
    pub fn entries(&self) -> impl Iterator<Item = (u8, &str)> {
        self.names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.as_deref().map(|n| (i as u8, n)))
    }

    pub fn is_empty(&self) -> bool {
        self.names.iter().all(Option::is_none)
    }

    /// The slot named `name`, if any.
    pub fn slot(&self, name: &str) -> Option<u8> {
        self.names
            .iter()
            .position(|n| n.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|i| i as u8)
    }

    /// The keyword a slot stands for.
    pub fn name(&self, slot: u8) -> Option<&str> {
        self.names.get(usize::from(slot))?.as_deref()
    }

    /// The flag for an IMAP flag name from the server: a standard flag, a
    /// named keyword, or a new keyword given the next free slot. `None`
    /// for system flags imapdir does not sync (`\Recent`) and for a keyword
    /// when all 26 slots are taken (kept in [`Keywords::overflow`]).
    pub fn resolve(&mut self, name: &str) -> Option<Flags> {
        if let Some(flag) = Flags::from_imap_name(name) {
            return Some(flag);
        }
        if !is_keyword(name) {
            return None;
        }
        if let Some(slot) = self.slot(name) {
            return Some(Flags::keyword(slot));
        }
        match self.names.iter().position(Option::is_none) {
            Some(free) => {
                self.names[free] = Some(name.to_string());
                self.added.push(free as u8);
                Some(Flags::keyword(free as u8))
            }
            None => {
                let known = self
                    .overflow
                    .keys()
                    .find(|k| k.eq_ignore_ascii_case(name))
                    .cloned();
                *self
                    .overflow
                    .entry(known.unwrap_or_else(|| name.to_string()))
                    .or_default() += 1;
                None
            }
        }
    }

    /// The standard flags and every named slot: what the folder can sync.
    /// A letter on a file outside this has no name, so it stays on the
    /// file and is never sent to the server.
    pub fn named(&self) -> Flags {
        self.entries()
            .filter(|(_, name)| is_keyword(name))
            .map(|(slot, _)| Flags::keyword(slot))
            .fold(Flags::STANDARD, Flags::union)
    }

    /// A parenthesised IMAP flag list for `flags`, keywords by name, e.g.
    /// `(\Seen $Label1)`. Unnamed slots are left out.
    pub fn imap_list(&self, flags: Flags) -> String {
        let mut names: Vec<&str> = flags.imap_names().collect();
        names.extend(
            flags
                .keyword_slots()
                .filter_map(|s| self.name(s))
                .filter(|n| is_keyword(n)),
        );
        format!("({})", names.join(" "))
    }

    /// Whether slots were named since the table was read.
    pub fn has_additions(&self) -> bool {
        !self.added.is_empty()
    }

    /// The slots named since the table was read, with their names.
    pub fn additions(&self) -> impl Iterator<Item = (u8, &str)> {
        self.added
            .iter()
            .filter_map(|&s| self.name(s).map(|n| (s, n)))
    }

    /// Keywords the server uses that found no free slot, with how many
    /// messages carried them in the FETCH responses read.
    pub fn overflow(&self) -> &BTreeMap<String, u64> {
        &self.overflow
    }

    /// The named slots the server will not store, by its PERMANENTFLAGS
    /// (see [`keyword_storable`]).
    pub fn refused(&self, permanent: Option<&[String]>) -> Flags {
        self.entries()
            .filter(|(_, name)| is_keyword(name) && !keyword_storable(permanent, name))
            .map(|(slot, _)| Flags::keyword(slot))
            .fold(Flags::empty(), Flags::union)
    }

    /// Adds this table's new slots to `fresh`, the file as it is now (read
    /// again under its lock: Dovecot may have named slots meanwhile).
    /// Fails, changing nothing, when `fresh` gave one of those slots or
    /// names to something else: the letters already chosen would then
    /// mean another keyword.
    pub fn merge_additions_into(&self, fresh: &Keywords) -> Result<Keywords, String> {
        let mut merged = fresh.clone();
        for (slot, name) in self.additions() {
            match (fresh.name(slot), fresh.slot(name)) {
                (Some(n), _) if n.eq_ignore_ascii_case(name) => {}
                (None, None) => merged.names[usize::from(slot)] = Some(name.to_string()),
                _ => {
                    return Err(format!(
                        "slot {slot} ({name}) was taken meanwhile by another program"
                    ))
                }
            }
        }
        merged.added.clear();
        merged.overflow = self.overflow.clone();
        Ok(merged)
    }

    /// `flags` of a message in the folder `from` as this folder's letters,
    /// keyword by keyword through the names (a message moved between
    /// folders keeps its keywords, not its letters); a new name gets a
    /// slot here. A letter `from` does not name stays only where this
    /// folder does not name it either (it means nothing in both); a
    /// keyword with no slot left here is counted in the overflow and
    /// stays on the server only.
    pub fn translate(&mut self, flags: Flags, from: &Keywords) -> Flags {
        let mut out = flags.intersection(Flags::STANDARD);
        for slot in flags.keyword_slots() {
            let bit = match from.name(slot).filter(|n| is_keyword(n)) {
                Some(name) => self.resolve(name),
                None => self.name(slot).is_none().then(|| Flags::keyword(slot)),
            };
            out = out.union(bit.unwrap_or_default());
        }
        out
    }

    /// The table as written: its additions are now on disk.
    pub fn written(mut self) -> Keywords {
        self.added.clear();
        self
    }
}

/// Whether `name` is an IMAP keyword a `dovecot-keywords` line can hold:
/// an atom not starting with `\` (those are system flags), without
/// spaces, controls or the atom specials.
pub fn is_keyword(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('\\')
        && name
            .bytes()
            .all(|b| b > b' ' && b < 0x7f && !b"(){%*\"\\]".contains(&b))
}

/// Whether the server stores `keyword` for good, by the folder's
/// PERMANENTFLAGS (`None`: the server sent none, which RFC 3501 says
/// means every flag is permanent). `\*` allows any new keyword.
pub fn keyword_storable(permanent: Option<&[String]>, keyword: &str) -> bool {
    match permanent {
        None => true,
        Some(list) => list
            .iter()
            .any(|f| f == "\\*" || f.eq_ignore_ascii_case(keyword)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(u32, &str)]) -> Keywords {
        Keywords::from_entries(entries.iter().map(|(s, n)| (*s, n.to_string())))
    }

    #[test]
    fn resolves_standard_named_and_new_keywords() {
        let mut t = table(&[(0, "$Junk"), (2, "$Label1")]);
        assert_eq!(t.resolve("\\Seen"), Some(Flags::SEEN));
        assert_eq!(t.resolve("\\Recent"), None);
        assert_eq!(t.resolve("$junk"), Some(Flags::keyword(0)));
        assert_eq!(t.resolve("$Label1"), Some(Flags::keyword(2)));
        assert!(!t.has_additions());
        // A new keyword takes the first free slot; named ones never move.
        assert_eq!(t.resolve("$NotJunk"), Some(Flags::keyword(1)));
        assert_eq!(t.resolve("work"), Some(Flags::keyword(3)));
        assert_eq!(
            t.additions().collect::<Vec<_>>(),
            vec![(1, "$NotJunk"), (3, "work")]
        );
        assert_eq!(t.slot("$Junk"), Some(0));
        assert_eq!(
            t.named(),
            Flags::STANDARD
                .union(Flags::keyword(0))
                .union(Flags::keyword(1))
                .union(Flags::keyword(2))
                .union(Flags::keyword(3))
        );
    }

    #[test]
    fn a_27th_keyword_overflows_and_is_remembered() {
        let mut t = Keywords::default();
        for i in 0..26 {
            assert_eq!(t.resolve(&format!("k{i}")), Some(Flags::keyword(i)));
        }
        assert_eq!(t.resolve("k26"), None);
        assert_eq!(t.resolve("K26"), None);
        assert_eq!(
            t.overflow().iter().collect::<Vec<_>>(),
            vec![(&"k26".to_string(), &2)]
        );
        assert_eq!(t.named(), Flags::all());
    }

    #[test]
    fn imap_list_names_keywords_and_skips_unnamed_slots() {
        let t = table(&[(0, "$Junk"), (2, "$Label1")]);
        let f = Flags::SEEN
            .union(Flags::keyword(0))
            .union(Flags::keyword(1))
            .union(Flags::keyword(2));
        assert_eq!(t.imap_list(f), "(\\Seen $Junk $Label1)");
        assert_eq!(t.imap_list(Flags::empty()), "()");
    }

    #[test]
    fn odd_entries_are_ignored_like_dovecot_does() {
        let t = table(&[
            (0, "$Junk"),
            (0, "second"),  // slot taken
            (1, "$JUNK"),   // name taken
            (26, "beyond"), // past z
            (3, ""),        // no name
            (4, "has space"),
            (6, "ok"),
        ]);
        assert_eq!(
            t.entries().collect::<Vec<_>>(),
            vec![(0, "$Junk"), (4, "has space"), (6, "ok")]
        );
        // The odd name holds its slot but is never synced.
        assert_eq!(
            t.named(),
            Flags::STANDARD
                .union(Flags::keyword(0))
                .union(Flags::keyword(6))
        );
        let mut t = t;
        assert_eq!(t.resolve("new"), Some(Flags::keyword(1)));
        assert_eq!(t.imap_list(Flags::keyword(4)), "()");
    }

    #[test]
    fn additions_merge_into_a_fresh_file_or_refuse() {
        let mut ours = table(&[(0, "$Junk")]);
        ours.resolve("$Label1"); // slot 1
                                 // Dovecot named slot 2 meanwhile: merged, ours kept.
        let fresh = table(&[(0, "$Junk"), (2, "$Label2")]);
        let merged = ours.merge_additions_into(&fresh).unwrap();
        assert_eq!(
            merged.entries().collect::<Vec<_>>(),
            vec![(0, "$Junk"), (1, "$Label1"), (2, "$Label2")]
        );
        assert!(!merged.has_additions());
        // Dovecot gave slot 1 to something else: refused.
        let fresh = table(&[(0, "$Junk"), (1, "$Other")]);
        assert!(ours.merge_additions_into(&fresh).is_err());
        // ...or named ours elsewhere.
        let fresh = table(&[(0, "$Junk"), (4, "$label1")]);
        assert!(ours.merge_additions_into(&fresh).is_err());
        // The same entry written by both is fine.
        let fresh = table(&[(0, "$Junk"), (1, "$Label1")]);
        assert!(ours.merge_additions_into(&fresh).is_ok());
    }

    #[test]
    fn a_message_moved_between_folders_keeps_its_keywords_by_name() {
        let from = table(&[(0, "$Label1"), (1, "$Junk"), (3, "$Gone")]);
        let mut to = table(&[(0, "$Junk"), (2, "odd")]);
        let flags = Flags::SEEN
            .union(Flags::keyword(0))
            .union(Flags::keyword(1))
            .union(Flags::keyword(2)) // unnamed in from, named in to: dropped
            .union(Flags::keyword(4)); // unnamed in both: kept
        let moved = to.translate(flags, &from);
        // $Label1 is new here: the first free slot (1).
        assert_eq!(
            moved,
            Flags::SEEN
                .union(Flags::keyword(0))
                .union(Flags::keyword(1))
                .union(Flags::keyword(4))
        );
        assert_eq!(to.additions().collect::<Vec<_>>(), vec![(1, "$Label1")]);
    }

    #[test]
    fn permanentflags_decide_what_the_server_stores() {
        let with_star = vec!["\\Seen".to_string(), "\\*".to_string()];
        let listed = vec!["\\Seen".to_string(), "$Junk".to_string()];
        assert!(keyword_storable(None, "$Label1"));
        assert!(keyword_storable(Some(&with_star), "$Label1"));
        assert!(keyword_storable(Some(&listed), "$junk"));
        assert!(!keyword_storable(Some(&listed), "$Label1"));
        assert!(!keyword_storable(Some(&[]), "$Label1"));
        let t = table(&[(0, "$Junk"), (1, "$Label1"), (2, "odd name")]);
        assert_eq!(t.refused(Some(&listed)), Flags::keyword(1));
        assert_eq!(t.refused(Some(&with_star)), Flags::empty());
        assert_eq!(t.refused(None), Flags::empty());
    }
}
