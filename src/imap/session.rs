//! The session: connecting (TLS, STARTTLS), the greeting, login,
//! capabilities, ENABLE, COMPRESS and LOGOUT. The command machinery is in
//! `exchange.rs`; the commands themselves in `mailbox.rs`, `fetch.rs` and
//! `store.rs`.

use std::borrow::Cow;

use imap_proto::{Capability, Response, ResponseCode, Status};

use super::command::Arg;
use super::connection::Connection;
use super::framing::{self, Frame};
use super::response::{
    capability_name, check, ignore_untagged, parse_response, starts_with_ignore_case, Untagged,
};
use super::{ConnectOptions, ImapError, Result};
use crate::auth::sasl;
use crate::model::TlsMode;

/// `ENABLE <extensions>`, or `None` for no extensions.
fn enable_command(extensions: &[&str]) -> Result<Option<String>> {
    if extensions
        .iter()
        .any(|e| e.is_empty() || !e.bytes().all(|b| b.is_ascii_graphic() && b != b'"'))
    {
        return Err(ImapError::Protocol("invalid extension name".into()));
    }
    Ok((!extensions.is_empty()).then(|| format!("ENABLE {}", extensions.join(" "))))
}

/// An authenticated-or-not IMAP session over one connection.
pub struct Session {
    pub(super) conn: Connection,
    pub(super) next_tag: u32,
    caps: Vec<String>,
    caps_seen: bool,
    authenticated: bool,
    skipped: u64,
    last_skipped: Option<String>,
    pub(super) bye: Option<String>,
    alerts: Vec<String>,
    alert_log: Option<super::AlertLog>,
    pub(super) trace: bool,
    /// An `ENABLE ...` to send with the next command: see
    /// [`Session::enable_with_next_command`].
    deferred_enable: Option<String>,
    /// Keyword tables by raw mailbox name (see `keywords.rs`).
    pub(super) keywords: std::collections::HashMap<String, crate::model::Keywords>,
    /// The mailbox last selected or examined (raw name).
    pub(super) selected: Option<String>,
    /// Tagged answers to pipelined commands that came before the answer
    /// being read (a server may finish independent commands in any
    /// order), kept for when their command's answer is asked for.
    pub(super) answered_early: Vec<(String, super::response::Done)>,
    /// The greeting named Dovecot, whose X-GUID names a message across
    /// folders without announcing itself as a capability.
    dovecot: bool,
}

impl Session {
    /// TCP connect (with timeout), TLS per mode, read the greeting (PREAUTH,
    /// BYE), STARTTLS when asked (never silently downgrading), and learn the
    /// capabilities.
    pub fn connect(opts: &ConnectOptions) -> Result<Session> {
        let conn = Connection::open(opts, opts.tls == TlsMode::Tls)?;
        let mut session = Session {
            conn,
            next_tag: 1,
            answered_early: Vec::new(),
            dovecot: false,
            caps: Vec::new(),
            caps_seen: false,
            authenticated: false,
            skipped: 0,
            deferred_enable: None,
            keywords: Default::default(),
            selected: None,
            last_skipped: None,
            bye: None,
            alerts: Vec::new(),
            alert_log: opts.alerts.clone(),
            trace: opts.trace,
        };
        session.read_greeting()?;
        if opts.tls == TlsMode::StartTls {
            if session.authenticated {
                // RFC 3501 forbids STARTTLS after PREAUTH.
                return Err(ImapError::NoStartTls);
            }
            if !session.caps_seen {
                session.capability()?;
            }
            if !session.has_capability("STARTTLS") {
                return Err(ImapError::NoStartTls);
            }
            let done = session.run(vec![Arg::raw("STARTTLS")], &mut ignore_untagged())?;
            if !done.is_ok() {
                return Err(ImapError::Tls(format!(
                    "server refused STARTTLS: {}",
                    done.text
                )));
            }
            session.conn.start_tls()?;
            // Capabilities seen before TLS may have been tampered with.
            session.caps.clear();
            session.caps_seen = false;
        }
        if !session.caps_seen {
            session.capability()?;
        }
        Ok(session)
    }

    fn read_greeting(&mut self) -> Result<()> {
        loop {
            let Some(frame) = self.conn.read_frame(&mut framing::DiscardSink)? else {
                return Err(ImapError::Bye(self.bye.clone()));
            };
            match parse_response(&frame.data) {
                Some(Response::Data { status, outcome }) => {
                    if let Some(ResponseCode::Capabilities(c)) = &outcome.code {
                        self.set_caps(c);
                    }
                    let text = outcome.information.map(Cow::into_owned);
                    self.dovecot = text.as_deref().is_some_and(|t| t.contains("Dovecot"));
                    if outcome.code == Some(ResponseCode::Alert) {
                        self.note_alert(text.as_deref().unwrap_or(""));
                    }
                    return match status {
                        Status::Ok => Ok(()),
                        Status::PreAuth => {
                            self.authenticated = true;
                            Ok(())
                        }
                        Status::Bye => Err(ImapError::Bye(text)),
                        _ => Err(ImapError::Protocol(format!(
                            "unexpected greeting: {}",
                            String::from_utf8_lossy(&frame.data).trim_end()
                        ))),
                    };
                }
                _ => self.note_skipped(&frame),
            }
        }
    }

