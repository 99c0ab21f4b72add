//! The SMTP submission client (RFC 6409 over RFC 5321: EHLO, STARTTLS of
//! RFC 3207, AUTH of RFC 4954, SIZE of RFC 1870), for the outbox.
//!
//! Hand-written rather than `lettre`: the outbox needs every reply's code
//! to tell a permanent rejection (5xx: the message goes to `failed/`) from
//! a temporary one (4xx: retried), needs the message streamed from its
//! file with the Message-ID header added on the way, and must take our
//! transport (TLS trust, timeouts, trace) and SASL mechanisms (XOAUTH2
//! included). A line protocol this small is less code than the glue.

use std::io::{BufRead, Read};

pub mod message;

use crate::auth::sasl::{self, Credential, LoginWay, Mechanism};
use crate::model::{AuthMethod, TlsMode};
use crate::net::{Endpoint, NetError, Transport};

const MAX_LINE: u64 = 8 * 1024;

/// A server reply: its code and text (lines joined by a space).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server refused a step of the transaction.
    #[error("the SMTP server refused {step}: {reply}")]
    Rejected { step: String, reply: Reply },
    /// Larger than the server takes (its SIZE); permanent.
    #[error("the message is {size} bytes, larger than the {limit} the SMTP server accepts")]
    TooLarge { size: u64, limit: u64 },
    #[error("SMTP login refused: {0}")]
    Auth(String),
    /// Recording the hand-over failed; the final dot was not sent.
    #[error("cannot record the send: {0}")]
    Journal(String),
    #[error("SMTP protocol error: {0}")]
    Protocol(String),
}

