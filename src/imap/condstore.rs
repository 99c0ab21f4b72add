//! What lets an unchanged folder cost nothing (with every folder's status
//! in its LIST, `listing.rs`): only the messages changed since a
//! remembered modseq (CONDSTORE, RFC 7162) with the UIDs expunged since
//! (QRESYNC's VANISHED).

use std::ops::RangeInclusive;

use imap_proto::{MailboxDatum, Response, StatusAttribute};

use super::fetch::FetchAttrs;
use super::framing::Frame;
use super::{
    check, raw_command, Arg, ImapError, MailboxInfo, MailboxStatus, RemoteMessage, Result,
    Selecting, Session, Untagged,
};
use crate::model::{Identities, Keywords, ModSeq, Uid, UidValidity};

/// A folder's changes since a modseq, as [`Session::select_with_changes`]
/// reports them.
#[derive(Debug, Default)]
pub struct FolderChanges {
    /// Messages whose flags changed, or that arrived.
    pub changed: Vec<RemoteMessage>,
    /// UID ranges expunged.
    pub vanished: Vec<RangeInclusive<u32>>,
    /// The identities of the changed messages, where the server names them.
    pub identities: Identities,
}

/// The messages changed or arrived since `modseq`, and (QRESYNC) the UIDs
/// expunged since.
/// With `identity` (see [`Session::identity_item`]), arrivals bring it.
fn changes_since(modseq: ModSeq, identity: Option<&str>) -> String {
    let identity = identity.map(|i| format!(" {i}")).unwrap_or_default();
    format!(
        "UID FETCH 1:* (UID FLAGS RFC822.SIZE MODSEQ{identity}) (CHANGEDSINCE {modseq} VANISHED)"
    )
}

/// Collects the answer to [`changes_since`] into `changes`, keywords
/// through the folder's table when there is one.
fn collect_changes<'a>(
    changes: &'a mut FolderChanges,
    keywords: &'a mut Option<(String, Keywords)>,
) -> Untagged<impl FnMut(&Response<'_>, &Frame) + 'a> {
    Untagged(move |resp: &Response<'_>, _: &Frame| match resp {
        Response::Fetch(_, attrs) => {
            let attrs = FetchAttrs::parse(attrs, keywords.as_mut().map(|(_, t)| t));
            if let (Some(uid), Some(key)) = (attrs.uid, &attrs.identity) {
                changes.identities.push(uid, key);
            }
            if let Some(meta) = attrs.remote_message() {
                changes.changed.push(meta);
            }
        }
        Response::Vanished { uids, .. } => changes.vanished.extend(uids.iter().cloned()),
        _ => {}
    })
}

impl Session {
    /// Opens a folder (EXAMINE when `read_only`) and, where the server has
    /// QRESYNC and `since` holds the folder's recorded UIDVALIDITY and
    /// HIGHESTMODSEQ, gets the changes since then in the same round trip.
    /// No changes means the caller must list the folder: the server cannot
    /// tell them, or the UIDVALIDITY changed.
    pub fn open_with_changes(
        &mut self,
        name: &str,
        read_only: bool,
        since: Option<(UidValidity, ModSeq)>,
    ) -> Result<(MailboxInfo, Option<FolderChanges>)> {
        let (info, changes, _) = self.open_with_changes_searching(name, read_only, since, None)?;
        Ok((info, changes))
    }

    /// As [`Session::open_with_changes`], and where the changes come in one
    /// round trip, a `UID SEARCH` with `search` (criteria without literals)
    /// in the same one: its UIDs, else `None` (not sent, or it failed; the
    /// caller searches on its own if it needs to).
    pub fn open_with_changes_searching(
        &mut self,
        name: &str,
        read_only: bool,
        since: Option<(UidValidity, ModSeq)>,
        search: Option<&str>,
    ) -> Result<(MailboxInfo, Option<FolderChanges>, Option<Vec<Uid>>)> {
        match since {
            Some((uidvalidity, modseq)) if self.has_capability("QRESYNC") => {
                self.select_with_changes_searching(name, read_only, uidvalidity, modseq, search)
            }
            _ => {
                let verb = if read_only { "EXAMINE" } else { "SELECT" };
                Ok((self.select_or_examine(verb, name)?, None, None))
            }
        }
    }

    /// SELECT (EXAMINE when `read_only`) and the changes since `modseq` in
    /// one round trip. The changes are `None` when the folder's UIDVALIDITY
    /// is no longer `uidvalidity`: they would name other messages. Needs
    /// QRESYNC enabled. (The tests' way in; the sync opens folders with
    /// [`Session::open_with_changes_searching`].)
    #[cfg(test)]
    pub(super) fn select_with_changes(
        &mut self,
        name: &str,
        read_only: bool,
        uidvalidity: UidValidity,
        modseq: ModSeq,
    ) -> Result<(MailboxInfo, Option<FolderChanges>)> {
        let (info, changes, _) =
            self.select_with_changes_searching(name, read_only, uidvalidity, modseq, None)?;
        Ok((info, changes))
    }

