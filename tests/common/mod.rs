//! Integration-test harness for imapdir: a real Dovecot per test, an
//! independent IMAP client for server-side changes, Maildir helpers and a
//! runner for the real `imapdir` binary. Nothing is mocked.
#![allow(dead_code)]

pub mod fake_server;
pub mod peer_configs;
pub mod peers;
pub mod proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// The IMAP user and password of every test server.
pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench";

/// Unprivileged system user that owns the mail store when tests run as
/// root: Dovecot refuses to run mail processes as UID 0.
const MAIL_UID_USER: &str = "dovebench";

// ---------------------------------------------------------------------------
// Dovecot
// ---------------------------------------------------------------------------

/// Options for [`Dovecot::start_with`].
#[derive(Clone, Debug, Default)]
pub struct DovecotOptions {
    /// Explicit `imap_capability` (e.g. without CONDSTORE and QRESYNC), so
    /// a client that honours CAPABILITY cannot use the hidden extensions.
    pub imap_capability: Option<String>,
    /// A storage quota for the user, e.g. "10M" (quota + imap_quota plugins).
    pub quota: Option<String>,
}

/// A private Dovecot 2.3 instance on 127.0.0.1, living in its own temp dir.
/// Dropping it stops the server and removes the directory.
pub struct Dovecot {
    dir: TempDir,
    imap_port: u16,
    imaps_port: u16,
    child: Option<Child>,
}

impl Dovecot {
    pub fn start() -> Dovecot {
        Dovecot::start_with(DovecotOptions::default())
    }

    pub fn start_with(options: DovecotOptions) -> Dovecot {
        let dir = tempfile::Builder::new()
            .prefix("imapdir-dovecot-")
            .tempdir()
            .expect("create dovecot temp dir");
        let identity = MailIdentity::prepare();
        write_certificate(dir.path());
        write_passwd(dir.path(), &identity);
        prepare_dirs(dir.path(), &identity);

        let mut dovecot = Dovecot {
            dir,
            imap_port: 0,
            imaps_port: 0,
            child: None,
        };
        let mut last_error = String::new();
        // A port picked free may be taken before Dovecot binds it: retry.
        for _attempt in 0..8 {
            let (imap_port, imaps_port) = pick_two_free_ports();
            dovecot.imap_port = imap_port;
            dovecot.imaps_port = imaps_port;
            write_dovecot_conf(dovecot.dir(), &identity, imap_port, imaps_port, &options);
            match dovecot.launch() {
                Ok(()) => return dovecot,
                Err(e) => {
                    last_error = e;
                    dovecot.kill_child();
                }
            }
        }
        panic!("dovecot did not start: {last_error}");
    }

    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn conf_file(&self) -> PathBuf {
        self.dir().join("dovecot.conf")
    }

    /// Self-signed certificate of this server (SAN localhost, 127.0.0.1).
    pub fn ca_file(&self) -> PathBuf {
        self.dir().join("ssl/cert.pem")
    }

    /// The server's own Maildir tree (LAYOUT=fs, INBOX at its root).
    pub fn mail_dir(&self) -> PathBuf {
        self.dir().join("mail").join(USER)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir().join("log/dovecot.log")
    }

    /// Runs `doveadm -c <conf> ARGS...` against this instance.
    pub fn doveadm(&self, args: &[&str]) -> Output {
        Command::new("doveadm")
            .arg("-c")
            .arg(self.conf_file())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run doveadm")
    }

    /// Runs doveadm and panics with its output when it fails.
    pub fn doveadm_ok(&self, args: &[&str]) -> String {
        let out = self.doveadm(args);
        assert!(
            out.status.success(),
            "doveadm {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Sets the UIDVALIDITY of a mailbox (message UIDs are kept).
    pub fn set_uidvalidity(&self, mailbox: &str, uidvalidity: u32) {
        let value = uidvalidity.to_string();
        self.doveadm_ok(&[
            "mailbox",
            "update",
            "-u",
            USER,
            "--uid-validity",
            &value,
            mailbox,
        ]);
    }

    /// A logged-in test client on the plaintext port.
    pub fn client(&self) -> ImapClient {
        ImapClient::connect(self.imap_port)
    }

    /// Stops the server; ports stay reserved for [`Dovecot::restart`].
    pub fn stop(&mut self) {
        self.kill_child();
    }

    /// Stops and starts the server again on the same ports.
    pub fn restart(&mut self) {
        self.stop();
        let mut last_error = String::new();
        for _ in 0..50 {
            match self.launch() {
                Ok(()) => return,
                Err(e) => {
                    last_error = e;
                    self.kill_child();
                    thread::sleep(Duration::from_millis(200));
                }
            }
        }
        panic!("dovecot did not restart: {last_error}");
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let log_dir = self.dir().join("log");
        let _ = fs::remove_file(self.dir().join("run/master.pid"));
        let log_len_before = fs::metadata(self.log_file()).map(|m| m.len()).unwrap_or(0);
        let stdio_log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_dir.join("stdout.log"))
            .expect("open dovecot stdout log");
        let child = Command::new(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(self.conf_file())
            .stdin(Stdio::null())
            // Its own process group, so Drop can kill the master and all
            // its imap/auth children at once.
            .process_group(0)
            .stdout(stdio_log.try_clone().unwrap())
            .stderr(stdio_log)
            .spawn()
            .map_err(|e| format!("spawn dovecot: {e}"))?;
        self.child = Some(child);

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let new_log = self.log_since(log_len_before);
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!(
                    "dovecot exited with {status}: {new_log}{}",
                    self.stdio_log()
                ));
            }
            if new_log.contains("Fatal") {
                return Err(format!("dovecot failed: {new_log}"));
            }
            // Dovecot logs "starting up" only after binding every listener,
            // so an accepting port then really is this instance.
            if new_log.contains("starting up")
                && port_accepts(self.imap_port)
                && port_accepts(self.imaps_port)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("timeout waiting for dovecot: {new_log}"));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_since(&self, offset: u64) -> String {
        let all = fs::read(self.log_file()).unwrap_or_default();
        let start = (offset as usize).min(all.len());
        String::from_utf8_lossy(&all[start..]).into_owned()
    }

