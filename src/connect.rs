//! Opening a logged-in IMAP session for an account.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::auth::sasl::{self, Credential, LoginWay};
use crate::config::Account;
use crate::imap::{AlertLog, ConnectOptions, ImapError, Session};
use crate::model::CompressMode;

/// Could not reach the server, agree on TLS, or log in; maps to exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("account {account}")]
pub struct ConnectError {
    pub account: String,
    #[source]
    pub source: ImapError,
}

/// Connection settings for an account.
pub fn connect_options(account: &Account, trace: bool) -> ConnectOptions {
    ConnectOptions {
        host: account.host.clone(),
        port: account.port,
        tls: account.tls,
        ca_file: account.ca_file.clone(),
        timeout: account.timeout,
        trace,
        alerts: Some(alert_log(&account.name)),
    }
}

/// The `[ALERT]` texts of every session of one account, whichever thread
/// or worker opened it; each command shows them (see `cmd::output`).
fn alert_log(account: &str) -> AlertLog {
    static LOGS: OnceLock<Mutex<HashMap<String, AlertLog>>> = OnceLock::new();
    let logs = LOGS.get_or_init(Default::default);
    logs.lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(account.to_string())
        .or_default()
        .clone()
}

/// The `[ALERT]` texts the account's sessions received since the last call.
pub fn take_alerts(account: &str) -> Vec<String> {
    alert_log(account).take()
}

/// Connects and logs in. The secret is fetched here and dropped as soon
/// as the server has it. A refused OAuth2 token is fetched once more (the
/// token helper may hand out a fresh one; the built-in login refreshes it)
/// and tried once more, never again.
pub fn open_session(account: &Account, trace: bool) -> anyhow::Result<Session> {
    let credential = account.credential()?;
    let wrap = |source| ConnectError {
        account: account.name.clone(),
        source,
    };
    let mut session = Session::connect(&connect_options(account, trace)).map_err(wrap)?;
    match log_in(&mut session, account, &credential) {
        Err(ImapError::Auth(_)) if matches!(credential, Credential::Token(_)) => {
            let fresh = account.credential_after_refusal(&credential)?;
            log_in(&mut session, account, &fresh).map_err(wrap)?;
        }
        other => other.map_err(wrap)?,
    }
    // QRESYNC lets a changed folder report just what changed and what was
    // expunged since the last sync (it implies CONDSTORE).
    // It goes out with the first command, a round trip saved.
    if session.has_capability("QRESYNC") {
        session
            .enable_with_next_command(&["QRESYNC"])
            .map_err(wrap)?;
    }
    if account.compress == CompressMode::Yes {
        compress(&mut session, account)?;
    }
    Ok(session)
}

/// Messages to download from which `compress = "auto"` compresses a
/// connection to a remote server. COMPRESS costs a round trip before
/// anything else can be sent; below this, the bytes it saves take less
/// time than that round trip (a few hundred KB on a link of 10 Mbit/s or
/// more), so a run with little to transfer does without.
pub const COMPRESS_FROM_DOWNLOADS: u64 = 100;

/// Whether a sync expecting `downloads` downloads compresses its
/// connections: always with `compress = "yes"` (from the login on), never
/// with "no", and with "auto" for a remote server and much to download.
pub fn compress_wanted(account: &Account, downloads: u64) -> bool {
    match account.compress {
        CompressMode::Yes => true,
        CompressMode::No => false,
        CompressMode::Auto => {
            downloads >= COMPRESS_FROM_DOWNLOADS && !is_loopback(&account.host, account.port)
        }
    }
}

/// COMPRESS=DEFLATE on `session`, where the server offers it and the
/// session is not compressed yet.
pub fn compress(session: &mut Session, account: &Account) -> anyhow::Result<()> {
    if session.is_compressed() || !session.has_capability("COMPRESS=DEFLATE") {
        return Ok(());
    }
    session.compress().map_err(|source| ConnectError {
        account: account.name.clone(),
        source,
    })?;
    Ok(())
}

/// Logs in the way [`sasl::choose`] picks for the account's secret.
fn log_in(
    session: &mut Session,
    account: &Account,
    credential: &Credential,
) -> Result<(), ImapError> {
    let offered = |c: &str| session.has_capability(c);
    let way = sasl::choose(account.auth, credential, &offered).map_err(ImapError::Auth)?;
    let secret = match credential {
        Credential::Password(s) | Credential::Token(s) => s.as_str(),
    };
    match way {
        LoginWay::Command => session.login_command(&account.user, secret),
        LoginWay::Sasl(mechanism) => session.authenticate(
            mechanism.name(),
            &mechanism.responses(&account.user, secret, &account.host, account.port),
            mechanism.has_initial_response(),
            &mechanism.after_error(),
        ),
    }
}

/// Whether every address of the host is on this machine, where compressing
/// costs CPU and saves nothing.
pub fn is_loopback(host: &str, port: u16) -> bool {
    use std::net::ToSocketAddrs;
    match (host, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<_> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback())
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{compress_wanted, is_loopback, COMPRESS_FROM_DOWNLOADS};
    use crate::config::{Config, Environment};

    fn account(host: &str, compress: &str) -> crate::config::Account {
        let text = format!(
            "[accounts.a]\nhost = \"{host}\"\nuser = \"u\"\npassword_command = \"true\"\n\
             maildir = \"/m\"\ncompress = \"{compress}\"\n"
        );
        let env = Environment {
            home: Some("/home/u".into()),
            xdg_config_home: None,
            xdg_state_home: None,
        };
        Config::parse(&text, &env).unwrap().accounts.remove(0)
    }

    #[test]
    fn auto_compresses_only_much_to_download_from_a_remote_server() {
        let remote = account("192.0.2.1", "auto");
        assert!(
            !compress_wanted(&remote, 0),
            "a no-change sync saves the round trip"
        );
        assert!(!compress_wanted(&remote, COMPRESS_FROM_DOWNLOADS - 1));
        assert!(compress_wanted(&remote, COMPRESS_FROM_DOWNLOADS));
        assert!(!compress_wanted(&account("127.0.0.1", "auto"), 100_000));
        assert!(compress_wanted(&account("127.0.0.1", "yes"), 0));
        assert!(!compress_wanted(&account("192.0.2.1", "no"), 100_000));
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("127.0.0.1", 993));
        assert!(is_loopback("localhost", 993));
        assert!(is_loopback("::1", 993));
        assert!(!is_loopback("192.0.2.1", 993));
    }
}
