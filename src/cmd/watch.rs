//! `imapdir watch`: stays running and syncs each account at start, within
//! seconds of a change on the server (IDLE on `watch_folders`) or in the
//! Maildir (inotify through the `notify` crate), and every `interval`.
//!
//! Threads: one per watched server folder, holding its own IDLE connection
//! and reconnecting with backoff; `notify`'s own thread for the Maildirs;
//! and the main thread, which owns every sync. They talk over one channel
//! of [`Trigger`]s, so syncs never overlap and each takes the account lock
//! only while it runs (a `sync` started by hand meanwhile exits 4 when it
//! collides with one, as with any other concurrent run).
//!
//! A sync changes the Maildir and the server itself, and the watchers see
//! those changes too. Maildir events that arrive during a sync, or just
//! after it, may be the sync's own or a mail reader's: they lead to one
//! more sync, which finds nothing to do (and so causes no events) when
//! they were the sync's own. At most [`MAX_CHAIN`] such syncs follow each
//! other, so a sync that always touched files could never loop.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::cli::{Cli, WatchArgs};
use crate::config::{Account, Config};
use crate::connect::open_session;
use crate::exit_codes::ExitCode;
use crate::imap::{IdleEvent, IDLE_POLL};
use crate::report::Reporter;
use crate::sync::{run_account, AccountRun, Direction, SyncOptions};

/// Quiet time after the last change before a sync starts.
const DEBOUNCE: Duration = Duration::from_secs(1);
/// Longest a stream of changes can delay a sync.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// IDLE is re-issued this often; servers may drop it after 30 minutes.
const IDLE_RENEW: Duration = Duration::from_secs(25 * 60);
/// How long the main loop sleeps at most between looks at the clock.
const TICK: Duration = Duration::from_millis(200);
/// After a sync, Maildir events arriving this soon are the sync's own.
const SETTLE: Duration = Duration::from_millis(300);
/// Syncs in a row started only by Maildir events seen during a sync.
const MAX_CHAIN: u32 = 3;
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A wall clock that ran this much further than the monotonic one means
/// the machine was suspended (or the clock was set): connections are stale.
const CLOCK_JUMP: Duration = Duration::from_secs(20);
/// How long the exit waits for the IDLE threads to log out.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// What the watchers tell the main loop, by account index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// IDLE saw a change, or a connection came back after missing some.
    Remote(usize),
    /// Something changed in the account's Maildir (cur/ or new/).
    Local(usize),
}

/// Doubles a backoff delay up to [`BACKOFF_MAX`].
fn next_backoff(current: Duration) -> Duration {
    (current * 2).clamp(BACKOFF_MIN, BACKOFF_MAX)
}

/// Detects suspend/resume: the wall clock advancing much more than the
/// monotonic clock (which stops while the machine sleeps) between looks;
/// and a stop (SIGSTOP or a frozen cgroup, then continued): the
/// monotonic clock advancing much more between two looks than the loop
/// that looks ever waits.
struct ClockWatch {
    mono: Instant,
    wall: SystemTime,
}

/// Why a [`ClockWatch`] says the connections may be stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stale {
    /// The wall clock jumped: a suspend and resume, or the clock was set.
    ClockJump,
    /// The process did not run for this long: it was stopped and
    /// continued. The server may have dropped the connection meanwhile
    /// without a word reaching us.
    Stopped(Duration),
}

