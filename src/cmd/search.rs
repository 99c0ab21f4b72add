//! `imapdir search ACCOUNT QUERY`: SEARCH on the server, folder by folder,
//! downloading nothing, and one line per match with whether the Maildir
//! holds it.
//!
//! The folders are those the account syncs (its `folders` patterns and
//! other folder settings), narrowed by `--folder`. Each folder is
//! EXAMINEd (read-only: no flag changes, no `\Recent` taken), searched with
//! one UID SEARCH, and its matches are described by UID FETCH of ENVELOPE,
//! RFC822.SIZE and INTERNALDATE in batches of [`BATCH`], printed as each
//! batch arrives: memory holds one batch, never a folder. "Local" is the
//! state's word: the UID is paired with a local file since the last sync
//! (unknown when the folder's UIDVALIDITY changed since).
//!
//! A folder whose search fails (a key or charset the server refuses) is
//! reported and the others go on; the exit code says something failed.
//!
//! `--fetch` asks for the matches the Maildir lacks (placeholders, and
//! messages the window keeps out) in the state, as `imapdir fetch` does,
//! and then syncs the folders that had matches: the engine downloads
//! them, so they become pairs like any other message.

use std::collections::HashSet;
use std::fs::File;
use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::output::{account_error, printable, show_alerts, Sink};
use crate::cli::{Cli, SearchArgs};
use crate::config::{Account, Config, ConfigError, Protocol};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::folders::{FolderJob, FolderRules};
use crate::imap::search_query::{parse_query, SearchKeys};
use crate::imap::{ImapError, MessageSummary, Session, UidSet};
use crate::model::Uid;
use crate::state::{FolderState, StateDb};

/// Matches described per UID FETCH: a short command line, and little held
/// in memory at once.
pub const BATCH: usize = 200;

/// One match, as printed and in the `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub folder: String,
    pub uid: u32,
    /// INTERNALDATE (what since:/before: compare), as `2024-03-05T14:07:09+00:00`.
    pub date: Option<String>,
    /// The Date header as written.
    pub sent: Option<String>,
    /// Display name and address of the first From address.
    pub from: Option<String>,
    pub from_address: Option<String>,
    pub subject: Option<String>,
    pub size: Option<u32>,
    /// Paired with a local file at the last sync; `None`: unknown (the
    /// folder's UIDVALIDITY changed since).
    pub local: Option<bool>,
}

/// One searched folder, in the `--json` document.
#[derive(Debug, Clone, Serialize)]
pub struct FolderOutcome {
    pub folder: String,
    /// What the server found (`None` when the search failed).
    pub matches: Option<u64>,
    pub error: Option<String>,
}

