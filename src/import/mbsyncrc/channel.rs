//! A Channel's settings (Sync, Create, Expunge, SyncState, ...) and what
//! they mean for its account.

use super::stores::is_zero_size;
use super::syntax::{Directive, Section};
use crate::import::{Context, Unmapped};

/// Channel settings that apply to an account: its own, else the global one.
fn effective<'a>(
    channel: &'a Section,
    globals: &'a [Directive],
    key: &str,
) -> Option<&'a Directive> {
    channel
        .directives
        .iter()
        .rev()
        .find(|d| d.is(key))
        .or_else(|| globals.iter().rev().find(|d| d.is(key)))
}

/// Whether mbsync's `Sync` value propagates everything both ways.
pub(super) fn sync_cells(value: &str) -> (bool, bool, bool) {
    const TYPES: [&str; 4] = ["new", "renew", "delete", "flags"];
    let tokens: Vec<String> = value
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    if tokens.iter().any(|t| t == "all") {
        return (true, true, true);
    }
    if tokens.iter().any(|t| t == "none") {
        return (false, false, false);
    }
    let mut cells = std::collections::BTreeSet::new();
    let dirs: Vec<&str> = tokens
        .iter()
        .filter(|t| *t == "pull" || *t == "push")
        .map(String::as_str)
        .collect();
    let types: Vec<&str> = tokens
        .iter()
        .filter(|t| TYPES.contains(&t.as_str()))
        .map(String::as_str)
        .collect();
    let compounds: Vec<(&str, &str)> = tokens
        .iter()
        .filter_map(|t| {
            let (dir, rest) = t.split_at_checked(4)?;
            ((dir == "pull" || dir == "push") && TYPES.contains(&rest)).then_some((dir, rest))
        })
        .collect();
    if compounds.is_empty() {
        let dirs = if dirs.is_empty() {
            vec!["pull", "push"]
        } else {
            dirs
        };
        let types = if types.is_empty() {
            TYPES.to_vec()
        } else {
            types
        };
        for d in &dirs {
            for t in &types {
                cells.insert((*d, *t));
            }
        }
    } else {
        cells.extend(compounds);
        for d in &dirs {
            for t in TYPES {
                cells.insert((d, t));
            }
        }
        for t in &types {
            for d in ["pull", "push"] {
                cells.insert((d, t));
            }
        }
    }
    let full = |dir: &str| {
        ["new", "delete", "flags"]
            .iter()
            .all(|t| cells.contains(&(dir, *t)))
    };
    let any = |dir: &str| cells.iter().any(|(d, _)| *d == dir);
    (full("pull") && full("push"), any("pull"), any("push"))
}

/// What a Channel's settings mean for its account.
pub(super) fn channel_unmapped(
    channel: &Section,
    globals: &[Directive],
    ctx: &Context,
) -> Vec<Unmapped> {
    let mut out = Vec::new();
    if let Some(d) = effective(channel, globals, "Sync") {
        let (full, pull, push) = sync_cells(&d.value());
        if !full {
            let hint = match (pull, push) {
                (true, false) => "; for server-to-Maildir runs use imapdir sync --pull",
                (false, true) => "; for Maildir-to-server runs use imapdir sync --push",
                _ => "; one-way runs: imapdir sync --pull or --push",
            };
            out.push(d.unmapped(format!(
                "imapdir syncs new messages, deletions and flags both ways{hint}"
            )));
        }
    }
    if let Some(d) = effective(channel, globals, "Create") {
        if !d.value().eq_ignore_ascii_case("both") {
            out.push(d.unmapped("imapdir creates a folder that is missing on either side"));
        }
    }
    if let Some(d) = effective(channel, globals, "Remove") {
        if !d.value().eq_ignore_ascii_case("none") {
            out.push(d.unmapped(
                "imapdir never deletes a folder: one gone from a side is reported, not removed \
                 from the other",
            ));
        }
    }
    if let Some(d) = effective(channel, globals, "Expunge") {
        if d.value().eq_ignore_ascii_case("none") {
            out.push(d.unmapped(
                "imapdir removes from the server exactly the messages whose files were deleted \
                 (mbsync only flags them \\Deleted); messages flagged \\Deleted stay, with the T flag",
            ));
        } else {
            out.push(d.unmapped(
                "imapdir never expunges messages flagged \\Deleted (they keep the T flag on both \
                 sides); delete the file, or expunge in the mail client, and imapdir deletes the \
                 message on the other side",
            ));
        }
    }
    if let Some(d) = effective(channel, globals, "CopyArrivalDate") {
        out.push(d.unmapped(if d.yes() == Some(true) {
            "imapdir gives uploads the file's date as their arrival date, but downloaded files \
             are dated when they are written"
        } else {
            "imapdir always gives uploads the file's date as their arrival date"
        }));
    }
    if let Some(d) = effective(channel, globals, "MaxMessages") {
        if d.value() != "0" {
            out.push(d.unmapped("imapdir keeps every message; it expires none"));
        }
    }
    if let Some(d) = effective(channel, globals, "ExpireUnread") {
        if d.yes() == Some(true) {
            out.push(d.unmapped("imapdir expires no messages"));
        }
    }
    if let Some(d) = channel.directives.iter().find(|d| d.is("MaxSize")) {
        if !is_zero_size(&d.value()) {
            out.push(d.unmapped("imapdir copies every message whole, whatever its size"));
        }
    }
    if let Some(d) = effective(channel, globals, "SyncState") {
        let v = d.value();
        if v != "*" {
            let dir = match v.rfind('/') {
                Some(i) => ctx.expanded(&v[..=i]),
                None => ctx.cwd.clone(),
            };
            let known = ctx
                .home
                .as_ref()
                .is_some_and(|h| dir == h.join(".mbsync") || dir == h.join(".local/state/isync"));
            if !known {
                out.push(d.unmapped(
                    "imapdir reads mbsync's records from .mbsyncstate in the folders, \
                     ~/.mbsync/ and ~/.local/state/isync/ only: move the state files to \
                     ~/.mbsync/ before the first sync, or the folders are paired by content",
                ));
            }
        }
    }
    out
}

/// `:store:box` of a Far/Near line.
pub(super) fn store_ref(d: &Directive) -> Option<(String, String)> {
    let v = d.value();
    let rest = v.strip_prefix(':')?;
    let (store, boxname) = rest.split_once(':')?;
    Some((store.to_string(), boxname.to_string()))
}