impl ClockWatch {
    fn new() -> ClockWatch {
        ClockWatch {
            mono: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// True when the clocks disagreed by more than [`CLOCK_JUMP`] since the
    /// last call.
    fn jumped(&mut self) -> bool {
        self.stale(None) == Some(Stale::ClockJump)
    }

    /// Whether the connections may be stale since the last call: the
    /// clocks disagreed by more than [`CLOCK_JUMP`], or (given `patience`,
    /// the most the caller's loop waits between looks plus the account's
    /// timeout) more time passed than the loop could have waited.
    fn stale(&mut self, patience: Option<Duration>) -> Option<Stale> {
        let (mono, wall) = (Instant::now(), SystemTime::now());
        let mono_elapsed = mono.duration_since(self.mono);
        let jumped = match wall.duration_since(self.wall) {
            Ok(wall_elapsed) => wall_elapsed > mono_elapsed + CLOCK_JUMP,
            // The clock was set back.
            Err(e) => e.duration() > CLOCK_JUMP,
        };
        self.mono = mono;
        self.wall = wall;
        if jumped {
            Some(Stale::ClockJump)
        } else if patience.is_some_and(|p| mono_elapsed > p) {
            Some(Stale::Stopped(mono_elapsed))
        } else {
            None
        }
    }
}

/// How long a loop that looks at the clock every `tick` may go without a
/// look before the process counts as stopped: longer than the account
/// waits for a silent server, so the server may have given up on us.
fn stop_patience(account: &Account, tick: Duration) -> Duration {
    tick + account.timeout
}

fn log(account: &str, message: impl AsRef<str>) {
    eprintln!("imapdir watch: {account}: {}", message.as_ref());
}

/// Whether a file-system event concerns messages: a change in a `cur/` or
/// `new/` directory (not `tmp/`), or one of those directories itself.
fn is_message_event(event: &notify::Event) -> bool {
    use notify::EventKind;
    if matches!(event.kind, EventKind::Access(_) | EventKind::Other) {
        return false;
    }
    event.paths.iter().any(|p| {
        let is_box = |q: &Path| q.file_name().is_some_and(|n| n == "cur" || n == "new");
        is_box(p) || p.parent().is_some_and(is_box)
    })
}

/// Runs `imapdir watch` until SIGTERM or SIGINT.
pub fn command(cli: &Cli, config: &Config, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let accounts: Vec<Account> = config
        .select(&args.accounts)?
        .into_iter()
        .cloned()
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        // A second signal while the first is being honoured exits at once.
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let (tx, rx) = mpsc::channel();
    let mut threads = Vec::new();
    for (index, account) in accounts.iter().enumerate() {
        for folder in &account.watch_folders {
            threads.push(spawn_idle(
                index,
                account.clone(),
                folder.clone(),
                tx.clone(),
                Arc::clone(&stop),
                cli.trace_imap,
            ));
        }
    }
    let mut watcher = Watcher::new(cli, accounts, tx, rx, Arc::clone(&stop));
    watcher.run();
    let deadline = Instant::now() + EXIT_GRACE;
    while Instant::now() < deadline && !threads.iter().all(JoinHandle::is_finished) {
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(ExitCode::Success)
}

/// One account's schedule in the main loop.
struct Schedule {
    /// When the next full sync is due.
    next_full: Instant,
    /// The first change not yet synced, and the last one.
    dirty: Option<(Instant, Instant)>,
    /// After a failed sync: when to try again, and the delay after that.
    retry: Option<(Instant, Duration)>,
    /// The last failure logged, so that a repeated one is logged once.
    last_error: Option<String>,
    /// Syncs in a row started only by events seen during the sync before.
    chain: u32,
}

struct Watcher {
    accounts: Vec<Account>,
    schedules: Vec<Schedule>,
    options: SyncOptions,
    reporter: Reporter,
    rx: Receiver<Trigger>,
    tx: Sender<Trigger>,
    stop: Arc<AtomicBool>,
    /// Keeps the Maildir watches alive.
    fs_watchers: Vec<Option<notify::RecommendedWatcher>>,
}

impl Watcher {
    fn new(
        cli: &Cli,
        accounts: Vec<Account>,
        tx: Sender<Trigger>,
        rx: Receiver<Trigger>,
        stop: Arc<AtomicBool>,
    ) -> Watcher {
        let now = Instant::now();
        let schedules = accounts
            .iter()
            .map(|_| Schedule {
                next_full: now,
                dirty: None,
                retry: None,
                last_error: None,
                chain: 0,
            })
            .collect();
        let fs_watchers = accounts.iter().map(|_| None).collect();
        Watcher {
            accounts,
            schedules,
            options: SyncOptions {
                direction: Direction::BOTH,
                dry_run: false,
                jobs: None,
                trace_imap: cli.trace_imap,
                allow_mass_delete: false,
                allow_first_copy: false,
                // Another run holding the account is retried on the backoff.
                lock_wait: None,
            },
            reporter: Reporter::new(cli.verbose, false),
            rx,
            tx,
            stop,
            fs_watchers,
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn run(&mut self) {
        let mut clock = ClockWatch::new();
        while !self.stopping() {
            if clock.jumped() {
                // The IDLE threads notice on their own and reconnect.
                for (account, schedule) in self.accounts.iter().zip(&mut self.schedules) {
                    log(
                        &account.name,
                        "the clock jumped (resumed from suspend?): syncing",
                    );
                    schedule.retry = None;
                    schedule.next_full = Instant::now();
                }
            }
            let waiting = Instant::now();
            match self.rx.recv_timeout(TICK) {
                Ok(trigger) => self.note(trigger),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {}
            }
            self.after_stop(waiting.elapsed());
            while let Ok(trigger) = self.rx.try_recv() {
                self.note(trigger);
            }
            let now = Instant::now();
            for index in 0..self.accounts.len() {
                if self.stopping() {
                    break;
                }
                if self.is_due(index, now) {
                    self.sync(index);
                }
            }
            self.show_alerts();
        }
    }

    /// After the wait for a trigger, at most [`TICK`], took `waited`: when
    /// that exceeds an account's [`stop_patience`], the process was stopped
    /// meanwhile and the account syncs at once, as its server may have
    /// dropped connections and changes may have waited (the IDLE threads
    /// notice on their own and reconnect).
    fn after_stop(&mut self, waited: Duration) {
        for (account, schedule) in self.accounts.iter().zip(&mut self.schedules) {
            if waited > stop_patience(account, TICK) {
                log(
                    &account.name,
                    format!(
                        "not running for {} s (stopped and continued?): syncing",
                        waited.as_secs()
                    ),
                );
                schedule.retry = None;
                schedule.next_full = Instant::now();
            }
        }
    }

    /// Logs the `[ALERT]` texts the syncs and IDLE connections received,
    /// each once for the whole watch (a server may repeat one at every
    /// login).
    fn show_alerts(&self) {
        for account in &self.accounts {
            for text in super::output::take_alerts(&account.name).unseen {
                log(&account.name, format!("server alert: {text}"));
            }
        }
    }

    fn note(&mut self, trigger: Trigger) {
        let (Trigger::Remote(index) | Trigger::Local(index)) = trigger;
        let now = Instant::now();
        let schedule = &mut self.schedules[index];
        schedule.dirty = Some(match schedule.dirty {
            Some((first, _)) => (first, now),
            None => (now, now),
        });
        schedule.chain = 0;
    }

    fn is_due(&self, index: usize, now: Instant) -> bool {
        let s = &self.schedules[index];
        if let Some((at, _)) = s.retry {
            // A failing account is retried on its backoff, whatever happens.
            return now >= at;
        }
        if now >= s.next_full {
            return true;
        }
        match s.dirty {
            Some((first, last)) => {
                now.duration_since(last) >= DEBOUNCE || now.duration_since(first) >= MAX_DELAY
            }
            None => false,
        }
    }

    fn sync(&mut self, index: usize) {
        // Watch the Maildir before syncing it, so a change made while the
        // sync runs is seen.
        if self.fs_watchers[index].is_none() && self.accounts[index].maildir.is_dir() {
            self.fs_watchers[index] = self.watch_maildir(index);
        }
        let account = &self.accounts[index];
        self.schedules[index].dirty = None;
        let result = match run_account(account, &self.options, &self.reporter) {
            AccountRun::Skipped(e) => Err(anyhow::Error::new(e)),
            AccountRun::Synced { result, warnings } => {
                for warning in warnings {
                    log(&account.name, warning);
                }
                result.map(|outcome| {
                    if !outcome.counts.is_empty() && self.reporter.verbose() > 0 {
                        log(&account.name, format!("synced: {:?}", outcome.counts));
                    }
                })
            }
        };
        let now = Instant::now();
        let s = &mut self.schedules[index];
        match result {
            Ok(()) => {
                if s.last_error.take().is_some() {
                    log(&account.name, "synced again");
                }
                s.retry = None;
                s.next_full = now + account.interval;
            }
            Err(e) => {
                let locked = e.chain().any(|c| c.is::<crate::lock::Locked>());
                let message = if locked {
                    "another imapdir run holds the account; trying again shortly".to_string()
                } else {
                    format!("sync failed, retrying with backoff: {e:#}")
                };
                if s.last_error.as_deref() != Some(message.as_str()) {
                    log(&account.name, &message);
                }
                s.last_error = Some(message);
                let delay = match s.retry {
                    Some((_, delay)) => delay,
                    None => BACKOFF_MIN,
                };
                s.retry = Some((now + delay, next_backoff(delay)));
            }
        }
        let first_watch = self.fs_watchers[index].is_none() && account.maildir.is_dir();
        if first_watch {
            // The Maildir was created by this sync: whatever changed in it
            // before the watch began is found by one more sync.
            self.fs_watchers[index] = self.watch_maildir(index);
            let now = Instant::now();
            self.schedules[index].dirty.get_or_insert((now, now));
        }
        self.settle(index);
    }

    /// Takes the Maildir events that arrived during the sync and within
    /// [`SETTLE`] after it; they start one more sync (up to [`MAX_CHAIN`]
    /// in a row), as a mail reader may have changed something meanwhile.
    fn settle(&mut self, index: usize) {
        let deadline = Instant::now() + SETTLE;
        let mut own = false;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Trigger::Local(i)) if i == index => own = true,
                Ok(other) => others.push(other),
                Err(_) => break,
            }
        }
        for trigger in others {
            self.note(trigger);
        }
        let s = &mut self.schedules[index];
        if own && s.chain < MAX_CHAIN {
            let now = Instant::now();
            s.dirty.get_or_insert((now, now));
            s.chain += 1;
        }
    }

    fn watch_maildir(&self, index: usize) -> Option<notify::RecommendedWatcher> {
        use notify::Watcher as _;
        let account = &self.accounts[index];
        let tx = self.tx.clone();
        let handler = move |event: notify::Result<notify::Event>| match event {
            Ok(event) if is_message_event(&event) => {
                let _ = tx.send(Trigger::Local(index));
            }
            Ok(_) => {}
            // Overflow and the like: better a sync too many.
            Err(_) => {
                let _ = tx.send(Trigger::Local(index));
            }
        };
        let watched = notify::recommended_watcher(handler).and_then(|mut w| {
            w.watch(&account.maildir, notify::RecursiveMode::Recursive)
                .map(|_| w)
        });
        match watched {
            Ok(w) => Some(w),
            Err(e) => {
                log(
                    &account.name,
                    format!(
                        "cannot watch {} ({e}); local changes wait for the next interval",
                        account.maildir.display()
                    ),
                );
                None
            }
        }
    }
}

fn spawn_idle(
    index: usize,
    account: Account,
    folder: String,
    tx: Sender<Trigger>,
    stop: Arc<AtomicBool>,
    trace: bool,
) -> JoinHandle<()> {
    std::thread::spawn(move || idle_loop(index, &account, &folder, &tx, &stop, trace))
}

/// Sleeps up to `total`, waking early when `stop` is set.
fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let deadline = Instant::now() + total;
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(TICK));
    }
}

