//! A tiny blocking IMAP client, independent of imapdir, that plays
//! "another client": it seeds, inspects and changes the server so tests
//! never check imapdir with imapdir's own code. Holds the server-side
//! message type, snapshots and a small response tokenizer.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{imap_flags_to_letters, message_id, PASSWORD, USER};

/// A message as the server holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub uid: u32,
    /// System flags and keywords, without the session-only `\Recent`.
    pub flags: Vec<String>,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn letters(&self) -> String {
        imap_flags_to_letters(&self.flags)
    }

    pub fn message_id(&self) -> Option<String> {
        message_id(&self.body)
    }
}

/// A tiny blocking IMAP client, independent of imapdir, that plays
/// "another client changing the server".
pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
}

/// One response line, with any `{N}` literals inlined as raw bytes.
type ResponseLine = Vec<u8>;

impl ImapClient {
    /// Connects to 127.0.0.1:`port` and logs in as bench/bench.
    pub fn connect(port: u16) -> ImapClient {
        Self::connect_as(port, USER, PASSWORD).expect("IMAP login")
    }

    pub fn connect_as(port: u16, user: &str, password: &str) -> Result<ImapClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut client = ImapClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next_tag: 1,
        };
        let greeting = client.read_line();
        if !greeting.starts_with(b"* OK") {
            return Err(format!("bad greeting {}", lossy(&greeting)));
        }
        client.try_command(&format!("LOGIN {} {}", quote(user), quote(password)))?;
        Ok(client)
    }

    pub fn create(&mut self, name: &str) {
        self.command(&format!("CREATE {}", quote(name)));
    }

    pub fn delete(&mut self, name: &str) {
        self.command(&format!("DELETE {}", quote(name)));
    }

    /// Raw (modified UTF-7) names of all folders, delimiter "/".
    pub fn list(&mut self) -> Vec<String> {
        let (untagged, _) = self.command(r#"LIST "" "*""#);
        let mut names = Vec::new();
        for line in untagged {
            if !line.starts_with(b"* LIST ") {
                continue;
            }
            let tokens = parse_tokens(&line[2..]);
            // LIST (attributes) "delimiter" name
            if let (Some(Token::List(attrs)), Some(name)) = (tokens.get(1), tokens.get(3)) {
                let noselect = attrs.iter().any(|a| {
                    matches!(a, Token::Atom(s) if s.eq_ignore_ascii_case("\\Noselect")
                        || s.eq_ignore_ascii_case("\\NonExistent"))
                });
                if !noselect {
                    names.push(name.as_string());
                }
            }
        }
        names.sort();
        names
    }

    /// Selects a folder; returns (UIDVALIDITY, EXISTS).
    pub fn select(&mut self, name: &str) -> (u32, u32) {
        let (untagged, _) = self.command(&format!("SELECT {}", quote(name)));
        let mut uidvalidity = 0;
        let mut exists = 0;
        for line in &untagged {
            let text = lossy(line);
            if let Some(rest) = text.split("[UIDVALIDITY ").nth(1) {
                uidvalidity = rest.split(']').next().unwrap().trim().parse().unwrap();
            }
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.len() >= 3 && words[2].eq_ignore_ascii_case("EXISTS") {
                exists = words[1].parse().unwrap();
            }
        }
        (uidvalidity, exists)
    }

    /// Appends a message; returns its UID (from APPENDUID).
    /// `flags` is a space-separated list such as `"\\Seen \\Flagged"`.
    pub fn append(&mut self, name: &str, flags: &str, body: &[u8]) -> u32 {
        self.append_with(name, flags, None, body)
    }

    /// Appends a message with an INTERNALDATE such as
    /// `"01-Jan-2020 00:00:00 +0000"`; returns its UID.
    pub fn append_dated(&mut self, name: &str, flags: &str, date: &str, body: &[u8]) -> u32 {
        self.append_with(name, flags, Some(date), body)
    }

    fn append_with(&mut self, name: &str, flags: &str, date: Option<&str>, body: &[u8]) -> u32 {
        let tag = self.tag();
        let date = date.map(|d| format!(" \"{d}\"")).unwrap_or_default();
        let header = format!(
            "{tag} APPEND {} ({flags}){date} {{{}}}\r\n",
            quote(name),
            body.len()
        );
        self.writer.write_all(header.as_bytes()).unwrap();
        let cont = self.read_line();
        assert!(cont.starts_with(b"+"), "APPEND refused: {}", lossy(&cont));
        self.writer.write_all(body).unwrap();
        self.writer.write_all(b"\r\n").unwrap();
        let (_, tagged) = self.finish(&tag).expect("APPEND");
        let text = lossy(&tagged);
        let rest = text
            .split("[APPENDUID ")
            .nth(1)
            .unwrap_or_else(|| panic!("no APPENDUID in {text}"));
        let mut parts = rest.split(']').next().unwrap().split_whitespace();
        parts.next();
        parts.next().unwrap().parse().unwrap()
    }

    /// Every message of a folder, ordered by UID.
    pub fn fetch_all(&mut self, name: &str) -> Vec<Msg> {
        let (_, exists) = self.select(name);
        if exists == 0 {
            return Vec::new();
        }
        let (untagged, _) = self.command("UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
        let mut msgs = Vec::new();
        for line in untagged {
            let Some(pos) = find(&line, b"FETCH (") else {
                continue;
            };
            let tokens = parse_tokens(&line[pos + 6..]);
            let Some(Token::List(items)) = tokens.first() else {
                continue;
            };
            let (mut uid, mut flags, mut body) = (None, None, None);
            let mut i = 0;
            while i + 1 < items.len() {
                let key = items[i].as_string().to_ascii_uppercase();
                match key.as_str() {
                    "UID" => uid = items[i + 1].as_string().parse().ok(),
                    "FLAGS" => {
                        if let Token::List(fl) = &items[i + 1] {
                            flags = Some(
                                fl.iter()
                                    .map(|f| f.as_string())
                                    .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                                    .collect::<Vec<_>>(),
                            );
                        }
                    }
                    "BODY[]" => body = Some(items[i + 1].as_bytes()),
                    _ => {}
                }
                i += 2;
            }
            if let (Some(uid), Some(body)) = (uid, body) {
                let mut flags = flags.unwrap_or_default();
                flags.sort();
                msgs.push(Msg { uid, flags, body });
            }
        }
        msgs.sort_by_key(|m| m.uid);
        msgs
    }

    /// `op` is "+FLAGS" or "-FLAGS"; `flags` like `"\\Seen \\Flagged"`.
    pub fn store(&mut self, name: &str, uid: u32, op: &str, flags: &str) {
        self.select(name);
        self.command(&format!("UID STORE {uid} {op}.SILENT ({flags})"));
    }

    /// Expunges exactly one message (UID STORE \Deleted + UID EXPUNGE).
    pub fn expunge_uid(&mut self, name: &str, uid: u32) {
        self.select(name);
        self.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
        self.command(&format!("UID EXPUNGE {uid}"));
    }

    /// Every selectable folder with its messages: compares whole server
    /// states before and after a run.
    pub fn snapshot(&mut self) -> ServerSnapshot {
        let folders = self.list();
        let mut snapshot = ServerSnapshot::new();
        for folder in folders {
            let (uidvalidity, _) = self.select(&folder);
            let msgs = self.fetch_all(&folder);
            snapshot.insert(folder, (uidvalidity, msgs));
        }
        snapshot
    }

    pub fn capabilities(&mut self) -> Vec<String> {
        let (untagged, _) = self.command("CAPABILITY");
        untagged
            .iter()
            .filter(|l| l.starts_with(b"* CAPABILITY "))
            .flat_map(|l| {
                lossy(&l[13..])
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn logout(mut self) {
        let _ = self.try_command("LOGOUT");
    }

    /// Sends a command and panics unless it completes with OK.
    pub fn command(&mut self, cmd: &str) -> (Vec<ResponseLine>, ResponseLine) {
        match self.try_command(cmd) {
            Ok(r) => r,
            Err(e) => panic!("IMAP command {cmd:?} failed: {e}"),
        }
    }

    /// Sends a command; Ok(untagged lines, tagged line) on OK.
    pub fn try_command(&mut self, cmd: &str) -> Result<(Vec<ResponseLine>, ResponseLine), String> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        self.finish(&tag)
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("T{}", self.next_tag)
    }

    fn finish(&mut self, tag: &str) -> Result<(Vec<ResponseLine>, ResponseLine), String> {
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let line = self.read_line();
            if line.is_empty() {
                return Err("connection closed".into());
            }
            if line.starts_with(prefix.as_bytes()) {
                let status = &line[prefix.len()..];
                return if status.starts_with(b"OK") {
                    Ok((untagged, line))
                } else {
                    Err(lossy(&line))
                };
            }
            untagged.push(line);
        }
    }

    /// Reads one logical response line: literals `{N}` are read by count
    /// and inlined, so a message body may contain any bytes.
    fn read_line(&mut self) -> ResponseLine {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).unwrap_or(0);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&line);
            match literal_length(&line) {
                Some(len) => {
                    let mut buf = vec![0u8; len];
                    self.reader.read_exact(&mut buf).expect("read literal");
                    out.extend_from_slice(&buf);
                }
                None => return out,
            }
        }
    }
}

