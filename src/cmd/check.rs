//! `imapdir check`: connect and log in, and show what the server offers.

use crate::cli::Cli;
use crate::config::Config;
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
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
        let mut doc = json::CheckAccount {
            account: account.name.clone(),
            host: account.host.clone(),
            port: account.port,
            tls: match account.tls {
                TlsMode::Tls => "tls",
                TlsMode::StartTls => "starttls",
                TlsMode::Plain => "plain",
            },
            user: account.user.clone(),
            ok: false,
            error: None,
            capabilities: Vec::new(),
            alerts: Vec::new(),
        };
        let opened = open_session(account, cli.trace_imap);
        // Before any error: an alert may say why ("log in on the web").
        doc.alerts = json::show_alerts(&account.name);
        match opened {
            Ok(session) => {
                doc.ok = true;
                doc.capabilities = session.capabilities().to_vec();
                if sink.is_none() {
                    print_stdout(&format!(
                        "{}: connected to {}:{} ({:?}), logged in as {}\ncapabilities: {}\n",
                        account.name,
                        account.host,
                        account.port,
                        account.tls,
                        account.user,
                        session.capabilities().join(" ")
                    ));
                }
                let _ = session.logout();
            }
            Err(e) => {
                worst = worst.max(account_error(&e));
                doc.error = Some(format!("{e:#}"));
            }
        }
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
