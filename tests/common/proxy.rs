//! A fault-injecting TCP proxy between imapdir and a server: it passes
//! bytes through both ways until an armed trigger pattern is seen in one
//! direction, then (after a chosen number of further bytes) cuts the
//! connection, stalls it, or sends the client a `* BYE`. A fault fires once;
//! later connections (imapdir's reconnects) pass through untouched.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// Which way bytes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ClientToServer,
    ServerToClient,
}

/// What happens when a trigger fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Close both sockets.
    Cut,
    /// Stop forwarding in both directions, keeping the sockets open.
    Stall,
    /// Send `* BYE` to the client, then close both sockets.
    Bye,
    /// Send `* BYE <text>` (e.g. a provider's refusal), then close both.
    ByeWith(&'static str),
    /// Nothing: the pattern is only noted (see [`FaultProxy::fired`]).
    Note,
}

/// Fires `action` once `pattern` has been seen flowing in `dir`, after
/// `offset` bytes counted from the start of the pattern have been forwarded
/// (0: nothing of the pattern reaches the other side).
#[derive(Clone, Debug)]
pub struct Fault {
    pub dir: Dir,
    pub pattern: Vec<u8>,
    pub offset: usize,
    pub action: Action,
}

impl Fault {
    pub fn new(dir: Dir, pattern: &str, offset: usize, action: Action) -> Fault {
        Fault {
            dir,
            pattern: pattern.as_bytes().to_vec(),
            offset,
            action,
        }
    }
}

#[derive(Default)]
struct Shared {
    fault: Option<Fault>,
    fired: bool,
    /// Every socket opened, closed when the proxy is dropped.
    streams: Vec<TcpStream>,
    /// Every connection so far.
    conns: Vec<Arc<Conn>>,
    /// Connections open now, and the most open at once so far.
    open: usize,
    peak: usize,
    /// How long server bytes are held before they reach the client.
    delay: Duration,
}

