//! Coming from another sync tool: its config turned into imapdir's
//! (`imapdir import mbsync|offlineimap`), and the records it left behind
//! of which local file is which server message (`peer_records`), read so a
//! Maildir it wrote is adopted without copying anything twice.
//!
//! The parsers are pure: they turn the peer's config text into
//! [`ImportedAccount`]s plus the directives with no imapdir equivalent,
//! each with its line, so the user learns what changes instead of losing
//! it silently. Passwords are never copied: a config file is no place for
//! them, and imapdir's has none.

pub mod mbsyncrc;
pub mod offlineimaprc;
pub mod peer_records;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::{Config, ConfigError, Environment};
use crate::model::TlsMode;

/// A directive of the peer's config, with where it came from and why it
/// has no equivalent (or what the user should know about its mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmapped {
    /// 1-based line in the peer's config.
    pub line: usize,
    /// The directive as written, value included (a password is shown as `<hidden>`).
    pub directive: String,
    /// Why it is not mapped, and what to do instead.
    pub why: String,
}

impl Unmapped {
    pub fn new(line: usize, directive: impl Into<String>, why: impl Into<String>) -> Unmapped {
        Unmapped {
            line,
            directive: one_line(&directive.into()),
            why: one_line(&why.into()),
        }
    }
}

/// Where the imported account's password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    Command(String),
    File(String),
    /// The peer had none imapdir can use (a password in the config, a
    /// prompt, Python code): a command that fails with instructions is
    /// written, so the config is valid and the first run says what to do.
    Missing,
}

/// One imapdir account built from the peer's config.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedAccount {
    pub name: String,
    /// The line of the peer's section the account comes from.
    pub line: usize,
    pub host: String,
    pub port: Option<u16>,
    pub tls: TlsMode,
    pub ca_file: Option<String>,
    pub user: String,
    pub password: Password,
    pub maildir: String,
    pub jobs: Option<u16>,
    pub timeout: Option<u64>,
    pub compress: Option<&'static str>,
    pub pre_sync_command: Option<String>,
    pub post_sync_command: Option<String>,
    pub interval: Option<u64>,
    pub watch_folders: Option<Vec<String>>,
    /// The `folders` patterns; `None`: every folder.
    pub folders: Option<Vec<String>>,
    /// `"utf-8"` or `"modified-utf-7"`: how the peer spelt folder directories.
    pub local_names: Option<&'static str>,
    /// Directives of this account without an equivalent.
    pub unmapped: Vec<Unmapped>,
    /// Mapped directives whose mapping the user should know about.
    pub notes: Vec<Unmapped>,
}

impl ImportedAccount {
    /// An account with the given essentials and nothing else set.
    pub fn new(name: &str, line: usize, host: &str, user: &str, maildir: &str) -> ImportedAccount {
        ImportedAccount {
            name: name.to_string(),
            line,
            host: host.to_string(),
            port: None,
            tls: TlsMode::Tls,
            ca_file: None,
            user: user.to_string(),
            password: Password::Missing,
            maildir: maildir.to_string(),
            jobs: None,
            timeout: None,
            compress: None,
            pre_sync_command: None,
            post_sync_command: None,
            interval: None,
            watch_folders: None,
            folders: None,
            local_names: None,
            unmapped: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// What a peer's config turned into.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub accounts: Vec<ImportedAccount>,
    /// Directives that belong to no account (globals, groups), and
    /// sections that could not become an account, with the reason.
    pub unmapped: Vec<Unmapped>,
}

/// Which tool's config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Mbsync,
    OfflineImap,
}

impl Source {
    fn command(self) -> &'static str {
        match self {
            Source::Mbsync => "mbsync",
            Source::OfflineImap => "offlineimap",
        }
    }

