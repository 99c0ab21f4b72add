//! What lets an unchanged folder cost nothing: every folder's status in one
//! LIST (LIST-STATUS, RFC 5819), and only the messages changed since a
//! remembered modseq (CONDSTORE, RFC 7162) with the UIDs expunged since
//! (QRESYNC's VANISHED).

use std::collections::HashMap;
use std::ops::RangeInclusive;

use imap_proto::{MailboxDatum, Response, StatusAttribute};

use super::framing::Frame;
use super::{
    check, checked_uid_sets, name_attribute, Arg, ImapError, ListEntry, MailboxInfo, MailboxStatus,
    MessageMeta, Result, Selecting, Session, Untagged,
};

impl Session {
    /// `LIST "" "*" RETURN (STATUS (...))`: the folders and, per folder
    /// name, its status, in one round trip. Needs LIST-STATUS.
    pub fn list_with_status(&mut self) -> Result<(Vec<ListEntry>, HashMap<String, MailboxStatus>)> {
        if !self.has_capability("LIST-STATUS") {
            return Err(ImapError::Protocol(
                "LIST RETURN (STATUS) needs LIST-STATUS, which the server does not offer".into(),
            ));
        }
        let items = if self.has_capability("CONDSTORE") {
            "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ"
        } else {
            "MESSAGES UIDNEXT UIDVALIDITY"
        };
        let mut entries = Vec::new();
        let mut statuses = HashMap::new();
        let done = self.run(
            vec![Arg::raw(format!(
                "LIST \"\" \"*\" RETURN (STATUS ({items}))"
            ))],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| match resp {
                Response::MailboxData(MailboxDatum::List(data)) => entries.push(ListEntry {
                    name: data.name.to_string(),
                    delimiter: data.delimiter.as_deref().and_then(|d| d.chars().next()),
                    attributes: data.name_attributes.iter().map(name_attribute).collect(),
                }),
                Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                    statuses.insert(mailbox.to_string(), status_from(status));
                }
                _ => {}
            }),
        )?;
        check(done, "LIST")?;
        Ok((entries, statuses))
    }

    /// The messages whose flags changed, or that arrived, since `modseq`,
    /// and with `vanished` (QRESYNC enabled) the UID ranges expunged since.
    pub fn uid_fetch_changes(
        &mut self,
        modseq: u64,
        vanished: bool,
        each: &mut dyn FnMut(MessageMeta),
        each_vanished: &mut dyn FnMut(RangeInclusive<u32>),
    ) -> Result<()> {
        if !self.has_capability("CONDSTORE") {
            return Err(ImapError::Protocol(
                "CHANGEDSINCE needs CONDSTORE, which the server does not offer".into(),
            ));
        }
        let modifier = if vanished {
            format!("(CHANGEDSINCE {modseq} VANISHED)")
        } else {
            format!("(CHANGEDSINCE {modseq})")
        };
        for set in checked_uid_sets("1:*")? {
            let done = self.run(
                vec![Arg::raw(format!(
                    "UID FETCH {set} (UID FLAGS RFC822.SIZE MODSEQ) {modifier}"
                ))],
                &mut Untagged(|resp: &Response<'_>, _: &Frame| match resp {
                    Response::Fetch(_, attrs) => {
                        if let Some(meta) = MessageMeta::from_fetch(attrs) {
                            each(meta);
                        }
                    }
                    Response::Vanished { uids, .. } => {
                        for range in uids {
                            each_vanished(range.clone());
                        }
                    }
                    _ => {}
                }),
            )?;
            check(done, "UID FETCH")?;
        }
        Ok(())
    }
}

/// A folder's changes since a modseq, as [`Session::select_with_changes`]
/// reports them.
#[derive(Debug, Default)]
pub struct FolderChanges {
    /// Messages whose flags changed, or that arrived.
    pub changed: Vec<MessageMeta>,
    /// UID ranges expunged.
    pub vanished: Vec<RangeInclusive<u32>>,
}

impl Session {
    /// SELECT (EXAMINE when `read_only`) and the changes since `modseq`
    /// (see [`Session::uid_fetch_changes`]) in one round trip. The changes
    /// are `None` when the folder's UIDVALIDITY is no longer `uidvalidity`:
    /// they would name other messages. Needs QRESYNC enabled.
    pub fn select_with_changes(
        &mut self,
        name: &str,
        read_only: bool,
        uidvalidity: u32,
        modseq: u64,
    ) -> Result<(MailboxInfo, Option<FolderChanges>)> {
        if !self.has_capability("QRESYNC") {
            return Err(ImapError::Protocol(
                "VANISHED needs QRESYNC, which the server does not offer".into(),
            ));
        }
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let select = self.select_args(verb, name);
        if select.iter().any(|a| !matches!(a, Arg::Raw(_))) {
            // A name sent as a literal waits for the server: no pipelining.
            let info = self.select_or_examine(verb, name)?;
            if info.uidvalidity != uidvalidity {
                return Ok((info, None));
            }
            let mut changes = FolderChanges::default();
            self.uid_fetch_changes(modseq, true, &mut |m| changes.changed.push(m), &mut |r| {
                changes.vanished.push(r)
            })?;
            return Ok((info, Some(changes)));
        }
        let mut selecting = Selecting::new(verb);
        let mut changes = FolderChanges::default();
        let (selected, fetched) = self.run_pipelined(
            select,
            &mut selecting.handler(),
            vec![Arg::raw(format!(
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ) (CHANGEDSINCE {modseq} VANISHED)"
            ))],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| match resp {
                Response::Fetch(_, attrs) => {
                    if let Some(meta) = MessageMeta::from_fetch(attrs) {
                        changes.changed.push(meta);
                    }
                }
                Response::Vanished { uids, .. } => changes.vanished.extend(uids.iter().cloned()),
                _ => {}
            }),
        )?;
        // A failed SELECT leaves no mailbox selected, so the FETCH failed
        // too: the SELECT's answer is the one to report.
        let info = selecting.finish(selected)?;
        check(fetched, "UID FETCH")?;
        let changes = (info.uidvalidity == uidvalidity).then_some(changes);
        Ok((info, changes))
    }
}

pub(super) fn status_from(attrs: &[StatusAttribute]) -> MailboxStatus {
    let mut status = MailboxStatus::default();
    for attr in attrs {
        match attr {
            StatusAttribute::Messages(n) => status.messages = Some(*n),
            StatusAttribute::UidNext(n) => status.uidnext = Some(*n),
            StatusAttribute::UidValidity(n) => status.uidvalidity = Some(*n),
            StatusAttribute::HighestModSeq(n) => status.highestmodseq = Some(*n),
            _ => {}
        }
    }
    status
}