    /// [`Session::select_with_changes`], with the pipelined search of
    /// [`Session::open_with_changes_searching`].
    fn select_with_changes_searching(
        &mut self,
        name: &str,
        read_only: bool,
        uidvalidity: UidValidity,
        modseq: ModSeq,
        search: Option<&str>,
    ) -> Result<(MailboxInfo, Option<FolderChanges>, Option<Vec<Uid>>)> {
        if !self.has_capability("QRESYNC") {
            return Err(ImapError::Protocol(
                "VANISHED needs QRESYNC, which the server does not offer".into(),
            ));
        }
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let mut changes = FolderChanges::default();
        let Some(select) = raw_command(self.select_args(verb, name)) else {
            // A name sent as a literal waits for the server: no pipelining.
            let info = self.select_or_examine(verb, name)?;
            if info.uidvalidity != uidvalidity {
                return Ok((info, None, None));
            }
            let mut keywords = self.take_selected_keywords();
            let done = self.run(
                vec![Arg::raw(changes_since(modseq, self.identity_item()))],
                &mut collect_changes(&mut changes, &mut keywords),
            );
            self.restore_selected_keywords(keywords);
            check(done?, "UID FETCH")?;
            return Ok((info, Some(changes), None));
        };
        let search = search.filter(|c| !c.bytes().any(|b| b == b'\r' || b == b'\n'));
        if let Some(criteria) = search {
            let mut selecting = Selecting::new(verb);
            self.selecting(name);
            let mut keywords = self.take_selected_keywords();
            // A server may answer the SEARCH while it still answers the
            // FETCH (Dovecot runs them at once): its result is taken from
            // whichever command's responses it comes among.
            let found = std::cell::RefCell::new(Vec::new());
            let searched = |resp: &Response<'_>| {
                if let Response::MailboxData(MailboxDatum::Search(uids)) = resp {
                    found.borrow_mut().extend(uids.iter().map(|&u| Uid(u)));
                    true
                } else {
                    false
                }
            };
            let mut changes_or_search = collect_changes(&mut changes, &mut keywords);
            let ran = self.run_pipelined_all(&mut [
                (select.as_str(), &mut selecting.handler()),
                (
                    &changes_since(modseq, self.identity_item()),
                    &mut Untagged(|resp: &Response<'_>, frame: &Frame| {
                        if !searched(resp) {
                            (changes_or_search.0)(resp, frame);
                        }
                    }),
                ),
                (
                    &format!("UID SEARCH {criteria}"),
                    &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                        searched(resp);
                    }),
                ),
            ]);
            drop(changes_or_search);
            self.restore_selected_keywords(keywords);
            let done = ran?;
            let found = found.into_inner();
            let mut done = done.into_iter();
            let (selected, fetched, searched) = (
                done.next().expect("three answers"),
                done.next().expect("three answers"),
                done.next().expect("three answers"),
            );
            let info = selecting.finish(selected)?;
            check(fetched, "UID FETCH")?;
            let same = info.uidvalidity == uidvalidity;
            let found = check(searched, "UID SEARCH").ok().map(|_| found);
            return Ok((info, same.then_some(changes), found));
        }
        let mut selecting = Selecting::new(verb);
        self.selecting(name);
        let mut keywords = self.take_selected_keywords();
        let ran = self.run_pipelined(
            &select,
            &mut selecting.handler(),
            &changes_since(modseq, self.identity_item()),
            &mut collect_changes(&mut changes, &mut keywords),
        );
        self.restore_selected_keywords(keywords);
        let (selected, fetched) = ran?;
        // A failed SELECT leaves no mailbox selected, so the FETCH failed
        // too: the SELECT's answer is the one to report.
        let info = selecting
            .finish(selected)
            .inspect_err(|_| self.selected = None)?;
        check(fetched, "UID FETCH")?;
        let changes = (info.uidvalidity == uidvalidity).then_some(changes);
        Ok((info, changes, None))
    }
}

pub(super) fn status_from(attrs: &[StatusAttribute]) -> MailboxStatus {
    let mut status = MailboxStatus::default();
    for attr in attrs {
        match attr {
            StatusAttribute::Messages(n) => status.messages = Some(*n),
            StatusAttribute::UidNext(n) => status.uidnext = Some(Uid(*n)),
            StatusAttribute::UidValidity(n) => status.uidvalidity = Some(UidValidity(*n)),
            StatusAttribute::HighestModSeq(n) => status.highestmodseq = Some(ModSeq(*n)),
            _ => {}
        }
    }
    status
}
