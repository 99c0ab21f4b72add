//! The query language of `imapdir search`, turned into IMAP SEARCH keys
//! (RFC 3501 section 6.4.4). Pure: no I/O, no clock.
//!
//! A query is words separated by spaces, all of which must match:
//!
//! - `from:` `to:` `cc:` `bcc:` `subject:` `body:` `text:` and a word:
//!   that header (or the body, or the whole message) contains it;
//!   `header:NAME:WORD` any other header field.
//! - `since:` `before:` `on:` and a date `YYYY-MM-DD`: the server's
//!   INTERNALDATE (when the message arrived) on or after, before, on it.
//! - `larger:` `smaller:` and a size: bytes, or with `k`, `M`, `G`
//!   (powers of 1024, `1.5M` and `500kb` too).
//! - `unread` `read` `flagged` `unflagged` `answered` `unanswered` `draft`
//!   `deleted` `undeleted` (also as `is:unread` and so on): the flags.
//! - Any other word: the whole message contains it (TEXT).
//!
//! `"..."` quotes a word with spaces (`subject:"budget 2024"`) or one that
//! would otherwise be read as a key or operator (`"unread"`, `"or"`,
//! `"http://x"`); `\"` and `\\` inside quotes. `-word` negates a word,
//! `a or b` matches either (tighter than the implicit "and"), and `( )`
//! groups. A word that is not understood is an error naming it, never a
//! guess.

use std::fmt;

/// One piece of the encoded keys: protocol text sent as it is, or a
/// string the session sends quoted or as a literal (8-bit, long).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Raw(String),
    Str(String),
}

/// Search keys ready to send after `UID SEARCH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchKeys {
    pieces: Vec<Piece>,
    /// Some string is not ASCII: `CHARSET UTF-8` goes before the keys.
    utf8: bool,
}

/// A word of the query that cannot be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("search query: {word:?}: {reason}")]
pub struct QueryError {
    pub word: String,
    pub reason: String,
}

fn bad(word: &str, reason: impl Into<String>) -> QueryError {
    QueryError {
        word: word.to_string(),
        reason: reason.into(),
    }
}

impl SearchKeys {
    /// Raw keys given by the user (`--imap`), sent as written: one line of
    /// ASCII (non-ASCII words need literals, which the query syntax sends).
    pub fn raw(text: &str) -> Result<SearchKeys, QueryError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad(text, "no search keys"));
        }
        if let Some(c) = trimmed
            .chars()
            .find(|c| !c.is_ascii() || c.is_ascii_control())
        {
            return Err(bad(
                text,
                format!(
                    "--imap keys must be printable ASCII on one line (found {c:?}); \
                     the query syntax sends other words as literals"
                ),
            ));
        }
        Ok(SearchKeys {
            pieces: vec![Piece::Raw(trimmed.to_string())],
            utf8: false,
        })
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Whether `CHARSET UTF-8` must precede the keys.
    pub fn needs_utf8(&self) -> bool {
        self.utf8
    }
}

impl fmt::Display for SearchKeys {
    /// The keys as a person reads them: strings quoted, whatever goes as a
    /// literal on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.utf8 {
            f.write_str("CHARSET UTF-8 ")?;
        }
        for piece in &self.pieces {
            match piece {
                Piece::Raw(r) => f.write_str(r)?,
                Piece::Str(s) => f.write_str(&super::command::quote(s))?,
            }
        }
        Ok(())
    }
}

