//! Stops and continues a process again and again (SIGSTOP, SIGCONT), as a
//! suspended laptop, Ctrl-Z then `fg`, a debugger or a paused container
//! does: on Linux every blocking socket call with a timeout then fails
//! with EINTR, even in a process without signal handlers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// A thread sending SIGSTOP, then SIGCONT, to one process every few
/// milliseconds until dropped; the process is always left running.
pub struct Stopper {
    stop: Arc<AtomicBool>,
    stops: Arc<AtomicUsize>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Stopper {
    /// Stops `pid` for `stopped`, lets it run for `running`, and again.
    pub fn start(pid: u32, stopped: Duration, running: Duration) -> Stopper {
        let stop = Arc::new(AtomicBool::new(false));
        let stops = Arc::new(AtomicUsize::new(0));
        let thread = {
            let (stop, stops) = (stop.clone(), stops.clone());
            thread::spawn(move || {
                let pid = pid as libc::pid_t;
                while !stop.load(Ordering::SeqCst) {
                    // SAFETY: kill(2) on the test's own child.
                    if unsafe { libc::kill(pid, libc::SIGSTOP) } != 0 {
                        break;
                    }
                    stops.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(stopped);
                    // SAFETY: as above.
                    unsafe { libc::kill(pid, libc::SIGCONT) };
                    thread::sleep(running);
                }
                // SAFETY: as above; never leave the child stopped.
                unsafe { libc::kill(pid, libc::SIGCONT) };
            })
        };
        Stopper {
            stop,
            stops,
            thread: Some(thread),
        }
    }

    /// Every few milliseconds: 2 ms stopped, 3 ms running.
    pub fn rapid(pid: u32) -> Stopper {
        Stopper::start(pid, Duration::from_millis(2), Duration::from_millis(3))
    }

    /// How many times the process was stopped so far.
    pub fn stops(&self) -> usize {
        self.stops.load(Ordering::SeqCst)
    }

    /// Ends the storm, leaving the process running; returns the stops.
    pub fn finish(mut self) -> usize {
        self.end();
        self.stops()
    }

    fn end(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.end();
    }
}