    fn stdio_log(&self) -> String {
        fs::read_to_string(self.dir().join("log/stdout.log")).unwrap_or_default()
    }

    /// Graceful stop: SIGTERM lets the master shut its children down
    /// (about a second); a master that hangs is killed with its group.
    fn kill_child(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id() as libc::pid_t;
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    kill_process_group(pid);
                    let _ = child.wait();
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Dovecot {
    /// Immediate: SIGKILL to the whole process group, no graceful wait.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_process_group(child.id() as libc::pid_t);
            let _ = child.wait();
        }
    }
}

/// Only called while the group leader (our unreaped child) still exists,
/// so the group id cannot have been reused by anyone else.
fn kill_process_group(pgid: libc::pid_t) {
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn dovecot_binary() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/dovecot");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("dovecot")
    }
}

fn port_accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn pick_two_free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Who owns the mail store and which users Dovecot's services run as.
struct MailIdentity {
    uid: u32,
    gid: u32,
    internal_user: String,
    internal_group: String,
    login_user: String,
    as_root: bool,
}

impl MailIdentity {
    fn prepare() -> MailIdentity {
        let as_root = unsafe { libc::geteuid() } == 0;
        if as_root {
            ensure_system_user(MAIL_UID_USER);
            let (uid, gid) = user_ids(MAIL_UID_USER).expect("mail user exists");
            MailIdentity {
                uid,
                gid,
                internal_user: "dovecot".into(),
                internal_group: group_name_of_user("dovecot"),
                login_user: "dovenull".into(),
                as_root,
            }
        } else {
            // Rootless: every Dovecot process runs as the caller.
            let name = command_stdout("id", &["-un"]);
            MailIdentity {
                uid: unsafe { libc::getuid() },
                gid: unsafe { libc::getgid() },
                internal_user: name.clone(),
                internal_group: command_stdout("id", &["-gn"]),
                login_user: name,
                as_root,
            }
        }
    }
}

fn command_stdout(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn user_ids(name: &str) -> Option<(u32, u32)> {
    let uid = Command::new("id").args(["-u", name]).output().ok()?;
    let gid = Command::new("id").args(["-g", name]).output().ok()?;
    if !uid.status.success() || !gid.status.success() {
        return None;
    }
    let parse = |o: &Output| String::from_utf8_lossy(&o.stdout).trim().parse().ok();
    Some((parse(&uid)?, parse(&gid)?))
}

fn group_name_of_user(user: &str) -> String {
    command_stdout("id", &["-gn", user])
}

/// Creates the system user unless it exists. Tests in other processes may
/// race on /etc/passwd: "already exists" and lock errors are retried.
fn ensure_system_user(name: &str) {
    for _ in 0..100 {
        if user_ids(name).is_some() {
            return;
        }
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if user_ids(name).is_some() {
            return;
        }
        thread::sleep(Duration::from_millis(100));
    }
    panic!("could not create system user {name}");
}

fn write_certificate(dir: &Path) {
    let ssl = dir.join("ssl");
    fs::create_dir_all(&ssl).unwrap();
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(ssl.join("key.pem"))
        .arg("-out")
        .arg(ssl.join("cert.pem"))
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::set_permissions(ssl.join("key.pem"), fs::Permissions::from_mode(0o600)).unwrap();
}

fn write_passwd(dir: &Path, id: &MailIdentity) {
    // user:password:uid:gid:gecos:home:shell:extra
    let line = format!(
        "{USER}:{{PLAIN}}{PASSWORD}:{}:{}::{}/home/{USER}::\n",
        id.uid,
        id.gid,
        dir.display()
    );
    fs::write(dir.join("passwd"), line).unwrap();
    fs::set_permissions(dir.join("passwd"), fs::Permissions::from_mode(0o644)).unwrap();
}

fn prepare_dirs(dir: &Path, id: &MailIdentity) {
    for sub in [
        "ssl", "run", "state", "log", "mail", "control", "index", "home", "rawlog",
    ] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    // The mail user must be able to traverse the (0700) temp dir.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    let owned: Vec<PathBuf> = ["mail", "control", "index", "home"]
        .iter()
        .flat_map(|sub| [dir.join(sub), dir.join(sub).join(USER)])
        .chain([dir.join("rawlog")])
        .collect();
    for path in &owned {
        fs::create_dir_all(path).unwrap();
        if id.as_root {
            std::os::unix::fs::chown(path, Some(id.uid), Some(id.gid)).unwrap();
        }
    }
}

fn write_dovecot_conf(
    dir: &Path,
    id: &MailIdentity,
    imap_port: u16,
    imaps_port: u16,
    options: &DovecotOptions,
) {
    static INSTANCE: AtomicUsize = AtomicUsize::new(0);
    let d = dir.display();
    let instance = format!(
        "imapdir-test-{}-{}",
        std::process::id(),
        INSTANCE.fetch_add(1, Ordering::SeqCst)
    );
    let capability = match &options.imap_capability {
        Some(caps) => format!("  imap_capability = {caps}\n"),
        None => String::new(),
    };
    let (quota_conf, imap_quota) = match &options.quota {
        Some(limit) => (
            format!(
                "mail_plugins = $mail_plugins quota\nplugin {{\n  quota = maildir:User quota\n  quota_rule = *:storage={limit}\n}}\n"
            ),
            " imap_quota",
        ),
        None => (String::new(), ""),
    };
    let conf = format!(
        r#"# Self-contained test instance: nothing from /etc/dovecot is read.
instance_name = {instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.log
debug_log_path = {d}/log/dovecot.log

protocols = imap
listen = 127.0.0.1
default_internal_user = {iuser}
default_internal_group = {igroup}
default_login_user = {luser}
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 100

ssl = yes
ssl_cert = <{d}/ssl/cert.pem
ssl_key = <{d}/ssl/key.pem

disable_plaintext_auth = no
auth_mechanisms = plain login
# Failed logins answer at once (default: 2 s), keeping the suite fast.
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}

# LAYOUT=fs: folder "Archive/2023" is mail/bench/Archive/2023/{{cur,new,tmp}}.
mail_location = maildir:{d}/mail/%u:LAYOUT=fs:INDEX={d}/index/%u:CONTROL={d}/control/%u
namespace inbox {{
  inbox = yes
  separator = /
  prefix =
}}

{quota_conf}
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib{imap_quota}
  rawlog_dir = {d}/rawlog/%u
{capability}}}

service anvil {{
  chroot =
}}
service ipc {{
  chroot =
}}
service old-stats {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"#,
        iuser = id.internal_user,
        igroup = id.internal_group,
        luser = id.login_user,
    );
    fs::write(dir.join("dovecot.conf"), conf).unwrap();
}