/// Parses a query (see the module documentation).
pub fn parse_query(query: &str) -> Result<SearchKeys, QueryError> {
    let tokens = tokenize(query)?;
    let mut parser = Parser { tokens, at: 0 };
    let nodes = parser.all(0)?;
    if nodes.is_empty() {
        return Err(bad(query, "the query is empty"));
    }
    let mut out = Encoder::default();
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.raw(" ");
        }
        out.node(node);
    }
    let utf8 = out
        .pieces
        .iter()
        .any(|p| matches!(p, Piece::Str(s) if !s.is_ascii()));
    Ok(SearchKeys {
        pieces: out.pieces,
        utf8,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    /// `-` right before a word or group.
    Not,
    Word(Word),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Word {
    /// As typed, for messages.
    typed: String,
    /// Quotes removed.
    text: String,
    /// Byte offset in `text` of the first `:` outside quotes, when no quote
    /// came before it: what separates a key from its value.
    colon: Option<usize>,
    /// Some part was quoted: never a key word or operator.
    quoted: bool,
}

fn tokenize(query: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '(' => {
                tokens.push(Token::Open);
                i += 1;
                continue;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
                continue;
            }
            '-' => {
                if chars
                    .get(i + 1)
                    .is_none_or(|n| n.is_whitespace() || *n == ')')
                {
                    return Err(bad("-", "a lone - negates nothing; write -word"));
                }
                tokens.push(Token::Not);
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        let mut word = Word {
            typed: String::new(),
            text: String::new(),
            colon: None,
            quoted: false,
        };
        let mut in_quotes = false;
        while i < chars.len() {
            let c = chars[i];
            if in_quotes {
                match c {
                    '"' => in_quotes = false,
                    '\\' if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                        i += 1;
                        word.text.push(chars[i]);
                    }
                    _ => word.text.push(c),
                }
                i += 1;
                continue;
            }
            if c.is_whitespace() || c == ')' {
                break;
            }
            match c {
                '"' => {
                    in_quotes = true;
                    word.quoted = true;
                }
                ':' if word.colon.is_none() && !word.quoted => {
                    word.colon = Some(word.text.len());
                    word.text.push(c);
                }
                _ => word.text.push(c),
            }
            i += 1;
        }
        word.typed = chars[start..i].iter().collect();
        if in_quotes {
            return Err(bad(&word.typed, "the quote is not closed"));
        }
        tokens.push(Token::Word(word));
    }
    Ok(tokens)
}

/// What a query means, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// One search key, already as pieces.
    Key(Vec<Piece>),
    And(Vec<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn is_or(token: Option<&Token>) -> bool {
        matches!(token, Some(Token::Word(w)) if !w.quoted && w.text.eq_ignore_ascii_case("or"))
    }

    /// Terms up to the end, or up to the `)` closing a group at `depth`.
    fn all(&mut self, depth: usize) -> Result<Vec<Node>, QueryError> {
        let mut nodes = Vec::new();
        loop {
            match self.peek() {
                None => {
                    if depth > 0 {
                        return Err(bad("(", "the parenthesis is not closed"));
                    }
                    return Ok(nodes);
                }
                Some(Token::Close) => {
                    if depth == 0 {
                        return Err(bad(")", "no ( opens this parenthesis"));
                    }
                    return Ok(nodes);
                }
                Some(_) => nodes.push(self.either()?),
            }
        }
    }

    /// `a or b or c`.
    fn either(&mut self) -> Result<Node, QueryError> {
        let mut left = self.unary()?;
        while Self::is_or(self.peek()) {
            self.at += 1;
            match self.peek() {
                None | Some(Token::Close) => {
                    return Err(bad("or", "or needs a term after it"));
                }
                _ => {}
            }
            let right = self.unary()?;
            left = Node::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, QueryError> {
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Not) => {
                if matches!(self.peek(), None | Some(Token::Close)) {
                    return Err(bad("-", "a lone - negates nothing; write -word"));
                }
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some(Token::Open) => {
                let inner = self.all(1)?;
                // all(1) stops at the `)`.
                self.at += 1;
                match inner.len() {
                    0 => Err(bad("()", "an empty group matches nothing")),
                    1 => Ok(inner.into_iter().next().expect("one node")),
                    _ => Ok(Node::And(inner)),
                }
            }
            Some(Token::Word(w)) if Self::is_or(Some(&Token::Word(w.clone()))) => {
                Err(bad(&w.typed, "or needs a term before it"))
            }
            Some(Token::Word(w)) => term(&w).map(Node::Key),
            Some(Token::Close) | None => Err(bad(")", "no ( opens this parenthesis")),
        }
    }
}

const FLAG_WORDS: &[(&str, &str)] = &[
    ("unread", "UNSEEN"),
    ("unseen", "UNSEEN"),
    ("read", "SEEN"),
    ("seen", "SEEN"),
    ("flagged", "FLAGGED"),
    ("unflagged", "UNFLAGGED"),
    ("answered", "ANSWERED"),
    ("unanswered", "UNANSWERED"),
    ("draft", "DRAFT"),
    ("undraft", "UNDRAFT"),
    ("deleted", "DELETED"),
    ("undeleted", "UNDELETED"),
];

const STRING_KEYS: &[(&str, &str)] = &[
    ("from", "FROM"),
    ("to", "TO"),
    ("cc", "CC"),
    ("bcc", "BCC"),
    ("subject", "SUBJECT"),
    ("body", "BODY"),
    ("text", "TEXT"),
];

const KNOWN_KEYS: &str = "from: to: cc: bcc: subject: body: text: header: since: before: on: \
                          larger: smaller: is:";

/// One word: its search key.
fn term(word: &Word) -> Result<Vec<Piece>, QueryError> {
    let raw = |s: &str| Piece::Raw(s.to_string());
    if word.text.is_empty() {
        return Err(bad(
            &word.typed,
            "an empty word matches everything; leave it out",
        ));
    }
    let flag = |name: &str| {
        FLAG_WORDS
            .iter()
            .find(|(w, _)| w.eq_ignore_ascii_case(name))
            .map(|(_, key)| vec![raw(key)])
    };
    let Some(colon) = word.colon else {
        if !word.quoted {
            if let Some(key) = flag(&word.text) {
                return Ok(key);
            }
        }
        return Ok(vec![raw("TEXT "), Piece::Str(word.text.clone())]);
    };
    let key = word.text[..colon].to_ascii_lowercase();
    let value = &word.text[colon + 1..];
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
        // `12:30`, `:x`: not a key, a word to find.
        return Ok(vec![raw("TEXT "), Piece::Str(word.text.clone())]);
    }
    let known = STRING_KEYS.iter().any(|(k, _)| *k == key)
        || ["header", "since", "before", "on", "larger", "smaller", "is"].contains(&key.as_str());
    if !known {
        return Err(bad(
            &word.typed,
            format!("unknown key {key}: (known: {KNOWN_KEYS}); quote the word to search for it"),
        ));
    }
    if value.is_empty() {
        return Err(bad(
            &word.typed,
            format!("{key}: needs a value, as in {key}:{}", example(&key)),
        ));
    }
    if let Some((_, imap)) = STRING_KEYS.iter().find(|(k, _)| *k == key) {
        return Ok(vec![
            raw(&format!("{imap} ")),
            Piece::Str(value.to_string()),
        ]);
    }
    match key.as_str() {
        "is" => flag(value).ok_or_else(|| {
            let names: Vec<&str> = FLAG_WORDS.iter().map(|(w, _)| *w).collect();
            bad(
                &word.typed,
                format!("unknown flag {value:?} (known: {})", names.join(" ")),
            )
        }),
        "header" => {
            let Some((name, text)) = value.split_once(':') else {
                return Err(bad(
                    &word.typed,
                    "header: needs a field and a word, as in header:List-Id:announce",
                ));
            };
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':' && b != b'"')
            {
                return Err(bad(
                    &word.typed,
                    format!("{name:?} is not a header field name"),
                ));
            }
            if text.is_empty() {
                return Err(bad(
                    &word.typed,
                    "header: needs a word after the field, as in header:List-Id:announce",
                ));
            }
            Ok(vec![
                raw(&format!("HEADER {name} ")),
                Piece::Str(text.to_string()),
            ])
        }
        "since" | "before" | "on" => {
            let date = imap_date(value).ok_or_else(|| {
                bad(
                    &word.typed,
                    format!("{value:?} is not a date; write YYYY-MM-DD, as in {key}:2024-01-31"),
                )
            })?;
            Ok(vec![raw(&format!("{} {date}", key.to_ascii_uppercase()))])
        }
        "larger" | "smaller" => {
            let size = parse_size(value).map_err(|reason| bad(&word.typed, reason))?;
            Ok(vec![raw(&format!("{} {size}", key.to_ascii_uppercase()))])
        }
        _ => unreachable!("every known key is handled"),
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "since" | "before" | "on" => "2024-01-31",
        "larger" | "smaller" => "1M",
        "is" => "unread",
        "header" => "List-Id:announce",
        _ => "alice",
    }
}

