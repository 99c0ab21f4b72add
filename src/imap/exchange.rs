//! One command's exchange with the server: tags, writing the command
//! (literals, continuations, the redacted trace), pipelining, and the
//! response loop that keeps the session in step whatever the server sends.

use std::borrow::Cow;
use std::io::{self, Read};

use imap_proto::{Response, ResponseCode, Status};

use super::command::{self, Arg};
use super::framing::Frame;
use super::response::{
    check, ignore_untagged, parse_response, starts_with_ignore_case, Done, Event, ResponseHandler,
};
use super::{ImapError, Result, Session};

/// A command as one line, when none of its arguments is a literal (which
/// would have to wait for the server): such a command can be pipelined.
pub(super) fn raw_command(args: Vec<Arg<'_>>) -> Option<String> {
    let mut line = Vec::new();
    for arg in args {
        match arg {
            Arg::Raw(bytes) => line.extend_from_slice(&bytes),
            _ => return None,
        }
    }
    String::from_utf8(line).ok()
}

/// Commands sent before their answers are read, at most: enough to hide
/// the round trips, few enough that the answers cannot fill the socket
/// buffers while commands are still being written.
const PIPELINE_DEPTH: usize = 32;

impl Session {
    /// Sends two commands without waiting between them, then reads each
    /// one's responses in turn: one round trip instead of two, for a second
    /// command that is valid whatever the first one answers (see
    /// [`raw_command`]). Whatever goes wrong, the connection stays in step
    /// or is dropped.
    pub(super) fn run_pipelined(
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

    /// As [`Session::run_pipelined`], for any number of commands (up to
    /// [`PIPELINE_DEPTH`]), each with its handler; the answers in order.
    pub(super) fn run_pipelined_all(
        &mut self,
        commands: &mut [(&str, &mut dyn ResponseHandler)],
    ) -> Result<Vec<Done>> {
        debug_assert!(commands.len() <= PIPELINE_DEPTH);
        let deferred = self.begin_deferred(true)?;
        let mut tags = Vec::with_capacity(commands.len());
        for (command, _) in commands.iter() {
            tags.push(self.send_raw(command)?);
        }
        self.flush()?;
        self.end_deferred(deferred)?;
        let mut answers = Vec::with_capacity(commands.len());
        let last = commands.len().saturating_sub(1);
        for (i, (tag, (_, handler))) in tags.iter().zip(commands.iter_mut()).enumerate() {
            match self.read_until_done(tag, *handler) {
                Ok(done) => answers.push(done),
                Err(e) => {
                    if i < last {
                        // Later commands' responses are still on their way.
                        self.conn.poison();
                    }
                    return Err(e);
                }
            }
        }
        Ok(answers)
    }

    /// Writes `<tag> <command>` (one line, no literal) without flushing,
    /// and returns the tag.
    pub(super) fn send_raw(&mut self, command: &str) -> Result<String> {
        let tag = self.tag();
        let line = format!("{tag} {command}");
        self.write(format!("{line}\r\n").as_bytes(), Some(&line))?;
        Ok(tag)
    }

    /// Runs commands (no literals) in order, sending up to
    /// [`PIPELINE_DEPTH`] before reading their answers, and reads every
    /// answer even after a failure, so the connection stays in step. A
    /// command fails only itself: the server runs the others regardless.
    pub(super) fn run_all(&mut self, commands: Vec<(String, &'static str)>) -> Result<()> {
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

    /// Whether `tag` is one of ours, sent and not answered yet.
    fn is_pending(&self, tag: &str) -> bool {
        tag.strip_prefix('a')
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| n < self.next_tag)
            && !self.answered_early.iter().any(|(t, _)| t == tag)
    }

    pub(super) fn tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    pub(super) fn write(&mut self, data: &[u8], trace: Option<&str>) -> Result<()> {
        let result = self.conn.write(data, trace);
        self.map_lost(result)
    }

    pub(super) fn flush(&mut self) -> Result<()> {
        let result = self.conn.flush();
        self.map_lost(result)
    }

    /// After `* BYE`, a failed write is the server having hung up.
    pub(super) fn map_lost<T>(&self, result: Result<T>) -> Result<T> {
        match result {
            Err(ImapError::Io(_)) if self.bye.is_some() => Err(ImapError::Bye(self.bye.clone())),
            other => other,
        }
    }

    /// Sends one command and reads responses until its tagged completion.
    /// A tagged NO/BAD is returned as `Ok(Done)`; callers decide.
    pub(super) fn run(
        &mut self,
        args: Vec<Arg<'_>>,
        handler: &mut dyn ResponseHandler,
    ) -> Result<Done> {
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
    pub(super) fn wait_continuation(
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

    pub(super) fn read_until_done(
        &mut self,
        tag: &str,
        handler: &mut dyn ResponseHandler,
    ) -> Result<Done> {
        if let Some(i) = self.answered_early.iter().position(|(t, _)| t == tag) {
            return Ok(self.answered_early.remove(i).1);
        }
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

    pub(super) fn next_event(
        &mut self,
        tag: &str,
        handler: &mut dyn ResponseHandler,
    ) -> Result<Event> {
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
            if frame.data.starts_with(b"* ") && handler.unparsed(frame) {
                return Event::Other;
            }
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
                if outcome.code == Some(ResponseCode::Alert) {
                    self.note_alert(outcome.information.as_deref().unwrap_or(""));
                }
                let done = Done {
                    status,
                    code: outcome.code.map(ResponseCode::into_owned),
                    text: outcome.information.map(Cow::into_owned).unwrap_or_default(),
                };
                if t.0 == tag {
                    Event::Done(done)
                } else if self.is_pending(&t.0) {
                    // A later pipelined command, finished first.
                    self.answered_early.push((t.0, done));
                    Event::Other
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
                            self.note_alert(&text);
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
}