// ---------------------------------------------------------------------------
// ImapClient
// ---------------------------------------------------------------------------

/// A message as the server holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub uid: u32,
    /// System flags and keywords, without the session-only `\Recent`.
    pub flags: Vec<String>,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn letters(&self) -> String {
        imap_flags_to_letters(&self.flags)
    }

    pub fn message_id(&self) -> Option<String> {
        message_id(&self.body)
    }
}

/// A tiny blocking IMAP client, independent of imapdir, that plays
/// "another client changing the server".
pub struct ImapClient {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next_tag: u32,
}

/// One response line, with any `{N}` literals inlined as raw bytes.
type ResponseLine = Vec<u8>;

impl ImapClient {
    /// Connects to 127.0.0.1:`port` and logs in as bench/bench.
    pub fn connect(port: u16) -> ImapClient {
        Self::connect_as(port, USER, PASSWORD).expect("IMAP login")
    }

    pub fn connect_as(port: u16, user: &str, password: &str) -> Result<ImapClient, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut client = ImapClient {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next_tag: 1,
        };
        let greeting = client.read_line();
        if !greeting.starts_with(b"* OK") {
            return Err(format!("bad greeting {}", lossy(&greeting)));
        }
        client.try_command(&format!("LOGIN {} {}", quote(user), quote(password)))?;
        Ok(client)
    }

    pub fn create(&mut self, name: &str) {
        self.command(&format!("CREATE {}", quote(name)));
    }

    pub fn delete(&mut self, name: &str) {
        self.command(&format!("DELETE {}", quote(name)));
    }

    /// Raw (modified UTF-7) names of all folders, delimiter "/".
    pub fn list(&mut self) -> Vec<String> {
        let (untagged, _) = self.command(r#"LIST "" "*""#);
        let mut names = Vec::new();
        for line in untagged {
            if !line.starts_with(b"* LIST ") {
                continue;
            }
            let tokens = parse_tokens(&line[2..]);
            // LIST (attributes) "delimiter" name
            if let (Some(Token::List(attrs)), Some(name)) = (tokens.get(1), tokens.get(3)) {
                let noselect = attrs.iter().any(|a| {
                    matches!(a, Token::Atom(s) if s.eq_ignore_ascii_case("\\Noselect")
                        || s.eq_ignore_ascii_case("\\NonExistent"))
                });
                if !noselect {
                    names.push(name.as_string());
                }
            }
        }
        names.sort();
        names
    }

    /// Selects a folder; returns (UIDVALIDITY, EXISTS).
    pub fn select(&mut self, name: &str) -> (u32, u32) {
        let (untagged, _) = self.command(&format!("SELECT {}", quote(name)));
        let mut uidvalidity = 0;
        let mut exists = 0;
        for line in &untagged {
            let text = lossy(line);
            if let Some(rest) = text.split("[UIDVALIDITY ").nth(1) {
                uidvalidity = rest.split(']').next().unwrap().trim().parse().unwrap();
            }
            let words: Vec<&str> = text.split_whitespace().collect();
            if words.len() >= 3 && words[2].eq_ignore_ascii_case("EXISTS") {
                exists = words[1].parse().unwrap();
            }
        }
        (uidvalidity, exists)
    }

    /// Appends a message; returns its UID (from APPENDUID).
    /// `flags` is a space-separated list such as `"\\Seen \\Flagged"`.
    pub fn append(&mut self, name: &str, flags: &str, body: &[u8]) -> u32 {
        let tag = self.tag();
        let header = format!(
            "{tag} APPEND {} ({flags}) {{{}}}\r\n",
            quote(name),
            body.len()
        );
        self.writer.write_all(header.as_bytes()).unwrap();
        let cont = self.read_line();
        assert!(cont.starts_with(b"+"), "APPEND refused: {}", lossy(&cont));
        self.writer.write_all(body).unwrap();
        self.writer.write_all(b"\r\n").unwrap();
        let (_, tagged) = self.finish(&tag).expect("APPEND");
        let text = lossy(&tagged);
        let rest = text
            .split("[APPENDUID ")
            .nth(1)
            .unwrap_or_else(|| panic!("no APPENDUID in {text}"));
        let mut parts = rest.split(']').next().unwrap().split_whitespace();
        parts.next();
        parts.next().unwrap().parse().unwrap()
    }

    /// Every message of a folder, ordered by UID.
    pub fn fetch_all(&mut self, name: &str) -> Vec<Msg> {
        let (_, exists) = self.select(name);
        if exists == 0 {
            return Vec::new();
        }
        let (untagged, _) = self.command("UID FETCH 1:* (UID FLAGS BODY.PEEK[])");
        let mut msgs = Vec::new();
        for line in untagged {
            let Some(pos) = find(&line, b"FETCH (") else {
                continue;
            };
            let tokens = parse_tokens(&line[pos + 6..]);
            let Some(Token::List(items)) = tokens.first() else {
                continue;
            };
            let (mut uid, mut flags, mut body) = (None, None, None);
            let mut i = 0;
            while i + 1 < items.len() {
                let key = items[i].as_string().to_ascii_uppercase();
                match key.as_str() {
                    "UID" => uid = items[i + 1].as_string().parse().ok(),
                    "FLAGS" => {
                        if let Token::List(fl) = &items[i + 1] {
                            flags = Some(
                                fl.iter()
                                    .map(|f| f.as_string())
                                    .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                                    .collect::<Vec<_>>(),
                            );
                        }
                    }
                    "BODY[]" => body = Some(items[i + 1].as_bytes()),
                    _ => {}
                }
                i += 2;
            }
            if let (Some(uid), Some(body)) = (uid, body) {
                let mut flags = flags.unwrap_or_default();
                flags.sort();
                msgs.push(Msg { uid, flags, body });
            }
        }
        msgs.sort_by_key(|m| m.uid);
        msgs
    }

    /// `op` is "+FLAGS" or "-FLAGS"; `flags` like `"\\Seen \\Flagged"`.
    pub fn store(&mut self, name: &str, uid: u32, op: &str, flags: &str) {
        self.select(name);
        self.command(&format!("UID STORE {uid} {op}.SILENT ({flags})"));
    }

    /// Expunges exactly one message (UID STORE \Deleted + UID EXPUNGE).
    pub fn expunge_uid(&mut self, name: &str, uid: u32) {
        self.select(name);
        self.command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"));
        self.command(&format!("UID EXPUNGE {uid}"));
    }

    /// Every selectable folder with its messages: compares whole server
    /// states before and after a run.
    pub fn snapshot(&mut self) -> ServerSnapshot {
        let folders = self.list();
        let mut snapshot = ServerSnapshot::new();
        for folder in folders {
            let (uidvalidity, _) = self.select(&folder);
            let msgs = self.fetch_all(&folder);
            snapshot.insert(folder, (uidvalidity, msgs));
        }
        snapshot
    }

    pub fn capabilities(&mut self) -> Vec<String> {
        let (untagged, _) = self.command("CAPABILITY");
        untagged
            .iter()
            .filter(|l| l.starts_with(b"* CAPABILITY "))
            .flat_map(|l| {
                lossy(&l[13..])
                    .split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    pub fn logout(mut self) {
        let _ = self.try_command("LOGOUT");
    }

    /// Sends a command and panics unless it completes with OK.
    pub fn command(&mut self, cmd: &str) -> (Vec<ResponseLine>, ResponseLine) {
        match self.try_command(cmd) {
            Ok(r) => r,
            Err(e) => panic!("IMAP command {cmd:?} failed: {e}"),
        }
    }

    /// Sends a command; Ok(untagged lines, tagged line) on OK.
    pub fn try_command(&mut self, cmd: &str) -> Result<(Vec<ResponseLine>, ResponseLine), String> {
        let tag = self.tag();
        self.writer
            .write_all(format!("{tag} {cmd}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        self.finish(&tag)
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("T{}", self.next_tag)
    }

    fn finish(&mut self, tag: &str) -> Result<(Vec<ResponseLine>, ResponseLine), String> {
        let mut untagged = Vec::new();
        let prefix = format!("{tag} ");
        loop {
            let line = self.read_line();
            if line.is_empty() {
                return Err("connection closed".into());
            }
            if line.starts_with(prefix.as_bytes()) {
                let status = &line[prefix.len()..];
                return if status.starts_with(b"OK") {
                    Ok((untagged, line))
                } else {
                    Err(lossy(&line))
                };
            }
            untagged.push(line);
        }
    }

    /// Reads one logical response line: literals `{N}` are read by count
    /// and inlined, so a message body may contain any bytes.
    fn read_line(&mut self) -> ResponseLine {
        let mut out = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self.reader.read_until(b'\n', &mut line).unwrap_or(0);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&line);
            match literal_length(&line) {
                Some(len) => {
                    let mut buf = vec![0u8; len];
                    self.reader.read_exact(&mut buf).expect("read literal");
                    out.extend_from_slice(&buf);
                }
                None => return out,
            }
        }
    }
}

/// Server state: folder → (UIDVALIDITY, messages by UID).
pub type ServerSnapshot = BTreeMap<String, (u32, Vec<Msg>)>;

fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&c| c == b'{')?;
    let digits = &line[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[derive(Debug, Clone)]
enum Token {
    Atom(String),
    Bytes(Vec<u8>),
    List(Vec<Token>),
}

impl Token {
    fn as_string(&self) -> String {
        match self {
            Token::Atom(s) => s.clone(),
            Token::Bytes(b) => lossy(b),
            Token::List(_) => String::new(),
        }
    }

    fn as_bytes(&self) -> Vec<u8> {
        match self {
            Token::Atom(s) => s.as_bytes().to_vec(),
            Token::Bytes(b) => b.clone(),
            Token::List(_) => Vec::new(),
        }
    }
}

/// Tokenizes the rest of a response line: atoms, quoted strings, inlined
/// literals and parenthesised lists.
fn parse_tokens(input: &[u8]) -> Vec<Token> {
    let mut pos = 0;
    parse_sequence(input, &mut pos, false)
}

fn parse_sequence(input: &[u8], pos: &mut usize, in_list: bool) -> Vec<Token> {
    let mut tokens = Vec::new();
    while *pos < input.len() {
        match input[*pos] {
            b' ' | b'\r' | b'\n' => *pos += 1,
            b')' if in_list => {
                *pos += 1;
                return tokens;
            }
            b'(' => {
                *pos += 1;
                tokens.push(Token::List(parse_sequence(input, pos, true)));
            }
            b'"' => {
                *pos += 1;
                let mut s = Vec::new();
                while *pos < input.len() && input[*pos] != b'"' {
                    if input[*pos] == b'\\' && *pos + 1 < input.len() {
                        *pos += 1;
                    }
                    s.push(input[*pos]);
                    *pos += 1;
                }
                *pos += 1;
                tokens.push(Token::Bytes(s));
            }
            b'{' => {
                let close = *pos + input[*pos..].iter().position(|&c| c == b'}').unwrap();
                let digits = lossy(&input[*pos + 1..close]);
                let len: usize = digits.trim_end_matches('+').parse().unwrap();
                let start = close + 3; // "}\r\n"
                tokens.push(Token::Bytes(input[start..start + len].to_vec()));
                *pos = start + len;
            }
            _ => {
                let start = *pos;
                let mut depth = 0;
                while *pos < input.len() {
                    let c = input[*pos];
                    if c == b'[' {
                        depth += 1;
                    } else if c == b']' {
                        depth -= 1;
                    } else if depth == 0 && matches!(c, b' ' | b'(' | b')' | b'\r' | b'\n') {
                        break;
                    }
                    *pos += 1;
                }
                tokens.push(Token::Atom(lossy(&input[start..*pos])));
            }
        }
    }
    tokens
}

// ---------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------

/// Maildir info letters for IMAP flags, sorted; unknown keywords dropped.
pub fn imap_flags_to_letters<S: AsRef<str>>(flags: &[S]) -> String {
    let mut letters: Vec<char> = flags
        .iter()
        .filter_map(|f| match f.as_ref().to_ascii_lowercase().as_str() {
            "\\seen" => Some('S'),
            "\\answered" => Some('R'),
            "\\flagged" => Some('F'),
            "\\deleted" => Some('T'),
            "\\draft" => Some('D'),
            "$forwarded" => Some('P'),
            _ => None,
        })
        .collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// IMAP flag list (space separated) for Maildir info letters.
pub fn letters_to_imap_flags(letters: &str) -> String {
    letters
        .chars()
        .filter_map(|c| match c {
            'S' => Some("\\Seen"),
            'R' => Some("\\Answered"),
            'F' => Some("\\Flagged"),
            'T' => Some("\\Deleted"),
            'D' => Some("\\Draft"),
            'P' => Some("$Forwarded"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Local Maildir helpers
// ---------------------------------------------------------------------------

/// A message file in a local Maildir folder.
#[derive(Clone, Debug)]
pub struct LocalMsg {
    pub path: PathBuf,
    /// "cur" or "new".
    pub subdir: String,
    pub name: String,
    /// Info letters after ":2," (empty when there is no info part).
    pub flags: String,
    pub body: Vec<u8>,
}

impl LocalMsg {
    /// UID carried in the name as `,U=<uid>`, if any.
    pub fn uid(&self) -> Option<u32> {
        uid_in_name(&self.name)
    }

    pub fn message_id(&self) -> Option<String> {
        message_id(&self.body)
    }

    /// The name without the ":2,..." info part.
    pub fn base_name(&self) -> &str {
        self.name.split(":2,").next().unwrap()
    }

    pub fn inode(&self) -> u64 {
        fs::metadata(&self.path).unwrap().ino()
    }
}

pub fn uid_in_name(name: &str) -> Option<u32> {
    let base = name.split(":2,").next().unwrap();
    let rest = base.split(",U=").nth(1)?;
    rest.split(',').next()?.parse().ok()
}

/// Messages in `<root>/<folder>/{cur,new}` (tmp is ignored), sorted by name.
pub fn maildir_messages(root: &Path, folder: &str) -> Vec<LocalMsg> {
    let mut msgs = Vec::new();
    for subdir in ["cur", "new"] {
        let dir = root.join(folder).join(subdir);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            if !entry.file_type().unwrap().is_file() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let flags = name.split(":2,").nth(1).unwrap_or("").to_string();
            let Ok(body) = fs::read(entry.path()) else {
                continue;
            };
            msgs.push(LocalMsg {
                path: entry.path(),
                subdir: subdir.to_string(),
                name,
                flags,
                body,
            });
        }
    }
    msgs.sort_by(|a, b| a.name.cmp(&b.name));
    msgs
}

/// Local Maildir folders (relative paths of dirs holding cur/new/tmp).
pub fn maildir_folders(root: &Path) -> BTreeSet<String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        if dir.join("cur").is_dir() && dir.join("new").is_dir() {
            if let Ok(rel) = dir.strip_prefix(root) {
                if !rel.as_os_str().is_empty() {
                    out.insert(rel.to_string_lossy().into_owned());
                }
            }
        }
        for entry in entries.flatten() {
            let name = entry.file_name();
            if matches!(name.to_str(), Some("cur" | "new" | "tmp")) {
                continue;
            }
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(root, &entry.path(), out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, &mut out);
    out
}

/// Every file under `root` with its inode: equal listings before and after
/// a run mean nothing was created, renamed, removed or rewritten.
pub fn tree_listing(root: &Path) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                walk(root, &entry.path(), out);
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel.to_string_lossy().into_owned(), meta.ino());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// CRLF → LF: the canonical form to compare server and local content.
pub fn normalize(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\r' && body.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(body[i]);
        i += 1;
    }
    out
}

/// LF → CRLF (bare LFs only).
pub fn to_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 40);
    for (i, &c) in body.iter().enumerate() {
        if c == b'\n' && (i == 0 || body[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(c);
    }
    out
}

/// True when every LF in `body` is preceded by CR (server-side form).
pub fn is_crlf_only(body: &[u8]) -> bool {
    body.iter()
        .enumerate()
        .all(|(i, &c)| c != b'\n' || (i > 0 && body[i - 1] == b'\r'))
}

/// Multiset of normalized contents.
pub fn content_multiset<'a, I>(bodies: I) -> BTreeMap<Vec<u8>, usize>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut set = BTreeMap::new();
    for body in bodies {
        *set.entry(normalize(body)).or_insert(0) += 1;
    }
    set
}

pub fn local_contents(msgs: &[LocalMsg]) -> BTreeMap<Vec<u8>, usize> {
    content_multiset(msgs.iter().map(|m| m.body.as_slice()))
}

pub fn server_contents(msgs: &[Msg]) -> BTreeMap<Vec<u8>, usize> {
    content_multiset(msgs.iter().map(|m| m.body.as_slice()))
}

/// Asserts both sides of a folder hold the same messages (normalized
/// content multiset) with the same flags, matched by Message-ID.
pub fn assert_folder_in_sync(server: &[Msg], local: &[LocalMsg], folder: &str) {
    assert_eq!(
        local.len(),
        server.len(),
        "{folder}: {} local files vs {} server messages",
        local.len(),
        server.len()
    );
    assert!(
        local_contents(local) == server_contents(server),
        "{folder}: local and server contents differ"
    );
    assert_no_duplicate_message_ids(server.iter().map(|m| m.message_id()), folder);
    assert_no_duplicate_message_ids(local.iter().map(|m| m.message_id()), folder);
    for s in server {
        let mid = s.message_id().expect("server message has a Message-ID");
        let l = local
            .iter()
            .find(|l| l.message_id().as_deref() == Some(mid.as_str()))
            .unwrap_or_else(|| panic!("{folder}: {mid} missing locally"));
        assert_eq!(
            l.flags,
            s.letters(),
            "{folder}: flags of {mid} ({})",
            l.name
        );
    }
}

pub fn assert_no_duplicate_message_ids<I>(ids: I, what: &str)
where
    I: IntoIterator<Item = Option<String>>,
{
    let mut seen = BTreeSet::new();
    for id in ids.into_iter().flatten() {
        assert!(
            seen.insert(id.clone()),
            "{what}: Message-ID {id} appears twice"
        );
    }
}

/// Value of the Message-ID header, if any.
pub fn message_id(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            if key.eq_ignore_ascii_case("message-id") {
                return Some(value.trim().to_string());
            }
        }
    }
    None
}

/// Creates `<root>/<folder>/{cur,new,tmp}`.
pub fn make_local_folder(root: &Path, folder: &str) -> PathBuf {
    let dir = root.join(folder);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    dir
}

/// Writes a new local message (LF line endings): into new/ when `letters`
/// is None, else into cur/ as `<name>:2,<letters>`.
pub fn write_local_message(
    root: &Path,
    folder: &str,
    name: &str,
    body: &[u8],
    letters: Option<&str>,
) -> PathBuf {
    let dir = make_local_folder(root, folder);
    let path = match letters {
        None => dir.join("new").join(name),
        Some(l) => dir.join("cur").join(format!("{name}:2,{l}")),
    };
    // Written via tmp/ and renamed, as a Maildir delivery does.
    let tmp = dir.join("tmp").join(name);
    fs::write(&tmp, normalize(body)).unwrap();
    fs::rename(&tmp, &path).unwrap();
    path
}

/// Renames a local message so its info letters are `letters` (moving it
/// from new/ to cur/ if needed). Returns the new path.
pub fn set_local_flags(msg: &LocalMsg, letters: &str) -> PathBuf {
    let mut sorted: Vec<char> = letters.chars().collect();
    sorted.sort_unstable();
    let letters: String = sorted.into_iter().collect();
    let folder_dir = msg.path.parent().unwrap().parent().unwrap();
    let new_path = folder_dir
        .join("cur")
        .join(format!("{}:2,{letters}", msg.base_name()));
    fs::rename(&msg.path, &new_path).unwrap();
    new_path
}

/// Finds the local message with this Message-ID.
pub fn find_by_message_id<'a>(msgs: &'a [LocalMsg], mid: &str) -> &'a LocalMsg {
    msgs.iter()
        .find(|m| m.message_id().as_deref() == Some(mid))
        .unwrap_or_else(|| panic!("no local message with Message-ID {mid}"))
}

