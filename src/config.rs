//! The TOML config: accounts, their defaults, validation, and where each
//! secret comes from (read by [`crate::auth::secrets`]).
//!
//! Parsing is strict (unknown keys are errors) because a misspelt key in an
//! unattended backup would otherwise be silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::auth::oauth2::{self, ClientSecret, OAuth2Login, StoreChoice, TokenStore};
use crate::auth::sasl::Credential;
pub use crate::auth::secrets::PasswordSource;
use crate::folders::{FolderPatterns, FolderRules, NameMap, NamespaceChoice};
use crate::model::{
    AuthMethod, CompressMode, DeleteLimits, FolderDeletes, Layout, LocalDeletions, LocalNames,
    ServerDeletions, TlsMode,
};
use crate::providers;

/// A config the user must fix; maps to exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

fn config_error(msg: impl Into<String>) -> ConfigError {
    ConfigError(msg.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    accounts_at_once: Option<usize>,
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    provider: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    ca_file: Option<String>,
    #[serde(default)]
    allow_plaintext: bool,
    user: String,
    password_command: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    oauth2_token_command: Option<String>,
    oauth2_client_id: Option<String>,
    oauth2_client_secret: Option<String>,
    oauth2_client_secret_command: Option<String>,
    oauth2_auth_url: Option<String>,
    oauth2_token_url: Option<String>,
    oauth2_device_url: Option<String>,
    oauth2_scopes: Option<String>,
    oauth2_redirect_port: Option<u16>,
    oauth2_token_store: Option<String>,
    auth: Option<String>,
    maildir: String,
    state_file: Option<String>,
    jobs: Option<u16>,
    timeout: Option<u64>,
    compress: Option<String>,
    max_connections: Option<u16>,
    max_delete_share: Option<f64>,
    max_server_delete_share: Option<f64>,
    max_local_delete_share: Option<f64>,
    pre_sync_command: Option<String>,
    post_sync_command: Option<String>,
    interval: Option<u64>,
    watch_folders: Option<Vec<String>>,
    local_names: Option<String>,
    folders: Option<Vec<String>>,
    #[serde(default)]
    subscribed_only: bool,
    namespaces: Option<Vec<String>>,
    shared_folders_level: Option<String>,
    other_users_level: Option<String>,
    folder_names: Option<BTreeMap<String, String>>,
    special_use_names: Option<bool>,
    exclude_special_use: Option<Vec<String>>,
    layout: Option<String>,
    flatten: Option<String>,
    propagate_folder_deletes: Option<String>,
    trash: Option<String>,
    server_deletions: Option<String>,
    archive_folder: Option<String>,
    local_deletions: Option<String>,
    deleted_folder_days: Option<u64>,
    protocol: Option<String>,
    pop3_folder: Option<String>,
    leave_on_server: Option<bool>,
    delete_after_days: Option<u64>,
    outbox: Option<String>,
    sent_folder: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_tls: Option<String>,
    since: Option<String>,
    max_messages: Option<i64>,
    keep_flagged: Option<bool>,
    keep_unread: Option<bool>,
    max_message_size: Option<String>,
    per_folder: Option<Vec<RawFolderSettings>>,
}

/// One `[[accounts.NAME.per_folder]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFolderSettings {
    folders: StringOrList,
    since: Option<String>,
    max_messages: Option<i64>,
    keep_flagged: Option<bool>,
    keep_unread: Option<bool>,
    max_message_size: Option<String>,
}

/// A pattern, or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

/// Settings for the folders some patterns name (`per_folder`), over the
/// account's: each key given replaces the account's (or an earlier
/// table's) for those folders; `"none"` for `since` or
/// `max_message_size` turns that limit off there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSettings {
    pub patterns: FolderPatterns,
    pub since: Option<Option<crate::model::Since>>,
    pub max_messages: Option<u32>,
    pub keep_flagged: Option<bool>,
    pub keep_unread: Option<bool>,
    pub max_message_size: Option<Option<u64>>,
}

/// What the account's secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Password,
    /// From `oauth2_token_command`.
    OAuth2Token,
    /// From the built-in OAuth2 login (`oauth2_client_id`, `imapdir auth`).
    OAuth2Login,
}

impl SecretKind {
    /// Whether the secret is an OAuth2 access token.
    pub fn is_token(self) -> bool {
        self != SecretKind::Password
    }
}

/// One account, validated, with every default filled in.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    /// The preset it started from (`provider`), if any.
    pub provider: Option<&'static str>,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub user: String,
    /// Where the secret comes from: a password, or an OAuth2 access token
    /// (`oauth2_token_command`), as `secret_kind` says.
    pub password: PasswordSource,
    pub secret_kind: SecretKind,
    /// The built-in OAuth2 login, for `SecretKind::OAuth2Login`.
    pub oauth2: Option<OAuth2Login>,
    /// How to log in (`auth`).
    pub auth: AuthMethod,
    pub maildir: PathBuf,
    pub state_file: PathBuf,
    /// `jobs` as configured; `None` for the default (see [`Account::jobs`]).
    pub jobs_setting: Option<usize>,
    /// Most connections open at once to this account's host, by every
    /// account on it that this process syncs (`max_connections`, else
    /// the provider preset's); `None`: no limit but `jobs`.
    pub max_connections: Option<usize>,
    pub timeout: Duration,
    pub compress: CompressMode,
    /// Largest share of a folder (0 to 1) one run may delete on each side
    /// before the mass-deletion guard asks for a confirmation.
    pub delete_limits: DeleteLimits,
    /// Run through `sh -c` before connecting; failing skips the account.
    pub pre_sync_command: Option<String>,
    /// Run through `sh -c` after the sync, with the counts in its environment.
    pub post_sync_command: Option<String>,
    /// `imapdir watch`: time between full syncs.
    pub interval: Duration,
    /// `imapdir watch`: server folders (names as the server sends them) to IDLE on.
    pub watch_folders: Vec<String>,
    /// Which folders are synced, and under which local names.
    pub folder_rules: FolderRules,
    /// Whether a folder deleted on one side is deleted on the other.
    pub folder_deletes: FolderDeletes,
    /// Where a message deleted locally goes on the server (`trash`):
    /// `None` expunges it.
    pub trash: Option<Trash>,
    /// `server_deletions`: whether a server expunge deletes the local copy.
    pub server_deletions: ServerDeletions,
    /// `archive_folder`: the local-only folder (levels joined by `/`) that
    /// the local copies of server expunges go to in keep-local mode;
    /// `None`: they stay where they were.
    pub archive_folder: Option<String>,
    /// `local_deletions`: whether a deleted file deletes the server copy.
    pub local_deletions: LocalDeletions,
    /// How long a deleted local folder stays in the trash.
    pub deleted_folder_days: u64,
    /// What the account's server speaks: IMAP (synced both ways) or POP3
    /// (imported into [`Pop3Settings::folder`]).
    pub protocol: Protocol,
    /// The POP3 import's settings (`protocol = "pop3"`).
    pub pop3: Pop3Settings,
    /// Where finished messages wait to be sent (`outbox`), if anywhere.
    pub outbox: Option<OutboxSettings>,
    /// Which server messages not yet synced are downloaded (`since`,
    /// `max_messages`, `keep_flagged`, `keep_unread`); `None`: all.
    pub window: Option<crate::model::Window>,
    /// Messages larger than this (bytes) are stored as placeholders
    /// (`max_message_size`); `None`: every message whole.
    pub max_message_size: Option<u64>,
    /// `per_folder` tables, in the order written: the last that sets a key
    /// for a folder decides it.
    pub per_folder: Vec<FolderSettings>,
}

