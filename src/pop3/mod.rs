//! The POP3 client (RFC 1939, CAPA of RFC 2449, STLS of RFC 2595, AUTH of
//! RFC 5034): just what an import needs, over [`crate::net`] for the
//! connection and [`crate::auth::sasl`] for the login.
//!
//! Hand-written, like the IMAP client: POP3 is a small line protocol, and
//! no well-kept blocking crate both streams a message into a caller's
//! writer (a message never has to fit in memory) and takes our transport
//! (TLS trust, timeouts that survive SIGSTOP, the protocol trace) and our
//! SASL mechanisms (XOAUTH2 included).

use std::io::{BufRead, Read, Write};

use crate::auth::sasl::{self, Credential, LoginWay, Mechanism};
use crate::model::{AuthMethod, TlsMode};
use crate::net::{Endpoint, NetError, Transport};

/// The longest line accepted from the server: RFC 1939 caps responses at
/// 512 octets; message lines may be longer (RFC 5322 allows 998), so a
/// generous cap that still bounds memory.
const MAX_LINE: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum Pop3Error {
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server said -ERR; the text is the command's name and its reply.
    #[error("the server refused {0}: {1}")]
    Refused(String, String),
    /// The login failed (wrong password, mechanism refused).
    #[error("login refused: {0}")]
    Auth(String),
    /// The server cannot identify messages (no UIDL).
    #[error(
        "the POP3 server does not support UIDL, so imapdir cannot tell which messages it \
         already downloaded; it downloads nothing rather than guess (ask the provider, or \
         use IMAP)"
    )]
    NoUidl,
    #[error("POP3 protocol error: {0}")]
    Protocol(String),
    /// Writing a message to its file failed.
    #[error("{0}")]
    Write(std::io::Error),
}

impl Pop3Error {
    /// Whether the error is about the login (exit code 3, as for IMAP).
    pub fn is_auth(&self) -> bool {
        matches!(self, Pop3Error::Auth(_))
    }
}

pub type Result<T> = std::result::Result<T, Pop3Error>;

/// Connecting or logging in failed (exit code 3, as for IMAP).
#[derive(Debug, thiserror::Error)]
#[error("{account}: {source}")]
pub struct Pop3ConnectError {
    pub account: String,
    #[source]
    pub source: Pop3Error,
}

/// One message on the server: its number in this session and its UIDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub number: u32,
    pub uidl: String,
}

/// A logged-in (or about to be) POP3 session.
pub struct Pop3 {
    transport: Transport,
    capabilities: Vec<String>,
    host: String,
    port: u16,
}

impl Pop3 {
    /// Connects, reads the greeting, upgrades with STLS when asked (a server
    /// without it is an error, never a downgrade) and reads CAPA.
    pub fn connect(target: &Endpoint) -> Result<Pop3> {
        let transport = Transport::open_endpoint(target)?;
        let mut pop = Pop3 {
            transport,
            capabilities: Vec::new(),
            host: target.host.clone(),
            port: target.port,
        };
        let greeting = pop.read_line()?;
        if !greeting.starts_with("+OK") {
            return Err(Pop3Error::Protocol(format!(
                "unexpected greeting: {}",
                greeting.trim_end()
            )));
        }
        pop.read_capabilities()?;
        if target.tls == TlsMode::StartTls {
            if !pop.has("STLS") {
                return Err(Pop3Error::Net(NetError::Tls(
                    "tls = \"starttls\", but the POP3 server does not offer STLS".into(),
                )));
            }
            pop.command("STLS", "STLS")?;
            pop.transport.start_tls("STLS")?;
            pop.read_capabilities()?;
        }
        Ok(pop)
    }

    /// CAPA's list; empty when the server has no CAPA (RFC 1939 servers).
    fn read_capabilities(&mut self) -> Result<()> {
        self.send("CAPA", "CAPA")?;
        let first = self.read_line()?;
        self.capabilities.clear();
        if !first.starts_with("+OK") {
            return Ok(());
        }
        let mut lines = Vec::new();
        self.read_multiline(&mut |line| {
            lines.push(String::from_utf8_lossy(line).trim_end().to_string());
            Ok(())
        })?;
        self.capabilities = lines;
        Ok(())
    }

