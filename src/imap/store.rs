//! Changing messages: APPEND, UID STORE of flags (pipelined), and
//! deleting with UID EXPUNGE or a bare EXPUNGE.

use std::io::Read;

use imap_proto::rfc4315::UidSetMember;
use imap_proto::ResponseCode;

use super::command::{quote, Arg};
use super::response::{check, ignore_untagged};
use super::uid_set::checked_uid_sets;
use super::{Flags, ImapError, Result, Session};

impl Session {
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

    /// Bare EXPUNGE: removes every `\\Deleted` message of the folder, other
    /// clients' too, so callers use it only after checking with
    /// `UID SEARCH DELETED` that nothing else is marked, on servers without
    /// UIDPLUS.
    pub fn expunge(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("EXPUNGE")], &mut ignore_untagged())?;
        check(done, "EXPUNGE").map(drop)
    }
}
