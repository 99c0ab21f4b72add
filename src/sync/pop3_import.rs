//! The POP3 import: every message the server lists by UIDL and this
//! account has not stored yet is streamed into the account's Maildir
//! folder, made durable, and only then recorded; then, when the account
//! says so, messages stored here are deleted from the server.
//!
//! One journaled intent per message: the UIDL is recorded (with the base
//! name its file gets) before the download starts, and marked stored after
//! the file and its directory are synced. The base name is a function of
//! the account and the UIDL, so a crash between the file becoming durable
//! and the record is repaired from the folder's listing at the next run:
//! a file under that base (wherever a mail reader or an IMAP sync has
//! renamed it to since) means stored, and nothing is downloaded twice.
//! A deletion is asked for only for messages recorded as stored.

use std::collections::{HashMap, HashSet};
use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::Account;
use crate::folders::folder_path;
use crate::maildir::{sync_file, LfWriter, Maildir};
use crate::model::Flags;
use crate::net::Endpoint;
use crate::pop3::{Pop3, Pop3ConnectError, Pop3Error};
use crate::report::{Counts, Reporter};
use crate::state::{unix_now, StateDb};

use super::{AccountOutcome, FolderResult, SyncOptions};

/// The base name of a message's file: `pop3-<account key>-<UIDL in hex>`,
/// the same every time, and different for two accounts (two servers may
/// hand out the same UIDL).
pub fn base_for(account_key: &str, uidl: &str) -> String {
    let hex: String = uidl.bytes().map(|b| format!("{b:02x}")).collect();
    format!("pop3-{account_key}-{hex}")
}

/// The account's key in base names: a hash of user, host and account
/// name (FNV-1a, stable across versions and machines).
pub fn account_key(account: &Account) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in format!("{}\0{}\0{}", account.name, account.user, account.host).bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("{hash:016x}")
}

