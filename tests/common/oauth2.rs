//! A token introspection endpoint (RFC 7662) on loopback for Dovecot's
//! oauth2 passdb: listed tokens are active for their user (until they
//! expire, for those added with a lifetime), every other token is
//! refused. Tokens can be added and revoked while it runs, and it counts
//! the checks it answered and those it refused.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Token -> (user, end of life).
type Tokens = Arc<Mutex<HashMap<String, (String, Option<Instant>)>>>;

#[derive(Clone)]
pub struct Introspection {
    port: u16,
    tokens: Tokens,
    checks: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl Introspection {
    /// Serves until the test process ends; `tokens` are (token, user).
    pub fn start(tokens: &[(&str, &str)]) -> Introspection {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tokens = Arc::new(Mutex::new(
            tokens
                .iter()
                .map(|(t, u)| (t.to_string(), (u.to_string(), None)))
                .collect::<HashMap<_, _>>(),
        ));
        let checks = Arc::new(AtomicUsize::new(0));
        let refused = Arc::new(AtomicUsize::new(0));
        let (known, counted, no) = (tokens.clone(), checks.clone(), refused.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let known = known.clone();
                let counted = counted.clone();
                let no = no.clone();
                thread::spawn(move || {
                    let _ = answer(stream, &known, &counted, &no);
                });
            }
        });
        Introspection {
            port,
            tokens,
            checks,
            refused,
        }
    }

    /// Makes `token` active for `user`, for `life` when given.
    pub fn add(&self, token: &str, user: &str, life: Option<Duration>) {
        self.tokens.lock().unwrap().insert(
            token.to_string(),
            (user.to_string(), life.map(|l| Instant::now() + l)),
        );
    }

    /// How many of the checks found the token inactive.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    pub fn revoke(&self, token: &str) {
        self.tokens.lock().unwrap().remove(token);
    }

    /// How many tokens it was asked about.
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

fn answer(
    stream: std::net::TcpStream,
    tokens: &Mutex<HashMap<String, (String, Option<Instant>)>>,
    checks: &AtomicUsize,
    refused: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    let mut bearer = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("authorization") {
                bearer = value.strip_prefix("Bearer ").map(str::to_string);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let body = String::from_utf8_lossy(&body);
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(percent_decode)
        .or(bearer)
        .unwrap_or_default();
    checks.fetch_add(1, Ordering::SeqCst);
    let user = tokens
        .lock()
        .unwrap()
        .get(&token)
        .filter(|(_, end)| end.is_none_or(|end| Instant::now() < end))
        .map(|(user, _)| user.clone());
    let json = match user {
        Some(user) => format!("{{\"active\": true, \"username\": \"{user}\"}}"),
        None => {
            refused.fetch_add(1, Ordering::SeqCst);
            "{\"active\": false}".to_string()
        }
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    stream.flush()
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
