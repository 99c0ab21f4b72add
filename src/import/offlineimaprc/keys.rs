//! The keys of an `[Account]` section and of its local and remote
//! `[Repository]` sections, and what becomes of each in the imapdir account.

use super::ini::{python_list, Ini, Section};
use crate::import::{is_loopback_name, Context, ImportedAccount, Password, Unmapped};
use crate::model::TlsMode;

pub(super) const PYTHON: &str = "Python code imapdir cannot run";

/// Keys of an `[Account]` section and what becomes of them.
pub(super) fn account_keys(ini: &Ini, section: &Section, account: &mut ImportedAccount) {
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
                Ok(m) if m * 60.0 > crate::config::MAX_INTERVAL_SECS as f64 => {
                    account.unmapped.push(v.unmapped(format!(
                        "longer than imapdir's longest interval ({} seconds, 31 days); the \
                         default (900) is used",
                        crate::config::MAX_INTERVAL_SECS
                    )))
                }
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

pub(super) fn local_keys(ini: &Ini, section: &Section, account: &mut ImportedAccount) {
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

pub(super) fn sep_why(sep: &str) -> String {
    format!(
        "OfflineIMAP keeps a folder Archive/2023 in the directory Archive{sep}2023; imapdir nests \
         it as Archive/2023: rename such directories first (and set sep = / for OfflineIMAP), \
         or those folders are downloaded again"
    )
}

/// The remote repository's keys; `Err` when the account cannot be made.
pub(super) fn remote_keys(
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