/// The UIDL a file name stands for, if it is one of this account's.
fn uidl_of_name(prefix: &str, name: &str) -> Option<String> {
    let rest = name.strip_prefix(prefix)?;
    let hex = rest.split([',', ':']).next()?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Which stored messages to delete from the server now: all of them
/// without `leave_on_server`, else those stored `delete_after_days` ago.
/// Pure; `stored` is (UIDL, when stored).
pub fn due_for_deletion(
    stored: &[(String, i64)],
    leave_on_server: bool,
    delete_after_days: Option<u64>,
    now: i64,
) -> Vec<String> {
    stored
        .iter()
        .filter(|(_, when)| match (leave_on_server, delete_after_days) {
            (false, _) => true,
            (true, None) => false,
            (true, Some(days)) => now.saturating_sub(*when) >= (days as i64) * 86_400,
        })
        .map(|(uidl, _)| uidl.clone())
        .collect()
}

/// The Maildir folder a POP3 account imports into.
pub fn import_folder(account: &Account) -> anyhow::Result<PathBuf> {
    let disk: Vec<String> = account.pop3.folder.split('/').map(str::to_string).collect();
    folder_path(&account.maildir, account.folder_rules.layout, &disk)
        .map_err(|e| anyhow::anyhow!("pop3_folder {:?}: {e}", account.pop3.folder))
}

/// Connects and logs in to a POP3 account.
pub fn open(account: &Account, trace: bool) -> anyhow::Result<Pop3> {
    let connect_error = |source: Pop3Error| Pop3ConnectError {
        account: account.name.clone(),
        source,
    };
    let target = Endpoint {
        host: account.host.clone(),
        port: account.port,
        tls: account.tls,
        ca_file: account.ca_file.clone(),
        timeout: account.timeout,
        trace,
    };
    let mut pop = Pop3::connect(&target).map_err(connect_error)?;
    let credential = account.credential()?;
    pop.login(&account.user, &credential, account.auth)
        .map_err(connect_error)?;
    Ok(pop)
}

/// Imports one POP3 account; the outcome has one "folder", the import's.
pub fn import_account(
    account: &Account,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<AccountOutcome> {
    let _lock = super::lock_account(account, options, reporter)?;
    let root = &account.maildir;
    if !root.is_dir() {
        anyhow::bail!(
            "Maildir {} is missing: is the disk mounted? Nothing was downloaded",
            root.display()
        );
    }
    let folder = import_folder(account)?;
    let maildir = Maildir::new(&folder);
    let db = if options.dry_run {
        StateDb::open_read_only(&account.state_file)?
    } else {
        StateDb::open(&account.state_file)?
    };
    let mut pop = open(account, options.trace_imap)?;
    let listed = pop.uidl()?;

    let key = account_key(account);
    let prefix = format!("pop3-{key}-");
    let mut records: HashMap<String, (String, Option<i64>, Option<i64>)> = db
        .pop3_records()?
        .into_iter()
        .map(|r| (r.uidl, (r.local_base, r.stored, r.deleted)))
        .collect();
    let to_fetch: Vec<_> = listed
        .iter()
        .filter(|m| records.get(&m.uidl).is_none_or(|r| r.1.is_none()))
        .cloned()
        .collect();
    let mut counts = Counts::default();
    let label = account.pop3.folder.clone();
    if options.dry_run {
        reporter.info(format!(
            "{}: {} new of {} on the POP3 server would be downloaded into {}",
            account.name,
            to_fetch.len(),
            listed.len(),
            folder.display()
        ));
        let _ = pop.quit();
        return Ok(outcome(label, counts, None));
    }
    if !to_fetch.is_empty() && !maildir.exists() {
        maildir
            .create()
            .with_context(|| format!("cannot create {}", folder.display()))?;
    }
    // Files already there under this account's names: downloads a crash
    // (or a lost state) left unrecorded.
    let mut on_disk: HashSet<String> = HashSet::new();
    if maildir.exists() && !to_fetch.is_empty() {
        maildir.scan(&mut |msg| {
            if let Some(uidl) = uidl_of_name(&prefix, &msg.name) {
                on_disk.insert(uidl);
            }
        })?;
    }
    let mut error = None;
    for message in &to_fetch {
        let base = base_for(&key, &message.uidl);
        if on_disk.contains(&message.uidl) {
            db.pop3_stored(&message.uidl, &base)?;
            records.insert(message.uidl.clone(), (base, Some(unix_now()), None));
            continue;
        }
        db.pop3_intend(&message.uidl, &base)?;
        match download(&mut pop, &maildir, message.number, &base) {
            Ok(()) => {
                db.pop3_stored(&message.uidl, &base)?;
                records.insert(message.uidl.clone(), (base, Some(unix_now()), None));
                counts.downloaded += 1;
                reporter.debug(format!(
                    "{}: downloaded message {} (UIDL {})",
                    account.name, message.number, message.uidl
                ));
            }
            Err(e) => {
                error = Some(format!(
                    "message {} (UIDL {}): {e:#}",
                    message.number, message.uidl
                ));
                break;
            }
        }
    }
    if let Some(e) = error {
        // The session is out of step or gone; no deletion this run.
        anyhow::bail!(
            "{}: the POP3 import stopped at {e}; {} messages were stored before it, \
             the next run goes on from there",
            account.name,
            counts.downloaded
        );
    }
    // Deletions, for messages stored here only.
    let on_server: HashMap<&str, u32> =
        listed.iter().map(|m| (m.uidl.as_str(), m.number)).collect();
    let stored: Vec<(String, i64)> = records
        .iter()
        .filter(|(uidl, r)| r.2.is_none() && on_server.contains_key(uidl.as_str()))
        .filter_map(|(uidl, r)| r.1.map(|when| (uidl.clone(), when)))
        .collect();
    let due = due_for_deletion(
        &stored,
        account.pop3.leave_on_server,
        account.pop3.delete_after_days,
        unix_now(),
    );
    for uidl in &due {
        pop.dele(on_server[uidl.as_str()])?;
    }
    pop.quit()?;
    if !due.is_empty() {
        let mut db = db;
        db.pop3_deleted(&due)?;
        counts.deleted_remote += due.len() as u64;
    }
    Ok(outcome(label, counts, None))
}

/// Streams one message into tmp/, makes it durable, delivers it to new/
/// and syncs the directory. A failure leaves no file behind.
fn download(pop: &mut Pop3, maildir: &Maildir, number: u32, base: &str) -> anyhow::Result<()> {
    let (file, tmp) = maildir.create_tmp()?;
    let result = (|| -> anyhow::Result<()> {
        let mut writer = LfWriter::new(BufWriter::new(file));
        pop.retr(number, &mut writer)?;
        let file = writer
            .into_inner()?
            .into_inner()
            .map_err(|e| e.into_error())?;
        sync_file(&file)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = maildir.deliver(&tmp, base, Flags::empty()) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    maildir.sync_dirs()?;
    Ok(())
}

fn outcome(folder: String, counts: Counts, error: Option<String>) -> AccountOutcome {
    AccountOutcome {
        counts,
        failed: error
            .clone()
            .map(|e| vec![(folder.clone(), e)])
            .unwrap_or_default(),
        folders: vec![FolderResult {
            folder,
            counts,
            error,
        }],
        ..AccountOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names_round_trip_and_keep_accounts_apart() {
        let base = base_for("00ff", "a:b/c,1");
        assert!(!base.contains([':', '/', ',']));
        assert_eq!(
            uidl_of_name("pop3-00ff-", &format!("{base},U=7:2,S")),
            Some("a:b/c,1".to_string())
        );
        assert_eq!(uidl_of_name("pop3-00fe-", &base), None);
        assert_eq!(uidl_of_name("pop3-00ff-", "pop3-00ff-zz"), None);
    }

    #[test]
    fn only_stored_messages_old_enough_are_deleted() {
        let day = 86_400;
        let stored = vec![("old".to_string(), 0), ("new".to_string(), 9 * day)];
        let now = 10 * day;
        assert!(due_for_deletion(&stored, true, None, now).is_empty());
        assert_eq!(due_for_deletion(&stored, true, Some(7), now), vec!["old"]);
        assert_eq!(due_for_deletion(&stored, true, Some(0), now).len(), 2);
        assert_eq!(due_for_deletion(&stored, false, None, now).len(), 2);
    }
}
