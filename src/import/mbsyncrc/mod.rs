//! mbsync's config (isync 1.4 `~/.mbsyncrc`) read as imapdir accounts.
//!
//! mbsync describes a sync as a Channel between two Stores; imapdir has one
//! account per IMAP server and Maildir root. Each Channel joining an IMAP
//! Store to a Maildir Store becomes an account, and Channels that join the
//! same two Stores (one per folder, say) become one, because imapdir syncs
//! every folder anyway. Everything else is reported with its line.
//!
//! The syntax follows mbsync's own reader: `#` starts a comment where an
//! argument would start, keywords are case-insensitive, `"` toggles quoting
//! anywhere in an argument and `\` escapes the next character, and a
//! section runs from its keyword to the next empty line.

mod channel;
mod stores;
mod syntax;

use std::collections::BTreeMap;

use channel::{channel_unmapped, store_ref};
use stores::{imap_side, maildir_side};
use syntax::{parse_file, Directive, Kind, Section};

use super::{
    account_name, dedupe_names, is_loopback_name, Context, Imported, ImportedAccount, Password,
    Unmapped,
};
use crate::model::TlsMode;

/// Parses an mbsyncrc into accounts and what could not be mapped.
pub fn parse(text: &str, ctx: &Context) -> Result<Imported, String> {
    let parsed = parse_file(text)?;
    let mut imported = Imported::default();
    let of = |kind: Kind| -> BTreeMap<String, &Section> {
        parsed
            .sections
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| (s.name.clone(), s))
            .collect()
    };
    let accounts = of(Kind::ImapAccount);
    let stores: BTreeMap<String, &Section> = parsed
        .sections
        .iter()
        .filter(|s| matches!(s.kind, Kind::ImapStore | Kind::MaildirStore))
        .map(|s| (s.name.clone(), s))
        .collect();

    for d in &parsed.globals {
        match d.key.to_ascii_lowercase().as_str() {
            // Defaults of every Channel: judged per account.
            "sync" | "create" | "remove" | "expunge" | "copyarrivaldate" | "maxmessages"
            | "expireunread" | "syncstate" => {}
            "fsync" => {
                if d.yes() != Some(true) {
                    imported.unmapped.push(
                        d.unmapped("imapdir always makes its writes durable (once per batch)"),
                    );
                }
            }
            "fielddelimiter" => imported.unmapped.push(
                d.unmapped("imapdir's state is a database; it names no files with this delimiter"),
            ),
            "bufferlimit" => imported
                .unmapped
                .push(d.unmapped("imapdir streams messages to disk in bounded batches")),
            _ => imported
                .unmapped
                .push(d.unmapped("not a global option of mbsync 1.4")),
        }
    }
    for group in parsed.sections.iter().filter(|s| s.kind == Kind::Group) {
        imported.unmapped.push(group.head.unmapped(
            "imapdir syncs every account by default; name some to sync only those \
             (imapdir sync ACCOUNT...)",
        ));
    }

    // Accounts by (IMAP store, Maildir store), in the order of their first Channel.
    let mut order: Vec<(String, String)> = Vec::new();
    // Each account with the Channels (name, line, line as written) it comes from.
    type Channels = Vec<(String, usize, String)>;
    // The account, its Channels, the IMAP account's name, each Channel's folders.
    type Merged = (ImportedAccount, Channels, String, Vec<ChannelFolders>);
    let mut by_pair: BTreeMap<(String, String), Merged> = BTreeMap::new();
    for channel in parsed.sections.iter().filter(|s| s.kind == Kind::Channel) {
        let skip = |why: String| Unmapped::new(channel.line, channel.head.shown(), why);
        let side = |keys: [&str; 2]| {
            channel
                .directives
                .iter()
                .find(|d| d.is(keys[0]) || d.is(keys[1]))
        };
        let (Some(far), Some(near)) = (side(["Far", "Master"]), side(["Near", "Slave"])) else {
            imported
                .unmapped
                .push(skip("skipped: a Channel needs Far and Near".into()));
            continue;
        };
        let mut refs = Vec::new();
        for d in [far, near] {
            match store_ref(d).and_then(|(s, b)| Some((stores.get(&s)?, b, d))) {
                Some(r) => refs.push(r),
                None => {
                    imported.unmapped.push(skip(format!(
                        "skipped: {} does not name a Store defined here (:store: or :store:mailbox)",
                        d.shown()
                    )));
                }
            }
        }
        if refs.len() != 2 {
            continue;
        }
        let (imap, local) = match (refs[0].0.kind, refs[1].0.kind) {
            (Kind::ImapStore, Kind::MaildirStore) => (&refs[0], &refs[1]),
            (Kind::MaildirStore, Kind::ImapStore) => (&refs[1], &refs[0]),
            _ => {
                imported.unmapped.push(skip(
                    "skipped: imapdir syncs an IMAP Store with a Maildir Store; this Channel \
                     joins two of the same kind"
                        .into(),
                ));
                continue;
            }
        };
        let resolved = match imap_side(imap.0, &accounts, ctx) {
            Ok(r) => r,
            Err(e) => {
                imported.unmapped.push(skip(format!("skipped: {e}")));
                continue;
            }
        };
        let conn = &resolved.conn;
        let Some(host) = conn.host.clone().filter(|h| !h.is_empty()) else {
            let why = match &conn.tunnel {
                Some(_) => {
                    "skipped: imapdir connects over TCP and has no Tunnel; set Host \
                            (with an SSH port forward, say) and import again"
                }
                None => "skipped: its IMAP account has no Host",
            };
            imported.unmapped.push(skip(why.into()));
            continue;
        };
        let Some(user) = conn.user.clone().filter(|u| !u.is_empty()) else {
            imported.unmapped.push(skip(
                "skipped: its IMAP account has no User (imapdir does not run UserCmd: set User)"
                    .into(),
            ));
            continue;
        };
        let maildir_side = maildir_side(local.0, ctx);
        let Some(maildir) = maildir_side.maildir.clone() else {
            imported
                .unmapped
                .push(skip("skipped: its Maildir Store has no Path".into()));
            continue;
        };

        let mut channel_notes = channel_unmapped(channel, &parsed.globals, ctx);
        let patterns: Vec<&Directive> = channel
            .directives
            .iter()
            .filter(|d| d.is("Pattern") || d.is("Patterns"))
            .collect();
        // The folders key takes mbsync's pattern syntax, so one Channel's
        // Patterns carry over as they are; a Channel below a mailbox does
        // not (imapdir syncs from the top), nor do several Channels merged
        // into one account (their lists cannot be joined exactly).
        let boxes_empty = imap.1.is_empty() && local.1.is_empty();
        let mut folders = ChannelFolders::default();
        if patterns.is_empty() {
            let boxname = if imap.1.is_empty() { "INBOX" } else { &imap.1 };
            let note = skip(format!(
                "without Patterns this Channel syncs only {boxname}; imapdir syncs every folder \
                 of the account unless its folders key says otherwise"
            ));
            if boxes_empty {
                folders.patterns = Some(vec!["INBOX".to_string()]);
                folders.if_merged.push(note);
            } else {
                channel_notes.push(note);
            }
        } else {
            let all: Vec<String> = patterns.iter().flat_map(|d| d.args.clone()).collect();
            let everything =
                all.iter().any(|p| p == "*") && !all.iter().any(|p| p.starts_with('!'));
            if !everything {
                let notes = patterns.iter().map(|d| {
                    d.unmapped(
                        "not carried over: set the account's folders key, which takes the same \
                         patterns (*, %, !; the last match decides)",
                    )
                });
                if boxes_empty {
                    folders.patterns = Some(all);
                    folders.if_merged.extend(notes);
                } else {
                    channel_notes.extend(notes);
                }
            }
        }
        for (_, boxname, d) in [imap, local] {
            if !boxname.is_empty() && !patterns.is_empty() {
                channel_notes.push(
                    d.unmapped("imapdir syncs the whole account from the top, not below a mailbox"),
                );
            }
        }
        for d in &channel.directives {
            let known = [
                "far",
                "near",
                "master",
                "slave",
                "pattern",
                "patterns",
                "sync",
                "create",
                "remove",
                "expunge",
                "copyarrivaldate",
                "maxmessages",
                "expireunread",
                "syncstate",
                "maxsize",
            ];
            if !known.contains(&d.key.to_ascii_lowercase().as_str()) {
                channel_notes.push(d.unmapped("not a Channel option of mbsync 1.4"));
            }
        }

        let key = (imap.0.name.clone(), local.0.name.clone());
        if let Some((account, channels, _, all_folders)) = by_pair.get_mut(&key) {
            channels.push((channel.name.clone(), channel.line, channel.head.shown()));
            all_folders.push(folders);
            for u in channel_notes {
                if !account.unmapped.contains(&u) {
                    account.unmapped.push(u);
                }
            }
            continue;
        }

        let mut account = ImportedAccount::new(&channel.name, channel.line, &host, &user, &maildir);
        account.port = conn.port;
        let (tls, tls_line) = conn.ssl_type.unwrap_or((TlsMode::StartTls, imap.0.line));
        account.tls = tls;
        if tls == TlsMode::Plain && !is_loopback_name(&host) {
            account.notes.push(Unmapped::new(
                tls_line,
                "SSLType None",
                "mapped to tls = \"plain\" with allow_plaintext = true: the password crosses \
                 the network unencrypted; use tls = \"starttls\" or \"tls\" if the server offers it",
            ));
        }
        if conn.ssl_type.is_none() {
            account.notes.push(Unmapped::new(
                imap.0.line,
                imap.0.head.shown(),
                "no SSLType: mbsync's default STARTTLS is used (tls = \"starttls\")",
            ));
        }
        account.ca_file = conn.ca_file.clone();
        account.timeout = conn.timeout;
        account.password = match &conn.pass_cmd {
            Some(cmd) if !cmd.is_empty() => Password::Command(cmd.clone()),
            _ => {
                if !conn.has_pass {
                    account.unmapped.push(Unmapped::new(
                        imap.0.line,
                        imap.0.head.shown(),
                        "no Pass or PassCmd: mbsync asks for the password, imapdir cannot; \
                         set password_command, password_env or password_file",
                    ));
                }
                Password::Missing
            }
        };
        account.local_names = Some(if resolved.utf8 == Some(true) {
            "utf-8"
        } else {
            "modified-utf-7"
        });
        if let Some(t) = &conn.tunnel {
            account
                .unmapped
                .push(t.unmapped("imapdir connects over TCP to host and port; it has no Tunnel"));
        }
        account.notes.extend(conn.notes.iter().cloned());
        account.notes.extend(maildir_side.notes.iter().cloned());
        account.unmapped.extend(conn.unmapped.iter().cloned());
        account.unmapped.extend(resolved.unmapped.iter().cloned());
        account
            .unmapped
            .extend(maildir_side.unmapped.iter().cloned());
        account.unmapped.extend(channel_notes);
        order.push(key.clone());
        let first = (channel.name.clone(), channel.line, channel.head.shown());
        by_pair.insert(
            key,
            (account, vec![first], resolved.name.clone(), vec![folders]),
        );
    }

    for key in order {
        let (mut account, channels, imap_name, mut folders) =
            by_pair.remove(&key).expect("inserted above");
        if folders.len() == 1 {
            account.folders = folders.remove(0).patterns;
        } else {
            for f in folders {
                account.unmapped.extend(f.if_merged);
            }
        }
        account.name = account_name(if channels.len() > 1 {
            &imap_name
        } else {
            &account.name
        });
        for (_, line, shown) in &channels[1..] {
            account.notes.push(Unmapped::new(
                *line,
                shown.clone(),
                format!(
                    "merged into account {}: it joins the same Stores as Channel {}, and \
                     imapdir syncs all their folders at once",
                    account.name, channels[0].0
                ),
            ));
        }
        account.notes.sort_by_key(|u| u.line);
        account.unmapped.sort_by_key(|u| u.line);
        account.unmapped.dedup();
        imported.accounts.push(account);
    }
    dedupe_names(&mut imported.accounts);
    Ok(imported)
}

/// What one Channel's Patterns make of the account's `folders` key.
#[derive(Default)]
struct ChannelFolders {
    /// The patterns, when they carry over; `None`: every folder.
    patterns: Option<Vec<String>>,
    /// What to tell the user when the Channel is merged with others.
    if_merged: Vec<Unmapped>,
}

#[cfg(test)]
mod tests;
