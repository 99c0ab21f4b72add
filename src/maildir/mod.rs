//! A small Maildir layer written for imapdir's safety needs.
//!
//! The `maildir` crate neither lets us choose file names (we put the IMAP
//! UID in them, so a crash between writing a file and recording it is
//! recoverable) nor fsyncs directories (a rename is not durable until its
//! directory is synced). Here every operation that could destroy mail
//! refuses to: delivery and renames never overwrite an existing file, and
//! durability is explicit so the caller can batch it (fsync file contents,
//! then [`Maildir::sync_dirs`] once for a whole batch of renames).
//!
//! File names are `<unique>,U=<uid>:2,<letters>` in cur/; a message without
//! flags goes to new/ as `<unique>,U=<uid>`. See [`parse_name`].

mod discover;
mod keywords;
mod line_endings;
mod message;
mod name;
pub mod placeholder;
mod relocate;
mod witness;

use std::cell::{Cell, RefCell};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::{DirStamp, Flags, LocalMessage, Subdir};

pub use discover::discover_folders;
pub use keywords::{format_keywords, parse_keywords, KEYWORDS_FILE};
pub use line_endings::{crlf_size, BlockWriter, CrlfReader, LfWriter, BLOCK_WRITER_CAPACITY};
pub use message::{mtime_secs, read_message_id};
pub use name::{
    base_with_uid, base_without_uid, format_name, format_name_in, new_base, parse_name, ParsedName,
};
pub use relocate::{move_folder, purge_trash, trash_folder, TRASH_DIR};
use witness::OwnChanges;
pub use witness::{DirWitness, WitnessHub};

/// How old a tmp/ file must be before it counts as a crash leftover (the
/// Maildir spec's 36 hours).
const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 60 * 60);

/// How often to chase a message another program keeps renaming.
const MAX_FOLLOW: usize = 4;

impl LocalMessage {
    pub(crate) fn from_name(subdir: Subdir, name: &str) -> LocalMessage {
        let parsed = parse_name(name);
        LocalMessage {
            subdir,
            name: name.to_string(),
            base: parsed.base,
            uid_hint: parsed.uid,
            flags: parsed.flags,
        }
    }
}

/// How long a directory's mtime must lie in the past before it is trusted
/// as "unchanged since": a change in the same timestamp tick as the scan
/// would otherwise go unnoticed.
pub const STAMP_SETTLE_NS: i64 = 1_000_000_000;
/// The same where mtimes are whole seconds (FAT keeps them in two-second
/// steps, HFS+ in seconds): there a tick is up to two seconds long.
pub const COARSE_STAMP_SETTLE_NS: i64 = 3_000_000_000;

/// How long this stamp's mtimes must lie in the past to be trusted.
pub fn settle_ns(stamp: &DirStamp) -> i64 {
    if stamp.whole_seconds() {
        COARSE_STAMP_SETTLE_NS
    } else {
        STAMP_SETTLE_NS
    }
}

/// One Maildir folder: a directory holding cur/ new/ tmp/.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    path: PathBuf,
    /// cur/ and new/ entries changed since the last [`Maildir::sync_dirs`]:
    /// only those directories need an fsync.
    unsynced: Cell<Unsynced>,
    /// Names this handle made appear in or vanish from cur/ and new/, so a
    /// [`DirWitness`] can tell them from anyone else's changes.
    own: RefCell<OwnChanges>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Unsynced {
    cur: bool,
    new: bool,
}

impl Maildir {
    /// No I/O; see [`Maildir::create`].
    pub fn new(path: impl Into<PathBuf>) -> Maildir {
        Maildir {
            path: path.into(),
            unsynced: Cell::new(Unsynced::default()),
            own: RefCell::new(OwnChanges::default()),
        }
    }

