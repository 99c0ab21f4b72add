//! NAMESPACE (RFC 2342): where the account's own folders live (`INBOX.`
//! with `.` on Cyrus and Courier, nothing on Dovecot and Gmail), and the
//! other users' and shared folders beside them.
//!
//! `imap-proto` 0.17 does not parse the NAMESPACE response, so it is read
//! here from the raw frame; a response that does not parse is treated as
//! no namespace information at all, never as a guess.

use super::framing::Frame;
use super::response::starts_with_ignore_case;

/// One namespace: its prefix as on the wire (modified UTF-7) and its
/// hierarchy delimiter (`None` for a flat namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// The three kinds of namespace a server announces, each possibly empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub personal: Vec<Namespace>,
    pub other_users: Vec<Namespace>,
    pub shared: Vec<Namespace>,
}

/// Reads `* NAMESPACE personal other shared` from a frame; `None` for any
/// other response, or one that does not follow the grammar.
pub(crate) fn parse_namespace_frame(frame: &Frame) -> Option<Namespaces> {
    let data = frame.data.as_slice();
    if !starts_with_ignore_case(data, b"* NAMESPACE ") {
        return None;
    }
    let mut reader = Reader {
        data,
        at: b"* NAMESPACE ".len(),
    };
    let personal = reader.group()?;
    reader.space()?;
    let other_users = reader.group()?;
    reader.space()?;
    let shared = reader.group()?;
    reader.rest_is_blank().then_some(Namespaces {
        personal,
        other_users,
        shared,
    })
}

/// A cursor over one response line.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn space(&mut self) -> Option<()> {
        self.expect(b' ')
    }

    fn rest_is_blank(&self) -> bool {
        self.data[self.at..]
            .iter()
            .all(|b| matches!(b, b' ' | b'\r' | b'\n'))
    }

    /// `NIL` or `(` one or more namespace descriptions `)`.
    fn group(&mut self) -> Option<Vec<Namespace>> {
        if self.nil() {
            return Some(Vec::new());
        }
        self.expect(b'(')?;
        let mut found = Vec::new();
        while self.peek()? == b'(' {
            found.push(self.description()?);
            if self.peek()? == b' ' {
                self.at += 1;
            }
        }
        self.expect(b')')?;
        Some(found)
    }

    /// `(prefix delimiter *(extension))`; extensions are skipped.
    fn description(&mut self) -> Option<Namespace> {
        self.expect(b'(')?;
        let prefix = self.string()?;
        self.space()?;
        let delimiter = if self.nil() {
            None
        } else {
            let d = self.string()?;
            let mut chars = d.chars();
            let c = chars.next()?;
            chars.next().is_none().then_some(c)?;
            Some(c)
        };
        // Namespace response extensions (RFC 2342 section 5): skip them,
        // balancing parentheses and honouring quoted strings.
        let mut depth = 0usize;
        loop {
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'(' => {
                    depth += 1;
                    self.at += 1;
                }
                b')' if depth == 0 => {
                    self.at += 1;
                    return Some(Namespace { prefix, delimiter });
                }
                b')' => {
                    depth -= 1;
                    self.at += 1;
                }
                b'\r' | b'\n' => return None,
                _ => self.at += 1,
            }
        }
    }

    fn nil(&mut self) -> bool {
        let end = self.at + 3;
        if self.data.len() >= end && self.data[self.at..end].eq_ignore_ascii_case(b"NIL") {
            self.at = end;
            true
        } else {
            false
        }
    }

    /// A quoted string or a literal (`{n}` CRLF and n bytes).
    fn string(&mut self) -> Option<String> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                let mut out = Vec::new();
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.at += 1;
                            return String::from_utf8(out).ok();
                        }
                        b'\\' => {
                            self.at += 1;
                            out.push(self.peek()?);
                            self.at += 1;
                        }
                        b'\r' | b'\n' => return None,
                        b => {
                            out.push(b);
                            self.at += 1;
                        }
                    }
                }
            }
            b'{' => {
                let close = self.data[self.at..].iter().position(|&b| b == b'}')?;
                let len: usize = std::str::from_utf8(&self.data[self.at + 1..self.at + close])
                    .ok()?
                    .parse()
                    .ok()?;
                self.at += close + 1;
                self.expect(b'\r')?;
                self.expect(b'\n')?;
                let bytes = self.data.get(self.at..self.at.checked_add(len)?)?;
                self.at += len;
                String::from_utf8(bytes.to_vec()).ok()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(line: &str) -> Frame {
        Frame {
            data: line.as_bytes().to_vec(),
            body_literals: Vec::new(),
            oversized: false,
            trace: String::new(),
        }
    }

    fn ns(prefix: &str, delimiter: Option<char>) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            delimiter,
        }
    }

    #[test]
    fn reads_the_common_server_answers() {
        let dovecot = parse_namespace_frame(&frame("* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"));
        assert_eq!(
            dovecot,
            Some(Namespaces {
                personal: vec![ns("", Some('/'))],
                ..Namespaces::default()
            })
        );
        let cyrus = parse_namespace_frame(&frame(
            "* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\n",
        ))
        .unwrap();
        assert_eq!(cyrus.personal, vec![ns("INBOX.", Some('.'))]);
        assert_eq!(cyrus.other_users, vec![ns("user.", Some('.'))]);
        assert_eq!(cyrus.shared, vec![ns("", Some('.'))]);
        let two = parse_namespace_frame(&frame(
            "* namespace ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"Public/\" NIL))\r\n",
        ))
        .unwrap();
        assert_eq!(two.personal, vec![ns("", Some('/')), ns("#mh/", Some('/'))]);
        assert_eq!(two.shared, vec![ns("Public/", None)]);
    }

    #[test]
    fn reads_escapes_and_literals() {
        let parsed = parse_namespace_frame(&frame(
            "* NAMESPACE ((\"a\\\"b.\" \"\\\\\")) NIL ((({4}\r\nPub/ \"/\"))\r\n",
        ));
        // The literal's description is malformed: a nested `(` where a
        // string belongs, so the whole response is refused.
        assert_eq!(parsed, None);
        let parsed = parse_namespace_frame(&frame(
            "* NAMESPACE ((\"a\\\"b.\" \"\\\\\")) NIL (({4}\r\nPub/ \"/\"))\r\n",
        ))
        .unwrap();
        assert_eq!(parsed.personal, vec![ns("a\"b.", Some('\\'))]);
        assert_eq!(parsed.shared, vec![ns("Pub/", Some('/'))]);
    }

    #[test]
    fn refuses_what_does_not_follow_the_grammar() {
        for line in [
            "* NAMESPACE\r\n",
            "* NAMESPACE ((\"\" \"/\")) NIL\r\n",
            "* NAMESPACE ((\"\" \"//\")) NIL NIL\r\n",
            "* NAMESPACE ((\"\" \"/\") NIL NIL\r\n",
            "* NAMESPACE ((\"unterminated \"/\")) NIL NIL\r\n",
            "* NAMESPACE ((\"\" \"/\")) NIL NIL trailing\r\n",
            "* NAMESPACE (({99}\r\nab \"/\")) NIL NIL\r\n",
            // Found by fuzzing: a literal length near usize::MAX overflowed.
            "* NAMESPACE (({18446744073709551615}\r\nab \"/\")) NIL NIL\r\n",
            "* NAMESPACE (({000000000000000000000000018446744073709551615}\r\n\"/\")) NIL NIL\r\n",
            "* LIST () \"/\" INBOX\r\n",
        ] {
            assert_eq!(parse_namespace_frame(&frame(line)), None, "{line:?}");
        }
    }
}