/// The outbox: a local folder sent from by SMTP submission at each sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxSettings {
    /// The local folder, levels joined by `/`; never synced as a server folder.
    pub folder: String,
    /// The folder sent messages are filed in (`sent_folder`, a folder
    /// name as `folders` spells it); `None`: the folder the server marks
    /// `\Sent`, else `Sent`.
    pub sent_folder: Option<String>,
    /// The provider files what it sends in Sent itself: imapdir does not.
    pub provider_files_sent: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_tls: TlsMode,
}

/// The protocol of an account's server (`protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// How a POP3 account imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pop3Settings {
    /// The local folder the messages go to, levels joined by `/` as the
    /// IMAP side names them (`pop3_folder`, default `INBOX`), placed by the
    /// account's `layout`.
    pub folder: String,
    /// Keep messages on the server after the download (`leave_on_server`).
    pub leave_on_server: bool,
    /// Delete from the server messages downloaded (and made durable) this
    /// many days ago (`delete_after_days`); only with `leave_on_server`.
    pub delete_after_days: Option<u64>,
}

/// The whole config: accounts in name order.
#[derive(Debug, Clone)]
pub struct Config {
    pub accounts: Vec<Account>,
    /// How many accounts `sync` runs at once.
    pub accounts_at_once: usize,
}

/// `accounts_at_once`'s default: a few accounts overlap their logins and
/// network waits without one machine opening dozens of connections.
pub const DEFAULT_ACCOUNTS_AT_ONCE: usize = 3;

/// The environment a config is resolved against, so parsing stays testable.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
}

impl Environment {
    pub fn from_process() -> Environment {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Environment {
            home: var("HOME"),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            xdg_state_home: var("XDG_STATE_HOME"),
        }
    }

    /// `$XDG_CONFIG_HOME/imapdir/config.toml`, falling back to `~/.config`.
    pub fn default_config_path(&self) -> Result<PathBuf, ConfigError> {
        let base = match (&self.xdg_config_home, &self.home) {
            (Some(x), _) => x.clone(),
            (None, Some(h)) => h.join(".config"),
            (None, None) => {
                return Err(config_error(
                    "neither XDG_CONFIG_HOME nor HOME is set; pass --config FILE",
                ))
            }
        };
        Ok(base.join("imapdir").join("config.toml"))
    }

    fn state_dir(&self) -> Result<PathBuf, ConfigError> {
        let base = match (&self.xdg_state_home, &self.home) {
            (Some(x), _) => x.clone(),
            (None, Some(h)) => h.join(".local").join("state"),
            (None, None) => {
                return Err(config_error(
                    "neither XDG_STATE_HOME nor HOME is set; set state_file",
                ))
            }
        };
        Ok(base.join("imapdir"))
    }

    fn expand(&self, path: &str) -> Result<PathBuf, ConfigError> {
        if path == "~" || path.starts_with("~/") {
            let home = self
                .home
                .as_ref()
                .ok_or_else(|| config_error(format!("cannot expand {path}: HOME is not set")))?;
            Ok(home.join(path.trim_start_matches('~').trim_start_matches('/')))
        } else {
            Ok(PathBuf::from(path))
        }
    }
}

impl Config {
    /// Reads and validates the config file.
    pub fn load(path: &Path, env: &Environment) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                config_error(format!(
                    "no config file at {}; create one (see the README) or pass --config FILE",
                    path.display()
                ))
            } else {
                config_error(format!("cannot read config {}: {e}", path.display()))
            }
        })?;
        let mut config = Config::parse(&text, env)
            .map_err(|e| config_error(format!("{}: {}", path.display(), e.0)))?;
        // The command that logs in again names this config when it is not
        // the one found without --config.
        if env.default_config_path().ok().as_deref() != Some(path) {
            for login in config.accounts.iter_mut().filter_map(|a| a.oauth2.as_mut()) {
                login.relogin = format!(
                    "imapdir --config {} auth {}",
                    shell_word(&path.to_string_lossy()),
                    shell_word(&login.account)
                );
            }
        }
        Ok(config)
    }

    pub fn parse(text: &str, env: &Environment) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| config_error(e.to_string()))?;
        if raw.accounts.is_empty() {
            return Err(config_error(
                "no accounts defined (add an [accounts.NAME] table)",
            ));
        }
        let accounts = raw
            .accounts
            .into_iter()
            .map(|(name, acc)| {
                Account::from_raw(&name, acc, env)
                    .map_err(|e| config_error(format!("account {name}: {}", e.0)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let accounts_at_once = raw.accounts_at_once.unwrap_or(DEFAULT_ACCOUNTS_AT_ONCE);
        if !(1..=256).contains(&accounts_at_once) {
            return Err(config_error("accounts_at_once must be from 1 to 256"));
        }
        Ok(Config {
            accounts,
            accounts_at_once,
        })
    }

    /// The named accounts, or all when `names` is empty; unknown names are errors.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Account>, ConfigError> {
        if names.is_empty() {
            return Ok(self.accounts.iter().collect());
        }
        names
            .iter()
            .map(|n| {
                self.accounts.iter().find(|a| &a.name == n).ok_or_else(|| {
                    let known: Vec<&str> = self.accounts.iter().map(|a| a.name.as_str()).collect();
                    config_error(format!(
                        "no account named {n:?} (known: {})",
                        known.join(", ")
                    ))
                })
            })
            .collect()
    }
}

/// Folders synced at once when the config does not say.
pub const DEFAULT_JOBS: usize = 4;

/// The longest `timeout`: longer is no timeout at all, and a deadline that
/// far ahead overflows the clock arithmetic on some platforms.
pub const MAX_TIMEOUT_SECS: u64 = 86_400;

/// The longest `interval` of `watch` (31 days), for the same reason.
pub const MAX_INTERVAL_SECS: u64 = 31 * 86_400;

/// The server folder that takes what is deleted locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trash {
    /// The folder with the `\Trash` special use (RFC 6154).
    SpecialUse,
    /// This folder, named as `imapdir folders` shows it.
    Folder(String),
}

/// The guard's limits: `max_delete_share` sets both sides (as it did before
/// the sides had limits of their own), each side's key overrides it.
fn delete_limits(
    both: Option<f64>,
    server: Option<f64>,
    local: Option<f64>,
) -> Result<DeleteLimits, ConfigError> {
    let defaults = DeleteLimits::default();
    let share = |key: &str, value: Option<f64>, default: f64| match value.or(both) {
        Some(v) if !(0.0..=1.0).contains(&v) => Err(config_error(format!(
            "{key} must be between 0 and 1 (a share of the folder, e.g. 0.5)"
        ))),
        Some(v) => Ok(v),
        None => Ok(default),
    };
    let key = |side: &'static str, value: Option<f64>| {
        if value.is_none() && both.is_some() {
            "max_delete_share"
        } else {
            side
        }
    };
    Ok(DeleteLimits {
        server_share: share(
            key("max_server_delete_share", server),
            server,
            defaults.server_share,
        )?,
        local_share: share(
            key("max_local_delete_share", local),
            local,
            defaults.local_share,
        )?,
    })
}

