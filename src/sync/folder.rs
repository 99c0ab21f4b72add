//! One folder's sync: snapshots of both sides and the state, recovery from
//! an earlier crash, the plan, and its application.

use anyhow::Context;

use crate::imap::Session;
use crate::maildir::{LocalMessage, Maildir};
use crate::report::{Counts, Reporter};
use crate::state::StateDb;

use super::apply::Applier;
use super::folders::FolderJob;
use super::plan::{plan, RemoteMessage};
use super::repair;
use super::SyncOptions;

/// What one folder's sync did, or in a dry run would do.
#[derive(Debug, Default)]
pub struct FolderReport {
    pub counts: Counts,
    /// A dry run's actions, one line each, printed in folder order at the end.
    pub planned: Vec<String>,
}

/// Syncs one folder and returns what it did (or, in a dry run, would do).
pub fn sync_folder(
    session: &mut Session,
    db: &mut StateDb,
    job: &FolderJob,
    options: &SyncOptions,
    reporter: &Reporter,
) -> anyhow::Result<FolderReport> {
    let mut counts = Counts::default();
    let mut dry_lines: Vec<String> = Vec::new();
    let maildir = Maildir::new(&job.local_path);

    if !job.on_disk && job.in_state {
        return Err(super::guard::missing_local_folder(&job.local_path));
    }
    if !job.on_server {
        if options.dry_run {
            dry_lines.push(format!("create remote folder {}", job.display_name));
        } else {
            session.create(&job.remote_name).with_context(|| {
                format!("cannot create folder {} on the server", job.display_name)
            })?;
            reporter.info(format!("{}: created on the server", job.display_name));
        }
        counts.folders_created += 1;
    }
    if !maildir.exists() {
        if options.dry_run {
            dry_lines.push(format!("create local folder {}", job.local_path.display()));
        } else {
            maildir
                .create()
                .with_context(|| format!("cannot create {}", job.local_path.display()))?;
            reporter.info(format!(
                "{}: created {}",
                job.display_name,
                job.local_path.display()
            ));
        }
        if job.on_server {
            counts.folders_created += 1;
        }
    }

    // A dry run of a folder that does not exist on the server yet sees it empty.
    let info = if options.dry_run && !job.on_server {
        None
    } else if options.dry_run {
        Some(session.examine(&job.remote_name)?)
    } else {
        Some(session.select(&job.remote_name)?)
    };

    let remote = match &info {
        Some(i) if i.exists > 0 => fetch_remote(session)?,
        _ => Vec::new(),
    };
    let mut local: Vec<LocalMessage> = Vec::new();
    if maildir.exists() && !options.dry_run {
        // Leftovers of a crash, old enough that no delivery is still writing them.
        if let Ok(n) = maildir.clean_tmp() {
            if n > 0 {
                reporter.info(format!(
                    "{}: removed {n} stale files from tmp/",
                    job.display_name
                ));
            }
        }
    }
    if maildir.exists() {
        maildir
            .scan(&mut |m| local.push(m))
            .with_context(|| format!("cannot scan {}", job.local_path.display()))?;
    }

    let uidvalidity = info.as_ref().map(|i| i.uidvalidity).unwrap_or(0);
    let folder_state = match db.folder(&job.remote_name)? {
        Some(f) => Some(f),
        None if options.dry_run => None,
        None => Some(db.add_folder(&job.remote_name, uidvalidity)?),
    };
    let mut pairs = match &folder_state {
        Some(f) => db.pairs(f.id)?,
        None => Vec::new(),
    };

    // Re-pair by content where UIDs cannot be trusted: the server's
    // UIDVALIDITY changed, or both sides hold mail the state has never seen.
    let uidvalidity_changed = folder_state
        .as_ref()
        .is_some_and(|f| f.uidvalidity != uidvalidity)
        && info.is_some();
    let first_meeting = pairs.is_empty() && !remote.is_empty() && !local.is_empty();
    if uidvalidity_changed || first_meeting {
        if uidvalidity_changed {
            reporter.warn(format!(
                "{}: the server's UIDVALIDITY changed; pairing messages by Message-ID and size",
                job.display_name
            ));
        }
        let repaired = repair::pair_by_content(session, &maildir, &remote, &local, &[])?;
        if options.dry_run {
            dry_lines.push(format!(
                "re-pair {} messages by Message-ID and size",
                repaired.len()
            ));
            pairs = repaired;
        } else {
            let f = folder_state
                .as_ref()
                .expect("state folder exists outside dry runs");
            pairs = repair::rename_to_new_uids(&maildir, &mut local, repaired)?;
            db.replace_pairs(f.id, uidvalidity, &pairs)?;
        }
    } else if let (Some(f), false) = (&folder_state, options.dry_run) {
        let recovered = repair::recover_after_crash(
            session,
            db,
            f.id,
            &maildir,
            &remote,
            &mut local,
            &pairs,
            reporter,
            &job.display_name,
        )?;
        if recovered > 0 {
            pairs = db.pairs(f.id)?;
        }
    }

    let plan = plan(&remote, &pairs, &local, options.direction);
    if !options.allow_mass_delete {
        super::guard::check_deletions(&plan, remote.len(), local.len(), options.max_delete_share)?;
    }
    if options.dry_run {
        dry_lines.extend(plan.describe());
        counts += planned_counts(&plan);
        return Ok(FolderReport {
            counts,
            planned: dry_lines,
        });
    }
    for line in plan.describe() {
        reporter.debug(format!("{}: {line}", job.display_name));
    }

    let folder_state = folder_state.expect("state folder exists outside dry runs");
    let progress = reporter.folder(&job.display_name, plan.action_count() as u64);
    let mut applier = Applier::new(
        session,
        db,
        &maildir,
        folder_state.id,
        &job.remote_name,
        &progress,
    );
    let applied = applier.apply(plan, info.as_ref().and_then(|i| i.uidnext));
    let done = applier.counts();
    counts += done;
    progress.finish(if done.is_empty() {
        "up to date".to_string()
    } else {
        done.to_string()
    });
    applied?;
    if !done.is_empty() {
        reporter.info(format!("{}: {done}", job.display_name));
    }
    let info = info.expect("selected outside dry runs");
    db.mark_folder_synced(folder_state.id, info.uidnext, info.highestmodseq, None)?;
    Ok(FolderReport {
        counts,
        planned: Vec::new(),
    })
}

