//! Finding and fetching messages: UID SEARCH, and UID FETCH of flags,
//! headers or whole bodies, the bodies streamed to the caller's writers
//! literal by literal rather than buffered.

use std::io;

use imap_proto::{AttributeValue, MailboxDatum, Response};

use super::command::Arg;
use super::framing::{BodySink, Frame};
use super::keywords::flags_from_names;
use super::response::{check, ResponseHandler, Untagged};
use super::uid_set::UidSet;
use super::{
    extract_message_id, FetchedBody, Flags, HeaderInfo, ImapError, RemoteMessage, Result, Session,
    WholeHeader,
};
use crate::model::{identity_key, Identities, Keywords, ModSeq, Uid};

impl Session {
    /// Unsolicited FETCH responses without UID are ignored.
    pub fn uid_fetch_meta(
        &mut self,
        set: &UidSet,
        changed_since: Option<ModSeq>,
        each: &mut dyn FnMut(RemoteMessage),
    ) -> Result<()> {
        self.fetch_meta(set, changed_since, None, each)
    }

    /// [`Session::uid_fetch_meta`] of a whole listing, also collecting the
    /// messages' identities where the server names them
    /// ([`Session::identity_item`]).
    pub fn uid_fetch_listing(
        &mut self,
        set: &UidSet,
        identities: &mut Identities,
        each: &mut dyn FnMut(RemoteMessage),
    ) -> Result<()> {
        self.fetch_meta(set, None, Some(identities), each)
    }

    fn fetch_meta(
        &mut self,
        set: &UidSet,
        changed_since: Option<ModSeq>,
        mut identities: Option<&mut Identities>,
        each: &mut dyn FnMut(RemoteMessage),
    ) -> Result<()> {
        let condstore = self.has_capability("CONDSTORE");
        if changed_since.is_some() && !condstore {
            return Err(ImapError::Protocol(
                "CHANGEDSINCE needs CONDSTORE, which the server does not offer".into(),
            ));
        }
        let mut items = String::from("UID FLAGS RFC822.SIZE");
        if condstore {
            items.push_str(" MODSEQ");
        }
        let identity = identities.as_ref().and(self.identity_item());
        if let Some(item) = identity {
            items.push(' ');
            items.push_str(item);
        }
        let suffix = changed_since
            .map(|m| format!(" (CHANGEDSINCE {m})"))
            .unwrap_or_default();
        let mut keywords = self.take_selected_keywords();
        let done = self.run(
            vec![Arg::raw(format!("UID FETCH {set} ({items}){suffix}"))],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::Fetch(_, attrs) = resp {
                    let table = keywords.as_mut().map(|(_, t)| t);
                    let attrs = FetchAttrs::parse(attrs, table);
                    if let (Some(ids), Some(uid), Some(key)) =
                        (identities.as_deref_mut(), attrs.uid, &attrs.identity)
                    {
                        ids.push(uid, key);
                    }
                    if let Some(meta) = attrs.remote_message() {
                        each(meta);
                    }
                }
            }),
        );
        self.restore_selected_keywords(keywords);
        check(done?, "UID FETCH")?;
        if let Some(ids) = identities {
            ids.sort();
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
        set: &UidSet,
        open_sink: &mut dyn FnMut(u64) -> io::Result<W>,
        done: &mut dyn FnMut(FetchedBody, W) -> io::Result<()>,
    ) -> Result<()> {
        let mut keywords = self.take_selected_keywords();
        let mut fetch = BodyFetch {
            open_sink: &mut *open_sink,
            done: &mut *done,
            current: None,
            finished: Vec::new(),
            error: None,
            keywords: keywords.as_mut().map(|(_, t)| t),
        };
        let tagged = self.run(
            vec![Arg::raw(format!(
                "UID FETCH {set} (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])"
            ))],
            &mut fetch,
        );
        let error = fetch.error.take();
        drop(fetch);
        self.restore_selected_keywords(keywords);
        let tagged = tagged?;
        if let Some(e) = error {
            return Err(e);
        }
        check(tagged, "UID FETCH")?;
        Ok(())
    }

    /// UID FETCH <set> (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER]): what a
    /// placeholder of a message too large to download is made of.
    pub fn uid_fetch_whole_headers(
        &mut self,
        set: &UidSet,
        each: &mut dyn FnMut(WholeHeader) -> io::Result<()>,
    ) -> Result<()> {
        let mut error = None;
        let done = self.run(
            vec![Arg::raw(format!(
                "UID FETCH {set} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER])"
            ))],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::Fetch(_, attrs) = resp {
                    let m = FetchAttrs::from(attrs.as_slice());
                    if let (Some(uid), Some(flags), Some(header)) = (m.uid, m.flags, m.header) {
                        if error.is_none() {
                            if let Err(e) = each(WholeHeader {
                                uid,
                                flags,
                                size: m.size.unwrap_or(0),
                                header,
                            }) {
                                error = Some(e);
                            }
                        }
                    }
                }
            }),
        )?;
        if let Some(e) = error {
            return Err(ImapError::Io(e));
        }
        check(done, "UID FETCH")?;
        Ok(())
    }

    /// UID FETCH <set> (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]).
    pub fn uid_fetch_headers(
        &mut self,
        set: &UidSet,
        each: &mut dyn FnMut(HeaderInfo),
    ) -> Result<()> {
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
        Ok(())
    }

    /// UID SEARCH with criteria already encoded by the caller, e.g. `DELETED`.
    pub fn uid_search(&mut self, criteria: &str) -> Result<Vec<Uid>> {
        if criteria.bytes().any(|b| b == b'\r' || b == b'\n') {
            return Err(ImapError::Protocol(
                "search criteria must not contain line breaks".into(),
            ));
        }
        self.search(vec![Arg::raw(format!("UID SEARCH {criteria}"))])
    }

    /// UID SEARCH HEADER Message-ID <id>, quoting or sending a literal as needed.
    pub fn uid_search_message_id(&mut self, message_id: &str) -> Result<Vec<Uid>> {
        self.search(vec![
            Arg::raw("UID SEARCH HEADER Message-ID "),
            Arg::string(message_id),
        ])
    }

    fn search(&mut self, args: Vec<Arg<'_>>) -> Result<Vec<Uid>> {
        let mut found = Vec::new();
        let done = self.run(
            args,
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::MailboxData(MailboxDatum::Search(uids)) = resp {
                    found.extend(uids.iter().map(|&u| Uid(u)));
                }
            }),
        )?;
        check(done, "UID SEARCH")?;
        Ok(found)
    }
}