impl Account {
    /// How many folders to sync at once: the configured `jobs`, else
    /// [`DEFAULT_JOBS`], but no more than this machine's cores when the
    /// server shares them (`share_cores`: it runs on this machine, and the
    /// run has little to download). There each further connection costs
    /// the server a login and adds no speed.
    pub fn jobs(&self, share_cores: bool) -> usize {
        let jobs = match self.jobs_setting {
            Some(jobs) => jobs,
            None if share_cores => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                DEFAULT_JOBS.min(cores)
            }
            None => DEFAULT_JOBS,
        };
        jobs.min(self.max_connections.unwrap_or(usize::MAX))
    }

    fn from_raw(name: &str, raw: RawAccount, env: &Environment) -> Result<Account, ConfigError> {
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return Err(config_error(
                "account names must be plain words (no '/', no leading '.')",
            ));
        }
        let provider = raw
            .provider
            .as_deref()
            .map(providers::find)
            .transpose()
            .map_err(config_error)?;
        let host = match (raw.host, provider) {
            (Some(host), _) => host,
            (None, Some(p)) => p.host.to_string(),
            (None, None) => {
                return Err(config_error(
                    "no host: set host, or provider (`imapdir providers` lists the presets)",
                ))
            }
        };
        if host.trim().is_empty() {
            return Err(config_error("host is empty"));
        }
        let tls = match raw.tls.as_deref().unwrap_or("tls") {
            "tls" => TlsMode::Tls,
            "starttls" => TlsMode::StartTls,
            "plain" => TlsMode::Plain,
            other => {
                return Err(config_error(format!(
                    "tls = {other:?} is not one of \"tls\", \"starttls\", \"plain\""
                )))
            }
        };
        if tls == TlsMode::Plain && !raw.allow_plaintext {
            return Err(config_error(
                "tls = \"plain\" would send the password unencrypted; \
                 set allow_plaintext = true to allow it",
            ));
        }
        let protocol = match raw.protocol.as_deref().unwrap_or("imap") {
            "imap" => Protocol::Imap,
            "pop3" => Protocol::Pop3,
            other => {
                return Err(config_error(format!(
                    "protocol = {other:?} is not one of \"imap\", \"pop3\""
                )))
            }
        };
        let port = raw.port.unwrap_or(match (protocol, tls) {
            (Protocol::Imap, TlsMode::Tls) => 993,
            (Protocol::Imap, _) => 143,
            (Protocol::Pop3, TlsMode::Tls) => 995,
            (Protocol::Pop3, _) => 110,
        });
        let pop3 = pop3_settings(
            protocol,
            raw.pop3_folder,
            raw.leave_on_server,
            raw.delete_after_days,
        )?;
        let sources = [
            raw.password_command.is_some(),
            raw.password_env.is_some(),
            raw.password_file.is_some(),
            raw.oauth2_token_command.is_some(),
            raw.oauth2_client_id.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(config_error(
                "set only one of password_command, password_env, password_file, \
                 oauth2_token_command, oauth2_client_id",
            ));
        }
        let oauth2_settings = [
            ("oauth2_client_secret", raw.oauth2_client_secret.is_some()),
            (
                "oauth2_client_secret_command",
                raw.oauth2_client_secret_command.is_some(),
            ),
            ("oauth2_auth_url", raw.oauth2_auth_url.is_some()),
            ("oauth2_token_url", raw.oauth2_token_url.is_some()),
            ("oauth2_device_url", raw.oauth2_device_url.is_some()),
            ("oauth2_scopes", raw.oauth2_scopes.is_some()),
            ("oauth2_redirect_port", raw.oauth2_redirect_port.is_some()),
            ("oauth2_token_store", raw.oauth2_token_store.is_some()),
        ];
        if raw.oauth2_client_id.is_none() {
            let oauth2_only = provider.is_some_and(|p| p.login == providers::Login::OAuth2Only);
            let no_source = !sources.iter().any(|s| *s);
            if let Some((key, _)) = oauth2_settings.iter().find(|(_, set)| *set) {
                return Err(config_error(format!(
                    "{key} is for the built-in OAuth2 login, which needs oauth2_client_id: \
                     {MISSING_CLIENT_ID}"
                )));
            }
            if no_source && oauth2_only {
                return Err(config_error(format!(
                    "no oauth2_client_id: {} logs in with OAuth2 only. {MISSING_CLIENT_ID}",
                    provider.map_or("the provider", |p| p.title)
                )));
            }
        }
        let (password, secret_kind) = match (
            raw.password_command,
            raw.password_env,
            raw.password_file,
            raw.oauth2_token_command,
        ) {
            (Some(c), ..) => (PasswordSource::Command(c), SecretKind::Password),
            (_, Some(v), ..) => (PasswordSource::Env(v), SecretKind::Password),
            (_, _, Some(f), _) => (PasswordSource::File(env.expand(&f)?), SecretKind::Password),
            (_, _, _, Some(c)) => (PasswordSource::Command(c), SecretKind::OAuth2Token),
            (None, None, None, None) if raw.oauth2_client_id.is_some() => {
                (PasswordSource::OAuth2Login, SecretKind::OAuth2Login)
            }
            (None, None, None, None) => {
                return Err(config_error(
                    "no password source: set password_command, password_env or password_file \
                     (or oauth2_client_id for the built-in OAuth2 login, imapdir auth; or \
                     oauth2_token_command for a token helper)",
                ))
            }
        };
        let auth = match raw.auth.as_deref().unwrap_or("auto") {
            "auto" => AuthMethod::Auto,
            "plain" => AuthMethod::Plain,
            "login" => AuthMethod::Login,
            "xoauth2" => AuthMethod::XOAuth2,
            "oauthbearer" => AuthMethod::OAuthBearer,
            other => {
                return Err(config_error(format!(
                    "auth = {other:?} is not one of \"auto\", \"plain\", \"login\", \
                     \"xoauth2\", \"oauthbearer\""
                )))
            }
        };
        let token_method = matches!(auth, AuthMethod::XOAuth2 | AuthMethod::OAuthBearer);
        if auth != AuthMethod::Auto && token_method != secret_kind.is_token() {
            return Err(config_error(if token_method {
                "auth = \"xoauth2\" and \"oauthbearer\" log in with an OAuth2 token: set \
                 oauth2_token_command (or oauth2_client_id) instead of a password"
            } else {
                "an OAuth2 login (oauth2_token_command, oauth2_client_id) uses auth = \
                 \"auto\", \"xoauth2\" or \"oauthbearer\""
            }));
        }
        let state_file = match raw.state_file {
            Some(p) => env.expand(&p)?,
            None => env.state_dir()?.join(format!("{name}.sqlite")),
        };
        let max_connections = raw
            .max_connections
            .or(provider.map(|p| p.max_connections))
            .map(usize::from);
        if max_connections == Some(0) {
            return Err(config_error("max_connections must be at least 1"));
        }
        let oauth2 = match raw.oauth2_client_id {
            None => None,
            Some(client_id) => Some(oauth2_login(
                name,
                &raw.user,
                &state_file,
                provider.and_then(|p| p.oauth2),
                RawOAuth2 {
                    client_id,
                    client_secret: raw.oauth2_client_secret,
                    client_secret_command: raw.oauth2_client_secret_command,
                    auth_url: raw.oauth2_auth_url,
                    token_url: raw.oauth2_token_url,
                    device_url: raw.oauth2_device_url,
                    scopes: raw.oauth2_scopes,
                    redirect_port: raw.oauth2_redirect_port,
                    token_store: raw.oauth2_token_store,
                },
            )?),
        };
        let jobs_setting = raw.jobs.map(usize::from);
        if jobs_setting.is_some_and(|j| !(1..=64).contains(&j)) {
            return Err(config_error("jobs must be between 1 and 64"));
        }
        let timeout = raw.timeout.unwrap_or(60);
        if !(1..=MAX_TIMEOUT_SECS).contains(&timeout) {
            return Err(config_error(format!(
                "timeout must be between 1 and {MAX_TIMEOUT_SECS} seconds (a day)"
            )));
        }
        let compress = match raw.compress.as_deref().unwrap_or("auto") {
            "auto" => CompressMode::Auto,
            "yes" => CompressMode::Yes,
            "no" => CompressMode::No,
            other => {
                return Err(config_error(format!(
                    "compress = {other:?} is not one of \"auto\", \"yes\", \"no\""
                )))
            }
        };
        let delete_limits = delete_limits(
            raw.max_delete_share,
            raw.max_server_delete_share,
            raw.max_local_delete_share,
        )?;
        let interval = raw.interval.unwrap_or(900);
        if !(1..=MAX_INTERVAL_SECS).contains(&interval) {
            return Err(config_error(format!(
                "interval must be between 1 and {MAX_INTERVAL_SECS} seconds (31 days)"
            )));
        }
        // A POP3 account has no folder to IDLE on.
        let watch_folders = raw.watch_folders.unwrap_or_else(|| match protocol {
            Protocol::Imap => vec!["INBOX".to_string()],
            Protocol::Pop3 => Vec::new(),
        });
        if watch_folders.iter().any(|f| f.is_empty()) {
            return Err(config_error("watch_folders must not contain an empty name"));
        }
        let local_names = match raw.local_names.as_deref() {
            None => LocalNames::Keep,
            Some("utf-8") => LocalNames::Utf8,
            Some("modified-utf-7") => LocalNames::ModifiedUtf7,
            Some(other) => {
                return Err(config_error(format!(
                    "local_names = {other:?} is not one of \"utf-8\", \"modified-utf-7\" \
                     (leave it out to keep the spelling the Maildir already uses)"
                )))
            }
        };
        let outbox = outbox_settings(
            raw.outbox,
            raw.sent_folder,
            (raw.smtp_host, raw.smtp_port, raw.smtp_tls),
            provider,
            &host,
            raw.allow_plaintext,
        )?;
        if outbox.is_some() && protocol == Protocol::Pop3 {
            return Err(config_error(
                "outbox needs an IMAP account (its sent mail is filed there)",
            ));
        }
        let mut patterns = match raw.folders {
            None => FolderPatterns::default(),
            Some(patterns) => FolderPatterns::parse(&patterns).map_err(config_error)?,
        };
        if let Some(outbox) = &outbox {
            // The outbox is local only: excluded both ways, whatever the patterns.
            patterns = patterns
                .excluding(&outbox.folder)
                .excluding(&format!("{}/*", outbox.folder));
        }
        let folder_deletes = match raw.propagate_folder_deletes.as_deref().unwrap_or("none") {
            "none" => FolderDeletes::None,
            "to-server" => FolderDeletes::ToServer,
            "to-local" => FolderDeletes::ToLocal,
            "both" => FolderDeletes::Both,
            other => {
                return Err(config_error(format!(
                    "propagate_folder_deletes = {other:?} is not one of \"none\", \"to-server\", \
                     \"to-local\", \"both\""
                )))
            }
        };
        let trash = match raw.trash.as_deref() {
            None | Some("") => None,
            Some("special-use") => Some(Trash::SpecialUse),
            Some(name) => Some(Trash::Folder(name.to_string())),
        };
        let server_deletions = match raw.server_deletions.as_deref().unwrap_or("delete-local") {
            "delete-local" => ServerDeletions::DeleteLocal,
            "keep-local" => ServerDeletions::KeepLocal,
            other => {
                return Err(config_error(format!(
                    "server_deletions = {other:?} is not one of \"delete-local\", \"keep-local\""
                )))
            }
        };
        let archive_folder = raw.archive_folder.filter(|f| !f.is_empty());
        if let Some(folder) = &archive_folder {
            local_only_folder("archive_folder", folder)?;
            if server_deletions != ServerDeletions::KeepLocal {
                return Err(config_error(
                    "archive_folder needs server_deletions = \"keep-local\" (it holds the \
                     local copies of messages expunged on the server)",
                ));
            }
            if outbox.as_ref().is_some_and(|o| o.folder == *folder) {
                return Err(config_error(
                    "archive_folder and outbox name the same folder",
                ));
            }
            // Local only: excluded both ways, whatever the patterns, so
            // nothing in it is ever uploaded.
            patterns = patterns.excluding(folder).excluding(&format!("{folder}/*"));
        }
        let local_deletions = match raw.local_deletions.as_deref().unwrap_or("delete-server") {
            "delete-server" => LocalDeletions::DeleteServer,
            "keep-server" => LocalDeletions::KeepServer,
            other => {
                return Err(config_error(format!(
                    "local_deletions = {other:?} is not one of \"delete-server\", \"keep-server\""
                )))
            }
        };
        let window = window(
            raw.since.as_deref(),
            raw.max_messages,
            raw.keep_flagged,
            raw.keep_unread,
        )?;
        let max_message_size = raw
            .max_message_size
            .as_deref()
            .map(parse_message_size)
            .transpose()?;
        if window.is_some() && protocol == Protocol::Pop3 {
            return Err(config_error(
                "since and max_messages are for IMAP accounts (a POP3 import takes every message)",
            ));
        }
        let per_folder = raw
            .per_folder
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .map(|(i, table)| folder_settings(i, table))
            .collect::<Result<Vec<_>, _>>()?;
        if !per_folder.is_empty() && protocol == Protocol::Pop3 {
            return Err(config_error(
                "per_folder is for IMAP accounts (a POP3 import has one folder)",
            ));
        }
        let folder_rules = FolderRules {
            patterns,
            local_names,
            layout: layout(raw.layout.as_deref(), raw.flatten.as_deref())?,
            subscribed_only: raw.subscribed_only,
            namespaces: namespace_choice(
                raw.namespaces.as_deref(),
                raw.shared_folders_level,
                raw.other_users_level,
            )?,
            names: NameMap::parse(&raw.folder_names.unwrap_or_default()).map_err(config_error)?,
            special_use_names: raw
                .special_use_names
                .unwrap_or(provider.is_some_and(|p| p.special_use_names)),
            exclude_special_use: exclude_special_use(
                raw.exclude_special_use,
                provider.map(|p| p.exclude_special_use),
            )?,
        };
        Ok(Account {
            name: name.to_string(),
            host,
            provider: provider.map(|p| p.name),
            port,
            tls,
            ca_file: raw.ca_file.map(|p| env.expand(&p)).transpose()?,
            user: raw.user,
            password,
            secret_kind,
            oauth2,
            auth,
            maildir: env.expand(&raw.maildir)?,
            state_file,
            jobs_setting,
            max_connections,
            timeout: Duration::from_secs(timeout),
            compress,
            delete_limits,
            pre_sync_command: raw.pre_sync_command,
            post_sync_command: raw.post_sync_command,
            interval: Duration::from_secs(interval),
            watch_folders,
            folder_rules,
            folder_deletes,
            trash,
            server_deletions,
            archive_folder,
            local_deletions,
            deleted_folder_days: raw.deleted_folder_days.unwrap_or(30),
            protocol,
            pop3,
            outbox,
            window,
            max_message_size,
            per_folder,
        })
    }

    /// The date and count window of the folder `folder` (as `imapdir
    /// folders` shows it): the account's, with its `per_folder` tables.
    pub fn window_of(&self, folder: &str) -> Option<crate::model::Window> {
        let base = self.window.as_ref();
        let mut since = base.and_then(|w| w.since);
        let mut max_messages = base.and_then(|w| w.max_messages);
        let mut keep_flagged = base.is_some_and(|w| w.keep_flagged);
        let mut keep_unread = base.is_some_and(|w| w.keep_unread);
        for table in self.tables_of(folder) {
            since = table.since.unwrap_or(since);
            max_messages = table.max_messages.or(max_messages);
            keep_flagged = table.keep_flagged.unwrap_or(keep_flagged);
            keep_unread = table.keep_unread.unwrap_or(keep_unread);
        }
        (since.is_some() || max_messages.is_some()).then_some(crate::model::Window {
            since,
            max_messages,
            keep_flagged,
            keep_unread,
        })
    }

    /// `max_message_size` of the folder `folder`, with its `per_folder` tables.
    pub fn max_message_size_of(&self, folder: &str) -> Option<u64> {
        self.tables_of(folder)
            .fold(self.max_message_size, |size, t| {
                t.max_message_size.unwrap_or(size)
            })
    }

    fn tables_of<'a>(&'a self, folder: &'a str) -> impl Iterator<Item = &'a FolderSettings> {
        self.per_folder
            .iter()
            .filter(move |t| t.patterns.decide(folder).included)
    }

    /// Fetches the secret. Errors never contain it.
    pub fn password(&self) -> Result<String, ConfigError> {
        self.password.read().map_err(|e| config_error(e.0))
    }

    /// Fetches the secret as what it is (a token command runs again each
    /// time: a token helper hands out a fresh one; the built-in login hands
    /// out its access token, refreshed when it is about to expire). Errors
    /// never contain it.
    pub fn credential(&self) -> anyhow::Result<Credential> {
        if let Some(login) = &self.oauth2 {
            return Ok(Credential::Token(oauth2::access_token(login, None)?));
        }
        let secret = self.password()?;
        Ok(match self.secret_kind {
            SecretKind::Password => Credential::Password(secret),
            SecretKind::OAuth2Token | SecretKind::OAuth2Login => Credential::Token(secret),
        })
    }

    /// The secret to try once more after the server refused `refused`: the
    /// token command's next answer, or the built-in login's refreshed token.
    pub fn credential_after_refusal(&self, refused: &Credential) -> anyhow::Result<Credential> {
        match (&self.oauth2, refused) {
            (Some(login), Credential::Token(token)) => {
                Ok(Credential::Token(oauth2::access_token(login, Some(token))?))
            }
            _ => self.credential(),
        }
    }

    /// The lock file beside the state database.
    pub fn lock_file(&self) -> PathBuf {
        let mut p = self.state_file.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }
}

