//! The test server: a private Dovecot 2.3 per test on loopback (IMAP and
//! IMAPS on free ports, its own certificate, passwd file and config in a
//! temp dir), with stop/restart, doveadm and the test user's credentials.
//! When the tests run as root, the mail store belongs to an unprivileged
//! system user, since Dovecot will not run mail processes as UID 0.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::ImapClient;

/// The IMAP user and password of every test server.
pub const USER: &str = "bench";
pub const PASSWORD: &str = "bench";

/// Unprivileged system user that owns the mail store when tests run as
/// root: Dovecot refuses to run mail processes as UID 0.
const MAIL_UID_USER: &str = "dovebench";

/// Dovecot 2.3's capabilities with CONDSTORE and QRESYNC but without MOVE,
/// for tests of the COPY and UID EXPUNGE way.
pub const CAPS_WITHOUT_MOVE: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
     SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL \
     CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC \
     ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY SNIPPET=FUZZY \
     PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE LITERAL+ NOTIFY COMPRESS=DEFLATE SPECIAL-USE";

/// Options for [`Dovecot::start_with`].
#[derive(Clone, Debug, Default)]
pub struct DovecotOptions {
    /// Explicit `imap_capability` (e.g. without CONDSTORE and QRESYNC), so
    /// a client that honours CAPABILITY cannot use the hidden extensions.
    pub imap_capability: Option<String>,
    /// A storage quota for the user, e.g. "10M" (quota + imap_quota plugins).
    pub quota: Option<String>,
    /// The personal namespace's prefix and separator, e.g. `("INBOX.",
    /// '.')` as Cyrus and Courier-IMAP have it; default `("", '/')`.
    pub personal_namespace: Option<(&'static str, char)>,
    /// Also serve a public (shared) namespace with the prefix `Public/`.
    pub public_namespace: bool,
    /// RFC 6154 special uses, as (folder name without the prefix, `\\Sent`).
    pub special_use: Vec<(&'static str, &'static str)>,
    /// Keep the mail in Dovecot's default Maildir++ layout (INBOX at the
    /// root, `.Archive.2023`) instead of LAYOUT=fs.
    pub maildir_plus_plus: bool,
    /// Keep the control files (`dovecot-keywords`, `dovecot-uidlist`) in
    /// the Maildir folders, as Dovecot does by default, instead of a
    /// separate CONTROL directory: a reader of another program's Maildir.
    pub control_in_mail: bool,
    /// Also accept XOAUTH2 and OAUTHBEARER, each token checked by RFC 7662
    /// introspection at this URL (see `Introspection`).
    pub oauth2_introspect_url: Option<String>,
    /// `disable_plaintext_auth = yes`: no password login before TLS
    /// (LOGINDISABLED on the plaintext port until STARTTLS).
    pub disable_plaintext_auth: bool,
    /// `mail_max_userip_connections` (default here: 100).
    pub max_userip_connections: Option<u32>,
    /// Also serve POP3 (plain and STLS) on [`Dovecot::pop3_port`], over the
    /// same mailbox (Debian package `dovecot-pop3d`).
    pub pop3: bool,
    /// Also offer Dovecot's authentication to other servers through the
    /// socket [`Dovecot::sasl_socket`] (Postfix's `smtpd_sasl_type = dovecot`).
    pub sasl_socket: bool,
}

/// A private Dovecot 2.3 instance on 127.0.0.1, living in its own temp dir.
/// Dropping it stops the server and removes the directory.
pub struct Dovecot {
    dir: TempDir,
    imap_port: u16,
    imaps_port: u16,
    pop3_port: u16,
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
            pop3_port: 0,
            child: None,
        };
        let mut last_error = String::new();
        // A port picked free may be taken before Dovecot binds it: retry.
        for _attempt in 0..8 {
            let (imap_port, imaps_port) = pick_two_free_ports();
            dovecot.imap_port = imap_port;
            dovecot.imaps_port = imaps_port;
            if options.pop3 {
                dovecot.pop3_port = pick_two_free_ports().0;
            }
            write_dovecot_conf(
                dovecot.dir(),
                &identity,
                (imap_port, imaps_port, dovecot.pop3_port),
                &options,
            );
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

    /// POP3 (plain, with STLS); only with [`DovecotOptions::pop3`].
    pub fn pop3_port(&self) -> u16 {
        assert!(self.pop3_port != 0, "start Dovecot with pop3: true");
        self.pop3_port
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The authentication socket of `sasl_socket: true`.
    pub fn sasl_socket(&self) -> PathBuf {
        self.dir().join("sasl/auth")
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

    /// Makes a copy of the Maildir `tree` this server's own mail, owned by
    /// its mail user: a real reader of that tree's layout.
    pub fn load_mail(&self, tree: &Path) {
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", tree.display()))
            .arg(self.mail_dir())
            .status()
            .unwrap();
        assert!(status.success(), "cp -a {}", tree.display());
        let identity = MailIdentity::prepare();
        if identity.as_root {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{}:{}", identity.uid, identity.gid))
                .arg(self.mail_dir())
                .status()
                .unwrap();
            assert!(status.success());
        }
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
                && (self.pop3_port == 0 || port_accepts(self.pop3_port))
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
        .chain([
            dir.join("rawlog"),
            dir.join("public"),
            dir.join("index/public"),
        ])
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
    (imap_port, imaps_port, pop3_port): (u16, u16, u16),
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
    let (prefix, separator) = options.personal_namespace.unwrap_or(("", '/'));
    let (oauth2_mechanisms, oauth2_passdb) = match &options.oauth2_introspect_url {
        Some(url) => {
            fs::write(
                dir.join("oauth2.conf.ext"),
                format!(
                    "introspection_url = {url}\nintrospection_mode = post\n\
                     username_attribute = username\nactive_attribute = active\n\
                     active_value = true\n"
                ),
            )
            .unwrap();
            (
                " xoauth2 oauthbearer",
                format!(
                    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  \
                     args = {}/oauth2.conf.ext\n}}\n",
                    dir.display()
                ),
            )
        }
        None => ("", String::new()),
    };
    let layout = if options.maildir_plus_plus {
        ""
    } else {
        ":LAYOUT=fs"
    };
    let control = if options.control_in_mail {
        String::new()
    } else {
        format!(":CONTROL={d}/control/%u")
    };
    let special_use: String = options
        .special_use
        .iter()
        .map(|(name, attribute)| {
            format!("  mailbox \"{name}\" {{\n    special_use = {attribute}\n  }}\n")
        })
        .collect();
    let public = if options.public_namespace {
        format!(
            "namespace public {{\n  type = public\n  separator = /\n  prefix = Public/\n  \
             location = maildir:{d}/public:LAYOUT=fs:INDEX={d}/index/public\n  \
             subscriptions = no\n  list = yes\n}}\n"
        )
    } else {
        String::new()
    };
    let conf = format!(
        r#"# Self-contained test instance: nothing from /etc/dovecot is read.
instance_name = {instance}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.log
debug_log_path = {d}/log/dovecot.log

protocols = imap{pop3_protocol}
listen = 127.0.0.1
default_internal_user = {iuser}
default_internal_group = {igroup}
default_login_user = {luser}
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = {max_userip}

ssl = yes
ssl_cert = <{d}/ssl/cert.pem
ssl_key = <{d}/ssl/key.pem

disable_plaintext_auth = {disable_plaintext}
auth_mechanisms = plain login{oauth2_mechanisms}
# Failed logins answer at once (default: 2 s), keeping the suite fast.
auth_failure_delay = 0
{oauth2_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}

# LAYOUT=fs: folder "Archive/2023" is mail/bench/Archive/2023/{{cur,new,tmp}}.
mail_location = maildir:{d}/mail/%u{layout}:INDEX={d}/index/%u{control}
namespace inbox {{
  inbox = yes
  separator = {separator}
  prefix = {prefix}
{special_use}}}
{public}
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
        pop3_protocol = if options.pop3 { " pop3" } else { "" },
        iuser = id.internal_user,
        igroup = id.internal_group,
        luser = id.login_user,
        max_userip = options.max_userip_connections.unwrap_or(100),
        disable_plaintext = if options.disable_plaintext_auth {
            "yes"
        } else {
            "no"
        },
    );
    let conf = if options.sasl_socket {
        fs::create_dir_all(dir.join("sasl")).unwrap();
        fs::set_permissions(dir.join("sasl"), fs::Permissions::from_mode(0o755)).unwrap();
        format!(
            "{conf}\nservice auth {{\n  unix_listener {d}/sasl/auth {{\n    mode = 0666\n  }}\n}}\n"
        )
    } else {
        conf
    };
    let conf = if options.pop3 {
        format!(
            "{conf}\nprotocol pop3 {{\n  pop3_uidl_format = %08Xu%08Xv\n}}\n\
             service pop3-login {{\n  chroot =\n  inet_listener pop3 {{\n    \
             address = 127.0.0.1\n    port = {pop3_port}\n  }}\n  \
             inet_listener pop3s {{\n    port = 0\n  }}\n}}\n"
        )
    } else {
        conf
    };
    fs::write(dir.join("dovecot.conf"), conf).unwrap();
}