pub fn command(
    cli: &Cli,
    config: &Config,
    args: &SearchArgs,
    sink: &mut Sink,
) -> anyhow::Result<ExitCode> {
    let keys = match &args.imap {
        Some(raw) => SearchKeys::raw(raw),
        None => parse_query(&query_text(&args.query)),
    }
    .map_err(|e| ConfigError(e.to_string()))?;
    let account = config.select(std::slice::from_ref(&args.account))?[0];
    if account.protocol == Protocol::Pop3 {
        return Err(ConfigError(format!(
            "account {} is a POP3 account; `imapdir search` searches IMAP folders",
            account.name
        ))
        .into());
    }
    let mut rules = account.folder_rules.clone();
    if !args.folders.is_empty() {
        rules.patterns = rules
            .patterns
            .narrowed(&args.folders)
            .map_err(ConfigError)?;
    }
    let mut out = match sink.take() {
        Some(json) => Out::Json(JsonOut::start(json.into_file(), account, &keys)),
        None => Out::Text {
            table: std::io::stdout().is_terminal(),
            broken: false,
            widths: 6,
            shown: 0,
        },
    };
    let mut run = Run {
        cli,
        account,
        keys: &keys,
        limit: args.limit,
        emitted: 0,
        limited: false,
        folders: Vec::new(),
        fetch: false,
        wanted: Vec::new(),
    };
    run.fetch = args.fetch;
    let result = run.search(&rules, &mut out);
    let mut worst = ExitCode::Success;
    let mut error = None;
    let mut fetched = None;
    match (&result, args.fetch && !run.wanted.is_empty()) {
        (Err(e), _) => {
            worst = account_error(e);
            error = Some(format!("{e:#}"));
        }
        (Ok(()), true) => match fetch_matches(cli, account, &run.wanted) {
            Ok(done) => {
                if !done.failed.is_empty() {
                    worst = worst.max(ExitCode::PartialFailure);
                }
                fetched = Some(done);
            }
            Err(e) => {
                let e = e.context("cannot fetch the matches");
                worst = account_error(&e);
                error = Some(format!("{e:#}"));
            }
        },
        (Ok(()), false) => {}
    }
    let alerts = show_alerts(&account.name);
    for f in &run.folders {
        if let Some(e) = &f.error {
            eprintln!("imapdir: {}: {}: {e}", account.name, f.folder);
            worst = worst.max(ExitCode::PartialFailure);
        }
    }
    if let Some(done) = &fetched {
        for (folder, e) in &done.failed {
            eprintln!("imapdir: {}: {folder}: {e}", account.name);
        }
    }
    match out {
        Out::Json(json) => json.finish(
            &run.folders,
            run.limited,
            fetched.as_ref(),
            error,
            &alerts,
            worst,
        ),
        Out::Text {
            table: true,
            broken: false,
            ..
        } => {
            let failed = run.folders.iter().filter(|f| f.error.is_some()).count();
            let searched = run.folders.len() - failed;
            let mut line = format!(
                "{} {} in {searched} {}",
                run.emitted,
                if run.emitted == 1 { "match" } else { "matches" },
                if searched == 1 { "folder" } else { "folders" }
            );
            if failed > 0 {
                line.push_str(&format!(", {failed} failed"));
            }
            if run.limited {
                line.push_str(&format!(" (stopped at --limit {})", run.emitted));
            }
            let _ = writeln!(std::io::stdout(), "{line}");
            if let Some(done) = &fetched {
                let _ = writeln!(std::io::stdout(), "{}", done.describe());
            }
        }
        // Rows on stdout stay rows: the summary goes to stderr.
        Out::Text { .. } => {
            if let Some(done) = &fetched {
                eprintln!("imapdir: {}: {}", account.name, done.describe());
            }
        }
    }
    Ok(worst)
}

/// A folder's matches the Maildir lacks.
#[derive(Debug)]
struct Wanted {
    /// The folder's state row; `None` for a folder never synced, whose
    /// sync downloads what the window takes in.
    folder_id: Option<i64>,
    display_name: String,
    placeholders: Vec<Uid>,
    outside: Vec<Uid>,
}

/// What `--fetch` did.
#[derive(Debug, Serialize)]
pub struct Fetched {
    /// The folders synced for it.
    pub folders: Vec<String>,
    /// Matches asked for: placeholders to replace, messages outside the window.
    pub placeholders: usize,
    pub outside_window: usize,
    pub counts: crate::report::Counts,
    /// Folders whose sync failed, with the reason.
    pub failed: Vec<(String, String)>,
}

impl Fetched {
    fn describe(&self) -> String {
        let n = self.folders.len();
        format!(
            "fetched: {} placeholders and {} messages outside the window asked for; \
             synced {n} {}: {}",
            self.placeholders,
            self.outside_window,
            if n == 1 { "folder" } else { "folders" },
            self.counts
        )
    }
}

/// Records what `wanted` asks for, then syncs those folders.
fn fetch_matches(cli: &Cli, account: &Account, wanted: &[Wanted]) -> anyhow::Result<Fetched> {
    let mut placeholders = 0;
    let mut outside_window = 0;
    {
        let mut state = StateDb::open(&account.state_file)?;
        for w in wanted {
            let Some(id) = w.folder_id else { continue };
            if !w.placeholders.is_empty() {
                state.request_fetch(id, &w.placeholders)?;
                placeholders += w.placeholders.len();
            }
            // Without a window, the sync downloads every message anyway.
            if account.window_of(&w.display_name).is_some() && !w.outside.is_empty() {
                state.request_window_fetch(id, &w.outside)?;
                outside_window += w.outside.len();
            }
        }
    }
    let folders: Vec<String> = wanted.iter().map(|w| w.display_name.clone()).collect();
    let mut narrowed = account.clone();
    narrowed.folder_rules.patterns = narrowed
        .folder_rules
        .patterns
        .narrowed(&folders)
        .map_err(ConfigError)?;
    let options = crate::sync::SyncOptions {
        direction: crate::sync::Direction::BOTH,
        dry_run: false,
        jobs: None,
        trace_imap: cli.trace_imap,
        allow_mass_delete: false,
        allow_first_copy: false,
        lock_wait: Some(std::time::Duration::from_secs(
            crate::cli::DEFAULT_LOCK_WAIT.parse().unwrap_or(300),
        )),
    };
    let reporter = crate::report::Reporter::new(cli.verbose, true);
    let outcome = crate::sync::sync_account(&narrowed, &options, &reporter)?;
    Ok(Fetched {
        folders,
        placeholders,
        outside_window,
        counts: outcome.counts,
        failed: outcome.failed,
    })
}

