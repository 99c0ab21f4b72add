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

use std::collections::BTreeMap;

use super::{
    account_name, dedupe_names, is_loopback_name, Context, Imported, ImportedAccount, Password,
    Unmapped,
};
use crate::imap::TlsMode;

/// One configuration line: its keyword and arguments.
#[derive(Debug, Clone)]
struct Directive {
    line: usize,
    key: String,
    args: Vec<String>,
}

impl Directive {
    fn is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    fn value(&self) -> String {
        self.args.join(" ")
    }

    /// The directive as the user wrote it, for messages (secrets hidden).
    fn shown(&self) -> String {
        if self.is("Pass") {
            format!("{} <hidden>", self.key)
        } else if self.args.is_empty() {
            self.key.clone()
        } else {
            format!("{} {}", self.key, self.value())
        }
    }

    fn unmapped(&self, why: impl Into<String>) -> Unmapped {
        Unmapped::new(self.line, self.shown(), why)
    }

    fn yes(&self) -> Option<bool> {
        match self.value().to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ImapAccount,
    ImapStore,
    MaildirStore,
    Channel,
    Group,
}

#[derive(Debug, Clone)]
struct Section {
    kind: Kind,
    name: String,
    line: usize,
    directives: Vec<Directive>,
    /// The section's own line, for messages.
    head: Directive,
}

/// The file cut into global directives and sections.
#[derive(Debug, Default)]
struct Parsed {
    globals: Vec<Directive>,
    sections: Vec<Section>,
}

/// Splits a line into arguments the way mbsync does; `None` for an empty
/// or comment line.
fn split_line(text: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        arg.push(next);
                    }
                }
                '"' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => break,
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    (!args.is_empty()).then_some(args)
}

fn section_kind(key: &str) -> Option<Kind> {
    [
        ("IMAPAccount", Kind::ImapAccount),
        ("IMAPStore", Kind::ImapStore),
        ("MaildirStore", Kind::MaildirStore),
        ("Channel", Kind::Channel),
        ("Group", Kind::Group),
    ]
    .into_iter()
    .find(|(k, _)| key.eq_ignore_ascii_case(k))
    .map(|(_, kind)| kind)
}

fn parse_file(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut current: Option<Section> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let blank = raw.trim().is_empty();
        let Some(mut args) = split_line(raw) else {
            if blank {
                parsed.sections.extend(current.take());
            }
            continue;
        };
        let key = args.remove(0);
        let d = Directive { line, key, args };
        // Inside a Group, "Channel x" names a member, not a new section.
        let in_group = current.as_ref().is_some_and(|s| s.kind == Kind::Group);
        match section_kind(&d.key).filter(|k| !(in_group && *k == Kind::Channel)) {
            Some(kind) => {
                parsed.sections.extend(current.take());
                let Some(name) = d.args.first().filter(|n| !n.is_empty()) else {
                    return Err(format!("{line}: {} needs a name", d.key));
                };
                current = Some(Section {
                    kind,
                    name: name.clone(),
                    line,
                    directives: Vec::new(),
                    head: d.clone(),
                });
            }
            None => match &mut current {
                Some(section) => section.directives.push(d),
                None => parsed.globals.push(d),
            },
        }
    }
    parsed.sections.extend(current);
    Ok(parsed)
}

/// The connection part of an IMAP Store (its Account's or its own).
#[derive(Debug, Clone, Default)]
struct Conn {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    pass_cmd: Option<String>,
    has_pass: bool,
    ssl_type: Option<(TlsMode, usize)>,
    tunnel: Option<Directive>,
    ca_file: Option<String>,
    timeout: Option<u64>,
    unmapped: Vec<Unmapped>,
    notes: Vec<Unmapped>,
}

const OBSOLETE: &[&str] = &[
    "RequireSSL",
    "UseSSLv2",
    "UseSSLv3",
    "UseTLSv1",
    "UseTLSv1.1",
    "UseTLSv1.2",
    "UseTLSv1.3",
    "RequireCRAM",
];