    /// Whether CAPA lists `name` (the first word of a line).
    pub fn has(&self, name: &str) -> bool {
        self.capabilities.iter().any(|c| {
            c.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
        })
    }

    /// Whether CAPA's SASL line lists `mechanism`.
    fn offers_sasl(&self, mechanism: &str) -> bool {
        self.capabilities.iter().any(|c| {
            let mut words = c.split_whitespace();
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL"))
                && words.any(|m| m.eq_ignore_ascii_case(mechanism))
        })
    }

    /// Logs in with the account's method: SASL where the server offers it
    /// (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER), else USER/PASS.
    pub fn login(&mut self, user: &str, credential: &Credential, method: AuthMethod) -> Result<()> {
        let offered = |cap: &str| match cap.strip_prefix("AUTH=") {
            Some(mechanism) => self.offers_sasl(mechanism),
            None => false,
        };
        let way = sasl::choose(method, credential, &offered).map_err(Pop3Error::Auth)?;
        let secret = match credential {
            Credential::Password(s) | Credential::Token(s) => s.clone(),
        };
        match way {
            LoginWay::Command => {
                self.command(&format!("USER {user}"), "USER")
                    .map_err(to_auth)?;
                let line = format!("PASS {secret}");
                self.send(&line, "PASS <redacted>")?;
                self.expect_ok("PASS").map_err(to_auth)
            }
            LoginWay::Sasl(mechanism) => self.authenticate(mechanism, user, &secret),
        }
    }

    fn authenticate(&mut self, mechanism: Mechanism, user: &str, secret: &str) -> Result<()> {
        let responses = mechanism.responses(user, secret, &self.host, self.port);
        let mut pending = responses.into_iter();
        let name = mechanism.name();
        if mechanism.has_initial_response() {
            let first = pending.next().unwrap_or_default();
            let encoded = if first.is_empty() {
                "=".to_string()
            } else {
                sasl::base64(&first)
            };
            self.send(
                &format!("AUTH {name} {encoded}"),
                &format!("AUTH {name} <redacted>"),
            )?;
        } else {
            self.send(&format!("AUTH {name}"), &format!("AUTH {name}"))?;
        }
        let mut errored = false;
        loop {
            let line = self.read_line()?;
            if line.starts_with("+OK") {
                return Ok(());
            }
            if line.starts_with("-ERR") {
                return Err(Pop3Error::Auth(format!("AUTH {name}: {}", line.trim_end())));
            }
            if !line.starts_with('+') {
                return Err(Pop3Error::Protocol(format!(
                    "unexpected reply to AUTH: {}",
                    line.trim_end()
                )));
            }
            // A challenge: the next response, or after the last one the
            // server's error report, answered so the server ends the exchange.
            let answer = match pending.next() {
                Some(r) => sasl::base64(&r),
                None if !errored => {
                    errored = true;
                    sasl::base64(&mechanism.after_error())
                }
                None => "*".to_string(),
            };
            self.send(&answer, "<redacted>")?;
        }
    }

    /// UIDL: every message's number and unique id.
    pub fn uidl(&mut self) -> Result<Vec<Listed>> {
        self.send("UIDL", "UIDL")?;
        let first = self.read_line()?;
        if !first.starts_with("+OK") {
            return Err(Pop3Error::NoUidl);
        }
        let mut listed = Vec::new();
        let mut bad = None;
        self.read_multiline(&mut |line| {
            let text = String::from_utf8_lossy(line);
            let mut words = text.split_whitespace();
            match (
                words.next().and_then(|n| n.parse::<u32>().ok()),
                words.next(),
            ) {
                (Some(number), Some(uidl))
                    if (1..=70).contains(&uidl.len())
                        && uidl.bytes().all(|b| (0x21..=0x7e).contains(&b)) =>
                {
                    listed.push(Listed {
                        number,
                        uidl: uidl.to_string(),
                    })
                }
                _ => bad = Some(text.trim_end().to_string()),
            }
            Ok(())
        })?;
        if let Some(line) = bad {
            return Err(Pop3Error::Protocol(format!("unreadable UIDL line: {line}")));
        }
        Ok(listed)
    }

