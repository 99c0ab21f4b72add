//! A look at several folders in one round trip, for finding the server's
//! moves (`sync/server_moves.rs`): each folder EXAMINEd, with what left it
//! and the Message-IDs of what arrived, every command of every folder
//! written before any answer is read. What left is asked as the UIDs
//! expunged since the last sync's modseq where the server has QRESYNC, so
//! the answer grows with the changes, not with the folder; else as every
//! UID present.

use std::ops::RangeInclusive;

use imap_proto::{MailboxDatum, Response};

use super::exchange::raw_command;
use super::fetch::FetchAttrs;
use super::framing::Frame;
use super::mailbox::Selecting;
use super::response::{check, ResponseHandler};
use super::{extract_message_id, HeaderInfo, MailboxInfo, Result, Session, Untagged};
use crate::model::{ModSeq, Uid};

/// Folders looked at per round trip: three commands each stay within the
/// pipelining depth the session keeps to.
const FOLDERS_AT_ONCE: usize = 10;

/// What to ask about a folder.
#[derive(Debug, Clone)]
pub struct FolderProbe {
    pub name: String,
    /// Ask what left: the UIDs expunged since this modseq where the server
    /// can say (QRESYNC), else every UID present. `None`: do not ask.
    pub departures_since: Option<Option<ModSeq>>,
    /// Ask the Message-ID and size of every message from this UID on.
    pub arrivals_from: Option<Uid>,
}

/// What left a folder, as the server could tell it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Departures {
    /// UID ranges expunged since the modseq asked about.
    Vanished(Vec<RangeInclusive<u32>>),
    /// Every UID the folder holds now.
    Present(Vec<Uid>),
}

/// The server's answers about one folder.
#[derive(Debug, Clone)]
pub struct ProbeAnswer {
    pub info: MailboxInfo,
    pub departures: Option<Departures>,
    pub arrivals: Vec<HeaderInfo>,
}

/// One folder's commands as sent, and their tags.
struct Sent {
    examine: String,
    departures: Option<(String, bool)>,
    arrivals: Option<String>,
}

impl Session {
    /// Looks at each folder of `probes` as it asks; one answer (or the
    /// error of that folder) per probe, in order. A folder whose name must
    /// travel as a literal is looked at on its own.
    pub fn probe_folders(&mut self, probes: &[FolderProbe]) -> Result<Vec<Result<ProbeAnswer>>> {
        let mut answers = Vec::with_capacity(probes.len());
        for chunk in probes.chunks(FOLDERS_AT_ONCE) {
            answers.extend(self.probe_chunk(chunk)?);
        }
        Ok(answers)
    }

    fn probe_chunk(&mut self, probes: &[FolderProbe]) -> Result<Vec<Result<ProbeAnswer>>> {
        let qresync = self.has_capability("QRESYNC");
        let deferred = self.begin_deferred(true)?;
        let mut sent = Vec::with_capacity(probes.len());
        for probe in probes {
            let Some(examine) = raw_command(self.select_args("EXAMINE", &probe.name)) else {
                sent.push(None);
                continue;
            };
            let examine = self.send_raw(&examine)?;
            let departures = match probe.departures_since {
                Some(Some(modseq)) if qresync => Some((
                    self.send_raw(&format!(
                        "UID FETCH 1:* (UID) (CHANGEDSINCE {modseq} VANISHED)"
                    ))?,
                    true,
                )),
                Some(_) => Some((self.send_raw("UID SEARCH ALL")?, false)),
                None => None,
            };
            let arrivals = match probe.arrivals_from {
                Some(from) => Some(self.send_raw(&format!(
                    "UID FETCH {from}:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
                ))?),
                None => None,
            };
            sent.push(Some(Sent {
                examine,
                departures,
                arrivals,
            }));
        }
        self.flush()?;
        self.end_deferred(deferred)?;
        let mut answers = Vec::with_capacity(probes.len());
        for (probe, sent) in probes.iter().zip(sent) {
            let answer = match sent {
                Some(sent) => self.read_probe(probe, sent),
                None => self.probe_alone(probe),
            };
            match answer {
                Ok(answer) => answers.push(answer),
                // The connection is out of step or gone.
                Err(e) => {
                    self.conn.poison();
                    return Err(e);
                }
            }
        }
        Ok(answers)
    }

