//! A small synchronous IMAP client built on the `imap-proto` parser.
//!
//! Hand-written rather than built on the `imap` crate: that crate (2.4.1
//! and 3.0.0-alpha.15) buffers whole responses in memory (about 1.1 times
//! the folder size), loses protocol sync after one line it cannot parse,
//! panics on `* NO [ALERT]` during SELECT, and drops COPYUID and
//! `[MODIFIED]`. So this module owns framing (lines and literals), tags,
//! command encoding and quoting, and streams FETCH bodies straight to the
//! caller's writers. A response the parser cannot read is counted (see
//! [`Session::skipped_responses`]), printed only when tracing is on, and
//! skipped without losing sync.

use std::borrow::Cow;
use std::io::{self, Read};
use std::time::Duration;

use imap_proto::rfc4315::UidSetMember;
use imap_proto::{
    AttributeValue, Capability, MailboxDatum, NameAttribute, Response, ResponseCode, Status,
};

pub mod command;
mod compress;
mod condstore;
mod connection;
pub mod framing;
mod idle;
mod message_id;
mod quota;
mod tls;
mod uid_set;

pub use crate::flags::Flags;
pub use command::{format_internal_date, quote};
pub use message_id::extract_message_id;
pub use uid_set::uid_sets;

use command::Arg;
pub use condstore::FolderChanges;
use connection::Connection;
use framing::{BodySink, Frame};
pub use idle::IdleEvent;
pub use quota::QuotaUsage;
use uid_set::{is_valid_uid_set, split_uid_set, MAX_UID_SET_LEN};

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it.
    StartTls,
    /// No encryption at all.
    Plain,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trust root (PEM), added to the system roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Connect, read and write timeout; a stall becomes [`ImapError::Timeout`].
    pub timeout: Duration,
    /// Print the protocol to stderr, credentials redacted and literal
    /// contents summarised.
    pub trace: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, std::io::Error),
    #[error("TLS error: {0}")]
    Tls(String),
    #[error("login failed: {0}")]
    Auth(String),
    #[error("server does not offer STARTTLS")]
    NoStartTls,
    #[error("server refuses login on an unencrypted connection (LOGINDISABLED)")]
    LoginDisabled,
    #[error("timed out after {0:?} waiting for the server")]
    Timeout(std::time::Duration),
    #[error("connection closed by server{}", .0.as_deref().map(|t| format!(": {t}")).unwrap_or_default())]
    Bye(Option<String>),
    #[error("I/O error: {0}")]
    Io(std::io::Error),
    /// A tagged NO or BAD.
    #[error("{command} failed: {text}")]
    No { command: String, text: String },
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl ImapError {
    /// Whether the session is gone and a new connection is needed.
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self,
            ImapError::Io(_) | ImapError::Timeout(_) | ImapError::Bye(_) | ImapError::Tls(_)
        )
    }
}

pub type Result<T> = std::result::Result<T, ImapError>;

/// One mailbox from LIST.
#[derive(Debug, Clone)]
pub struct ListEntry {
    /// Raw name, modified UTF-7 as on the wire.
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes as sent, e.g. `\Noselect`, `\HasChildren`.
    pub attributes: Vec<String>,
}

impl ListEntry {
    /// False for `\Noselect` and `\NonExistent` entries, which hold no messages.
    pub fn is_selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }
}

/// What SELECT or EXAMINE reported.
#[derive(Debug, Clone, Default)]
pub struct MailboxInfo {
    pub uidvalidity: u32,
    pub uidnext: Option<u32>,
    pub exists: u32,
    pub highestmodseq: Option<u64>,
    pub read_only: bool,
}

/// What STATUS reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: Option<u32>,
    pub uidnext: Option<u32>,
    pub uidvalidity: Option<u32>,
    pub highestmodseq: Option<u64>,
}

/// Flags and size of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub flags: Flags,
    pub size: Option<u32>,
    pub modseq: Option<u64>,
}

/// A message whose body has been written to the caller's sink.
#[derive(Debug)]
pub struct FetchedBody {
    pub uid: u32,
    pub flags: Flags,
    pub size: Option<u32>,
    pub internal_date: Option<String>,
    /// Bytes written to the sink.
    pub body_len: u64,
}

/// Identity of one message for re-pairing after a UIDVALIDITY change.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    pub uid: u32,
    pub size: u32,
    /// Message-ID header value, trimmed, angle brackets kept.
    pub message_id: Option<String>,
}

/// The tagged response that ended a command.
#[derive(Debug)]
struct Done {
    status: Status,
    code: Option<ResponseCode<'static>>,
    text: String,
}