    /// RETR: streams message `number` into `out`, dot-unstuffed, lines as
    /// the server sends them (CRLF). A connection that ends in the middle
    /// is an error: the caller throws the partial file away.
    pub fn retr(&mut self, number: u32, out: &mut dyn Write) -> Result<u64> {
        self.command(&format!("RETR {number}"), "RETR")?;
        let mut size = 0u64;
        self.read_multiline(&mut |line| {
            size += line.len() as u64;
            out.write_all(line).map_err(Pop3Error::Write)
        })?;
        Ok(size)
    }

    /// STAT: the number of messages in the maildrop and their total size
    /// in octets.
    pub fn stat(&mut self) -> Result<(u64, u64)> {
        self.send("STAT", "STAT")?;
        let reply = self.read_line()?;
        let mut words = reply.split_whitespace();
        if words.next() != Some("+OK") {
            let text = reply.trim_end();
            return Err(Pop3Error::Refused(
                "STAT".into(),
                text.strip_prefix("-ERR").unwrap_or(text).trim().to_string(),
            ));
        }
        match (
            words.next().and_then(|n| n.parse().ok()),
            words.next().and_then(|n| n.parse().ok()),
        ) {
            (Some(count), Some(size)) => Ok((count, size)),
            _ => Err(Pop3Error::Protocol(format!(
                "unreadable STAT reply: {}",
                reply.trim_end()
            ))),
        }
    }

    /// CAPA's lines, as the server sent them.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// DELE: marks a message deleted; the server deletes it at QUIT.
    pub fn dele(&mut self, number: u32) -> Result<()> {
        self.command(&format!("DELE {number}"), "DELE")
    }

    /// QUIT: ends the session, and with it commits the DELEs.
    pub fn quit(mut self) -> Result<()> {
        self.command("QUIT", "QUIT")
    }

    /// Sends a command and expects +OK.
    fn command(&mut self, line: &str, name: &str) -> Result<()> {
        self.send(line, line)?;
        self.expect_ok(name)
    }

    fn expect_ok(&mut self, name: &str) -> Result<()> {
        let reply = self.read_line()?;
        if reply.starts_with("+OK") {
            Ok(())
        } else {
            let text = reply.trim_end();
            Err(Pop3Error::Refused(
                name.to_string(),
                text.strip_prefix("-ERR").unwrap_or(text).trim().to_string(),
            ))
        }
    }

    fn send(&mut self, line: &str, trace: &str) -> Result<()> {
        let data = format!("{line}\r\n");
        self.transport.write(data.as_bytes(), Some(trace))?;
        self.transport.flush()?;
        Ok(())
    }

    /// One status line.
    fn read_line(&mut self) -> Result<String> {
        let mut buf = Vec::new();
        self.read_raw_line(&mut buf)?;
        if buf.is_empty() {
            self.transport.mark_closed();
            return Err(closed());
        }
        let line = String::from_utf8_lossy(&buf).into_owned();
        if self.transport.tracing() {
            let shown = line.trim_end().to_string();
            self.transport.trace_line(format!("S: {shown}"));
        }
        Ok(line)
    }

    fn read_raw_line(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let reader = self.transport.reader()?;
        let result = reader.by_ref().take(MAX_LINE).read_until(b'\n', buf);
        match result {
            Ok(_) => {
                if buf.len() as u64 >= MAX_LINE && !buf.ends_with(b"\n") {
                    self.transport.poison();
                    return Err(Pop3Error::Protocol(format!(
                        "a line longer than {MAX_LINE} bytes"
                    )));
                }
                Ok(())
            }
            Err(e) => Err(Pop3Error::Net(self.transport.read_failed(e))),
        }
    }