/// What the config says for a missing client id: how to get one.
const MISSING_CLIENT_ID: &str =
    "imapdir has no client id of its own to lend (a borrowed one can be \
     withdrawn by its owner at any time), so register one, once: for Google at \
     console.cloud.google.com, APIs & Services, Credentials, Create credentials, OAuth client ID, \
     type \"Desktop app\" (set oauth2_client_id and oauth2_client_secret); for Microsoft at \
     entra.microsoft.com, App registrations, New registration, redirect URI \"Public client/native \
     (mobile & desktop)\" http://localhost (set oauth2_client_id). The README (OAuth2) has every \
     step. Then run imapdir auth ACCOUNT. Or keep a token helper: oauth2_token_command";

/// The `oauth2_*` keys of an account with `oauth2_client_id`.
struct RawOAuth2 {
    client_id: String,
    client_secret: Option<String>,
    client_secret_command: Option<String>,
    auth_url: Option<String>,
    token_url: Option<String>,
    device_url: Option<String>,
    scopes: Option<String>,
    redirect_port: Option<u16>,
    token_store: Option<String>,
}

/// The built-in OAuth2 login: the keys, else the provider preset's endpoints.
fn oauth2_login(
    account: &str,
    user: &str,
    state_file: &Path,
    preset: Option<providers::OAuth2Endpoints>,
    raw: RawOAuth2,
) -> Result<OAuth2Login, ConfigError> {
    if raw.client_id.trim().is_empty() {
        return Err(config_error(format!(
            "oauth2_client_id is empty: {MISSING_CLIENT_ID}"
        )));
    }
    let client_secret = match (raw.client_secret, raw.client_secret_command) {
        (Some(_), Some(_)) => {
            return Err(config_error(
                "set only one of oauth2_client_secret, oauth2_client_secret_command",
            ))
        }
        (Some(s), None) => ClientSecret::Literal(s),
        (None, Some(c)) => ClientSecret::Command(c),
        (None, None) => ClientSecret::None,
    };
    let or_preset = |value: Option<String>, pick: fn(&providers::OAuth2Endpoints) -> &str| {
        value.or_else(|| preset.as_ref().map(|p| pick(p).to_string()))
    };
    let token_url = or_preset(raw.token_url, |p| p.token).ok_or_else(|| {
        config_error("oauth2_token_url is not set, and no provider preset gives one")
    })?;
    let auth_url = or_preset(raw.auth_url, |p| p.authorization);
    let device_url = or_preset(raw.device_url, |p| p.device);
    for (key, url) in [
        ("oauth2_token_url", Some(&token_url)),
        ("oauth2_auth_url", auth_url.as_ref()),
        ("oauth2_device_url", device_url.as_ref()),
    ] {
        if let Some(url) = url {
            oauth2::http::check_url(key, url).map_err(config_error)?;
        }
    }
    let scopes = or_preset(raw.scopes, |p| p.scopes).ok_or_else(|| {
        config_error("oauth2_scopes is not set, and no provider preset gives them")
    })?;
    let choice = match raw.token_store.as_deref().unwrap_or("auto") {
        "auto" => StoreChoice::Auto,
        "keyring" => StoreChoice::Keyring,
        "file" => StoreChoice::File,
        other => {
            return Err(config_error(format!(
                "oauth2_token_store = {other:?} is not one of \"auto\", \"keyring\", \"file\""
            )))
        }
    };
    let dir = state_file.parent().unwrap_or(Path::new("."));
    Ok(OAuth2Login {
        account: account.to_string(),
        user: user.to_string(),
        client: oauth2::Client {
            client_id: raw.client_id,
            client_secret,
            auth_url,
            token_url,
            device_url,
            scopes,
            redirect_port: raw.redirect_port.unwrap_or(0),
        },
        store: TokenStore {
            choice,
            file: dir.join(format!("{account}.oauth2")),
            account: account.to_string(),
            user: user.to_string(),
        },
        relogin: format!("imapdir auth {}", shell_word(account)),
    })
}

