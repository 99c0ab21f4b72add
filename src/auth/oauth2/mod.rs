//! The built-in OAuth2 login (`imapdir auth ACCOUNT`) and the access
//! tokens it gives every later connection.
//!
//! `imapdir auth` runs the authorization-code flow with PKCE and a loopback
//! redirect (RFC 8252) or the device authorization grant (RFC 8628), see
//! [`flow`], and keeps the tokens in the account's [`TokenStore`]. At each
//! login, [`access_token`] hands out the stored access token, refreshing it
//! first when little of its lifetime is left, and once more when the
//! server refused it. A refresh token the server refuses (revoked, expired,
//! another client's) is remembered for the rest of the process: asking
//! again would get the same answer, so `watch` retries read the store (the
//! user may have logged in again meanwhile) and send nothing.
//!
//! Tokens never appear in output, traces or errors: the types holding them
//! hide them from `Debug`, and every message is built without them.

pub mod flow;
pub mod http;
pub mod loopback;
pub mod pkce;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::auth::secrets::PasswordSource;
pub use crate::auth::token_store::{Kept, StoreChoice, TokenSet, TokenStore};
use http::HttpError;

/// The client secret, for providers that want one even from an installed
/// program (Google's "desktop" clients; its secret is not a secret there).
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    None,
    Literal(String),
    Command(String),
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientSecret::None => f.write_str("None"),
            ClientSecret::Literal(_) => f.write_str("Literal(<redacted>)"),
            ClientSecret::Command(c) => write!(f, "Command({c:?})"),
        }
    }
}

/// The OAuth2 client an account logs in through, and its endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// The authorization endpoint (the browser flow).
    pub auth_url: Option<String>,
    pub token_url: String,
    /// The device authorization endpoint (`--device`).
    pub device_url: Option<String>,
    /// Space-separated.
    pub scopes: String,
    /// The loopback redirect's port; 0 for any free one.
    pub redirect_port: u16,
}

impl Client {
    fn secret(&self) -> Result<Option<String>, String> {
        match &self.client_secret {
            ClientSecret::None => Ok(None),
            ClientSecret::Literal(s) => Ok(Some(s.clone())),
            ClientSecret::Command(c) => PasswordSource::Command(c.clone())
                .read()
                .map(Some)
                .map_err(|e| {
                    format!(
                        "oauth2_client_secret_command: {}",
                        e.0.replace("password_command", "the command")
                    )
                }),
        }
    }

    /// Whether the endpoints are Google's (whose traps the messages name).
    pub fn is_google(&self) -> bool {
        self.token_url.contains("googleapis.com") || self.token_url.contains("google.com")
    }

    /// Whether they are Microsoft's identity platform.
    pub fn is_microsoft(&self) -> bool {
        [&Some(self.token_url.clone()), &self.auth_url]
            .iter()
            .any(|u| {
                u.as_deref().is_some_and(|u| {
                    u.contains("login.microsoftonline.com") || u.contains("login.live.com")
                })
            })
    }
}

/// An account's built-in OAuth2 login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Login {
    pub account: String,
    pub user: String,
    pub client: Client,
    pub store: TokenStore,
    /// The command that logs in again, as the user would type it.
    pub relogin: String,
}

/// An OAuth2 error answer (RFC 6749 §5.2, RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    pub description: Option<String>,
}

impl Refusal {
    /// What the error means, in words, with the server's own description.
    pub fn in_words(&self) -> String {
        let meaning = match self.code.as_str() {
            "invalid_grant" => {
                "the authorization server refused the grant (invalid_grant): the refresh \
                 token or code was revoked, has expired, or was issued to another client"
            }
            "access_denied" => {
                "access was denied (access_denied): the login was declined at the \
                 authorization page, or the account may not use this client"
            }
            "slow_down" => "the server asked to poll more slowly (slow_down)",
            "authorization_pending" => "the login is not finished yet (authorization_pending)",
            "expired_token" => "the code expired before the login was finished (expired_token)",
            "invalid_client" => {
                "the client id or secret was refused (invalid_client): it is wrong, was \
                 deleted, or was withdrawn by its owner (a client id borrowed from another \
                 program can be withdrawn at any time; register your own, see the README)"
            }
            "unauthorized_client" => {
                "this client may not use this kind of login (unauthorized_client): for \
                 --device, Microsoft wants \"Allow public client flows\" switched on and \
                 Google a client of type \"TVs and Limited Input devices\""
            }
            "invalid_scope" => {
                "the scopes were refused (invalid_scope): check oauth2_scopes (Google's \
                 device flow does not allow the Gmail scope: use the browser flow)"
            }
            "unsupported_grant_type" => {
                "the server does not offer this kind of login (unsupported_grant_type)"
            }
            "invalid_request" => "the server found the request malformed (invalid_request)",
            "server_error" | "temporarily_unavailable" => {
                "the authorization server has a problem of its own; try again later"
            }
            _ => "the authorization server refused the request",
        };
        let mut text = meaning.to_string();
        if !meaning.contains(&format!("({})", self.code)) {
            text.push_str(&format!(" ({})", self.code));
        }
        if let Some(d) = self.description.as_deref().filter(|d| !d.is_empty()) {
            text.push_str(&format!("; the server said: \"{d}\""));
        }
        text
    }

