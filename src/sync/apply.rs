//! Carrying out a plan against both stores, in an order that survives a
//! crash at any instant.
//!
//! Local files carry their UID in their names, and every batch follows the
//! same order: change the stores, make the change durable (file data, then
//! directory entries), then commit the batch to the state in one
//! transaction. A crash before the commit leaves work the next run either
//! finds done (by the UID in a file name, or the APPEND intent journal) or
//! does again; it never leaves something it would delete or copy twice.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::Context;

use crate::folders::folder_path;
use crate::imap::{format_internal_date, Expunged, Session, UidSet};
use crate::maildir::{
    base_with_uid, crlf_size, new_base, placeholder, read_message_id, BlockWriter, CrlfReader,
    DirWitness, LfWriter, Maildir, BLOCK_WRITER_CAPACITY,
};
use crate::model::{Flags, Identities, Layout};
use crate::report::{Counts, FolderProgress};
use crate::state::{PairChange, StateDb};

use super::plan::{FlagChange, Plan};
use crate::model::{LocalMessage, Pair, RemoteMessage, Uid};

/// Bodies fetched per command and made durable together.
const DOWNLOAD_BATCH_MESSAGES: usize = 500;
const DOWNLOAD_BATCH_BYTES: u64 = 32 << 20;
/// Placeholders replaced by their whole messages together.
const UPGRADE_BATCH_MESSAGES: usize = 8;
/// APPENDs committed to the state together.
const UPLOAD_BATCH_MESSAGES: usize = 100;

/// Applies one folder's plan and counts what it did.
/// What a message deleted locally becomes on the server (`trash`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RemoteDelete {
    #[default]
    Expunge,
    /// Moved to this server folder.
    MoveTo(String),
    /// The configured trash is not on the server: why, and nothing deleted.
    Unavailable(String),
}

pub struct Applier<'a> {
    session: &'a mut Session,
    remote_delete: RemoteDelete,
    db: &'a mut StateDb,
    maildir: &'a Maildir,
    folder_id: i64,
    mailbox: &'a str,
    progress: &'a FolderProgress,
    counts: Counts,
    /// Changes done on both stores but not yet durable in the Maildir's
    /// directories and recorded: the next checkpoint syncs the directories
    /// once and commits them in one transaction.
    pending: Vec<PairChange>,
    /// A directory fsync failed: nothing more may be recorded, since a
    /// second fsync can report success for data the first one lost.
    sync_failed: bool,
    /// The folder's watch, shown each batch's changes as they are made so
    /// that neither its record of them nor the kernel's event queue grows
    /// with the folder.
    witness: Option<&'a mut DirWitness>,
    /// `max_message_size`: larger messages are downloaded as placeholders.
    placeholders: Option<PlaceholderRule>,
    /// Where another folder's copy of a new message may be found.
    linking: Option<Linking<'a>>,
}

/// What a download needs to link a message another folder already holds:
/// the server's identities of the new messages, and where folders live.
pub struct Linking<'a> {
    pub identities: &'a Identities,
    pub root: &'a Path,
    pub layout: Layout,
}

/// What a batch delivered into place is, for its errors and counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Bodies,
    Placeholders,
    Links,
}

impl Delivery {
    fn what(self) -> &'static str {
        match self {
            Delivery::Bodies => "downloaded messages",
            Delivery::Placeholders => "placeholders",
            Delivery::Links => "linked messages",
        }
    }
}

/// How messages too large to download are stored.
#[derive(Debug, Clone)]
pub struct PlaceholderRule {
    /// Messages larger than this many bytes become placeholders.
    pub above: u64,
    /// The command that asks for one, without the UID
    /// (`imapdir fetch ACCOUNT FOLDER`).
    pub fetch_command: String,
}

