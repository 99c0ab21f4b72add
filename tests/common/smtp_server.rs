//! A private Postfix on 127.0.0.1 for the outbox tests: its own config,
//! queue and data directories in a temp dir, submission with STARTTLS on
//! one port and TLS from the first byte (as 465) on another, every
//! recipient at `example.test` delivered into one Maildir the test reads
//! (each copy carries `Delivered-To:`). `reject@example.test` is refused
//! permanently (550), `later@example.test` temporarily (451). The message
//! size limit is 200 000 bytes. [`Postfix::start_with_sasl`] adds a port
//! that requires SMTP AUTH, checked by a Dovecot instance's socket.
//!
//! Postfix's master must start as root (it drops to the `postfix` user);
//! `.ci/run` installs the package. The certificate is the Dovecot
//! instance's, so one `ca_file` trusts both servers.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub struct Postfix {
    dir: TempDir,
    pub starttls_port: u16,
    pub tls_port: u16,
    /// With [`Postfix::start_with_sasl`]: STARTTLS, then AUTH required
    /// (checked by Dovecot), for every recipient.
    pub auth_port: u16,
    sasl_socket: Option<PathBuf>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn id_of(flag: &str) -> String {
    let out = Command::new("id").args([flag, "postfix"]).output().unwrap();
    assert!(
        out.status.success(),
        "no user postfix: apt-get install postfix (as .ci/run does)"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Postfix {
    /// Starts Postfix with the certificate and key of `cert_dir`
    /// (`cert.pem`, `key.pem`).
    pub fn start(cert_dir: &Path) -> Postfix {
        Postfix::start_inner(cert_dir, None)
    }

    /// As [`Postfix::start`], plus [`Postfix::auth_port`], where a login
    /// checked by Dovecot's authentication socket `socket` is required.
    pub fn start_with_sasl(cert_dir: &Path, socket: &Path) -> Postfix {
        Postfix::start_inner(cert_dir, Some(socket.to_path_buf()))
    }

    fn start_inner(cert_dir: &Path, sasl_socket: Option<PathBuf>) -> Postfix {
        let dir = tempfile::Builder::new()
            .prefix("imapdir-postfix-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for sub in ["conf", "queue", "data", "mail"] {
            fs::create_dir_all(d.join(sub)).unwrap();
        }
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        let (uid, gid) = (id_of("-u"), id_of("-g"));
        for sub in ["data", "mail"] {
            Command::new("chown")
                .arg("postfix")
                .arg(d.join(sub))
                .status()
                .unwrap();
        }
        fs::copy(cert_dir.join("cert.pem"), d.join("cert.pem")).unwrap();
        fs::copy(cert_dir.join("key.pem"), d.join("key.pem")).unwrap();
        fs::write(
            d.join("access"),
            "reject@example.test 550 5.1.1 mailbox unknown\n\
             later@example.test 451 4.3.0 try again later\n",
        )
        .unwrap();
        let mut postfix = Postfix {
            dir,
            starttls_port: 0,
            tls_port: 0,
            auth_port: 0,
            sasl_socket,
            child: None,
        };
        let mut last = String::new();
        for _ in 0..5 {
            postfix.starttls_port = free_port();
            postfix.tls_port = free_port();
            postfix.auth_port = free_port();
            postfix.write_config(&uid, &gid);
            match postfix.launch() {
                Ok(()) => return postfix,
                Err(e) => {
                    last = e;
                    postfix.stop();
                }
            }
        }
        panic!("postfix did not start: {last}");
    }

    fn write_config(&self, uid: &str, gid: &str) {
        let d = self.dir.path().display();
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/queue\n\
             data_directory = {d}/data\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = localhost.test\n\
             mydestination =\n\
             mynetworks = 127.0.0.0/8\n\
             virtual_mailbox_domains = example.test\n\
             virtual_mailbox_base = {d}/mail\n\
             virtual_mailbox_maps = static:box/\n\
             virtual_uid_maps = static:{uid}\n\
             virtual_gid_maps = static:{gid}\n\
             smtpd_tls_cert_file = {d}/cert.pem\n\
             smtpd_tls_key_file = {d}/key.pem\n\
             smtpd_tls_security_level = may\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\n\
             smtpd_recipient_restrictions = check_recipient_access texthash:{d}/access, \
             permit_mynetworks, reject\n\
             maillog_file = /dev/stdout\n\
             message_size_limit = 200000\n\
             queue_run_delay = 1s\n\
             minimal_backoff_time = 1s\n"
        );
        fs::write(self.dir.path().join("conf/main.cf"), main).unwrap();
        let services = [
            "cleanup unix n - n - 0 cleanup",
            "qmgr unix n - n 300 1 qmgr",
            "rewrite unix - - n - - trivial-rewrite",
            "bounce unix - - n - 0 bounce",
            "defer unix - - n - 0 bounce",
            "trace unix - - n - 0 bounce",
            "verify unix - - n - 1 verify",
            "flush unix n - n 1000? 0 flush",
            "proxymap unix - - n - - proxymap",
            "smtp unix - - n - - smtp",
            "relay unix - - n - - smtp",
            "error unix - - n - - error",
            "retry unix - - n - - error",
            "discard unix - - n - - discard",
            "local unix - n n - - local",
            "virtual unix - n n - - virtual",
            "anvil unix - - n - 1 anvil",
            "scache unix - - n - 1 scache",
            "postlog unix-dgram n - n - 1 postlogd",
            "showq unix n - n - - showq",
            "tlsmgr unix - - n 1000? 1 tlsmgr",
            "pickup unix n - n 60 1 pickup",
        ];
        // Loopback is in mynetworks: the AUTH port's restrictions leave it out.
        let auth = match &self.sasl_socket {
            Some(socket) => format!(
                "127.0.0.1:{} inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes \
                 -o smtpd_sasl_type=dovecot -o smtpd_sasl_path={} -o smtpd_tls_auth_only=yes \
                 -o smtpd_relay_restrictions=permit_sasl_authenticated,reject \
                 -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n",
                self.auth_port,
                socket.display()
            ),
            None => String::new(),
        };
        let master = format!(
            "127.0.0.1:{} inet n - n - - smtpd\n\
             127.0.0.1:{} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n{auth}{}\n",
            self.starttls_port,
            self.tls_port,
            services.join("\n")
        );
        fs::write(self.dir.path().join("conf/master.cf"), master).unwrap();
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("conf")
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = fs::File::create(self.dir.path().join("stdio.log")).unwrap();
        let child = Command::new("postfix")
            .arg("-c")
            .arg(self.conf())
            .arg("start-fg")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run postfix: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if accepts(self.starttls_port)
                && accepts(self.tls_port)
                && (self.sasl_socket.is_none() || accepts(self.auth_port))
            {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!(
                    "postfix exited with {status}: {}{}",
                    fs::read_to_string(self.dir.path().join("stdio.log")).unwrap_or_default(),
                    fs::read_to_string(self.dir.path().join("stdio.log")).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                return Err("timeout waiting for postfix".into());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(self.conf())
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The delivered copies (each recipient's one file).
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(self.dir.path().join("mail/box").join(sub)) else {
                continue;
            };
            for e in entries {
                out.push(fs::read(e.unwrap().path()).unwrap());
            }
        }
        out
    }

    /// Waits until `n` copies were delivered (Postfix queues, then
    /// delivers), then a moment more to see that no further copy comes.
    pub fn wait_delivered(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.delivered().len() < n && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(100));
        }
        thread::sleep(Duration::from_millis(700));
        self.delivered()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("stdio.log")).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        self.stop();
    }
}