    /// Whether only the user can fix it (log in again, change the client).
    fn needs_user(&self) -> bool {
        !matches!(
            self.code.as_str(),
            "server_error" | "temporarily_unavailable" | "slow_down" | "authorization_pending"
        )
    }
}

/// Why no access token could be had; maps to exit code 3. Never contains a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Only a new `imapdir auth` helps.
    #[error("account {account}: {reason}; log in again with `{command}`")]
    LoginNeeded {
        account: String,
        reason: String,
        command: String,
    },
    #[error("account {account}: {message}")]
    Failed { account: String, message: String },
}

impl OAuth2Login {
    fn login_needed(&self, reason: impl Into<String>) -> TokenError {
        TokenError::LoginNeeded {
            account: self.account.clone(),
            reason: reason.into(),
            command: self.relogin.clone(),
        }
    }

    fn failed(&self, message: impl Into<String>) -> TokenError {
        TokenError::Failed {
            account: self.account.clone(),
            message: message.into(),
        }
    }
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether an access token is too close to its end to start a login with:
/// less than a minute left, or a third of its lifetime for short-lived ones.
pub fn needs_refresh(tokens: &TokenSet, now: u64) -> bool {
    match tokens.expires_in {
        None => false,
        Some(life) => {
            let margin = (life / 3).min(60);
            now + margin >= tokens.obtained_at.saturating_add(life)
        }
    }
}

/// The tokens in a token endpoint's answer; a refresh answer without a new
/// refresh token keeps the old one.
pub fn tokens_from(
    json: &Value,
    client_id: &str,
    previous_refresh: Option<&str>,
) -> Result<TokenSet, String> {
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the token endpoint's answer has no access_token")?
        .to_string();
    if let Some(kind) = json.get("token_type").and_then(Value::as_str) {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(format!(
                "the token endpoint gave a {kind:?} token; IMAP takes bearer tokens only"
            ));
        }
    }
    let refresh_token = match json.get("refresh_token").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => previous_refresh
            .ok_or(
                "the token endpoint gave no refresh token, so every later run would need a new \
                 login (Microsoft: oauth2_scopes must include offline_access)",
            )?
            .to_string(),
    };
    // Some servers send the lifetime as a string.
    let expires_in = json.get("expires_in").and_then(|v| {
        v.as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    Ok(TokenSet {
        access_token,
        refresh_token,
        obtained_at: now(),
        expires_in,
        client_id: client_id.to_string(),
    })
}

/// Asks the token endpoint for tokens with `grant` (plus the client's id
/// and secret).
pub fn token_request(
    login: &OAuth2Login,
    grant: &[(&str, &str)],
    previous_refresh: Option<&str>,
) -> Result<TokenSet, (Option<Refusal>, TokenError)> {
    let client = &login.client;
    let secret = client.secret().map_err(|e| (None, login.failed(e)))?;
    let mut form: Vec<(&str, &str)> = grant.to_vec();
    form.push(("client_id", client.client_id.as_str()));
    if let Some(secret) = secret.as_deref() {
        form.push(("client_secret", secret));
    }
    match http::post_form("token endpoint", &client.token_url, &form) {
        Ok(json) => tokens_from(&json, &client.client_id, previous_refresh)
            .map_err(|e| (None, login.failed(e))),
        Err(HttpError::Refused(r)) => {
            let words = r.in_words();
            Err((Some(r), login.failed(words)))
        }
        Err(HttpError::Failed(m)) => Err((None, login.failed(m))),
    }
}

/// What one process knows of an account's login.
#[derive(Default)]
struct Slot {
    tokens: Option<TokenSet>,
    /// A refresh token the server refused, and why: never sent again.
    dead: Option<(String, String)>,
}

fn slot(login: &OAuth2Login) -> Arc<Mutex<Slot>> {
    static SLOTS: OnceLock<Mutex<HashMap<String, Arc<Mutex<Slot>>>>> = OnceLock::new();
    let key = format!("{}\0{}", login.account, login.store.file.display());
    SLOTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_default()
        .clone()
}

/// An access token to log in with. `rejected` is the token the server just
/// refused: a fresh one is fetched, unless another connection of this
/// process already did. Connections of one account share one refresh.
pub fn access_token(login: &OAuth2Login, rejected: Option<&str>) -> Result<String, TokenError> {
    let slot = slot(login);
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    let now = now();
    let stale = |t: &TokenSet| needs_refresh(t, now) || rejected == Some(t.access_token.as_str());
    if slot.tokens.as_ref().is_none_or(stale) {
        // Another process (or a new `imapdir auth`) may have stored newer ones.
        let stored = login
            .store
            .load()
            .map_err(|e| login.failed(format!("cannot read the OAuth2 login: {e}")))?;
        match stored {
            Some((tokens, _)) => slot.tokens = Some(tokens),
            None if slot.tokens.is_none() => {
                return Err(login.login_needed(not_found_reason(login)));
            }
            None => {}
        }
    }
    let tokens = slot.tokens.clone().expect("loaded above");
    if tokens.client_id != login.client.client_id {
        return Err(login.login_needed(
            "the stored login was made with another oauth2_client_id than the configured one",
        ));
    }
    if !stale(&tokens) {
        return Ok(tokens.access_token);
    }
    if let Some((dead, reason)) = &slot.dead {
        if *dead == tokens.refresh_token {
            return Err(login.login_needed(reason.clone()));
        }
    }
    let grant = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh_token.as_str()),
        ("scope", login.client.scopes.as_str()),
    ];
    match token_request(login, &grant, Some(&tokens.refresh_token)) {
        Ok(fresh) => {
            if let Err(e) = login.store.save(&fresh) {
                eprintln!(
                    "imapdir: {}: cannot keep the refreshed OAuth2 token: {e}",
                    login.account
                );
            }
            let access = fresh.access_token.clone();
            slot.tokens = Some(fresh);
            Ok(access)
        }
        Err((Some(refusal), _)) if refusal.needs_user() => {
            let mut reason = format!("the refresh token was refused: {}", refusal.in_words());
            if login.client.is_google() && refusal.code == "invalid_grant" {
                reason.push_str(
                    " (a Google client left in \"testing\" on its OAuth consent screen issues \
                     refresh tokens that expire after 7 days: publish it to get lasting ones)",
                );
            }
            slot.dead = Some((tokens.refresh_token.clone(), reason.clone()));
            Err(login.login_needed(reason))
        }
        Err((_, e)) => Err(e),
    }
}