impl<'a> Applier<'a> {
    pub fn new(
        session: &'a mut Session,
        db: &'a mut StateDb,
        maildir: &'a Maildir,
        folder_id: i64,
        mailbox: &'a str,
        progress: &'a FolderProgress,
    ) -> Applier<'a> {
        Applier {
            session,
            remote_delete: RemoteDelete::Expunge,
            db,
            maildir,
            folder_id,
            mailbox,
            progress,
            counts: Counts::default(),
            pending: Vec::new(),
            sync_failed: false,
            witness: None,
            placeholders: None,
            linking: None,
        }
    }

    /// Links new messages another folder holds instead of downloading them.
    pub fn linking(mut self, linking: Option<Linking<'a>>) -> Applier<'a> {
        self.linking = linking;
        self
    }

    /// Stores messages larger than the rule's size as placeholders.
    pub fn placeholders(mut self, rule: Option<PlaceholderRule>) -> Applier<'a> {
        self.placeholders = rule;
        self
    }

    /// Lets `witness` see each batch's own changes as they are made.
    /// Where deleted messages go on the server.
    pub fn deleting_by(mut self, how: RemoteDelete) -> Applier<'a> {
        self.remote_delete = how;
        self
    }

    pub fn witnessed_by(mut self, witness: Option<&'a mut DirWitness>) -> Applier<'a> {
        self.witness = witness;
        self
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Flags first (cheap, and they decide nothing else), then deletions,
    /// then copies in both directions. What is done is recorded even when
    /// a later step fails.
    pub fn apply(&mut self, plan: Plan, uidnext: Option<Uid>) -> anyhow::Result<()> {
        let result = self.apply_steps(plan, uidnext);
        let recorded = self.checkpoint(&[]);
        result.and(recorded)
    }

    fn apply_steps(&mut self, plan: Plan, uidnext: Option<Uid>) -> anyhow::Result<()> {
        self.pending
            .extend(plan.forgotten.iter().map(|&uid| PairChange::Remove { uid }));
        self.flags(&plan.flag_changes)?;
        self.delete_remote(&plan.remote_deletions)?;
        self.delete_local(&plan.local_deletions)?;
        self.download(&plan.downloads)?;
        self.upload(&plan.uploads, uidnext)?;
        Ok(())
    }

    /// Makes the Maildir's directory changes durable, then records the
    /// pending changes (and resolves APPEND intents) in one transaction.
    /// Small changes (flags, deletions) thus share the fsync and the commit
    /// of the next download batch, or of the folder's end.
    fn checkpoint(&mut self, resolved_intents: &[i64]) -> anyhow::Result<()> {
        if self.sync_failed || (self.pending.is_empty() && resolved_intents.is_empty()) {
            return Ok(());
        }
        if let Err(e) = self.maildir.sync_dirs() {
            self.sync_failed = true;
            return Err(e).context("cannot sync the Maildir");
        }
        if let Some(witness) = self.witness.as_deref_mut() {
            witness.check(self.maildir);
        }
        self.db
            .apply_and_resolve(self.folder_id, &self.pending, resolved_intents)?;
        self.pending.clear();
        Ok(())
    }

    fn flags(&mut self, changes: &[FlagChange]) -> anyhow::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut recorded = Vec::with_capacity(changes.len());
        let mut server_groups: BTreeMap<(Flags, Flags), Vec<Uid>> = BTreeMap::new();
        for c in changes {
            if let Some(new_flags) = c.new_local_flags {
                match self.maildir.set_flags(&c.local, new_flags) {
                    Ok(_) => self.counts.flags_pulled += 1,
                    // Deleted locally meanwhile: the next run sees the deletion.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot rename {}", c.local.name))
                    }
                }
            }
            if !c.remote_add.is_empty() || !c.remote_remove.is_empty() {
                server_groups
                    .entry((c.remote_add, c.remote_remove))
                    .or_default()
                    .push(c.uid);
            }
            recorded.push(PairChange::SetFlags {
                uid: c.uid,
                flags: c.new_base,
            });
        }
        // One UID STORE per distinct change, over UID sets, all in one
        // round trip.
        let mut stores = Vec::new();
        for ((add, remove), uids) in &server_groups {
            for set in UidSet::covering(uids) {
                stores.push((set.clone(), true, *add));
                stores.push((set, false, *remove));
            }
        }
        self.session.uid_store_many(&stores)?;
        self.counts.flags_pushed += server_groups.values().map(|u| u.len() as u64).sum::<u64>();
        // Recorded only once the server has them too.
        self.pending.extend(recorded);
        self.progress.inc(changes.len() as u64);
        Ok(())
    }

    fn delete_remote(&mut self, uids: &[Uid]) -> anyhow::Result<()> {
        if uids.is_empty() {
            return Ok(());
        }
        match &self.remote_delete {
            RemoteDelete::Unavailable(why) => anyhow::bail!(
                "{why}; the {} messages deleted locally were not deleted on the server",
                uids.len()
            ),
            RemoteDelete::MoveTo(trash) if trash != self.mailbox => {
                let trash = trash.clone();
                self.session
                    .uid_move(uids, &trash)
                    .with_context(|| format!("cannot move deleted messages to {trash}"))?;
                self.pending
                    .extend(uids.iter().map(|&uid| PairChange::Remove { uid }));
                self.counts.deleted_remote += uids.len() as u64;
                self.progress.inc(uids.len() as u64);
                return Ok(());
            }
            _ => {}
        }
        if self.session.expunge_uids(uids)? == Expunged::MarkedOnly {
            anyhow::bail!(
                "the server lacks UIDPLUS and other messages are marked \\Deleted; \
                 {} messages were marked \\Deleted and will be expunged by a later run",
                uids.len()
            );
        }
        self.pending
            .extend(uids.iter().map(|&uid| PairChange::Remove { uid }));
        self.counts.deleted_remote += uids.len() as u64;
        self.progress.inc(uids.len() as u64);
        Ok(())
    }

    fn delete_local(&mut self, deletions: &[(Uid, LocalMessage)]) -> anyhow::Result<()> {
        if deletions.is_empty() {
            return Ok(());
        }
        for (uid, msg) in deletions {
            self.maildir
                .remove(msg)
                .with_context(|| format!("cannot delete {}", msg.name))?;
            self.pending.push(PairChange::Remove { uid: *uid });
        }
        self.counts.deleted_local += deletions.len() as u64;
        self.progress.inc(deletions.len() as u64);
        Ok(())
    }

    fn download(&mut self, messages: &[RemoteMessage]) -> anyhow::Result<()> {
        let rest = self.link_copies(messages)?;
        let messages = &rest[..];
        // A message whose size is not known is downloaded whole.
        let too_large = |m: &RemoteMessage| {
            self.placeholders
                .as_ref()
                .zip(m.size)
                .is_some_and(|(rule, size)| u64::from(size) > rule.above)
        };
        let (large, whole): (Vec<RemoteMessage>, Vec<RemoteMessage>) =
            messages.iter().partition(|m| too_large(m));
        for batch in large.chunks(DOWNLOAD_BATCH_MESSAGES) {
            self.download_placeholders(batch)?;
        }
        let mut rest = &whole[..];
        while !rest.is_empty() {
            let mut take = 0;
            let mut bytes = 0u64;
            while take < rest.len() && take < DOWNLOAD_BATCH_MESSAGES {
                let size = u64::from(rest[take].size.unwrap_or(0));
                if take > 0 && bytes + size > DOWNLOAD_BATCH_BYTES {
                    break;
                }
                bytes += size;
                take += 1;
            }
            let (batch, tail) = rest.split_at(take);
            self.download_batch(batch)?;
            rest = tail;
        }
        Ok(())
    }

    /// Links the messages another folder already holds whole (the server's
    /// identity and the size match) in batches; returns the others, to
    /// download. A copy that cannot be found or linked is a download.
    fn link_copies(&mut self, messages: &[RemoteMessage]) -> anyhow::Result<Vec<RemoteMessage>> {
        if self
            .linking
            .as_ref()
            .is_none_or(|l| l.identities.is_empty())
        {
            return Ok(messages.to_vec());
        }
        let mut rest = Vec::new();
        let mut linked: Vec<(Uid, Flags, TmpMessage)> = Vec::new();
        for m in messages {
            let source = self.copy_elsewhere(m)?;
            match source.map(|path| self.maildir.link_into_tmp(&path)) {
                Some(Ok((path, _))) => linked.push((m.uid, m.flags, TmpMessage::placed(path))),
                Some(Err(_)) | None => rest.push(*m),
            }
            if linked.len() >= DOWNLOAD_BATCH_MESSAGES {
                self.deliver_fetched(std::mem::take(&mut linked), Delivery::Links)?;
            }
        }
        if !linked.is_empty() {
            self.deliver_fetched(linked, Delivery::Links)?;
        }
        Ok(rest)
    }

    /// The file of a recorded message the server names as `m` is named,
    /// holding `m` whole: its size as the server counts it is `m`'s.
    fn copy_elsewhere(&self, m: &RemoteMessage) -> anyhow::Result<Option<PathBuf>> {
        let Some(linking) = &self.linking else {
            return Ok(None);
        };
        let (Some(key), Some(size)) = (linking.identities.get(m.uid), m.size) else {
            return Ok(None);
        };
        for copy in self.db.copies_of(key)? {
            let Some(name) = &copy.local_name else {
                continue;
            };
            let disk: Vec<String> = name.split('/').map(str::to_string).collect();
            let Ok(path) = folder_path(linking.root, linking.layout, &disk) else {
                continue;
            };
            let source = Maildir::new(path);
            let Ok(Some(found)) = source.find_recorded(&copy.local_base, copy.flags) else {
                continue;
            };
            let file = source.file_path(&found);
            let whole = File::open(&file)
                .and_then(|mut f| crlf_size(&mut f))
                .is_ok_and(|s| s == u64::from(size));
            if whole {
                return Ok(Some(file));
            }
        }
        Ok(None)
    }

    /// Fetches a batch into tmp/, makes it durable once, renames it into
    /// place, syncs the directories once, then records it.
    fn download_batch(&mut self, batch: &[RemoteMessage]) -> anyhow::Result<()> {
        let uids: Vec<Uid> = batch.iter().map(|m| m.uid).collect();
        let mut fetched: Vec<(Uid, Flags, TmpMessage)> = Vec::with_capacity(batch.len());
        let maildir = self.maildir;
        // One write buffer goes from message to message.
        let spare = Cell::new(Vec::new());
        for set in UidSet::covering(&uids) {
            let mut open_sink = |_len: u64| {
                let mut buffer = spare.take();
                buffer.reserve(BLOCK_WRITER_CAPACITY);
                TmpMessage::create(maildir, buffer)
            };
            let mut done = |body: crate::imap::FetchedBody, mut tmp: TmpMessage| {
                spare.set(tmp.finish()?);
                fetched.push((body.uid, body.flags, tmp));
                Ok(())
            };
            self.session
                .uid_fetch_bodies(&set, &mut open_sink, &mut done)
                .context("cannot download messages")?;
        }
        if fetched.is_empty() {
            return Ok(());
        }
        self.deliver_fetched(fetched, Delivery::Bodies)
    }

    /// Writes placeholders for a batch of messages too large to download:
    /// recorded as placeholders first, then written as a download batch is.
    fn download_placeholders(&mut self, batch: &[RemoteMessage]) -> anyhow::Result<()> {
        let Some(rule) = self.placeholders.clone() else {
            return Ok(());
        };
        let sizes: Vec<(Uid, u64)> = batch
            .iter()
            .map(|m| (m.uid, u64::from(m.size.unwrap_or(0))))
            .collect();
        self.db.add_placeholders(self.folder_id, &sizes)?;
        let uids: Vec<Uid> = batch.iter().map(|m| m.uid).collect();
        let maildir = self.maildir;
        let mut fetched: Vec<(Uid, Flags, TmpMessage)> = Vec::with_capacity(batch.len());
        for set in UidSet::covering(&uids) {
            self.session
                .uid_fetch_whole_headers(&set, &mut |h| {
                    let text = placeholder::compose(
                        &h.header,
                        u64::from(h.size),
                        &format!("{} {}", rule.fetch_command, h.uid),
                    );
                    let mut tmp = TmpMessage::create(maildir, Vec::new())?;
                    tmp.write_all(&text)?;
                    tmp.finish()?;
                    fetched.push((h.uid, h.flags, tmp));
                    Ok(())
                })
                .context("cannot download the headers of messages too large to download")?;
        }
        if fetched.is_empty() {
            return Ok(());
        }
        self.deliver_fetched(fetched, Delivery::Placeholders)
    }

    /// Makes a batch written to tmp/ durable with one sync, then moves each
    /// file into place and records its pair; whatever was delivered is
    /// recorded, even when a later one failed; a whole message with the
    /// server's identity for it, so another folder's copy can be a link.
    fn deliver_fetched(
        &mut self,
        fetched: Vec<(Uid, Flags, TmpMessage)>,
        kind: Delivery,
    ) -> anyhow::Result<()> {
        let what = kind.what();
        let maildir = self.maildir;
        crate::maildir::sync_filesystem(maildir.path())
            .with_context(|| format!("cannot make {what} durable"))?;
        let mut delivered = 0;
        let mut result = Ok(());
        for (uid, flags, tmp) in fetched {
            let base = new_base(Some(uid));
            match maildir.deliver(&tmp.path, &base, flags) {
                Ok(_) => {
                    tmp.keep();
                    delivered += 1;
                    self.pending.push(PairChange::Insert(Pair {
                        uid,
                        local_base: base,
                        flags,
                    }));
                    let identity = self.linking.as_ref().and_then(|l| l.identities.get(uid));
                    if let Some(identity) = identity.filter(|_| kind != Delivery::Placeholders) {
                        self.pending.push(PairChange::Identify {
                            uid,
                            identity: identity.to_vec(),
                        });
                    }
                }
                Err(e) => {
                    result = Err(
                        anyhow::Error::new(e).context(format!("cannot move {what} into place"))
                    );
                    break;
                }
            }
        }
        self.checkpoint(&[])?;
        match kind {
            Delivery::Links => self.counts.linked += delivered,
            Delivery::Bodies | Delivery::Placeholders => self.counts.downloaded += delivered,
        }
        self.progress.inc(delivered);
        result
    }

    /// Replaces placeholders by their whole messages, a few at a time:
    /// each is larger than `max_message_size`, so a batch's share of tmp/
    /// stays bounded and a run cut short keeps the batches it finished.
    pub fn upgrade_placeholders(&mut self, uids: &[Uid]) -> anyhow::Result<u64> {
        let mut done = 0;
        for batch in uids.chunks(UPGRADE_BATCH_MESSAGES) {
            done += self.upgrade_batch(batch)?;
        }
        Ok(done)
    }

    /// Each body is written into tmp/ and made durable, then renamed over
    /// its placeholder (one file, its name and flags kept), and only then
    /// is the placeholder forgotten. A failure at any point leaves the
    /// placeholder.
    fn upgrade_batch(&mut self, uids: &[Uid]) -> anyhow::Result<u64> {
        // The pairs as this sync left them: their files carry these flags.
        let pairs = self.db.pairs_among(self.folder_id, uids, &[])?;
        // Asked for, but no longer a pair here (moved to another folder).
        let unpaired: Vec<Uid> = uids
            .iter()
            .filter(|u| !pairs.iter().any(|p| p.uid == **u))
            .copied()
            .collect();
        if !unpaired.is_empty() {
            self.db.drop_placeholders(self.folder_id, &unpaired)?;
        }
        let uids: Vec<Uid> = pairs.iter().map(|p| p.uid).collect();
        let maildir = self.maildir;
        let mut fetched: Vec<(Uid, TmpMessage)> = Vec::with_capacity(pairs.len());
        let spare = Cell::new(Vec::new());
        for set in UidSet::covering(&uids) {
            let mut open_sink = |_len: u64| {
                let mut buffer = spare.take();
                buffer.reserve(BLOCK_WRITER_CAPACITY);
                TmpMessage::create(maildir, buffer)
            };
            let mut done = |body: crate::imap::FetchedBody, mut tmp: TmpMessage| {
                spare.set(tmp.finish()?);
                fetched.push((body.uid, tmp));
                Ok(())
            };
            self.session
                .uid_fetch_bodies(&set, &mut open_sink, &mut done)
                .context("cannot download the messages asked for")?;
        }
        if fetched.is_empty() {
            return Ok(0);
        }
        crate::maildir::sync_filesystem(maildir.path())
            .context("cannot make downloaded messages durable")?;
        let mut upgraded = Vec::new();
        let mut result = Ok(());
        for (uid, tmp) in fetched {
            let Some(pair) = pairs.iter().find(|p| p.uid == uid) else {
                continue;
            };
            let found = match maildir.find_recorded(&pair.local_base, pair.flags) {
                Ok(Some(found)) => found,
                // Renamed or removed since: left for a later sync.
                Ok(None) => continue,
                Err(e) => {
                    result = Err(anyhow::Error::new(e));
                    break;
                }
            };
            match maildir.replace(&tmp.path, &found) {
                Ok(()) => {
                    tmp.keep();
                    upgraded.push(uid);
                }
                Err(e) => {
                    result = Err(anyhow::Error::new(e)
                        .context(format!("cannot replace the placeholder {}", found.name)));
                    break;
                }
            }
        }
        if !upgraded.is_empty() {
            if let Err(e) = maildir.sync_dirs() {
                self.sync_failed = true;
                return Err(
                    anyhow::Error::new(e).context("cannot make downloaded messages durable")
                );
            }
            if let Some(witness) = self.witness.as_deref_mut() {
                witness.check(self.maildir);
            }
            self.db.drop_placeholders(self.folder_id, &upgraded)?;
        }
        let n = upgraded.len() as u64;
        self.counts.downloaded += n;
        self.progress.inc(n);
        result.map(|()| n)
    }

    /// Forgets the placeholders of pairs this sync deleted.
    pub fn forget_placeholders(&mut self, uids: &[Uid]) -> anyhow::Result<()> {
        Ok(self.db.drop_placeholders(self.folder_id, uids)?)
    }

    fn upload(&mut self, messages: &[LocalMessage], uidnext: Option<Uid>) -> anyhow::Result<()> {
        let mut next_uid = uidnext;
        for chunk in messages.chunks(UPLOAD_BATCH_MESSAGES) {
            let mut uploaded = 0;
            let mut resolved = Vec::with_capacity(chunk.len());
            let mut result = Ok(());
            for msg in chunk {
                match self.upload_one(msg, &mut next_uid) {
                    Ok(Some((pair, intent))) => {
                        self.pending.push(PairChange::Insert(pair));
                        resolved.push(intent);
                        uploaded += 1;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            // Renames first made durable, then recorded with their intents.
            self.checkpoint(&resolved)?;
            self.counts.uploaded += uploaded;
            self.progress.inc(uploaded);
            result?;
        }
        Ok(())
    }

    /// APPENDs one file, journaled first so a crash before its UID is
    /// recorded cannot make the next run send it again.
    fn upload_one(
        &mut self,
        msg: &LocalMessage,
        next_uid: &mut Option<Uid>,
    ) -> anyhow::Result<Option<(Pair, i64)>> {
        let mut file = match self.maildir.open(msg) {
            Ok(f) => f,
            // Removed since the scan: nothing to upload.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", msg.name)),
        };
        let read = |file: &mut File| -> std::io::Result<(Option<String>, u64, Option<i64>)> {
            let message_id = read_message_id(&mut *file)?;
            file.rewind()?;
            let size = crlf_size(&mut *file)?;
            file.rewind()?;
            let mtime = file
                .metadata()?
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs() as i64);
            Ok((message_id, size, mtime))
        };
        // A placeholder is never a message of its own, whatever copied it.
        let is_placeholder = placeholder::placeholder_size(&mut file)
            .and_then(|p| file.rewind().map(|()| p.is_some()))
            .with_context(|| format!("cannot read {}", msg.name))?;
        if is_placeholder {
            return Ok(None);
        }
        let (message_id, size, mtime) =
            read(&mut file).with_context(|| format!("cannot read {}", msg.name))?;
        let intent = self.db.add_append_intent(
            self.folder_id,
            &msg.base,
            message_id.as_deref(),
            size,
            *next_uid,
        )?;
        let date = mtime.map(format_internal_date);
        let mut body = CrlfReader::new(BufReader::new(file));
        let appended = self
            .session
            .append(self.mailbox, msg.flags, date.as_deref(), &mut body, size)
            .with_context(|| format!("cannot upload {}", msg.name))?;
        let uid = match appended {
            Some(appended) => Some(appended.uid),
            None => self.find_appended(message_id.as_deref(), size, *next_uid)?,
        };
        let Some(uid) = uid else {
            // The intent stays; the next run finds the message on the server.
            return Ok(None);
        };
        *next_uid = Some(uid.next());
        let renamed = self
            .maildir
            .rename_base(msg, &base_with_uid(&msg.base, uid))
            .with_context(|| format!("cannot rename {}", msg.name))?;
        Ok(Some((
            Pair {
                uid,
                local_base: renamed.base,
                flags: msg.flags,
            },
            intent,
        )))
    }

    /// Finds an appended message's UID on a server without UIDPLUS.
    fn find_appended(
        &mut self,
        message_id: Option<&str>,
        size: u64,
        uidnext: Option<Uid>,
    ) -> anyhow::Result<Option<Uid>> {
        let floor = uidnext.unwrap_or(Uid(1));
        if let Some(mid) = message_id {
            let found = self.session.uid_search_message_id(mid)?;
            return Ok(found.into_iter().filter(|&u| u >= floor).max());
        }
        let mut found = None;
        self.session
            .uid_fetch_meta(&UidSet::from_uid(floor), None, &mut |m| {
                if m.uid >= floor && m.size.map(u64::from) == Some(size) {
                    found = found.max(Some(m.uid));
                }
            })?;
        Ok(found)
    }
}

/// A body being written into tmp/, converted to LF. Removed on drop unless
/// it was delivered, so a failed batch leaves no debris.
struct TmpMessage {
    writer: Option<LfWriter<BlockWriter>>,
    path: PathBuf,
    keep: bool,
}

impl TmpMessage {
    /// A new file in tmp/, written through `buffer` (reused between messages).
    fn create(maildir: &Maildir, buffer: Vec<u8>) -> std::io::Result<TmpMessage> {
        let (file, path) = maildir.create_tmp()?;
        Ok(TmpMessage {
            writer: Some(LfWriter::new(BlockWriter::new(file, buffer))),
            path,
            keep: false,
        })
    }

    /// Writes the rest and returns the buffer for the next message.
    fn finish(&mut self) -> std::io::Result<Vec<u8>> {
        match self.writer.take() {
            Some(w) => w.into_inner()?.finish(),
            None => Ok(Vec::new()),
        }
    }

    /// A file already complete in tmp/ (a link of another folder's).
    fn placed(path: PathBuf) -> TmpMessage {
        TmpMessage {
            writer: None,
            path,
            keep: false,
        }
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Write for TmpMessage {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("message already finished")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for TmpMessage {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
