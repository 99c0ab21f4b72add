//! A small OAuth2 authorization server on loopback, for `imapdir auth` and
//! the refreshes after it: `/authorize` (checks the client, a loopback
//! redirect URI and an S256 code challenge, then redirects with a code),
//! `/token` (authorization_code with the verifier checked, refresh_token,
//! and the device_code grant with authorization_pending, slow_down,
//! access_denied and expired_token), `/device` (RFC 8628 device
//! authorization). Access tokens it issues are registered, with their
//! lifetime, at an [`Introspection`] endpoint that Dovecot asks, so Dovecot
//! accepts exactly what this server handed out. Refresh and access tokens
//! can be revoked; every token handed out is remembered, so a test can
//! check none shows in any output; requests are counted per grant.
//!
//! Also the test's browser: [`browse`] follows the authorization URL to
//! the redirect, as a user's browser would.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::oauth2::{percent_decode, Introspection};

pub const CLIENT_ID: &str = "imapdir-test-client";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeviceState {
    Pending,
    Approved,
    Denied,
}

struct Device {
    user_code: String,
    state: DeviceState,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    /// code -> (challenge, redirect_uri)
    codes: HashMap<String, (String, String)>,
    /// refresh token -> still valid
    refresh: HashMap<String, bool>,
    devices: HashMap<String, Device>,
    /// Every secret handed out: codes, tokens, device codes.
    issued: Vec<String>,
    access: Vec<String>,
    /// Answer the next authorization with access_denied.
    deny_authorize: bool,
    /// Answer this many device polls with slow_down first.
    slow_downs: usize,
}

/// Requests by kind.
#[derive(Default)]
pub struct Counts {
    pub authorize: AtomicUsize,
    pub code_grants: AtomicUsize,
    pub refresh_grants: AtomicUsize,
    pub device_requests: AtomicUsize,
    pub device_polls: AtomicUsize,
}

#[derive(Clone)]
pub struct AuthServer {
    port: u16,
    pub introspection: Introspection,
    user: String,
    /// Lifetime of the access tokens it issues.
    access_life: Arc<Mutex<Duration>>,
    inner: Arc<Mutex<Inner>>,
    pub counts: Arc<Counts>,
    serial: Arc<AtomicUsize>,
}