impl Done {
    fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// Receives the responses of one command.
trait ResponseHandler: BodySink {
    /// An untagged response the parser understood.
    fn untagged(&mut self, resp: &Response<'_>, frame: &Frame);
    /// A response frame is finished, whether or not it parsed.
    fn frame_done(&mut self) {}
}

/// Handler from a closure, for commands without body literals.
struct Untagged<F>(F);

impl<F: FnMut(&Response<'_>, &Frame)> BodySink for Untagged<F> {
    fn begin(&mut self, _len: u64) {}
    fn chunk(&mut self, _data: &[u8]) {}
    fn end(&mut self) {}
}

impl<F: FnMut(&Response<'_>, &Frame)> ResponseHandler for Untagged<F> {
    fn untagged(&mut self, resp: &Response<'_>, frame: &Frame) {
        (self.0)(resp, frame)
    }
}

fn ignore_untagged() -> Untagged<impl FnMut(&Response<'_>, &Frame)> {
    Untagged(|_: &Response<'_>, _: &Frame| {})
}

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

/// A command as one line, when none of its arguments is a literal (which
/// would have to wait for the server): such a command can be pipelined.
fn raw_command(args: Vec<Arg<'_>>) -> Option<String> {
    let mut line = Vec::new();
    for arg in args {
        match arg {
            Arg::Raw(bytes) => line.extend_from_slice(&bytes),
            _ => return None,
        }
    }
    String::from_utf8(line).ok()
}

/// What a SELECT or EXAMINE reports about the mailbox, gathered from its
/// untagged responses.
struct Selecting {
    verb: &'static str,
    info: MailboxInfo,
    uidvalidity: Option<u32>,
}

impl Selecting {
    fn new(verb: &str) -> Selecting {
        let verb = if verb == "EXAMINE" {
            "EXAMINE"
        } else {
            "SELECT"
        };
        Selecting {
            verb,
            info: MailboxInfo {
                read_only: verb == "EXAMINE",
                ..MailboxInfo::default()
            },
            uidvalidity: None,
        }
    }

    fn handler(&mut self) -> Untagged<impl FnMut(&Response<'_>, &Frame) + '_> {
        Untagged(|resp: &Response<'_>, _: &Frame| match resp {
            Response::Data {
                status: Status::Ok,
                outcome,
            } => match outcome.code {
                Some(ResponseCode::UidValidity(v)) => self.uidvalidity = Some(v),
                Some(ResponseCode::UidNext(v)) => self.info.uidnext = Some(v),
                Some(ResponseCode::HighestModSeq(v)) => self.info.highestmodseq = Some(v),
                _ => {}
            },
            Response::MailboxData(MailboxDatum::Exists(n)) => self.info.exists = *n,
            _ => {}
        })
    }

    fn finish(mut self, done: Done) -> Result<MailboxInfo> {
        let done = check(done, self.verb)?;
        match done.code {
            Some(ResponseCode::ReadOnly) => self.info.read_only = true,
            Some(ResponseCode::ReadWrite) => self.info.read_only = false,
            _ => {}
        }
        self.info.uidvalidity = self.uidvalidity.ok_or_else(|| {
            ImapError::Protocol(format!("{} response carried no UIDVALIDITY", self.verb))
        })?;
        Ok(self.info)
    }
}

/// Commands sent before their answers are read, at most: enough to hide
/// the round trips, few enough that the answers cannot fill the socket
/// buffers while commands are still being written.
const PIPELINE_DEPTH: usize = 32;

/// An authenticated-or-not IMAP session over one connection.
pub struct Session {
    conn: Connection,
    next_tag: u32,
    caps: Vec<String>,
    caps_seen: bool,
    authenticated: bool,
    skipped: u64,
    last_skipped: Option<String>,
    bye: Option<String>,
    alerts: Vec<String>,
    trace: bool,
    /// An `ENABLE ...` to send with the next command: see
    /// [`Session::enable_with_next_command`].
    deferred_enable: Option<String>,
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
            caps: Vec::new(),
            caps_seen: false,
            authenticated: false,
            skipped: 0,
            deferred_enable: None,
            last_skipped: None,
            bye: None,
            alerts: Vec::new(),
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
        if self.authenticated {
            return Ok(());
        }
        self.caps_seen = false;
        let done = if self.has_capability("AUTH=PLAIN") {
            let mut plain = Vec::with_capacity(user.len() + password.len() + 2);
            plain.push(0);
            plain.extend_from_slice(user.as_bytes());
            plain.push(0);
            plain.extend_from_slice(password.as_bytes());
            let response = command::base64(&plain).into_bytes();
            let args = if self.has_capability("SASL-IR") {
                vec![
                    Arg::raw("AUTHENTICATE PLAIN "),
                    Arg::Raw(Cow::Owned(response)),
                ]
            } else {
                vec![
                    Arg::raw("AUTHENTICATE PLAIN"),
                    Arg::Continuation(Cow::Owned(response)),
                ]
            };
            self.run(args, &mut ignore_untagged())?
        } else if self.has_capability("LOGINDISABLED") {
            return Err(ImapError::LoginDisabled);
        } else {
            self.run(
                vec![
                    Arg::raw("LOGIN "),
                    Arg::string(user),
                    Arg::raw(" "),
                    Arg::string(password),
                ],
                &mut ignore_untagged(),
            )?
        };
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

    pub fn capabilities(&self) -> Vec<String> {
        self.caps.clone()
    }

    fn capability(&mut self) -> Result<()> {
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
    fn begin_deferred(&mut self, pipelinable: bool) -> Result<Option<String>> {
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
    fn end_deferred(&mut self, tag: Option<String>) -> Result<()> {
        let Some(tag) = tag else { return Ok(()) };
        let result = self
            .read_until_done(&tag, &mut ignore_untagged())
            .and_then(|done| check(done, "ENABLE"));
        if result.is_err() {
            self.conn.poison();
        }
        result.map(|_| ())
    }

    /// LIST "" "*".
    pub fn list(&mut self) -> Result<Vec<ListEntry>> {
        let mut entries = Vec::new();
        let done = self.run(
            vec![Arg::raw("LIST \"\" \"*\"")],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::MailboxData(MailboxDatum::List(data)) = resp {
                    entries.push(ListEntry {
                        name: data.name.to_string(),
                        delimiter: data.delimiter.as_deref().and_then(|d| d.chars().next()),
                        attributes: data.name_attributes.iter().map(name_attribute).collect(),
                    });
                }
            }),
        )?;
        check(done, "LIST")?;
        Ok(entries)
    }

    /// CREATE a mailbox (raw modified UTF-7 name); an existing one is fine.
    pub fn create(&mut self, name: &str) -> Result<()> {
        let done = self.run(
            vec![Arg::raw("CREATE "), Arg::string(name)],
            &mut ignore_untagged(),
        )?;
        if !done.is_ok()
            && done
                .text
                .to_ascii_uppercase()
                .starts_with("[ALREADYEXISTS]")
        {
            return Ok(());
        }
        check(done, "CREATE").map(|_| ())
    }

    /// SELECT, with CONDSTORE when the server has it.
    pub fn select(&mut self, name: &str) -> Result<MailboxInfo> {
        self.select_or_examine("SELECT", name)
    }

    /// EXAMINE: like SELECT but read-only, for dry runs.
    pub fn examine(&mut self, name: &str) -> Result<MailboxInfo> {
        self.select_or_examine("EXAMINE", name)
    }

    fn select_or_examine(&mut self, verb: &str, name: &str) -> Result<MailboxInfo> {
        let args = self.select_args(verb, name);
        let mut selecting = Selecting::new(verb);
        let done = self.run(args, &mut selecting.handler())?;
        selecting.finish(done)
    }

    fn select_args<'n>(&self, verb: &str, name: &'n str) -> Vec<Arg<'n>> {
        let mut args = vec![Arg::raw(format!("{verb} ")), Arg::string(name)];
        if self.has_capability("CONDSTORE") {
            args.push(Arg::raw(" (CONDSTORE)"));
        }
        args
    }