/// Applies a connection directive; `false` when `d` is not one.
fn conn_directive(conn: &mut Conn, d: &Directive, ctx: &Context) -> bool {
    let key = d.key.to_ascii_lowercase();
    match key.as_str() {
        "host" => conn.host = Some(d.value()),
        "port" => match d.value().parse::<u16>() {
            Ok(p) if p > 0 => conn.port = Some(p),
            _ => conn
                .unmapped
                .push(d.unmapped("not a port number; the default port is used")),
        },
        "user" => conn.user = Some(d.value()),
        "usercmd" => conn.unmapped.push(d.unmapped(
            "imapdir needs the login name itself: run the command once and set user = \"...\"",
        )),
        "pass" => {
            conn.has_pass = true;
            conn.unmapped.push(d.unmapped(
                "passwords are not copied into imapdir's config: put it in a file only you can \
                 read and set password_file, or set password_command (e.g. \"pass show mail\")",
            ));
        }
        "passcmd" => {
            let cmd = d.value();
            let cmd = cmd.strip_prefix('+').unwrap_or(&cmd).trim().to_string();
            conn.pass_cmd = Some(cmd);
        }
        "ssltype" => match d.value().to_ascii_lowercase().as_str() {
            "none" => conn.ssl_type = Some((TlsMode::Plain, d.line)),
            "starttls" => conn.ssl_type = Some((TlsMode::StartTls, d.line)),
            "imaps" => conn.ssl_type = Some((TlsMode::Tls, d.line)),
            _ => conn.unmapped.push(
                d.unmapped("not one of None, STARTTLS, IMAPS; mbsync's default STARTTLS is used"),
            ),
        },
        "useimaps" => match d.yes() {
            Some(true) => conn.ssl_type = Some((TlsMode::Tls, d.line)),
            _ => conn.unmapped.push(d.unmapped("obsolete; use SSLType")),
        },
        "certificatefile" => {
            conn.ca_file = Some(ctx.local_path(&d.value()));
            conn.notes.push(d.unmapped(
                "mapped to ca_file: its certificates are trusted as roots, and the server's \
                 name and expiry are still checked (mbsync trusts a server certificate listed \
                 there even when expired)",
            ));
        }
        "systemcertificates" => {
            if d.yes() != Some(true) {
                conn.unmapped
                    .push(d.unmapped("imapdir always trusts the system's roots besides ca_file"));
            }
        }
        "clientcertificate" | "clientkey" => conn
            .unmapped
            .push(d.unmapped("imapdir does not log in with client certificates")),
        "sslversions" | "ciphertstring" | "cipherstring" => conn
            .unmapped
            .push(d.unmapped("imapdir uses OpenSSL's defaults for TLS versions and ciphers")),
        "authmechs" => conn.unmapped.push(d.unmapped(
            "imapdir picks the login itself: AUTHENTICATE PLAIN, else LOGIN, never over an \
             unencrypted connection unless tls = \"plain\"",
        )),
        "tunnel" => conn.tunnel = Some(d.clone()),
        "usekeychain" => {
            if d.yes() == Some(true) {
                conn.unmapped.push(d.unmapped(
                    "imapdir does not read the macOS Keychain: set password_command = \
                     \"security find-internet-password -s HOST -a USER -w\"",
                ));
            }
        }
        "pipelinedepth" => conn.unmapped.push(
            d.unmapped("imapdir decides its pipelining itself; to use fewer connections set jobs"),
        ),
        "disableextension" | "disableextensions" => conn
            .unmapped
            .push(d.unmapped("imapdir has no switch to ignore server extensions")),
        "timeout" => match d.value().parse::<u64>() {
            Ok(0) => conn.unmapped.push(d.unmapped(
                "imapdir always has a timeout (default 60 seconds); set timeout to a large value",
            )),
            Ok(t) => conn.timeout = Some(t),
            Err(_) => conn
                .unmapped
                .push(d.unmapped("not a number of seconds; the default (60) is used")),
        },
        _ if OBSOLETE.iter().any(|o| o.eq_ignore_ascii_case(&key)) => conn
            .unmapped
            .push(d.unmapped("obsolete mbsync option; imapdir verifies TLS always")),
        _ => return false,
    }
    true
}