    /// AUTHENTICATE PLAIN when offered (initial response with SASL-IR),
    /// otherwise LOGIN. The password never appears in traces or errors.
    pub fn login(&mut self, user: &str, password: &str) -> Result<()> {
        if !self.has_capability("AUTH=PLAIN") {
            return self.login_command(user, password);
        }
        let mut plain = Vec::with_capacity(user.len() + password.len() + 2);
        plain.push(0);
        plain.extend_from_slice(user.as_bytes());
        plain.push(0);
        plain.extend_from_slice(password.as_bytes());
        self.authenticate("PLAIN", &[plain], true, b"")
    }

    /// AUTHENTICATE with one SASL mechanism. `responses` are the client's
    /// messages (before base64): the first goes with the command when
    /// `initial` and the server has SASL-IR, each other answers the next
    /// challenge; a challenge after the last one is the server's error
    /// report, answered with `after_error` so the server ends the exchange
    /// with its NO. Traces show the mechanism, never a response.
    pub fn authenticate(
        &mut self,
        mechanism: &str,
        responses: &[Vec<u8>],
        initial: bool,
        after_error: &[u8],
    ) -> Result<()> {
        if self.authenticated {
            return Ok(());
        }
        if !mechanism
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ImapError::Protocol(format!(
                "invalid SASL mechanism {mechanism:?}"
            )));
        }
        self.caps_seen = false;
        let mut pending = responses.iter();
        let tag = self.tag();
        let mut line = format!("{tag} AUTHENTICATE {mechanism}");
        if initial && self.has_capability("SASL-IR") {
            if let Some(first) = pending.next() {
                // RFC 4959: an empty initial response is a lone "=".
                let encoded = if first.is_empty() {
                    "=".to_string()
                } else {
                    sasl::base64(first)
                };
                line.push(' ');
                line.push_str(&encoded);
            }
        }
        let shown = format!("{tag} AUTHENTICATE {mechanism} <redacted>");
        self.write(format!("{line}\r\n").as_bytes(), Some(&shown))?;
        self.flush()?;
        let mut handler = ignore_untagged();
        let done = loop {
            if let Some(done) = self.wait_continuation(&tag, &mut handler)? {
                break done;
            }
            let answer = match pending.next() {
                Some(response) => sasl::base64(response),
                None => sasl::base64(after_error),
            };
            self.write(format!("{answer}\r\n").as_bytes(), Some("<redacted>"))?;
            self.flush()?;
        };
        self.logged_in(done)
    }

    /// The LOGIN command, for a server that offers no SASL mechanism for a
    /// password; refused where the server says LOGINDISABLED.
    pub fn login_command(&mut self, user: &str, password: &str) -> Result<()> {
        if self.authenticated {
            return Ok(());
        }
        if self.has_capability("LOGINDISABLED") {
            return Err(ImapError::LoginDisabled);
        }
        self.caps_seen = false;
        let done = self.run(
            vec![
                Arg::raw("LOGIN "),
                Arg::string(user),
                Arg::raw(" "),
                Arg::string(password),
            ],
            &mut ignore_untagged(),
        )?;
        self.logged_in(done)
    }

    /// After a login's tagged answer: authenticated, with the capabilities
    /// the server has now (asked for if the answer did not carry them).
    fn logged_in(&mut self, done: super::response::Done) -> Result<()> {
        if !done.is_ok() {
            return Err(ImapError::Auth(done.text));
        }
        self.authenticated = true;
        if !self.caps_seen {
            self.capability()?;
        }
        Ok(())
    }

    /// Case-insensitive capability check, e.g. `"UIDPLUS"`, `"AUTH=PLAIN"`.
    pub fn has_capability(&self, name: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(name))
    }

    /// The FETCH item that names a message the same in every folder it is
    /// in: RFC 8474's EMAILID, Gmail's X-GM-MSGID, Dovecot's X-GUID.
    pub fn identity_item(&self) -> Option<&'static str> {
        if self.has_capability("OBJECTID") {
            Some("EMAILID")
        } else if self.has_capability("X-GM-EXT-1") {
            Some("X-GM-MSGID")
        } else if self.dovecot {
            Some("X-GUID")
        } else {
            None
        }
    }

    pub fn capabilities(&self) -> Vec<String> {
        self.caps.clone()
    }

    pub(super) fn capability(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("CAPABILITY")], &mut ignore_untagged())?;
        check(done, "CAPABILITY")?;
        Ok(())
    }

    /// ENABLE the given extensions; returns those the server enabled.
    pub fn enable(&mut self, extensions: &[&str]) -> Result<Vec<String>> {
        let Some(command) = enable_command(extensions)? else {
            return Ok(Vec::new());
        };
        let mut enabled = Vec::new();
        let done = self.run(
            vec![Arg::raw(command)],
            &mut Untagged(|resp: &Response<'_>, frame: &Frame| {
                if let Response::Capabilities(caps) = resp {
                    if starts_with_ignore_case(&frame.data, b"* ENABLED") {
                        enabled.extend(caps.iter().map(capability_name));
                    }
                }
            }),
        )?;
        check(done, "ENABLE")?;
        Ok(enabled)
    }

    /// ENABLE, sent together with the next command rather than on its own:
    /// a round trip less per connection. Its failure is that command's.
    pub fn enable_with_next_command(&mut self, extensions: &[&str]) -> Result<()> {
        self.deferred_enable = enable_command(extensions)?;
        Ok(())
    }

    /// Writes a deferred ENABLE ahead of the command about to be written
    /// and returns its tag, for [`Session::end_deferred`] once the commands
    /// are flushed. A command that must wait for continuations cannot
    /// follow it blindly: then the ENABLE goes alone first.
    pub(super) fn begin_deferred(&mut self, pipelinable: bool) -> Result<Option<String>> {
        let Some(command) = self.deferred_enable.take() else {
            return Ok(None);
        };
        let tag = self.send_raw(&command)?;
        if pipelinable {
            return Ok(Some(tag));
        }
        self.flush()?;
        self.end_deferred(Some(tag))?;
        Ok(None)
    }

    /// Reads the answer to a deferred ENABLE (it comes first). On failure
    /// the connection is dropped: the next command's answer is still due.
    pub(super) fn end_deferred(&mut self, tag: Option<String>) -> Result<()> {
        let Some(tag) = tag else { return Ok(()) };
        let result = self
            .read_until_done(&tag, &mut ignore_untagged())
            .and_then(|done| check(done, "ENABLE"));
        if result.is_err() {
            self.conn.poison();
        }
        result.map(|_| ())
    }

    /// Whether COMPRESS is in effect.
    pub fn is_compressed(&self) -> bool {
        self.conn.is_compressed()
    }

    /// COMPRESS DEFLATE: compresses everything from here on. Worth it on
    /// a slow link, a waste of CPU on a fast one; the caller decides.
    pub fn compress(&mut self) -> Result<()> {
        if !self.has_capability("COMPRESS=DEFLATE") {
            return Err(ImapError::Protocol(
                "COMPRESS needs COMPRESS=DEFLATE, which the server does not offer".into(),
            ));
        }
        let done = self.run(vec![Arg::raw("COMPRESS DEFLATE")], &mut ignore_untagged())?;
        check(done, "COMPRESS")?;
        self.conn.start_compress()
    }

    /// LOGOUT; errors once the command is sent are ignored.
    pub fn logout(mut self) -> Result<()> {
        if !self.conn.is_open() {
            return Ok(());
        }
        // Nothing follows that would need it.
        self.deferred_enable = None;
        // Every earlier command was answered, so nothing is left to commit:
        // the server's BYE is not awaited, which saves a round trip at the
        // end of every connection (the last one on a run's critical path).
        self.send_raw("LOGOUT")?;
        self.flush()?;
        self.conn.close();
        Ok(())
    }

    /// Responses the parser could not read and that were skipped.
    pub fn skipped_responses(&self) -> u64 {
        self.skipped
    }

    /// The most recent skipped response (start of it), for diagnostics.
    pub fn last_skipped_response(&self) -> Option<&str> {
        self.last_skipped.as_deref()
    }

    /// `[ALERT]` texts received since the last call; servers require
    /// clients to show these to the user.
    pub fn take_alerts(&mut self) -> Vec<String> {
        std::mem::take(&mut self.alerts)
    }

    /// Keeps an `[ALERT]` text, from any response, tagged or not: for
    /// [`Session::take_alerts`] and the shared [`super::AlertLog`].
    pub(super) fn note_alert(&mut self, text: &str) {
        let text = text.trim();
        if self.trace {
            eprintln!("imap: server alert: {text}");
        }
        if text.is_empty() {
            return;
        }
        if let Some(log) = &self.alert_log {
            log.push(text.to_string());
        }
        self.alerts.push(text.to_string());
    }

    pub(super) fn note_skipped(&mut self, frame: &Frame) {
        self.skipped += 1;
        let shown: String = frame.trace.chars().take(200).collect();
        let shown = if shown.is_empty() {
            String::from_utf8_lossy(&frame.data[..frame.data.len().min(200)])
                .trim_end()
                .to_string()
        } else {
            shown
        };
        if self.trace {
            eprintln!("imap: skipped unreadable response: {shown}");
        }
        self.last_skipped = Some(shown);
    }

    pub(super) fn set_caps(&mut self, caps: &[Capability<'_>]) {
        self.caps = caps.iter().map(capability_name).collect();
        self.caps_seen = true;
    }
}
