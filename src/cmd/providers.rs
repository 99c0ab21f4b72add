//! `imapdir providers`: the provider presets, for `provider = "NAME"`.

use serde::Serialize;

use crate::exit_codes::ExitCode;
use crate::providers::PROVIDERS;
use crate::report::print_stdout;

use super::output::{emit, Sink, SCHEMA_VERSION};

#[derive(Debug, Serialize)]
struct ProvidersDoc {
    version: u32,
    command: &'static str,
    exit_code: i32,
    providers: Vec<ProviderDoc>,
}

#[derive(Debug, Serialize)]
struct ProviderDoc {
    name: &'static str,
    title: &'static str,
    host: &'static str,
    port: u16,
    login: &'static str,
    oauth2: bool,
    domains: &'static [&'static str],
    max_connections: u16,
    exclude_special_use: &'static [&'static str],
    smtp_host: &'static str,
    smtp_port: u16,
    note: &'static str,
}

pub fn command(sink: &mut Sink) -> anyhow::Result<ExitCode> {
    let docs: Vec<ProviderDoc> = PROVIDERS
        .iter()
        .map(|p| ProviderDoc {
            name: p.name,
            title: p.title,
            host: p.host,
            port: p.port,
            login: p.login.describe(),
            oauth2: p.oauth2.is_some(),
            domains: p.domains,
            max_connections: p.max_connections,
            exclude_special_use: p.exclude_special_use,
            smtp_host: p.smtp.0,
            smtp_port: p.smtp.1,
            note: p.note,
        })
        .collect();
    if sink.is_none() {
        for p in &docs {
            print_stdout(&format!(
                "{}\t{}:{}\t{}\t{}\n    {}\n",
                p.name, p.host, p.port, p.login, p.title, p.note
            ));
        }
    }
    emit(
        sink,
        &ProvidersDoc {
            version: SCHEMA_VERSION,
            command: "providers",
            exit_code: 0,
            providers: docs,
        },
    );
    Ok(ExitCode::Success)
}
