//! `imapdir check`: connect and log in, and show what the server offers;
//! a failure that is a common one gets a sentence saying what to do
//! ([`crate::diagnose`]), from a second look at the port where that helps.

use std::time::Duration;

use crate::cli::Cli;
use crate::config::{Account, Config, Protocol, SecretKind};
use crate::connect::{connect_options, open_session};
use crate::diagnose::{self, Failure, Probe};
use crate::exit_codes::ExitCode;
use crate::imap::{ImapError, Session};
use crate::model::TlsMode;
use crate::report::print_stdout;

use super::output::{self as json, account_error, emit, Sink};

pub fn command(
    cli: &Cli,
    config: &Config,
    account: Option<&str>,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let mut worst = ExitCode::Success;
    let mut docs = Vec::new();
    for account in config.select(&super::names(account))? {
        let (doc, code) = check_account(cli, account, sink.is_none());
        worst = worst.max(code);
        docs.push(doc);
    }
    emit(
        sink,
        &json::CheckDoc {
            version: json::SCHEMA_VERSION,
            command: "check",
            exit_code: worst.code(),
            accounts: docs,
        },
    );
    Ok(worst)
}

/// Connects and logs in to one account; prints the outcome where `human`
/// (not `--json`), and the sentence that explains a failure.
pub(super) fn check_account(
    cli: &Cli,
    account: &Account,
    human: bool,
) -> (json::CheckAccount, ExitCode) {
    let mut doc = json::CheckAccount {
        account: account.name.clone(),
        host: account.host.clone(),
        port: account.port,
        tls: match account.tls {
            TlsMode::Tls => "tls",
            TlsMode::StartTls => "starttls",
            TlsMode::Plain => "plain",
        },
        protocol: match account.protocol {
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
        },
        user: account.user.clone(),
        ok: false,
        error: None,
        hint: None,
        capabilities: Vec::new(),
        alerts: Vec::new(),
    };
    if account.protocol == Protocol::Pop3 {
        return check_pop3(cli, account, human, doc);
    }
    let opened = open_session(account, cli.trace_imap);
    // Before any error: an alert may say why ("log in on the web").
    doc.alerts = json::show_alerts(&account.name);
    let code = match opened {
        Ok(session) => {
            doc.ok = true;
            doc.capabilities = session.capabilities().to_vec();
            let _ = session.logout();
            if account.tls == TlsMode::Plain {
                let before_login = first_look(account, account.tls)
                    .map(look_and_leave)
                    .unwrap_or_default();
                doc.hint = diagnose::advise(account.tls, &before_login);
            }
            if human {
                print_stdout(&format!(
                    "{}: connected to {}:{} ({:?}), logged in as {}\ncapabilities: {}\n",
                    account.name,
                    account.host,
                    account.port,
                    account.tls,
                    account.user,
                    doc.capabilities.join(" ")
                ));
                if let Some(hint) = &doc.hint {
                    print_stdout(&format!("{}: note: {hint}\n", account.name));
                }
            }
            ExitCode::Success
        }
        Err(e) => {
            let code = account_error(&e);
            let error = format!("{e:#}");
            doc.hint = explain(account, &e, &error, &doc.alerts);
            if let Some(hint) = &doc.hint {
                eprintln!("imapdir: {}: what to do: {hint}", account.name);
            }
            doc.error = Some(error);
            code
        }
    };
    (doc, code)
}

/// `check` of a POP3 account: connect, log in, read CAPA and STAT.
fn check_pop3(
    cli: &Cli,
    account: &Account,
    human: bool,
    mut doc: json::CheckAccount,
) -> (json::CheckAccount, ExitCode) {
    let looked = crate::sync::pop3_import::open(account, cli.trace_imap).and_then(|mut pop| {
        let stat = pop.stat()?;
        let capabilities = pop.capabilities().to_vec();
        let _ = pop.quit();
        Ok((capabilities, stat))
    });
    match looked {
        Ok((capabilities, (count, octets))) => {
            doc.ok = true;
            doc.capabilities = capabilities;
            if human {
                print_stdout(&format!(
                    "{}: connected to {}:{} ({:?}, POP3), logged in as {}
\
                     capabilities: {}
maildrop: {count} messages ({:.1} MiB)
",
                    account.name,
                    account.host,
                    account.port,
                    account.tls,
                    account.user,
                    doc.capabilities.join(", "),
                    octets as f64 / (1024.0 * 1024.0)
                ));
            }
            (doc, ExitCode::Success)
        }
        Err(e) => {
            let code = account_error(&e);
            doc.error = Some(format!("{e:#}"));
            (doc, code)
        }
    }
}

/// The sentence for a failed attempt, after a second look where the first
/// cannot tell (which capabilities the server offers before login; whether
/// the port starts with TLS or with a plain greeting).
fn explain(account: &Account, e: &anyhow::Error, error: &str, alerts: &[String]) -> Option<String> {
    let imap = e.chain().find_map(|c| c.downcast_ref::<ImapError>());
    let mut probe = Probe::default();
    let mut capabilities = Vec::new();
    match imap {
        Some(ImapError::Tls(_)) if account.tls == TlsMode::Tls => {
            probe.plain_greeting = first_look(account, TlsMode::Plain).is_ok();
        }
        Some(ImapError::Timeout(_) | ImapError::Protocol(_) | ImapError::Bye(_))
            if account.tls != TlsMode::Tls =>
        {
            probe.speaks_tls = match first_look(account, TlsMode::Tls) {
                Ok(_) => true,
                Err(ImapError::Tls(text)) => text.contains("certificate"),
                Err(_) => false,
            };
        }
        Some(ImapError::Auth(_) | ImapError::LoginDisabled | ImapError::No { .. }) => {
            if let Ok(session) = first_look(account, account.tls) {
                capabilities = look_and_leave(session);
            }
        }
        _ => {}
    }
    let mut text = error.to_string();
    for alert in alerts {
        text.push_str("\n[ALERT] ");
        text.push_str(alert);
    }
    diagnose::explain(&Failure {
        error: &text,
        tls: account.tls,
        port: account.port,
        password: account.secret_kind == SecretKind::Password,
        provider: account
            .provider
            .and_then(|name| crate::providers::find(name).ok()),
        jobs: account.jobs(false),
        capabilities: &capabilities,
        probe,
    })
}

/// Connects without logging in (a few seconds at most), speaking `tls`.
fn first_look(account: &Account, tls: TlsMode) -> Result<Session, ImapError> {
    let mut options = connect_options(account, false);
    options.tls = tls;
    options.alerts = None;
    options.timeout = options.timeout.min(Duration::from_secs(5));
    let session = Session::connect(&options)?;
    Ok(session)
}

/// The capabilities of a session not logged in, which is then closed.
fn look_and_leave(session: Session) -> Vec<String> {
    let capabilities = session.capabilities();
    let _ = session.logout();
    capabilities
}