    /// The lines of a multi-line response up to the lone ".", each
    /// dot-unstuffed, with its line ending.
    fn read_multiline(&mut self, each: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        let mut buf = Vec::with_capacity(1024);
        loop {
            buf.clear();
            self.read_raw_line(&mut buf)?;
            if buf.is_empty() || !buf.ends_with(b"\n") {
                self.transport.mark_closed();
                return Err(Pop3Error::Net(NetError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the POP3 server closed the connection in the middle of a response",
                ))));
            }
            if buf == b".\r\n" || buf == b".\n" {
                return Ok(());
            }
            let line = if buf.starts_with(b".") {
                &buf[1..]
            } else {
                &buf[..]
            };
            each(line)?;
        }
    }
}

fn closed() -> Pop3Error {
    Pop3Error::Net(NetError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the POP3 server closed the connection",
    )))
}

fn to_auth(e: Pop3Error) -> Pop3Error {
    match e {
        Pop3Error::Refused(name, text) => Pop3Error::Auth(format!("{name}: {text}")),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A scripted server: answers each command line with the next reply.
    fn serve(script: Vec<(&'static str, &'static str)>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            writer.write_all(b"+OK ready\r\n").unwrap();
            for (expect, reply) in script {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    return;
                }
                assert!(line.starts_with(expect), "got {line:?}, expected {expect}");
                writer.write_all(reply.as_bytes()).unwrap();
            }
        });
        port
    }

    fn target(port: u16) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::Plain,
            ca_file: None,
            timeout: std::time::Duration::from_secs(5),
            trace: false,
        }
    }

    #[test]
    fn retr_unstuffs_dots_and_streams_lines() {
        let port = serve(vec![
            ("CAPA", "+OK\r\nUIDL\r\nUSER\r\n.\r\n"),
            ("USER bob", "+OK\r\n"),
            ("PASS pw", "+OK\r\n"),
            ("UIDL", "+OK\r\n1 abc\r\n2 def\r\n.\r\n"),
            ("RETR 1", "+OK\r\nSubject: x\r\n\r\n..dot\r\n.\r\n"),
        ]);
        let mut pop = Pop3::connect(&target(port)).unwrap();
        pop.login("bob", &Credential::Password("pw".into()), AuthMethod::Auto)
            .unwrap();
        let listed = pop.uidl().unwrap();
        assert_eq!(listed[1].uidl, "def");
        let mut out = Vec::new();
        pop.retr(1, &mut out).unwrap();
        assert_eq!(out, b"Subject: x\r\n\r\n.dot\r\n");
    }

    #[test]
    fn no_uidl_and_a_cut_message_are_errors() {
        let port = serve(vec![
            ("CAPA", "-ERR\r\n"),
            ("UIDL", "-ERR unknown command\r\n"),
            ("RETR 1", "+OK\r\nSubject: x\r\n"),
        ]);
        let mut pop = Pop3::connect(&target(port)).unwrap();
        assert!(matches!(pop.uidl(), Err(Pop3Error::NoUidl)));
        let mut out = Vec::new();
        let err = pop.retr(1, &mut out).unwrap_err();
        assert!(err.to_string().contains("closed the connection"), "{err}");
    }

    #[test]
    fn sasl_plain_is_used_where_offered() {
        let port = serve(vec![
            ("CAPA", "+OK\r\nSASL PLAIN LOGIN\r\n.\r\n"),
            ("AUTH PLAIN AGJvYgBwdw==", "-ERR [AUTH] no\r\n"),
        ]);
        let mut pop = Pop3::connect(&target(port)).unwrap();
        let err = pop
            .login("bob", &Credential::Password("pw".into()), AuthMethod::Auto)
            .unwrap_err();
        assert!(err.is_auth(), "{err}");
        assert!(!err.to_string().contains("pw"));
    }
}
