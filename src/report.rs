//! What the user sees: progress bars on a terminal, log lines, the summary.
//!
//! Under cron there is no terminal, and imapdir prints nothing but errors
//! unless asked (`-v`), so a healthy unattended backup mails nobody.

use std::fmt;
use std::io::IsTerminal;
use std::ops::AddAssign;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a sync did, per folder and summed per account. Serialised as is
/// in `--json` output (docs/json.md): renaming a field breaks the schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub downloaded: u64,
    pub uploaded: u64,
    pub flags_pulled: u64,
    pub flags_pushed: u64,
    pub deleted_local: u64,
    pub deleted_remote: u64,
    pub folders_created: u64,
    /// Messages moved between folders without a transfer (local moves
    /// sent as MOVE, server moves renamed locally).
    pub moved: u64,
    /// Messages another folder already held, linked instead of downloaded.
    pub linked: u64,
    /// Messages sent from the outbox.
    pub sent: u64,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.downloaded += o.downloaded;
        self.uploaded += o.uploaded;
        self.flags_pulled += o.flags_pulled;
        self.flags_pushed += o.flags_pushed;
        self.deleted_local += o.deleted_local;
        self.deleted_remote += o.deleted_remote;
        self.folders_created += o.folders_created;
        self.moved += o.moved;
        self.linked += o.linked;
        self.sent += o.sent;
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} down, {} up, {} flags changed, {} deleted, {} folders created",
            self.downloaded,
            self.uploaded,
            self.flags_pulled + self.flags_pushed,
            self.deleted_local + self.deleted_remote,
            self.folders_created
        )?;
        if self.moved > 0 {
            write!(f, ", {} moved", self.moved)?;
        }
        if self.linked > 0 {
            write!(f, ", {} linked", self.linked)?;
        }
        if self.sent > 0 {
            write!(f, ", {} sent", self.sent)?;
        }
        Ok(())
    }
}

/// The one line printed per account at the end of a sync.
pub fn summary_line(
    account: &str,
    counts: &Counts,
    failed_folders: usize,
    elapsed: Duration,
) -> String {
    let failed = if failed_folders > 0 {
        format!(", {failed_folders} folders FAILED")
    } else {
        String::new()
    };
    format!(
        "{account}: {counts}{failed} in {:.1}s",
        elapsed.as_secs_f64()
    )
}

/// Writes to stdout; a closed pipe (`imapdir ... | head`) is not an error
/// worth a panic, so write errors are ignored.
pub fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Shared by all folder workers of a run.
pub struct Reporter {
    bars: Option<MultiProgress>,
    verbose: u8,
}

impl Reporter {
    /// Progress bars only when stderr is a terminal and bars are wanted.
    pub fn new(verbose: u8, want_bars: bool) -> Reporter {
        let bars = (want_bars && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Reporter { bars, verbose }
    }

    /// Whether per-run summaries go out: on a terminal, or with `-v`.
    pub fn chatty(&self) -> bool {
        self.bars.is_some() || self.verbose > 0
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    fn print(&self, line: &str) {
        match &self.bars {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// `-v`: what happens per folder.
    pub fn info(&self, line: impl AsRef<str>) {
        if self.verbose >= 1 {
            self.print(line.as_ref());
        }
    }

    /// `-vv`: details for debugging.
    pub fn debug(&self, line: impl AsRef<str>) {
        if self.verbose >= 2 {
            self.print(line.as_ref());
        }
    }

    /// Always shown.
    pub fn warn(&self, line: impl AsRef<str>) {
        self.print(&format!("warning: {}", line.as_ref()));
    }

    /// Always shown.
    pub fn error(&self, line: impl AsRef<str>) {
        self.print(&format!("error: {}", line.as_ref()));
    }

    /// A progress bar for one folder's actions (hidden when not on a terminal).
    pub fn folder(&self, label: &str, total: u64) -> FolderProgress {
        let bar = self.bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{prefix:>24.bold} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(truncate_label(label, 24));
            bar
        });
        FolderProgress { bar }
    }
}

fn truncate_label(label: &str, width: usize) -> String {
    let count = label.chars().count();
    if count <= width {
        label.to_string()
    } else {
        let tail: String = label.chars().skip(count - (width - 1)).collect();
        format!("…{tail}")
    }
}

/// One folder's bar; every method is a no-op without a terminal.
pub struct FolderProgress {
    bar: Option<ProgressBar>,
}

impl FolderProgress {
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    pub fn set_message(&self, msg: impl Into<String>) {
        if let Some(b) = &self.bar {
            b.set_message(msg.into());
        }
    }

    pub fn finish(&self, msg: impl Into<String>) {
        if let Some(b) = &self.bar {
            b.finish_with_message(msg.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_every_count() {
        let mut c = Counts {
            downloaded: 3,
            uploaded: 1,
            flags_pulled: 2,
            flags_pushed: 1,
            deleted_local: 1,
            deleted_remote: 1,
            folders_created: 1,
            moved: 0,
            linked: 0,
            sent: 0,
        };
        c += Counts {
            downloaded: 1,
            ..Counts::default()
        };
        assert_eq!(
            summary_line("personal", &c, 0, Duration::from_millis(1500)),
            "personal: 4 down, 1 up, 3 flags changed, 2 deleted, 1 folders created in 1.5s"
        );
        assert!(
            summary_line("p", &Counts::default(), 2, Duration::ZERO).contains("2 folders FAILED")
        );
        let moved = Counts {
            moved: 3,
            ..Counts::default()
        };
        assert!(summary_line("p", &moved, 0, Duration::ZERO).contains("folders created, 3 moved"));
    }

    #[test]
    fn long_labels_keep_their_tail() {
        assert_eq!(truncate_label("INBOX", 24), "INBOX");
        let t = truncate_label("Archive/2023/very/long/folder/name", 10);
        assert_eq!(t.chars().count(), 10);
        assert!(t.ends_with("name"));
    }
}