impl SmtpError {
    /// Whether sending again cannot help: the message goes to `failed/`.
    pub fn is_permanent(&self) -> bool {
        match self {
            SmtpError::Rejected { reply, .. } => reply.is_permanent(),
            SmtpError::TooLarge { .. } => true,
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, SmtpError>;

pub struct Smtp {
    transport: Transport,
    extensions: Vec<String>,
    host: String,
    port: u16,
}

impl Smtp {
    /// Connects, reads the greeting, EHLO, and STARTTLS when asked (a
    /// server without it is an error, never a downgrade).
    pub fn connect(target: &Endpoint) -> Result<Smtp> {
        let transport = Transport::open_endpoint(target)?;
        let mut smtp = Smtp {
            transport,
            extensions: Vec::new(),
            host: target.host.clone(),
            port: target.port,
        };
        let greeting = smtp.read_reply()?;
        if greeting.code != 220 {
            return Err(SmtpError::Rejected {
                step: "the connection".into(),
                reply: greeting,
            });
        }
        smtp.ehlo()?;
        if target.tls == TlsMode::StartTls {
            if !smtp.has("STARTTLS") {
                return Err(SmtpError::Net(NetError::Tls(
                    "smtp_tls = \"starttls\", but the SMTP server does not offer STARTTLS".into(),
                )));
            }
            smtp.command("STARTTLS", "STARTTLS", 220)?;
            smtp.transport.start_tls("STARTTLS")?;
            smtp.ehlo()?;
        }
        Ok(smtp)
    }

    fn ehlo(&mut self) -> Result<()> {
        let name = local_name();
        self.send(&format!("EHLO {name}"), &format!("EHLO {name}"))?;
        let reply = self.read_reply_lines()?;
        if reply.0.code != 250 {
            return Err(SmtpError::Rejected {
                step: "EHLO".into(),
                reply: reply.0,
            });
        }
        self.extensions = reply.1.into_iter().skip(1).collect();
        Ok(())
    }

    /// Whether EHLO listed the extension (its first word).
    pub fn has(&self, name: &str) -> bool {
        self.extension(name).is_some()
    }

    fn extension(&self, name: &str) -> Option<&str> {
        self.extensions.iter().map(String::as_str).find(|e| {
            e.split_whitespace()
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case(name))
        })
    }

    /// Whether the server asks for a login (offers AUTH).
    pub fn offers_auth(&self) -> bool {
        self.has("AUTH")
    }

    /// AUTH with the account's method.
    pub fn login(&mut self, user: &str, credential: &Credential, method: AuthMethod) -> Result<()> {
        let mechanisms: Vec<String> = self
            .extension("AUTH")
            .map(|e| {
                e.split_whitespace()
                    .skip(1)
                    .map(|m| m.to_ascii_uppercase())
                    .collect()
            })
            .unwrap_or_default();
        let offered = |cap: &str| {
            cap.strip_prefix("AUTH=")
                .is_some_and(|m| mechanisms.iter().any(|o| o == m))
        };
        let way = sasl::choose(method, credential, &offered).map_err(SmtpError::Auth)?;
        let mechanism = match way {
            LoginWay::Sasl(m) => m,
            // SMTP has no plain login command; LOGIN is the SASL mechanism.
            LoginWay::Command => {
                return Err(SmtpError::Auth(
                    "the SMTP server offers no mechanism imapdir can log in with".into(),
                ))
            }
        };
        let secret = match credential {
            Credential::Password(s) | Credential::Token(s) => s.clone(),
        };
        self.authenticate(mechanism, user, &secret)
    }

    fn authenticate(&mut self, mechanism: Mechanism, user: &str, secret: &str) -> Result<()> {
        let name = mechanism.name();
        let mut pending = mechanism
            .responses(user, secret, &self.host, self.port)
            .into_iter();
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
            let reply = self.read_reply()?;
            match reply.code {
                235 => return Ok(()),
                334 => {
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
                _ => return Err(SmtpError::Auth(format!("AUTH {name}: {reply}"))),
            }
        }
    }

    /// One transaction: MAIL FROM, RCPT TO each, DATA with the message
    /// `message` (LF or CRLF lines; sent as CRLF, dot-stuffed).
    /// `handing_over` runs just before the final dot, the moment from
    /// which the server may have the message (the journal records it).
    pub fn send_mail(
        &mut self,
        from: &str,
        recipients: &[String],
        message: &[u8],
        handing_over: &mut dyn FnMut() -> std::result::Result<(), String>,
    ) -> Result<Reply> {
        let size = message.len() as u64;
        if let Some(limit) = self
            .extension("SIZE")
            .and_then(|e| e.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|l| *l > 0)
        {
            if size > limit {
                return Err(SmtpError::TooLarge { size, limit });
            }
        }
        let size_param = if self.has("SIZE") {
            format!(" SIZE={size}")
        } else {
            String::new()
        };
        self.command(&format!("MAIL FROM:<{from}>{size_param}"), "MAIL FROM", 250)?;
        for rcpt in recipients {
            self.command(
                &format!("RCPT TO:<{rcpt}>"),
                &format!("RCPT TO {rcpt}"),
                250,
            )?;
        }
        self.command("DATA", "DATA", 354)?;
        let mut out = Vec::with_capacity(64 * 1024);
        for line in message.split_inclusive(|b| *b == b'\n') {
            let body = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(line);
            if body.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
            if out.len() >= 60 * 1024 {
                self.transport.write(&out, None)?;
                out.clear();
            }
        }
        self.transport.write(&out, Some("<message data>"))?;
        self.transport.flush()?;
        // From the final dot on, the server may take the message.
        handing_over().map_err(SmtpError::Journal)?;
        self.transport.write(b".\r\n", Some("."))?;
        self.transport.flush()?;
        let reply = self.read_reply()?;
        if reply.code != 250 {
            return Err(SmtpError::Rejected {
                step: "the message (after DATA)".into(),
                reply,
            });
        }
        Ok(reply)
    }

    /// RSET after a refused transaction, so the next one starts clean.
    pub fn reset(&mut self) -> Result<()> {
        self.command("RSET", "RSET", 250).map(|_| ())
    }

    pub fn quit(mut self) {
        let _ = self.send("QUIT", "QUIT");
        let _ = self.read_reply();
    }

    fn command(&mut self, line: &str, step: &str, expect: u16) -> Result<Reply> {
        self.send(line, line)?;
        let reply = self.read_reply()?;
        if reply.code != expect {
            return Err(SmtpError::Rejected {
                step: step.to_string(),
                reply,
            });
        }
        Ok(reply)
    }

    fn send(&mut self, line: &str, trace: &str) -> Result<()> {
        self.transport
            .write(format!("{line}\r\n").as_bytes(), Some(trace))?;
        self.transport.flush()?;
        Ok(())
    }

    fn read_reply(&mut self) -> Result<Reply> {
        Ok(self.read_reply_lines()?.0)
    }

    /// A reply and its lines' texts (for EHLO's extensions).
    fn read_reply_lines(&mut self) -> Result<(Reply, Vec<String>)> {
        let mut lines = Vec::new();
        loop {
            let mut buf = Vec::new();
            let reader = self.transport.reader()?;
            let result = reader.by_ref().take(MAX_LINE).read_until(b'\n', &mut buf);
            if let Err(e) = result {
                return Err(SmtpError::Net(self.transport.read_failed(e)));
            }
            if buf.is_empty() {
                self.transport.mark_closed();
                return Err(SmtpError::Net(NetError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the SMTP server closed the connection",
                ))));
            }
            let line = String::from_utf8_lossy(&buf).trim_end().to_string();
            if self.transport.tracing() {
                self.transport.trace_line(format!("S: {line}"));
            }
            let code = line
                .get(..3)
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| SmtpError::Protocol(format!("unreadable reply: {line}")))?;
            let more = line.as_bytes().get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_string());
            if !more {
                let text = lines.join(" ");
                return Ok((Reply { code, text }, lines));
            }
        }
    }
}

