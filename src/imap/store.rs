//! Changing messages: APPEND, UID STORE of flags (pipelined), and
//! expunging exactly the given UIDs, with UID EXPUNGE where the server has
//! UIDPLUS and a checked bare EXPUNGE where it does not.

use std::io::Read;

use imap_proto::rfc4315::UidSetMember;
use imap_proto::{Response, ResponseCode};

use super::command::{quote, Arg};
use super::framing::Frame;
use super::response::{check, ignore_untagged, Untagged};
use super::uid_set::UidSet;
use super::{Flags, Result, Session};
use crate::model::{Uid, UidValidity};

impl Session {
    /// APPEND exactly `len` bytes from `body` with `flags` (keywords named
    /// through `mailbox`'s keyword table) and an optional
    /// INTERNALDATE (`dd-Mon-yyyy hh:mm:ss +zzzz`, see
    /// [`format_internal_date`]). Returns where the message went, when the
    /// server says (APPENDUID, with UIDPLUS).
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: Flags,
        internal_date: Option<&str>,
        body: &mut dyn Read,
        len: u64,
    ) -> Result<Option<AppendUid>> {
        let mut args = vec![
            Arg::raw("APPEND "),
            Arg::string(mailbox),
            Arg::raw(format!(" {}", self.flag_list(Some(mailbox), flags))),
        ];
        if let Some(date) = internal_date {
            args.push(Arg::raw(format!(" {}", quote(date))));
        }
        args.push(Arg::raw(" "));
        args.push(Arg::Stream(body, len));
        let done = self.run(args, &mut ignore_untagged())?;
        let done = check(done, "APPEND")?;
        Ok(match done.code {
            Some(ResponseCode::AppendUid(uidvalidity, members)) => {
                members.first().map(|m| AppendUid {
                    uidvalidity: UidValidity(uidvalidity),
                    uid: Uid(match m {
                        UidSetMember::Uid(u) => *u,
                        UidSetMember::UidRange(r) => *r.start(),
                    }),
                })
            }
            _ => None,
        })
    }

    /// UID STORE <set> +FLAGS.SILENT (...) or -FLAGS.SILENT (...).
    pub fn uid_store(&mut self, set: &UidSet, add: bool, flags: Flags) -> Result<()> {
        if flags.is_empty() {
            return Ok(());
        }
        let sign = if add { '+' } else { '-' };
        let done = self.run(
            vec![Arg::raw(format!(
                "UID STORE {set} {sign}FLAGS.SILENT {}",
                self.selected_flag_list(flags)
            ))],
            &mut ignore_untagged(),
        )?;
        check(done, "UID STORE").map(drop)
    }

    /// Several `UID STORE <set> (+|-)FLAGS.SILENT (...)`, as `(set, add,
    /// flags)`, sent without waiting for each answer: one round trip for a
    /// folder's flag changes. Every answer is read; the first failure is
    /// returned.
    pub fn uid_store_many(&mut self, stores: &[(UidSet, bool, Flags)]) -> Result<()> {
        let commands = stores
            .iter()
            .filter(|(_, _, f)| !f.is_empty())
            .map(|(set, add, flags)| {
                let sign = if *add { '+' } else { '-' };
                (
                    format!(
                        "UID STORE {set} {sign}FLAGS.SILENT {}",
                        self.selected_flag_list(*flags)
                    ),
                    "UID STORE",
                )
            })
            .collect();
        self.run_all(commands)
    }

    /// Removes exactly the messages `uids` from the selected folder.
    ///
    /// With UIDPLUS: `\Deleted` and UID EXPUNGE per set, in one round trip.
    /// Without it only a bare EXPUNGE exists, which removes every
    /// `\Deleted` message, other clients' too; so it is used only when
    /// `UID SEARCH DELETED` shows nothing else marked. Otherwise the
    /// messages are only marked `\Deleted`, for a later run to expunge,
    /// and the answer says so.
    pub fn expunge_uids(&mut self, uids: &[Uid]) -> Result<Expunged> {
        if uids.is_empty() {
            return Ok(Expunged::All);
        }
        if self.has_capability("UIDPLUS") {
            let mut commands = Vec::new();
            for set in UidSet::covering(uids) {
                commands.push((
                    format!(
                        "UID STORE {set} +FLAGS.SILENT {}",
                        Flags::DELETED.to_imap_list()
                    ),
                    "UID STORE",
                ));
                commands.push((format!("UID EXPUNGE {set}"), "UID EXPUNGE"));
            }
            self.run_all(commands)?;
            return Ok(Expunged::All);
        }
        let others = self.uid_search("DELETED")?;
        let marked_by_others = others.iter().any(|u| !uids.contains(u));
        for set in UidSet::covering(uids) {
            self.uid_store(&set, true, Flags::DELETED)?;
            if !marked_by_others {
                self.expunge()?;
            }
        }
        Ok(if marked_by_others {
            Expunged::MarkedOnly
        } else {
            Expunged::All
        })
    }

    /// Moves the messages `uids` of the selected folder to `to`: UID MOVE
    /// (RFC 6851) where the server has it, else UID COPY and the checked
    /// expunge of exactly those UIDs ([`Session::expunge_uids`]). Returns
    /// where each went, from COPYUID: `(uidvalidity of to, [(old, new)])`;
    /// `None` when the server did not say (no UIDPLUS).
    pub fn uid_move(&mut self, uids: &[Uid], to: &str) -> Result<Option<Moved>> {
        if uids.is_empty() {
            return Ok(None);
        }
        let mut moved: Option<Moved> = None;
        let mut note = |code: &Option<ResponseCode<'_>>| {
            if let Some(ResponseCode::CopyUid(validity, from, into)) = code {
                let entry = moved.get_or_insert_with(|| Moved {
                    uidvalidity: UidValidity(*validity),
                    uids: Vec::new(),
                });
                entry
                    .uids
                    .extend(expand(from).into_iter().zip(expand(into)));
            }
        };
        let verb = if self.has_capability("MOVE") {
            "MOVE"
        } else {
            "COPY"
        };
        for set in UidSet::covering(uids) {
            let mut handler = Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::Data { outcome, .. } = resp {
                    note(&outcome.code);
                }
            });
            let done = self.run(
                vec![Arg::raw(format!("UID {verb} {set} ")), Arg::string(to)],
                &mut handler,
            )?;
            let done = check(done, &format!("UID {verb}"))?;
            note(&done.code);
        }
        if verb == "COPY" && self.expunge_uids(uids)? == Expunged::MarkedOnly {
            return Err(super::ImapError::Protocol(format!(
                "copied to {to}, but without UIDPLUS the originals could only be marked \\Deleted \
                 (other messages are marked too)"
            )));
        }
        Ok(moved)
    }

    /// Bare EXPUNGE: removes every `\Deleted` message of the folder.
    fn expunge(&mut self) -> Result<()> {
        let done = self.run(vec![Arg::raw("EXPUNGE")], &mut ignore_untagged())?;
        check(done, "EXPUNGE").map(drop)
    }
}

/// Where an APPEND put the message (APPENDUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendUid {
    pub uidvalidity: UidValidity,
    pub uid: Uid,
}

/// What [`Session::expunge_uids`] could do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expunged {
    /// The messages are gone.
    All,
    /// The server lacks UIDPLUS and other messages are marked `\Deleted`:
    /// a bare EXPUNGE would remove them too, so the messages are only
    /// marked, to be expunged by a later run.
    MarkedOnly,
}

/// Where moved messages went (COPYUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub uidvalidity: UidValidity,
    /// (UID in the source folder, UID in the target folder).
    pub uids: Vec<(Uid, Uid)>,
}

fn expand(members: &[UidSetMember]) -> Vec<Uid> {
    members
        .iter()
        .flat_map(|m| match m {
            UidSetMember::Uid(u) => *u..=*u,
            UidSetMember::UidRange(r) => r.clone(),
        })
        .map(Uid)
        .collect()
}