    fn touched(&self, subdir: Subdir) {
        let mut u = self.unsynced.get();
        match subdir {
            Subdir::Cur => u.cur = true,
            Subdir::New => u.new = true,
        }
        self.unsynced.set(u);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if cur/ new/ and tmp/ are all present as directories.
    pub fn exists(&self) -> bool {
        is_maildir(&self.path)
    }

    /// Creates the folder (with missing parents) and cur/ new/ tmp/, syncing
    /// the parent of every directory created so the folder survives a crash.
    pub fn create(&self) -> io::Result<()> {
        create_dir_all_durable(&self.path)?;
        let mut created = false;
        for sub in ["cur", "new", "tmp"] {
            created |= create_dir_if_missing(&self.path.join(sub))?;
        }
        if created {
            sync_dir(&self.path)?;
        }
        Ok(())
    }

    /// Lists cur/ and new/ and calls `each` per message file.
    ///
    /// Only reads directories (no stat per file), so 100k messages list
    /// quickly. Skips names starting with '.', subdirectories, and names
    /// that are not UTF-8 (no tool imapdir shares a Maildir with makes
    /// those). Returns the stamp read *before* listing, so a change made
    /// during the scan makes the next run scan again.
    pub fn scan(&self, each: &mut dyn FnMut(LocalMessage)) -> io::Result<DirStamp> {
        let stamp = self.stamp()?;
        for subdir in [Subdir::Cur, Subdir::New] {
            self.list(subdir, &mut |msg| {
                each(msg);
                true
            })?;
        }
        Ok(stamp)
    }

    /// Lists one subdir until `each` returns false.
    fn list(&self, subdir: Subdir, each: &mut dyn FnMut(LocalMessage) -> bool) -> io::Result<()> {
        let dir = self.subdir_path(subdir);
        let entries = fs::read_dir(&dir).map_err(|e| with_path(e, "cannot list", &dir))?;
        for entry in entries {
            let entry = entry.map_err(|e| with_path(e, "cannot list", &dir))?;
            let os_name = entry.file_name();
            let Some(name) = os_name.to_str() else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            // Free on most file systems (the type comes with the entry).
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if !each(LocalMessage::from_name(subdir, name)) {
                break;
            }
        }
        Ok(())
    }

    /// The current mtimes of cur/ and new/.
    pub fn stamp(&self) -> io::Result<DirStamp> {
        let mtime_ns = |subdir: Subdir| -> io::Result<i64> {
            let dir = self.subdir_path(subdir);
            let meta = fs::metadata(&dir).map_err(|e| with_path(e, "cannot stat", &dir))?;
            Ok(meta.mtime() * 1_000_000_000 + meta.mtime_nsec())
        };
        Ok(DirStamp {
            cur_mtime_ns: mtime_ns(Subdir::Cur)?,
            new_mtime_ns: mtime_ns(Subdir::New)?,
        })
    }

    /// Creates a new, empty file in tmp/ under a unique name (never opening
    /// an existing one) for writing a message before [`Maildir::deliver`].
    pub fn create_tmp(&self) -> io::Result<(File, PathBuf)> {
        let tmp = self.path.join("tmp");
        let mut attempt = 0;
        loop {
            let path = tmp.join(name::unique_name());
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => return Ok((file, path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
                Err(e) => return Err(with_path(e, "cannot create", &path)),
            }
        }
    }

    /// A new name in tmp/ for `source`, another folder's message: a hard
    /// link (one copy on disk for both folders), or a durable copy where
    /// the two are on different file systems. Returns the tmp path and
    /// whether it is a link; [`Maildir::deliver`] then moves it into place.
    pub fn link_into_tmp(&self, source: &Path) -> io::Result<(PathBuf, bool)> {
        let path = self.path.join("tmp").join(name::unique_name());
        match fs::hard_link(source, &path) {
            Ok(()) => Ok((path, true)),
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let copied = fs::copy(source, &path)
                    .and_then(|_| File::open(&path))
                    .and_then(|f| sync_file(&f));
                match copied {
                    Ok(()) => Ok((path, false)),
                    Err(e) => {
                        let _ = fs::remove_file(&path);
                        Err(with_path(e, "cannot copy into", &path))
                    }
                }
            }
            Err(e) => Err(with_path(
                e,
                &format!("cannot link {} to", source.display()),
                &path,
            )),
        }
    }

    /// Moves a finished tmp file into place as `base` with `flags`: into
    /// cur/ with an info part, or into new/ as the bare base when there are
    /// no flags.
    ///
    /// Never overwrites: if the name is taken, fails with `AlreadyExists`
    /// and leaves the tmp file where it was. Does not fsync; the caller
    /// syncs file contents, then calls [`Maildir::sync_dirs`] once per batch.
    pub fn deliver(&self, tmp_path: &Path, base: &str, flags: Flags) -> io::Result<LocalMessage> {
        check_base(base)?;
        let subdir = Subdir::for_flags(flags);
        let name = format_name_in(subdir, base, flags, "");
        let target = self.subdir_path(subdir).join(&name);
        rename_noreplace(tmp_path, &target).map_err(|e| {
            with_path(
                e,
                &format!("cannot deliver {} to", tmp_path.display()),
                &target,
            )
        })?;
        self.touched(subdir);
        self.own.borrow_mut().appeared(subdir, &name);
        Ok(LocalMessage::from_name(subdir, &name))
    }

    /// Replaces a message's file by `tmp_path` under the same name (a
    /// placeholder by its whole message): one rename, so the file is
    /// always the one or the other, never a mix or missing.
    pub fn replace(&self, tmp_path: &Path, msg: &LocalMessage) -> io::Result<()> {
        let target = self.file_path(msg);
        std::fs::rename(tmp_path, &target).map_err(|e| {
            with_path(
                e,
                &format!("cannot move {} over", tmp_path.display()),
                &target,
            )
        })?;
        self.touched(msg.subdir);
        self.own.borrow_mut().appeared(msg.subdir, &msg.name);
        Ok(())
    }

    /// Renames a message to carry `flags`, keeping info letters imapdir
    /// does not sync: only the change from `msg.flags` to `flags` is
    /// applied to the letters the name has. A message in new/ that gets flags moves to cur/.
    ///
    /// If another program renamed the file meanwhile (a mail reader marking
    /// it read, say), the file with the same base in cur/ or new/ is renamed
    /// instead, and only the change from `msg.flags` to `flags` is applied
    /// to the flags it has now, so the other program's change is kept. The
    /// returned message has the flags actually on disk. `NotFound` only if
    /// the base is gone from both cur/ and new/.
    pub fn set_flags(&self, msg: &LocalMessage, flags: Flags) -> io::Result<LocalMessage> {
        let removed = msg.flags.difference(flags);
        let added = flags.difference(msg.flags);
        self.rename_following(msg, &|current| {
            // From the name, not `current.flags`: the caller's view may
            // leave out keyword letters it does not sync, which stay.
            let on_disk = parse_name(&current.name);
            let flags = on_disk.flags.difference(removed).union(added);
            let subdir = if flags.is_empty() {
                current.subdir
            } else {
                Subdir::Cur
            };
            (
                subdir,
                format_name_in(subdir, &current.base, flags, &on_disk.other_info),
            )
        })
    }

    /// Renames a message to a new base (e.g. one with `,U=<uid>` added),
    /// keeping its subdir and info; follows a file renamed meanwhile like
    /// [`Maildir::set_flags`].
    pub fn rename_base(&self, msg: &LocalMessage, new_base: &str) -> io::Result<LocalMessage> {
        check_base(new_base)?;
        self.rename_following(msg, &|current| {
            let (_, info) = name::split_info(&current.name);
            (current.subdir, format!("{new_base}{info}"))
        })
    }

    /// Renames a message to a new base, its letters rewritten by `letters`
    /// from the flags the name has now (another folder's keyword letters
    /// made this folder's, say); other info kept. Follows a file renamed
    /// meanwhile like [`Maildir::set_flags`].
    pub fn rename_base_as(
        &self,
        msg: &LocalMessage,
        new_base: &str,
        letters: &dyn Fn(Flags) -> Flags,
    ) -> io::Result<LocalMessage> {
        check_base(new_base)?;
        self.rename_following(msg, &|current| {
            let on_disk = parse_name(&current.name);
            let subdir = current.subdir;
            (
                subdir,
                format_name_in(
                    subdir,
                    new_base,
                    letters(on_disk.flags),
                    &on_disk.other_info,
                ),
            )
        })
    }

    /// Moves `msg` into the folder `target` under `new_base`, keeping its
    /// subdir and info (flags): a rename, so the body is not copied. A
    /// Maildir on another file system is an error (the caller transfers
    /// the message instead).
    pub fn move_into(
        &self,
        msg: &LocalMessage,
        target: &Maildir,
        new_base: &str,
    ) -> io::Result<LocalMessage> {
        self.move_into_as(msg, target, new_base, None)
    }

    /// [`Maildir::move_into`], the name carrying `flags` when given (the
    /// keyword letters of the target folder's table), other info kept.
    pub fn move_into_as(
        &self,
        msg: &LocalMessage,
        target: &Maildir,
        new_base: &str,
        flags: Option<Flags>,
    ) -> io::Result<LocalMessage> {
        check_base(new_base)?;
        let name_for = |current: &LocalMessage| match flags {
            Some(flags) => {
                let other = parse_name(&current.name).other_info;
                format_name_in(current.subdir, new_base, flags, &other)
            }
            None => format!("{new_base}{}", name::split_info(&current.name).1),
        };
        // The file where `msg` says first: looking its base up reads the
        // whole directory, which a run moving many files cannot afford
        // for each of them.
        let mut current = msg.clone();
        let mut name = name_for(&current);
        match rename_noreplace(
            &self.file_path(&current),
            &target.subdir_path(current.subdir).join(&name),
        ) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Renamed behind our back (a flag changed meanwhile).
                current = match self.find_base(&msg.base)? {
                    Some(found) => found,
                    None => return Err(self.gone(msg)),
                };
                name = name_for(&current);
                rename_noreplace(
                    &self.file_path(&current),
                    &target.subdir_path(current.subdir).join(&name),
                )?;
            }
            Err(e) => return Err(e),
        }
        self.touched(current.subdir);
        self.own
            .borrow_mut()
            .vanished(current.subdir, &current.name);
        target.touched(current.subdir);
        target.own.borrow_mut().appeared(current.subdir, &name);
        Ok(LocalMessage::from_name(current.subdir, &name))
    }

    /// Renames `msg` to the target `target` computes from the file as it is
    /// now, looking the base up again if the file was renamed meanwhile.
    fn rename_following(
        &self,
        msg: &LocalMessage,
        target: &dyn Fn(&LocalMessage) -> (Subdir, String),
    ) -> io::Result<LocalMessage> {
        let mut current = msg.clone();
        for _ in 0..MAX_FOLLOW {
            let (subdir, name) = target(&current);
            if subdir == current.subdir && name == current.name {
                return Ok(current);
            }
            let from = self.file_path(&current);
            let to = self.subdir_path(subdir).join(&name);
            match rename_noreplace(&from, &to) {
                Ok(()) => {
                    self.touched(current.subdir);
                    self.touched(subdir);
                    let mut own = self.own.borrow_mut();
                    own.vanished(current.subdir, &current.name);
                    own.appeared(subdir, &name);
                    return Ok(LocalMessage::from_name(subdir, &name));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    current = self.find_base(&msg.base)?.ok_or_else(|| self.gone(msg))?;
                }
                Err(e) => {
                    return Err(with_path(
                        e,
                        &format!("cannot rename {} to", from.display()),
                        &to,
                    ))
                }
            }
        }
        Err(io::Error::other(format!(
            "{}: message {} keeps being renamed by another program",
            self.path.display(),
            msg.base
        )))
    }

    /// The file imapdir would have left for a message with this base and
    /// flags, found with a `stat` or two instead of a directory listing:
    /// in new/ under the bare base when it has no flags (or in cur/ with an
    /// empty info part, where mail readers move messages they have shown),
    /// else in cur/ with its flag letters. `None` when no such file exists,
    /// for instance because its name carries letters imapdir does not sync.
    pub fn find_recorded(&self, base: &str, flags: Flags) -> io::Result<Option<LocalMessage>> {
        let mut candidates = vec![Subdir::for_flags(flags)];
        if flags.is_empty() {
            candidates.push(Subdir::Cur);
        }
        for subdir in candidates {
            let name = format_name_in(subdir, base, flags, "");
            let path = self.subdir_path(subdir).join(&name);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() => {
                    return Ok(Some(LocalMessage::from_name(subdir, &name)))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(with_path(e, "cannot stat", &path)),
            }
        }
        Ok(None)
    }

    /// The file with this base in cur/ (preferred) or new/, if any.
    ///
    /// Reads whole directories, so it is only for the rare case of a file
    /// renamed behind our back.
    pub fn find_base(&self, base: &str) -> io::Result<Option<LocalMessage>> {
        for subdir in [Subdir::Cur, Subdir::New] {
            let mut found = None;
            self.list(subdir, &mut |msg| {
                if msg.base == base {
                    found = Some(msg);
                    return false;
                }
                true
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    fn gone(&self, msg: &LocalMessage) -> io::Error {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{}: message {} is gone from cur/ and new/",
                self.path.display(),
                msg.base
            ),
        )
    }

    /// Deletes a message; Ok if it is already gone, so a run repeating the
    /// work of one that crashed succeeds.
    ///
    /// Deletes exactly `msg.name` and never looks the base up elsewhere: a
    /// repeated call could otherwise delete a different copy that shares
    /// the base.
    pub fn remove(&self, msg: &LocalMessage) -> io::Result<()> {
        let path = self.file_path(msg);
        self.touched(msg.subdir);
        match fs::remove_file(&path) {
            Ok(()) => {
                self.own.borrow_mut().vanished(msg.subdir, &msg.name);
                Ok(())
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(with_path(e, "cannot delete", &path))
            }
            Err(_) => Ok(()),
        }
    }

    /// Opens a message for reading, following a file renamed meanwhile like
    /// [`Maildir::set_flags`].
    pub fn open(&self, msg: &LocalMessage) -> io::Result<File> {
        let mut current = msg.clone();
        for _ in 0..MAX_FOLLOW {
            let path = self.file_path(&current);
            match File::open(&path) {
                Ok(file) => return Ok(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    current = self.find_base(&msg.base)?.ok_or_else(|| self.gone(msg))?;
                }
                Err(e) => return Err(with_path(e, "cannot open", &path)),
            }
        }
        Err(self.gone(msg))
    }

    pub fn file_path(&self, msg: &LocalMessage) -> PathBuf {
        self.subdir_path(msg.subdir).join(&msg.name)
    }

    fn subdir_path(&self, subdir: Subdir) -> PathBuf {
        self.path.join(subdir.dir_name())
    }

    /// Makes every delivery, rename and unlink done through this handle
    /// durable, with one fsync per directory it changed (cur/, new/).
    /// tmp/ needs none: a name left there by a crash is debris that
    /// [`Maildir::clean_tmp`] removes, never a message.
    pub fn sync_dirs(&self) -> io::Result<()> {
        let u = self.unsynced.get();
        for (dirty, subdir) in [(u.cur, Subdir::Cur), (u.new, Subdir::New)] {
            if dirty {
                sync_dir(&self.subdir_path(subdir))?;
            }
        }
        self.unsynced.set(Unsynced::default());
        Ok(())
    }

    /// Deletes files in tmp/ untouched for 36 hours (the Maildir spec's
    /// rule for leftovers of a crash) and returns how many.
    pub fn clean_tmp(&self) -> io::Result<usize> {
        self.clean_tmp_older_than(TMP_MAX_AGE)
    }

    /// A file counts as touched when its mtime or its ctime changed: a
    /// writer setting an old mtime (to preserve a message's date) before
    /// delivering still bumps the ctime.
    fn clean_tmp_older_than(&self, max_age: Duration) -> io::Result<usize> {
        let tmp = self.path.join("tmp");
        let cutoff = SystemTime::now()
            .checked_sub(max_age)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64);
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).map_err(|e| with_path(e, "cannot list", &tmp))? {
            let entry = entry?;
            let path = entry.path();
            let meta = match fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(with_path(e, "cannot stat", &path)),
            };
            if meta.is_dir() || meta.mtime().max(meta.ctime()) > cutoff {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(with_path(e, "cannot delete", &path)),
            }
        }
        Ok(removed)
    }
}