    /// Sends two commands without waiting between them, then reads each
    /// one's responses in turn: one round trip instead of two, for a second
    /// command that is valid whatever the first one answers (see
    /// [`raw_command`]). Whatever goes wrong, the connection stays in step
    /// or is dropped.
    fn run_pipelined(
        &mut self,
        first: &str,
        first_handler: &mut dyn ResponseHandler,
        second: &str,
        second_handler: &mut dyn ResponseHandler,
    ) -> Result<(Done, Done)> {
        let deferred = self.begin_deferred(true)?;
        let first_tag = self.send_raw(first)?;
        let second_tag = self.send_raw(second)?;
        self.flush()?;
        self.end_deferred(deferred)?;
        let first_done = match self.read_until_done(&first_tag, first_handler) {
            Ok(done) => done,
            Err(e) => {
                // The second command's responses are still on their way.
                self.conn.poison();
                return Err(e);
            }
        };
        let second_done = self.read_until_done(&second_tag, second_handler)?;
        Ok((first_done, second_done))
    }

    /// Writes `<tag> <command>` (one line, no literal) without flushing,
    /// and returns the tag.
    fn send_raw(&mut self, command: &str) -> Result<String> {
        let tag = self.tag();
        let line = format!("{tag} {command}");
        self.write(format!("{line}\r\n").as_bytes(), Some(&line))?;
        Ok(tag)
    }

