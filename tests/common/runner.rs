//! Runs the real `imapdir` binary: an account config, password file, state
//! and Maildir in a temp dir per test, no TTY, a timeout so a hung run
//! fails the test, and the captured exit code and output.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::imap_client::lossy;
use super::{Dovecot, PASSWORD, USER};

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
    /// A secret line used instead of `password_file` (e.g. an
    /// `oauth2_token_command = "..."`).
    pub password_source: Option<String>,
    /// When set, `password_command` instead of `password_file` (the
    /// password file is still written, for the command to read).
    pub password_command: Option<String>,
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
    /// The IMAP commands a `--trace-imap` run sent, without their tags.
    pub fn imap_commands(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("C: "))
            .filter_map(|l| l.split_once(' ').map(|(_, cmd)| cmd.to_string()))
            .collect()
    }

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
    /// Further accounts, written after `account` (see [`Imapdir::add_account`]).
    pub more_accounts: Vec<AccountConfig>,
    /// Lines before the account tables (e.g. `accounts_at_once = 2`).
    pub top_level: Vec<String>,
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
            password_source: None,
            password_command: None,
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
            more_accounts: Vec::new(),
            top_level: Vec::new(),
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
            password_source: None,
            password_command: None,
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
            more_accounts: Vec::new(),
            top_level: Vec::new(),
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

    /// Another account like `account` (same server and login), named
    /// `name`, with a Maildir and state of its own; returns its Maildir.
    pub fn add_account(&mut self, name: &str) -> PathBuf {
        let mut a = self.account.clone();
        a.name = name.to_string();
        a.maildir = self.dir().join(format!("Mail-{name}"));
        a.state_file = self.dir().join(format!("state/{name}.sqlite"));
        fs::create_dir_all(&a.maildir).unwrap();
        let maildir = a.maildir.clone();
        self.more_accounts.push(a);
        maildir
    }

    /// Writes the config and password file from `self.account` (and
    /// `more_accounts`).
    pub fn write_config(&self) -> PathBuf {
        fs::write(self.password_file(), format!("{}\n", self.account.password)).unwrap();
        fs::set_permissions(self.password_file(), fs::Permissions::from_mode(0o600)).unwrap();
        let mut toml = String::new();
        for line in &self.top_level {
            toml.push_str(line);
            toml.push('\n');
        }
        for a in std::iter::once(&self.account).chain(&self.more_accounts) {
            toml.push_str(&self.account_table(a));
        }
        fs::write(self.config_file(), toml).unwrap();
        self.config_file()
    }

    fn account_table(&self, a: &AccountConfig) -> String {
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
        let secret = match (&a.password_source, &a.password_command) {
            (Some(line), _) => line.clone(),
            (None, Some(command)) => format!("password_command = {}", toml_str(command)),
            (None, None) => format!("password_file = {}", toml_path(&self.password_file())),
        };
        toml.push_str(&format!(
            "user = {}\n{secret}\nmaildir = {}\nstate_file = {}\n",
            toml_str(&a.user),
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
        toml
    }

    fn command(&self, args: &[&str]) -> Command {
        self.write_config();
        self.command_with_config(&self.config_file(), args)
    }

    /// The imapdir command with `--config <config>` and the run's environment,
    /// not started (standard input closed unless the caller changes it).
    pub fn command_with_config(&self, config: &Path, args: &[&str]) -> Command {
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

    /// Runs the first command that `text` tells people to run (`` run
    /// `imapdir ...` ``), word for word (shell quoting undone), with this
    /// config.
    pub fn run_suggested(&self, text: &str) -> RunResult {
        let start = text
            .find("run `imapdir ")
            .unwrap_or_else(|| panic!("no run `imapdir ...` in: {text}"));
        let rest = &text[start + "run `imapdir ".len()..];
        let command = &rest[..rest.find('`').expect("the command's closing backtick")];
        let words = shell_words(command);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// Runs `sync` and panics unless it exits 0.
    pub fn sync_ok(&self) -> RunResult {
        let r = self.run(&["sync"]);
        r.expect_success();
        r
    }

    /// The (stdout, stderr) files the next `spawn` writes to.
    pub fn next_spawn_output(&self) -> (PathBuf, PathBuf) {
        let n = self.spawned + 1;
        (
            self.dir().join(format!("spawn-{n}.out")),
            self.dir().join(format!("spawn-{n}.err")),
        )
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

impl Imapdir {
    /// Runs `imapdir ARGS...` to completion while `alongside` (given the
    /// child's pid, started once the child is) does something to it; the
    /// value `alongside` returned is handed back after the run ended.
    pub fn run_alongside<G>(
        &mut self,
        args: &[&str],
        alongside: impl FnOnce(u32) -> G,
    ) -> (RunResult, G) {
        let mut child = self.spawn(args);
        let n = self.spawned;
        let guard = alongside(child.id());
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
        let read = |ext: &str| {
            lossy(&fs::read(self.dir().join(format!("spawn-{n}.{ext}"))).unwrap_or_default())
        };
        let result = RunResult {
            code: status.and_then(|s| s.code()).unwrap_or(-1),
            stdout: read("out"),
            stderr: read("err"),
        };
        assert!(
            status.is_some(),
            "imapdir {args:?} still running after {RUN_TIMEOUT:?}\n--- stdout\n{}\n--- stderr\n{}",
            result.stdout,
            result.stderr
        );
        (result, guard)
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

/// Splits a command as a POSIX shell would, for the quoting imapdir writes:
/// plain words and single-quoted ones (`'\''` for a quote inside).
fn shell_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' if in_word => {
                words.push(std::mem::take(&mut word));
                in_word = false;
            }
            ' ' => {}
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