fn fetch_remote(session: &mut Session) -> anyhow::Result<Vec<RemoteMessage>> {
    let mut remote = Vec::new();
    session
        .uid_fetch_meta("1:*", None, &mut |m| {
            remote.push(RemoteMessage {
                uid: m.uid,
                flags: m.flags,
                size: m.size,
            })
        })
        .context("cannot list the folder's messages")?;
    // An unsolicited FETCH (another client changed flags) can repeat a UID;
    // keep the last flags and any size seen.
    remote.sort_by_key(|r| r.uid);
    remote.dedup_by(|later, kept| {
        if later.uid != kept.uid {
            return false;
        }
        kept.flags = later.flags;
        kept.size = kept.size.or(later.size);
        true
    });
    Ok(remote)
}

fn planned_counts(plan: &super::plan::Plan) -> Counts {
    Counts {
        downloaded: plan.downloads.len() as u64,
        uploaded: plan.uploads.len() as u64,
        flags_pulled: plan
            .flag_changes
            .iter()
            .filter(|c| c.new_local_flags.is_some())
            .count() as u64,
        flags_pushed: plan
            .flag_changes
            .iter()
            .filter(|c| !c.remote_add.is_empty() || !c.remote_remove.is_empty())
            .count() as u64,
        deleted_local: plan.local_deletions.len() as u64,
        deleted_remote: plan.remote_deletions.len() as u64,
        folders_created: 0,
    }
}