fn not_found_reason(login: &OAuth2Login) -> String {
    let mut reason = "no OAuth2 login is stored for it yet".to_string();
    if login.store.choice == StoreChoice::Auto && !TokenStore::keyring_reachable() {
        reason.push_str(&format!(
            " (looked in {}; a login kept in the keyring from a desktop session cannot be read \
             where no session D-Bus runs, as in cron: set oauth2_token_store = \"file\" and \
             log in again)",
            login.store.file.display()
        ));
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(obtained_at: u64, expires_in: Option<u64>) -> TokenSet {
        TokenSet {
            access_token: "a".into(),
            refresh_token: "r".into(),
            obtained_at,
            expires_in,
            client_id: "c".into(),
        }
    }

    #[test]
    fn tokens_are_refreshed_a_minute_or_a_third_of_their_life_early() {
        let hour = set(1000, Some(3600));
        assert!(!needs_refresh(&hour, 1000 + 3539));
        assert!(needs_refresh(&hour, 1000 + 3540));
        let short = set(1000, Some(6));
        assert!(!needs_refresh(&short, 1003));
        assert!(needs_refresh(&short, 1004));
        assert!(
            !needs_refresh(&set(0, None), u64::MAX / 2),
            "no lifetime: until refused"
        );
    }

    #[test]
    fn token_answers_are_read_leniently_and_checked() {
        let t = tokens_from(
            &json!({"access_token": "a1", "refresh_token": "r1", "expires_in": "3599",
                    "token_type": "Bearer"}),
            "cid",
            None,
        )
        .unwrap();
        assert_eq!(
            (t.access_token.as_str(), t.refresh_token.as_str()),
            ("a1", "r1")
        );
        assert_eq!(t.expires_in, Some(3599));
        let kept = tokens_from(
            &json!({"access_token": "a2", "expires_in": 60}),
            "c",
            Some("r1"),
        )
        .unwrap();
        assert_eq!(kept.refresh_token, "r1");
        let err = tokens_from(&json!({"access_token": "a2"}), "c", None).unwrap_err();
        assert!(err.contains("offline_access"), "{err}");
        assert!(tokens_from(&json!({"token_type": "bearer"}), "c", None).is_err());
        assert!(tokens_from(
            &json!({"access_token": "x", "token_type": "mac"}),
            "c",
            Some("r")
        )
        .is_err());
    }

    #[test]
    fn refusals_are_said_in_words() {
        let r = |code: &str| Refusal {
            code: code.into(),
            description: None,
        };
        assert!(r("invalid_grant").in_words().contains("revoked"));
        assert!(r("access_denied").in_words().contains("declined"));
        assert!(r("slow_down").in_words().contains("more slowly"));
        assert!(r("invalid_client").in_words().contains("borrowed"));
        let odd = Refusal {
            code: "weird".into(),
            description: Some("Nope.".into()),
        };
        assert_eq!(
            odd.in_words(),
            "the authorization server refused the request (weird); the server said: \"Nope.\""
        );
        assert!(!r("temporarily_unavailable").needs_user());
        assert!(r("invalid_grant").needs_user());
    }
}
