//! `imapdir init`: adds one account to the config. The address picks the
//! preset (else the domain's published autoconfig, else the questions),
//! then the Maildir and where the secret comes from. The account is written
//! into the existing config without touching the rest of it, then checked
//! as `imapdir check` would, and the systemd timer lines are shown.
//!
//! Every value has a flag; with `--yes` nothing is asked, and a value that
//! is needed and has no default is an error naming its flag. Without it the
//! questions are read from standard input line by line, a default in
//! brackets taken by an empty answer.

use std::io::{BufRead, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use toml_edit::Value;

use crate::autoconfig;
use crate::cli::{Cli, InitArgs, InitTls};
use crate::config::{Config, ConfigError, Environment};
use crate::config_write;
use crate::exit_codes::ExitCode;
use crate::model::TlsMode;
use crate::providers::{self, Login, Provider};

/// For tests: where autoconfig documents are fetched from instead of the
/// domain's own servers (see [`autoconfig::urls`]).
pub const AUTOCONFIG_URL_ENV: &str = "IMAPDIR_AUTOCONFIG_URL";

/// Asks questions, or (under `--yes`) answers them with the defaults.
struct Questions<R> {
    input: Option<R>,
}

impl<R: BufRead> Questions<R> {
    fn interactive(&self) -> bool {
        self.input.is_some()
    }

    /// One answer: the flag's value if given, else asked (the default on an
    /// empty line), else under `--yes` the default or an error naming `flag`.
    fn value(
        &mut self,
        given: Option<&str>,
        question: &str,
        default: Option<&str>,
        flag: &str,
    ) -> Result<String, ConfigError> {
        if let Some(given) = given {
            return Ok(given.to_string());
        }
        let Some(input) = self.input.as_mut() else {
            return default.map(str::to_string).ok_or_else(|| {
                ConfigError(format!(
                    "{flag} is needed with --yes (or leave out --yes to be asked)"
                ))
            });
        };
        loop {
            match default {
                Some(d) => eprint!("{question} [{d}]: "),
                None => eprint!("{question}: "),
            }
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            let read = input
                .read_line(&mut line)
                .map_err(|e| ConfigError(format!("cannot read the answer: {e}")))?;
            if read == 0 {
                eprintln!();
                return Err(ConfigError(format!(
                    "no answer (standard input is closed): give {flag}, or run init with \
                     every value as a flag and --yes"
                )));
            }
            let answer = line.trim();
            if !answer.is_empty() {
                return Ok(answer.to_string());
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
        }
    }

    /// A yes/no question; `--yes` takes `default`.
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, ConfigError> {
        if !self.interactive() {
            return Ok(default);
        }
        let shown = if default { "Y/n" } else { "y/N" };
        loop {
            let answer = self.value(None, question, Some(shown), "--yes")?;
            if answer == shown {
                return Ok(default);
            }
            match answer.to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => eprintln!("  answer y or n"),
            }
        }
    }
}

/// Where the account's server is, and how it was found.
struct Server {
    provider: Option<&'static Provider>,
    host: String,
    port: u16,
    tls: TlsMode,
    /// The login name the domain publishes (autoconfig).
    user: Option<String>,
    oauth2: bool,
}

pub fn command(cli: &Cli, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let env = Environment::from_process();
    let path = match &cli.config {
        Some(p) => p.clone(),
        None => env.default_config_path()?,
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(ConfigError(format!("cannot read {}: {e}", path.display())).into()),
    };
    let present = config_write::account_names(&existing)
        .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
    let stdin = std::io::stdin();
    let mut ask = Questions {
        input: (!args.yes).then(|| stdin.lock()),
    };
    if ask.interactive() {
        eprintln!(
            "imapdir init: adds an account to {} (Enter takes the value in brackets)",
            path.display()
        );
    }

    let email = loop {
        let email = ask.value(args.email.as_deref(), "Mail address", None, "--email")?;
        match check_address(&email) {
            Ok(()) => break email,
            Err(e) if ask.interactive() && args.email.is_none() => eprintln!("  {e}"),
            Err(e) => return Err(ConfigError(e).into()),
        }
    };
    let server = find_server(args, &email, &mut ask)?;

    let default_name = default_account_name(&email, &present);
    let name = loop {
        let name = ask.value(
            args.account.as_deref(),
            "Account name (for imapdir sync NAME)",
            Some(&default_name),
            "--account",
        )?;
        let problem = if !valid_account_name(&name) {
            Some("an account name is a plain word: no '/', '\\', spaces, nor a leading '.'".into())
        } else if present.contains(&name) && !args.force {
            Some(format!(
                "an account named {name:?} is already in {}; nothing was written (pick another \
                 name with --account, or pass --force to replace it)",
                path.display()
            ))
        } else {
            None
        };
        match problem {
            None => break name,
            Some(p) if ask.interactive() && args.account.is_none() => eprintln!("  {p}"),
            Some(p) => return Err(ConfigError(p).into()),
        }
    };

    let default_user = server.user.clone().unwrap_or_else(|| email.clone());
    let user = ask.value(
        args.user.as_deref(),
        "Login name",
        Some(&default_user),
        "--user",
    )?;
    let default_maildir = format!("~/Mail/{name}");
    let maildir = ask.value(
        args.maildir.as_deref(),
        "Maildir (created when missing)",
        Some(&default_maildir),
        "--maildir",
    )?;
    let secret = secret_source(args, &server, &mut ask)?;

    let keys = account_keys(args, &server, &user, &maildir, &secret);
    let text = config_write::add_account(
        &existing,
        &name,
        &keys,
        &format!("{email}, added by imapdir init"),
        args.force,
    )
    .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
    // Whatever the file held, the result must load; else nothing is written.
    Config::parse(&text, &env).map_err(|e| {
        ConfigError(format!(
            "the config would not load with this account, so nothing was written: {}",
            e.0
        ))
    })?;
    let maildir_path = expand(&maildir, &env)?;
    if !maildir_path.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&maildir_path)
            .map_err(|e| ConfigError(format!("cannot create {}: {e}", maildir_path.display())))?;
        eprintln!("imapdir: created {}", maildir_path.display());
    }
    config_write::write_atomically(&path, &text)?;
    eprintln!("imapdir: wrote account {name} to {}", path.display());

    let mut code = ExitCode::Success;
    if !args.no_check {
        let config = Config::load(&path, &env)?;
        let account = config.select(std::slice::from_ref(&name))?[0];
        let (_, checked) = super::check::check_account(cli, account, true);
        if checked != ExitCode::Success {
            eprintln!(
                "imapdir: the account is in {} as written; change it there and run \
                 `imapdir check {name}` again",
                path.display()
            );
        }
        code = checked;
    }
    print_next_steps(&name);
    Ok(code)
}

