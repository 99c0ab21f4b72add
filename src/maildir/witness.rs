//! Proof that a folder's cur/ and new/ changed only by imapdir's own hand
//! while it synced them.
//!
//! A folder imapdir wrote into has new directory mtimes, so the stamp
//! taken before the scan no longer matches and the next run would list
//! the whole folder again, although it knows exactly what changed. An
//! inotify watch set up before the scan sees every entry created, moved or
//! deleted in the two directories; when each of those events is one of
//! imapdir's own renames, deliveries or deletions, the stamp taken after
//! them describes a directory whose contents imapdir knows, and the next
//! run can trust it like a scan's. Any other event (a mail reader renaming
//! a file, a delivery, a lost event queue) leaves the stamp unrecorded and
//! the next run scans as before.
//!
//! Written against the kernel interface through the `inotify` crate rather
//! than `notify`: the question is "did anything but us happen", which needs
//! every raw event with its name, in order, and nothing coalesced.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{DirStamp, Maildir, Subdir};

/// Names that appeared in and vanished from cur/ and new/ by this
/// process's own operations on a [`Maildir`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnChanges {
    pub appeared: HashSet<(Subdir, String)>,
    pub vanished: HashSet<(Subdir, String)>,
}

impl OwnChanges {
    pub fn is_empty(&self) -> bool {
        self.appeared.is_empty() && self.vanished.is_empty()
    }
}

/// A watch on one folder's cur/ and new/, from before its scan until its
/// stamp is recorded.
#[derive(Debug)]
pub struct DirWitness {
    inner: imp::Watch,
    /// Something other than our own operations changed the directories (or
    /// events were lost): no stamp from after our writes may be trusted.
    foreign: bool,
    /// The stamp read after our writes, once they are done.
    after_writes: Option<DirStamp>,
}