pub fn find_server_by_message_id<'a>(msgs: &'a [Msg], mid: &str) -> &'a Msg {
    msgs.iter()
        .find(|m| m.message_id().as_deref() == Some(mid))
        .unwrap_or_else(|| panic!("no server message with Message-ID {mid}"))
}

/// The Message-ID that [`generate_message`] gives message `i` of `folder`.
pub fn generated_message_id(i: usize, folder: &str) -> String {
    format!("<{i}.{}@test>", id_safe(folder))
}

fn id_safe(folder: &str) -> String {
    folder
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A realistic RFC 5322 message with CRLF line endings, a unique
/// `Message-ID: <i.folder@test>` and a body whose size varies with `i`.
pub fn generate_message(i: usize, folder: &str) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "sync",
        "maildir",
        "server",
        "folder",
        "message",
        "flag",
        "local",
        "remote",
        "quarterly",
        "report",
        "meeting",
        "budget",
        "draft",
        "review",
        "archive",
        "invoice",
        "deadline",
    ];
    let day = 1 + i % 28;
    let hour = i % 24;
    let minute = (i * 7) % 60;
    let mut msg = format!(
        "Return-Path: <sender{n}@example.org>\r\n\
         From: Sender {n} <sender{n}@example.org>\r\n\
         To: Bench User <bench@localhost>\r\n\
         Subject: Test message {i} in {folder}\r\n\
         Date: Mon, {day:02} Jan 2024 {hour:02}:{minute:02}:00 +0000\r\n\
         Message-ID: {mid}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello,\r\n\r\n",
        n = i % 13,
        mid = generated_message_id(i, folder),
    );
    let target = 200 + (i * 137) % 1800;
    let mut k = i as u64;
    let mut line = String::new();
    while msg.len() < target {
        k = k
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        line.push_str(WORDS[(k >> 33) as usize % WORDS.len()]);
        line.push(' ');
        if line.len() > 60 {
            msg.push_str(line.trim_end());
            msg.push_str("\r\n");
            line.clear();
        }
    }
    msg.push_str(&format!("\r\n-- \r\nMessage {i} of folder {folder}\r\n"));
    msg.into_bytes()
}