/// Server state: folder → (UIDVALIDITY, messages by UID).
pub type ServerSnapshot = BTreeMap<String, (u32, Vec<Msg>)>;

fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&c| c == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, Clone)]
enum Token {
    Atom(String),
    Bytes(Vec<u8>),
    List(Vec<Token>),
}

impl Token {
    fn as_string(&self) -> String {
        match self {
            Token::Atom(s) => s.clone(),
            Token::Bytes(b) => lossy(b),
            Token::List(_) => String::new(),
        }
    }

    fn as_bytes(&self) -> Vec<u8> {
        match self {
            Token::Atom(s) => s.as_bytes().to_vec(),
            Token::Bytes(b) => b.clone(),
            Token::List(_) => Vec::new(),
        }
    }
}

/// Tokenizes the rest of a response line: atoms, quoted strings, inlined
/// literals and parenthesised lists.
fn parse_tokens(input: &[u8]) -> Vec<Token> {
    let mut pos = 0;
    parse_sequence(input, &mut pos, false)
}

fn parse_sequence(input: &[u8], pos: &mut usize, in_list: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    while *pos < input.len() {
        match input[*pos] {
            b' ' | b'\r' | b'\n' => *pos += 1,
            b')' if in_list => {
                *pos += 1;
                return tokens;
            }
            b'(' => {
                *pos += 1;
                tokens.push(Token::List(parse_sequence(input, pos, true)));
            }
            b'"' => {
                *pos += 1;
                let mut s = Vec::new();
                while *pos < input.len() && input[*pos] != b'"' {
                    if input[*pos] == b'\\' && *pos + 1 < input.len() {
                        *pos += 1;
                    }
                    s.push(input[*pos]);
                    *pos += 1;
                }
                *pos += 1;
                tokens.push(Token::Bytes(s));
            }
            b'{' => {
                let close = *pos + input[*pos..].iter().position(|&c| c == b'}').unwrap();
                let digits = lossy(&input[*pos + 1..close]);
                let len: usize = digits.trim_end_matches('+').parse().unwrap();
                let start = close + 3; // "}\r\n"
                tokens.push(Token::Bytes(input[start..start + len].to_vec()));
                *pos = start + len;
            }
            _ => {
                let start = *pos;
                let mut depth = 0;
                while *pos < input.len() {
                    let c = input[*pos];
                    if c == b'[' {
                        depth += 1;
                    } else if c == b']' {
                        depth -= 1;
                    } else if depth == 0 && matches!(c, b' ' | b'(' | b')' | b'\r' | b'\n') {
                        break;
                    }
                    *pos += 1;
                }
                tokens.push(Token::Atom(lossy(&input[start..*pos])));
            }
        }
    }
    tokens
}