/// The server: `--provider`, else `--host`, else the preset for the domain,
/// else the domain's autoconfig, else asked.
fn find_server<R: BufRead>(
    args: &InitArgs,
    email: &str,
    ask: &mut Questions<R>,
) -> Result<Server, ConfigError> {
    let preset = match &args.provider {
        Some(name) => Some(providers::find(name).map_err(|e| {
            ConfigError(e.replace("provider = ", "--provider ").replace(
                "leave it out and set host instead",
                "leave it out and give --host instead",
            ))
        })?),
        None if args.host.is_some() => None,
        None => providers::for_address(email),
    };
    let tls_flag = args.tls.map(|t| match t {
        InitTls::Tls => TlsMode::Tls,
        InitTls::Starttls => TlsMode::StartTls,
        InitTls::Plain => TlsMode::Plain,
    });
    if let Some(p) = preset {
        if args.provider.is_none() && ask.interactive() {
            eprintln!(
                "Provider: {} ({}:{}, logs in with {}); {}",
                p.title,
                p.host,
                p.port,
                p.login.describe(),
                p.note
            );
        }
        let tls = tls_flag.unwrap_or(p.tls);
        return Ok(Server {
            provider: Some(p),
            host: args.host.clone().unwrap_or_else(|| p.host.to_string()),
            port: args.port.unwrap_or(if tls == p.tls {
                p.port
            } else {
                default_port(tls)
            }),
            tls,
            user: None,
            oauth2: p.login == Login::OAuth2Only,
        });
    }
    if let Some(host) = &args.host {
        let tls = tls_flag.unwrap_or(TlsMode::Tls);
        return Ok(Server {
            provider: None,
            host: host.clone(),
            port: args.port.unwrap_or(default_port(tls)),
            tls,
            user: None,
            oauth2: false,
        });
    }
    let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
    let base = std::env::var(AUTOCONFIG_URL_ENV)
        .ok()
        .filter(|v| !v.is_empty());
    eprintln!("imapdir: no preset for {domain}; asking {domain} for its mail settings");
    match autoconfig::lookup(email, base.as_deref()) {
        Ok(found) => {
            eprintln!(
                "imapdir: {domain} publishes {}:{} ({})",
                found.host,
                found.port,
                tls_name(found.tls)
            );
            if ask.confirm("Use these settings?", true)? {
                let tls = tls_flag.unwrap_or(found.tls);
                return Ok(Server {
                    provider: None,
                    host: found.host,
                    port: args.port.unwrap_or(found.port),
                    tls,
                    user: found.user,
                    oauth2: found.oauth2,
                });
            }
        }
        Err(why) => {
            if !ask.interactive() {
                return Err(ConfigError(format!(
                    "no preset knows {domain} and it publishes no mail settings ({why}): give \
                     --host (and --port, --tls), or --provider"
                )));
            }
            eprintln!("imapdir: {domain} publishes no mail settings ({why})");
        }
    }
    let default_host = format!("imap.{domain}");
    let host = ask.value(None, "IMAP server", Some(&default_host), "--host")?;
    let tls = loop {
        let answer = ask.value(
            None,
            "Encryption: tls, starttls or plain",
            Some("tls"),
            "--tls",
        )?;
        match answer.as_str() {
            "tls" => break TlsMode::Tls,
            "starttls" => break TlsMode::StartTls,
            "plain" => break TlsMode::Plain,
            _ => eprintln!("  one of tls, starttls, plain"),
        }
    };
    let port = loop {
        let answer = ask.value(None, "Port", Some(&default_port(tls).to_string()), "--port")?;
        match answer.parse::<u16>() {
            Ok(p) if p > 0 => break p,
            _ => eprintln!("  a port is a number from 1 to 65535"),
        }
    };
    Ok(Server {
        provider: None,
        host,
        port,
        tls,
        user: None,
        oauth2: false,
    })
}