/// A word as a shell reads it back: quoted when it holds anything but
/// letters, digits and `/._-@:+=,`.
fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-@:+=,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The outbox keys, checked, with the SMTP server from the preset where
/// the account does not name one.
fn outbox_settings(
    folder: Option<String>,
    sent_folder: Option<String>,
    (smtp_host, smtp_port, smtp_tls): (Option<String>, Option<u16>, Option<String>),
    provider: Option<&providers::Provider>,
    imap_host: &str,
    allow_plaintext: bool,
) -> Result<Option<OutboxSettings>, ConfigError> {
    let Some(folder) = folder else {
        if smtp_host.is_some() || smtp_port.is_some() || smtp_tls.is_some() || sent_folder.is_some()
        {
            return Err(config_error(
                "smtp_host, smtp_port, smtp_tls and sent_folder need outbox = \"FOLDER\"",
            ));
        }
        return Ok(None);
    };
    local_only_folder("outbox", &folder)?;
    let preset = provider.map(|p| p.smtp);
    let smtp_tls = match smtp_tls.as_deref() {
        Some("tls") => TlsMode::Tls,
        Some("starttls") => TlsMode::StartTls,
        Some("plain") => TlsMode::Plain,
        Some(other) => {
            return Err(config_error(format!(
                "smtp_tls = {other:?} is not one of \"tls\", \"starttls\", \"plain\""
            )))
        }
        // 465 is TLS from the first byte, anything else STARTTLS.
        None => match smtp_port.or(preset.map(|p| p.1)) {
            Some(465) | None => TlsMode::Tls,
            Some(_) => TlsMode::StartTls,
        },
    };
    if smtp_tls == TlsMode::Plain && !allow_plaintext {
        return Err(config_error(
            "smtp_tls = \"plain\" would send the password unencrypted; \
             set allow_plaintext = true to allow it",
        ));
    }
    let smtp_host = match (smtp_host, preset) {
        (Some(h), _) => h,
        (None, Some((h, _))) => h.to_string(),
        (None, None) if !imap_host.is_empty() => imap_host.to_string(),
        (None, None) => return Err(config_error("outbox: set smtp_host")),
    };
    let smtp_port = smtp_port
        .or(preset.map(|p| p.1))
        .unwrap_or(if smtp_tls == TlsMode::Tls { 465 } else { 587 });
    Ok(Some(OutboxSettings {
        folder,
        sent_folder,
        provider_files_sent: provider.is_some_and(|p| p.files_sent),
        smtp_host,
        smtp_port,
        smtp_tls,
    }))
}

