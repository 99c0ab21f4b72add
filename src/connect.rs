//! Opening a logged-in IMAP session for an account.

use crate::config::{Account, ConfigError};
use crate::imap::{ConnectOptions, ImapError, Session};

/// Could not reach the server, agree on TLS, or log in; maps to exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("account {account}: {source}")]
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
    }
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
    if session.has_capability("QRESYNC") {
        session.enable(&["QRESYNC"]).map_err(wrap)?;
    }
    Ok(session)
}
