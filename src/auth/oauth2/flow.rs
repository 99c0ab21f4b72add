//! The two ways `imapdir auth` logs in: the authorization-code flow with
//! PKCE and a loopback redirect (RFC 7636, RFC 8252), and the device
//! authorization grant (RFC 8628) for a machine without a browser. Both
//! end with tokens from the token endpoint; what the user must do is said
//! on stderr.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, HttpError};
use super::loopback::{Loopback, Redirect};
use super::pkce::{random_text, with_query, Pkce};
use super::{token_request, OAuth2Login, Refusal, TokenError, TokenSet};

/// How long the browser flow waits for the redirect.
const BROWSER_WAIT: Duration = Duration::from_secs(300);

/// Whether a browser can be opened here: a graphical session (or macOS).
pub fn browser_available() -> bool {
    cfg!(target_os = "macos")
        || ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
}

fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

fn fail(login: &OAuth2Login, message: impl Into<String>) -> TokenError {
    TokenError::Failed {
        account: login.account.clone(),
        message: message.into(),
    }
}

/// The redirect URI for a loopback port. Microsoft matches `http://localhost`
/// registered for "Mobile and desktop applications" with any port, and not
/// 127.0.0.1; everyone else gets the loopback address RFC 8252 recommends.
pub fn redirect_uri(login: &OAuth2Login, port: u16) -> String {
    let host = if login.client.is_microsoft() {
        "localhost"
    } else {
        "127.0.0.1"
    };
    format!("http://{host}:{port}/")
}

/// The authorization URL the browser opens.
pub fn authorization_url(
    login: &OAuth2Login,
    auth_url: &str,
    redirect: &str,
    state: &str,
    pkce: &Pkce,
) -> String {
    let client = &login.client;
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", redirect),
        ("scope", client.scopes.as_str()),
        ("state", state),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("login_hint", login.user.as_str()),
    ];
    if client.is_google() {
        // Without these Google gives a refresh token at the first consent only.
        pairs.push(("access_type", "offline"));
        pairs.push(("prompt", "consent"));
    }
    with_query(auth_url, &pairs)
}

/// The browser flow: prints the URL (and opens a browser where one can be),
/// waits for the redirect, trades the code for tokens.
pub fn authorization_code(
    login: &OAuth2Login,
    may_open_browser: bool,
) -> Result<TokenSet, TokenError> {
    let auth_url = login.client.auth_url.as_deref().ok_or_else(|| {
        fail(
            login,
            "oauth2_auth_url is not set (no provider preset gives one): set it, or log in with \
             --device",
        )
    })?;
    http::check_url("oauth2_auth_url", auth_url).map_err(|e| fail(login, e))?;
    let listener = Loopback::bind(login.client.redirect_port).map_err(|e| {
        fail(
            login,
            format!(
                "cannot listen on 127.0.0.1:{} for the redirect: {e}",
                login.client.redirect_port
            ),
        )
    })?;
    let redirect = redirect_uri(login, listener.port());
    let state = random_text(16).map_err(|e| fail(login, e))?;
    let pkce = Pkce::new().map_err(|e| fail(login, e))?;
    let url = authorization_url(login, auth_url, &redirect, &state, &pkce);
    eprintln!(
        "imapdir: {}: open this address in a browser on this machine and log in as {}:\n\n  \
         {url}\n",
        login.account, login.user
    );
    if may_open_browser && browser_available() && open_browser(&url) {
        eprintln!("imapdir: a browser was opened; waiting for it to come back…");
    } else {
        eprintln!(
            "imapdir: waiting for the browser to come back to {redirect} (on another machine, \
             forward the port first: ssh -L {port}:127.0.0.1:{port} THIS-HOST, or use \
             `{} --device`)",
            login.relogin,
            port = listener.port()
        );
    }
    let code = match listener
        .wait(&state, Instant::now() + BROWSER_WAIT)
        .map_err(|e| fail(login, e))?
    {
        Redirect::Code(code) => code,
        Redirect::Refused(r) => return Err(fail(login, r.in_words())),
    };
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    token_request(login, &grant, None).map_err(|(_, e)| e)
}

/// A device authorization answer (RFC 8628 §3.2).
struct DeviceGrant {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_in: u64,
    interval: u64,
}

