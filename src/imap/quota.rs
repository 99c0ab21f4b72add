//! GETQUOTAROOT (RFC 2087): how full the account is, for `imapdir status`.

use imap_proto::rfc2087::QuotaResourceName;
use imap_proto::Response;

use super::command::Arg;
use super::framing::Frame;
use super::{check, Result, Session, Untagged};

/// One limited resource of a quota root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaUsage {
    pub root: String,
    /// `STORAGE` (in KiB), `MESSAGE` (a count), or another name.
    pub resource: String,
    pub usage: u64,
    pub limit: u64,
}

impl QuotaUsage {
    /// Percent used (0 when there is no limit).
    pub fn percent(&self) -> f64 {
        if self.limit == 0 {
            0.0
        } else {
            self.usage as f64 * 100.0 / self.limit as f64
        }
    }
}

impl Session {
    /// The quotas of `mailbox`'s quota roots; empty when the server has no
    /// QUOTA capability or sets no limit.
    pub fn quota(&mut self, mailbox: &str) -> Result<Vec<QuotaUsage>> {
        if !self.has_capability("QUOTA") {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        let done = self.run(
            vec![Arg::raw("GETQUOTAROOT "), Arg::string(mailbox)],
            &mut Untagged(|resp: &Response<'_>, _: &Frame| {
                if let Response::Quota(q) = resp {
                    for r in &q.resources {
                        found.push(QuotaUsage {
                            root: q.root_name.to_string(),
                            resource: match &r.name {
                                QuotaResourceName::Storage => "STORAGE".to_string(),
                                QuotaResourceName::Message => "MESSAGE".to_string(),
                                QuotaResourceName::Atom(a) => a.to_ascii_uppercase(),
                            },
                            usage: r.usage,
                            limit: r.limit,
                        });
                    }
                }
            }),
        )?;
        check(done, "GETQUOTAROOT")?;
        Ok(found)
    }
}
