//! A tiny HTTP/1.1 server on loopback serving fixed documents by path
//! (query left out), 404 for the rest, and the paths it was asked for.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

pub struct StaticHttp {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl StaticHttp {
    /// Serves `documents` (path, body) until the test process ends.
    pub fn start(documents: Vec<(String, String)>) -> StaticHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split(' ').nth(1).unwrap_or("").to_string();
                loop {
                    let mut header = String::new();
                    match reader.read_line(&mut header) {
                        Ok(0) | Err(_) => break,
                        Ok(_) if header.trim().is_empty() => break,
                        Ok(_) => {}
                    }
                }
                log.lock().unwrap().push(target.clone());
                let path = target.split('?').next().unwrap_or("");
                let (status, body) = match documents.iter().find(|(p, _)| p == path) {
                    Some((_, body)) => ("200 OK", body.as_str()),
                    None => ("404 Not Found", "not here"),
                };
                let mut w = stream;
                let _ = write!(
                    w,
                    "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        StaticHttp { port, requests }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request target so far (path and query).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
