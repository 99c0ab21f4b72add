//! The outbox: a local Maildir folder (never synced as a server folder)
//! where a mail reader, or `imapdir sendmail`, leaves finished messages.
//! Each run sends them by SMTP submission, files each in Sent with \Seen
//! (unless the provider does that itself) and takes it out of the outbox.
//!
//! One journaled intent per message, so none is sent twice or lost:
//! the send is recorded (Message-ID, recipients) before MAIL FROM; marked
//! handed over just before the final dot, from which the server may have
//! it; marked sent the moment the server answers 250; then the copy is
//! filed (after a search of Sent for its Message-ID, so a resumed run
//! never files it twice), the file removed and the intent forgotten. A run
//! that finds an intent "sending" sends again (the server never had the
//! final dot, so it kept nothing). One that finds it "handed over" (killed,
//! or the connection broken, between the final dot and the recorded 250)
//! searches Sent for the Message-ID: found, it was sent; not found with a
//! provider that files what it sends, it was not, and is sent again;
//! otherwise nothing can tell, and rather than risk a second delivery the
//! message moves to `failed/` with a reply that says so. A message without a
//! Message-ID gets one derived from its file name, so every attempt
//! carries the same one. A permanent rejection (5xx, too large, no
//! recipients, no From) moves the message to `failed/` in the outbox with
//! the reason beside it in `NAME.reply`; a temporary one (4xx) leaves it
//! for the next run.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::{Account, OutboxSettings};
use crate::connect::open_session;
use crate::folders::folder_path;
use crate::imap::Session;
use crate::lock::AccountLock;
use crate::maildir::{sync_dir, Maildir};
use crate::model::Flags;
use crate::model::LocalMessage;
use crate::net::Endpoint;
use crate::report::Reporter;
use crate::smtp::message::{envelope, prepared};
use crate::smtp::{Smtp, SmtpError};
use crate::state::{SendState, StateDb};

use super::SyncOptions;
use crate::folders::FolderNaming;

/// The outbox's directory for permanently refused messages.
pub const FAILED_DIR: &str = "failed";

/// What one pass over the outbox did.
#[derive(Debug, Default)]
pub struct OutboxReport {
    pub sent: u64,
    /// Messages moved to `failed/`, with the reason (one line each).
    pub failed: Vec<String>,
    /// Messages left for the next run (a temporary refusal).
    pub deferred: Vec<String>,
}

/// The outbox folder's directory.
pub fn outbox_dir(account: &Account, outbox: &OutboxSettings) -> anyhow::Result<PathBuf> {
    let disk: Vec<String> = outbox.folder.split('/').map(str::to_string).collect();
    folder_path(&account.maildir, account.folder_rules.layout, &disk)
        .map_err(|e| anyhow::anyhow!("outbox {:?}: {e}", outbox.folder))
}

/// The Message-ID a message without one is sent with: derived from its
/// base name, so every attempt (and the search after a crash) uses the same.
pub fn derived_message_id(base: &str, from: Option<&str>) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in base.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    let domain = from
        .and_then(|f| f.rsplit_once('@'))
        .map(|(_, d)| d)
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_graphic() && b != b'>'))
        .unwrap_or("imapdir.invalid");
    format!("<imapdir.{hash:016x}@{domain}>")
}