impl DirWitness {
    /// Starts watching; `None` where the system cannot (no inotify, or its
    /// limits reached), and the folder is then treated as before.
    pub fn start(maildir: &Maildir) -> Option<DirWitness> {
        // Each watch is an inotify instance, of which a user has few (128
        // by default) for every program they run: take a bounded share.
        if LIVE.fetch_add(1, Ordering::SeqCst) >= MAX_LIVE {
            LIVE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        match imp::Watch::start(maildir) {
            Ok(inner) => Some(DirWitness {
                inner,
                foreign: false,
                after_writes: None,
            }),
            Err(_) => {
                LIVE.fetch_sub(1, Ordering::SeqCst);
                None
            }
        }
    }

    /// Called once the folder's writes are done and durable: reads the
    /// stamp they left. The stamp is trusted by [`DirWitness::trusted`].
    pub fn writes_done(&mut self, maildir: &Maildir) {
        self.check(&maildir.own.borrow());
        self.after_writes = maildir.stamp().ok();
    }

    /// The stamp after our writes, if every change since the watch started
    /// was ours and the stamp has settled: a change by anyone else from
    /// now on gets a later mtime, so the next run notices it.
    pub fn trusted(&mut self, maildir: &Maildir) -> Option<DirStamp> {
        let stamp = self.after_writes?;
        self.check(&maildir.own.borrow());
        if self.foreign {
            return None;
        }
        let now = now_ns();
        let fine = imp::kernel_stamped(maildir) && !whole_seconds(&stamp);
        let settle = if fine {
            imp::clock_tick_ns().saturating_mul(2)
        } else {
            // Unknown file system or coarse timestamps: as for a scan.
            super::settle_ns(&stamp)
        };
        (now - stamp.cur_mtime_ns.max(stamp.new_mtime_ns) >= settle).then_some(stamp)
    }

    /// Reads the queued events; any not explained by `own` is foreign.
    fn check(&mut self, own: &OwnChanges) {
        if self.foreign {
            return;
        }
        if !self.inner.events_explained_by(own) {
            self.foreign = true;
        }
    }
}

impl Drop for DirWitness {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Witnesses alive in this process, and how many may be: enough for every
/// worker's folder and the stamps that settle by the end of the run.
static LIVE: AtomicUsize = AtomicUsize::new(0);
const MAX_LIVE: usize = 24;

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn whole_seconds(stamp: &DirStamp) -> bool {
    [stamp.cur_mtime_ns, stamp.new_mtime_ns]
        .iter()
        .all(|ns| ns % 1_000_000_000 == 0)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    use super::OwnChanges;
    use crate::maildir::{Maildir, Subdir};

    #[derive(Debug)]
    pub struct Watch {
        inotify: Inotify,
        cur: WatchDescriptor,
        new: WatchDescriptor,
        buffer: Vec<u8>,
    }

    impl Watch {
        pub fn start(maildir: &Maildir) -> io::Result<Watch> {
            let inotify = Inotify::init()?;
            let mask = WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR;
            let mut watches = inotify.watches();
            let cur = watches.add(maildir.subdir_path(Subdir::Cur), mask)?;
            let new = watches.add(maildir.subdir_path(Subdir::New), mask)?;
            Ok(Watch {
                inotify,
                cur,
                new,
                buffer: vec![0; 64 * 1024],
            })
        }

        /// Drains the queue; false at the first event that is not one of
        /// `own` (or a lost queue, a watched directory moved or removed).
        pub fn events_explained_by(&mut self, own: &OwnChanges) -> bool {
            loop {
                let events = match self.inotify.read_events(&mut self.buffer) {
                    Ok(events) => events,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return false,
                };
                let mut any = false;
                for event in events {
                    any = true;
                    let subdir = if event.wd == self.cur {
                        Subdir::Cur
                    } else if event.wd == self.new {
                        Subdir::New
                    } else {
                        return false;
                    };
                    let Some(name) = event.name.and_then(|n| n.to_str()) else {
                        return false;
                    };
                    let key = (subdir, name.to_string());
                    let explained = if event
                        .mask
                        .intersects(EventMask::CREATE | EventMask::MOVED_TO)
                    {
                        own.appeared.contains(&key)
                    } else if event
                        .mask
                        .intersects(EventMask::DELETE | EventMask::MOVED_FROM)
                    {
                        own.vanished.contains(&key)
                    } else {
                        false
                    };
                    if !explained {
                        return false;
                    }
                }
                if !any {
                    return true;
                }
            }
        }
    }

    /// Whether the file system stamps mtimes from the kernel clock with
    /// sub-second precision (local disks and tmpfs); elsewhere (network
    /// and foreign file systems) the server or a coarser clock decides.
    // The C types' widths differ between targets.
    #[allow(clippy::useless_conversion)]
    pub fn kernel_stamped(maildir: &Maildir) -> bool {
        const KNOWN: [i64; 7] = [
            0xEF53,      // ext2/3/4 (ext3's 128-byte inodes stamp whole seconds)
            0x5846_5342, // xfs
            0x9123_683E, // btrfs
            0x0102_1994, // tmpfs
            0xF2F5_2010, // f2fs
            0xCA45_1A4E, // bcachefs
            0x2FC1_2FC1, // zfs
        ];
        let Ok(path) = CString::new(maildir.subdir_path(Subdir::Cur).as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: `path` is NUL-terminated and `buf` is written by statfs.
        let mut buf: libc::statfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statfs(path.as_ptr(), &mut buf) };
        rc == 0 && KNOWN.contains(&i64::from(buf.f_type))
    }

    /// The kernel's timestamp tick: file times come from the coarse clock.
    #[allow(clippy::useless_conversion)]
    pub fn clock_tick_ns() -> i64 {
        let mut res = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `res` is a valid timespec for the kernel to fill.
        let rc = unsafe { libc::clock_getres(libc::CLOCK_REALTIME_COARSE, &mut res) };
        if rc != 0 {
            return 10_000_000;
        }
        (i64::from(res.tv_sec) * 1_000_000_000 + i64::from(res.tv_nsec)).max(1_000_000)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    use super::OwnChanges;
    use crate::maildir::Maildir;

    /// No inotify here: folders written to are scanned on the next run.
    #[derive(Debug)]
    pub struct Watch;

    impl Watch {
        pub fn start(_: &Maildir) -> io::Result<Watch> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no inotify"))
        }

        pub fn events_explained_by(&mut self, _: &OwnChanges) -> bool {
            false
        }
    }

    pub fn kernel_stamped(_: &Maildir) -> bool {
        false
    }

    pub fn clock_tick_ns() -> i64 {
        10_000_000
    }
}
