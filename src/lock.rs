//! One run at a time per account: an exclusive `flock` on a file beside the
//! state database, held for the whole run and released by the kernel even
//! when the process is killed.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Another run holds the lock; maps to exit code 4.
#[derive(Debug, thiserror::Error)]
#[error("account {account} is locked by another imapdir run (lock file {})", path.display())]
pub struct Locked {
    pub account: String,
    pub path: PathBuf,
}

/// Held while the account is being synced.
#[derive(Debug)]
pub struct AccountLock {
    _file: File,
}

impl AccountLock {
    pub fn acquire(account: &str, path: &Path) -> anyhow::Result<AccountLock> {
        use anyhow::Context;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            // The state directory: private, like the files in it.
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(AccountLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Locked {
                account: account.to_string(),
                path: path.to_path_buf(),
            }
            .into()),
            Err(TryLockError::Error(e)) => {
                Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/acc.sqlite.lock");
        let first = AccountLock::acquire("acc", &path).unwrap();
        let err = AccountLock::acquire("acc", &path).unwrap_err();
        assert!(err.downcast_ref::<Locked>().is_some(), "{err}");
        assert!(err.to_string().contains("locked by another imapdir run"));
        drop(first);
        AccountLock::acquire("acc", &path).unwrap();
    }
}
