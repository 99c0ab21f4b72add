//! Where the OAuth2 login is kept between runs: the refresh token, the
//! access token and when it expires.
//!
//! In the system keyring (the freedesktop Secret Service: GNOME Keyring,
//! KeePassXC, KWallet's bridge) where a session D-Bus runs and
//! `secret-tool` (libsecret) is installed, else in a file beside the state
//! database, created 0600 and refused when others may read it (as ssh
//! refuses a readable key). `secret-tool` rather than a D-Bus library: it
//! is on every desktop that has a keyring, it reads the secret from stdin
//! (never a command line), and its absence is the plain signal that there
//! is no keyring to use. A cron job usually has no session D-Bus, so a
//! login kept in the keyring from a desktop is not found there: the error
//! says so, and `oauth2_token_store = "file"` is the way out.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which store to use (`oauth2_token_store`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The keyring where one is reachable, else the file.
    Auto,
    Keyring,
    File,
}

/// Where a login is kept, as told to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    Keyring,
    File(PathBuf),
}

impl std::fmt::Display for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kept::Keyring => f.write_str("the system keyring (Secret Service)"),
            Kept::File(p) => write!(f, "{} (mode 0600)", p.display()),
        }
    }
}

/// One account's tokens. Never printed: `Debug` hides them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix seconds when the access token was issued.
    pub obtained_at: u64,
    /// Its lifetime in seconds, when the server said.
    pub expires_in: Option<u64>,
    /// The client the tokens were issued to.
    pub client_id: String,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("obtained_at", &self.obtained_at)
            .field("expires_in", &self.expires_in)
            .field("client_id", &self.client_id)
            .finish()
    }
}

/// The keyring or file of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenStore {
    pub choice: StoreChoice,
    /// The file: `<state dir>/<account>.oauth2`.
    pub file: PathBuf,
    /// The keyring item's attributes.
    pub account: String,
    pub user: String,
}

/// A store that could not be read or written; never contains a token.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// How long `secret-tool` may take (a keyring that wants to show a
/// password prompt nobody sees would otherwise hang a cron job).
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

impl TokenStore {
    /// Whether a Secret Service can be asked: a session bus and `secret-tool`.
    pub fn keyring_reachable() -> bool {
        std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
            && find_in_path("secret-tool")
    }

    fn use_keyring(&self) -> Result<bool, StoreError> {
        match self.choice {
            StoreChoice::File => Ok(false),
            StoreChoice::Auto => Ok(TokenStore::keyring_reachable()),
            StoreChoice::Keyring if TokenStore::keyring_reachable() => Ok(true),
            StoreChoice::Keyring => Err(StoreError(
                "oauth2_token_store = \"keyring\", but no keyring can be reached from here (it \
                 needs a session D-Bus, DBUS_SESSION_BUS_ADDRESS, and secret-tool from libsecret)"
                    .into(),
            )),
        }
    }

    /// The stored login, if any.
    pub fn load(&self) -> Result<Option<(TokenSet, Kept)>, StoreError> {
        if self.use_keyring()? {
            if let Some(text) = self.keyring_lookup()? {
                return parse(&text, "the keyring item").map(|t| Some((t, Kept::Keyring)));
            }
            if self.choice == StoreChoice::Keyring {
                return Ok(None);
            }
        }
        self.load_file()
    }

    /// Keeps the login; says where.
    pub fn save(&self, tokens: &TokenSet) -> Result<Kept, StoreError> {
        let text = serde_json::to_string(tokens).map_err(|e| StoreError(e.to_string()))?;
        if self.use_keyring()? {
            match self.keyring_store(&text) {
                Ok(()) => {
                    // An older file would be read if the keyring went away.
                    let _ = std::fs::remove_file(&self.file);
                    return Ok(Kept::Keyring);
                }
                Err(e) if self.choice == StoreChoice::Auto => {
                    eprintln!(
                        "imapdir: {}: the keyring did not take the login ({e}); keeping it in {} \
                         instead",
                        self.account,
                        self.file.display()
                    );
                }
                Err(e) => return Err(e),
            }
        }
        self.save_file(&text)?;
        Ok(Kept::File(self.file.clone()))
    }

    fn attributes(&self) -> [&str; 6] {
        [
            "service",
            "imapdir",
            "account",
            self.account.as_str(),
            "user",
            self.user.as_str(),
        ]
    }

    fn keyring_lookup(&self) -> Result<Option<String>, StoreError> {
        let mut args = vec!["lookup"];
        args.extend(self.attributes());
        let (ok, out, err) = secret_tool(&args, None)?;
        if ok && !out.trim().is_empty() {
            return Ok(Some(out));
        }
        if !err.trim().is_empty() {
            return Err(StoreError(format!(
                "the keyring could not be read: {}",
                err.trim()
            )));
        }
        Ok(None)
    }