/// An IMAP Store resolved: connection plus store-level settings.
#[derive(Debug, Clone)]
struct ImapSide {
    /// The IMAPAccount's name, or the store's when it has its own settings.
    name: String,
    conn: Conn,
    utf8: Option<bool>,
    unmapped: Vec<Unmapped>,
}

/// A Maildir Store resolved.
#[derive(Debug, Clone)]
struct MaildirSide {
    maildir: Option<String>,
    unmapped: Vec<Unmapped>,
    notes: Vec<Unmapped>,
}

fn common_store_directive(d: &Directive, out: &mut Vec<Unmapped>) -> bool {
    match d.key.to_ascii_lowercase().as_str() {
        "flatten" => out.push(d.unmapped(
            "imapdir nests folders as directories (Archive/2023 is MAILDIR/Archive/2023); \
             flattened directories are not recognised, so their folders are downloaded again",
        )),
        "trash" | "trashnewonly" | "trashremotenew" => out.push(d.unmapped(
            "imapdir has no trash folder: a message deleted on one side is deleted on the other",
        )),
        "maxsize" => {
            if !is_zero_size(&d.value()) {
                out.push(d.unmapped("imapdir copies every message whole, whatever its size"));
            }
        }
        "mapinbox" => {
            out.push(d.unmapped("imapdir keeps INBOX in MAILDIR/INBOX; there is no alias for it"))
        }
        _ => return false,
    }
    true
}

fn is_zero_size(v: &str) -> bool {
    v.trim_end_matches(['k', 'K', 'm', 'M', 'b', 'B']) == "0"
}

fn imap_side(
    store: &Section,
    accounts: &BTreeMap<String, &Section>,
    ctx: &Context,
) -> Result<ImapSide, String> {
    let mut conn = Conn::default();
    let mut name = store.name.clone();
    let mut utf8 = None;
    let mut unmapped = Vec::new();
    // The Account's settings first, so the store's own ones override them.
    if let Some(d) = store.directives.iter().find(|d| d.is("Account")) {
        let account = accounts.get(&d.value()).ok_or_else(|| {
            format!(
                "IMAPStore {} names IMAPAccount {:?}, which is not defined",
                store.name,
                d.value()
            )
        })?;
        for ad in &account.directives {
            if !conn_directive(&mut conn, ad, ctx) {
                conn.unmapped
                    .push(ad.unmapped("not an IMAPAccount option of mbsync 1.4"));
            }
        }
        name = account.name.clone();
    }
    for d in &store.directives {
        if d.is("Account")
            || conn_directive(&mut conn, d, ctx)
            || common_store_directive(d, &mut unmapped)
        {
            continue;
        }
        match d.key.to_ascii_lowercase().as_str() {
            "path" => unmapped.push(
                d.unmapped("imapdir syncs every folder from the top of the server's hierarchy"),
            ),
            "usenamespace" => {
                if d.yes() != Some(true) {
                    unmapped.push(d.unmapped(
                        "imapdir always uses the server's folder names as LIST gives them",
                    ));
                }
            }
            "pathdelimiter" => {
                unmapped.push(d.unmapped("imapdir uses the hierarchy delimiter the server gives"))
            }
            "subscribedonly" => {
                if d.yes() == Some(true) {
                    unmapped.push(d.unmapped("imapdir syncs every folder, subscribed or not"));
                }
            }
            "utf8" => utf8 = d.yes(),
            _ => unmapped.push(d.unmapped("not an IMAPStore option of mbsync 1.4")),
        }
    }
    Ok(ImapSide {
        name,
        conn,
        utf8,
        unmapped,
    })
}

