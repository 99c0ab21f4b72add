//! OfflineIMAP's config (`~/.offlineimaprc`) read as imapdir accounts.
//!
//! OfflineIMAP names its accounts in `[general] accounts`; each pairs a
//! local Maildir repository with a remote IMAP (or Gmail) one, which maps
//! one to one onto an imapdir account. The file is read as Python's
//! configparser reads it (OfflineIMAP uses that): `[section]`s, `key = value`
//! or `key: value`, whole-line `#`/`;` comments, indented continuation
//! lines, case-insensitive keys, `[DEFAULT]` values and `%(key)s`
//! interpolation. Settings that are Python code (`*eval`, `folderfilter`,
//! `nametrans`) cannot be mapped and are reported with their line.

use super::{
    account_name, dedupe_names, is_loopback_name, Context, Imported, ImportedAccount, Password,
    Unmapped,
};
use crate::imap::TlsMode;

#[derive(Debug, Clone)]
struct Entry {
    line: usize,
    key: String,
    raw: String,
}

#[derive(Debug, Clone)]
struct Section {
    name: String,
    line: usize,
    entries: Vec<Entry>,
}

#[derive(Debug, Default)]
struct Ini {
    defaults: Vec<Entry>,
    sections: Vec<Section>,
}

fn parse_ini(text: &str) -> Result<Ini, String> {
    let mut ini = Ini::default();
    // Where new entries go: None for [DEFAULT]; Some(i) for sections[i].
    let mut current: Option<Option<usize>> = None;
    // The entry continuation lines extend, with its key line's indent.
    let mut last: Option<usize> = None;
    let mut last_indent = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let (Some(target), Some(idx)) = (current, last) {
            if indent > last_indent {
                let entries = match target {
                    None => &mut ini.defaults,
                    Some(s) => &mut ini.sections[s].entries,
                };
                let entry = &mut entries[idx];
                entry.raw.push('\n');
                entry.raw.push_str(trimmed);
                continue;
            }
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') && trimmed.len() > 2 {
            let name = trimmed[1..trimmed.len() - 1].to_string();
            last = None;
            if name == "DEFAULT" {
                current = Some(None);
                continue;
            }
            if ini.sections.iter().any(|s| s.name == name) {
                return Err(format!("{line}: section [{name}] is defined twice"));
            }
            ini.sections.push(Section {
                name,
                line,
                entries: Vec::new(),
            });
            current = Some(Some(ini.sections.len() - 1));
            continue;
        }
        let Some(target) = current else {
            return Err(format!("{line}: {trimmed:?} comes before any [section]"));
        };
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(format!(
                "{line}: {trimmed:?} is neither a [section], a key = value line nor a comment"
            ));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(format!("{line}: a value without a key"));
        }
        let value = trimmed[at + 1..].trim().to_string();
        let entries = match target {
            None => &mut ini.defaults,
            Some(s) => &mut ini.sections[s].entries,
        };
        if entries.iter().any(|e| e.key == key) {
            return Err(format!("{line}: {key} is set twice in this section"));
        }
        entries.push(Entry {
            line,
            key,
            raw: value,
        });
        last = Some(entries.len() - 1);
        last_indent = indent;
    }
    Ok(ini)
}

/// A looked-up setting: where it is and its value after interpolation
/// (`Err` with the reason when `%(...)s` could not be resolved).
#[derive(Debug, Clone)]
struct Value {
    line: usize,
    key: String,
    value: Result<String, String>,
}

impl Value {
    fn shown(&self) -> String {
        let hidden = self.key == "remotepass";
        match (&self.value, hidden) {
            (_, true) => format!("{} = <hidden>", self.key),
            (Ok(v), _) => format!("{} = {v}", self.key),
            (Err(_), _) => self.key.clone(),
        }
    }

    fn unmapped(&self, why: impl Into<String>) -> Unmapped {
        Unmapped::new(self.line, self.shown(), why)
    }

    fn text(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// configparser's booleans.
    fn boolean(&self) -> Option<bool> {
        match self.text().to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Some(true),
            "0" | "no" | "false" | "off" => Some(false),
            _ => None,
        }
    }
}