    fn keyring_store(&self, secret: &str) -> Result<(), StoreError> {
        let label = format!("imapdir OAuth2 login for {} ({})", self.account, self.user);
        let label_arg = format!("--label={label}");
        let mut args = vec!["store", label_arg.as_str()];
        args.extend(self.attributes());
        let (ok, _, err) = secret_tool(&args, Some(secret))?;
        if ok {
            Ok(())
        } else {
            Err(StoreError(format!(
                "secret-tool store failed: {}",
                err.trim()
            )))
        }
    }

    fn load_file(&self) -> Result<Option<(TokenSet, Kept)>, StoreError> {
        let mut file = match std::fs::File::open(&self.file) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StoreError(format!(
                    "cannot read {}: {e}",
                    self.file.display()
                )))
            }
        };
        let mode = file
            .metadata()
            .map_err(|e| StoreError(format!("cannot read {}: {e}", self.file.display())))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(StoreError(format!(
                "{} may be read by others (mode {:04o}), so its tokens are not used: \
                 run chmod 600 {} if nobody else could have read it, else log in again",
                self.file.display(),
                mode & 0o7777,
                self.file.display()
            )));
        }
        let mut text = String::new();
        file.read_to_string(&mut text)
            .map_err(|e| StoreError(format!("cannot read {}: {e}", self.file.display())))?;
        parse(&text, &self.file.display().to_string())
            .map(|t| Some((t, Kept::File(self.file.clone()))))
    }

    fn save_file(&self, text: &str) -> Result<(), StoreError> {
        let fail =
            |e: std::io::Error| StoreError(format!("cannot write {}: {e}", self.file.display()));
        let dir = self.file.parent().unwrap_or(Path::new("."));
        if !dir.as_os_str().is_empty() && !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(fail)?;
        }
        let mut tmp = self.file.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(fail)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.file));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

fn parse(text: &str, what: &str) -> Result<TokenSet, StoreError> {
    serde_json::from_str(text.trim()).map_err(|_| {
        StoreError(format!(
            "{what} does not hold an imapdir OAuth2 login (log in again)"
        ))
    })
}

fn find_in_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Runs `secret-tool ARGS`, the secret on stdin when given; (success,
/// stdout, stderr). Killed after [`KEYRING_TIMEOUT`].
fn secret_tool(args: &[&str], stdin: Option<&str>) -> Result<(bool, String, String), StoreError> {
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| StoreError(format!("cannot run secret-tool: {e}")))?;
    if let (Some(secret), Some(mut input)) = (stdin, child.stdin.take()) {
        let _ = input.write_all(secret.as_bytes());
    }
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let deadline = Instant::now() + KEYRING_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(StoreError(format!(
                    "the keyring did not answer within {} seconds (is it locked?)",
                    KEYRING_TIMEOUT.as_secs()
                )));
            }
        }
    };
    let out = readers.0.join().unwrap_or_default();
    let err = readers.1.join().unwrap_or_default();
    Ok((status.success(), out, err))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> TokenSet {
        TokenSet {
            access_token: "at-secret".into(),
            refresh_token: "rt-secret".into(),
            obtained_at: 1,
            expires_in: Some(3600),
            client_id: "cid".into(),
        }
    }

    fn file_store(dir: &Path) -> TokenStore {
        TokenStore {
            choice: StoreChoice::File,
            file: dir.join("state/a.oauth2"),
            account: "a".into(),
            user: "u".into(),
        }
    }

    #[test]
    fn the_file_is_private_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(dir.path());
        assert!(store.load().unwrap().is_none());
        assert_eq!(
            store.save(&tokens()).unwrap(),
            Kept::File(store.file.clone())
        );
        let mode = std::fs::metadata(&store.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (back, kept) = store.load().unwrap().unwrap();
        assert_eq!(back, tokens());
        assert_eq!(kept, Kept::File(store.file.clone()));
        // Written again over the old one.
        let mut newer = tokens();
        newer.access_token = "at-2".into();
        store.save(&newer).unwrap();
        assert_eq!(store.load().unwrap().unwrap().0.access_token, "at-2");
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = file_store(dir.path());
        store.save(&tokens()).unwrap();
        std::fs::set_permissions(&store.file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = store.load().unwrap_err().0;
        assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
        assert!(!err.contains("secret"));
        std::fs::write(&store.file, "garbage").unwrap();
        std::fs::set_permissions(&store.file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(store.load().unwrap_err().0.contains("log in again"));
    }

    #[test]
    fn tokens_never_show_in_debug() {
        let shown = format!("{:?}", tokens());
        assert!(!shown.contains("secret"), "{shown}");
    }
}
