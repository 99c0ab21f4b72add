//! The account's folders in as few round trips as the server allows: its
//! namespaces (RFC 2342) pipelined with one LIST that carries every
//! folder's status (LIST-STATUS, RFC 5819), subscription (LIST-EXTENDED,
//! RFC 5258) and special use (RFC 6154) where the server has those; a
//! plain LIST, and LSUB for the subscriptions, where it has not.

use std::collections::{BTreeSet, HashMap};

use imap_proto::{MailboxDatum, Response};

use super::condstore::status_from;
use super::framing::{BodySink, Frame};
use super::namespace::{parse_namespace_frame, Namespaces};
use super::response::{check, ignore_untagged, name_attribute, ResponseHandler};
use super::{Arg, ListEntry, MailboxStatus, Result, Session};

/// The attribute a subscribed folder carries in [`Listing::entries`],
/// whichever way the server told.
pub const SUBSCRIBED: &str = "\\Subscribed";

/// What the server holds.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<ListEntry>,
    /// Per raw folder name, where LIST-STATUS gave it.
    pub statuses: HashMap<String, MailboxStatus>,
    /// `None` when the server has no NAMESPACE, or its answer did not parse.
    pub namespaces: Option<Namespaces>,
}

/// Collects LIST, STATUS and NAMESPACE responses.
#[derive(Default)]
struct Collector {
    listing: Listing,
    /// Names from LSUB, which the parser reads as LIST data.
    lsub: bool,
    subscribed: BTreeSet<String>,
}

impl BodySink for Collector {
    fn begin(&mut self, _len: u64) {}
    fn chunk(&mut self, _data: &[u8]) {}
    fn end(&mut self) {}
}

impl ResponseHandler for Collector {
    fn untagged(&mut self, resp: &Response<'_>, _frame: &Frame) {
        match resp {
            Response::MailboxData(MailboxDatum::List(data)) if self.lsub => {
                // `\Noselect` in LSUB: subscribed, but gone or a container.
                let gone = data.name_attributes.iter().any(|a| {
                    let a = name_attribute(a);
                    a.eq_ignore_ascii_case("\\NonExistent") || a.eq_ignore_ascii_case("\\Noselect")
                });
                if !gone {
                    self.subscribed.insert(data.name.to_string());
                }
            }
            Response::MailboxData(MailboxDatum::List(data)) => {
                self.listing.entries.push(ListEntry {
                    name: data.name.to_string(),
                    delimiter: data.delimiter.as_deref().and_then(|d| d.chars().next()),
                    attributes: data.name_attributes.iter().map(name_attribute).collect(),
                })
            }
            Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
                self.listing
                    .statuses
                    .insert(mailbox.to_string(), status_from(status));
            }
            _ => {}
        }
    }

    fn unparsed(&mut self, frame: &Frame) -> bool {
        match parse_namespace_frame(frame) {
            Some(namespaces) => {
                self.listing.namespaces = Some(namespaces);
                true
            }
            None => false,
        }
    }
}

impl Session {
    /// The folders, their statuses where the server can send them with the
    /// list, and the namespaces. With `subscriptions`, subscribed folders
    /// carry the [`SUBSCRIBED`] attribute.
    pub fn list_folders(&mut self, subscriptions: bool) -> Result<Listing> {
        let mut returns = Vec::new();
        let extended = self.has_capability("LIST-EXTENDED") || self.has_capability("LIST-STATUS");
        if subscriptions && extended {
            returns.push("SUBSCRIBED".to_string());
        }
        if extended && self.has_capability("SPECIAL-USE") {
            // Dovecot sends \Sent and the like only when asked.
            returns.push("SPECIAL-USE".to_string());
        }
        if self.has_capability("LIST-STATUS") {
            let items = if self.has_capability("CONDSTORE") {
                "MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ"
            } else {
                "MESSAGES UIDNEXT UIDVALIDITY"
            };
            returns.push(format!("STATUS ({items})"));
        }
        let list = if returns.is_empty() {
            "LIST \"\" \"*\"".to_string()
        } else {
            format!("LIST \"\" \"*\" RETURN ({})", returns.join(" "))
        };
        let mut collector = Collector::default();
        if self.has_capability("NAMESPACE") {
            let mut namespaces = Collector::default();
            let (ns_done, list_done) =
                self.run_pipelined("NAMESPACE", &mut namespaces, &list, &mut collector)?;
            check(list_done, "LIST")?;
            // A server that announces NAMESPACE and then refuses it is
            // treated as one without.
            if ns_done.is_ok() {
                collector.listing.namespaces = namespaces.listing.namespaces;
            }
        } else {
            let done = self.run(vec![Arg::raw(list)], &mut collector)?;
            check(done, "LIST")?;
        }
        if subscriptions && !extended {
            collector.lsub = true;
            let done = self.run(vec![Arg::raw("LSUB \"\" \"*\"")], &mut collector)?;
            check(done, "LSUB")?;
            let subscribed = std::mem::take(&mut collector.subscribed);
            for entry in &mut collector.listing.entries {
                if subscribed.contains(&entry.name) {
                    entry.attributes.push(SUBSCRIBED.to_string());
                }
            }
        }
        Ok(collector.listing)
    }

    /// SUBSCRIBE to a mailbox (raw modified UTF-7 name).
    pub fn subscribe(&mut self, name: &str) -> Result<()> {
        let done = self.run(
            vec![Arg::raw("SUBSCRIBE "), Arg::string(name)],
            &mut ignore_untagged(),
        )?;
        check(done, "SUBSCRIBE")?;
        Ok(())
    }
}