impl Ini {
    fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn raw<'a>(&'a self, section: &'a Section, key: &str) -> Option<&'a Entry> {
        section
            .entries
            .iter()
            .find(|e| e.key == key)
            .or_else(|| self.defaults.iter().find(|e| e.key == key))
    }

    fn get(&self, section: &Section, key: &str) -> Option<Value> {
        let entry = self.raw(section, key)?;
        Some(Value {
            line: entry.line,
            key: entry.key.clone(),
            value: self.interpolate(section, &entry.raw, 0),
        })
    }

    /// Python's BasicInterpolation: `%(key)s` from the section or
    /// `[DEFAULT]`, `%%` for `%`.
    fn interpolate(&self, section: &Section, raw: &str, depth: usize) -> Result<String, String> {
        if depth > 10 {
            return Err("interpolation nested too deeply".into());
        }
        let mut out = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
            } else if let Some(r) = after.strip_prefix('(') {
                let close = r
                    .find(")s")
                    .ok_or_else(|| format!("bad interpolation in {raw:?}"))?;
                let name = r[..close].to_ascii_lowercase();
                let entry = self
                    .raw(section, &name)
                    .ok_or_else(|| format!("%({name})s names no setting"))?;
                out.push_str(&self.interpolate(section, &entry.raw, depth + 1)?);
                rest = &r[close + 2..];
            } else {
                return Err(format!("'%' must be followed by '%' or '(' in {raw:?}"));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `['INBOX', "Sent"]`, Python's list of strings, as OfflineIMAP's
/// `idlefolders` takes it.
fn python_list(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let q = s.chars().next()?;
            if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
                let body = &s[1..s.len() - 1];
                (!body.contains(['\\', q])).then(|| body.to_string())
            } else {
                None
            }
        })
        .collect()
}

const PYTHON: &str = "Python code imapdir cannot run";

/// Keys of an `[Account]` section and what becomes of them.
fn account_keys(ini: &Ini, section: &Section, account: &mut ImportedAccount) {
    for entry in &section.entries {
        let Some(v) = ini.get(section, &entry.key) else {
            continue;
        };
        if let Err(e) = &v.value {
            account
                .unmapped
                .push(v.unmapped(format!("cannot read its value: {e}")));
            continue;
        }
        match v.key.as_str() {
            "localrepository" | "remoterepository" => {}
            "autorefresh" => match v.text().parse::<f64>() {
                Ok(m) if m > 0.0 => {
                    let secs = (m * 60.0).round().max(1.0) as u64;
                    account.interval = Some(secs);
                    account.notes.push(v.unmapped(format!(
                        "mapped to interval = {secs} (seconds): the time between full syncs of \
                         imapdir watch, which also syncs within seconds of a change"
                    )));
                }
                Ok(_) => {}
                Err(_) => account.unmapped.push(v.unmapped("not a number of minutes")),
            },
            "presynchook" => account.pre_sync_command = Some(v.text().to_string()),
            "postsynchook" => account.post_sync_command = Some(v.text().to_string()),
            "quick" => account.unmapped.push(v.unmapped(
                "every imapdir sync is quick where nothing changed: an unchanged folder costs \
                 one round trip and two stats",
            )),
            "maxage" | "startdate" | "maxsize" => account
                .unmapped
                .push(v.unmapped("imapdir syncs every message, whatever its age or size")),
            "synclabels" | "labelsheader" | "ignorelabels" => {
                if v.key != "synclabels" || v.boolean() == Some(true) {
                    account.unmapped.push(v.unmapped(
                        "imapdir does not write Gmail labels into headers: each label is a folder",
                    ));
                }
            }
            "status_backend" => {
                if !v.text().eq_ignore_ascii_case("sqlite") {
                    account.unmapped.push(v.unmapped(
                        "imapdir reads only OfflineIMAP's sqlite status: the first sync pairs \
                         these folders by the UIDs in the file names and by content",
                    ));
                }
            }
            "utf8foldernames" => {
                account.local_names = Some(if v.boolean() == Some(true) {
                    "utf-8"
                } else {
                    "modified-utf-7"
                });
            }
            "newmail_hook" => account.unmapped.push(v.unmapped(
                "use post_sync_command; it gets the count of new messages in IMAPDIR_NEW",
            )),
            "proxy" => account
                .unmapped
                .push(v.unmapped("imapdir connects directly; it has no proxy setting")),
            _ => account
                .unmapped
                .push(v.unmapped("not an account setting imapdir knows from OfflineIMAP")),
        }
    }
}