/// The query from the command line's words: one word is the query as
/// written; several are the shell's words, each one term (a word with
/// spaces in it had quotes the shell took away: they are put back).
pub fn query_text(words: &[String]) -> String {
    if words.len() == 1 {
        return words[0].clone();
    }
    words
        .iter()
        .map(|w| {
            if !w.contains(char::is_whitespace) || w.contains('"') {
                return w.clone();
            }
            let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\"));
            match w.split_once(':') {
                Some((key, value))
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()) =>
                {
                    format!("{key}:{}", quoted(value))
                }
                _ => quoted(w),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

struct Run<'a> {
    cli: &'a Cli,
    account: &'a Account,
    keys: &'a SearchKeys,
    limit: Option<u64>,
    emitted: u64,
    /// The limit ended the search before every folder was searched to
    /// its end (more may match).
    limited: bool,
    folders: Vec<FolderOutcome>,
    /// `--fetch`: collect what the Maildir lacks into `wanted`.
    fetch: bool,
    wanted: Vec<Wanted>,
}

impl Run<'_> {
    /// Account-wide errors (login, listing, state) end it; a folder's
    /// error is recorded in `folders` and the next folder is searched.
    fn search(&mut self, rules: &FolderRules, out: &mut Out) -> anyhow::Result<()> {
        let account = self.account;
        let state = StateDb::open_read_only(&account.state_file)?;
        let stored = state.folders()?;
        let mut session = open_session(account, self.cli.trace_imap)?;
        let listing = session
            .list_folders(rules.subscribed_only)
            .map_err(|e| anyhow::anyhow!("cannot list the server's folders: {e}"))?;
        let list = super::folders::planned_folders(account, &listing, &stored, rules);
        let jobs: Vec<&FolderJob> = list.jobs.iter().filter(|j| j.on_server).collect();
        if jobs.is_empty() {
            return Err(ConfigError(format!(
                "account {} syncs no server folder that --folder selects; \
                 `imapdir folders {}` lists them",
                account.name, account.name
            ))
            .into());
        }
        if let Out::Text { widths, .. } = out {
            *widths = jobs
                .iter()
                .map(|j| j.display_name.chars().count())
                .max()
                .unwrap_or(6)
                .clamp(6, 30);
        }
        for (i, job) in jobs.iter().enumerate() {
            if self.limit.is_some_and(|l| self.emitted >= l) {
                self.limited = true;
                break;
            }
            let folder_state = stored.iter().find(|f| f.name == job.remote_name);
            let result = self.search_folder(&mut session, &state, job, folder_state, out);
            match result {
                Ok(found) => self.folders.push(FolderOutcome {
                    folder: job.display_name.clone(),
                    matches: Some(found),
                    error: None,
                }),
                Err(e) => {
                    let lost = matches!(&e, FolderError::Imap(e) if e.is_connection_lost());
                    self.folders.push(FolderOutcome {
                        folder: job.display_name.clone(),
                        matches: None,
                        error: Some(e.to_string()),
                    });
                    if lost && i + 1 < jobs.len() {
                        session = open_session(account, self.cli.trace_imap)?;
                    }
                }
            }
            if out.is_broken() {
                break;
            }
        }
        let _ = session.logout();
        Ok(())
    }

    /// Searches one folder and prints its matches; returns how many the
    /// server found.
    fn search_folder(
        &mut self,
        session: &mut Session,
        state: &StateDb,
        job: &FolderJob,
        folder_state: Option<&FolderState>,
        out: &mut Out,
    ) -> Result<u64, FolderError> {
        let info = session.examine(&job.remote_name)?;
        let hits = session.uid_search_keys(self.keys)?;
        // The state's pairs describe this folder only under the same UIDVALIDITY.
        let pairs_of = folder_state.map(|f| (f.id, f.uidvalidity == info.uidvalidity));
        let placeholders: HashSet<Uid> = match pairs_of {
            Some((id, true)) if self.fetch => state
                .placeholders(id)
                .map_err(|e| FolderError::State(e.to_string()))?
                .into_iter()
                .map(|p| p.uid)
                .collect(),
            _ => HashSet::new(),
        };
        let mut wanted = Wanted {
            folder_id: folder_state.map(|f| f.id),
            display_name: job.display_name.clone(),
            placeholders: Vec::new(),
            outside: Vec::new(),
        };
        let mut uids = hits.uids().peekable();
        while uids.peek().is_some() {
            let room = self
                .limit
                .map_or(BATCH as u64, |l| (l - self.emitted).min(BATCH as u64));
            if room == 0 {
                self.limited = true;
                break;
            }
            let batch: Vec<Uid> = uids.by_ref().take(room as usize).collect();
            let mut found: Vec<MessageSummary> = Vec::with_capacity(batch.len());
            for set in UidSet::covering(&batch) {
                session.uid_fetch_summaries(&set, &mut |s| found.push(s))?;
            }
            found.sort_by_key(|s| s.uid);
            found.dedup_by_key(|s| s.uid);
            let paired: Option<HashSet<Uid>> = match pairs_of {
                Some((id, true)) => Some(
                    state
                        .pairs_among(id, &batch, &[])
                        .map_err(|e| FolderError::State(e.to_string()))?
                        .into_iter()
                        .map(|p| p.uid)
                        .collect(),
                ),
                Some((_, false)) => None,
                None => Some(HashSet::new()),
            };
            for s in found {
                let local = paired.as_ref().map(|p| p.contains(&s.uid));
                match local {
                    Some(true) if placeholders.contains(&s.uid) => wanted.placeholders.push(s.uid),
                    Some(false) => wanted.outside.push(s.uid),
                    // Paired, or unknown under a new UIDVALIDITY (the
                    // sync lists the folder again).
                    _ => {}
                }
                out.write(&to_match(&job.display_name, s, local));
                self.emitted += 1;
                if out.is_broken() {
                    break;
                }
            }
            if out.is_broken() {
                break;
            }
        }
        if uids.peek().is_some() {
            self.limited = true;
        }
        if self.fetch && (!wanted.placeholders.is_empty() || !wanted.outside.is_empty()) {
            self.wanted.push(wanted);
        }
        Ok(hits.count())
    }
}

#[derive(Debug, thiserror::Error)]
enum FolderError {
    #[error(transparent)]
    Imap(#[from] ImapError),
    #[error("cannot read the state: {0}")]
    State(String),
}

fn to_match(folder: &str, s: MessageSummary, local: Option<bool>) -> Match {
    let from = match (&s.from_name, &s.from_address) {
        (Some(n), Some(a)) => Some(format!("{n} <{a}>")),
        (Some(n), None) => Some(n.clone()),
        (None, Some(a)) => Some(a.clone()),
        (None, None) => None,
    };
    Match {
        folder: folder.to_string(),
        uid: s.uid.0,
        date: s.internal_date.as_deref().and_then(iso_date),
        sent: s.date.map(|d| printable(&d)),
        from: from.map(|f| printable(&f)),
        from_address: s.from_address.map(|a| printable(&a)),
        subject: s.subject.map(|t| printable(&t)),
        size: s.size,
        local,
    }
}

/// An IMAP date-time (`05-Mar-2024 14:07:09 +0000`) as ISO 8601
/// (`2024-03-05T14:07:09+00:00`), in the zone the server gave.
pub fn iso_date(internal: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut parts = internal.split_whitespace();
    let (date, time, zone) = (parts.next()?, parts.next()?, parts.next()?);
    let mut d = date.split('-');
    let (day, month, year) = (d.next()?, d.next()?, d.next()?);
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month))? + 1;
    let day: u32 = day.trim().parse().ok()?;
    let ok_zone = zone.len() == 5
        && (zone.starts_with('+') || zone.starts_with('-'))
        && zone[1..].bytes().all(|b| b.is_ascii_digit());
    let ok_time = time.len() == 8
        && time.bytes().enumerate().all(|(i, b)| {
            if i == 2 || i == 5 {
                b == b':'
            } else {
                b.is_ascii_digit()
            }
        });
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) || !ok_zone || !ok_time {
        return None;
    }
    Some(format!(
        "{year}-{month:02}-{day:02}T{time}{}:{}",
        &zone[..3],
        &zone[3..]
    ))
}