impl AuthServer {
    /// Serves until the test process ends; tokens are for `user`.
    pub fn start(user: &str) -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = AuthServer {
            port: listener.local_addr().unwrap().port(),
            introspection: Introspection::start(&[]),
            user: user.to_string(),
            access_life: Arc::new(Mutex::new(Duration::from_secs(3600))),
            inner: Arc::default(),
            counts: Arc::default(),
            serial: Arc::default(),
        };
        let s = server.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                thread::spawn(move || {
                    let _ = s.serve(stream);
                });
            }
        });
        server
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The account's `oauth2_*` lines for this server (file store).
    pub fn config_lines(&self) -> Vec<String> {
        vec![
            format!("oauth2_client_id = {CLIENT_ID:?}"),
            format!("oauth2_auth_url = \"{}/authorize\"", self.base()),
            format!("oauth2_token_url = \"{}/token\"", self.base()),
            format!("oauth2_device_url = \"{}/device\"", self.base()),
            "oauth2_scopes = \"mail offline\"".to_string(),
        ]
    }

    pub fn set_access_life(&self, life: Duration) {
        *self.access_life.lock().unwrap() = life;
    }

    pub fn deny_next_authorization(&self) {
        self.inner.lock().unwrap().deny_authorize = true;
    }

    pub fn slow_down(&self, polls: usize) {
        self.inner.lock().unwrap().slow_downs = polls;
    }

    /// Approves (or denies) the device login with this user code.
    pub fn decide_device(&self, user_code: &str, approve: bool) {
        let mut inner = self.inner.lock().unwrap();
        let device = inner
            .devices
            .values_mut()
            .find(|d| d.user_code == user_code)
            .unwrap_or_else(|| panic!("no device login with the code {user_code}"));
        device.state = if approve {
            DeviceState::Approved
        } else {
            DeviceState::Denied
        };
    }

    /// Ends every refresh token (and, with `access`, every access token).
    pub fn revoke_all(&self, access: bool) {
        let mut inner = self.inner.lock().unwrap();
        for valid in inner.refresh.values_mut() {
            *valid = false;
        }
        if access {
            for token in &inner.access {
                self.introspection.revoke(token);
            }
        }
    }

    /// Ends every access token issued so far, leaving the refresh tokens.
    pub fn revoke_access_tokens(&self) {
        for token in &self.inner.lock().unwrap().access {
            self.introspection.revoke(token);
        }
    }

    /// Every code and token handed out so far.
    pub fn issued(&self) -> Vec<String> {
        self.inner.lock().unwrap().issued.clone()
    }

    pub fn count(&self, which: fn(&Counts) -> &AtomicUsize) -> usize {
        which(&self.counts).load(Ordering::SeqCst)
    }

    fn fresh(&self, kind: &str) -> String {
        let n = self.serial.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let token = format!("{kind}-{n}-{nanos:08x}x{}", std::process::id());
        self.inner.lock().unwrap().issued.push(token.clone());
        token
    }

    /// A token answer: a new access token (registered for Dovecot) and
    /// the refresh token given or a new one.
    fn tokens(&self, refresh: Option<String>) -> (u16, String) {
        let access = self.fresh("at");
        let life = *self.access_life.lock().unwrap();
        self.introspection.add(&access, &self.user, Some(life));
        let refresh = refresh.unwrap_or_else(|| {
            let r = self.fresh("rt");
            self.inner.lock().unwrap().refresh.insert(r.clone(), true);
            r
        });
        self.inner.lock().unwrap().access.push(access.clone());
        (
            200,
            format!(
                "{{\"access_token\":\"{access}\",\"token_type\":\"Bearer\",\"expires_in\":{},\
                 \"refresh_token\":\"{refresh}\"}}",
                life.as_secs()
            ),
        )
    }

    fn serve(&self, stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request = String::new();
        reader.read_line(&mut request)?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                break;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body)?;
        let mut parts = request.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let form = pairs(if method == "POST" {
            std::str::from_utf8(&body).unwrap_or("")
        } else {
            query
        });
        let get = |k: &str| form.get(k).cloned().unwrap_or_default();
        let mut stream = stream;
        if method == "GET" && path == "/authorize" {
            self.counts.authorize.fetch_add(1, Ordering::SeqCst);
            let redirect = get("redirect_uri");
            let loopback = redirect.starts_with("http://127.0.0.1:")
                || redirect.starts_with("http://localhost:");
            if get("client_id") != CLIENT_ID
                || !loopback
                || get("code_challenge_method") != "S256"
                || get("code_challenge").len() != 43
                || get("response_type") != "code"
                || get("state").is_empty()
            {
                return respond(
                    &mut stream,
                    400,
                    "text/plain",
                    "bad authorization request",
                    None,
                );
            }
            let state = get("state");
            let deny = std::mem::take(&mut self.inner.lock().unwrap().deny_authorize);
            let location = if deny {
                format!("{redirect}?error=access_denied&error_description=The+user+said+no&state={state}")
            } else {
                let code = self.fresh("code");
                self.inner
                    .lock()
                    .unwrap()
                    .codes
                    .insert(code.clone(), (get("code_challenge"), redirect.clone()));
                format!("{redirect}?code={code}&state={state}")
            };
            return respond(&mut stream, 302, "text/plain", "", Some(&location));
        }
        if method == "POST" && path == "/device" {
            self.counts.device_requests.fetch_add(1, Ordering::SeqCst);
            if get("client_id") != CLIENT_ID {
                return error(&mut stream, 401, "invalid_client");
            }
            let device_code = self.fresh("dc");
            let n = self.serial.fetch_add(1, Ordering::SeqCst);
            let user_code = format!("WDJB-{n:04}");
            self.inner.lock().unwrap().devices.insert(
                device_code.clone(),
                Device {
                    user_code: user_code.clone(),
                    state: DeviceState::Pending,
                    expires: Instant::now() + Duration::from_secs(60),
                },
            );
            let json = format!(
                "{{\"device_code\":\"{device_code}\",\"user_code\":\"{user_code}\",\
                 \"verification_uri\":\"{}/activate\",\"expires_in\":60,\"interval\":1}}",
                self.base()
            );
            return respond(&mut stream, 200, "application/json", &json, None);
        }
        if method == "POST" && path == "/token" {
            if get("client_id") != CLIENT_ID {
                return error(&mut stream, 401, "invalid_client");
            }
            let (status, json) = match get("grant_type").as_str() {
                "authorization_code" => {
                    self.counts.code_grants.fetch_add(1, Ordering::SeqCst);
                    let known = self.inner.lock().unwrap().codes.remove(&get("code"));
                    match known {
                        Some((challenge, redirect))
                            if redirect == get("redirect_uri")
                                && s256(&get("code_verifier")) == challenge =>
                        {
                            self.tokens(None)
                        }
                        _ => oauth_error("invalid_grant", "The code is unknown, used or wrong."),
                    }
                }
                "refresh_token" => {
                    self.counts.refresh_grants.fetch_add(1, Ordering::SeqCst);
                    let token = get("refresh_token");
                    let valid = self.inner.lock().unwrap().refresh.get(&token) == Some(&true);
                    if valid {
                        self.tokens(Some(token))
                    } else {
                        oauth_error("invalid_grant", "Token has been expired or revoked.")
                    }
                }
                "urn:ietf:params:oauth:grant-type:device_code" => {
                    self.counts.device_polls.fetch_add(1, Ordering::SeqCst);
                    let mut inner = self.inner.lock().unwrap();
                    let slow = inner.slow_downs > 0;
                    if slow {
                        inner.slow_downs -= 1;
                    }
                    let state = inner
                        .devices
                        .get(&get("device_code"))
                        .map(|d| (d.state, d.expires));
                    drop(inner);
                    match state {
                        None => oauth_error("invalid_grant", "Unknown device code."),
                        Some(_) if slow => oauth_error("slow_down", ""),
                        Some((_, end)) if Instant::now() > end => oauth_error("expired_token", ""),
                        Some((DeviceState::Pending, _)) => oauth_error("authorization_pending", ""),
                        Some((DeviceState::Denied, _)) => {
                            oauth_error("access_denied", "The user declined.")
                        }
                        Some((DeviceState::Approved, _)) => {
                            self.inner
                                .lock()
                                .unwrap()
                                .devices
                                .remove(&get("device_code"));
                            self.tokens(None)
                        }
                    }
                }
                _ => oauth_error("unsupported_grant_type", ""),
            };
            return respond(&mut stream, status, "application/json", &json, None);
        }
        respond(&mut stream, 404, "text/plain", "not found", None)
    }
}