fn local_keys(ini: &Ini, section: &Section, account: &mut ImportedAccount) {
    let mut sep_seen = false;
    for entry in &section.entries {
        let Some(v) = ini.get(section, &entry.key) else {
            continue;
        };
        match v.key.as_str() {
            "type" | "localfolders" => {}
            "sep" => {
                sep_seen = true;
                if v.text() != "/" {
                    account.unmapped.push(v.unmapped(sep_why(v.text())));
                }
            }
            "folderfilter" | "nametrans" | "foldersort" => account.unmapped.push(v.unmapped(
                format!("{PYTHON}; imapdir syncs every folder under its own name"),
            )),
            "readonly" => {
                if v.boolean() == Some(true) {
                    account.unmapped.push(v.unmapped(
                        "imapdir syncs both ways; imapdir sync --pull never changes the server",
                    ));
                }
            }
            "createfolders" => {
                if v.boolean() == Some(false) {
                    account
                        .unmapped
                        .push(v.unmapped("imapdir creates a folder missing on either side"));
                }
            }
            "sync_deletes" => {
                if v.boolean() == Some(false) {
                    account.unmapped.push(v.unmapped(
                        "imapdir deletes on the server a message whose file was deleted",
                    ));
                }
            }
            "restoreatime" | "filename_use_mail_timestamp" | "utime_from_header" => account
                .unmapped
                .push(v.unmapped("imapdir sets no file times from the messages")),
            _ => account
                .unmapped
                .push(v.unmapped("not a Maildir repository setting imapdir maps")),
        }
    }
    if !sep_seen {
        account.unmapped.push(Unmapped::new(
            section.line,
            format!("[{}] (sep = . by default)", section.name),
            sep_why("."),
        ));
    }
}

fn sep_why(sep: &str) -> String {
    format!(
        "OfflineIMAP keeps a folder Archive/2023 in the directory Archive{sep}2023; imapdir nests \
         it as Archive/2023: rename such directories first (and set sep = / for OfflineIMAP), \
         or those folders are downloaded again"
    )
}