/// True if `path` has cur/ new/ and tmp/ directories.
pub(crate) fn is_maildir(path: &Path) -> bool {
    ["cur", "new", "tmp"]
        .iter()
        .all(|sub| path.join(sub).is_dir())
}

/// Rejects bases that would put a file outside its directory, hide it, or
/// be misread as having an info part.
fn check_base(base: &str) -> io::Result<()> {
    if base.is_empty()
        || base.starts_with('.')
        || base.contains('/')
        || base.contains('\0')
        || base.contains(":2,")
        || base.contains(":1,")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{base:?} is not a valid Maildir base name"),
        ));
    }
    Ok(())
}

/// Syncs a file's data (File::sync_data, which resumes after EINTR as
/// every std file call does); for batching durability.
pub fn sync_file(f: &File) -> io::Result<()> {
    f.sync_data()
}

/// Makes every write to the file system holding `path` durable with one
/// `syncfs`: a batch of downloaded files costs one flush instead of one
/// fsync each.
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = File::open(path).map_err(|e| with_path(e, "cannot open", path))?;
    loop {
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        // Interrupted by a signal (or a stop and continue): sync again.
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(with_path(e, "cannot sync", path));
        }
    }
}

/// Syncs a directory, making renames, links and unlinks in it durable.
pub fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(|e| with_path(e, "cannot sync", path))
}

