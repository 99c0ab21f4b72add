//! Adding an account to the config file a person keeps: the file is
//! edited with `toml_edit`, so its comments, order and spelling stay as
//! they were, and replaced whole with a rename (a crash leaves the old file
//! or the new, never half of one), keeping its permissions. A config that
//! is a symlink (kept in a dotfiles repository) stays one: the file it
//! points to is the one replaced.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, Item, Table, Value};

use crate::config::ConfigError;

/// The account names the config text has.
pub fn account_names(text: &str) -> Result<Vec<String>, ConfigError> {
    let doc = parse(text)?;
    Ok(doc
        .get("accounts")
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
        .unwrap_or_default())
}

fn parse(text: &str) -> Result<DocumentMut, ConfigError> {
    text.parse::<DocumentMut>().map_err(|e| {
        ConfigError(format!(
            "the config is not valid TOML ({}); fix it first",
            e.to_string().lines().next().unwrap_or("").trim()
        ))
    })
}

/// `existing` with `[accounts.NAME]` holding `keys` in their order, under
/// a comment line; an account of that name is an error unless `replace`.
pub fn add_account(
    existing: &str,
    name: &str,
    keys: &[(String, Value)],
    comment: &str,
    replace: bool,
) -> Result<String, ConfigError> {
    let mut doc = parse(existing)?;
    let accounts = doc
        .entry("accounts")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or_else(|| {
            ConfigError("accounts in the config is not a table of [accounts.NAME] tables".into())
        })?;
    if accounts.contains_key(name) && !replace {
        return Err(ConfigError(format!(
            "an account named {name:?} is already in the config; nothing was written \
             (pick another name with --account, or pass --force to replace it)"
        )));
    }
    let mut table = Table::new();
    for (key, value) in keys {
        table.insert(key, Item::Value(value.clone()));
    }
    let lead = if existing.trim().is_empty() { "" } else { "\n" };
    table.decor_mut().set_prefix(format!("{lead}# {comment}\n"));
    accounts.insert(name, Item::Table(table));
    Ok(doc.to_string())
}

/// The file a path names, symlinks followed (the path itself when missing).
fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Replaces the file at `path` with `text` atomically: a temp file beside
/// it, made durable, renamed over it, the directory synced. A new file is
/// private (0600), an existing one keeps its mode.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ConfigError> {
    let target = real_path(path);
    let dir = match target.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => dir.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| ConfigError(format!("cannot create {}: {e}", dir.display())))?;
    let mode = std::fs::metadata(&target)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.toml".into());
    let temp = dir.join(format!(".{file_name}.imapdir-{}.tmp", std::process::id()));
    let failed = |what: &str, e: std::io::Error| {
        let _ = std::fs::remove_file(&temp);
        ConfigError(format!("cannot {what} {}: {e}", target.display()))
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| failed("write", e))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.set_permissions(std::fs::Permissions::from_mode(mode)))
        .and_then(|()| file.sync_all())
        .map_err(|e| failed("write", e))?;
    drop(file);
    std::fs::rename(&temp, &target).map_err(|e| failed("replace", e))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Vec<(String, Value)> {
        vec![
            ("provider".into(), "gmail".into()),
            ("user".into(), "me@gmail.com".into()),
            ("port".into(), Value::from(993)),
        ]
    }

    #[test]
    fn an_account_is_added_keeping_comments_and_order() {
        let existing = "# my mail\n[accounts.work] # the office\nhost = \"imap.work\" # here\n\
                        user = \"me\"\npassword_env = \"P\"\nmaildir = \"~/Work\"\n";
        let text = add_account(existing, "me", &keys(), "Added by imapdir init", false).unwrap();
        assert!(text.starts_with(existing), "{text}");
        assert!(
            text.ends_with(
                "\n# Added by imapdir init\n[accounts.me]\nprovider = \"gmail\"\n\
                 user = \"me@gmail.com\"\nport = 993\n"
            ),
            "{text}"
        );
        assert_eq!(account_names(&text).unwrap(), vec!["work", "me"]);

        let err = add_account(&text, "me", &keys(), "x", false).unwrap_err();
        assert!(
            err.0.contains("already") && err.0.contains("--force"),
            "{err}"
        );
        let replaced = add_account(&text, "me", &keys()[..1], "again", true).unwrap();
        assert!(replaced.contains("# the office") && !replaced.contains("me@gmail.com"));
        assert_eq!(account_names(&replaced).unwrap().len(), 2);
    }

    #[test]
    fn an_empty_file_gets_a_table_and_odd_names_are_quoted() {
        let text = add_account("", "a.b c", &keys(), "new", false).unwrap();
        assert!(text.starts_with("# new\n[accounts.\"a.b c\"]\n"), "{text}");
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert!(table["accounts"]["a.b c"]["port"].as_integer() == Some(993));
        assert!(add_account("[accounts", "x", &keys(), "c", false)
            .unwrap_err()
            .0
            .contains("not valid TOML"));
        assert!(add_account("accounts = 3", "x", &keys(), "c", false).is_err());
    }

    #[test]
    fn writing_replaces_the_file_keeping_its_mode_and_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, "new").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);

        let fresh = dir.path().join("sub/dir/config.toml");
        write_atomically(&fresh, "x").unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 3, "no temp file left");
    }
}