/// The remote repository's keys; `Err` when the account cannot be made.
fn remote_keys(
    ini: &Ini,
    section: &Section,
    gmail: bool,
    account: &mut ImportedAccount,
    ctx: &Context,
) -> Result<(), String> {
    let get = |k: &str| ini.get(section, k).filter(|v| v.value.is_ok());
    let host = get("remotehost").map(|v| v.text().to_string());
    account.host = match host {
        Some(h) if !h.is_empty() => h,
        _ if gmail => "imap.gmail.com".to_string(),
        _ => {
            return Err(if get("remotehosteval").is_some() {
                "remotehosteval is Python code: set remotehost".into()
            } else {
                "no remotehost".into()
            })
        }
    };
    account.user = match get("remoteuser").map(|v| v.text().to_string()) {
        Some(u) if !u.is_empty() => u,
        _ => {
            return Err(
                "no remoteuser (OfflineIMAP may take it from ~/.netrc; imapdir needs it set)"
                    .into(),
            )
        }
    };
    let ssl = get("ssl").and_then(|v| v.boolean()).unwrap_or(true);
    let starttls = get("starttls").and_then(|v| v.boolean()).unwrap_or(true);
    account.tls = match (ssl, starttls) {
        (true, _) => TlsMode::Tls,
        (false, true) => TlsMode::StartTls,
        (false, false) => TlsMode::Plain,
    };
    let mut password = None;
    for entry in &section.entries {
        let Some(v) = ini.get(section, &entry.key) else {
            continue;
        };
        if let Err(e) = &v.value {
            account
                .unmapped
                .push(v.unmapped(format!("cannot read its value: {e}")));
            continue;
        }
        match v.key.as_str() {
            "type" | "remotehost" | "remoteuser" => {}
            "remoteport" => match v.text().parse::<u16>() {
                Ok(p) if p > 0 => account.port = Some(p),
                _ => account
                    .unmapped
                    .push(v.unmapped("not a port number; the default port is used")),
            },
            "ssl" => {}
            "starttls" => {
                if !ssl && starttls {
                    account.notes.push(v.unmapped(
                        "mapped to tls = \"starttls\": imapdir requires STARTTLS, where \
                         OfflineIMAP used it only when the server offered it",
                    ));
                }
            }
            "remotepass" => account.unmapped.push(v.unmapped(
                "passwords are not copied into imapdir's config: put it in a file only you can \
                 read and set password_file, or set password_command",
            )),
            "remotepassfile" => password = Some(Password::File(ctx.local_path(v.text()))),
            "remotepasseval" | "remotehosteval" | "remoteusereval" | "remoteporteval" => {
                account.unmapped.push(v.unmapped(format!(
                    "{PYTHON}: set the value itself{}",
                    if v.key == "remotepasseval" {
                        " (password_command runs a shell command, e.g. \"pass show mail\")"
                    } else {
                        ""
                    }
                )))
            }
            "sslcacertfile" => {
                if v.text() != "OS-DEFAULT" {
                    account.ca_file = Some(ctx.local_path(v.text()));
                }
            }
            "cert_fingerprint" => account.unmapped.push(v.unmapped(
                "imapdir verifies certificates against the system's roots and ca_file: for a \
                 self-signed server, save its certificate as PEM and set ca_file",
            )),
            "sslclientcert" | "sslclientkey" => account
                .unmapped
                .push(v.unmapped("imapdir does not log in with client certificates")),
            "tls_level" | "ssl_version" => account
                .unmapped
                .push(v.unmapped("imapdir uses OpenSSL's defaults for TLS versions")),
            "maxconnections" => match v.text().parse::<u16>() {
                Ok(n) if (1..=64).contains(&n) => account.jobs = Some(n),
                Ok(n) if n > 64 => {
                    account.jobs = Some(64);
                    account
                        .notes
                        .push(v.unmapped("mapped to jobs = 64, imapdir's largest"));
                }
                _ => account
                    .unmapped
                    .push(v.unmapped("not a number of connections from 1 to 64")),
            },
            "holdconnectionopen" | "keepalive" => account.unmapped.push(v.unmapped(
                "imapdir watch keeps IDLE connections open (watch_folders); sync opens its own",
            )),
            "idlefolders" => match python_list(v.text()) {
                Some(folders) if folders.iter().all(|f| !f.is_empty()) => {
                    account.watch_folders = Some(folders)
                }
                _ => account.unmapped.push(v.unmapped(
                    "not a plain list of folder names like ['INBOX', 'Sent']; set watch_folders",
                )),
            },
            "expunge" => {
                if v.boolean() == Some(false) {
                    account.unmapped.push(v.unmapped(
                        "imapdir removes from the server exactly the messages whose files were \
                         deleted",
                    ));
                }
            }
            "subscribedonly" => {
                if v.boolean() == Some(true) {
                    account
                        .unmapped
                        .push(v.unmapped("imapdir syncs every folder, subscribed or not"));
                }
            }
            "folderfilter" | "nametrans" | "foldersort" | "folderincludes" => {
                account.unmapped.push(v.unmapped(format!(
                    "{PYTHON}; imapdir syncs every folder under its own name"
                )))
            }
            "readonly" => {
                if v.boolean() == Some(true) {
                    account.unmapped.push(v.unmapped(
                        "imapdir syncs both ways; imapdir sync --pull never changes the server",
                    ));
                }
            }
            "createfolders" => {
                if v.boolean() == Some(false) {
                    account
                        .unmapped
                        .push(v.unmapped("imapdir creates a folder missing on either side"));
                }
            }
            "usecompression" => {
                account.compress = v.boolean().map(|b| if b { "yes" } else { "no" })
            }
            "utf8foldernames" => {
                account.local_names = Some(if v.boolean() == Some(true) {
                    "utf-8"
                } else {
                    "modified-utf-7"
                })
            }
            "auth_mechanisms" => account
                .unmapped
                .push(v.unmapped("imapdir picks the login itself: AUTHENTICATE PLAIN, else LOGIN")),
            k if k.starts_with("oauth2_") => account
                .unmapped
                .push(v.unmapped("imapdir logs in with a password (for Gmail, an app password)")),
            "preauthtunnel" | "transporttunnel" => account
                .unmapped
                .push(v.unmapped("imapdir connects over TCP to host and port; it has no tunnel")),
            "ipv6" => account
                .unmapped
                .push(v.unmapped("imapdir uses the addresses the host name resolves to")),
            "decodefoldernames" => account
                .unmapped
                .push(v.unmapped("obsolete; see utf8foldernames and local_names")),
            _ => account
                .unmapped
                .push(v.unmapped("not an IMAP repository setting imapdir maps")),
        }
    }
    account.password = match password {
        Some(p) => p,
        None => {
            if get("remotepass").is_none() && get("remotepasseval").is_none() {
                account.unmapped.push(Unmapped::new(
                    section.line,
                    format!("[{}]", section.name),
                    "no remotepassfile: OfflineIMAP reads ~/.netrc or asks for the password, \
                     imapdir cannot; set password_command, password_env or password_file",
                ));
            }
            Password::Missing
        }
    };
    if account.tls == TlsMode::Plain && !is_loopback_name(&account.host) {
        account.notes.push(Unmapped::new(
            section.line,
            format!("[{}] ssl = no, starttls = no", section.name),
            "mapped to tls = \"plain\" with allow_plaintext = true: the password crosses the \
             network unencrypted; use tls = \"starttls\" or \"tls\" if the server offers it",
        ));
    }
    Ok(())
}

