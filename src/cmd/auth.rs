//! `imapdir auth ACCOUNT`: the built-in OAuth2 login, once per account (and
//! again when the provider ends it). The flows and the store live in
//! `auth::oauth2`; this command picks the flow, keeps the tokens and says
//! where they went.

use crate::auth::oauth2::{flow, Kept};
use crate::cli::AuthArgs;
use crate::config::{Config, ConfigError, SecretKind};
use crate::exit_codes::ExitCode;
use crate::report::print_stdout;

use super::output::{self, AuthDoc, Sink};

pub fn command(config: &Config, args: &AuthArgs, sink: &mut Sink) -> anyhow::Result<ExitCode> {
    let account = config.select(std::slice::from_ref(&args.account))?[0];
    let Some(login) = &account.oauth2 else {
        let has = match account.secret_kind {
            SecretKind::OAuth2Token => "an oauth2_token_command",
            _ => "a password",
        };
        return Err(ConfigError(format!(
            "account {}: imapdir auth is for the built-in OAuth2 login, and this account logs \
             in with {has}; to use it, set oauth2_client_id instead (see the README, OAuth2)",
            account.name
        ))
        .into());
    };
    let tokens = if args.device {
        flow::device(login)?
    } else {
        flow::authorization_code(login, !args.no_browser)?
    };
    let kept = login.store.save(&tokens).map_err(|e| {
        anyhow::anyhow!(
            "account {}: logged in, but the login could not be kept: {e}",
            account.name
        )
    })?;
    print_stdout(&format!(
        "{}: logged in; the refresh token is kept in {kept}\n",
        account.name
    ));
    if login.client.is_google() {
        eprintln!(
            "imapdir: note: a Google client left in \"testing\" on its OAuth consent screen \
             issues refresh tokens that expire after 7 days; publish it (\"In production\") to \
             log in once for good"
        );
    }
    output::emit(
        sink,
        &AuthDoc {
            version: output::SCHEMA_VERSION,
            command: "auth",
            exit_code: 0,
            account: account.name.clone(),
            flow: if args.device { "device" } else { "browser" },
            store: match kept {
                Kept::Keyring => "keyring",
                Kept::File(_) => "file",
            },
            file: match &kept {
                Kept::File(p) => Some(p.display().to_string()),
                Kept::Keyring => None,
            },
        },
    );
    Ok(ExitCode::Success)
}