/// A running proxy on 127.0.0.1; dropping it stops it and closes every
/// connection.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    accept: Option<thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxies connections to 127.0.0.1:`target`.
    pub fn start(target: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let shared = shared.clone();
            let stop = stop.clone();
            thread::spawn(move || accept_loop(listener, target, shared, stop))
        };
        FaultProxy {
            port,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Arms a fault for the next connection that matches it.
    pub fn arm(&self, fault: Fault) {
        let mut s = self.shared.lock().unwrap();
        s.fault = Some(fault);
        s.fired = false;
    }

    /// Passes everything through from now on (stalled connections stay stalled).
    pub fn disarm(&self) {
        self.shared.lock().unwrap().fault = None;
    }

    /// The most connections that were open at once.
    pub fn peak_connections(&self) -> usize {
        self.shared.lock().unwrap().peak
    }

    /// Holds every chunk from the server for `delay` before the client
    /// gets it, so that commands a client writes without waiting can
    /// never look like waits in [`FaultProxy::waits`].
    pub fn set_delay(&self, delay: Duration) {
        self.shared.lock().unwrap().delay = delay;
    }

    /// Connections so far, and the times in all of them that the client
    /// waited for the server: sent something (or closed) after receiving
    /// bytes it had not seen when it last sent. A TLS handshake counts
    /// one, the greeting one, each exchange one; commands pipelined in one
    /// go count once. Take the difference around the run of interest.
    pub fn waits(&self) -> (usize, usize) {
        let s = self.shared.lock().unwrap();
        let waits = s.conns.iter().map(|c| c.turns.load(Ordering::SeqCst)).sum();
        (s.conns.len(), waits)
    }

    /// Whether the armed fault fired.
    pub fn fired(&self) -> bool {
        self.shared.lock().unwrap().fired
    }

    /// Stops forwarding on every connection open now, keeping the sockets
    /// open: both ends are left waiting, as after a server or a NAT
    /// forgot a connection without a word. Later connections pass.
    pub fn stall_all(&self) {
        for conn in &self.shared.lock().unwrap().conns {
            conn.stalled.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in self.shared.lock().unwrap().streams.drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    target: u16,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let conn = Arc::new(Conn {
                    client: client.try_clone().unwrap(),
                    server: server.try_clone().unwrap(),
                    stalled: AtomicBool::new(false),
                    received: AtomicBool::new(false),
                    turns: AtomicUsize::new(0),
                });
                {
                    let mut s = shared.lock().unwrap();
                    s.streams.push(client.try_clone().unwrap());
                    s.streams.push(server.try_clone().unwrap());
                    s.conns.push(conn.clone());
                    s.open += 1;
                    s.peak = s.peak.max(s.open);
                }
                for dir in [Dir::ClientToServer, Dir::ServerToClient] {
                    let (from, to) = match dir {
                        Dir::ClientToServer => {
                            (client.try_clone().unwrap(), server.try_clone().unwrap())
                        }
                        Dir::ServerToClient => {
                            (server.try_clone().unwrap(), client.try_clone().unwrap())
                        }
                    };
                    let conn = conn.clone();
                    let shared = shared.clone();
                    let stop = stop.clone();
                    thread::spawn(move || pump(dir, from, to, &conn, &shared, &stop));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

struct Conn {
    client: TcpStream,
    server: TcpStream,
    stalled: AtomicBool,
    /// Server bytes reached the client since it last sent.
    received: AtomicBool,
    /// Times the client spoke after waiting (see [`FaultProxy::waits`]).
    turns: AtomicUsize,
}

impl Conn {
    /// The client sent (or closed): a wait if it had received meanwhile.
    fn client_spoke(&self) {
        if self.received.swap(false, Ordering::SeqCst) {
            self.turns.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Conn {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }
}

/// Counts a connection as closed when dropped.
struct Closing<'a>(&'a Mutex<Shared>);

impl Drop for Closing<'_> {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap();
        s.open = s.open.saturating_sub(1);
    }
}

/// Copies `from` → `to`, watching for the armed fault in direction `dir`.
fn pump(
    dir: Dir,
    mut from: TcpStream,
    mut to: TcpStream,
    conn: &Conn,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
) {
    // The client's side ending is the connection ending.
    let _closing = (dir == Dir::ClientToServer).then_some(Closing(shared));
    let mut buf = vec![0u8; 16 * 1024];
    // Bytes seen in this direction not yet ruled out as a pattern prefix.
    let mut tail: Vec<u8> = Vec::new();
    // Bytes still to forward before acting, once the pattern was seen.
    let mut countdown: Option<(usize, Action)> = None;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => {
                if dir == Dir::ClientToServer {
                    conn.client_spoke();
                }
                if !conn.stalled.load(Ordering::SeqCst) {
                    conn.close();
                }
                return;
            }
            Ok(n) => n,
        };
        if dir == Dir::ClientToServer {
            conn.client_spoke();
        }
        if conn.stalled.load(Ordering::SeqCst) {
            // Hold everything until the proxy is dropped.
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        let chunk = &buf[..n];
        if countdown.is_none() {
            let mut s = shared.lock().unwrap();
            if let (false, Some(f)) = (s.fired, s.fault.clone()) {
                if f.dir == dir {
                    let mut window = std::mem::take(&mut tail);
                    let tail_len = window.len();
                    window.extend_from_slice(chunk);
                    if let Some(at) = find(&window, &f.pattern) {
                        s.fired = true;
                        // Pattern start relative to this chunk (may be in the tail).
                        let start_in_chunk = at as isize - tail_len as isize;
                        let forward_now = start_in_chunk + f.offset as isize;
                        if forward_now <= 0 {
                            // Part of the pattern already went through in
                            // the tail: act at once.
                            countdown = Some((0, f.action));
                        } else {
                            countdown = Some((forward_now as usize, f.action));
                        }
                    } else {
                        let keep = f.pattern.len().saturating_sub(1).min(window.len());
                        tail = window[window.len() - keep..].to_vec();
                    }
                }
            }
        }
        if let Some((_, Action::Note)) = countdown {
            countdown = None;
        }
        if let Some((left, action)) = countdown {
            let now = left.min(chunk.len());
            if to.write_all(&chunk[..now]).is_err() {
                conn.close();
                return;
            }
            if now < left {
                countdown = Some((left - now, action));
                continue;
            }
            fire(action, conn, &mut to, stop);
            return;
        }
        if dir == Dir::ServerToClient {
            let delay = shared.lock().unwrap().delay;
            if !delay.is_zero() {
                thread::sleep(delay);
            }
        }
        if dir == Dir::ServerToClient {
            // Before the write: the client may answer before this thread
            // runs again.
            conn.received.store(true, Ordering::SeqCst);
        }
        if to.write_all(chunk).is_err() {
            conn.close();
            return;
        }
    }
}

fn fire(action: Action, conn: &Conn, to: &mut TcpStream, stop: &AtomicBool) {
    let _ = to.flush();
    match action {
        Action::Cut => conn.close(),
        Action::ByeWith(text) => {
            let mut client = &conn.client;
            let _ = client.write_all(format!("* BYE {text}\r\n").as_bytes());
            let _ = client.flush();
            conn.close();
        }
        Action::Bye => {
            let mut client = &conn.client;
            let _ = client.write_all(b"* BYE fault injected by the test proxy\r\n");
            let _ = client.flush();
            conn.close();
        }
        Action::Note => {}
        Action::Stall => {
            conn.stalled.store(true, Ordering::SeqCst);
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}