fn device_grant(json: &Value) -> Result<DeviceGrant, String> {
    let text = |k: &str| json.get(k).and_then(Value::as_str).map(str::to_string);
    let number = |k: &str| {
        json.get(k).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    Ok(DeviceGrant {
        device_code: text("device_code").ok_or("the device endpoint gave no device_code")?,
        user_code: http::printable(
            &text("user_code").ok_or("the device endpoint gave no user_code")?,
        ),
        // Google spells it verification_url.
        verification_uri: http::printable(
            &text("verification_uri")
                .or_else(|| text("verification_url"))
                .ok_or("the device endpoint gave no verification_uri")?,
        ),
        verification_uri_complete: text("verification_uri_complete").map(|u| http::printable(&u)),
        expires_in: number("expires_in").unwrap_or(600),
        interval: number("interval").unwrap_or(5).max(1),
    })
}

/// The device flow: prints where to go and the code to enter, then polls
/// the token endpoint until the login is approved, denied or expired.
pub fn device(login: &OAuth2Login) -> Result<TokenSet, TokenError> {
    let client = &login.client;
    let device_url = client.device_url.as_deref().ok_or_else(|| {
        fail(
            login,
            "oauth2_device_url is not set (no provider preset gives one): set it, or log in \
             in a browser (without --device)",
        )
    })?;
    http::check_url("oauth2_device_url", device_url).map_err(|e| fail(login, e))?;
    let mut form = vec![
        ("client_id", client.client_id.as_str()),
        ("scope", client.scopes.as_str()),
    ];
    let secret = client.secret().map_err(|e| fail(login, e))?;
    if let Some(s) = secret.as_deref() {
        form.push(("client_secret", s));
    }
    let json = match http::post_form("device authorization endpoint", device_url, &form) {
        Ok(json) => json,
        Err(HttpError::Refused(r)) => return Err(fail(login, r.in_words())),
        Err(HttpError::Failed(m)) => return Err(fail(login, m)),
    };
    let grant = device_grant(&json).map_err(|e| fail(login, e))?;
    eprintln!(
        "imapdir: {}: on any device with a browser, open {} and enter the code {} (log in as {})",
        login.account, grant.verification_uri, grant.user_code, login.user
    );
    if let Some(complete) = &grant.verification_uri_complete {
        eprintln!("imapdir: or open {complete}, which carries the code");
    }
    let deadline = Instant::now() + Duration::from_secs(grant.expires_in);
    let mut interval = Duration::from_secs(grant.interval);
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", grant.device_code.as_str()),
    ];
    loop {
        std::thread::sleep(interval);
        match token_request(login, &poll, None) {
            Ok(tokens) => return Ok(tokens),
            Err((Some(Refusal { code, .. }), _)) if code == "authorization_pending" => {}
            Err((Some(r), _)) if r.code == "slow_down" => {
                // RFC 8628 §3.5: five seconds more, from now on.
                interval += Duration::from_secs(5);
                eprintln!(
                    "imapdir: {}; asking every {} seconds from now on",
                    r.in_words(),
                    interval.as_secs()
                );
            }
            Err((Some(r), _)) if r.code == "expired_token" => {
                return Err(fail(
                    login,
                    format!("{}; run `{} --device` again", r.in_words(), login.relogin),
                ))
            }
            Err((_, e)) => return Err(e),
        }
        if Instant::now() + interval > deadline {
            return Err(fail(
                login,
                format!(
                    "the code {} was not entered in time; run `{} --device` again",
                    grant.user_code, login.relogin
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::oauth2::{Client, ClientSecret, StoreChoice, TokenStore};
    use serde_json::json;

    fn login(auth: &str, token: &str) -> OAuth2Login {
        OAuth2Login {
            account: "a".into(),
            user: "me@example.org".into(),
            client: Client {
                client_id: "cid".into(),
                client_secret: ClientSecret::None,
                auth_url: Some(auth.into()),
                token_url: token.into(),
                device_url: None,
                scopes: "s1 s2".into(),
                redirect_port: 0,
            },
            store: TokenStore {
                choice: StoreChoice::File,
                file: "/nonexistent/a.oauth2".into(),
                account: "a".into(),
                user: "me@example.org".into(),
            },
            relogin: "imapdir auth a".into(),
        }
    }

    #[test]
    fn the_url_carries_pkce_and_each_providers_rules() {
        let google = login(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "https://oauth2.googleapis.com/token",
        );
        let pkce = Pkce::from_verifier("v".repeat(43));
        let url = authorization_url(
            &google,
            google.client.auth_url.as_deref().unwrap(),
            &redirect_uri(&google, 5),
            "st",
            &pkce,
        );
        assert!(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=cid&redirect_uri=http%3A%2F%2F127.0.0.1%3A5%2F&scope=s1%20s2&state=st&code_challenge="), "{url}");
        assert!(url.contains("code_challenge_method=S256"));
        assert!(url.contains("access_type=offline&prompt=consent"));
        assert!(!url.contains(&pkce.verifier), "the verifier stays here");
        let microsoft = login(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        );
        assert_eq!(redirect_uri(&microsoft, 8080), "http://localhost:8080/");
        let url = authorization_url(
            &microsoft,
            "https://login.microsoftonline.com/x",
            "r",
            "st",
            &pkce,
        );
        assert!(!url.contains("access_type"));
    }

    #[test]
    fn device_answers_take_both_spellings() {
        let g = device_grant(&json!({"device_code": "d", "user_code": "AB-CD",
            "verification_url": "https://www.google.com/device", "expires_in": 1800,
            "interval": 5}))
        .unwrap();
        assert_eq!(g.verification_uri, "https://www.google.com/device");
        assert_eq!((g.expires_in, g.interval), (1800, 5));
        let m = device_grant(&json!({"device_code": "d", "user_code": "X",
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": "900"}))
        .unwrap();
        assert_eq!((m.expires_in, m.interval), (900, 5));
        assert!(device_grant(&json!({"user_code": "X"})).is_err());
    }
}