    /// The config files the tool itself reads, first match wins.
    pub fn default_files(self, env: &Environment) -> Vec<PathBuf> {
        let xdg = env
            .xdg_config_home
            .clone()
            .or_else(|| env.home.as_ref().map(|h| h.join(".config")));
        let mut files = Vec::new();
        match self {
            Source::Mbsync => {
                files.extend(env.home.as_ref().map(|h| h.join(".mbsyncrc")));
                files.extend(xdg.map(|x| x.join("isyncrc")));
            }
            Source::OfflineImap => {
                files.extend(env.home.as_ref().map(|h| h.join(".offlineimaprc")));
                files.extend(xdg.map(|x| x.join("offlineimap/config")));
            }
        }
        files
    }
}

/// Reads and parses the peer's config: `file`, else the first of the
/// tool's default files that exists.
pub fn read(
    source: Source,
    file: Option<&Path>,
    env: &Environment,
) -> Result<(PathBuf, Imported), ConfigError> {
    let path = match file {
        Some(f) => f.to_path_buf(),
        None => {
            let candidates = source.default_files(env);
            match candidates.iter().find(|p| p.exists()) {
                Some(p) => p.clone(),
                None => {
                    let tried: Vec<String> =
                        candidates.iter().map(|p| p.display().to_string()).collect();
                    return Err(ConfigError(format!(
                        "no {} config found (looked for {}); pass the file: imapdir import {} FILE",
                        source.command(),
                        if tried.is_empty() {
                            "nothing: HOME is not set".to_string()
                        } else {
                            tried.join(" and ")
                        },
                        source.command()
                    )));
                }
            }
        }
    };
    let text = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ConfigError(format!("no such file: {}", path.display()))
        } else {
            ConfigError(format!("cannot read {}: {e}", path.display()))
        }
    })?;
    let text = String::from_utf8_lossy(&text);
    let context = Context {
        home: env.home.clone(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let imported = match source {
        Source::Mbsync => mbsyncrc::parse(&text, &context),
        Source::OfflineImap => offlineimaprc::parse(&text, &context),
    }
    .map_err(|e| ConfigError(format!("{}:{}", path.display(), e)))?;
    if imported.accounts.is_empty() {
        let mut msg = format!("{} defines no account imapdir can use", path.display());
        for u in &imported.unmapped {
            msg.push_str(&format!(
                "\n  {}:{}: {}: {}",
                path.display(),
                u.line,
                u.directive,
                u.why
            ));
        }
        return Err(ConfigError(msg));
    }
    Ok((path, imported))
}

/// What the parsers need from the environment, so they stay pure.
#[derive(Debug, Clone)]
pub struct Context {
    pub home: Option<PathBuf>,
    /// Relative local paths in the peer's config are relative to this.
    pub cwd: PathBuf,
}

impl Context {
    /// A local path from the peer's config as imapdir's config should
    /// hold it: `~` stays (imapdir expands it the same way), a relative
    /// path becomes absolute, trailing slashes go.
    pub fn local_path(&self, path: &str) -> String {
        let path = if path == "~" || path.starts_with("~/") || path.starts_with('/') {
            path.to_string()
        } else {
            self.cwd.join(path).to_string_lossy().into_owned()
        };
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            "/".to_string()
        } else {
            trimmed.to_string()
        }
    }

    /// `path` with `~` expanded, for comparing two spellings of a place.
    pub fn expanded(&self, path: &str) -> PathBuf {
        let path = self.local_path(path);
        match (&self.home, path.strip_prefix('~')) {
            (Some(home), Some(rest)) => home.join(rest.trim_start_matches('/')),
            _ => PathBuf::from(path),
        }
    }
}

/// Whether `host` names this machine without asking DNS.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An account name imapdir accepts: no `/`, `\`, NUL, no leading dot.
pub fn account_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | '\0') || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let name = name.trim().trim_start_matches('.').to_string();
    if name.is_empty() {
        "imported".to_string()
    } else {
        name
    }
}

