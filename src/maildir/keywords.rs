//! A folder's `dovecot-keywords` file: which keyword each letter `a`..`z`
//! on its files stands for, one `N name` line per named slot (N = 0..25).
//!
//! Dovecot reads and writes the same file, so it is written exactly as
//! Dovecot writes it (slot order, `N name\n`), under the lock Dovecot takes
//! (`dovecot-keywords.lock`, created exclusively, renamed over the file
//! once written and synced), and read again under that lock before
//! writing: a slot Dovecot named meanwhile is kept, never renumbered.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::{sync_dir, with_path, Maildir};
use crate::model::{Flags, Keywords};

/// The file's name in the folder's directory.
pub const KEYWORDS_FILE: &str = "dovecot-keywords";
/// Dovecot's lock beside it.
const LOCK_FILE: &str = "dovecot-keywords.lock";
/// A lock older than this was left by a crash (Dovecot's own limit for
/// this lock is two minutes).
const STALE_LOCK: Duration = Duration::from_secs(120);
/// How long to wait for another program's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Parses the file's text: `N name` lines; anything else (a line without
/// a space, a number that is none, a slot past 25, a repeated slot or
/// name) is skipped, as Dovecot skips it.
pub fn parse_keywords(text: &str) -> Keywords {
    Keywords::from_entries(text.lines().filter_map(|line| {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let (number, name) = line.split_once(' ')?;
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some((number.parse::<u32>().ok()?, name.to_string()))
    }))
}

/// The file's text for a table, as Dovecot writes it.
pub fn format_keywords(table: &Keywords) -> String {
    let mut out = String::new();
    for (slot, name) in table.entries() {
        out.push_str(&format!("{slot} {name}\n"));
    }
    out
}

impl Maildir {
    fn keywords_path(&self) -> PathBuf {
        self.path().join(KEYWORDS_FILE)
    }

    /// The folder's keyword table; empty when it has no `dovecot-keywords`.
    pub fn read_keywords(&self) -> io::Result<Keywords> {
        let path = self.keywords_path();
        match fs::read(&path) {
            Ok(bytes) => Ok(parse_keywords(&String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Keywords::default()),
            Err(e) => Err(with_path(e, "cannot read", &path)),
        }
    }

    /// `flags` of a message of `from` as this folder's keyword letters;
    /// names this folder lacks are written to its `dovecot-keywords`
    /// first, so no file carries a letter before it is named.
    pub fn carry_keywords(&self, flags: Flags, from: &Maildir) -> io::Result<Flags> {
        if flags.keywords().is_empty() {
            return Ok(flags);
        }
        let names = from.read_keywords()?;
        let mut table = self.read_keywords()?;
        let carried = table.translate(flags, &names);
        self.write_keyword_additions(&table)?;
        Ok(carried)
    }

    /// Writes the slots `table` named since it was read, and returns the
    /// table as the file now holds it. Under the lock, the file is read
    /// again and the new slots added to it; when another program gave one
    /// of those slots or names to something else meanwhile, fails and
    /// changes nothing. The write is durable before this returns.
    pub fn write_keyword_additions(&self, table: &Keywords) -> io::Result<Keywords> {
        if !table.has_additions() {
            return Ok(table.clone());
        }
        let lock_path = self.path().join(LOCK_FILE);
        let mut lock = take_lock(&lock_path)?;
        let result = (|| {
            let fresh = self.read_keywords()?;
            let merged = table.merge_additions_into(&fresh).map_err(|why| {
                io::Error::other(format!("{}: {why}", self.keywords_path().display()))
            })?;
            lock.write_all(format_keywords(&merged).as_bytes())
                .and_then(|()| lock.sync_all())
                .map_err(|e| with_path(e, "cannot write", &lock_path))?;
            let path = self.keywords_path();
            fs::rename(&lock_path, &path).map_err(|e| with_path(e, "cannot replace", &path))?;
            sync_dir(self.path())?;
            Ok(merged)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&lock_path);
        }
        result
    }
}

/// Creates Dovecot's lock file exclusively, waiting a while for another
/// holder and replacing a lock a crash left behind.
fn take_lock(path: &Path) -> io::Result<fs::File> {
    let started = Instant::now();
    loop {
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(file) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let age = fs::metadata(path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok());
                if age.is_some_and(|a| a > STALE_LOCK) {
                    let _ = fs::remove_file(path);
                    continue;
                }
                if started.elapsed() > LOCK_WAIT {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("{} is held by another program", path.display()),
                    ));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(with_path(e, "cannot create", path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Flags;

    /// As Dovecot 2.3 left it in a folder, with odd lines a hand edit or
    /// an older version might leave: CRLF, no space, a slot past z, a
    /// repeated slot and name, a number with a sign.
    const DOVECOT_WROTE: &str = "0 $Junk\n1 $NotJunk\r\n2 $Label1\nbogus\n\n30 $Beyond\n\
                                 1 $Again\n3 $junk\n+4 $Signed\n5 NonJunk\n";

    #[test]
    fn reads_a_file_dovecot_wrote_with_odd_lines() {
        let t = parse_keywords(DOVECOT_WROTE);
        assert_eq!(
            t.entries().collect::<Vec<_>>(),
            vec![
                (0, "$Junk"),
                (1, "$NotJunk"),
                (2, "$Label1"),
                (5, "NonJunk")
            ]
        );
        assert_eq!(t.slot("$label1"), Some(2));
    }

    #[test]
    fn writes_dovecots_format() {
        let t = parse_keywords(DOVECOT_WROTE);
        assert_eq!(
            format_keywords(&t),
            "0 $Junk\n1 $NotJunk\n2 $Label1\n5 NonJunk\n"
        );
        assert_eq!(parse_keywords(&format_keywords(&t)), t);
        assert_eq!(format_keywords(&Keywords::default()), "");
    }

    #[test]
    fn additions_are_merged_with_the_file_as_it_is_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path());
        md.create().unwrap();
        assert!(md.read_keywords().unwrap().is_empty());

        let mut ours = md.read_keywords().unwrap();
        assert_eq!(ours.resolve("$Label1"), Some(Flags::keyword(0)));
        // Dovecot names slot 1 meanwhile.
        fs::write(dir.path().join(KEYWORDS_FILE), "1 $Junk\n").unwrap();
        let written = md.write_keyword_additions(&ours).unwrap();
        assert!(!written.has_additions());
        assert_eq!(
            fs::read_to_string(dir.path().join(KEYWORDS_FILE)).unwrap(),
            "0 $Label1\n1 $Junk\n"
        );
        assert!(!dir.path().join(LOCK_FILE).exists());

        // Dovecot took slot 2 for another keyword: refused, file unchanged.
        let mut ours = written.clone();
        assert_eq!(ours.resolve("$Label2"), Some(Flags::keyword(2)));
        fs::write(dir.path().join(KEYWORDS_FILE), "0 $Label1\n1 $Junk\n2 x\n").unwrap();
        assert!(md.write_keyword_additions(&ours).is_err());
        assert_eq!(
            fs::read_to_string(dir.path().join(KEYWORDS_FILE)).unwrap(),
            "0 $Label1\n1 $Junk\n2 x\n"
        );
        assert!(!dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn waits_for_no_one_behind_a_stale_lock() {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path());
        md.create().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        fs::write(&lock, "").unwrap();
        let old = SystemTime::now() - Duration::from_secs(600);
        fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut ours = Keywords::default();
        ours.resolve("$Junk");
        md.write_keyword_additions(&ours).unwrap();
        assert_eq!(md.read_keywords().unwrap().slot("$Junk"), Some(0));
    }
}