/// The POP3 keys, checked: they mean something only for a POP3 account.
fn pop3_settings(
    protocol: Protocol,
    folder: Option<String>,
    leave_on_server: Option<bool>,
    delete_after_days: Option<u64>,
) -> Result<Pop3Settings, ConfigError> {
    if protocol != Protocol::Pop3
        && (folder.is_some() || leave_on_server.is_some() || delete_after_days.is_some())
    {
        return Err(config_error(
            "pop3_folder, leave_on_server and delete_after_days need protocol = \"pop3\"",
        ));
    }
    let leave_on_server = leave_on_server.unwrap_or(true);
    if !leave_on_server && delete_after_days.is_some() {
        return Err(config_error(
            "delete_after_days needs leave_on_server = true (with false, every message \
             is deleted from the server once it is stored here)",
        ));
    }
    let folder = folder.unwrap_or_else(|| "INBOX".to_string());
    if folder.is_empty()
        || folder
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
    {
        return Err(config_error(format!(
            "pop3_folder = {folder:?} is not a folder name (levels joined by '/', none empty, \
             '.' or '..')"
        )));
    }
    Ok(Pop3Settings {
        folder,
        leave_on_server,
        delete_after_days,
    })
}

/// Checks a local-only folder's name (`outbox`, `archive_folder`): not
/// INBOX, levels joined by `/`, none empty, `.` or `..`.
fn local_only_folder(key: &str, folder: &str) -> Result<(), ConfigError> {
    if folder.is_empty()
        || folder.eq_ignore_ascii_case("INBOX")
        || folder
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\0'))
    {
        return Err(config_error(format!(
            "{key} = {folder:?} is not a name for a local-only folder (not INBOX; levels \
             joined by '/', none empty, '.' or '..')"
        )));
    }
    Ok(())
}

/// `exclude_special_use`, else the preset's: attributes such as `\\All`.
fn exclude_special_use(
    configured: Option<Vec<String>>,
    preset: Option<&[&str]>,
) -> Result<Vec<String>, ConfigError> {
    let list = match configured {
        Some(list) => list,
        None => preset
            .unwrap_or_default()
            .iter()
            .map(|a| a.to_string())
            .collect(),
    };
    if let Some(bad) = list.iter().find(|a| {
        !a.starts_with('\\') || a.len() < 2 || !a[1..].bytes().all(|b| b.is_ascii_alphanumeric())
    }) {
        return Err(config_error(format!(
            "exclude_special_use: {bad:?} is not a special-use attribute such as \"\\\\All\""
        )));
    }
    Ok(list)
}

/// `layout`, and `flatten` for the flat one.
fn layout(layout: Option<&str>, flatten: Option<&str>) -> Result<Layout, ConfigError> {
    let chosen = match layout.unwrap_or("verbatim") {
        "verbatim" => Layout::Verbatim,
        "maildir++" => Layout::MaildirPlusPlus,
        "flat" => {
            let text = flatten.unwrap_or(".");
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c != '/' && !c.is_control() && c != '&' => Layout::Flat(c),
                _ => {
                    return Err(config_error(format!(
                    "flatten = {text:?} must be one character other than '/' and '&', e.g. \".\""
                )))
                }
            }
        }
        other => {
            return Err(config_error(format!(
                "layout = {other:?} is not one of \"verbatim\", \"maildir++\", \"flat\""
            )))
        }
    };
    if flatten.is_some() && !matches!(chosen, Layout::Flat(_)) {
        return Err(config_error("flatten is only for layout = \"flat\""));
    }
    Ok(chosen)
}

/// `namespaces` and the local levels of the namespaces it names.
fn namespace_choice(
    kinds: Option<&[String]>,
    shared_level: Option<String>,
    other_level: Option<String>,
) -> Result<NamespaceChoice, ConfigError> {
    let kinds = kinds.unwrap_or_default();
    for kind in kinds {
        if !matches!(kind.as_str(), "personal" | "shared" | "other") {
            return Err(config_error(format!(
                "namespaces: {kind:?} is not one of \"personal\", \"shared\", \"other\""
            )));
        }
    }
    if !kinds.is_empty() && !kinds.iter().any(|k| k == "personal") {
        return Err(config_error(
            "namespaces must include \"personal\": the account's own folders are always synced",
        ));
    }
    let level = |key: &str, value: Option<String>, default: &str, kind: &str| {
        let value = value.unwrap_or_else(|| default.to_string());
        if let Some(reason) = crate::folders::component_problem(&value, false) {
            return Err(config_error(format!(
                "{key} = {value:?}: the name {reason}"
            )));
        }
        if value.eq_ignore_ascii_case("INBOX") {
            return Err(config_error(format!("{key} = {value:?}: INBOX is taken")));
        }
        Ok(kinds.iter().any(|k| k == kind).then_some(value))
    };
    let shared = level("shared_folders_level", shared_level, "Shared", "shared")?;
    let other_users = level("other_users_level", other_level, "Users", "other")?;
    if shared.is_some() && shared == other_users {
        return Err(config_error(
            "shared_folders_level and other_users_level must differ",
        ));
    }
    Ok(NamespaceChoice {
        other_users,
        shared,
    })
}

/// `max_message_size`: bytes, or a number with K, M or G (powers of 1024).
fn parse_message_size(text: &str) -> Result<u64, ConfigError> {
    let t = text.trim();
    let (digits, scale) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let scale: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => 0,
            };
            (&t[..i], scale)
        }
        _ => (t, 1),
    };
    let n = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && scale > 0)
        .then(|| digits.parse::<u64>().ok())
        .flatten()
        .and_then(|n| n.checked_mul(scale));
    match n {
        Some(n) if n > 0 => Ok(n),
        _ => Err(config_error(format!(
            "max_message_size = {text:?} is not a size above 0 (bytes, or with K, M or G, \
             e.g. \"10M\")"
        ))),
    }
}

/// The window from its keys; `None` when no key limits it.
fn window(
    since: Option<&str>,
    max_messages: Option<i64>,
    keep_flagged: Option<bool>,
    keep_unread: Option<bool>,
) -> Result<Option<crate::model::Window>, ConfigError> {
    let since = since
        .map(crate::model::Since::parse)
        .transpose()
        .map_err(config_error)?;
    let max_messages = max_messages.map(max_messages_value).transpose()?;
    if since.is_none() && max_messages.is_none() {
        if let Some(key) = [("keep_flagged", keep_flagged), ("keep_unread", keep_unread)]
            .iter()
            .find_map(|(k, v)| v.is_some().then_some(*k))
        {
            return Err(config_error(format!(
                "{key} keeps messages in a window, which needs since or max_messages"
            )));
        }
        return Ok(None);
    }
    Ok(Some(crate::model::Window {
        since,
        max_messages,
        keep_flagged: keep_flagged.unwrap_or(false),
        keep_unread: keep_unread.unwrap_or(false),
    }))
}

/// `max_messages`, checked: at least 1, and a UID count.
fn max_messages_value(n: i64) -> Result<u32, ConfigError> {
    match u32::try_from(n) {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(config_error(format!(
            "max_messages = {n} must be at least 1 (leave it out to download every message)"
        ))),
    }
}

