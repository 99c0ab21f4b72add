//! `imapdir init` against a real Dovecot: every preset, host and port
//! overridden, makes a config that logs in; the file's other accounts and
//! comments stay; a name already there, an unknown preset and a missing
//! value under --yes are errors that write nothing; a domain without a
//! preset is found through its autoconfig; and the questions, answered
//! through a pseudo-terminal, make the same config.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::http::StaticHttp;
use common::pty::PtySession;
use common::*;

const EXISTING: &str =
    "# my accounts\n[accounts.old] # kept as it is\nhost = \"imap.old.example\"\n\
                        user = \"u\"\npassword_env = \"OLD_PASSWORD\"\nmaildir = \"/srv/old\"\n";

struct Setup {
    dovecot: Dovecot,
    imapdir: Imapdir,
    config: PathBuf,
    secret: PathBuf,
}

fn setup() -> Setup {
    let dovecot = Dovecot::start();
    let imapdir = Imapdir::new(&dovecot);
    let config = imapdir.dir().join("config.toml");
    fs::write(&config, EXISTING).unwrap();
    let secret = imapdir.dir().join("secret");
    fs::write(&secret, format!("{PASSWORD}\n")).unwrap();
    Setup {
        dovecot,
        imapdir,
        config,
        secret,
    }
}

impl Setup {
    fn init(&self, extra: &[&str]) -> RunResult {
        let ca = self.dovecot.ca_file();
        let maildir = self.imapdir.dir().join("Mail-init");
        let mut args = vec![
            "init",
            "--host",
            "localhost",
            "--user",
            USER,
            "--ca-file",
            ca.to_str().unwrap(),
            "--maildir",
            maildir.to_str().unwrap(),
            "--password-file",
            self.secret.to_str().unwrap(),
            "--yes",
        ];
        let port = self.dovecot.imaps_port().to_string();
        args.extend(["--port", &port]);
        args.extend(extra);
        self.imapdir.run_with_config_path(&self.config, &args)
    }

    fn config_text(&self) -> String {
        fs::read_to_string(&self.config).unwrap()
    }
}

fn table(text: &str) -> toml::Table {
    toml::from_str(text).unwrap()
}

#[test]
fn every_preset_with_host_and_port_overridden_logs_in_and_syncs() {
    let s = setup();
    let mut client = s.dovecot.client();
    seed_folder(&mut client, "INBOX", 0..2);
    for preset in imapdir::providers::PROVIDERS {
        let name = format!("p-{}", preset.name.replace('.', "-"));
        let email = format!(
            "{USER}@{}",
            preset.domains.first().unwrap_or(&"example.org")
        );
        let out = s.init(&[
            "--email",
            &email,
            "--provider",
            preset.name,
            "--account",
            &name,
        ]);
        out.expect_success();
        assert!(
            out.stdout.contains(&format!("logged in as {USER}")),
            "{}: {}",
            preset.name,
            out.all_output()
        );
        assert!(
            out.stderr.contains(&format!("imapdir@{name}.timer")),
            "{}",
            out.stderr
        );
    }
    let text = s.config_text();
    assert!(
        text.starts_with(EXISTING),
        "the old account and comments stay:\n{text}"
    );
    let config = table(&text);
    let accounts = config["accounts"].as_table().unwrap();
    assert_eq!(accounts.len(), imapdir::providers::PROVIDERS.len() + 1);
    let gmail = accounts["p-gmail"].as_table().unwrap();
    assert_eq!(gmail["provider"].as_str(), Some("gmail"));
    assert_eq!(gmail["host"].as_str(), Some("localhost"));
    assert_eq!(
        gmail["port"].as_integer(),
        Some(i64::from(s.dovecot.imaps_port()))
    );
    assert!(
        gmail.get("tls").is_none(),
        "the preset's tls is not repeated"
    );

    let out = s
        .imapdir
        .run_with_config_path(&s.config, &["sync", "p-gmail"]);
    out.expect_success();
    let maildir = s.imapdir.dir().join("Mail-init");
    assert_eq!(maildir_messages(&maildir, "INBOX").len(), 2);
}