/// Names made unique in order: a second `x` becomes `x-2`.
pub fn dedupe_names(accounts: &mut [ImportedAccount]) {
    let mut seen = BTreeSet::new();
    for account in accounts {
        let mut name = account.name.clone();
        let mut n = 2;
        while !seen.insert(name.clone()) {
            name = format!("{}-{n}", account.name);
            n += 1;
        }
        account.name = name;
    }
}

/// `s` on one line, fit for a TOML comment: runs of whitespace become one
/// space, and other control characters (which TOML forbids in comments)
/// are written as `\u{..}` escapes.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            if c.is_control() {
                out.extend(c.escape_unicode());
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// One `[accounts.NAME]` table as written; field order is the output's.
#[derive(Serialize)]
struct Table<'a> {
    host: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    tls: &'static str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_plaintext: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<&'a str>,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_file: Option<&'a str>,
    maildir: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    local_names: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jobs: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compress: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pre_sync_command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    post_sync_command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    interval: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    watch_folders: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    folders: Option<&'a [String]>,
}

/// The command written for [`Password::Missing`]: it fails, saying what to set.
pub fn missing_password_command(account: &str) -> String {
    let msg = format!(
        "imapdir: account {account} has no password source yet: set password_command, \
         password_env or password_file in the config"
    );
    format!("echo '{}' >&2; exit 1", msg.replace('\'', r"'\''"))
}

fn render_account(a: &ImportedAccount) -> String {
    let table = Table {
        host: &a.host,
        port: a.port,
        tls: match a.tls {
            TlsMode::Tls => "tls",
            TlsMode::StartTls => "starttls",
            TlsMode::Plain => "plain",
        },
        allow_plaintext: a.tls == TlsMode::Plain,
        ca_file: a.ca_file.as_deref(),
        user: &a.user,
        password_command: match &a.password {
            Password::Command(c) => Some(c.clone()),
            Password::Missing => Some(missing_password_command(&a.name)),
            Password::File(_) => None,
        },
        password_file: match &a.password {
            Password::File(f) => Some(f.as_str()),
            _ => None,
        },
        maildir: &a.maildir,
        local_names: a.local_names,
        jobs: a.jobs,
        timeout: a.timeout,
        compress: a.compress,
        pre_sync_command: a.pre_sync_command.as_deref(),
        post_sync_command: a.post_sync_command.as_deref(),
        interval: a.interval,
        watch_folders: a.watch_folders.as_deref(),
        folders: a.folders.as_deref(),
    };
    let doc = BTreeMap::from([("accounts", BTreeMap::from([(a.name.as_str(), table)]))]);
    toml::to_string(&doc).expect("an account table always serialises")
}

fn comment(kind: &str, u: &Unmapped) -> String {
    format!("# {kind} (line {}): {} — {}\n", u.line, u.directive, u.why)
}

/// The imapdir config for `imported`: a header naming the source, the
/// directives of no account, then each account with its own above it.
pub fn render(imported: &Imported, source: Source, file: &Path) -> String {
    let mut out = format!(
        "# Imported from {} by `imapdir import {}`.\n",
        one_line(&file.display().to_string()),
        source.command()
    );
    for u in &imported.unmapped {
        out.push_str(&comment("not mapped", u));
    }
    for a in &imported.accounts {
        out.push('\n');
        for u in &a.notes {
            out.push_str(&comment("note", u));
        }
        for u in &a.unmapped {
            out.push_str(&comment("not mapped", u));
        }
        out.push_str(&render_account(a));
    }
    out
}

/// The lines for stderr: every unmapped directive and note once, in line order.
pub fn diagnostics(imported: &Imported, file: &Path) -> Vec<String> {
    let mut lines: Vec<(usize, String)> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |kind: &str, u: &Unmapped| {
        let line = format!(
            "{}:{}: {}: {kind}: {}",
            file.display(),
            u.line,
            u.directive,
            u.why
        );
        if seen.insert(line.clone()) {
            lines.push((u.line, line));
        }
    };
    for u in &imported.unmapped {
        add("not mapped", u);
    }
    for a in &imported.accounts {
        for u in &a.notes {
            add("note", u);
        }
        for u in &a.unmapped {
            add("not mapped", u);
        }
    }
    lines.sort_by_key(|(line, _)| *line);
    lines.into_iter().map(|(_, l)| l).collect()
}