    /// STATUS (MESSAGES UIDNEXT UIDVALIDITY [HIGHESTMODSEQ]).
    pub fn status(&mut self, name: &str) -> Result<MailboxStatus> {
        let items = if self.has_capability("CONDSTORE") {
            " (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            " (MESSAGES UIDNEXT UIDVALIDITY)"
        };
        let mut status = MailboxStatus::default();
        let done = self.run(
            vec![Arg::raw("STATUS "), Arg::string(name), Arg::raw(items)],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::MailboxData(MailboxDatum::Status { status: attrs, .. }) = resp {
                    status = condstore::status_from(attrs);
                }
            }),
        )?;
        check(done, "STATUS")?;
        Ok(status)
    }

    /// Leaves the selected mailbox with UNSELECT. Without UNSELECT the
    /// mailbox stays selected: CLOSE would expunge `\Deleted` messages.
    pub fn close(&mut self) -> Result<()> {
        if !self.has_capability("UNSELECT") {
            return Ok(());
        }
        let done = self.run(vec![Arg::raw("UNSELECT")], &mut ignore_untagged())?;
        check(done, "UNSELECT").map(|_| ())
    }

    /// UID FETCH <set> (UID FLAGS RFC822.SIZE [MODSEQ]) [(CHANGEDSINCE n)].
    /// Unsolicited FETCH responses without UID are ignored.
    pub fn uid_fetch_meta(
        &mut self,
        uids: &str,
        changed_since: Option<u64>,
        each: &mut dyn FnMut(MessageMeta),
    ) -> Result<()> {
        let condstore = self.has_capability("CONDSTORE");
        if changed_since.is_some() && !condstore {
            return Err(ImapError::Protocol(
                "CHANGEDSINCE needs CONDSTORE, which the server does not offer".into(),
            ));
        }
        let items = if condstore {
            "(UID FLAGS RFC822.SIZE MODSEQ)"
        } else {
            "(UID FLAGS RFC822.SIZE)"
        };
        let suffix = changed_since
            .map(|m| format!(" (CHANGEDSINCE {m})"))
            .unwrap_or_default();
        for set in checked_uid_sets(uids)? {
            let done = self.run(
                vec![Arg::raw(format!("UID FETCH {set} {items}{suffix}"))],
                &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                    if let Response::Fetch(_, attrs) = resp {
                        if let Some(meta) = MessageMeta::from_fetch(attrs) {
                            each(meta);
                        }
                    }
                }),
            )?;
            check(done, "UID FETCH")?;
        }
        Ok(())
    }

    /// UID FETCH <set> (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[]).
    ///
    /// Each body literal goes to a writer from `open_sink(len)` in small
    /// chunks; when the message's response is complete, `done` gets the
    /// writer back. After the first error from `open_sink`, a writer or
    /// `done`, the rest of the response is read and discarded so the
    /// session stays usable, and that error is returned.
    pub fn uid_fetch_bodies<W: io::Write>(
        &mut self,
        uids: &str,
        open_sink: &mut dyn FnMut(u64) -> io::Result<W>,
        done: &mut dyn FnMut(FetchedBody, W) -> io::Result<()>,
    ) -> Result<()> {
        for set in checked_uid_sets(uids)? {
            let mut fetch = BodyFetch {
                open_sink: &mut *open_sink,
                done: &mut *done,
                current: None,
                finished: Vec::new(),
                error: None,
            };
            let tagged = self.run(
                vec![Arg::raw(format!(
                    "UID FETCH {set} (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"
                ))],
                &mut fetch,
            )?;
            if let Some(e) = fetch.error {
                return Err(e);
            }
            check(tagged, "UID FETCH")?;
        }
        Ok(())
    }

    /// UID FETCH <set> (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]).
    pub fn uid_fetch_headers(
        &mut self,
        uids: &str,
        each: &mut dyn FnMut(HeaderInfo),
    ) -> Result<()> {
        for set in checked_uid_sets(uids)? {
            let done = self.run(
                vec![Arg::raw(format!(
                    "UID FETCH {set} (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
                ))],
                &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                    if let Response::Fetch(_, attrs) = resp {
                        let m = FetchAttrs::from(attrs.as_slice());
                        if let (Some(uid), Some(header)) = (m.uid, m.header) {
                            each(HeaderInfo {
                                uid,
                                size: m.size.unwrap_or(0),
                                message_id: extract_message_id(&header),
                            });
                        }
                    }
                }),
            )?;
            check(done, "UID FETCH")?;
        }
        Ok(())
    }

    /// APPEND exactly `len` bytes from `body` with `flags` and an optional
    /// INTERNALDATE (`dd-Mon-yyyy hh:mm:ss +zzzz`, see
    /// [`format_internal_date`]). Returns `(uidvalidity, uid)` from APPENDUID.
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: Flags,
        internal_date: Option<&str>,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Option<(u32, u32)>> {
        let mut args = vec![
            Arg::raw("APPEND "),
            Arg::string(mailbox),
            Arg::raw(format!(" {}", flags.to_imap_list())),
        ];
        if let Some(date) = internal_date {
            args.push(Arg::raw(format!(" {}", quote(date))));
        }
        args.push(Arg::raw(" "));
        args.push(Arg::Stream(body, len));
        let done = self.run(args, &mut ignore_untagged())?;
        let done = check(done, "APPEND")?;
        Ok(match done.code {
            Some(ResponseCode::AppendUid(validity, members)) => members.first().map(|m| match m {
                UidSetMember::Uid(u) => (validity, *u),
                UidSetMember::UidRange(r) => (validity, *r.start()),
            }),
            _ => None,
        })
    }

    /// UID STORE <set> +FLAGS.SILENT (...) or -FLAGS.SILENT (...).
    pub fn uid_store(&mut self, uids: &str, add: bool, flags: Flags) -> Result<()> {
        if flags.is_empty() {
            return Ok(());
        }
        let sign = if add { '+' } else { '-' };
        for set in checked_uid_sets(uids)? {
            let done = self.run(
                vec![Arg::raw(format!(
                    "UID STORE {set} {sign}FLAGS.SILENT {}",
                    flags.to_imap_list()
                ))],
                &mut ignore_untagged(),
            )?;
            check(done, "UID STORE")?;
        }
        Ok(())
    }

    /// Several `UID STORE <set> (+|-)FLAGS.SILENT (...)`, as `(uids, add,
    /// flags)`, sent without waiting for each answer: one round trip for a
    /// folder's flag changes. Every answer is read; the first failure is
    /// returned.
    pub fn uid_store_many(&mut self, stores: &[(String, bool, Flags)]) -> Result<()> {
        let mut commands = Vec::new();
        for (uids, add, flags) in stores.iter().filter(|(_, _, f)| !f.is_empty()) {
            let sign = if *add { '+' } else { '-' };
            for set in checked_uid_sets(uids)? {
                commands.push((
                    format!(
                        "UID STORE {set} {sign}FLAGS.SILENT {}",
                        flags.to_imap_list()
                    ),
                    "UID STORE",
                ));
            }
        }
        self.run_all(commands)
    }

    /// Marks the messages `\Deleted` and expunges exactly them (UID
    /// EXPUNGE, so UIDPLUS is needed), all in one round trip.
    pub fn uid_delete(&mut self, uids: &str) -> Result<()> {
        if !self.has_capability("UIDPLUS") {
            return Err(ImapError::Protocol(
                "UID EXPUNGE needs UIDPLUS, which the server does not offer".into(),
            ));
        }
        let mut commands = Vec::new();
        for set in checked_uid_sets(uids)? {
            commands.push((
                format!(
                    "UID STORE {set} +FLAGS.SILENT {}",
                    Flags::DELETED.to_imap_list()
                ),
                "UID STORE",
            ));
            commands.push((format!("UID EXPUNGE {set}"), "UID EXPUNGE"));
        }
        self.run_all(commands)
    }

    /// Runs commands (no literals) in order, sending up to
    /// [`PIPELINE_DEPTH`] before reading their answers, and reads every
    /// answer even after a failure, so the connection stays in step. A
    /// command fails only itself: the server runs the others regardless.
    fn run_all(&mut self, commands: Vec<(String, &'static str)>) -> Result<()> {
        let mut first_failure = None;
        for chunk in commands.chunks(PIPELINE_DEPTH) {
            let deferred = self.begin_deferred(true)?;
            let mut tags = Vec::with_capacity(chunk.len());
            for (command, _) in chunk {
                tags.push(self.send_raw(command)?);
            }
            self.flush()?;
            self.end_deferred(deferred)?;
            for (tag, (_, name)) in tags.iter().zip(chunk) {
                let done = match self.read_until_done(tag, &mut ignore_untagged()) {
                    Ok(done) => done,
                    Err(e) => {
                        // Later answers may still be on their way.
                        self.conn.poison();
                        return Err(e);
                    }
                };
                if let Err(e) = check(done, name) {
                    first_failure.get_or_insert(e);
                }
            }
            if first_failure.is_some() {
                break;
            }
        }
        first_failure.map_or(Ok(()), Err)
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

    /// Bare EXPUNGE: removes every `\\Deleted` message of the folder, other
    /// clients' too, so callers use it only after checking with
    /// `UID SEARCH DELETED` that nothing else is marked, on servers without
    /// UIDPLUS.
    pub fn expunge(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("EXPUNGE")], &mut ignore_untagged())?;
        check(done, "EXPUNGE").map(drop)
    }

    /// UID SEARCH with criteria already encoded by the caller, e.g. `DELETED`.
    pub fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>> {
        if criteria.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(ImapError::Protocol(
                "search criteria must not contain line breaks".into(),
            ));
        }
        self.search(vec![Arg::raw(format!("UID SEARCH {criteria}"))])
    }

    /// UID SEARCH HEADER Message-ID <id>, quoting or sending a literal as needed.
    pub fn uid_search_message_id(&mut self, message_id: &str) -> Result<Vec<u32>> {
        self.search(vec![
            Arg::raw("UID SEARCH HEADER Message-ID "),
            Arg::string(message_id),
        ])
    }

    fn search(&mut self, args: Vec<Arg<'_>>) -> Result<Vec<u32>> {
        let mut found = Vec::new();
        let done = self.run(
            args,
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::MailboxData(MailboxDatum::Search(uids)) = resp {
                    found.extend_from_slice(uids);
                }
            }),
        )?;
        check(done, "UID SEARCH")?;
        Ok(found)
    }

    pub fn noop(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("NOOP")], &mut ignore_untagged())?;
        check(done, "NOOP").map(|_| ())
    }

    /// LOGOUT; errors once the command is sent are ignored.
    pub fn logout(mut self) -> Result<()> {
        if !self.conn.is_open() {
            return Ok(());
        }
        // Nothing follows that would need it.
        self.deferred_enable = None;
        let tag = self.send_raw("LOGOUT")?;
        self.flush()?;
        let _ = self.read_until_done(&tag, &mut ignore_untagged());
        Ok(())
    }

    /// Whether the connection is TLS-protected (implicit TLS or STARTTLS).
    pub fn is_encrypted(&self) -> bool {
        self.conn.is_tls()
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

    // ---- command machinery ----

    fn tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    fn write(&mut self, data: &[u8], trace: Option<&str>) -> Result<()> {
        let result = self.conn.write(data, trace);
        self.map_lost(result)
    }

    fn flush(&mut self) -> Result<()> {
        let result = self.conn.flush();
        self.map_lost(result)
    }

    /// After `* BYE`, a failed write is the server having hung up.
    fn map_lost<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Err(ImapError::Io(_)) if self.bye.is_some() => Err(ImapError::Bye(self.bye.clone())),
            other => other,
        }
    }

    /// Sends one command and reads responses until its tagged completion.
    /// A tagged NO/BAD is returned as `Ok(Done)`; callers decide.
    fn run(&mut self, args: Vec<Arg<'_>>, handler: &mut dyn ResponseHandler) -> Result<Done> {
        let raw_only = args.iter().all(|a| matches!(a, Arg::Raw(_)));
        let deferred = self.begin_deferred(raw_only)?;
        let tag = self.tag();
        let mut line = format!("{tag} ").into_bytes();
        let mut trace = format!("{tag} ");
        let first = match args.first() {
            Some(Arg::Raw(r)) => String::from_utf8_lossy(r).into_owned(),
            _ => String::new(),
        };
        let redacted = command::redacted_trace(&format!("{tag} {first}"));
        let mut trace_pending = true;
        // What the trace shows for the bytes about to be written.
        let shown = |trace: &mut String, pending: &mut bool| -> Option<String> {
            let t = std::mem::take(trace);
            match &redacted {
                Some(r) if *pending => {
                    *pending = false;
                    Some(r.clone())
                }
                Some(_) => Some("<redacted>".to_string()),
                None => Some(t),
            }
        };
        let literal_plus = self.has_capability("LITERAL+");
        for arg in args {
            match arg {
                Arg::Raw(bytes) => {
                    line.extend_from_slice(&bytes);
                    trace.push_str(&String::from_utf8_lossy(&bytes));
                }
                Arg::Continuation(data) => {
                    line.extend_from_slice(b"\r\n");
                    let t = shown(&mut trace, &mut trace_pending);
                    self.write(&line, t.as_deref())?;
                    self.flush()?;
                    line.clear();
                    if let Some(done) = self.wait_continuation(&tag, handler)? {
                        return Ok(done);
                    }
                    line.extend_from_slice(&data);
                    trace.push_str("<redacted>");
                }
                Arg::Literal(data) => {
                    self.send_literal_marker(
                        &mut line,
                        &mut trace,
                        data.len() as u64,
                        literal_plus,
                    );
                    let t = shown(&mut trace, &mut trace_pending);
                    self.write(&line, t.as_deref())?;
                    line.clear();
                    if !literal_plus {
                        self.flush()?;
                        if let Some(done) = self.wait_continuation(&tag, handler)? {
                            return Ok(done);
                        }
                    }
                    line.extend_from_slice(&data);
                    trace.push_str(&format!("{{{} bytes}}", data.len()));
                }
                Arg::Stream(reader, len) => {
                    self.send_literal_marker(&mut line, &mut trace, len, literal_plus);
                    let t = shown(&mut trace, &mut trace_pending);
                    self.write(&line, t.as_deref())?;
                    line.clear();
                    if !literal_plus {
                        self.flush()?;
                        if let Some(done) = self.wait_continuation(&tag, handler)? {
                            return Ok(done);
                        }
                    }
                    trace.push_str(&format!("{{{len} bytes}}"));
                    self.stream_literal(reader, len)?;
                }
            }
        }
        line.extend_from_slice(b"\r\n");
        let t = shown(&mut trace, &mut trace_pending);
        self.write(&line, t.as_deref())?;
        self.flush()?;
        self.end_deferred(deferred)?;
        self.read_until_done(&tag, handler)
    }

    fn send_literal_marker(&self, line: &mut Vec<u8>, trace: &mut String, len: u64, plus: bool) {
        let marker = if plus {
            format!("{{{len}+}}\r\n")
        } else {
            format!("{{{len}}}\r\n")
        };
        line.extend_from_slice(marker.as_bytes());
        trace.push_str(marker.trim_end());
        trace.push('\n');
    }

    /// Copies exactly `len` bytes of a literal from `reader` to the server.
    fn stream_literal(&mut self, reader: &mut dyn Read, len: u64) -> Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match reader.read(&mut buf[..want]) {
                Ok(0) => {
                    // The server expects more bytes; the only safe way out is to hang up.
                    self.conn.poison();
                    return Err(ImapError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("message ended {left} bytes before its announced length"),
                    )));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.conn.poison();
                    return Err(ImapError::Io(e));
                }
            };
            self.write(&buf[..n], None)?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Waits for a `+` continuation. A tagged response instead means the
    /// server refused the command; it is returned.
    fn wait_continuation(
        &mut self,
        tag: &str,
        handler: &mut dyn ResponseHandler,
    ) -> Result<Option<Done>> {
        loop {
            match self.next_event(tag, handler)? {
                Event::Continue => return Ok(None),
                Event::Done(done) => return Ok(Some(done)),
                Event::Other => {}
            }
        }
    }

    fn read_until_done(&mut self, tag: &str, handler: &mut dyn ResponseHandler) -> Result<Done> {
        let mut oversized = false;
        let mut foreign_tag = None;
        loop {
            match self.next_event_checked(tag, handler, &mut oversized, &mut foreign_tag)? {
                Event::Done(done) => {
                    if let Some(other) = foreign_tag {
                        return Err(ImapError::Protocol(format!(
                            "tagged response for unknown command {other}"
                        )));
                    }
                    if oversized {
                        return Err(ImapError::Protocol(
                            "a response exceeded the size limit and was discarded".into(),
                        ));
                    }
                    return Ok(done);
                }
                Event::Continue | Event::Other => {}
            }
        }
    }

    fn next_event(&mut self, tag: &str, handler: &mut dyn ResponseHandler) -> Result<Event> {
        let mut oversized = false;
        let mut foreign = None;
        let event = self.next_event_checked(tag, handler, &mut oversized, &mut foreign)?;
        if let Some(other) = foreign {
            return Err(ImapError::Protocol(format!(
                "tagged response for unknown command {other}"
            )));
        }
        Ok(event)
    }

    /// Reads and dispatches one response.
    fn next_event_checked(
        &mut self,
        tag: &str,
        handler: &mut dyn ResponseHandler,
        oversized: &mut bool,
        foreign_tag: &mut Option<String>,
    ) -> Result<Event> {
        let frame = match self.conn.read_frame(handler) {
            Ok(Some(frame)) => frame,
            Ok(None) => return Err(ImapError::Bye(self.bye.clone())),
            Err(e) => return self.map_lost(Err(e)),
        };
        let event = self.dispatch(&frame, tag, handler, oversized, foreign_tag);
        handler.frame_done();
        Ok(event)
    }

    fn dispatch(
        &mut self,
        frame: &Frame,
        tag: &str,
        handler: &mut dyn ResponseHandler,
        oversized: &mut bool,
        foreign_tag: &mut Option<String>,
    ) -> Event {
        if frame.oversized {
            *oversized = true;
            self.note_skipped(frame);
            return Event::Other;
        }
        let Some(resp) = parse_response(&frame.data) else {
            return self.dispatch_unparsed(frame, tag, foreign_tag);
        };
        match resp {
            Response::Done {
                tag: t,
                status,
                outcome,
            } => {
                if let Some(ResponseCode::Capabilities(c)) = &outcome.code {
                    self.set_caps(c);
                }
                let done = Done {
                    status,
                    code: outcome.code.map(ResponseCode::into_owned),
                    text: outcome.information.map(Cow::into_owned).unwrap_or_default(),
                };
                if t.0 == tag {
                    Event::Done(done)
                } else {
                    foreign_tag.get_or_insert(t.0);
                    Event::Other
                }
            }
            Response::Continue(_) => Event::Continue,
            resp => {
                match &resp {
                    Response::Data { status, outcome } => {
                        if let Some(ResponseCode::Capabilities(c)) = &outcome.code {
                            self.set_caps(c);
                        }
                        let text = outcome.information.as_deref().unwrap_or("").to_string();
                        if outcome.code == Some(ResponseCode::Alert) {
                            if self.trace {
                                eprintln!("imap: server alert: {text}");
                            }
                            self.alerts.push(text.clone());
                        }
                        if *status == Status::Bye {
                            self.bye = Some(text);
                        }
                    }
                    Response::Capabilities(c)
                        if starts_with_ignore_case(&frame.data, b"* CAPABILITY") =>
                    {
                        self.set_caps(c);
                    }
                    _ => {}
                }
                handler.untagged(&resp, frame);
                Event::Other
            }
        }
    }

    /// Keeps the session in step when the parser rejects a response: a
    /// tagged line still ends the command, anything else is skipped.
    fn dispatch_unparsed(
        &mut self,
        frame: &Frame,
        tag: &str,
        foreign_tag: &mut Option<String>,
    ) -> Event {
        self.note_skipped(frame);
        let line = String::from_utf8_lossy(&frame.data);
        let line = line.trim_end();
        if line.starts_with('+') {
            return Event::Continue;
        }
        if let Some(rest) = line.strip_prefix("* ") {
            if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case("BYE") {
                self.bye = Some(rest[3..].trim().to_string());
            }
            return Event::Other;
        }
        let (t, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (word, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let status = match word.to_ascii_uppercase().as_str() {
            "OK" => Status::Ok,
            "NO" => Status::No,
            "BAD" => Status::Bad,
            _ => return Event::Other,
        };
        if t != tag {
            foreign_tag.get_or_insert(t.to_string());
            return Event::Other;
        }
        Event::Done(Done {
            status,
            code: None,
            text: text.to_string(),
        })
    }

    fn note_skipped(&mut self, frame: &Frame) {
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

    fn set_caps(&mut self, caps: &[Capability<'_>]) {
        self.caps = caps.iter().map(capability_name).collect();
        self.caps_seen = true;
    }
}

/// Parses one framed response, or `None` when the parser cannot read it.
///
/// `imap-proto` 0.17 panics on a few inputs (a non-ASCII byte right after a
/// response code, `INTERNALDATE NIL`, `ID` or `METADATA` data with NIL
/// values); those are sidestepped, and any other panic is caught so one
/// odd server response cannot take the process down.
fn parse_response(data: &[u8]) -> Option<Response<'static>> {
    std::panic::catch_unwind(|| parse_sanitised(data)).unwrap_or(None)
}

/// [`parse_response`] without the panic guard.
fn parse_sanitised(data: &[u8]) -> Option<Response<'static>> {
    let upper_start: Vec<u8> = data[..data.len().min(12)].to_ascii_uppercase();
    // Never requested, and the parser unwraps NIL values in them.
    if upper_start.starts_with(b"* ID ") || upper_start.starts_with(b"* METADATA ") {
        return None;
    }
    if contains_ignore_case(data, b"INTERNALDATE NIL") {
        return None;
    }
    if is_status_line(data) && data.windows(2).any(|w| w[0] == b']' && w[1] >= 0x80) {
        // Separate the response code from its text as RFC 3501 requires.
        let mut fixed = Vec::with_capacity(data.len() + 4);
        for (i, &b) in data.iter().enumerate() {
            fixed.push(b);
            if b == b']' && data.get(i + 1).is_some_and(|&n| n >= 0x80) {
                fixed.push(b' ');
            }
        }
        return parse_owned(&fixed);
    }
    parse_owned(data)
}

fn parse_owned(data: &[u8]) -> Option<Response<'static>> {
    match Response::parse(data) {
        Ok(([], resp)) => Some(resp.into_owned()),
        _ => None,
    }
}

