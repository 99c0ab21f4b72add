//! Runs a command on a pseudo-terminal, as a person at a terminal would:
//! waits for a prompt to appear, types an answer, and reads everything the
//! program printed (the terminal echoes what was typed, as a real one does).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PtySession {
    master: File,
    child: Child,
    /// Everything read so far.
    pub output: String,
    /// How much of `output` earlier `expect`s consumed.
    seen: usize,
}

impl PtySession {
    /// Starts `command` with a new pseudo-terminal as its stdin, stdout and stderr.
    pub fn spawn(mut command: Command) -> PtySession {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two descriptors into the locals.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are fresh and owned here.
        let (master, slave) = unsafe { (File::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        command
            .stdin(stdio(&slave))
            .stdout(stdio(&slave))
            .stderr(stdio(&slave));
        let child = command.spawn().expect("spawn on a pty");
        drop(slave);
        PtySession {
            master,
            child,
            output: String::new(),
            seen: 0,
        }
    }

    /// Reads for up to `wait`; false once the program has closed the terminal.
    fn read_some(&mut self, wait: Duration) -> bool {
        let mut poll = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, wait.as_millis() as libc::c_int) };
        if ready <= 0 {
            return true;
        }
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(0) | Err(_) => false, // EIO: the slave side is closed
            Ok(n) => {
                self.output.push_str(&String::from_utf8_lossy(&buf[..n]));
                true
            }
        }
    }

    /// Waits until `text` appears after what earlier calls consumed.
    pub fn expect(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(at) = self.output[self.seen..].find(text) {
                self.seen += at + text.len();
                return;
            }
            let open = self.read_some(Duration::from_millis(100));
            assert!(
                open && Instant::now() < deadline,
                "waited for {text:?}; the terminal shows:\n{}",
                self.output
            );
        }
    }

    /// Types `line` and Enter.
    pub fn answer(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\r").as_bytes())
            .unwrap();
        self.master.flush().unwrap();
    }

    /// Reads to the end and returns the exit code.
    pub fn finish(mut self) -> (i32, String) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let open = self.read_some(Duration::from_millis(100));
            if let Some(status) = self.child.try_wait().unwrap() {
                while self.read_some(Duration::from_millis(50)) {}
                return (
                    status.code().unwrap_or(-1),
                    std::mem::take(&mut self.output),
                );
            }
            if !open {
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                Instant::now() < deadline,
                "still running; the terminal shows:\n{}",
                self.output
            );
        }
    }
}

impl Drop for PtySession {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
