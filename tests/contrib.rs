//! The examples in contrib/ stay true to the program: every imapdir
//! command line in the systemd units and the Kubernetes manifest parses
//! with the real CLI, the config in the manifest loads with the real config
//! parser, each template service has its timer, and (where systemd-analyze
//! is installed) systemd finds nothing to complain about in the units.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use imapdir::cli::{Cli, Command as Sub};
use imapdir::config::{Config, Environment};

fn contrib() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib")
}

fn files(dir: &Path, ext: &str, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, found);
        } else if path.extension().is_some_and(|e| e == ext) {
            found.push(path);
        }
    }
}

fn units(ext: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    files(&contrib().join("systemd"), ext, &mut found);
    found.sort();
    assert!(!found.is_empty(), "no .{ext} in contrib/systemd");
    found
}

/// The command line parsed, the program checked to be imapdir.
fn parse(words: &[String], origin: &Path) -> Cli {
    assert!(
        words.first().is_some_and(|w| w.ends_with("imapdir")),
        "{}: {words:?}",
        origin.display()
    );
    Cli::try_parse_from(words)
        .unwrap_or_else(|e| panic!("{}: {words:?} does not parse: {e}", origin.display()))
}

#[test]
fn the_systemd_units_run_commands_imapdir_has() {
    for unit in units("service") {
        let text = fs::read_to_string(&unit).unwrap();
        let exec: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("ExecStart="))
            .collect();
        assert_eq!(exec.len(), 1, "{}", unit.display());
        let words: Vec<String> = exec[0]
            .split_whitespace()
            .map(|w| w.replace("%i", "alice").replace("%h", "/home/alice"))
            .collect();
        let cli = parse(&words, &unit);
        match cli.command {
            Sub::Sync(args) => assert_eq!(args.accounts, vec!["alice"]),
            Sub::Watch(args) => assert_eq!(args.accounts, vec!["alice"]),
            other => panic!("{}: runs {other:?}", unit.display()),
        }
        assert!(
            text.contains("SuccessExitStatus=4") || text.contains("Restart=on-failure"),
            "{}: a held lock (exit 4) is not a failure",
            unit.display()
        );
    }
    for timer in units("timer") {
        let text = fs::read_to_string(&timer).unwrap();
        assert!(text.contains("Persistent=true"), "{}", timer.display());
        assert!(
            timer.with_extension("service").exists(),
            "{} has no service",
            timer.display()
        );
    }
    let system = fs::read_to_string(contrib().join("systemd/system/imapdir@.service")).unwrap();
    for hardening in [
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "CapabilityBoundingSet=",
    ] {
        assert!(system.contains(hardening), "{hardening}");
    }
}

#[test]
fn systemd_accepts_the_units() {
    let Ok(version) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: not verified");
        return;
    };
    assert!(version.status.success());
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for unit in units("service").into_iter().chain(units("timer")) {
        // An instance of each template, under its own directory's name so
        // the user and the system units do not meet; the binary is one
        // that exists here (systemd-analyze checks it).
        let kind = unit
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let sub = dir.path().join(&kind);
        fs::create_dir_all(&sub).unwrap();
        let name = unit
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace("@.", "@alice.");
        let text = fs::read_to_string(&unit).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .and_then(|e| e.split_whitespace().next())
            .map(str::to_string);
        let text = match exec {
            Some(program) => text.replace(&format!("ExecStart={program}"), "ExecStart=/bin/true"),
            None => text,
        };
        fs::write(sub.join(&name), text).unwrap();
        copies.push(sub.join(&name));
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&copies)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );
}

#[test]
fn the_kubernetes_cronjob_runs_imapdir_with_a_config_that_loads() {
    let path = contrib().join("kubernetes/cronjob.yaml");
    let text = fs::read_to_string(&path).unwrap();
    for needed in [
        "kind: CronJob",
        "concurrencyPolicy: Forbid",
        "kind: PersistentVolumeClaim",
        "kind: ConfigMap",
        "secretName: imapdir-alice",
    ] {
        assert!(text.contains(needed), "{needed}");
    }
    let commands: Vec<Vec<String>> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("command: "))
        .map(|flow| serde_json::from_str(flow).unwrap())
        .filter(|words: &Vec<String>| words.first().is_some_and(|w| w == "imapdir"))
        .collect();
    assert_eq!(commands.len(), 1, "{commands:?}");
    let cli = parse(&commands[0], &path);
    let Sub::Sync(args) = cli.command else {
        panic!("not a sync: {:?}", commands[0]);
    };
    assert_eq!(args.accounts, vec!["alice"]);
    assert_eq!(
        cli.config.as_deref(),
        Some(Path::new("/etc/imapdir/config.toml"))
    );

    // The ConfigMap's config.toml, as the container sees it.
    let mut lines = text.lines().skip_while(|l| l.trim() != "config.toml: |");
    lines.next();
    let config: String = lines
        .take_while(|l| l.starts_with("    ") || l.trim().is_empty())
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let env = Environment {
        home: Some("/data".into()),
        ..Environment::default()
    };
    let config = Config::parse(&config, &env).unwrap_or_else(|e| panic!("{e}\n{config}"));
    let account = &config.select(&["alice".into()]).unwrap()[0];
    assert!(account.maildir.starts_with("/data") && account.state_file.starts_with("/data"));
}