/// Sends what waits in the account's outbox. `None` when the account has
/// no outbox.
pub fn send_outbox(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<Option<OutboxReport>> {
    let Some(outbox) = &account.outbox else {
        return Ok(None);
    };
    let dir = outbox_dir(account, outbox)?;
    let maildir = Maildir::new(&dir);
    if options.dry_run {
        let mut waiting = 0;
        if maildir.exists() {
            maildir.scan(&mut |_| waiting += 1)?;
        }
        if waiting > 0 {
            reporter.info(format!(
                "{}: {waiting} messages in the outbox would be sent",
                account.name
            ));
        }
        return Ok(Some(OutboxReport::default()));
    }
    let _lock = AccountLock::acquire_within(
        &account.name,
        &account.lock_file(),
        options.lock_wait,
        || {},
    )?;
    if !account.maildir.is_dir() {
        anyhow::bail!(
            "Maildir {} is missing: is the disk mounted? The outbox was not read",
            account.maildir.display()
        );
    }
    if !maildir.exists() {
        maildir
            .create()
            .with_context(|| format!("cannot create the outbox {}", dir.display()))?;
    }
    let mut messages = Vec::new();
    maildir.scan(&mut |m| messages.push(m))?;
    messages.sort_by(|a, b| a.name.cmp(&b.name));
    let mut report = OutboxReport::default();
    if messages.is_empty() {
        return Ok(Some(report));
    }
    let db = StateDb::open(&account.state_file)?;
    let mut run = Run {
        account,
        outbox,
        options,
        maildir: &maildir,
        dir: &dir,
        db: &db,
        smtp: None,
        imap: None,
        sent_folder: None,
    };
    let result = (|| -> anyhow::Result<()> {
        for msg in &messages {
            run.one(msg, &mut report, reporter)?;
        }
        Ok(())
    })();
    if let Some(smtp) = run.smtp.take() {
        smtp.quit();
    }
    if let Some(imap) = run.imap.take() {
        let _ = imap.logout();
    }
    result?;
    if report.sent > 0 {
        reporter.info(format!(
            "{}: {} sent from the outbox",
            account.name, report.sent
        ));
    }
    Ok(Some(report))
}

struct Run<'a> {
    account: &'a Account,
    outbox: &'a OutboxSettings,
    options: &'a SyncOptions,
    maildir: &'a Maildir,
    dir: &'a Path,
    db: &'a StateDb,
    smtp: Option<Smtp>,
    imap: Option<Session>,
    /// The Sent folder's server name, once looked up.
    sent_folder: Option<String>,
}