/// Small deterministic PRNG (xorshift64*) for seeded randomized tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545F4914F6CDD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

// ---------------------------------------------------------------------------
// imapdir runner
// ---------------------------------------------------------------------------

/// Fields of the `[accounts.<name>]` table; tests change them before `run`.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// "tls" or "plain".
    pub tls: String,
    pub ca_file: Option<PathBuf>,
    pub user: String,
    /// Written to the password file (plus "\n").
    pub password: String,
    pub allow_plaintext: bool,
    pub jobs: Option<u32>,
    pub maildir: PathBuf,
    pub state_file: PathBuf,
    /// Extra `key = value` lines for the account table (e.g. `timeout = 2`).
    pub extra: Vec<String>,
}

/// Result of one imapdir run.
#[derive(Debug)]
pub struct RunResult {
    /// Exit code; -1 when killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl RunResult {
    /// Panics with the captured output unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }

    /// stdout and stderr together, for "not mentioned anywhere" checks.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs the real imapdir binary with a config, state and Maildir inside
/// its own temp dir, and no TTY.
pub struct Imapdir {
    tmp: TempDir,
    pub account: AccountConfig,
    /// Extra environment for every run (e.g. `SSL_CERT_DIR`).
    pub env: Vec<(String, String)>,
    spawned: usize,
}

/// Longest a single run may take before the test fails (a hung sync
/// must fail the test, not the whole CI run).
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

impl Imapdir {
    /// An account "test" for the server's TLS port, trusting its certificate.
    pub fn new(dovecot: &Dovecot) -> Imapdir {
        let tmp = tempfile::Builder::new()
            .prefix("imapdir-client-")
            .tempdir()
            .unwrap();
        let account = AccountConfig {
            name: "test".into(),
            host: "localhost".into(),
            port: dovecot.imaps_port(),
            tls: "tls".into(),
            ca_file: Some(dovecot.ca_file()),
            user: USER.into(),
            password: PASSWORD.into(),
            allow_plaintext: false,
            // CI runs the suite twice: with the default (4) and with
            // IMAPDIR_TEST_JOBS=1, so both the parallel and the serial
            // paths must pass every test.
            jobs: std::env::var("IMAPDIR_TEST_JOBS")
                .ok()
                .and_then(|j| j.parse().ok()),
            maildir: tmp.path().join("Mail"),
            state_file: tmp.path().join("state/test.sqlite"),
            extra: Vec::new(),
        };
        // The Maildir root exists (an empty one): a missing root is an
        // error by design (an unmounted disk must not look empty).
        for sub in ["config", "state-home", "home", "Mail"] {
            fs::create_dir_all(tmp.path().join(sub)).unwrap();
        }
        Imapdir {
            tmp,
            account,
            env: Vec::new(),
            spawned: 0,
        }
    }