/// A config key and its value for the secret.
type Secret = (&'static str, String);

fn secret_source<R: BufRead>(
    args: &InitArgs,
    server: &Server,
    ask: &mut Questions<R>,
) -> Result<Secret, ConfigError> {
    let given = [
        ("password_command", &args.password_command),
        ("password_file", &args.password_file),
        ("password_env", &args.password_env),
        ("oauth2_token_command", &args.oauth2_token_command),
    ];
    if let Some((key, Some(value))) = given.iter().find(|(_, v)| v.is_some()) {
        return Ok((key, value.clone()));
    }
    if !ask.interactive() {
        return Err(ConfigError(
            "one of --password-command, --password-file, --password-env or \
             --oauth2-token-command is needed with --yes"
                .into(),
        ));
    }
    match server.provider.map(|p| p.login) {
        Some(Login::OAuth2Only) => eprintln!(
            "{} takes OAuth2 only: give a command that prints an access token (pizauth, oama; \
             see the README's OAuth2 section)",
            server.provider.map_or("", |p| p.title)
        ),
        Some(Login::AppPassword) => eprintln!(
            "{} wants an app password, not the account's own password (see the README's \
             Providers section)",
            server.provider.map_or("", |p| p.title),
        ),
        Some(Login::OAuth2OrAppPassword) => eprintln!(
            "{} wants an app password or OAuth2, not the account's own password (see the \
             README's Providers section)",
            server.provider.map_or("", |p| p.title),
        ),
        _ => {}
    }
    let default = if server.oauth2 { "oauth2" } else { "command" };
    loop {
        let kind = ask.value(
            None,
            "Where does the secret come from: command, file, env or oauth2",
            Some(default),
            "--password-command",
        )?;
        let (key, question, flag) = match kind.as_str() {
            "command" => (
                "password_command",
                "Command that prints the password (e.g. pass show mail/me)",
                "--password-command",
            ),
            "file" => (
                "password_file",
                "File whose first line is the password",
                "--password-file",
            ),
            "env" => (
                "password_env",
                "Environment variable that holds the password",
                "--password-env",
            ),
            "oauth2" => (
                "oauth2_token_command",
                "Command that prints an OAuth2 access token (e.g. pizauth show me)",
                "--oauth2-token-command",
            ),
            _ => {
                eprintln!("  one of command, file, env, oauth2");
                continue;
            }
        };
        return Ok((key, ask.value(None, question, None, flag)?));
    }
}

/// The account's keys, in the order a person would write them; what the
/// preset already says is left out.
fn account_keys(
    args: &InitArgs,
    server: &Server,
    user: &str,
    maildir: &str,
    secret: &Secret,
) -> Vec<(String, Value)> {
    let mut keys: Vec<(String, Value)> = Vec::new();
    let mut put = |k: &str, v: Value| keys.push((k.to_string(), v));
    let preset = server.provider;
    if let Some(p) = preset {
        put("provider", p.name.into());
    }
    if preset.is_none_or(|p| p.host != server.host) {
        put("host", server.host.as_str().into());
    }
    let implied_tls = preset.map_or(TlsMode::Tls, |p| p.tls);
    let implied_port = match preset {
        Some(p) if server.tls == p.tls => p.port,
        _ => default_port(server.tls),
    };
    if server.port != implied_port {
        put("port", i64::from(server.port).into());
    }
    if server.tls != implied_tls {
        put("tls", tls_name(server.tls).into());
    }
    if server.tls == TlsMode::Plain {
        put("allow_plaintext", true.into());
    }
    put("user", user.into());
    if let Some(ca) = &args.ca_file {
        let ca = std::path::absolute(ca).unwrap_or_else(|_| ca.clone());
        put("ca_file", ca.to_string_lossy().as_ref().into());
    }
    put(secret.0, secret.1.as_str().into());
    put("maildir", maildir.into());
    keys
}

fn default_port(tls: TlsMode) -> u16 {
    if tls == TlsMode::Tls {
        993
    } else {
        143
    }
}

fn tls_name(tls: TlsMode) -> &'static str {
    match tls {
        TlsMode::Tls => "tls",
        TlsMode::StartTls => "starttls",
        TlsMode::Plain => "plain",
    }
}