fn maildir_side(store: &Section, ctx: &Context) -> MaildirSide {
    let mut unmapped = Vec::new();
    let mut notes = Vec::new();
    let mut path: Option<&Directive> = None;
    let mut inbox: Option<&Directive> = None;
    for d in &store.directives {
        if common_store_directive(d, &mut unmapped) {
            continue;
        }
        match d.key.to_ascii_lowercase().as_str() {
            "path" => path = Some(d),
            "inbox" => inbox = Some(d),
            "subfolders" => match d.value().to_ascii_lowercase().as_str() {
                "verbatim" => {}
                "maildir++" => unmapped.push(d.unmapped(
                    "imapdir keeps folders as nested directories (MAILDIR/top/sub, mbsync's \
                     SubFolders Verbatim); .top.sub directories are not recognised, so convert \
                     them first or those folders are downloaded again",
                )),
                "legacy" => unmapped.push(d.unmapped(
                    "imapdir keeps folders as nested directories (MAILDIR/top/sub, mbsync's \
                     SubFolders Verbatim); subfolders in top/.sub directories are not recognised, \
                     so rename them first or they are downloaded again",
                )),
                _ => unmapped.push(d.unmapped("not one of Verbatim, Maildir++, Legacy")),
            },
            "altmap" => {
                if d.yes() == Some(true) {
                    unmapped.push(d.unmapped(
                        "imapdir does not read mbsync's .isyncuidmap.db: folders kept that way \
                         are paired by content (Message-ID and size) on the first sync",
                    ));
                }
            }
            "infodelimiter" => {
                if d.value() != ":" {
                    unmapped.push(d.unmapped("imapdir separates the flags with ':' in file names"));
                }
            }
            _ => unmapped.push(d.unmapped("not a MaildirStore option of mbsync 1.4")),
        }
    }
    let inbox_value = inbox.map_or_else(|| "~/Maildir".to_string(), |d| d.value());
    let inbox_line = inbox.map_or(store.line, |d| d.line);
    let inbox_shown = inbox.map_or_else(
        || {
            format!(
                "Inbox ~/Maildir (mbsync's default for MaildirStore {})",
                store.name
            )
        },
        |d| d.shown(),
    );
    let maildir = match path {
        Some(p) => {
            let v = p.value();
            if !v.ends_with('/') {
                notes.push(p.unmapped(format!(
                    "mbsync puts a folder Work at {v}Work (Path is a prefix without a trailing \
                     '/'); imapdir puts it at {}/Work",
                    ctx.local_path(&v)
                )));
            }
            Some(ctx.local_path(&v))
        }
        None => {
            let inbox_path = ctx.local_path(&inbox_value);
            match inbox_path.rsplit_once('/') {
                Some((parent, "INBOX")) if !parent.is_empty() => Some(parent.to_string()),
                _ => Some(inbox_path),
            }
        }
    };
    if let Some(root) = &maildir {
        let expected = ctx.expanded(root).join("INBOX");
        if ctx.expanded(&inbox_value) != expected {
            let target = format!("{root}/INBOX");
            unmapped.push(Unmapped::new(
                inbox_line,
                inbox_shown,
                format!(
                    "imapdir keeps INBOX in {target}: before the first sync move the cur/, new/ \
                     and tmp/ of {} there (with .uidvalidity and .mbsyncstate), or INBOX is \
                     downloaded again",
                    inbox_value.trim_end_matches('/')
                ),
            ));
        }
    }
    MaildirSide {
        maildir,
        unmapped,
        notes,
    }
}

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
fn sync_cells(value: &str) -> (bool, bool, bool) {
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
fn channel_unmapped(channel: &Section, globals: &[Directive], ctx: &Context) -> Vec<Unmapped> {
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
fn store_ref(d: &Directive) -> Option<(String, String)> {
    let v = d.value();
    let rest = v.strip_prefix(':')?;
    let (store, boxname) = rest.split_once(':')?;
    Some((store.to_string(), boxname.to_string()))
}

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
    let mut by_pair: BTreeMap<(String, String), (ImportedAccount, Channels, String)> =
        BTreeMap::new();
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
        if patterns.is_empty() {
            let boxname = if imap.1.is_empty() { "INBOX" } else { &imap.1 };
            channel_notes.push(skip(format!(
                "without Patterns this Channel syncs only {boxname}; imapdir syncs every folder \
                 of the account"
            )));
        } else {
            let all: Vec<String> = patterns.iter().flat_map(|d| d.args.clone()).collect();
            let everything =
                all.iter().any(|p| p == "*") && !all.iter().any(|p| p.starts_with('!'));
            if !everything {
                for d in &patterns {
                    channel_notes.push(d.unmapped(
                        "imapdir syncs every folder of the account; it has no folder filter",
                    ));
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
        if let Some((account, channels, _)) = by_pair.get_mut(&key) {
            channels.push((channel.name.clone(), channel.line, channel.head.shown()));
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
        by_pair.insert(key, (account, vec![first], resolved.name.clone()));
    }

    for key in order {
        let (mut account, channels, imap_name) = by_pair.remove(&key).expect("inserted above");
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn ctx() -> Context {
        Context {
            home: Some(PathBuf::from("/home/u")),
            cwd: PathBuf::from("/cwd"),
        }
    }

    fn lines_of(us: &[Unmapped]) -> Vec<(usize, String)> {
        us.iter().map(|u| (u.line, u.directive.clone())).collect()
    }

    #[test]
    fn splits_like_mbsync() {
        assert_eq!(split_line("  # comment"), None);
        assert_eq!(split_line("   "), None);
        assert_eq!(
            split_line(r#"PassCmd "gpg -d \"a b\".gpg" # trailing"#).unwrap(),
            ["PassCmd", r#"gpg -d "a b".gpg"#]
        );
        assert_eq!(
            split_line(r#"Far :remote:"[Gmail]/Sent Mail""#).unwrap(),
            ["Far", ":remote:[Gmail]/Sent Mail"]
        );
        assert_eq!(
            split_line(r"Path ~/My\ Mail/").unwrap(),
            ["Path", "~/My Mail/"]
        );
        assert_eq!(
            split_line("Patterns * !Trash").unwrap(),
            ["Patterns", "*", "!Trash"]
        );
    }

    const RC: &str = r#"# global defaults
Create Both
Expunge Both
FSync no

IMAPAccount work
host imap.example.org
USER "me@example.org"
PassCmd "+pass show \"work mail\""
SSLType IMAPS
CertificateFile ~/certs/work.pem
Timeout 30
PipelineDepth 1

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns *
SyncState *
Sync All

IMAPStore home-remote
Host 127.0.0.1
Port 1143
User bob
Pass hunter2
SSLType None

MaildirStore home-local
Path ~/Mail/home/
SubFolders Maildir++

channel home-inbox
master :home-remote:
slave :home-local:
Sync Pull

Channel home-lists
Far :home-remote:
Near :home-local:
Patterns lists/* !lists/spam
Expunge None

Group everything
Channel work
Channel home-inbox
"#;

    #[test]
    fn maps_accounts_stores_and_channels() {
        let imported = parse(RC, &ctx()).unwrap();
        assert_eq!(imported.accounts.len(), 2, "{imported:#?}");
        let work = &imported.accounts[0];
        assert_eq!(work.name, "work");
        assert_eq!(work.host, "imap.example.org");
        assert_eq!(work.user, "me@example.org");
        assert_eq!(work.tls, TlsMode::Tls);
        assert_eq!(
            work.password,
            Password::Command("pass show \"work mail\"".into())
        );
        assert_eq!(work.ca_file.as_deref(), Some("~/certs/work.pem"));
        assert_eq!(work.timeout, Some(30));
        assert_eq!(work.maildir, "~/Mail/work");
        assert_eq!(work.local_names, Some("modified-utf-7"));
        assert_eq!(
            lines_of(&work.unmapped),
            [
                (3, "Expunge Both".to_string()),
                (13, "PipelineDepth 1".to_string())
            ]
        );

        let home = &imported.accounts[1];
        assert_eq!(home.name, "home-remote", "two Channels, one pair of Stores");
        assert_eq!((home.host.as_str(), home.port), ("127.0.0.1", Some(1143)));
        assert_eq!(home.tls, TlsMode::Plain);
        assert_eq!(home.password, Password::Missing);
        assert_eq!(home.maildir, "~/Mail/home");
        let got = lines_of(&home.unmapped);
        for expected in [
            (3, "Expunge Both"),
            (34, "Pass <hidden>"),
            (
                37,
                "Inbox ~/Maildir (mbsync's default for MaildirStore home-local)",
            ),
            (39, "SubFolders Maildir++"),
            (41, "channel home-inbox"),
            (44, "Sync Pull"),
            (49, "Patterns lists/* !lists/spam"),
            (50, "Expunge None"),
        ] {
            assert!(
                got.contains(&(expected.0, expected.1.to_string())),
                "{expected:?} missing from {got:#?}"
            );
        }
        let all = format!("{imported:?}");
        assert!(!all.contains("hunter2"), "the password is never copied");
        assert!(home
            .notes
            .iter()
            .any(|n| n.why.contains("merged into account home-remote")));
        assert!(home.unmapped.iter().any(|u| u.why.contains("--pull")));
        assert_eq!(
            lines_of(&imported.unmapped),
            [
                (4, "FSync no".to_string()),
                (52, "Group everything".to_string())
            ]
        );
    }

    #[test]
    fn unusable_channels_are_reported_not_imported() {
        let rc = "IMAPStore r\nTunnel \"ssh host imapd\"\nUser u\n\nMaildirStore l\nPath ~/M/\n\n\
                  Channel c\nFar :r:\nNear :l:\n\nChannel d\nFar :nope:\nNear :l:\n\n\
                  Channel e\nFar :l:\nNear :l:\n";
        let imported = parse(rc, &ctx()).unwrap();
        assert!(imported.accounts.is_empty());
        let why: Vec<(usize, &str)> = imported
            .unmapped
            .iter()
            .map(|u| (u.line, u.why.as_str()))
            .collect();
        assert_eq!(why.len(), 3, "{why:#?}");
        assert_eq!(why[0].0, 8);
        assert!(why[0].1.contains("Tunnel"));
        assert_eq!(why[1].0, 12);
        assert!(why[1].1.contains(":nope:"));
        assert_eq!(why[2].0, 16);
        assert!(why[2].1.contains("two of the same kind"));
    }

    #[test]
    fn defaults_inbox_utf8_and_relative_paths() {
        let rc = "IMAPStore r\nHost h\nUser u\nUTF8 yes\n\nMaildirStore l\nInbox Mail/INBOX\n\n\
                  Channel c\nFar :r:\nNear :l:\nPatterns *\n";
        let imported = parse(rc, &ctx()).unwrap();
        let a = &imported.accounts[0];
        assert_eq!(a.tls, TlsMode::StartTls, "mbsync's default");
        assert_eq!(
            a.maildir, "/cwd/Mail",
            "INBOX's parent, relative to the working directory"
        );
        assert_eq!(a.local_names, Some("utf-8"));
        assert!(
            a.unmapped.iter().all(|u| !u.directive.starts_with("Inbox")),
            "{a:#?}"
        );
        assert!(a
            .unmapped
            .iter()
            .any(|u| u.why.contains("no Pass or PassCmd")));
    }

    #[test]
    fn sync_values() {
        assert_eq!(sync_cells("All"), (true, true, true));
        assert_eq!(sync_cells("Pull Push"), (true, true, true));
        assert_eq!(sync_cells("New Delete Flags"), (true, true, true));
        assert_eq!(sync_cells("Pull"), (false, true, false));
        assert_eq!(sync_cells("PullNew PullDelete Push"), (false, true, true));
        assert_eq!(sync_cells("None"), (false, false, false));
    }

    #[test]
    fn a_nameless_section_is_an_error() {
        let err = parse("\n\nIMAPAccount\nHost h\n", &ctx()).unwrap_err();
        assert!(err.starts_with("3: IMAPAccount needs a name"), "{err}");
    }
}
