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

mod ini;
mod keys;

use ini::{parse_ini, Section};
use keys::{account_keys, local_keys, remote_keys, PYTHON};

use super::{account_name, dedupe_names, Context, Imported, ImportedAccount, Unmapped};

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
                    Ok(t) if t > crate::config::MAX_TIMEOUT_SECS => {
                        imported.unmapped.push(v.unmapped(format!(
                            "longer than imapdir's longest timeout ({} seconds, a day); the \
                             default (60) is used",
                            crate::config::MAX_TIMEOUT_SECS
                        )))
                    }
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
mod tests;