/// Creates a directory; false if it already existed.
fn create_dir_if_missing(path: &Path) -> io::Result<bool> {
    match fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(with_path(e, "cannot create directory", path)),
    }
}

/// `mkdir -p` that syncs the parent of every directory it creates.
fn create_dir_all_durable(path: &Path) -> io::Result<()> {
    let mut missing = Vec::new();
    let mut at = path;
    loop {
        match fs::metadata(at) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(with_path(
                    io::Error::new(io::ErrorKind::AlreadyExists, "not a directory"),
                    "cannot create directory",
                    at,
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(at);
                match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => break,
                }
            }
            Err(e) => return Err(with_path(e, "cannot stat", at)),
        }
    }
    for dir in missing.into_iter().rev() {
        if create_dir_if_missing(dir)? {
            let parent = dir
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Renames `from` to `to`, failing with `AlreadyExists` instead of
/// replacing an existing `to`.
///
/// Uses the atomic no-replace rename where the system has one; otherwise
/// link + unlink (a crash between the two leaves the file under both
/// names, and the tmp/ one is cleaned later; nothing is lost).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let (from_c, to_c) = (c_path(from)?, c_path(to)?);
        // The raw syscall works with C libraries too old to wrap renameat2.
        // SAFETY: both paths are valid NUL-terminated strings.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                from_c.as_ptr(),
                libc::AT_FDCWD,
                to_c.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        // Kernel or file system without RENAME_NOREPLACE: fall back.
        if !matches!(
            err.raw_os_error(),
            Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
        ) {
            return Err(err);
        }
    }
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    {
        let (from_c, to_c) = (c_path(from)?, c_path(to)?);
        // SAFETY: both paths are valid NUL-terminated strings.
        let rc = unsafe { libc::renamex_np(from_c.as_ptr(), to_c.as_ptr(), libc::RENAME_EXCL) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOTSUP)) {
            return Err(err);
        }
    }
    link_noreplace(from, to)
}

/// The portable no-replace rename: link() refuses an existing target.
fn link_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
))]
fn c_path(path: &Path) -> io::Result<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    Ok(std::ffi::CString::new(path.as_os_str().as_bytes())?)
}

/// Adds the operation and path to an error, keeping its kind.
fn with_path(err: io::Error, op: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{op} {}: {err}", path.display()))
}

#[cfg(test)]
mod tests;