/// One `per_folder` table, checked; errors name the table (from 1).
fn folder_settings(index: usize, raw: RawFolderSettings) -> Result<FolderSettings, ConfigError> {
    let at = |e: ConfigError| config_error(format!("per_folder table {}: {}", index + 1, e.0));
    let patterns = match raw.folders {
        StringOrList::One(p) => vec![p],
        StringOrList::Many(list) => list,
    };
    if patterns.is_empty() {
        return Err(at(config_error("folders = [] names no folder")));
    }
    let patterns = FolderPatterns::parse(&patterns).map_err(|e| at(config_error(e)))?;
    let since = match raw.since.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(text) => Some(Some(
            crate::model::Since::parse(text).map_err(|e| at(config_error(e)))?,
        )),
    };
    let max_messages = raw
        .max_messages
        .map(max_messages_value)
        .transpose()
        .map_err(at)?;
    let max_message_size = match raw.max_message_size.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(text) => Some(Some(parse_message_size(text).map_err(at)?)),
    };
    if since.is_none()
        && max_messages.is_none()
        && max_message_size.is_none()
        && raw.keep_flagged.is_none()
        && raw.keep_unread.is_none()
    {
        return Err(at(config_error(
            "sets nothing: give since, max_messages, keep_flagged, keep_unread or max_message_size",
        )));
    }
    Ok(FolderSettings {
        patterns,
        since,
        max_messages,
        keep_flagged: raw.keep_flagged,
        keep_unread: raw.keep_unread,
        max_message_size,
    })
}

#[cfg(test)]
mod message_size_tests {
    use super::parse_message_size;