/// The name EHLO gives: the host name, else a literal.
fn local_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && h.contains('.') && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or_else(|| "[127.0.0.1]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A scripted server: answers each command line with the next reply.
    fn serve(greeting: &'static str, script: Vec<(&'static str, &'static str)>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut writer = stream;
            writer.write_all(greeting.as_bytes()).unwrap();
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

    fn target(port: u16, tls: TlsMode) -> Endpoint {
        Endpoint {
            host: "127.0.0.1".into(),
            port,
            tls,
            ca_file: None,
            timeout: std::time::Duration::from_secs(5),
            trace: false,
        }
    }

    #[test]
    fn a_refused_login_is_an_auth_error_without_the_password() {
        let port = serve(
            "220 hi\r\n",
            vec![
                ("EHLO", "250-x\r\n250-SIZE 100\r\n250 AUTH PLAIN LOGIN\r\n"),
                ("AUTH PLAIN", "535 5.7.8 bad credentials\r\n"),
            ],
        );
        let mut smtp = Smtp::connect(&target(port, TlsMode::Plain)).unwrap();
        assert!(smtp.offers_auth());
        let err = smtp
            .login(
                "bob",
                &Credential::Password("s3cret".into()),
                AuthMethod::Auto,
            )
            .unwrap_err();
        assert!(matches!(err, SmtpError::Auth(_)), "{err}");
        assert!(err.to_string().contains("535") && !err.to_string().contains("s3cret"));
        // SIZE is checked before anything is sent.
        let err = smtp
            .send_mail("a@x", &["b@y".into()], &[b'x'; 200], &mut || Ok(()))
            .unwrap_err();
        assert!(
            err.is_permanent() && err.to_string().contains("larger"),
            "{err}"
        );
    }

    #[test]
    fn starttls_missing_is_refused_and_replies_are_classified() {
        let port = serve("220 hi\r\n", vec![("EHLO", "250 x\r\n")]);
        let err = Smtp::connect(&target(port, TlsMode::StartTls))
            .err()
            .expect("no downgrade");
        assert!(err.to_string().contains("STARTTLS"), "{err}");
        let port = serve(
            "220 hi\r\n",
            vec![
                ("EHLO", "250 x\r\n"),
                ("MAIL FROM:<a@x>", "250 ok\r\n"),
                ("RCPT TO:<b@y>", "451 4.3.0 later\r\n"),
            ],
        );
        let mut smtp = Smtp::connect(&target(port, TlsMode::Plain)).unwrap();
        let err = smtp
            .send_mail("a@x", &["b@y".into()], b"x\n", &mut || Ok(()))
            .unwrap_err();
        assert!(!err.is_permanent(), "{err}");
        assert!(err.to_string().contains("451"), "{err}");
    }
}