fn check_address(email: &str) -> Result<(), String> {
    match email.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(())
        }
        _ => Err(format!("{email:?} is not a mail address (name@domain)")),
    }
}

/// What config.rs accepts, and what a systemd instance name can carry.
fn valid_account_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '\0' | '@') || c.is_whitespace() || c.is_control())
}

/// The address's local part in letters, digits, `-`, `_` and `.`; with the
/// domain's first label after it when the config already has that name.
fn default_account_name(email: &str, present: &[String]) -> String {
    let clean = |s: &str| -> String {
        let s: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        s.trim_start_matches('.').to_string()
    };
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    let mut name = clean(local);
    if name.is_empty() {
        name = "mail".into();
    }
    if present.contains(&name) {
        let label = clean(domain.split('.').next().unwrap_or(""));
        let mut candidate = format!("{name}-{label}");
        let mut n = 2;
        while present.contains(&candidate) {
            candidate = format!("{name}-{label}-{n}");
            n += 1;
        }
        name = candidate;
    }
    name
}

fn expand(path: &str, env: &Environment) -> Result<PathBuf, ConfigError> {
    if path == "~" || path.starts_with("~/") {
        let home = env
            .home
            .as_ref()
            .ok_or_else(|| ConfigError(format!("cannot expand {path}: HOME is not set")))?;
        Ok(home.join(path.trim_start_matches('~').trim_start_matches('/')))
    } else {
        Ok(PathBuf::from(path))
    }
}

/// The systemd timer lines (the units are in contrib/systemd/).
fn print_next_steps(name: &str) {
    eprintln!(
        "\nTo sync {name} every 15 minutes with a systemd user timer, put imapdir@.service \
         and imapdir@.timer from contrib/systemd/ into ~/.config/systemd/user/, then:\n\
         \n    systemctl --user daemon-reload\n    systemctl --user enable --now imapdir@{name}.timer\n\
         \nOr sync now: imapdir sync {name}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_come_from_the_address_and_avoid_clashes() {
        assert_eq!(default_account_name("Alice.B@gmail.com", &[]), "alice.b");
        assert_eq!(default_account_name("a+tag@x.org", &[]), "a-tag");
        let present = vec!["me".to_string(), "me-work".to_string()];
        assert_eq!(
            default_account_name("me@work.example", &present),
            "me-work-2"
        );
        assert_eq!(default_account_name("me@home.example", &present), "me-home");
        assert!(valid_account_name("me-work"));
        assert!(
            !valid_account_name("a@b") && !valid_account_name(".x") && !valid_account_name("a b")
        );
    }

    #[test]
    fn addresses_are_checked() {
        assert!(check_address("me@example.org").is_ok());
        for bad in ["me", "@example.org", "me@localhost", "me @x.org", "me@.org"] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn questions_take_flags_then_answers_then_defaults() {
        let mut ask = Questions {
            input: Some(std::io::Cursor::new(b"\nanswer\n".to_vec())),
        };
        assert_eq!(ask.value(Some("flag"), "q", None, "--f").unwrap(), "flag");
        assert_eq!(ask.value(None, "q", Some("d"), "--f").unwrap(), "d");
        assert_eq!(ask.value(None, "q", None, "--f").unwrap(), "answer");
        let err = ask.value(None, "q", None, "--flag").unwrap_err();
        assert!(err.0.contains("--flag"), "{err}");
        let mut yes: Questions<std::io::Empty> = Questions { input: None };
        assert_eq!(yes.value(None, "q", Some("d"), "--f").unwrap(), "d");
        let err = yes.value(None, "q", None, "--email").unwrap_err();
        assert!(err.0.contains("--email is needed with --yes"), "{err}");
        assert!(yes.confirm("q", true).unwrap());
    }
}