/// `YYYY-MM-DD` as an IMAP date (`5-Mar-2024`), checked.
pub fn imap_date(text: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || m.is_empty()
        || m.len() > 2
        || d.is_empty()
        || d.len() > 2
        || ![y, m, d]
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let (year, month, day): (u32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year == 0 || day == 0 || day > days {
        return None;
    }
    Some(format!("{day}-{}-{year:04}", MONTHS[month as usize - 1]))
}

/// A size such as `500`, `500k`, `1.5M`, `2GB` in bytes (k = 1024); IMAP
/// sizes are 32-bit.
pub fn parse_size(text: &str) -> Result<u32, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?} is not a size; write bytes or a number with k, M or G, as in 500k"
            ))
        }
    };
    let not_a_number =
        || format!("{text:?} is not a size; write bytes or a number with k, M or G, as in 500k");
    let bytes = match number.split_once('.') {
        None => {
            if number.is_empty() {
                return Err(not_a_number());
            }
            number
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_mul(scale))
        }
        Some((whole, fraction)) => {
            if (whole.is_empty() && fraction.is_empty())
                || fraction.contains('.')
                || fraction.len() > 6
            {
                return Err(not_a_number());
            }
            let whole: u64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| not_a_number())?
            };
            let digits = fraction.len() as u32;
            let fraction: u64 = if fraction.is_empty() {
                0
            } else {
                fraction.parse().map_err(|_| not_a_number())?
            };
            whole
                .checked_mul(scale)
                .and_then(|w| w.checked_add(fraction * scale / 10u64.pow(digits)))
        }
    };
    bytes
        .and_then(|b| u32::try_from(b).ok())
        .ok_or_else(|| format!("{text:?} is too large: IMAP sizes stop below 4G"))
}

