//! Commands on mailboxes: CREATE, RENAME, DELETE, SELECT and EXAMINE,
//! STATUS and leaving a mailbox. LIST is in `listing.rs`.

use imap_proto::{MailboxDatum, Response, ResponseCode, Status};

use super::command::Arg;
use super::condstore;
use super::framing::Frame;
use super::response::{check, ignore_untagged, Done, Untagged};
use super::{ImapError, MailboxInfo, MailboxStatus, Result, Session};
use crate::model::{ModSeq, Uid, UidValidity};

/// What a SELECT or EXAMINE reports about the mailbox, gathered from its
/// untagged responses.
pub(super) struct Selecting {
    verb: &'static str,
    info: MailboxInfo,
    uidvalidity: Option<UidValidity>,
}

impl Selecting {
    pub(super) fn new(verb: &str) -> Selecting {
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

    pub(super) fn handler(&mut self) -> Untagged<impl FnMut(&Response<'_>, &Frame) + '_> {
        Untagged(|resp: &Response<'_>, _: &Frame| match resp {
            Response::Data {
                status: Status::Ok,
                outcome,
            } => match outcome.code {
                Some(ResponseCode::UidValidity(v)) => self.uidvalidity = Some(UidValidity(v)),
                Some(ResponseCode::UidNext(v)) => self.info.uidnext = Some(Uid(v)),
                Some(ResponseCode::HighestModSeq(v)) => self.info.highestmodseq = Some(ModSeq(v)),
                Some(ResponseCode::PermanentFlags(ref flags)) => {
                    self.info.permanent_flags = Some(flags.iter().map(|f| f.to_string()).collect())
                }
                _ => {}
            },
            Response::MailboxData(MailboxDatum::Exists(n)) => self.info.exists = *n,
            _ => {}
        })
    }

    pub(super) fn finish(mut self, done: Done) -> Result<MailboxInfo> {
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

impl Session {
    /// RENAME a mailbox (raw names); the server renames its children too.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<()> {
        let done = self.run(
            vec![
                Arg::raw("RENAME "),
                Arg::string(from),
                Arg::raw(" "),
                Arg::string(to),
            ],
            &mut ignore_untagged(),
        )?;
        check(done, "RENAME")?;
        Ok(())
    }

    /// DELETE a mailbox (raw name).
    pub fn delete(&mut self, name: &str) -> Result<()> {
        let done = self.run(
            vec![Arg::raw("DELETE "), Arg::string(name)],
            &mut ignore_untagged(),
        )?;
        check(done, "DELETE")?;
        Ok(())
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

    pub(super) fn select_or_examine(&mut self, verb: &str, name: &str) -> Result<MailboxInfo> {
        let args = self.select_args(verb, name);
        let mut selecting = Selecting::new(verb);
        self.selecting(name);
        let done = self.run(args, &mut selecting.handler())?;
        selecting.finish(done).inspect_err(|_| self.selected = None)
    }

    /// Notes the mailbox a SELECT or EXAMINE is about to open: FETCH
    /// responses, from its own answer on, map keywords through its table.
    pub(super) fn selecting(&mut self, name: &str) {
        self.selected = Some(name.to_string());
    }

    pub(super) fn select_args<'n>(&self, verb: &str, name: &'n str) -> Vec<Arg<'n>> {
        let mut args = vec![Arg::raw(format!("{verb} ")), Arg::string(name)];
        if self.has_capability("CONDSTORE") {
            args.push(Arg::raw(" (CONDSTORE)"));
        }
        args
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

    /// STATUS with HIGHESTMODSEQ, or `None` where the server lacks
    /// CONDSTORE: without a modseq a status cannot show that a folder's
    /// flags are unchanged, so asking would cost a round trip for nothing.
    pub fn status_with_modseq(&mut self, name: &str) -> Result<Option<MailboxStatus>> {
        if !self.has_capability("CONDSTORE") {
            return Ok(None);
        }
        self.status(name).map(Some)
    }

    /// Leaves the selected mailbox with UNSELECT. Without UNSELECT the
    /// mailbox stays selected: CLOSE would expunge `\Deleted` messages.
    pub fn close(&mut self) -> Result<()> {
        if !self.has_capability("UNSELECT") {
            return Ok(());
        }
        let done = self.run(vec![Arg::raw("UNSELECT")], &mut ignore_untagged())?;
        self.selected = None;
        check(done, "UNSELECT").map(|_| ())
    }
}
