//! Password sources: a command, an environment variable or a file, read
//! only when a connection needs the secret, never stored or shown.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where the password comes from; the secret itself is read only when needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// Run through `sh -c`; the first line of stdout is the password.
    Command(String),
    /// An environment variable's value.
    Env(String),
    /// The first line of a file.
    File(PathBuf),
    /// No password: the built-in OAuth2 login (`imapdir auth`) gives
    /// access tokens instead.
    OAuth2Login,
}

/// Why no password could be read; the text never contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SecretError(pub String);

impl PasswordSource {
    /// Fetches the secret. Errors never contain it.
    pub fn read(&self) -> Result<String, SecretError> {
        let first_line = |s: &str| s.lines().next().unwrap_or("").to_string();
        let pw = match self {
            PasswordSource::Command(cmd) => {
                let out = Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .stdin(Stdio::null())
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| SecretError(format!("password_command could not run: {e}")))?;
                if !out.status.success() {
                    return Err(SecretError(format!(
                        "password_command failed ({})",
                        out.status
                    )));
                }
                first_line(&String::from_utf8_lossy(&out.stdout))
            }
            PasswordSource::Env(var) => std::env::var(var).map_err(|_| {
                SecretError(format!(
                    "password_env: environment variable {var} is not set"
                ))
            })?,
            PasswordSource::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| SecretError(format!("password_file {}: {e}", path.display())))?;
                first_line(&text)
            }
            PasswordSource::OAuth2Login => {
                return Err(SecretError(
                    "the account logs in with OAuth2 (oauth2_client_id), not a password"
                        .to_string(),
                ))
            }
        };
        if pw.is_empty() {
            return Err(SecretError(
                "the password source gave an empty password".to_string(),
            ));
        }
        Ok(pw)
    }
}
