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
use std::sync::{Arc, Mutex};

use super::{DirStamp, Maildir, Subdir};

/// Names that appeared in and vanished from cur/ and new/ by this
/// process's own operations on a [`Maildir`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnChanges {
    appeared: HashSet<(Subdir, String)>,
    vanished: HashSet<(Subdir, String)>,
    /// More changes than [`MAX_NAMES`]: no longer recorded, so memory stays
    /// bounded; the folder is then listed by the next run as before.
    overflowed: bool,
}

/// Names remembered per folder, and events queued per directory: a few
/// megabytes at most, and more than most folders change in one run.
const MAX_NAMES: usize = 10_000;

impl OwnChanges {
    pub fn appeared(&mut self, subdir: Subdir, name: &str) {
        if self.room() {
            self.appeared.insert((subdir, name.to_string()));
        }
    }

    pub fn vanished(&mut self, subdir: Subdir, name: &str) {
        if self.room() {
            self.vanished.insert((subdir, name.to_string()));
        }
    }

    fn room(&mut self) -> bool {
        if !self.overflowed && self.appeared.len() + self.vanished.len() >= MAX_NAMES {
            self.overflowed = true;
            self.appeared = HashSet::new();
            self.vanished = HashSet::new();
        }
        !self.overflowed
    }
}

/// The run's inotify instance, shared by every folder's [`DirWitness`].
///
/// One instance for the whole run rather than one per folder: closing an
/// instance that had watches waits for the kernel to retire them (an RCU
/// grace period, some milliseconds), so a run pays that once, not once per
/// folder, and on a thread of its own.
pub struct WitnessHub {
    inner: Mutex<imp::Hub>,
}

impl WitnessHub {
    /// `None` where the system has no inotify (or no instance to spare):
    /// folders written to are then listed again by the next run.
    pub fn new() -> Option<Arc<WitnessHub>> {
        imp::Hub::new().ok().map(|hub| {
            Arc::new(WitnessHub {
                inner: Mutex::new(hub),
            })
        })
    }

    /// Starts watching a folder's cur/ and new/; `None` when the watches
    /// cannot be added (the user's limit reached, say).
    pub fn watch(self: &Arc<Self>, maildir: &Maildir) -> Option<DirWitness> {
        let watches = self.lock().add(maildir).ok()?;
        Some(DirWitness {
            hub: Arc::clone(self),
            watches,
            foreign: false,
            after_writes: None,
        })
    }

    /// Drops the instance on a thread of its own, so the kernel's wait
    /// overlaps the rest of the run.
    pub fn close_in_background(hub: Arc<WitnessHub>) {
        let _ = std::thread::Builder::new()
            .name("inotify-close".into())
            .spawn(move || drop(hub));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, imp::Hub> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for WitnessHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WitnessHub")
    }
}

/// A watch on one folder's cur/ and new/, from before its scan until its
/// stamp is recorded.
pub struct DirWitness {
    hub: Arc<WitnessHub>,
    watches: imp::FolderWatches,
    /// Something other than our own operations changed the directories (or
    /// events were lost): no stamp from after our writes may be trusted.
    foreign: bool,
    /// The stamp read after our writes, once they are done.
    after_writes: Option<DirStamp>,
}

impl std::fmt::Debug for DirWitness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWitness")
            .field("foreign", &self.foreign)
            .field("after_writes", &self.after_writes)
            .finish()
    }
}

impl DirWitness {
    /// A witness with an inotify instance of its own, for a single folder.
    #[cfg(test)]
    pub fn start(maildir: &Maildir) -> Option<DirWitness> {
        WitnessHub::new()?.watch(maildir)
    }

    /// Called once the folder's writes are done and durable: reads the
    /// stamp they left. The stamp is trusted by [`DirWitness::trusted`].
    pub fn writes_done(&mut self, maildir: &Maildir) {
        self.check(maildir);
        self.after_writes = maildir.stamp().ok();
    }

    /// The stamp after our writes, if every change since the watch started
    /// was ours and the stamp has settled: a change by anyone else from
    /// now on gets a later mtime, so the next run notices it.
    pub fn trusted(&mut self, maildir: &Maildir) -> Option<DirStamp> {
        let stamp = self.after_writes?;
        self.check(maildir);
        if self.foreign {
            return None;
        }
        let fine = imp::kernel_stamped(maildir) && !stamp.whole_seconds();
        let settle = if fine {
            imp::clock_tick_ns().saturating_mul(2)
        } else {
            // Unknown file system or coarse timestamps: as for a scan.
            super::settle_ns(&stamp)
        };
        (stamp.age_ns() >= settle).then_some(stamp)
    }

