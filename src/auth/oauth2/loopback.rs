//! The loopback redirect of the browser flow (RFC 8252 §7.3): a listener
//! on 127.0.0.1 that waits for the browser to come back with `code` and
//! `state` in the query.
//!
//! Hand-written on `std::net` rather than an HTTP server crate: the only
//! request that matters is one `GET /?code=…&state=…` from the user's own
//! browser, so reading the request line (and skipping the headers) and
//! answering with a fixed page is all of HTTP this needs. Requests for
//! other paths (a browser's `/favicon.ico`) get a 404, and a redirect whose
//! `state` is not ours (another page aiming at the port) is answered and
//! ignored.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::pkce::query_pairs;
use super::Refusal;

/// What came back to the redirect URI.
#[derive(Debug, PartialEq, Eq)]
pub enum Redirect {
    Code(String),
    Refused(Refusal),
}

/// The listener(s): 127.0.0.1, and ::1 on the same port where it can (a
/// browser may try `localhost` over IPv6 first).
pub struct Loopback {
    listeners: Vec<TcpListener>,
    port: u16,
}

/// Longest time a connection may take to send its request line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Loopback {
    /// Listens on `port` (0: any free port).
    pub fn bind(port: u16) -> std::io::Result<Loopback> {
        let v4 = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
        let port = v4.local_addr()?.port();
        let mut listeners = vec![v4];
        if let Ok(v6) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port))) {
            listeners.push(v6);
        }
        for l in &listeners {
            l.set_nonblocking(true)?;
        }
        Ok(Loopback { listeners, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits until `deadline` for the redirect carrying `state`.
    pub fn wait(&self, state: &str, deadline: Instant) -> Result<Redirect, String> {
        loop {
            let mut accepted = false;
            for listener in &self.listeners {
                match listener.accept() {
                    Ok((stream, _)) => {
                        accepted = true;
                        if let Some(redirect) = answer(stream, state) {
                            return Ok(redirect);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(format!("the loopback redirect failed: {e}")),
                }
            }
            if Instant::now() >= deadline {
                return Err(
                    "no browser came back to the redirect in time; run the command again".into(),
                );
            }
            if !accepted {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Reads one request and answers it; the redirect when it is ours.
fn answer(stream: TcpStream, state: &str) -> Option<Redirect> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(REQUEST_TIMEOUT));
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader
        .by_ref()
        .take(8192)
        .read_line(&mut request_line)
        .ok()?;
    // Skip the headers, up to the blank line (bounded).
    for _ in 0..100 {
        let mut line = String::new();
        match reader.by_ref().take(8192).read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.trim_end().is_empty() => break,
            Ok(_) => {}
        }
    }
    let (status, page, result) = match parse_request(&request_line, state) {
        Parsed::Ours(Redirect::Code(code)) => (
            "200 OK",
            "imapdir is logged in. You can close this tab.".to_string(),
            Some(Redirect::Code(code)),
        ),
        Parsed::Ours(Redirect::Refused(r)) => (
            "200 OK",
            format!("imapdir was not logged in: {}", r.in_words()),
            Some(Redirect::Refused(r)),
        ),
        Parsed::NotOurs => (
            "400 Bad Request",
            "This is not the login imapdir is waiting for.".to_string(),
            None,
        ),
        Parsed::Elsewhere => ("404 Not Found", "Not found.".to_string(), None),
    };
    let body = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>imapdir</title></head>\
         <body><p>{}</p></body></html>",
        html_escape(&page)
    );
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
    result
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Ours(Redirect),
    /// The redirect path, but without our state (or without a code).
    NotOurs,
    /// Another path.
    Elsewhere,
}

/// Reads `GET /?code=…&state=… HTTP/1.1`.
fn parse_request(line: &str, state: &str) -> Parsed {
    let mut parts = line.split_whitespace();
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return Parsed::Elsewhere;
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if path != "/" {
        return Parsed::Elsewhere;
    }
    let pairs = query_pairs(query);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    if get("state").as_deref() != Some(state) {
        return Parsed::NotOurs;
    }
    if let Some(code) = get("error") {
        return Parsed::Ours(Redirect::Refused(Refusal {
            code: super::http::printable(&code),
            description: get("error_description").map(|d| super::http::printable(&d)),
        }));
    }
    match get("code").filter(|c| !c.is_empty()) {
        Some(code) => Parsed::Ours(Redirect::Code(code)),
        None => Parsed::NotOurs,
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_line_gives_the_code_or_the_error() {
        assert_eq!(
            parse_request("GET /?code=c%2F1&state=s1 HTTP/1.1\r\n", "s1"),
            Parsed::Ours(Redirect::Code("c/1".into()))
        );
        assert_eq!(
            parse_request(
                "GET /?error=access_denied&error_description=No+way&state=s1 HTTP/1.1",
                "s1"
            ),
            Parsed::Ours(Redirect::Refused(Refusal {
                code: "access_denied".into(),
                description: Some("No way".into())
            }))
        );
        assert_eq!(
            parse_request("GET /?code=c&state=other HTTP/1.1", "s1"),
            Parsed::NotOurs
        );
        assert_eq!(
            parse_request("GET /?state=s1 HTTP/1.1", "s1"),
            Parsed::NotOurs
        );
        assert_eq!(
            parse_request("GET /favicon.ico HTTP/1.1", "s1"),
            Parsed::Elsewhere
        );
        assert_eq!(
            parse_request("POST /?code=c&state=s1 HTTP/1.1", "s1"),
            Parsed::Elsewhere
        );
        assert_eq!(parse_request("", "s1"), Parsed::Elsewhere);
    }

    #[test]
    fn a_browser_request_is_answered_and_returned() {
        let lb = Loopback::bind(0).unwrap();
        let port = lb.port();
        let browser = std::thread::spawn(move || {
            use std::io::Read;
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut page = String::new();
            s.read_to_string(&mut page).unwrap();
            assert!(page.starts_with("HTTP/1.1 404"), "{page}");
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /?state=st&code=abc HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut page = String::new();
            s.read_to_string(&mut page).unwrap();
            page
        });
        let got = lb
            .wait("st", Instant::now() + Duration::from_secs(20))
            .unwrap();
        assert_eq!(got, Redirect::Code("abc".into()));
        assert!(browser.join().unwrap().contains("logged in"));
    }
}