/// `1.5K`, `12M`: a size for the table.
pub fn human_size(bytes: u32) -> String {
    let b = f64::from(bytes);
    match bytes {
        0..=1023 => format!("{bytes}"),
        1024..=10_239 => format!("{:.1}K", b / 1024.0),
        10_240..=1_048_575 => format!("{:.0}K", b / 1024.0),
        1_048_576..=10_485_759 => format!("{:.1}M", b / 1_048_576.0),
        _ => format!("{:.0}M", b / 1_048_576.0),
    }
}

/// `text` cut to `width` characters, the last one `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `local` as a word.
fn local_word(local: Option<bool>) -> &'static str {
    match local {
        Some(true) => "yes",
        Some(false) => "no",
        None => "?",
    }
}

/// Table widths of the fixed columns.
const FROM_WIDTH: usize = 24;

/// One row of the table on a terminal (`folder_width` wide folder column).
pub fn table_row(m: &Match, folder_width: usize) -> String {
    let date = m
        .date
        .as_deref()
        .map(|d| d.get(..16).unwrap_or(d).replace('T', " "))
        .unwrap_or_default();
    let from = m
        .from_address
        .as_deref()
        .and_then(|a| {
            m.from
                .as_deref()
                .map(|f| f.strip_suffix(&format!(" <{a}>")).unwrap_or(f))
        })
        .or(m.from.as_deref())
        .unwrap_or("");
    format!(
        "{:<folder_width$}  {:>6}  {:<16}  {:<FROM_WIDTH$}  {:>6}  {:<5}  {}\n",
        fit(&m.folder, folder_width),
        m.uid,
        date,
        fit(from, FROM_WIDTH),
        m.size.map(human_size).unwrap_or_default(),
        local_word(m.local),
        m.subject.as_deref().unwrap_or("")
    )
}