/// Parses an offlineimaprc into accounts and what could not be mapped.
pub fn parse(text: &str, ctx: &Context) -> Result<Imported, String> {
    let ini = parse_ini(text)?;
    let mut imported = Imported::default();
    let general = ini.section("general");
    let mut names: Vec<(String, usize)> = Vec::new();
    let mut timeout = None;
    let mut used: Vec<String> = vec!["general".into()];
    match general.and_then(|g| ini.get(g, "accounts").map(|v| (g, v))) {
        Some((_, v)) => {
            for name in v.text().split(',').map(str::trim).filter(|n| !n.is_empty()) {
                names.push((name.to_string(), v.line));
            }
        }
        None => {
            return Err("1: no accounts: OfflineIMAP needs [general] accounts = NAME, ...".into());
        }
    }
    if let Some(g) = general {
        for entry in &g.entries {
            let Some(v) = ini.get(g, &entry.key) else {
                continue;
            };
            match v.key.as_str() {
                "accounts" => {}
                "socktimeout" => match v.text().parse::<u64>() {
                    Ok(t) if t > 0 => timeout = Some(t),
                    _ => imported
                        .unmapped
                        .push(v.unmapped("not a number of seconds; imapdir's default 60 is used")),
                },
                "metadata" => {
                    if ctx.expanded(v.text()) != ctx.expanded("~/.offlineimap") {
                        imported.unmapped.push(v.unmapped(
                            "imapdir finds OfflineIMAP's status database here only when this \
                             setting is in ~/.offlineimaprc or ~/.config/offlineimap/config",
                        ));
                    }
                }
                "fsync" => {
                    if v.boolean() == Some(false) {
                        imported
                            .unmapped
                            .push(v.unmapped("imapdir always makes its writes durable"));
                    }
                }
                "maxsyncaccounts" => imported.unmapped.push(v.unmapped(
                    "imapdir syncs accounts one after another, each with jobs folders at once",
                )),
                "ui" => imported.unmapped.push(v.unmapped(
                    "imapdir shows progress on a terminal and only errors under cron; -v for more",
                )),
                "pythonfile" => imported.unmapped.push(v.unmapped(PYTHON)),
                _ => imported
                    .unmapped
                    .push(v.unmapped("not a [general] setting imapdir maps")),
            }
        }
    }
    for (name, accounts_line) in names {
        let section_name = format!("Account {name}");
        let Some(section) = ini.section(&section_name) else {
            imported.unmapped.push(Unmapped::new(
                accounts_line,
                format!("accounts = ... {name} ..."),
                format!("skipped: there is no [{section_name}] section"),
            ));
            continue;
        };
        used.push(section_name.clone());
        let skip = |why: String| Unmapped::new(section.line, format!("[{section_name}]"), why);
        let repo = |key: &str| -> Result<&Section, String> {
            let v = ini
                .get(section, key)
                .ok_or_else(|| format!("skipped: no {key}"))?;
            let repo = v.value.map_err(|e| format!("skipped: {key}: {e}"))?;
            ini.section(&format!("Repository {repo}"))
                .ok_or_else(|| format!("skipped: there is no [Repository {repo}] section"))
        };
        let (local, remote) = match (repo("localrepository"), repo("remoterepository")) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(e), _) | (_, Err(e)) => {
                imported.unmapped.push(skip(e));
                continue;
            }
        };
        used.push(local.name.clone());
        used.push(remote.name.clone());
        let kind = |s: &Section| {
            ini.get(s, "type")
                .map(|v| v.text().to_ascii_lowercase())
                .unwrap_or_default()
        };
        let (local_type, remote_type) = (kind(local), kind(remote));
        if local_type != "maildir" && local_type != "gmailmaildir" {
            imported.unmapped.push(skip(format!(
                "skipped: its local repository [{}] is not a Maildir (type = {local_type:?}); \
                 imapdir syncs an IMAP account with a Maildir",
                local.name
            )));
            continue;
        }
        if remote_type != "imap" && remote_type != "gmail" {
            imported.unmapped.push(skip(format!(
                "skipped: its remote repository [{}] is not IMAP or Gmail (type = {remote_type:?})",
                remote.name
            )));
            continue;
        }
        let Some(folders) = ini
            .get(local, "localfolders")
            .and_then(|v| v.value.ok())
            .filter(|f| !f.is_empty())
        else {
            imported.unmapped.push(skip(format!(
                "skipped: [{}] has no localfolders",
                local.name
            )));
            continue;
        };
        let mut account = ImportedAccount::new(
            &account_name(&name),
            section.line,
            "",
            "",
            &ctx.local_path(&folders),
        );
        account.timeout = timeout;
        account.local_names = Some("modified-utf-7");
        account_keys(&ini, section, &mut account);
        local_keys(&ini, local, &mut account);
        if let Err(e) = remote_keys(&ini, remote, remote_type == "gmail", &mut account, ctx) {
            imported.unmapped.push(Unmapped::new(
                remote.line,
                format!("[{}]", remote.name),
                format!("skipped account {name}: {e}"),
            ));
            continue;
        }
        account.notes.sort_by_key(|u| u.line);
        account.unmapped.sort_by_key(|u| u.line);
        imported.accounts.push(account);
    }
    for s in &ini.sections {
        if !used.contains(&s.name) {
            imported.unmapped.push(Unmapped::new(
                s.line,
                format!("[{}]", s.name),
                if s.name == "mbnames" || s.name.starts_with("ui.") {
                    "imapdir has no equivalent"
                } else {
                    "not used by any account in [general] accounts"
                },
            ));
        }
    }
    dedupe_names(&mut imported.accounts);
    Ok(imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ctx() -> Context {
        Context {
            home: Some(PathBuf::from("/home/u")),
            cwd: PathBuf::from("/cwd"),
        }
    }

    const RC: &str = r#"# OfflineIMAP
[DEFAULT]
base = ~/Mail

[general]
accounts = Work, Gmail,Missing
; a comment
socktimeout = 45
ui = basic

[Account Work]
localrepository = WorkLocal
remoterepository = WorkRemote
autorefresh = 5
postsynchook = notmuch new
quick = 10
utf8foldernames = yes

[Repository WorkLocal]
type = Maildir
localfolders = %(base)s/work
sep = /

[Repository WorkRemote]
type = IMAP
remotehost = imap.example.org
remoteport: 1993
remoteuser = me@example.org
remotepassfile = ~/.work-pass
sslcacertfile = OS-DEFAULT
maxconnections = 3
idlefolders = ['INBOX', "Lists"]
folderfilter = lambda f: f not in ['Trash',
    'Spam']
nametrans = lambda f: f

[Account Gmail]
LocalRepository = GLocal
remoterepository = GRemote

[Repository GLocal]
type = GmailMaildir
localfolders = ~/Mail/gmail

[Repository GRemote]
type = Gmail
remoteuser = me@gmail.com
remotepass = sup3rsecret
ssl = yes
synclabels = yes

[mbnames]
enabled = yes
"#;

    #[test]
    fn maps_accounts_and_repositories() {
        let imported = parse(RC, &ctx()).unwrap();
        assert_eq!(imported.accounts.len(), 2, "{imported:#?}");
        let work = &imported.accounts[0];
        assert_eq!(work.name, "Work");
        assert_eq!(
            (work.host.as_str(), work.port),
            ("imap.example.org", Some(1993))
        );
        assert_eq!(work.user, "me@example.org");
        assert_eq!(work.tls, TlsMode::Tls);
        assert_eq!(work.password, Password::File("~/.work-pass".into()));
        assert_eq!(work.ca_file, None, "OS-DEFAULT is the system's roots");
        assert_eq!(work.maildir, "~/Mail/work", "interpolated from [DEFAULT]");
        assert_eq!(work.jobs, Some(3));
        assert_eq!(work.interval, Some(300));
        assert_eq!(work.timeout, Some(45));
        assert_eq!(work.post_sync_command.as_deref(), Some("notmuch new"));
        assert_eq!(work.local_names, Some("utf-8"));
        assert_eq!(
            work.watch_folders.as_deref(),
            Some(&["INBOX".to_string(), "Lists".to_string()][..])
        );
        let lines: Vec<(usize, &str)> = work
            .unmapped
            .iter()
            .map(|u| (u.line, u.directive.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (16, "quick = 10"),
                (33, "folderfilter = lambda f: f not in ['Trash', 'Spam']"),
                (35, "nametrans = lambda f: f"),
            ]
        );

        let gmail = &imported.accounts[1];
        assert_eq!(
            (gmail.host.as_str(), gmail.tls),
            ("imap.gmail.com", TlsMode::Tls)
        );
        assert_eq!(gmail.password, Password::Missing);
        assert_eq!(gmail.local_names, Some("modified-utf-7"));
        let lines: Vec<(usize, &str)> = gmail
            .unmapped
            .iter()
            .map(|u| (u.line, u.directive.as_str()))
            .collect();
        assert_eq!(
            lines,
            [
                (41, "[Repository GLocal] (sep = . by default)"),
                (48, "remotepass = <hidden>"),
                (50, "synclabels = yes"),
            ]
        );
        assert!(!format!("{imported:?}").contains("sup3rsecret"));
        let general: Vec<(usize, &str)> = imported
            .unmapped
            .iter()
            .map(|u| (u.line, u.directive.as_str()))
            .collect();
        assert_eq!(
            general,
            [
                (9, "ui = basic"),
                (6, "accounts = ... Missing ..."),
                (52, "[mbnames]"),
            ]
        );
    }

    #[test]
    fn plaintext_starttls_and_errors() {
        let rc =
            "[general]\naccounts = a\n[Account a]\nlocalrepository = l\nremoterepository = r\n\
                  [Repository l]\ntype = Maildir\nlocalfolders = m\nsep = /\n\
                  [Repository r]\ntype = IMAP\nremotehost = localhost\nremoteuser = u\n\
                  remotepassfile = p\nssl = no\nstarttls = no\n";
        let a = &parse(rc, &ctx()).unwrap().accounts[0];
        assert_eq!(a.tls, TlsMode::Plain);
        assert_eq!(a.maildir, "/cwd/m");
        assert_eq!(a.password, Password::File("/cwd/p".into()));
        assert!(a.notes.is_empty(), "loopback: no warning");
        let starttls = rc.replace("starttls = no\n", "");
        assert_eq!(
            parse(&starttls, &ctx()).unwrap().accounts[0].tls,
            TlsMode::StartTls
        );

        assert!(parse("key = v\n", &ctx()).unwrap_err().starts_with("1: "));
        assert!(parse("[a]\n[a]\n", &ctx()).unwrap_err().contains("twice"));
        assert!(parse("[general]\nnope\n", &ctx())
            .unwrap_err()
            .starts_with("2: "));
        let bad = rc.replace("localfolders = m", "localfolders = %(nope)s");
        let imported = parse(&bad, &ctx()).unwrap();
        assert!(imported.accounts.is_empty());
        assert!(
            imported.unmapped[0].why.contains("no localfolders"),
            "{imported:#?}"
        );
    }

    #[test]
    fn python_lists() {
        assert_eq!(
            python_list("['INBOX', \"a b\"]"),
            Some(vec!["INBOX".into(), "a b".into()])
        );
        assert_eq!(python_list("[]"), Some(vec![]));
        assert_eq!(python_list("INBOX"), None);
        assert_eq!(python_list("[x]"), None);
    }
}