    /// An account for a plaintext server on 127.0.0.1:`port` (a fake
    /// server or a proxy), with `allow_plaintext`.
    pub fn for_port(port: u16) -> Imapdir {
        let tmp = tempfile::Builder::new()
            .prefix("imapdir-client-")
            .tempdir()
            .unwrap();
        let account = AccountConfig {
            name: "test".into(),
            host: "127.0.0.1".into(),
            port,
            tls: "plain".into(),
            ca_file: None,
            user: USER.into(),
            password: PASSWORD.into(),
            allow_plaintext: true,
            jobs: None,
            maildir: tmp.path().join("Mail"),
            state_file: tmp.path().join("state/test.sqlite"),
            extra: Vec::new(),
        };
        for sub in ["config", "state-home", "home", "Mail"] {
            fs::create_dir_all(tmp.path().join(sub)).unwrap();
        }
        Imapdir {
            tmp,
            account,
            env: Vec::new(),
            spawned: 0,
        }
    }

    pub fn with_jobs(dovecot: &Dovecot, jobs: u32) -> Imapdir {
        let mut imapdir = Imapdir::new(dovecot);
        imapdir.account.jobs = Some(jobs);
        imapdir
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn maildir(&self) -> &Path {
        &self.account.maildir
    }

    pub fn state_file(&self) -> &Path {
        &self.account.state_file
    }

    /// `<state_file>.lock`, the file imapdir holds with flock while running.
    pub fn lock_file(&self) -> PathBuf {
        let mut p = self.account.state_file.clone().into_os_string();
        p.push(".lock");
        PathBuf::from(p)
    }

    pub fn config_file(&self) -> PathBuf {
        self.dir().join("imapdir.toml")
    }

    pub fn password_file(&self) -> PathBuf {
        self.dir().join("password")
    }

    /// Writes the config and password file from `self.account`.
    pub fn write_config(&self) -> PathBuf {
        let a = &self.account;
        fs::write(self.password_file(), format!("{}\n", a.password)).unwrap();
        fs::set_permissions(self.password_file(), fs::Permissions::from_mode(0o600)).unwrap();
        let mut toml = format!(
            "[accounts.{}]\nhost = {}\nport = {}\ntls = {}\n",
            a.name,
            toml_str(&a.host),
            a.port,
            toml_str(&a.tls)
        );
        if let Some(ca) = &a.ca_file {
            toml.push_str(&format!("ca_file = {}\n", toml_path(ca)));
        }
        toml.push_str(&format!(
            "user = {}\npassword_file = {}\nmaildir = {}\nstate_file = {}\n",
            toml_str(&a.user),
            toml_path(&self.password_file()),
            toml_path(&a.maildir),
            toml_path(&a.state_file)
        ));
        if a.allow_plaintext {
            toml.push_str("allow_plaintext = true\n");
        }
        if let Some(jobs) = a.jobs {
            toml.push_str(&format!("jobs = {jobs}\n"));
        }
        for line in &a.extra {
            toml.push_str(line);
            toml.push('\n');
        }
        fs::write(self.config_file(), toml).unwrap();
        self.config_file()
    }

    fn command(&self, args: &[&str]) -> Command {
        self.write_config();
        self.command_with_config(&self.config_file(), args)
    }

    fn command_with_config(&self, config: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_imapdir"));
        cmd.arg("--config")
            .arg(config)
            .args(args)
            .env("XDG_CONFIG_HOME", self.dir().join("config"))
            .env("XDG_STATE_HOME", self.dir().join("state-home"))
            .env("HOME", self.dir().join("home"))
            .env_remove("RUST_LOG")
            .env_remove("IMAPDIR_CONFIG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// Writes the config from `self.account`, then runs
    /// `imapdir --config <file> ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> RunResult {
        run_to_completion(self.command(args), args)
    }

    /// Runs with the config file as it is on disk (e.g. made invalid).
    pub fn run_with_written_config(&self, args: &[&str]) -> RunResult {
        run_to_completion(self.command_with_config(&self.config_file(), args), args)
    }

    /// Runs with `--config <path>` (e.g. a file that does not exist).
    pub fn run_with_config_path(&self, config: &Path, args: &[&str]) -> RunResult {
        run_to_completion(self.command_with_config(config, args), args)
    }

    /// Runs `sync` and panics unless it exits 0.
    pub fn sync_ok(&self) -> RunResult {
        let r = self.run(&["sync"]);
        r.expect_success();
        r
    }

    /// Starts imapdir without waiting (output goes to files in the temp dir).
    pub fn spawn(&mut self, args: &[&str]) -> Child {
        self.spawned += 1;
        let out = fs::File::create(self.dir().join(format!("spawn-{}.out", self.spawned))).unwrap();
        let err = fs::File::create(self.dir().join(format!("spawn-{}.err", self.spawned))).unwrap();
        self.command(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn imapdir")
    }
}

/// Runs a command with captured output, failing the test after
/// [`RUN_TIMEOUT`] instead of hanging.
fn run_to_completion(mut command: Command, args: &[&str]) -> RunResult {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imapdir");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let result = RunResult {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        stdout: lossy(&out_reader.join().unwrap()),
        stderr: lossy(&err_reader.join().unwrap()),
    };
    assert!(
        status.is_some(),
        "imapdir {args:?} still running after {RUN_TIMEOUT:?}\n--- stdout\n{}\n--- stderr\n{}",
        result.stdout,
        result.stderr
    );
    result
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn toml_path(p: &Path) -> String {
    toml_str(&p.to_string_lossy())
}

// ---------------------------------------------------------------------------
// Common scenarios
// ---------------------------------------------------------------------------

/// The folders of the standard test corpus: INBOX, a nested folder with
/// its parent, and a non-ASCII name (raw mUTF-7 for "Été").
pub const STANDARD_FOLDERS: &[&str] = &["INBOX", "Archive", "Archive/2023", "&AMk-t&AOk-"];

/// Local path (relative to the Maildir root) of a raw server folder name.
pub fn local_folder(raw: &str) -> String {
    match raw {
        "&AMk-t&AOk-" => "Été".to_string(),
        "Caf&AOk-" => "Café".to_string(),
        other => {
            assert!(
                !other.contains('&'),
                "add a decoding for {other} to local_folder"
            );
            other.to_string()
        }
    }
}

/// Flag sets cycled through by [`seed_folder`]: none, each letter alone
/// and a few combinations.
pub const FLAG_CYCLE: &[&str] = &[
    "",
    "\\Seen",
    "\\Seen \\Flagged",
    "\\Answered \\Seen",
    "\\Draft",
    "$Forwarded \\Seen",
    "\\Flagged",
    "\\Deleted \\Seen",
];

/// Appends messages `range` of `folder` (created if needed), flags taken
/// from [`FLAG_CYCLE`]. Returns (uid, Message-ID) pairs.
pub fn seed_folder(
    client: &mut ImapClient,
    folder: &str,
    range: std::ops::Range<usize>,
) -> Vec<(u32, String)> {
    if folder != "INBOX" && !client.list().iter().any(|f| f == folder) {
        client.create(folder);
    }
    range
        .map(|i| {
            let flags = FLAG_CYCLE[i % FLAG_CYCLE.len()];
            let uid = client.append(folder, flags, &generate_message(i, folder));
            (uid, generated_message_id(i, folder))
        })
        .collect()
}

/// Seeds the standard corpus: `per_folder` messages in each folder of
/// [`STANDARD_FOLDERS`] except the bare parent "Archive", which gets two.
pub fn seed_standard(client: &mut ImapClient, per_folder: usize) {
    for folder in STANDARD_FOLDERS {
        let n = if *folder == "Archive" { 2 } else { per_folder };
        seed_folder(client, folder, 0..n);
    }
}

/// Asserts that every server folder is mirrored locally, message by message.
pub fn assert_all_in_sync(client: &mut ImapClient, maildir: &Path) {
    for folder in client.list() {
        let server = client.fetch_all(&folder);
        let local = maildir_messages(maildir, &local_folder(&folder));
        assert_folder_in_sync(&server, &local, &folder);
    }
}

/// Asserts that a run changed nothing: same local files (names and
/// inodes) and same server state (UIDVALIDITY, UIDs, flags, bodies).
pub fn assert_noop_sync(imapdir: &Imapdir, client: &mut ImapClient) {
    let local_before = tree_listing(imapdir.maildir());
    let server_before = client.snapshot();
    imapdir.sync_ok();
    let local_after = tree_listing(imapdir.maildir());
    assert_eq!(
        local_before, local_after,
        "a no-change sync changed local files"
    );
    let server_after = client.snapshot();
    assert!(
        server_before == server_after,
        "a no-change sync changed the server"
    );
}

/// A server seeded with the standard corpus (`per_folder` messages per
/// folder) and a first successful sync, checked message by message.
pub fn synced_standard(per_folder: usize) -> (Dovecot, ImapClient, Imapdir) {
    let dovecot = Dovecot::start();
    let mut client = dovecot.client();
    seed_standard(&mut client, per_folder);
    let imapdir = Imapdir::new(&dovecot);
    imapdir.sync_ok();
    assert_all_in_sync(&mut client, imapdir.maildir());
    (dovecot, client, imapdir)
}

/// Lines of `text` that contain `word`, case-insensitively.
pub fn lines_mentioning<'a>(text: &'a str, word: &str) -> Vec<&'a str> {
    let word = word.to_ascii_lowercase();
    text.lines()
        .filter(|l| l.to_ascii_lowercase().contains(&word))
        .collect()
}
