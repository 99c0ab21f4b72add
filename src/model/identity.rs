//! What a server calls one message across its folders: RFC 8474 EMAILID,
//! Dovecot's X-GUID, Gmail's X-GM-MSGID. Two folders holding the same
//! identity hold the same bytes, so the second needs no download.
//!
//! Kept in a compact form, since a first sync lists one per message: hex
//! identities (Dovecot's 32 digits) as their bytes, others as their text,
//! behind a tag byte so the two forms never collide.

/// Tag bytes of [`identity_key`].
const HEX: u8 = 0;
const TEXT: u8 = 1;

/// The stored form of a server's identity text.
pub fn identity_key(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let is_hex = !bytes.is_empty()
        && bytes.len().is_multiple_of(2)
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
    if is_hex {
        let mut key = Vec::with_capacity(1 + bytes.len() / 2);
        key.push(HEX);
        for pair in bytes.chunks(2) {
            let digit = |b: u8| {
                if b.is_ascii_digit() {
                    b - b'0'
                } else {
                    b - b'a' + 10
                }
            };
            key.push(digit(pair[0]) << 4 | digit(pair[1]));
        }
        key
    } else {
        let mut key = Vec::with_capacity(1 + bytes.len());
        key.push(TEXT);
        key.extend_from_slice(bytes);
        key
    }
}

/// The identities of a folder's listed messages, by UID, in one buffer:
/// a few bytes each rather than an allocation each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    /// UID, offset into `keys`, length; sorted by UID once [`Identities::sort`] ran.
    entries: Vec<(super::Uid, u32, u16)>,
    keys: Vec<u8>,
}

impl Identities {
    pub fn push(&mut self, uid: super::Uid, key: &[u8]) {
        let (Ok(offset), Ok(len)) = (u32::try_from(self.keys.len()), u16::try_from(key.len()))
        else {
            return;
        };
        self.keys.extend_from_slice(key);
        self.entries.push((uid, offset, len));
    }

    /// Orders by UID (a later entry for a UID wins), for [`Identities::get`].
    pub fn sort(&mut self) {
        let mut indexed: Vec<(usize, (super::Uid, u32, u16))> =
            self.entries.drain(..).enumerate().collect();
        indexed.sort_by_key(|&(i, (uid, _, _))| (uid, std::cmp::Reverse(i)));
        indexed.dedup_by_key(|(_, (uid, _, _))| *uid);
        self.entries = indexed.into_iter().map(|(_, e)| e).collect();
    }

    /// Keeps only the UIDs `keep` accepts (the ones not yet paired).
    pub fn retain(&mut self, mut keep: impl FnMut(super::Uid) -> bool) {
        self.entries.retain(|&(uid, _, _)| keep(uid));
        if self.entries.is_empty() {
            self.keys = Vec::new();
        }
    }

    pub fn get(&self, uid: super::Uid) -> Option<&[u8]> {
        let i = self.entries.binary_search_by_key(&uid, |e| e.0).ok()?;
        let (_, offset, len) = self.entries[i];
        Some(&self.keys[offset as usize..offset as usize + len as usize])
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds another listing's identities (changes merged into a listing).
    pub fn extend(&mut self, other: &Identities) {
        for &(uid, offset, len) in &other.entries {
            self.push(
                uid,
                &other.keys[offset as usize..offset as usize + len as usize],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Uid;
    use super::*;

    #[test]
    fn hex_identities_are_stored_as_bytes_and_others_as_text() {
        assert_eq!(
            identity_key("0a1b"),
            vec![HEX, 0x0a, 0x1b],
            "Dovecot's X-GUID is lowercase hex"
        );
        assert_eq!(identity_key("M6d952b5c"), b"\x01M6d952b5c".to_vec());
        // Odd length or uppercase is text: never two texts with one key.
        assert_eq!(identity_key("abc"), b"\x01abc".to_vec());
        assert_eq!(identity_key("0A1B"), b"\x010A1B".to_vec());
        assert_ne!(identity_key("0a1b"), identity_key("\u{0a}\u{1b}"));
        assert_eq!(identity_key("8c5ae1173ab8d364b70d0000c54e5df8").len(), 17);
    }

    #[test]
    fn identities_are_found_by_uid_and_a_later_one_wins() {
        let mut ids = Identities::default();
        ids.push(Uid(9), b"nine");
        ids.push(Uid(3), b"three");
        ids.push(Uid(9), b"nine again");
        ids.sort();
        assert_eq!(ids.get(Uid(3)), Some(&b"three"[..]));
        assert_eq!(ids.get(Uid(9)), Some(&b"nine again"[..]));
        assert_eq!(ids.get(Uid(4)), None);
        assert_eq!(ids.len(), 2);
        ids.retain(|uid| uid != Uid(3));
        assert_eq!(ids.get(Uid(3)), None);
        assert_eq!(ids.get(Uid(9)), Some(&b"nine again"[..]));
    }
}