/// Appends `text` (the accounts `names`) to imapdir's config at `path`,
/// creating it and its directory when missing. Refuses, changing
/// nothing, when the file already has one of the names or is not TOML.
pub fn append_to_config(path: &Path, text: &str, names: &[String]) -> Result<(), ConfigError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(s) => Some(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ConfigError(format!("cannot read {}: {e}", path.display()))),
    };
    if let Some(existing) = &existing {
        let table: toml::Table = toml::from_str(existing).map_err(|e| {
            ConfigError(format!(
                "cannot add to {}: it is not valid TOML ({}); fix it first",
                path.display(),
                one_line(&e.to_string())
            ))
        })?;
        let present: BTreeSet<&str> = table
            .get("accounts")
            .and_then(|a| a.as_table())
            .map(|a| a.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let clashes: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| present.contains(n))
            .collect();
        if !clashes.is_empty() {
            return Err(ConfigError(format!(
                "{} already has {} {}; nothing was written (remove or rename {} there, \
                 or run without --write and add the accounts by hand)",
                path.display(),
                if clashes.len() == 1 {
                    "an account named"
                } else {
                    "accounts named"
                },
                clashes.join(", "),
                if clashes.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ConfigError(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut chunk = String::new();
    if let Some(existing) = existing.as_deref().filter(|s| !s.is_empty()) {
        if !existing.ends_with('\n') {
            chunk.push('\n');
        }
        chunk.push('\n');
    }
    chunk.push_str(text);
    // Appending (not replacing) keeps a symlinked config a symlink, and
    // one write keeps the addition whole.
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ConfigError(format!("cannot open {}: {e}", path.display())))?;
    file.write_all(chunk.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| ConfigError(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

/// Checks that `text` is a config imapdir accepts.
pub fn validate(text: &str, env: &Environment) -> Result<(), ConfigError> {
    Config::parse(text, env)
        .map(|_| ())
        .map_err(|e| ConfigError(format!("the imported config is not valid: {e}")))
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

    fn sample() -> Imported {
        let mut a = ImportedAccount::new("work \"x\"", 3, "imap.example.org", "me", "~/Mail");
        a.password = Password::Command("pass show \"mail\" | head -1".into());
        a.local_names = Some("modified-utf-7");
        a.watch_folders = Some(vec!["INBOX".into(), "Ünï \\ \"q\"".into()]);
        a.unmapped
            .push(Unmapped::new(7, "Expunge Both", "imapdir does not expunge"));
        let mut b = ImportedAccount::new("plain", 9, "127.0.0.1", "u", "/m");
        b.tls = TlsMode::Plain;
        b.port = Some(1143);
        let mut c = ImportedAccount::new("nopass", 12, "h", "u's", "/n");
        c.password = Password::Missing;
        Imported {
            accounts: vec![a, b, c],
            unmapped: vec![Unmapped::new(
                1,
                "FSync no",
                "imapdir always makes writes durable",
            )],
        }
    }

    #[test]
    fn control_characters_in_a_directive_stay_out_of_the_comments() {
        // Found by fuzzing: a NUL or DEL in an unmapped line made the
        // rendered config invalid TOML.
        let mut imported = sample();
        imported.unmapped.push(Unmapped::new(
            4,
            "Maildir\0Store x\x7f\u{85}",
            "not\x1b mapped",
        ));
        let text = render(
            &imported,
            Source::Mbsync,
            Path::new("/home/u/.mbsyncrc\x01"),
        );
        text.parse::<toml::Table>()
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(text.contains("Maildir\\u{0}Store x\\u{7f}"), "{text}");
        assert!(text.contains("not\\u{1b} mapped"), "{text}");
        validate(&text, &env()).unwrap();
    }

    #[test]
    fn rendered_config_parses_with_imapdirs_own_parser() {
        let text = render(&sample(), Source::Mbsync, Path::new("/home/u/.mbsyncrc"));
        let config = Config::parse(&text, &env()).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["nopass", "plain", "work \"x\""]);
        let work = config
            .accounts
            .iter()
            .find(|a| a.name.starts_with("work"))
            .unwrap();
        assert_eq!(
            work.password,
            crate::config::PasswordSource::Command("pass show \"mail\" | head -1".into())
        );
        assert_eq!(work.watch_folders[1], "Ünï \\ \"q\"");
        assert_eq!(
            work.folder_rules.local_names,
            crate::model::LocalNames::ModifiedUtf7
        );
        let plain = config.accounts.iter().find(|a| a.name == "plain").unwrap();
        assert_eq!((plain.tls, plain.port), (TlsMode::Plain, 1143));
        assert!(text.contains(
            "# not mapped (line 7): Expunge Both — imapdir does not expunge\n[accounts."
        ));
        assert!(text.contains("# not mapped (line 1): FSync no"));
    }

    #[test]
    fn a_missing_password_fails_with_instructions() {
        let cmd = missing_password_command("u's");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("account u's has no password source"), "{err}");
    }

    #[test]
    fn diagnostics_are_in_line_order_and_once() {
        let mut imported = sample();
        let dup = imported.accounts[0].unmapped[0].clone();
        imported.accounts[1].unmapped.push(dup);
        let lines = diagnostics(&imported, Path::new("rc"));
        assert_eq!(
            lines,
            [
                "rc:1: FSync no: not mapped: imapdir always makes writes durable",
                "rc:7: Expunge Both: not mapped: imapdir does not expunge",
            ]
        );
    }

    #[test]
    fn append_creates_refuses_duplicates_and_keeps_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let imported = sample();
        let text = render(&imported, Source::Mbsync, Path::new("rc"));
        let names: Vec<String> = imported.accounts.iter().map(|a| a.name.clone()).collect();
        append_to_config(&path, &text, &names).unwrap();
        let first = std::fs::read_to_string(&path).unwrap();
        assert_eq!(first, text);
        let err = append_to_config(&path, &text, &names).unwrap_err();
        assert!(err.0.contains("already has accounts named"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), first);

        let other = path.with_file_name("other.toml");
        std::fs::write(&other, "[accounts.old]\nhost = \"h\"").unwrap();
        append_to_config(&other, &text, &names).unwrap();
        let both = std::fs::read_to_string(&other).unwrap();
        assert!(
            both.starts_with("[accounts.old]\nhost = \"h\"\n\n# Imported"),
            "{both}"
        );
        let table: toml::Table = toml::from_str(&both).unwrap();
        assert_eq!(table["accounts"].as_table().unwrap().len(), 4);
    }

    #[test]
    fn names_and_paths_are_cleaned() {
        assert_eq!(account_name("../a/b"), "-a-b");
        assert_eq!(account_name("..."), "imported");
        let mut accounts = vec![
            ImportedAccount::new("x", 1, "h", "u", "/m"),
            ImportedAccount::new("x", 2, "h", "u", "/m"),
        ];
        dedupe_names(&mut accounts);
        assert_eq!(accounts[1].name, "x-2");
        let ctx = Context {
            home: Some("/home/u".into()),
            cwd: "/work".into(),
        };
        assert_eq!(ctx.local_path("~/Mail/"), "~/Mail");
        assert_eq!(ctx.local_path("Mail"), "/work/Mail");
        assert_eq!(
            ctx.expanded("~/Mail/INBOX/"),
            PathBuf::from("/home/u/Mail/INBOX")
        );
        assert!(is_loopback_name("127.0.0.1") && is_loopback_name("[::1]"));
        assert!(is_loopback_name("LocalHost") && !is_loopback_name("example.org"));
    }
}