    #[test]
    fn sizes_parse_and_bad_ones_name_the_key() {
        assert_eq!(parse_message_size("10M").unwrap(), 10 << 20);
        assert_eq!(parse_message_size("512k").unwrap(), 512 << 10);
        assert_eq!(parse_message_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_message_size("4096").unwrap(), 4096);
        for bad in [
            "",
            "0",
            "0M",
            "M",
            "10MB",
            "ten",
            "-1",
            "1.5M",
            "99999999999999999999G",
        ] {
            let e = parse_message_size(bad).unwrap_err().0;
            assert!(
                e.contains("max_message_size") && e.contains(&format!("{bad:?}")),
                "{e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Environment {
        Environment {
            home: Some("/home/u".into()),
            xdg_config_home: None,
            xdg_state_home: None,
        }
    }

    const MINIMAL: &str = r#"
[accounts.personal]
host = "imap.example.org"
user = "me@example.org"
password_command = "pass show mail"
maildir = "~/Mail/personal"
"#;

    #[test]
    fn local_names_takes_two_spellings_and_defaults_to_keep() {
        let a = &Config::parse(MINIMAL, &env()).unwrap().accounts[0];
        assert_eq!(a.folder_rules.local_names, LocalNames::Keep);
        for (value, expected) in [
            ("utf-8", LocalNames::Utf8),
            ("modified-utf-7", LocalNames::ModifiedUtf7),
        ] {
            let text = format!("{MINIMAL}local_names = \"{value}\"\n");
            let c = Config::parse(&text, &env()).unwrap();
            assert_eq!(c.accounts[0].folder_rules.local_names, expected);
        }
        let err = Config::parse(&format!("{MINIMAL}local_names = \"utf7\"\n"), &env()).unwrap_err();
        assert!(err.to_string().contains("modified-utf-7"), "{err}");
    }

    #[test]
    fn archive_folder_is_local_only_and_needs_keep_local() {
        let keep = format!("{MINIMAL}server_deletions = \"keep-local\"\n");
        let a = &Config::parse(&format!("{keep}archive_folder = \"Kept/Gone\"\n"), &env())
            .unwrap()
            .accounts[0];
        assert_eq!(a.archive_folder.as_deref(), Some("Kept/Gone"));
        let patterns = &a.folder_rules.patterns;
        assert!(!patterns.decide("Kept/Gone").included);
        assert!(!patterns.decide("Kept/Gone/2024").included);
        assert!(patterns.decide("Kept").included);
        for bad in ["INBOX", "a//b", "../x"] {
            let err =
                Config::parse(&format!("{keep}archive_folder = {bad:?}\n"), &env()).unwrap_err();
            assert!(err.to_string().contains("archive_folder"), "{bad}: {err}");
        }
        let err =
            Config::parse(&format!("{MINIMAL}archive_folder = \"Kept\"\n"), &env()).unwrap_err();
        assert!(err.to_string().contains("keep-local"), "{err}");
    }

    #[test]
    fn durations_have_a_ceiling() {
        for (key, ok, too_long) in [
            ("timeout", MAX_TIMEOUT_SECS, MAX_TIMEOUT_SECS + 1),
            ("interval", MAX_INTERVAL_SECS, MAX_INTERVAL_SECS + 1),
        ] {
            let parse = |v: u64| Config::parse(&format!("{MINIMAL}{key} = {v}\n"), &env());
            assert!(parse(ok).is_ok(), "{key} = {ok}");
            for bad in [0, too_long] {
                let err = parse(bad).unwrap_err();
                assert!(
                    err.0.contains(key) && err.0.contains("between 1 and"),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn defaults_are_filled_in() {
        let c = Config::parse(MINIMAL, &env()).unwrap();
        let a = &c.accounts[0];
        assert_eq!(a.name, "personal");
        assert_eq!(a.port, 993);
        assert_eq!(a.tls, TlsMode::Tls);
        assert_eq!(a.maildir, PathBuf::from("/home/u/Mail/personal"));
        assert_eq!(
            a.state_file,
            PathBuf::from("/home/u/.local/state/imapdir/personal.sqlite")
        );
        assert_eq!(
            a.lock_file(),
            PathBuf::from("/home/u/.local/state/imapdir/personal.sqlite.lock")
        );
        assert_eq!(a.jobs_setting, None);
        assert_eq!(a.jobs(false), DEFAULT_JOBS);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(
            a.jobs(true),
            DEFAULT_JOBS.min(cores),
            "local server: one per core"
        );
        let set = Account {
            jobs_setting: Some(7),
            ..a.clone()
        };
        assert_eq!(
            (set.jobs(false), set.jobs(true)),
            (7, 7),
            "a set value holds"
        );
        assert_eq!(a.timeout, Duration::from_secs(60));
        assert_eq!(a.compress, CompressMode::Auto);
        assert_eq!(a.delete_limits, DeleteLimits::default());
        assert_eq!(a.interval, Duration::from_secs(900));
        assert_eq!(a.watch_folders, vec!["INBOX".to_string()]);
        assert_eq!(a.password, PasswordSource::Command("pass show mail".into()));
    }

    #[test]
    fn xdg_dirs_win_over_home() {
        let e = Environment {
            xdg_config_home: Some("/cfg".into()),
            xdg_state_home: Some("/st".into()),
            ..env()
        };
        assert_eq!(
            e.default_config_path().unwrap(),
            PathBuf::from("/cfg/imapdir/config.toml")
        );
        let c = Config::parse(MINIMAL, &e).unwrap();
        assert_eq!(
            c.accounts[0].state_file,
            PathBuf::from("/st/imapdir/personal.sqlite")
        );
    }

    #[test]
    fn starttls_and_plain_default_to_143() {
        let text = MINIMAL.replace("host =", "tls = \"starttls\"\nhost =");
        assert_eq!(Config::parse(&text, &env()).unwrap().accounts[0].port, 143);
        let text = MINIMAL.replace("host =", "tls = \"plain\"\nallow_plaintext = true\nhost =");
        let a = &Config::parse(&text, &env()).unwrap().accounts[0];
        assert_eq!((a.tls, a.port), (TlsMode::Plain, 143));
    }

    #[test]
    fn plaintext_needs_explicit_consent() {
        let text = MINIMAL.replace("host =", "tls = \"plain\"\nhost =");
        let err = Config::parse(&text, &env()).unwrap_err();
        assert!(err.0.contains("allow_plaintext"), "{err}");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let err =
            Config::parse(&MINIMAL.replace("user =", "usr =\"x\"\nuser ="), &env()).unwrap_err();
        assert!(err.0.contains("usr"), "{err}");
        let err =
            Config::parse(&MINIMAL.replace("host =", "tls = \"ssl\"\nhost ="), &env()).unwrap_err();
        assert!(err.0.contains("ssl"), "{err}");
        let err =
            Config::parse(&MINIMAL.replace("host =", "jobs = 0\nhost ="), &env()).unwrap_err();
        assert!(err.0.contains("jobs"), "{err}");
        let err = Config::parse(
            &MINIMAL.replace("host =", "max_delete_share = 1.5\nhost ="),
            &env(),
        )
        .unwrap_err();
        assert!(err.0.contains("max_delete_share"), "{err}");
        let limits = |keys: &str| {
            let text = MINIMAL.replace("host =", &format!("{keys}\nhost ="));
            Config::parse(&text, &env()).map(|c| c.accounts[0].delete_limits)
        };
        let both = limits("max_delete_share = 0.2").unwrap();
        assert_eq!((both.server_share, both.local_share), (0.2, 0.2));
        let sides = limits("max_delete_share = 0.2\nmax_local_delete_share = 1.0").unwrap();
        assert_eq!((sides.server_share, sides.local_share), (0.2, 1.0));
        let server = limits("max_server_delete_share = 0.3").unwrap();
        assert_eq!((server.server_share, server.local_share), (0.3, 0.9));
        let err = limits("max_local_delete_share = -1").unwrap_err();
        assert!(err.0.contains("max_local_delete_share"), "{err}");
        assert!(Config::parse("", &env())
            .unwrap_err()
            .0
            .contains("no accounts"));
    }

    #[test]
    fn exactly_one_password_source() {
        let two = MINIMAL.replace("maildir", "password_env = \"PW\"\nmaildir");
        assert!(Config::parse(&two, &env())
            .unwrap_err()
            .0
            .contains("only one"));
        let none = MINIMAL.replace("password_command = \"pass show mail\"\n", "");
        assert!(Config::parse(&none, &env())
            .unwrap_err()
            .0
            .contains("no password source"));
    }

    #[test]
    fn password_sources_read_first_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\nsecond line\n").unwrap();
        let text = MINIMAL.replace(
            "password_command = \"pass show mail\"",
            &format!("password_file = {:?}", file.display().to_string()),
        );
        let c = Config::parse(&text, &env()).unwrap();
        assert_eq!(c.accounts[0].password().unwrap(), "s3cret");

        let text = MINIMAL.replace("pass show mail", "printf 'abc\\\\ndef'");
        let c = Config::parse(&text, &env()).unwrap();
        assert_eq!(c.accounts[0].password().unwrap(), "abc");

        let text = MINIMAL.replace("pass show mail", "exit 3");
        let err = Config::parse(&text, &env()).unwrap().accounts[0]
            .password()
            .unwrap_err();
        assert!(err.0.contains("failed"), "{err}");
    }

    #[test]
    fn a_client_id_is_the_built_in_login_with_the_presets_endpoints() {
        let text = r#"
[accounts.work]
provider = "outlook"
user = "me@example.com"
oauth2_client_id = "cid"
maildir = "~/Mail/work"
"#;
        let a = &Config::parse(text, &env()).unwrap().accounts[0];
        assert_eq!(a.secret_kind, SecretKind::OAuth2Login);
        let login = a.oauth2.as_ref().unwrap();
        assert_eq!(
            login.client.token_url,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert!(login.client.scopes.contains("offline_access"));
        assert_eq!(login.client.client_secret, ClientSecret::None);
        assert_eq!(login.store.choice, StoreChoice::Auto);
        assert_eq!(
            login.store.file,
            PathBuf::from("/home/u/.local/state/imapdir/work.oauth2")
        );
        assert_eq!(login.relogin, "imapdir auth work");
        assert!(a.password().is_err(), "no password to read");

        let own = text.replace("provider = \"outlook\"\n", "host = \"imap.example.com\"\n");
        let err = Config::parse(&own, &env()).unwrap_err().0;
        assert!(err.contains("oauth2_token_url"), "{err}");
        let own = own.replace(
            "maildir",
            "oauth2_token_url = \"https://id.example.com/token\"\n\
             oauth2_scopes = \"imap\"\noauth2_token_store = \"file\"\n\
             oauth2_client_secret_command = \"pass x\"\nmaildir",
        );
        let a = &Config::parse(&own, &env()).unwrap().accounts[0];
        let login = a.oauth2.as_ref().unwrap();
        assert_eq!(login.client.auth_url, None);
        assert_eq!(login.store.choice, StoreChoice::File);
        assert_eq!(
            login.client.client_secret,
            ClientSecret::Command("pass x".into())
        );
    }

    #[test]
    fn oauth2_keys_are_checked() {
        let base = "[accounts.a]\nprovider = \"gmail\"\nuser = \"u\"\nmaildir = \"/m\"\n";
        let err = |extra: &str| {
            Config::parse(&format!("{base}{extra}"), &env())
                .unwrap_err()
                .0
        };
        assert!(err("oauth2_client_id = \"c\"\npassword_command = \"x\"\n").contains("only one"));
        assert!(err("oauth2_scopes = \"x\"\npassword_command = \"p\"\n")
            .contains("needs oauth2_client_id"));
        assert!(err("oauth2_client_id = \" \"\n").contains("console.cloud.google.com"));
        assert!(
            err("oauth2_client_id = \"c\"\noauth2_token_store = \"disk\"\n")
                .contains("oauth2_token_store")
        );
        assert!(
            err("oauth2_client_id = \"c\"\noauth2_token_url = \"http://id.example.com/t\"\n")
                .contains("plain http")
        );
        assert!(
            err("oauth2_client_id = \"c\"\noauth2_client_secret = \"s\"\n\
                     oauth2_client_secret_command = \"x\"\n")
            .contains("only one of oauth2_client_secret")
        );
        assert!(err("oauth2_client_id = \"c\"\nauth = \"plain\"\n").contains("OAuth2"));
        let outlook = base.replace("gmail", "outlook");
        let e = Config::parse(&outlook, &env()).unwrap_err().0;
        assert!(
            e.contains("no oauth2_client_id") && e.contains("App registrations"),
            "{e}"
        );
        // Gmail also takes an app password, so the usual message, naming both.
        let e = Config::parse(base, &env()).unwrap_err().0;
        assert!(
            e.contains("no password source") && e.contains("oauth2_client_id"),
            "{e}"
        );
    }

    #[test]
    fn the_command_to_log_in_again_names_a_config_given_on_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my config.toml");
        std::fs::write(
            &path,
            "[accounts.a]\nprovider = \"gmail\"\nuser = \"u\"\noauth2_client_id = \"c\"\n\
             maildir = \"/m\"\n",
        )
        .unwrap();
        let c = Config::load(&path, &env()).unwrap();
        assert_eq!(
            c.accounts[0].oauth2.as_ref().unwrap().relogin,
            format!("imapdir --config '{}' auth a", path.display())
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }

    #[test]
    fn select_names_accounts() {
        let text = format!("{MINIMAL}\n{}", MINIMAL.replace("personal]", "work]"));
        let c = Config::parse(&text, &env()).unwrap();
        assert_eq!(c.select(&[]).unwrap().len(), 2);
        assert_eq!(c.select(&["work".into()]).unwrap()[0].name, "work");
        assert!(c
            .select(&["nope".into()])
            .unwrap_err()
            .0
            .contains("known: personal, work"));
    }
}