    /// Reads the queued events; any not explained by the folder's own
    /// changes so far makes the folder foreign. Every own change made so
    /// far has its event queued by now (the kernel queues it within the
    /// call that made it), so the record of them starts afresh: it only
    /// ever holds the changes since the last check.
    pub fn check(&mut self, maildir: &Maildir) {
        let mut own = maildir.own.borrow_mut();
        if !self.foreign && (own.overflowed || !self.hub.lock().explained_by(&self.watches, &own)) {
            self.foreign = true;
        }
        *own = OwnChanges::default();
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::{HashMap, HashSet};
    use std::ffi::CString;
    use std::io;
    use std::os::unix::ffi::OsStrExt;

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    use super::{OwnChanges, MAX_NAMES};
    use crate::maildir::{Maildir, Subdir};

    /// The instance and the events read from it, by watch, until the
    /// folder they belong to looks at them.
    pub struct Hub {
        inotify: Inotify,
        buffer: Vec<u8>,
        queued: HashMap<WatchDescriptor, Vec<Seen>>,
        /// Watches with more events than [`MAX_NAMES`], no longer kept.
        flooded: HashSet<WatchDescriptor>,
        /// The kernel dropped events: nobody can be sure of anything.
        overflowed: bool,
    }

    /// One event on a watched directory: an entry appeared or vanished,
    /// by name (`None` when it is not UTF-8); or anything else.
    enum Seen {
        Entry {
            appeared: bool,
            name: Option<String>,
        },
        Other,
    }

    pub struct FolderWatches {
        cur: WatchDescriptor,
        new: WatchDescriptor,
    }

    impl Hub {
        pub fn new() -> io::Result<Hub> {
            Ok(Hub {
                inotify: Inotify::init()?,
                buffer: vec![0; 64 * 1024],
                queued: HashMap::new(),
                flooded: HashSet::new(),
                overflowed: false,
            })
        }

        pub fn add(&mut self, maildir: &Maildir) -> io::Result<FolderWatches> {
            let mask = WatchMask::CREATE
                | WatchMask::DELETE
                | WatchMask::MOVED_FROM
                | WatchMask::MOVED_TO
                | WatchMask::DELETE_SELF
                | WatchMask::MOVE_SELF
                | WatchMask::ONLYDIR;
            let mut watches = self.inotify.watches();
            let cur = watches.add(maildir.subdir_path(Subdir::Cur), mask)?;
            let new = watches.add(maildir.subdir_path(Subdir::New), mask)?;
            Ok(FolderWatches { cur, new })
        }

        /// Reads every queued event into its watch's list.
        fn drain(&mut self) {
            loop {
                let events = match self.inotify.read_events(&mut self.buffer) {
                    Ok(events) => events,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        self.overflowed = true;
                        return;
                    }
                };
                let mut any = false;
                for event in events {
                    any = true;
                    if event.mask.contains(EventMask::Q_OVERFLOW) {
                        self.overflowed = true;
                        continue;
                    }
                    let name = event.name.and_then(|n| n.to_str()).map(String::from);
                    let seen = if event
                        .mask
                        .intersects(EventMask::CREATE | EventMask::MOVED_TO)
                    {
                        Seen::Entry {
                            appeared: true,
                            name,
                        }
                    } else if event
                        .mask
                        .intersects(EventMask::DELETE | EventMask::MOVED_FROM)
                    {
                        Seen::Entry {
                            appeared: false,
                            name,
                        }
                    } else {
                        Seen::Other
                    };
                    let queue = self.queued.entry(event.wd.clone()).or_default();
                    if queue.len() < MAX_NAMES {
                        queue.push(seen);
                    } else {
                        self.flooded.insert(event.wd);
                    }
                }
                if !any {
                    return;
                }
            }
        }

        /// Whether every event on this folder's watches so far is one of
        /// `own` (false too when events were lost). Consumes the events.
        pub fn explained_by(&mut self, watches: &FolderWatches, own: &OwnChanges) -> bool {
            self.drain();
            if self.overflowed {
                return false;
            }
            let mut explained = true;
            for (wd, subdir) in [(&watches.cur, Subdir::Cur), (&watches.new, Subdir::New)] {
                explained &= !self.flooded.contains(wd);
                for seen in self.queued.remove(wd).unwrap_or_default() {
                    explained &= match seen {
                        Seen::Entry {
                            appeared,
                            name: Some(name),
                        } => {
                            let key = (subdir, name);
                            if appeared {
                                own.appeared.contains(&key)
                            } else {
                                own.vanished.contains(&key)
                            }
                        }
                        Seen::Entry { name: None, .. } | Seen::Other => false,
                    };
                }
            }
            explained
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

    /// No inotify here: folders written to are listed on the next run.
    pub struct Hub;
    pub struct FolderWatches;

    impl Hub {
        pub fn new() -> io::Result<Hub> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no inotify"))
        }

        pub fn add(&mut self, _: &Maildir) -> io::Result<FolderWatches> {
            Err(io::Error::new(io::ErrorKind::Unsupported, "no inotify"))
        }

        pub fn explained_by(&mut self, _: &FolderWatches, _: &OwnChanges) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_changes_stop_growing_at_their_bound() {
        let mut own = OwnChanges::default();
        for i in 0..MAX_NAMES + 10 {
            own.appeared(Subdir::Cur, &format!("m{i}"));
        }
        assert!(own.overflowed);
        assert!(own.appeared.is_empty() && own.vanished.is_empty());
        own.vanished(Subdir::New, "late");
        assert!(own.vanished.is_empty(), "nothing more is recorded");
    }
}