fn oauth_error(code: &str, description: &str) -> (u16, String) {
    (
        400,
        format!("{{\"error\":\"{code}\",\"error_description\":\"{description}\"}}"),
    )
}

fn error(stream: &mut TcpStream, status: u16, code: &str) -> std::io::Result<()> {
    let (_, json) = oauth_error(code, "");
    respond(stream, status, "application/json", &json, None)
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    kind: &str,
    body: &str,
    location: Option<&str>,
) -> std::io::Result<()> {
    let location = location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n{location}\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()
}

fn pairs(text: &str) -> HashMap<String, String> {
    text.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

fn s256(verifier: &str) -> String {
    openssl::base64::encode_block(&openssl::sha::sha256(verifier.as_bytes()))
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// One plain-HTTP GET: (status, Location header, body).
pub fn http_get(url: &str) -> (u16, Option<String>, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let host = authority.replace("localhost", "127.0.0.1");
    let mut stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let location = head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case("location"))
            .map(|(_, v)| v.trim().to_string())
    });
    (status, location, body.to_string())
}

/// The browser: opens the authorization URL, follows its redirect to the
/// loopback listener, and returns the page shown there.
pub fn browse(authorization_url: &str) -> String {
    let (status, location, body) = http_get(authorization_url);
    assert_eq!(status, 302, "the authorization page said: {body}");
    let (_, _, page) = http_get(&location.expect("a redirect"));
    page
}

/// Waits up to 60 s for a line of `file` that contains `needle`, and
/// returns that line.
pub fn wait_for_line(file: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {needle:?} in {}:\n{text}",
            file.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
}
