//! `status` of a POP3 account: a POP3 maildrop is one mailbox imported
//! into one Maildir folder, so there are no folders to pair and nothing to
//! push; what matters is how much was imported, what the server still
//! holds, and whether the last run finished.

use std::collections::HashSet;

use serde::Serialize;

use crate::config::Account;
use crate::state::{StateDb, ACCOUNT_RESULT};
use crate::sync::pop3_import::{import_folder, open};

use super::{age, AccountStatus, Pending};

/// What a POP3 account's status adds to the account's.
#[derive(Debug, Clone, Serialize)]
pub struct Pop3Status {
    /// The Maildir folder it imports into (`pop3_folder`).
    pub folder: String,
    pub local_path: String,
    /// Messages made durable here.
    pub imported: u64,
    /// Of those, messages deleted from the server after their import.
    pub deleted_from_server: u64,
    /// Downloads a run began and did not finish; the next run repeats them.
    pub interrupted: u64,
    pub leave_on_server: bool,
    pub delete_after_days: Option<u64>,
    /// From the server (None with --offline or when it could not be asked):
    /// its messages, their size in octets, and how many are not imported.
    pub on_server: Option<u64>,
    pub server_octets: Option<u64>,
    pub not_imported: Option<u64>,
    /// Why the server could not be asked.
    pub server_error: Option<String>,
}

/// The offline part: the account's last run and the import's journal.
pub fn account_status(account: &Account) -> anyhow::Result<(AccountStatus, Pop3Status)> {
    let db = StateDb::open_read_only(&account.state_file)?;
    let counts = db.pop3_counts()?;
    let account_result = db
        .sync_results()?
        .into_iter()
        .find(|(name, _, _)| name == ACCOUNT_RESULT);
    let status = AccountStatus {
        account: account.name.clone(),
        maildir: account.maildir.display().to_string(),
        last_run: account_result.as_ref().map(|(_, t, _)| *t),
        last_run_error: account_result.and_then(|(_, _, e)| e),
        pending: Pending::default(),
        folders: Vec::new(),
        waiting_for_approval: Vec::new(),
    };
    let pop3 = Pop3Status {
        folder: account.pop3.folder.clone(),
        local_path: import_folder(account)?.display().to_string(),
        imported: counts.stored,
        deleted_from_server: counts.deleted,
        interrupted: counts.interrupted,
        leave_on_server: account.pop3.leave_on_server,
        delete_after_days: account.pop3.delete_after_days,
        on_server: None,
        server_octets: None,
        not_imported: None,
        server_error: None,
    };
    Ok((status, pop3))
}

/// The online part: STAT and UIDL, compared with what is stored here.
pub fn ask_server(account: &Account, trace: bool, status: &mut Pop3Status) -> anyhow::Result<()> {
    let mut pop = open(account, trace)?;
    let (count, octets) = pop.stat()?;
    let listed = pop.uidl()?;
    let _ = pop.quit();
    let db = StateDb::open_read_only(&account.state_file)?;
    let stored: HashSet<String> = db
        .pop3_records()?
        .into_iter()
        .filter(|r| r.stored.is_some())
        .map(|r| r.uidl)
        .collect();
    status.on_server = Some(count);
    status.server_octets = Some(octets);
    status.not_imported = Some(listed.iter().filter(|m| !stored.contains(&m.uidl)).count() as u64);
    Ok(())
}

pub fn render(account: &AccountStatus, pop3: &Pop3Status, now: i64) -> String {
    let mut out = format!(
        "{}: POP3 import into {} (last run {}{})\n",
        account.account,
        pop3.local_path,
        age(account.last_run, now),
        match &account.last_run_error {
            Some(e) => format!(", FAILED: {e}"),
            None if account.last_run.is_some() => ", ok".to_string(),
            None => String::new(),
        }
    );
    out.push_str(&format!("  imported: {} messages", pop3.imported));
    if pop3.interrupted > 0 {
        out.push_str(&format!(
            ", {} interrupted (the next run downloads them again)",
            pop3.interrupted
        ));
    }
    out.push('\n');
    let kept = match (pop3.leave_on_server, pop3.delete_after_days) {
        (false, _) => "deleted from the server once imported".to_string(),
        (true, None) => "left on the server".to_string(),
        (true, Some(days)) => format!("deleted from the server {days} days after their import"),
    };
    out.push_str(&format!(
        "  {kept}; {} deleted so far\n",
        pop3.deleted_from_server
    ));
    if let (Some(count), Some(octets), Some(new)) =
        (pop3.on_server, pop3.server_octets, pop3.not_imported)
    {
        out.push_str(&format!(
            "  on the server: {count} messages ({:.1} MiB), {new} not imported yet\n",
            octets as f64 / (1024.0 * 1024.0)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_the_import_did_and_what_the_server_holds() {
        let account = AccountStatus {
            account: "old".into(),
            maildir: "/m".into(),
            last_run: Some(1000),
            last_run_error: None,
            pending: Pending::default(),
            folders: Vec::new(),
            waiting_for_approval: Vec::new(),
        };
        let mut pop3 = Pop3Status {
            folder: "INBOX".into(),
            local_path: "/m/INBOX".into(),
            imported: 12,
            deleted_from_server: 2,
            interrupted: 1,
            leave_on_server: true,
            delete_after_days: Some(30),
            on_server: None,
            server_octets: None,
            not_imported: None,
            server_error: None,
        };
        let offline = render(&account, &pop3, 1060);
        assert_eq!(
            offline,
            "old: POP3 import into /m/INBOX (last run 1 min ago, ok)\n  \
             imported: 12 messages, 1 interrupted (the next run downloads them again)\n  \
             deleted from the server 30 days after their import; 2 deleted so far\n"
        );
        pop3.on_server = Some(11);
        pop3.server_octets = Some(3 * 1024 * 1024);
        pop3.not_imported = Some(1);
        assert!(render(&account, &pop3, 1060)
            .ends_with("  on the server: 11 messages (3.0 MiB), 1 not imported yet\n"));
    }
}
