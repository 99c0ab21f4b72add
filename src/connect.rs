//! Opening a logged-in IMAP session for an account.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::config::{Account, ConfigError};
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

/// Connects and logs in. The password is fetched here and dropped as soon
/// as the server has it.
pub fn open_session(account: &Account, trace: bool) -> anyhow::Result<Session> {
    let password: String = account.password().map_err(|e: ConfigError| e)?;
    let wrap = |source| ConnectError {
        account: account.name.clone(),
        source,
    };
    let mut session = Session::connect(&connect_options(account, trace)).map_err(wrap)?;
    session.login(&account.user, &password).map_err(wrap)?;
    // QRESYNC lets a changed folder report just what changed and what was
    // expunged since the last sync (it implies CONDSTORE).
    // It goes out with the first command, a round trip saved.
    if session.has_capability("QRESYNC") {
        session
            .enable_with_next_command(&["QRESYNC"])
            .map_err(wrap)?;
    }
    let compress = match account.compress {
        CompressMode::Yes => true,
        CompressMode::No => false,
        CompressMode::Auto => !is_loopback(&account.host, account.port),
    };
    if compress && session.has_capability("COMPRESS=DEFLATE") {
        session.compress().map_err(wrap)?;
    }
    Ok(session)
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
    use super::is_loopback;

    #[test]
    fn loopback_hosts_are_recognised() {
        assert!(is_loopback("127.0.0.1", 993));
        assert!(is_loopback("localhost", 993));
        assert!(is_loopback("::1", 993));
        assert!(!is_loopback("192.0.2.1", 993));
    }
}