/// One IDLE connection on one folder, kept up until `stop`.
fn idle_loop(
    index: usize,
    account: &Account,
    folder: &str,
    tx: &Sender<Trigger>,
    stop: &AtomicBool,
    trace: bool,
) {
    let label = format!("{folder} (IDLE)");
    let mut backoff = BACKOFF_MIN;
    // The failure being waited out, logged once.
    let mut failing: Option<String> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut session = match open_session(account, trace) {
            Ok(s) => s,
            Err(e) => {
                if failing.is_none() {
                    log(
                        &account.name,
                        format!("{label}: cannot connect ({e:#}); retrying with backoff"),
                    );
                    failing = Some(format!("{e:#}"));
                }
                sleep_unless(stop, backoff);
                backoff = next_backoff(backoff);
                continue;
            }
        };
        if !session.can_idle() {
            log(
                &account.name,
                format!("{label}: the server does not offer IDLE; syncing every interval only"),
            );
            let _ = session.logout();
            return;
        }
        if let Err(e) = session.examine(folder) {
            // A folder that does not exist is not transient, but it may be
            // created later: keep trying, slowly, and say so once.
            if failing.is_none() {
                log(
                    &account.name,
                    format!("{label}: cannot open the folder ({e}); retrying with backoff"),
                );
                failing = Some(e.to_string());
            }
            let _ = session.logout();
            sleep_unless(stop, backoff);
            backoff = next_backoff(backoff);
            continue;
        }
        if failing.take().is_some() {
            log(&account.name, format!("{label}: connected again"));
        }
        // Changes made before IDLE started (or while the connection was
        // down) are not announced: sync once now.
        let _ = tx.send(Trigger::Remote(index));
        backoff = BACKOFF_MIN;
        let clock = std::cell::RefCell::new(ClockWatch::new());
        let stale = std::cell::Cell::new(None);
        let patience = stop_patience(account, IDLE_POLL);
        let interrupt = || {
            if stop.load(Ordering::SeqCst) {
                return true;
            }
            stale.set(clock.borrow_mut().stale(Some(patience)));
            stale.get().is_some()
        };
        loop {
            // Only the wait itself counts: the DONE and IDLE round trips
            // between waits are bounded by the account's timeout, which a
            // stop during them runs into (the read resumes and waits the
            // full timeout for a server that forgot us).
            *clock.borrow_mut() = ClockWatch::new();
            match session.idle_wait(IDLE_RENEW, &interrupt) {
                Ok(IdleEvent::Changed) => {
                    let _ = tx.send(Trigger::Remote(index));
                }
                Ok(IdleEvent::TimedOut) => {}
                Ok(IdleEvent::Interrupted) => {
                    if stop.load(Ordering::SeqCst) {
                        let _ = session.logout();
                        return;
                    }
                    // After a suspend or a long stop the connection is
                    // most likely dead, perhaps without a word from the
                    // server: start over.
                    let why = match stale.get() {
                        Some(Stale::Stopped(gap)) => format!(
                            "not running for {} s (stopped and continued?)",
                            gap.as_secs()
                        ),
                        _ => "the clock jumped".to_string(),
                    };
                    failing = Some(why.clone());
                    log(&account.name, format!("{label}: {why}; reconnecting"));
                    break;
                }
                Err(e) => {
                    log(
                        &account.name,
                        format!("{label}: connection lost ({e}); reconnecting"),
                    );
                    failing = Some(e.to_string());
                    break;
                }
            }
        }
        // Whatever went wrong, start over on a new connection.
        drop(session);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let mut d = BACKOFF_MIN;
        let mut seen = vec![d];
        for _ in 0..8 {
            d = next_backoff(d);
            seen.push(d);
        }
        assert_eq!(seen[1], Duration::from_secs(2));
        assert_eq!(seen[5], Duration::from_secs(32));
        assert_eq!(*seen.last().unwrap(), BACKOFF_MAX);
    }

    #[test]
    fn only_message_directories_count() {
        use notify::event::{AccessKind, CreateKind, EventKind};
        let event = |kind, path: &str| notify::Event::new(kind).add_path(path.into());
        let create = EventKind::Create(CreateKind::File);
        assert!(is_message_event(&event(create, "/m/INBOX/cur/1:2,S")));
        assert!(is_message_event(&event(create, "/m/INBOX/new/1")));
        assert!(is_message_event(&event(create, "/m/Archive/new")));
        assert!(!is_message_event(&event(create, "/m/INBOX/tmp/1")));
        assert!(!is_message_event(&event(
            EventKind::Access(AccessKind::Any),
            "/m/INBOX/cur/1:2,S"
        )));
    }

    #[test]
    fn a_steady_clock_does_not_jump() {
        let mut clock = ClockWatch::new();
        assert!(!clock.jumped());
        clock.wall -= Duration::from_secs(3600);
        assert!(
            clock.jumped(),
            "an hour of wall time in an instant is a jump"
        );
        assert!(!clock.jumped());
    }

    #[test]
    fn a_gap_longer_than_the_patience_is_a_stop() {
        let mut clock = ClockWatch::new();
        assert_eq!(clock.stale(Some(Duration::from_secs(60))), None);
        clock.mono -= Duration::from_secs(90);
        clock.wall -= Duration::from_secs(90);
        assert!(matches!(
            clock.stale(Some(Duration::from_secs(60))),
            Some(Stale::Stopped(gap)) if gap >= Duration::from_secs(90)
        ));
        clock.mono -= Duration::from_secs(90);
        clock.wall -= Duration::from_secs(90);
        assert_eq!(
            clock.stale(None),
            None,
            "without a patience only a jump counts"
        );
    }
}