    /// Reads one folder's answers; the outer error is the connection's,
    /// the inner one the folder's.
    fn read_probe(&mut self, probe: &FolderProbe, sent: Sent) -> Result<Result<ProbeAnswer>> {
        let mut selecting = Selecting::new("EXAMINE");
        self.selecting(&probe.name);
        let examined = self.read_until_done(&sent.examine, &mut selecting.handler())?;
        // Dovecot runs a folder's FETCH and SEARCH side by side once the
        // EXAMINE is done, so their answers may interleave: one collector
        // takes what left and what arrived from whichever command's
        // responses they come with.
        let mut departed = match &sent.departures {
            Some((_, true)) => Departures::Vanished(Vec::new()),
            _ => Departures::Present(Vec::new()),
        };
        let mut arrivals = Vec::new();
        let mut done = Vec::new();
        for tag in sent
            .departures
            .iter()
            .map(|(tag, _)| tag)
            .chain(sent.arrivals.iter())
        {
            done.push(self.read_until_done(tag, &mut collect(&mut departed, &mut arrivals))?);
        }
        // A failed EXAMINE selects nothing, so what followed failed too:
        // the EXAMINE's answer is the one to report.
        let info = match selecting.finish(examined) {
            Ok(info) => info,
            Err(e) => {
                self.selected = None;
                return Ok(Err(e));
            }
        };
        for done in done {
            if let Err(e) = check(done, "UID FETCH") {
                return Ok(Err(e));
            }
        }
        Ok(Ok(ProbeAnswer {
            info,
            departures: probe.departures_since.map(|_| departed),
            arrivals,
        }))
    }

    /// One folder's look without pipelining (its name is a literal).
    fn probe_alone(&mut self, probe: &FolderProbe) -> Result<Result<ProbeAnswer>> {
        let info = match self.examine(&probe.name) {
            Ok(info) => info,
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(e) => return Ok(Err(e)),
        };
        let departures = match probe.departures_since {
            Some(_) => match self.uid_search("ALL") {
                Ok(uids) => Some(Departures::Present(uids)),
                Err(e) if e.is_connection_lost() => return Err(e),
                Err(e) => return Ok(Err(e)),
            },
            None => None,
        };
        let mut arrivals = Vec::new();
        if let Some(from) = probe.arrivals_from {
            let set = super::UidSet::parse(&format!("{from}:*"))?
                .into_iter()
                .next()
                .expect("one set");
            if let Err(e) = self.uid_fetch_headers(&set, &mut |h| arrivals.push(h)) {
                if e.is_connection_lost() {
                    return Err(e);
                }
                return Ok(Err(e));
            }
        }
        Ok(Ok(ProbeAnswer {
            info,
            departures,
            arrivals,
        }))
    }
}

/// What left (VANISHED, or SEARCH's UIDs) and what arrived (FETCH with the
/// Message-ID header), from any of a folder's probe commands.
fn collect<'a>(
    departed: &'a mut Departures,
    arrivals: &'a mut Vec<HeaderInfo>,
) -> impl ResponseHandler + 'a {
    Untagged(
        move |resp: &Response<'_>, _: &Frame| match (resp, &mut *departed) {
            (Response::Vanished { uids, .. }, Departures::Vanished(ranges)) => {
                ranges.extend(uids.iter().cloned())
            }
            (Response::MailboxData(MailboxDatum::Search(found)), Departures::Present(uids)) => {
                uids.extend(found.iter().map(|&u| Uid(u)))
            }
            (Response::Fetch(_, attrs), _) => {
                let m = FetchAttrs::from(attrs.as_slice());
                if let (Some(uid), Some(header)) = (m.uid, m.header) {
                    arrivals.push(HeaderInfo {
                        uid,
                        size: m.size.unwrap_or(0),
                        message_id: extract_message_id(&header),
                    });
                }
            }
            _ => {}
        },
    )
}