#[derive(Default)]
struct Encoder {
    pieces: Vec<Piece>,
}

impl Encoder {
    fn raw(&mut self, text: &str) {
        if let Some(Piece::Raw(last)) = self.pieces.last_mut() {
            last.push_str(text);
        } else {
            self.pieces.push(Piece::Raw(text.to_string()));
        }
    }

    /// One search-key: a group is parenthesised.
    fn node(&mut self, node: &Node) {
        match node {
            Node::Key(pieces) => {
                for piece in pieces {
                    match piece {
                        Piece::Raw(r) => self.raw(r),
                        Piece::Str(s) => self.pieces.push(Piece::Str(s.clone())),
                    }
                }
            }
            Node::And(nodes) => {
                self.raw("(");
                for (i, n) in nodes.iter().enumerate() {
                    if i > 0 {
                        self.raw(" ");
                    }
                    self.node(n);
                }
                self.raw(")");
            }
            Node::Or(a, b) => {
                self.raw("OR ");
                self.node(a);
                self.raw(" ");
                self.node(b);
            }
            Node::Not(n) => {
                self.raw("NOT ");
                self.node(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(query: &str) -> String {
        parse_query(query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .to_string()
    }

    fn error(query: &str) -> QueryError {
        parse_query(query).expect_err(query)
    }

    #[test]
    fn every_string_key() {
        assert_eq!(keys("from:alice"), r#"FROM "alice""#);
        assert_eq!(keys("to:bob"), r#"TO "bob""#);
        assert_eq!(keys("cc:carol"), r#"CC "carol""#);
        assert_eq!(keys("bcc:dave"), r#"BCC "dave""#);
        assert_eq!(keys("subject:budget"), r#"SUBJECT "budget""#);
        assert_eq!(keys("body:invoice"), r#"BODY "invoice""#);
        assert_eq!(keys("text:hello"), r#"TEXT "hello""#);
        assert_eq!(keys("FROM:Alice"), r#"FROM "Alice""#);
        assert_eq!(
            keys("header:List-Id:announce"),
            r#"HEADER List-Id "announce""#
        );
    }

    #[test]
    fn bare_words_are_text_and_terms_are_anded() {
        assert_eq!(keys("invoice"), r#"TEXT "invoice""#);
        assert_eq!(
            keys("from:alice subject:budget  invoice"),
            r#"FROM "alice" SUBJECT "budget" TEXT "invoice""#
        );
        assert_eq!(keys("12:30"), r#"TEXT "12:30""#);
    }

    #[test]
    fn flags() {
        assert_eq!(keys("unread"), "UNSEEN");
        assert_eq!(keys("unseen read seen"), "UNSEEN SEEN SEEN");
        assert_eq!(keys("flagged unflagged"), "FLAGGED UNFLAGGED");
        assert_eq!(keys("answered unanswered"), "ANSWERED UNANSWERED");
        assert_eq!(keys("draft undraft"), "DRAFT UNDRAFT");
        assert_eq!(keys("deleted undeleted"), "DELETED UNDELETED");
        assert_eq!(keys("is:unread is:Flagged"), "UNSEEN FLAGGED");
        assert_eq!(keys("Unread"), "UNSEEN");
    }

    #[test]
    fn quoting() {
        assert_eq!(keys(r#"subject:"budget 2024""#), r#"SUBJECT "budget 2024""#);
        assert_eq!(keys(r#""unread""#), r#"TEXT "unread""#);
        assert_eq!(keys(r#""or""#), r#"TEXT "or""#);
        assert_eq!(keys(r#""http://x.org/a b""#), r#"TEXT "http://x.org/a b""#);
        assert_eq!(keys(r#"subject:"say \"hi\"""#), r#"SUBJECT "say \"hi\"""#);
        assert_eq!(keys(r#"text:"a\\b""#), r#"TEXT "a\\b""#);
        assert_eq!(keys(r#"subj"ect:x""#), r#"TEXT "subject:x""#);
        assert_eq!(keys(r#"text:"(x)""#), r#"TEXT "(x)""#);
        let e = error(r#"subject:"open"#);
        assert_eq!(e.word, r#"subject:"open"#);
        assert!(e.reason.contains("not closed"), "{e}");
    }

    #[test]
    fn non_ascii_words_need_utf8_and_go_as_literals() {
        let k = parse_query("subject:Grüße body:Überweisung").unwrap();
        assert!(k.needs_utf8());
        assert_eq!(
            k.pieces(),
            &[
                Piece::Raw("SUBJECT ".into()),
                Piece::Str("Grüße".into()),
                Piece::Raw(" BODY ".into()),
                Piece::Str("Überweisung".into()),
            ]
        );
        assert!(crate::imap::command::needs_literal("Grüße"));
        assert_eq!(
            k.to_string(),
            r#"CHARSET UTF-8 SUBJECT "Grüße" BODY "Überweisung""#
        );
        assert!(!parse_query("subject:Gruss").unwrap().needs_utf8());
        assert_eq!(keys("日本"), r#"CHARSET UTF-8 TEXT "日本""#);
    }

    #[test]
    fn dates() {
        assert_eq!(keys("since:2024-01-01"), "SINCE 1-Jan-2024");
        assert_eq!(keys("before:2024-12-31"), "BEFORE 31-Dec-2024");
        assert_eq!(keys("on:2024-02-29"), "ON 29-Feb-2024");
        assert_eq!(keys("since:2000-2-9"), "SINCE 9-Feb-2000");
        for bad_date in [
            "since:2023-02-29",
            "since:1900-02-29",
            "since:2024-13-01",
            "since:2024-04-31",
            "since:2024-00-10",
            "since:2024-01-00",
            "since:24-01-01",
            "since:yesterday",
            "since:2024-01-01-01",
            "since:2024/01/01",
            "before:0000-01-01",
        ] {
            let e = error(bad_date);
            assert_eq!(e.word, bad_date);
            assert!(e.reason.contains("YYYY-MM-DD"), "{e}");
        }
        assert_eq!(imap_date("2000-02-29").as_deref(), Some("29-Feb-2000"));
    }

    #[test]
    fn sizes() {
        assert_eq!(keys("larger:1M"), "LARGER 1048576");
        assert_eq!(keys("smaller:500k"), "SMALLER 512000");
        assert_eq!(keys("larger:500"), "LARGER 500");
        assert_eq!(keys("larger:2kb smaller:3KiB"), "LARGER 2048 SMALLER 3072");
        assert_eq!(keys("larger:1.5M"), "LARGER 1572864");
        assert_eq!(keys("larger:.5k"), "LARGER 512");
        assert_eq!(keys("larger:3G"), "LARGER 3221225472");
        assert_eq!(parse_size("10B"), Ok(10));
        for bad_size in [
            "larger:4G",
            "larger:99999999999",
            "larger:1T",
            "larger:k",
            "larger:1..5M",
            "larger:.",
            "smaller:-5",
            "smaller:five",
        ] {
            let e = error(bad_size);
            assert_eq!(e.word, bad_size);
        }
        assert!(error("larger:4G").reason.contains("too large"));
        assert!(error("larger:1T").reason.contains("not a size"));
    }

    #[test]
    fn negation_or_and_groups() {
        assert_eq!(keys("-from:alice"), r#"NOT FROM "alice""#);
        assert_eq!(keys("-unread"), "NOT UNSEEN");
        assert_eq!(
            keys("from:alice or from:bob"),
            r#"OR FROM "alice" FROM "bob""#
        );
        assert_eq!(
            keys("from:a OR from:b or from:c subject:x"),
            r#"OR OR FROM "a" FROM "b" FROM "c" SUBJECT "x""#
        );
        assert_eq!(
            keys("(from:a subject:x) or flagged"),
            r#"OR (FROM "a" SUBJECT "x") FLAGGED"#
        );
        assert_eq!(keys("-(from:a subject:x)"), r#"NOT (FROM "a" SUBJECT "x")"#);
        assert_eq!(keys("(unread)"), "UNSEEN");
        assert_eq!(keys("--flagged"), "NOT NOT FLAGGED");
    }

    #[test]
    fn bad_words_are_named() {
        let e = error("from:alice colour:red");
        assert_eq!(e.word, "colour:red");
        assert!(e.reason.contains("unknown key colour:"), "{e}");
        assert!(e.reason.contains("quote"), "{e}");
        assert_eq!(error("from:").word, "from:");
        assert!(error("from:").reason.contains("needs a value"));
        assert_eq!(error(r#"subject:"""#).word, r#"subject:"""#);
        assert_eq!(error(r#""""#).word, r#""""#);
        assert_eq!(error("is:purple").word, "is:purple");
        assert_eq!(error("or flagged").word, "or");
        assert_eq!(error("flagged or").word, "or");
        assert_eq!(error("flagged -").word, "-");
        assert_eq!(error("(flagged").word, "(");
        assert_eq!(error("flagged)").word, ")");
        assert_eq!(error("()").word, "()");
        assert_eq!(error("header:List-Id").word, "header:List-Id");
        assert_eq!(error("header:Bad Name:x").word, "header:Bad");
        assert_eq!(error("").reason, "the query is empty");
        assert_eq!(error("   ").reason, "the query is empty");
        assert_eq!(
            error("colour:red").to_string(),
            "search query: \"colour:red\": unknown key colour: (known: from: to: cc: bcc: \
             subject: body: text: header: since: before: on: larger: smaller: is:); \
             quote the word to search for it"
        );
    }

    #[test]
    fn raw_keys_are_sent_as_written_and_checked() {
        let k = SearchKeys::raw(" OR FROM a FROM b ").unwrap();
        assert_eq!(k.pieces(), &[Piece::Raw("OR FROM a FROM b".into())]);
        assert!(!k.needs_utf8());
        assert!(SearchKeys::raw("").is_err());
        assert!(SearchKeys::raw("ALL\r\nA1 DELETE INBOX").is_err());
        assert!(SearchKeys::raw("SUBJECT Grüße").is_err());
    }
}