impl Run<'_> {
    fn one(
        &mut self,
        msg: &LocalMessage,
        report: &mut OutboxReport,
        reporter: &Reporter,
    ) -> anyhow::Result<()> {
        let path = self.maildir.file_path(msg);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            // Taken away meanwhile (a mail reader's change of mind).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let env = envelope(&bytes);
        let message_id = env
            .message_id
            .clone()
            .unwrap_or_else(|| derived_message_id(&msg.base, env.from.as_deref()));
        let added_id = env.message_id.is_none().then_some(message_id.as_str());
        let body = prepared(&bytes, added_id);
        let name = &self.account.name;
        let mut state = self.db.outbox_send(&msg.base)?.map(|s| s.state);
        if state == Some(SendState::HandedOver) {
            if self.in_sent(&message_id)? {
                // Sent before a crash: the provider (or a run of ours) filed it.
                self.db.outbox_mark(&msg.base, SendState::Sent)?;
                state = Some(SendState::Sent);
            } else if !self.outbox.provider_files_sent {
                // The server may have it and nothing can tell: sending again
                // could deliver it twice. It is kept, and the user decides.
                let why = "uncertain: the run ended after the message was handed to the \
                           SMTP server and before the server confirmed it, so it was \
                           probably sent; it is not sent again by itself (move it back \
                           into the outbox's new/ to send it again)";
                self.fail(msg, why)?;
                self.db.outbox_forget(&msg.base)?;
                reporter.warn(format!(
                    "{name}: {} ({message_id}): {why}",
                    self.dir.join(FAILED_DIR).join(&msg.name).display()
                ));
                report.failed.push(why.to_string());
                return Ok(());
            }
            // A provider that files what it sends has not filed it: not sent.
        }
        if state != Some(SendState::Sent) {
            let refusal = match (&env.from, env.recipients.is_empty()) {
                (None, _) => Some("the message has no From header".to_string()),
                (_, true) => Some("the message has no recipients (To, Cc, Bcc)".to_string()),
                _ => None,
            };
            if let Some(why) = refusal {
                self.fail(msg, &why)?;
                reporter.warn(format!(
                    "{name}: {} not sent: {why}; moved to {}",
                    path.display(),
                    self.dir.join(FAILED_DIR).display()
                ));
                report.failed.push(why);
                return Ok(());
            }
            let from = env.from.clone().unwrap_or_default();
            self.db
                .outbox_begin(&msg.base, &message_id, &env.recipients.join("\n"))?;
            let (db, base) = (self.db, msg.base.clone());
            let smtp = self.smtp()?;
            let mut handing_over = || {
                db.outbox_mark(&base, SendState::HandedOver)
                    .map_err(|e| e.to_string())
            };
            match smtp.send_mail(&from, &env.recipients, &body, &mut handing_over) {
                Ok(_) => {
                    self.db.outbox_mark(&msg.base, SendState::Sent)?;
                    report.sent += 1;
                    reporter.debug(format!("{name}: sent {message_id}"));
                }
                Err(e) if e.is_permanent() => {
                    if let Some(smtp) = self.smtp.as_mut() {
                        let _ = smtp.reset();
                    }
                    let why = e.to_string();
                    self.fail(msg, &why)?;
                    self.db.outbox_forget(&msg.base)?;
                    reporter.warn(format!(
                        "{name}: {} ({message_id}) not sent: {why}; moved to {} with the reply",
                        path.display(),
                        self.dir.join(FAILED_DIR).display()
                    ));
                    report.failed.push(why);
                    return Ok(());
                }
                Err(e @ SmtpError::Rejected { .. }) => {
                    // 4xx: the server did not take it; the next run tries again.
                    if let Some(smtp) = self.smtp.as_mut() {
                        let _ = smtp.reset();
                    }
                    self.db.outbox_forget(&msg.base)?;
                    reporter.warn(format!(
                        "{name}: {} ({message_id}) not sent yet: {e}; the next run tries again",
                        path.display()
                    ));
                    report.deferred.push(e.to_string());
                    return Ok(());
                }
                Err(e) => {
                    // The connection failed: whether the server has it is
                    // unknown; the intent stays for the next run to resolve.
                    self.smtp = None;
                    return Err(anyhow::Error::new(e)
                        .context(format!("sending {} ({message_id})", path.display())));
                }
            }
        }
        if !self.outbox.provider_files_sent && !self.in_sent(&message_id)? {
            let sent_folder = self.sent_folder()?;
            let imap = self.imap()?;
            if let Err(e) = imap.append(
                &sent_folder,
                Flags::SEEN,
                None,
                &mut body.as_slice(),
                body.len() as u64,
            ) {
                // A missing Sent folder is made once, then the APPEND again.
                imap.create(&sent_folder)
                    .map_err(|_| e)
                    .with_context(|| format!("filing {message_id} in {sent_folder}"))?;
                imap.append(
                    &sent_folder,
                    Flags::SEEN,
                    None,
                    &mut body.as_slice(),
                    body.len() as u64,
                )
                .with_context(|| format!("filing {message_id} in {sent_folder}"))?;
            }
        }
        self.maildir.remove(msg)?;
        self.maildir.sync_dirs()?;
        self.db.outbox_forget(&msg.base)?;
        Ok(())
    }

    /// Whether Sent holds a message with this Message-ID.
    fn in_sent(&mut self, message_id: &str) -> anyhow::Result<bool> {
        let sent_folder = self.sent_folder()?;
        let imap = self.imap()?;
        match imap.examine(&sent_folder) {
            Ok(_) => {}
            // No Sent folder yet: nothing filed there.
            Err(crate::imap::ImapError::No { .. }) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        let found = !imap.uid_search_message_id(message_id)?.is_empty();
        Ok(found)
    }

    /// The server name of the Sent folder: `sent_folder` under the personal
    /// namespace (or a server name as listed), else the folder marked
    /// `\Sent`, else `Sent` under the personal namespace. One LIST per run.
    fn sent_folder(&mut self) -> anyhow::Result<String> {
        if let Some(name) = &self.sent_folder {
            return Ok(name.clone());
        }
        let configured = self.outbox.sent_folder.clone();
        let rules = &self.account.folder_rules;
        let imap = self.imap()?;
        let listing = imap
            .list_folders(false)
            .context("cannot list folders to find Sent")?;
        let (naming, _) = FolderNaming::new(
            listing.namespaces.as_ref(),
            &listing.entries,
            &rules.namespaces,
        );
        let entries = &listing.entries;
        let name = match configured {
            Some(name) => match entries.iter().find(|e| e.name == name) {
                Some(listed) => listed.name.clone(),
                None => {
                    let components: Vec<String> = name.split('/').map(str::to_string).collect();
                    naming
                        .server_name(&components)
                        .map_err(|e| anyhow::anyhow!("sent_folder {name:?}: {e}"))?
                }
            },
            None => match entries.iter().find(|e| {
                e.attributes
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case("\\Sent"))
            }) {
                Some(sent) => sent.name.clone(),
                None => naming
                    .server_name(&["Sent".to_string()])
                    .map_err(|e| anyhow::anyhow!("the Sent folder: {e}"))?,
            },
        };
        self.sent_folder = Some(name.clone());
        Ok(name)
    }

    fn smtp(&mut self) -> anyhow::Result<&mut Smtp> {
        if self.smtp.is_none() {
            let target = Endpoint {
                host: self.outbox.smtp_host.clone(),
                port: self.outbox.smtp_port,
                tls: self.outbox.smtp_tls,
                ca_file: self.account.ca_file.clone(),
                timeout: self.account.timeout,
                trace: self.options.trace_imap,
            };
            let where_ = format!("SMTP server {}:{}", target.host, target.port);
            let mut smtp = Smtp::connect(&target).with_context(|| where_.clone())?;
            if smtp.offers_auth() {
                let credential = self.account.credential()?;
                smtp.login(&self.account.user, &credential, self.account.auth)
                    .with_context(|| where_.clone())?;
            }
            self.smtp = Some(smtp);
        }
        Ok(self.smtp.as_mut().expect("just connected"))
    }

    fn imap(&mut self) -> anyhow::Result<&mut Session> {
        if self.imap.is_none() {
            self.imap = Some(open_session(self.account, self.options.trace_imap)?);
        }
        Ok(self.imap.as_mut().expect("just connected"))
    }

    /// Moves a message to `failed/` with the reason in `NAME.reply` beside
    /// it (written and synced first: the message is never there without it).
    fn fail(&self, msg: &LocalMessage, why: &str) -> anyhow::Result<()> {
        let failed = self.dir.join(FAILED_DIR);
        if !failed.is_dir() {
            std::fs::create_dir_all(&failed)
                .with_context(|| format!("cannot create {}", failed.display()))?;
            sync_dir(self.dir)?;
        }
        let reply = failed.join(format!("{}.reply", msg.name));
        let file = std::fs::File::create(&reply)
            .with_context(|| format!("cannot write {}", reply.display()))?;
        std::io::Write::write_all(&mut &file, format!("{why}\n").as_bytes())?;
        file.sync_all()?;
        let from = self.maildir.file_path(msg);
        std::fs::rename(&from, failed.join(&msg.name))
            .with_context(|| format!("cannot move {} to {}", from.display(), failed.display()))?;
        sync_dir(&failed)?;
        self.maildir.sync_dirs()?;
        let sub = from.parent().map(Path::to_path_buf).unwrap_or_default();
        sync_dir(&sub)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_message_id_is_stable_and_uses_the_senders_domain() {
        let a = derived_message_id("1700.R1_0.host", Some("me@example.org"));
        assert_eq!(
            a,
            derived_message_id("1700.R1_0.host", Some("me@example.org"))
        );
        assert!(a.ends_with("@example.org>") && a.starts_with("<imapdir."));
        assert_ne!(
            a,
            derived_message_id("1700.R2_0.host", Some("me@example.org"))
        );
        assert!(derived_message_id("b", None).ends_with("@imapdir.invalid>"));
    }
}