#[test]
fn a_name_already_there_an_unknown_preset_and_a_missing_flag_write_nothing() {
    let s = setup();
    s.init(&["--email", "me@example.org", "--account", "old"])
        .expect_code(2);
    let out = s.init(&["--email", "me@example.org", "--account", "old"]);
    assert!(
        out.stderr.contains("already") && out.stderr.contains("--force"),
        "{}",
        out.stderr
    );
    assert_eq!(s.config_text(), EXISTING);

    let out = s.init(&["--email", "me@example.org", "--provider", "gmial"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("gmail") && out.stderr.contains("fastmail"),
        "the known presets are listed: {}",
        out.stderr
    );
    assert_eq!(s.config_text(), EXISTING);

    let out = s
        .imapdir
        .run_with_config_path(&s.config, &["init", "--email", "me@example.org", "--yes"]);
    out.expect_code(2);
    assert!(out.stderr.contains("--host"), "{}", out.stderr);
    let out = s.imapdir.run_with_config_path(
        &s.config,
        &["init", "--email", "me@example.org", "--host", "h", "--yes"],
    );
    out.expect_code(2);
    assert!(out.stderr.contains("--password-command"), "{}", out.stderr);
    assert_eq!(s.config_text(), EXISTING);

    // --force replaces the account and keeps the others.
    s.init(&["--email", "me@example.org", "--account", "old", "--force"])
        .expect_success();
    let config = table(&s.config_text());
    assert_eq!(
        config["accounts"]["old"]["host"].as_str(),
        Some("localhost")
    );

    // A failing check leaves the account written and exits 3.
    let port = s.dovecot.imaps_port().to_string();
    let ca = s.dovecot.ca_file();
    let out = s.imapdir.run_with_config_path(
        &s.config,
        &[
            "init",
            "--email",
            "nobody@example.org",
            "--account",
            "wrong",
            "--host",
            "localhost",
            "--port",
            &port,
            "--ca-file",
            ca.to_str().unwrap(),
            "--password-command",
            "echo wrong",
            "--maildir",
            s.imapdir.dir().join("Mail-wrong").to_str().unwrap(),
            "--yes",
        ],
    );
    out.expect_code(3);
    assert!(out.stderr.contains("what to do"), "{}", out.stderr);
    assert!(out.stderr.contains("imapdir check wrong"), "{}", out.stderr);
    assert!(table(&s.config_text())["accounts"].get("wrong").is_some());
}

fn autoconfig_document(port: u16) -> String {
    format!(
        r#"<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="example.test">
  <incomingServer type="imap">
    <hostname>localhost</hostname><port>{port}</port><socketType>SSL</socketType>
    <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
  </incomingServer>
</emailProvider></clientConfig>"#
    )
}

#[test]
fn a_domain_without_a_preset_is_found_through_its_autoconfig() {
    let mut s = setup();
    let http = StaticHttp::start(vec![(
        "/.well-known/autoconfig/mail/config-v1.1.xml".into(),
        autoconfig_document(s.dovecot.imaps_port()),
    )]);
    s.imapdir
        .env
        .push(("IMAPDIR_AUTOCONFIG_URL".into(), http.url()));
    let ca = s.dovecot.ca_file();
    let maildir = s.imapdir.dir().join("Mail-auto");
    let out = s.imapdir.run_with_config_path(
        &s.config,
        &[
            "init",
            "--email",
            "bench@example.test",
            "--ca-file",
            ca.to_str().unwrap(),
            "--maildir",
            maildir.to_str().unwrap(),
            "--password-file",
            s.secret.to_str().unwrap(),
            "--yes",
        ],
    );
    out.expect_success();
    let asked = http.requests();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(
        asked[0].starts_with("/mail/config-v1.1.xml?emailaddress=bench%40example.test"),
        "{asked:?}"
    );
    let config = table(&s.config_text());
    let account = config["accounts"]["bench"].as_table().unwrap();
    assert_eq!(account["host"].as_str(), Some("localhost"));
    assert_eq!(
        account["user"].as_str(),
        Some(USER),
        "from %EMAILLOCALPART%"
    );
    assert!(out.stdout.contains("logged in as bench"), "{}", out.stdout);
}

fn pty_command(imapdir: &Imapdir, config: &Path, args: &[&str]) -> std::process::Command {
    imapdir.command_with_config(config, args)
}

#[test]
fn the_questions_through_a_terminal_make_a_working_account() {
    let mut s = setup();
    let http = StaticHttp::start(vec![(
        "/mail/config-v1.1.xml".into(),
        autoconfig_document(s.dovecot.imaps_port()),
    )]);
    s.imapdir
        .env
        .push(("IMAPDIR_AUTOCONFIG_URL".into(), http.url()));
    let ca = s.dovecot.ca_file();
    let maildir = s.imapdir.dir().join("Mail-asked");
    let mut term = PtySession::spawn(pty_command(
        &s.imapdir,
        &s.config,
        &["init", "--ca-file", ca.to_str().unwrap()],
    ));
    term.expect("Mail address: ");
    term.answer("not an address");
    term.expect("is not a mail address");
    term.expect("Mail address: ");
    term.answer("old@example.test");
    term.expect("example.test publishes localhost:");
    term.expect("Use these settings? [Y/n]: ");
    term.answer("");
    // "old" is taken: the default avoids it, and typing it is refused.
    term.expect("Account name (for imapdir sync NAME) [old-example]: ");
    term.answer("old");
    term.expect("already in");
    term.expect("[old-example]: ");
    term.answer("");
    term.expect("Login name [old]: ");
    term.answer(USER);
    term.expect("Maildir (created when missing) [~/Mail/old-example]: ");
    term.answer(maildir.to_str().unwrap());
    term.expect("command, file, env or oauth2 [command]: ");
    term.answer("file");
    term.expect("File whose first line is the password: ");
    term.answer(s.secret.to_str().unwrap());
    term.expect(&format!("logged in as {USER}"));
    term.expect("systemctl --user enable --now imapdir@old-example.timer");
    let (code, screen) = term.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(maildir.is_dir());

    let text = s.config_text();
    assert!(text.starts_with(EXISTING), "{text}");
    let config = table(&text);
    let account = config["accounts"]["old-example"].as_table().unwrap();
    assert_eq!(account["user"].as_str(), Some(USER));
    assert_eq!(
        account["password_file"].as_str(),
        Some(s.secret.to_str().unwrap())
    );
    s.imapdir
        .run_with_config_path(&s.config, &["check", "old-example"])
        .expect_success();
}
