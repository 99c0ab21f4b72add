//! The committed man pages and shell completions are what
//! `imapdir generate` writes from the current clap definitions.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["man", "completions"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let name = format!("{sub}/{}", e.file_name().to_string_lossy());
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
    out
}

#[test]
fn committed_man_pages_and_completions_are_current() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imapdir"))
        .arg("generate")
        .arg(tmp.path())
        .env_remove("IMAPDIR_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "imapdir generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fresh = files(tmp.path());
    let committed = files(Path::new(env!("CARGO_MANIFEST_DIR")));
    for expected in [
        "man/imapdir.1",
        "man/imapdir-sync.1",
        "man/imapdir-folders.1",
        "man/imapdir-check.1",
        "man/imapdir-generate.1",
        "man/imapdir.toml.5",
        "completions/imapdir.bash",
        "completions/_imapdir",
        "completions/imapdir.fish",
    ] {
        assert!(fresh.contains_key(expected), "{expected} was not generated");
    }
    let stale: Vec<&String> = fresh
        .keys()
        .chain(committed.keys())
        .filter(|k| fresh.get(*k) != committed.get(*k))
        .collect();
    assert!(
        stale.is_empty(),
        "man pages or completions are out of date: {stale:?}; \
         run `cargo run -- generate .` and commit the result"
    );
}

#[test]
fn generated_man_page_lists_the_subcommands() {
    let tmp = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_imapdir"))
        .arg("generate")
        .arg(tmp.path())
        .status()
        .unwrap();
    assert!(status.success());
    let page = std::fs::read_to_string(tmp.path().join("man/imapdir.1")).unwrap();
    for sub in [
        "imapdir\\-sync(1)",
        "imapdir\\-folders(1)",
        "imapdir\\-check(1)",
    ] {
        assert!(page.contains(sub), "imapdir.1 lacks {sub}:\n{page}");
    }
    let config = std::fs::read_to_string(tmp.path().join("man/imapdir.toml.5")).unwrap();
    assert!(config.starts_with(".TH IMAPDIR.TOML 5"));
    assert!(config.contains("password_command"));
}
