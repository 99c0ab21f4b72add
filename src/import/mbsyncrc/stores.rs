//! IMAPAccount, IMAPStore and MaildirStore sections resolved into the
//! server and the Maildir root of an account.

use std::collections::BTreeMap;

use super::syntax::{Directive, Section};
use crate::import::{Context, Unmapped};
use crate::model::TlsMode;

/// The connection part of an IMAP Store (its Account's or its own).
#[derive(Debug, Clone, Default)]
pub(super) struct Conn {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    pub(super) pass_cmd: Option<String>,
    pub(super) has_pass: bool,
    pub(super) ssl_type: Option<(TlsMode, usize)>,
    pub(super) tunnel: Option<Directive>,
    pub(super) ca_file: Option<String>,
    pub(super) timeout: Option<u64>,
    pub(super) unmapped: Vec<Unmapped>,
    pub(super) notes: Vec<Unmapped>,
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
            Ok(t) if t > crate::config::MAX_TIMEOUT_SECS => conn.unmapped.push(d.unmapped(format!(
                "longer than imapdir's longest timeout ({} seconds, a day); the default (60) is used",
                crate::config::MAX_TIMEOUT_SECS
            ))),
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
pub(super) struct ImapSide {
    /// The IMAPAccount's name, or the store's when it has its own settings.
    pub(super) name: String,
    pub(super) conn: Conn,
    pub(super) utf8: Option<bool>,
    pub(super) unmapped: Vec<Unmapped>,
}

/// A Maildir Store resolved.
#[derive(Debug, Clone)]
pub(super) struct MaildirSide {
    pub(super) maildir: Option<String>,
    pub(super) unmapped: Vec<Unmapped>,
    pub(super) notes: Vec<Unmapped>,
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

pub(super) fn is_zero_size(v: &str) -> bool {
    v.trim_end_matches(['k', 'K', 'm', 'M', 'b', 'B']) == "0"
}

pub(super) fn imap_side(
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

pub(super) fn maildir_side(store: &Section, ctx: &Context) -> MaildirSide {
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