/// The FETCH items this client asks for, pulled out of one response.
#[derive(Default)]
pub(super) struct FetchAttrs {
    pub(super) uid: Option<Uid>,
    pub(super) flags: Option<Flags>,
    pub(super) size: Option<u32>,
    pub(super) modseq: Option<ModSeq>,
    pub(super) internal_date: Option<String>,
    pub(super) header: Option<Vec<u8>>,
    /// EMAILID (or Dovecot's X-GUID read as one) or X-GM-MSGID, as stored.
    pub(super) identity: Option<Vec<u8>>,
}

impl From<&[AttributeValue<'_>]> for FetchAttrs {
    fn from(attrs: &[AttributeValue<'_>]) -> Self {
        FetchAttrs::parse(attrs, None)
    }
}

impl FetchAttrs {
    /// The attributes, FLAGS' keywords through `keywords` when given.
    pub(super) fn parse(
        attrs: &[AttributeValue<'_>],
        mut keywords: Option<&mut Keywords>,
    ) -> FetchAttrs {
        let mut out = FetchAttrs::default();
        for attr in attrs {
            match attr {
                AttributeValue::Uid(u) => out.uid = Some(Uid(*u)),
                AttributeValue::Flags(names) => {
                    out.flags = Some(flags_from_names(names, keywords.as_deref_mut()))
                }
                AttributeValue::Rfc822Size(s) => out.size = Some(*s),
                AttributeValue::ModSeq(m) => out.modseq = Some(ModSeq(*m)),
                AttributeValue::InternalDate(d) => out.internal_date = Some(d.to_string()),
                AttributeValue::BodySection {
                    section: Some(_),
                    data: Some(d),
                    ..
                }
                | AttributeValue::Rfc822Header(Some(d)) => out.header = Some(d.to_vec()),
                AttributeValue::EmailId(id) => out.identity = Some(identity_key(id)),
                AttributeValue::GmailMsgId(id) => {
                    out.identity = Some(identity_key(&id.to_string()))
                }
                _ => {}
            }
        }
        out
    }

    /// The metadata, where the response carried UID and FLAGS.
    pub(super) fn remote_message(&self) -> Option<RemoteMessage> {
        Some(RemoteMessage {
            uid: self.uid?,
            flags: self.flags?,
            size: self.size,
            modseq: self.modseq,
        })
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
    /// The folder's keyword table, if any.
    keywords: Option<&'a mut Keywords>,
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
        let m = FetchAttrs::parse(attrs.as_slice(), self.keywords.as_deref_mut());
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