/// Whether `data` is a status or continuation response, which carries no
/// literals (`* OK ...`, `tag NO ...`, `+ ...`).
fn is_status_line(data: &[u8]) -> bool {
    if data.starts_with(b"+") {
        return true;
    }
    let mut words = data.splitn(3, |&b| b == b' ');
    let _tag = words.next();
    let word = words.next().unwrap_or_default().to_ascii_uppercase();
    matches!(
        word.as_slice(),
        b"OK" | b"NO" | b"BAD" | b"BYE" | b"PREAUTH"
    )
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// What one response meant for the command in progress.
enum Event {
    Done(Done),
    Continue,
    Other,
}

/// Turns a tagged NO/BAD into an error.
fn check(done: Done, command: &str) -> Result<Done> {
    if done.is_ok() {
        Ok(done)
    } else {
        let text = match (&done.code, done.text.is_empty()) {
            (Some(code), _) => format!("[{}] {}", code_name(code), done.text),
            (None, false) => done.text.clone(),
            (None, true) => format!("{:?}", done.status),
        };
        Err(ImapError::No {
            command: command.to_string(),
            text,
        })
    }
}

fn code_name(code: &ResponseCode<'_>) -> String {
    let debug = format!("{code:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// Splits a caller's UID set into command-sized pieces, rejecting anything
/// that is not a UID set so it cannot inject command text.
fn checked_uid_sets(uids: &str) -> Result<Vec<String>> {
    if !is_valid_uid_set(uids) {
        return Err(ImapError::Protocol(format!("invalid UID set {uids:?}")));
    }
    Ok(split_uid_set(uids, MAX_UID_SET_LEN))
}

fn starts_with_ignore_case(data: &[u8], prefix: &[u8]) -> bool {
    data.len() >= prefix.len() && data[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn capability_name(cap: &Capability<'_>) -> String {
    match cap {
        Capability::Imap4rev1 => "IMAP4rev1".to_string(),
        Capability::Auth(m) => format!("AUTH={m}"),
        Capability::Atom(a) => a.to_string(),
    }
}

fn name_attribute(attr: &NameAttribute<'_>) -> String {
    match attr {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

impl MessageMeta {
    /// The metadata in one FETCH response; `None` for an unsolicited one
    /// without UID or FLAGS.
    fn from_fetch(attrs: &[AttributeValue<'_>]) -> Option<MessageMeta> {
        let m = FetchAttrs::from(attrs);
        Some(MessageMeta {
            uid: m.uid?,
            flags: m.flags?,
            size: m.size,
            modseq: m.modseq,
        })
    }
}

/// The FETCH items this client asks for, pulled out of one response.
#[derive(Default)]
struct FetchAttrs {
    uid: Option<u32>,
    flags: Option<Flags>,
    size: Option<u32>,
    modseq: Option<u64>,
    internal_date: Option<String>,
    header: Option<Vec<u8>>,
}

impl From<&[AttributeValue<'_>]> for FetchAttrs {
    fn from(attrs: &[AttributeValue<'_>]) -> Self {
        let mut out = FetchAttrs::default();
        for attr in attrs {
            match attr {
                AttributeValue::Uid(u) => out.uid = Some(*u),
                AttributeValue::Flags(names) => {
                    out.flags = Some(
                        names
                            .iter()
                            .filter_map(|n| Flags::from_imap_name(n))
                            .fold(Flags::empty(), Flags::union),
                    )
                }
                AttributeValue::Rfc822Size(s) => out.size = Some(*s),
                AttributeValue::ModSeq(m) => out.modseq = Some(*m),
                AttributeValue::InternalDate(d) => out.internal_date = Some(d.to_string()),
                AttributeValue::BodySection {
                    section: Some(_),
                    data: Some(d),
                    ..
                }
                | AttributeValue::Rfc822Header(Some(d)) => out.header = Some(d.to_vec()),
                _ => {}
            }
        }
        out
    }
}

/// Streams body literals to the caller's writers and hands each back once
/// its FETCH response is complete.
struct BodyFetch<'a, W> {
    open_sink: &'a mut dyn FnMut(u64) -> io::Result<W>,
    done: &'a mut dyn FnMut(FetchedBody, W) -> io::Result<()>,
    /// The writer of the literal being received and its byte count.
    current: Option<(W, u64)>,
    /// Completed literals of the current response.
    finished: Vec<(W, u64)>,
    /// First failure; once set, everything else is discarded.
    error: Option<ImapError>,
}

impl<W: io::Write> BodySink for BodyFetch<'_, W> {
    fn begin(&mut self, len: u64) {
        if self.error.is_none() {
            match (self.open_sink)(len) {
                Ok(w) => self.current = Some((w, 0)),
                Err(e) => self.error = Some(ImapError::Io(e)),
            }
        }
    }

    fn chunk(&mut self, data: &[u8]) {
        if let Some((w, n)) = &mut self.current {
            match w.write_all(data) {
                Ok(()) => *n += data.len() as u64,
                Err(e) => {
                    self.current = None;
                    self.error.get_or_insert(ImapError::Io(e));
                }
            }
        }
    }

    fn end(&mut self) {
        if let Some(finished) = self.current.take() {
            self.finished.push(finished);
        }
    }
}

impl<W: io::Write> ResponseHandler for BodyFetch<'_, W> {
    fn untagged(&mut self, resp: &Response<'_>, _frame: &Frame) {
        let Response::Fetch(_, attrs) = resp else {
            return;
        };
        let mut bodies = std::mem::take(&mut self.finished);
        if self.error.is_some() || bodies.is_empty() {
            return;
        }
        let m = FetchAttrs::from(attrs.as_slice());
        let Some(uid) = m.uid else {
            self.error = Some(ImapError::Protocol(
                "FETCH response with a body but no UID".into(),
            ));
            return;
        };
        let (writer, body_len) = bodies.swap_remove(0);
        let fetched = FetchedBody {
            uid,
            flags: m.flags.unwrap_or_default(),
            size: m.size,
            internal_date: m.internal_date,
            body_len,
        };
        if let Err(e) = (self.done)(fetched, writer) {
            self.error = Some(ImapError::Io(e));
        }
    }

    fn frame_done(&mut self) {
        if !self.finished.is_empty() {
            self.finished.clear();
            self.error.get_or_insert(ImapError::Protocol(
                "unreadable FETCH response; its message body was dropped".into(),
            ));
        }
    }
}

#[cfg(test)]
mod tests;
