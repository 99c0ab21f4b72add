//! A tiny scripted IMAP server for what a real Dovecot will not do: list
//! hostile folder names, answer a FETCH with an unparsable response, or
//! send `[ALERT]`s, or refuse new keywords in its PERMANENTFLAGS.
//! One message per non-empty folder; plaintext, any login accepted.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// What the fake server holds.
#[derive(Clone, Debug, Default)]
pub struct FakeScript {
    /// Raw LIST name tokens as sent on the wire (quoted strings or literals).
    pub list_names: Vec<Vec<u8>>,
    /// Folders (as the client names them in SELECT) holding one message.
    pub with_message: Vec<String>,
    /// Folder whose FETCH answers are garbage.
    pub broken: Option<String>,
    /// Sent as `* OK [ALERT] <text>` at every login and SELECT.
    pub alert: Option<String>,
    /// Every login is refused with `NO [ALERT] <text>`.
    pub refuse_login: Option<String>,
    /// The capabilities announced instead of `IMAP4rev1 UIDPLUS AUTH=PLAIN`.
    pub capabilities: Option<String>,
    /// Sent as `* OK [PERMANENTFLAGS (<flags>)]` at every SELECT.
    pub permanent_flags: Option<String>,
}

pub struct FakeServer {
    port: u16,
    stop: Arc<AtomicBool>,
    logins: Arc<AtomicUsize>,
}

/// The one message of a non-empty folder.
pub fn fake_message(folder: &str) -> Vec<u8> {
    format!(
        "From: a@example.org\r\nSubject: in {folder}\r\nMessage-ID: <fake.{}@test>\r\n\r\nbody of {folder}\r\n",
        folder.len()
    )
    .into_bytes()
}

impl FakeServer {
    pub fn start(script: FakeScript) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let logins = Arc::new(AtomicUsize::new(0));
        let logins2 = logins.clone();
        thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let script = script.clone();
                        let logins = logins2.clone();
                        thread::spawn(move || {
                            let _ = serve(s, &script, &logins);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeServer { port, stop, logins }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Logins so far, refused ones included.
    pub fn logins(&self) -> usize {
        self.logins.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn unquote(arg: &str) -> String {
    arg.trim().trim_matches('"').to_string()
}

fn serve(stream: TcpStream, script: &FakeScript, logins: &AtomicUsize) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    let caps = script
        .capabilities
        .clone()
        .unwrap_or_else(|| "IMAP4rev1 UIDPLUS AUTH=PLAIN".into());
    w.write_all(format!("* OK [CAPABILITY {caps}] fake ready\r\n").as_bytes())?;
    let mut selected = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end().to_string();
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let (cmd, args) = rest.split_once(' ').unwrap_or((rest, ""));
        let cmd = cmd.to_ascii_uppercase();
        let mut out: Vec<u8> = Vec::new();
        match cmd.as_str() {
            "CAPABILITY" => out.extend(format!("* CAPABILITY {caps}\r\n").as_bytes()),
            "LOGIN" | "AUTHENTICATE" => {
                logins.fetch_add(1, Ordering::SeqCst);
                if let Some(text) = &script.refuse_login {
                    // "[CODE] text" is sent as it is; other text as an alert.
                    let text = if text.starts_with('[') {
                        text.clone()
                    } else {
                        format!("[ALERT] {text}")
                    };
                    w.write_all(format!("{tag} NO {text}\r\n").as_bytes())?;
                    continue;
                }
                if let Some(text) = &script.alert {
                    out.extend(format!("* OK [ALERT] {text}\r\n").as_bytes());
                }
            }
            "LIST" => {
                for name in &script.list_names {
                    out.extend(b"* LIST (\\HasNoChildren) \"/\" ");
                    out.extend(name);
                    out.extend(b"\r\n");
                }
            }
            "SELECT" | "EXAMINE" => {
                selected = unquote(args);
                if let Some(text) = &script.alert {
                    out.extend(format!("* OK [ALERT] {text}\r\n").as_bytes());
                }
                let n = usize::from(script.with_message.contains(&selected));
                out.extend(
                    format!(
                        "* {n} EXISTS\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)\r\n\
                         * OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 2] ok\r\n"
                    )
                    .as_bytes(),
                );
                if let Some(flags) = &script.permanent_flags {
                    out.extend(format!("* OK [PERMANENTFLAGS ({flags})] ok\r\n").as_bytes());
                }
            }
            "UID" if args.to_ascii_uppercase().starts_with("FETCH") => {
                let body = fake_message(&selected);
                if script.broken.as_deref() == Some(selected.as_str()) {
                    out.extend(b"* 1 FETCH (UID 1 FLAGS (\\Seen RFC822.SIZE )))(( {x}\r\n");
                    out.extend(b"* 1 FETCH ((((((\r\n");
                } else if script.with_message.contains(&selected) {
                    let upper = args.to_ascii_uppercase();
                    if upper.contains("HEADER.FIELDS") {
                        let h = b"Message-ID: <x@test>\r\n\r\n";
                        out.extend(
                            format!(
                                "* 1 FETCH (UID 1 RFC822.SIZE {} BODY[HEADER.FIELDS (MESSAGE-ID)] {{{}}}\r\n",
                                body.len(),
                                h.len()
                            )
                            .as_bytes(),
                        );
                        out.extend(h);
                        out.extend(b")\r\n");
                    } else if upper.contains("BODY.PEEK[]") {
                        out.extend(
                            format!(
                                "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE {} INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" BODY[] {{{}}}\r\n",
                                body.len(),
                                body.len()
                            )
                            .as_bytes(),
                        );
                        out.extend(&body);
                        out.extend(b")\r\n");
                    } else {
                        out.extend(
                            format!(
                                "* 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE {})\r\n",
                                body.len()
                            )
                            .as_bytes(),
                        );
                    }
                }
            }
            "LOGOUT" => {
                w.write_all(format!("* BYE bye\r\n{tag} OK done\r\n").as_bytes())?;
                return Ok(());
            }
            _ => {}
        }
        out.extend(format!("{tag} OK done\r\n").as_bytes());
        w.write_all(&out)?;
    }
}
