//! What the database code needs from around it: the state directory and
//! file created private to their owner, the clock, and how long a
//! connection waits out another one's write lock.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Result, StateError};

/// How long a connection waits for another's write (a worker's batch, or
/// `status` reading while a sync writes) before giving up.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite's busy handler: called with the number of earlier calls for the
/// same lock; `false` gives up. SQLite's own `busy_timeout` sleeps 1, 2, 5,
/// 10 ms and longer, while a worker's commit holds the lock for well under
/// a millisecond, so four workers committing batches spent more time
/// asleep than writing. Here the wait starts at 50 µs and stays at 1 ms.
pub(super) fn wait_while_busy(calls: i32) -> bool {
    let calls = calls.max(0) as u64;
    if busy_waited(calls) >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(busy_delay(calls));
    true
}

/// The sleep before retry number `calls + 1`: 50 µs more each time, up to 1 ms.
pub(super) fn busy_delay(calls: u64) -> Duration {
    Duration::from_micros((50 * (calls + 1)).min(1000))
}

/// The total slept by the first `calls` retries.
pub(super) fn busy_waited(calls: u64) -> Duration {
    // 50 + 100 + ... + 1000 µs over the first 20, then 1 ms each.
    let ramp = calls.min(20);
    let micros = 25 * ramp * (ramp + 1) + calls.saturating_sub(20) * 1000;
    Duration::from_micros(micros)
}

/// Current Unix time in seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Creates the state directory readable by its owner only.
pub(super) fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StateError::Create {
            path: dir.display().to_string(),
            source,
        })
}

/// Creates the database file with mode 0600 before SQLite opens it, so
/// message metadata is never readable by others, whatever the umask.
pub fn create_private_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|source| StateError::Create {
            path: path.display().to_string(),
            source,
        })
}
