//! `imapdir sendmail [-t] [RECIPIENTS]`: a message on stdin into the
//! outbox, made durable, then the outbox sent at once. What cannot be sent
//! now stays queued for the next sync; a permanent refusal is exit 1.

use std::io::{Read, Write};

use anyhow::Context;
use serde::Serialize;

use super::output::{emit, Sink, SCHEMA_VERSION};
use crate::cli::{Cli, SendmailArgs};
use crate::config::{Account, Config, ConfigError};
use crate::exit_codes::ExitCode;
use crate::maildir::{new_base, sync_file, Maildir};
use crate::model::Flags;
use crate::report::Reporter;
use crate::smtp::message::{envelope, ENVELOPE_HEADER};
use crate::sync::outbox::{outbox_dir, send_outbox};
use crate::sync::{Direction, SyncOptions};

/// `imapdir --json sendmail`: where the message was queued and what the
/// send that followed did.
#[derive(Debug, Serialize)]
struct SendmailDoc {
    version: u32,
    command: &'static str,
    exit_code: i32,
    account: String,
    /// The message's file in the outbox.
    queued: String,
    /// Whether sending was tried (not with --queue-only).
    send_tried: bool,
    /// Messages of the outbox sent now (this one and any that waited).
    sent: u64,
    /// Messages moved to the outbox's failed/ folder, one line each.
    failed: Vec<String>,
    /// Messages left for the next run after a temporary refusal.
    deferred: Vec<String>,
    /// Why nothing could be sent now (the message stays queued).
    error: Option<String>,
}

pub fn command(
    cli: &Cli,
    config: &Config,
    args: &SendmailArgs,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let mut message = Vec::new();
    std::io::stdin()
        .read_to_end(&mut message)
        .context("cannot read the message from standard input")?;
    if message.is_empty() {
        return Err(ConfigError("sendmail: no message on standard input".into()).into());
    }
    let account = pick_account(config, args.account.as_deref(), &message)?;
    let outbox = account.outbox.as_ref().expect("picked for its outbox");
    let given: Vec<&str> = args
        .recipients
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .collect();
    if !args.from_headers && given.is_empty() {
        return Err(ConfigError(
            "sendmail: no recipients: name them, or pass -t to take To, Cc and Bcc".into(),
        )
        .into());
    }
    let mut file_bytes = Vec::with_capacity(message.len() + 100);
    if !args.from_headers {
        file_bytes
            .extend_from_slice(format!("{ENVELOPE_HEADER}: {}\n", given.join(", ")).as_bytes());
    }
    file_bytes.extend_from_slice(&message);
    let env = envelope(&file_bytes);
    if env.from.is_none() {
        return Err(ConfigError("sendmail: the message has no From header".into()).into());
    }
    if env.recipients.is_empty() {
        return Err(ConfigError("sendmail: the message has no recipients".into()).into());
    }
    let dir = outbox_dir(account, outbox)?;
    let maildir = Maildir::new(&dir);
    maildir
        .create()
        .with_context(|| format!("cannot create the outbox {}", dir.display()))?;
    let (mut file, tmp) = maildir.create_tmp()?;
    file.write_all(&file_bytes)
        .and_then(|_| sync_file(&file))
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(file);
    let base = new_base(None);
    let queued = maildir.deliver(&tmp, &base, Flags::empty())?;
    maildir.sync_dirs()?;
    let mut doc = SendmailDoc {
        version: SCHEMA_VERSION,
        command: "sendmail",
        exit_code: 0,
        account: account.name.clone(),
        queued: maildir.file_path(&queued).display().to_string(),
        send_tried: !args.queue_only,
        sent: 0,
        failed: Vec::new(),
        deferred: Vec::new(),
        error: None,
    };
    if args.queue_only {
        emit(sink, &doc);
        return Ok(ExitCode::Success);
    }
    let reporter = Reporter::new(cli.verbose, false);
    let options = SyncOptions {
        direction: Direction::BOTH,
        dry_run: false,
        jobs: None,
        trace_imap: cli.trace_imap,
        allow_mass_delete: false,
        allow_first_copy: false,
        lock_wait: Some(std::time::Duration::from_secs(30)),
    };
    let code = match send_outbox(account, &options, &reporter) {
        Ok(report) => {
            let report = report.unwrap_or_default();
            let code = if report.failed.is_empty() {
                ExitCode::Success
            } else {
                ExitCode::PartialFailure
            };
            doc.sent = report.sent;
            doc.failed = report.failed;
            doc.deferred = report.deferred;
            code
        }
        Err(e) => {
            // Queued and durable: the next sync sends it.
            reporter.warn(format!(
                "{}: queued in {}, not sent yet: {e:#}",
                account.name,
                dir.display()
            ));
            doc.error = Some(format!("{e:#}"));
            ExitCode::Success
        }
    };
    doc.exit_code = code.code();
    emit(sink, &doc);
    Ok(code)
}

/// `--account`, else the only account with an outbox, else the one whose
/// user is the message's From.
fn pick_account<'a>(
    config: &'a Config,
    named: Option<&str>,
    message: &[u8],
) -> Result<&'a Account, ConfigError> {
    if let Some(name) = named {
        let account = config.select(&[name.to_string()])?[0];
        if account.outbox.is_none() {
            return Err(ConfigError(format!(
                "account {name} has no outbox (set outbox = \"Outbox\")"
            )));
        }
        return Ok(account);
    }
    let with_outbox: Vec<&Account> = config
        .accounts
        .iter()
        .filter(|a| a.outbox.is_some())
        .collect();
    match with_outbox.as_slice() {
        [] => Err(ConfigError(
            "no account has an outbox (set outbox = \"Outbox\" in one)".into(),
        )),
        [one] => Ok(one),
        many => {
            let from = envelope(message).from.unwrap_or_default();
            many.iter()
                .copied()
                .find(|a| a.user.eq_ignore_ascii_case(&from))
                .ok_or_else(|| {
                    ConfigError(format!(
                        "several accounts have an outbox and none logs in as {from:?}: \
                         pass --account"
                    ))
                })
        }
    }
}