/// The header of the table.
pub fn table_header(folder_width: usize) -> String {
    format!(
        "{:<folder_width$}  {:>6}  {:<16}  {:<FROM_WIDTH$}  {:>6}  {:<5}  SUBJECT\n",
        "FOLDER", "UID", "DATE", "FROM", "SIZE", "LOCAL"
    )
}

/// One tab-separated line for a pipe: folder, UID, date, from, size in
/// bytes, local (yes, no, ?), subject; tabs inside values become spaces.
pub fn tsv_row(m: &Match) -> String {
    let clean = |s: &str| s.replace('\t', " ");
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
        clean(&m.folder),
        m.uid,
        m.date.as_deref().unwrap_or(""),
        clean(m.from.as_deref().unwrap_or("")),
        m.size.map(|s| s.to_string()).unwrap_or_default(),
        local_word(m.local),
        clean(m.subject.as_deref().unwrap_or(""))
    )
}

/// Where matches go as they are found.
enum Out {
    /// A table on a terminal, tab-separated lines otherwise.
    Text {
        table: bool,
        /// stdout is closed (`| head`): stop searching.
        broken: bool,
        widths: usize,
        shown: u64,
    },
    Json(JsonOut),
}

impl Out {
    fn write(&mut self, m: &Match) {
        match self {
            Out::Text {
                table,
                broken,
                widths,
                shown,
            } => {
                let mut text = String::new();
                if *table && *shown == 0 {
                    text.push_str(&table_header(*widths));
                }
                text.push_str(&if *table {
                    table_row(m, *widths)
                } else {
                    tsv_row(m)
                });
                *shown += 1;
                let mut stdout = std::io::stdout().lock();
                if stdout
                    .write_all(text.as_bytes())
                    .and_then(|_| stdout.flush())
                    .is_err()
                {
                    *broken = true;
                }
            }
            Out::Json(json) => json.write(m),
        }
    }

    fn is_broken(&self) -> bool {
        match self {
            Out::Text { broken, .. } => *broken,
            Out::Json(json) => json.broken,
        }
    }
}

/// The `--json` document, written as the matches come: its `matches`
/// array first, the per-folder outcomes and the exit code last.
struct JsonOut {
    file: std::io::BufWriter<File>,
    first: bool,
    broken: bool,
}

impl JsonOut {
    fn start(file: File, account: &Account, keys: &SearchKeys) -> JsonOut {
        let mut out = JsonOut {
            file: std::io::BufWriter::new(file),
            first: true,
            broken: false,
        };
        let head = format!(
            "{{\"version\": {}, \"command\": \"search\", \"account\": {}, \"keys\": {},\n\"matches\": [",
            super::output::SCHEMA_VERSION,
            json_string(&account.name),
            json_string(&keys.to_string()),
        );
        out.put(&head);
        out
    }

    fn put(&mut self, text: &str) {
        if !self.broken && self.file.write_all(text.as_bytes()).is_err() {
            self.broken = true;
        }
    }

    fn write(&mut self, m: &Match) {
        let text = serde_json::to_string(m).unwrap_or_else(|_| "null".into());
        let sep = if self.first { "\n  " } else { ",\n  " };
        self.first = false;
        self.put(&format!("{sep}{text}"));
    }

    fn finish(
        mut self,
        folders: &[FolderOutcome],
        limited: bool,
        fetched: Option<&Fetched>,
        error: Option<String>,
        alerts: &[String],
        exit: ExitCode,
    ) {
        #[derive(Serialize)]
        struct Tail<'a> {
            folders: &'a [FolderOutcome],
            limited: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            fetched: Option<&'a Fetched>,
            error: Option<String>,
            alerts: &'a [String],
            exit_code: i32,
        }
        let tail = serde_json::to_string(&Tail {
            folders,
            limited,
            fetched,
            error,
            alerts,
            exit_code: exit.code(),
        })
        .unwrap_or_else(|_| "{}".into());
        // The tail's fields, without its braces, close the document.
        let fields = tail
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or("");
        self.put(&format!("\n],\n{fields}}}\n"));
        let _ = self.file.flush();
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Match {
        Match {
            folder: "Work/Projects".into(),
            uid: 42,
            date: Some("2024-03-05T14:07:09+01:00".into()),
            sent: Some("Tue, 5 Mar 2024 14:07:09 +0100".into()),
            from: Some("Alice Example <alice@example.org>".into()),
            from_address: Some("alice@example.org".into()),
            subject: Some("Grüße\tund mehr".into()),
            size: Some(1536),
            local: Some(true),
        }
    }

    #[test]
    fn internal_dates_become_iso() {
        assert_eq!(
            iso_date("05-Mar-2024 14:07:09 +0000").as_deref(),
            Some("2024-03-05T14:07:09+00:00")
        );
        assert_eq!(
            iso_date(" 5-Dec-2026 01:02:03 -0130").as_deref(),
            Some("2026-12-05T01:02:03-01:30")
        );
        assert_eq!(iso_date("05-Foo-2024 14:07:09 +0000"), None);
        assert_eq!(iso_date("05-Mar-2024 14:07 +0000"), None);
        assert_eq!(iso_date("05-Mar-2024 14:07:09"), None);
    }

    #[test]
    fn rows_for_a_terminal_and_a_pipe() {
        let m = sample();
        assert_eq!(
            tsv_row(&m),
            "Work/Projects\t42\t2024-03-05T14:07:09+01:00\tAlice Example <alice@example.org>\t1536\tyes\tGrüße und mehr\n"
        );
        let row = table_row(&m, 13);
        assert!(
            row.starts_with("Work/Projects      42  2024-03-05 14:07  Alice Example "),
            "{row}"
        );
        assert!(row.contains("  1.5K  yes    Grüße"), "{row}");
        assert_eq!(
            table_header(6),
            format!(
                "FOLDER     UID  DATE              {:<24}    SIZE  LOCAL  SUBJECT\n",
                "FROM"
            )
        );
        let unknown = Match {
            local: None,
            from: None,
            from_address: None,
            ..sample()
        };
        assert!(tsv_row(&unknown).contains("\t\t1536\t?\t"));
        assert!(table_row(&unknown, 6).starts_with("Work/…"));
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_size(0), "0");
        assert_eq!(human_size(1023), "1023");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(500 * 1024), "500K");
        assert_eq!(human_size(3 * 1024 * 1024 / 2), "1.5M");
        assert_eq!(human_size(u32::MAX), "4096M");
    }

    #[test]
    fn shell_words_keep_their_spaces() {
        let words = |w: &[&str]| query_text(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(words(&["from:alice subject:x"]), "from:alice subject:x");
        assert_eq!(
            words(&["from:alice", "subject:budget report", "unread"]),
            "from:alice subject:\"budget report\" unread"
        );
        assert_eq!(words(&["a b", "c"]), "\"a b\" c");
        assert_eq!(words(&["subject:\"x y\"", "c"]), "subject:\"x y\" c");
        assert_eq!(words(&["12:30 pm", "c"]), "\"12:30 pm\" c");
    }
}
