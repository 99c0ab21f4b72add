//! Man pages and shell completions, generated from the clap definitions
//! (`imapdir generate DIR`), plus `imapdir.toml(5)` for the config file.
//!
//! The output is committed under `man/` and `completions/`; a test
//! regenerates it and fails when the committed copies are out of date.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes `DIR/man/*.{1,5}` and `DIR/completions/{imapdir.bash,_imapdir,imapdir.fish}`.
pub fn generate(dir: &Path) -> anyhow::Result<()> {
    let man = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    clap_mangen::generate_to(Cli::command(), &man)
        .with_context(|| format!("cannot write man pages into {}", man.display()))?;
    let page = man.join("imapdir.toml.5");
    std::fs::write(&page, config_man_page())
        .with_context(|| format!("cannot write {}", page.display()))?;
    for (shell, file) in [
        (Shell::Bash, "imapdir.bash"),
        (Shell::Zsh, "_imapdir"),
        (Shell::Fish, "imapdir.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "imapdir", &mut buf);
        let path = completions.join(file);
        std::fs::write(&path, buf).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// One key of an `[accounts.NAME]` table, for the config man page.
struct Key {
    name: &'static str,
    value: &'static str,
    text: &'static str,
}

/// Every key an `[accounts.NAME]` table accepts (see `config.rs`), in the
/// order the man page lists them.
const KEYS: &[Key] = &[
    Key {
        name: "provider",
        value: "STRING",
        text: "A provider preset (imapdir providers lists them: gmail, outlook, yahoo, \
               icloud, fastmail, gmx, web.de, strato, ionos, posteo, mailbox.org, zoho, \
               aol): it fills in host, port and TLS, and the folder defaults (Gmail: All \
               Mail, Important and Starred left out by exclude_special_use, since they \
               repeat every message; special_use_names on). Every key the account sets \
               itself wins over the preset.",
    },
    Key {
        name: "host",
        value: "STRING",
        text: "The IMAP server's host name. Required unless provider gives it.",
    },
    Key {
        name: "port",
        value: "NUMBER",
        text: "The server's port. Default: 993 when tls is \"tls\", 143 otherwise.",
    },
    Key {
        name: "tls",
        value: "\"tls\" | \"starttls\" | \"plain\"",
        text: "\"tls\" is implicit TLS (the default); \"starttls\" upgrades a plain \
               connection and fails when the server does not offer STARTTLS; \"plain\" \
               sends everything unencrypted and needs allow_plaintext. Certificates \
               are always verified.",
    },
    Key {
        name: "allow_plaintext",
        value: "BOOLEAN",
        text: "Must be true to log in over tls = \"plain\". Default: false.",
    },
    Key {
        name: "ca_file",
        value: "PATH",
        text: "A PEM file with an extra trust root, e.g. for a self-signed server, \
               trusted besides the system's roots (OpenSSL's certificate directory, \
               or SSL_CERT_DIR and SSL_CERT_FILE). A leading ~ is expanded.",
    },
    Key {
        name: "user",
        value: "STRING",
        text: "The login name. Required.",
    },
    Key {
        name: "password_command",
        value: "COMMAND",
        text: "Run through sh -c; the first line of its output is the password. \
               Exactly one of password_command, password_env, password_file, oauth2_token_command and oauth2_client_id is required.",
    },
    Key {
        name: "password_env",
        value: "VARIABLE",
        text: "The name of an environment variable holding the password.",
    },
    Key {
        name: "password_file",
        value: "PATH",
        text: "A file whose first line is the password. A leading ~ is expanded.",
    },
    Key {
        name: "oauth2_token_command",
        value: "COMMAND",
        text: "Run through sh -c; the first line of its output is an OAuth2 access \
               token, used instead of a password (XOAUTH2 or OAUTHBEARER). Token \
               helpers such as pizauth (pizauth show ACCOUNT), oama, mutt_oauth2.py \
               or gcloud work as they are. When the server refuses the token, the \
               command is run once more and the login tried once more, never again \
               (exit code 3). The token never appears in output or traces. Exclusive \
               with the password_ keys.",
    },
    Key {
        name: "oauth2_client_id",
        value: "STRING",
        text: "The built-in OAuth2 login with this client id, instead of a password source: \
               imapdir auth ACCOUNT logs in once in a browser (authorization code with PKCE \
               and a loopback redirect) or with --device (a code entered on any device), \
               and keeps the refresh token (see oauth2_token_store). Each run refreshes the \
               access token when less than a minute of its life is left, and once more when \
               the server refuses it; a refresh token the provider refused is exit code 3 \
               with the command that logs in again. Register a client id of your own (the \
               README has the steps for Google and Microsoft): a borrowed one can be \
               withdrawn by its owner at any time. Tokens never appear in output or traces.",
    },
    Key {
        name: "oauth2_client_secret",
        value: "STRING",
        text: "The client's secret, where the provider wants one even from an installed \
               program (Google's desktop clients, whose secret is not secret). Default: none.",
    },
    Key {
        name: "oauth2_client_secret_command",
        value: "COMMAND",
        text: "Run through sh -c; the first line of its output is the client secret. \
               Exclusive with oauth2_client_secret.",
    },
    Key {
        name: "oauth2_auth_url",
        value: "URL",
        text: "The authorization endpoint of the browser flow. Default: the provider \
               preset's. Endpoints are https (plain http only to this machine).",
    },
    Key {
        name: "oauth2_token_url",
        value: "URL",
        text: "The token endpoint. Default: the provider preset's; required without one.",
    },
    Key {
        name: "oauth2_device_url",
        value: "URL",
        text: "The device authorization endpoint, for imapdir auth --device. Default: the \
               provider preset's.",
    },
    Key {
        name: "oauth2_scopes",
        value: "STRING",
        text: "Space-separated scopes. Default: the provider preset's (gmail: \
               https://mail.google.com/; outlook: \
               https://outlook.office.com/IMAP.AccessAsUser.All offline_access); required \
               without one.",
    },
    Key {
        name: "oauth2_redirect_port",
        value: "NUMBER",
        text: "The loopback port the browser flow's redirect comes back to (a fixed one \
               for ssh -L). Default: any free port. The redirect is \
               http://127.0.0.1:PORT/, and http://localhost:PORT/ for Microsoft, which \
               matches a registered http://localhost with any port.",
    },
    Key {
        name: "oauth2_token_store",
        value: "auto|keyring|file",
        text: "Where the OAuth2 login is kept: \"keyring\" (the Secret Service, through \
               secret-tool, on the session D-Bus), \"file\" (STATE_DIR/ACCOUNT.oauth2, \
               mode 0600; one others can read is refused), or \"auto\": the keyring where \
               a session D-Bus and secret-tool are, else the file. A cron job usually has \
               no session D-Bus: use \"file\" for an account synced from cron. Default: \
               \"auto\".",
    },
    Key {
        name: "auth",
        value: "STRING",
        text: "How to log in: \"auto\" (the best the server offers for the secret: \
               OAUTHBEARER, else XOAUTH2, for a token; PLAIN, else LOGIN, for a \
               password), \"plain\", \"login\", \"xoauth2\" or \"oauthbearer\" (the \
               last two need an OAuth2 token: oauth2_token_command or oauth2_client_id). The initial response goes with \
               the command where the server has SASL-IR; a server that says \
               LOGINDISABLED before TLS never gets a password. Microsoft 365 and \
               Outlook.com take XOAUTH2 only. Default: \"auto\".",
    },
    Key {
        name: "maildir",
        value: "PATH",
        text: "The Maildir root of the account; INBOX is MAILDIR/INBOX, a server \
               folder Archive/2023 is MAILDIR/Archive/2023. A leading ~ is expanded. \
               Required. A root that is missing after folders were synced into it \
               is an error, never a reason to delete mail on the server.",
    },
    Key {
        name: "local_names",
        value: "utf-8|modified-utf-7",
        text: "How local directory names spell folder names with non-ASCII letters or &: \
               \"utf-8\" (Entwürfe) or \"modified-utf-7\", the server's spelling \
               (Entw&APw-rfe), which mbsync and OfflineIMAP write. Both spellings are \
               always recognised. Default: keep the spelling the Maildir already shows \
               (new folders are spelt like the old ones; UTF-8 when nothing shows). \
               \"utf-8\" renames modified UTF-7 directories to UTF-8 once (sync --dry-run \
               lists the renames); the old tool cannot read them after that. Two \
               directories spelling one folder are an error for that folder, never \
               merged by guess.",
    },
    Key {
        name: "state_file",
        value: "PATH",
        text: "The sync state (SQLite, mode 0600); the lock file is STATE_FILE.lock. \
               Default: $XDG_STATE_HOME/imapdir/ACCOUNT.sqlite \
               (~/.local/state/imapdir/ACCOUNT.sqlite).",
    },
    Key {
        name: "jobs",
        value: "NUMBER",
        text: "Folders synced at once, one IMAP connection each, 1 to 64. Default: 4, \
               or one per CPU core if fewer when the server runs on this machine \
               and the run downloads fewer than 2,000 messages (the server shares \
               the cores, and each connection costs it a login). \
               imapdir sync --jobs overrides it.",
    },
    Key {
        name: "server_deletions",
        value: "MODE",
        text: "\"delete-local\" (default): a message expunged on the server is deleted \
               locally too. \"keep-local\": an archive; the local file stays, recorded as \
               gone from the server, so it is never uploaded again and deleting it later \
               deletes nothing remote. The mass-deletion guard then never trips on server \
               expunges, and imapdir status counts the messages kept only here.",
    },
    Key {
        name: "archive_folder",
        value: "FOLDER",
        text: "With server_deletions = \"keep-local\": the local folder (levels joined \
               by /) that the kept copies move to, flags and keywords kept, so the synced \
               folder mirrors the server. It is local only: never synced, whatever the \
               folders patterns say, so nothing in it is uploaded. Copies kept before it \
               was set move at the next sync. Default: none (they stay where they were).",
    },
    Key {
        name: "local_deletions",
        value: "MODE",
        text: "\"delete-server\" (default): a message whose file was deleted locally is \
               deleted on the server too (or moved to trash). \"keep-server\": the server \
               copy stays, recorded as gone locally, and is never downloaded again.",
    },
    Key {
        name: "since",
        value: "DATE|Nd",
        text: "A date window: only server messages with an INTERNALDATE on or after this \
               day are downloaded: \"2024-01-01\", or \"90d\" for the last 90 days. The \
               server decides (UID SEARCH SINCE). A message outside is not downloaded and \
               not deleted; one that ages out stays on both sides and keeps syncing its \
               flags; local messages are uploaded whatever their date. Widening the window \
               downloads what it now takes in. Default: every message.",
    },
    Key {
        name: "max_messages",
        value: "N",
        text: "A count window, as mbsync's MaxMessages: only the newest N messages of \
               each folder (the highest UIDs) are downloaded; with since, both must hold. \
               New arrivals push the window on; the older local copies stay. At least 1.",
    },
    Key {
        name: "keep_flagged",
        value: "BOOL",
        text: "With since or max_messages: flagged server messages are downloaded \
               although outside the window. Default: false.",
    },
    Key {
        name: "keep_unread",
        value: "BOOL",
        text: "With since or max_messages: unread server messages are downloaded \
               although outside the window. Default: false.",
    },
    Key {
        name: "max_message_size",
        value: "SIZE",
        text: "Messages larger than this (\"10M\"; bytes, or with K, M or G) are stored \
               as placeholders: the real header, marked X-Imapdir-Placeholder, and a short \
               text saying the size and how to get the message. Flags sync both ways; \
               deleting a placeholder deletes the message on the server. Flagging it, or \
               imapdir fetch ACCOUNT FOLDER UID, downloads it whole at the next sync, in the \
               same file. A placeholder is never uploaded. Default: none.",
    },
    Key {
        name: "per_folder",
        value: "TABLES",
        text: "[[accounts.NAME.per_folder]] tables, each with folders = PATTERN or a list \
               of patterns (as in the folders key, matched against the names imapdir \
               folders shows) and any of since, max_messages, keep_flagged, keep_unread and \
               max_message_size, which replace the account's for those folders. Tables \
               apply in order; a later one wins. since = \"none\" and max_message_size = \
               \"none\" turn that limit off there.",
    },
    Key {
        name: "trash",
        value: "FOLDER",
        text: "Where a message deleted locally goes on the server: a folder name as \
               imapdir folders shows it, or \"special-use\" for the folder marked \\Trash \
               (Gmail's only real delete). The message is moved there (UID MOVE, or COPY \
               and the expunge of that UID) instead of expunged; in the trash folder \
               itself a deletion is an expunge. The account need not sync the trash \
               folder. A trash folder the server does not have fails the folders with \
               deletions, deleting nothing. Default: none (expunge).",
    },
    Key {
        name: "max_connections",
        value: "NUMBER",
        text: "The most connections open at once to this account's host, counted over \
               every account on that host a sync runs at once: jobs is lowered to it, \
               and a further connection waits for a free one. Provider presets fill it \
               (Gmail 15). Default: no limit but jobs.",
    },
    Key {
        name: "accounts_at_once",
        value: "NUMBER",
        text: "At the top of the file, before the account tables: how many accounts \
               imapdir sync runs at once, 1 to 256. One failing account never stops \
               the others; the output stays per account, in the order of their names. \
               Default: 3.",
    },
    Key {
        name: "timeout",
        value: "SECONDS",
        text: "Seconds of server silence before the folder fails. Default: 60.",
    },
    Key {
        name: "compress",
        value: "auto|yes|no",
        text: "COMPRESS=DEFLATE when the server offers it: \"auto\" (the default) uses it \
               for a remote host when a run has 100 or more messages to download (below \
               that its round trip costs more than it saves), and never for loopback, where \
               it only costs CPU; \"yes\" always, from the login on; \"no\" never.",
    },
    Key {
        name: "max_delete_share",
        value: "SHARE",
        text: "Sets both max_server_delete_share and max_local_delete_share (0 to 1); each \
               of those keys overrides it for its side.",
    },
    Key {
        name: "max_server_delete_share",
        value: "SHARE",
        text: "The largest share of a folder's server messages (0 to 1) one run may expunge \
               because their files went away. A run that would expunge more, and more than \
               5 messages, skips the folder with an error that names the command approving \
               exactly that change (imapdir approve ACCOUNT FOLDER). Trash and Junk folders \
               are exempt. Default: 0.5.",
    },
    Key {
        name: "max_local_delete_share",
        value: "SHARE",
        text: "The largest share of a folder's local files (0 to 1) one run may remove \
               because the server expunged them; over it, and over 5 files, the folder waits \
               for imapdir approve. Default: 0.9, so a clean-up on the webmail goes through \
               and an emptied server folder does not.",
    },
    Key {
        name: "pre_sync_command",
        value: "COMMAND",
        text: "Run through sh -c before imapdir connects, with IMAPDIR_ACCOUNT set \
               (e.g. to mount a disk or check the network). When it exits non-zero the \
               account is skipped with an error and imapdir exits 1. Not run by --dry-run.",
    },
    Key {
        name: "post_sync_command",
        value: "COMMAND",
        text: "Run through sh -c after the account's sync (also when it failed), e.g. \
               notmuch new or a notification. Its environment has IMAPDIR_ACCOUNT, \
               IMAPDIR_NEW (messages downloaded), IMAPDIR_UPLOADED, IMAPDIR_FLAGS (flag \
               changes, both ways), IMAPDIR_DELETED (both sides), IMAPDIR_FAILED_FOLDERS \
               (a count) and IMAPDIR_STATUS (ok, partial or failed). Its failure is a \
               warning and does not change the exit code. Not run by --dry-run or \
               when the pre_sync_command failed. The output of both hooks goes to \
               imapdir's stderr.",
    },
    Key {
        name: "interval",
        value: "SECONDS",
        text: "imapdir watch runs a full sync of the account this often, besides the \
               syncs that server and Maildir changes trigger. Default: 900 (15 minutes).",
    },
    Key {
        name: "folders",
        value: "[STRING, ...]",
        text: "Which folders are synced, as ordered patterns over the folder names \
               imapdir folders shows (UTF-8, / between levels): * matches any \
               characters, % any but /, a leading ! excludes, and the last pattern \
               that matches decides; a folder no pattern matches is not synced. An \
               excluded folder is left alone on both sides: nothing is downloaded, \
               uploaded, created or deleted there, and its state is kept for when it \
               is included again. A pattern that matches no folder is warned about. \
               Example: [\"*\", \"!Junk\", \"!Lists/%\"]. Default: [\"*\"].",
    },
    Key {
        name: "layout",
        value: "STRING",
        text: "How folders sit in the Maildir: \"verbatim\" (one directory per level: \
               INBOX, Archive/2023), \"maildir++\" (as Dovecot and Courier keep \
               Maildirs: INBOX is the Maildir root itself, Archive/2023 is \
               .Archive.2023 beside it; new directory names are spelt in modified \
               UTF-7, as those servers read them, unless local_names says otherwise) \
               or \"flat\" (mbsync's Flatten: Archive.2023, INBOX in INBOX; the \
               separator is flatten). A folder whose name holds the layout's \
               separator cannot be synced in that layout and is skipped with a \
               warning. The layout is recorded with the first sync; a sync with \
               another one stops with exit code 2 and changes nothing, and imapdir \
               relayout ACCOUNT moves the Maildir to the configured layout without \
               transferring a message. Default: \"verbatim\".",
    },
    Key {
        name: "flatten",
        value: "CHARACTER",
        text: "The separator between levels in layout = \"flat\", one character other \
               than / and &. Default: \".\".",
    },
    Key {
        name: "propagate_folder_deletes",
        value: "STRING",
        text: "What a folder deleted on one side does to the other: \"none\" (kept there; \
               a synced folder gone locally is an error, one gone from the server is \
               kept locally with a warning), \"to-server\", \"to-local\" or \"both\". A \
               folder is deleted on the other side only if nothing there is unsynced \
               (no message and no flag change since the last sync); otherwise it is \
               kept and reported. INBOX is never deleted. A run that would delete more \
               than 2 folders and more than a tenth of the account's deletes none \
               without --allow-mass-delete. A local folder goes to the trash directory \
               .imapdir-trash in the Maildir (its subfolders stay), and is removed \
               from there after deleted_folder_days. Default: \"none\".",
    },
    Key {
        name: "deleted_folder_days",
        value: "DAYS",
        text: "How long a local folder deleted because it was deleted on the server \
               stays in .imapdir-trash before it is removed. Default: 30.",
    },
    Key {
        name: "protocol",
        value: "imap|pop3",
        text: "What the server speaks. \"pop3\": the account imports from a POP3 server \
               (host, port, tls, user, the secret and auth as for IMAP; port 995 with \
               tls = \"tls\", 110 with \"starttls\") into the Maildir folder pop3_folder, \
               each message once (by UIDL), with sync or imapdir pop3. Default: \"imap\".",
    },
    Key {
        name: "pop3_folder",
        value: "FOLDER",
        text: "POP3 accounts: the Maildir folder under maildir that receives the messages, \
               levels joined by /, placed by layout. Point it at a folder of an IMAP \
               account's Maildir and that account's next sync uploads them. Default: INBOX.",
    },
    Key {
        name: "leave_on_server",
        value: "BOOL",
        text: "POP3 accounts: keep messages on the server after downloading them. With \
               false, each is deleted from the server once its file here is durable. \
               Default: true.",
    },
    Key {
        name: "delete_after_days",
        value: "DAYS",
        text: "POP3 accounts with leave_on_server: delete from the server the messages \
               stored here at least DAYS days ago (never one not stored here). Default: \
               never.",
    },
    Key {
        name: "outbox",
        value: "FOLDER",
        text: "A local Maildir folder (never synced as a server folder) where a mail \
               reader or imapdir sendmail leaves finished messages. Each sync and watch \
               sends them by SMTP submission with the account's login, files each in \
               sent_folder with \\Seen (unless the provider files sent mail itself: \
               gmail, outlook) and removes it; Bcc is stripped. A permanent refusal moves \
               the message to FOLDER/failed with the reply in NAME.reply; a temporary one \
               is retried at the next run. Default: none.",
    },
    Key {
        name: "sent_folder",
        value: "FOLDER",
        text: "With outbox: the folder sent messages are filed in, named as in folders \
               (under the personal namespace; a server name as the server lists it works \
               too). Default: the folder the server marks \\Sent (special use), else Sent.",
    },
    Key {
        name: "smtp_host",
        value: "HOST",
        text: "With outbox: the SMTP submission server. Default: the provider preset's, \
               else host.",
    },
    Key {
        name: "smtp_port",
        value: "PORT",
        text: "With outbox: the submission port. Default: the preset's, else 465 with \
               smtp_tls = \"tls\" and 587 otherwise.",
    },
    Key {
        name: "smtp_tls",
        value: "tls|starttls|plain",
        text: "With outbox: TLS from the first byte (465), STARTTLS (587; a server \
               without it is refused), or none (only with allow_plaintext = true). \
               Default: \"tls\" for port 465, else \"starttls\".",
    },
    Key {
        name: "subscribed_only",
        value: "BOOL",
        text: "Sync only the folders subscribed on the server; the folders imapdir \
               creates there are subscribed. An unsubscribed folder is left alone on \
               both sides, like an excluded one, so its local copy is never uploaded \
               as a new folder. Default: false.",
    },
    Key {
        name: "namespaces",
        value: "[STRING, ...]",
        text: "Which of the server's namespaces (RFC 2342) are synced: \"personal\" \
               (always), \"shared\" and \"other\" (other users' folders). The personal \
               namespace's prefix is never a local level: INBOX.Archive on a server \
               with the prefix INBOX. is the local folder Archive, as Archive is on a \
               server without one, and a folder made locally is created under the \
               prefix. Shared and other users' folders land under a local level of \
               their own (shared_folders_level, other_users_level). A folder synced \
               before stays where it is. Default: [\"personal\"].",
    },
    Key {
        name: "shared_folders_level",
        value: "STRING",
        text: "The local folder that shared folders land under when namespaces \
               includes \"shared\". Default: \"Shared\".",
    },
    Key {
        name: "other_users_level",
        value: "STRING",
        text: "The local folder that other users' folders land under when namespaces \
               includes \"other\". Default: \"Users\".",
    },
    Key {
        name: "folder_names",
        value: "TABLE",
        text: "Local names for server folders, as a table [accounts.NAME.folder_names] \
               of folder name (as imapdir folders shows it) = local name, e.g. \
               \"[Gmail]/Sent Mail\" = \"Sent\". Both ways: the local folder Sent is \
               that server folder. Two folders mapped to one local name are an error \
               naming both; a local name must be a safe relative path. The folders \
               patterns match the folder names, not the local ones. A folder synced \
               before stays where it is.",
    },
    Key {
        name: "exclude_special_use",
        value: "[STRING, ...]",
        text: "Server folders with one of these RFC 6154 attributes are left alone on \
               both sides, as if a folders pattern excluded them, whatever their name or \
               language: e.g. [\"\\\\All\", \"\\\\Important\", \"\\\\Flagged\"] for \
               Gmail's All Mail, Important and Starred. Default: [] (the gmail preset: \
               those three).",
    },
    Key {
        name: "special_use_names",
        value: "BOOL",
        text: "Sync the server's special-use folders (RFC 6154: \\Sent, \\Drafts, \
               \\Trash, \\Junk, \\Archive) under those plain local names (Sent, Drafts, \
               Trash, Junk, Archive), so several accounts look the same to a mail \
               reader. A folder_names entry wins; a plain name another server folder \
               already has is left to that folder. Default: false (on with a provider \
               preset).",
    },
    Key {
        name: "watch_folders",
        value: "[STRING, ...]",
        text: "The server folders imapdir watch keeps an IDLE connection open on (one \
               connection each), named as the server sends them (the first column of \
               imapdir folders). A change there is synced within seconds; changes in \
               other folders wait for the next interval or Maildir change. \
               Default: [\"INBOX\"]; [] disables IDLE.",
    },
];

/// Escapes text for roff: backslashes, and a leading dot or quote.
fn roff_text(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// `imapdir.toml(5)`: the config file, written as roff.
pub(crate) fn config_man_page() -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut s = String::new();
    s.push_str(&format!(
        ".TH IMAPDIR.TOML 5 \"\" \"imapdir {version}\" \"File Formats\"\n"
    ));
    s.push_str(".SH NAME\nimapdir.toml \\- configuration of imapdir\n");
    s.push_str(".SH SYNOPSIS\n$XDG_CONFIG_HOME/imapdir/config.toml (default ~/.config/imapdir/config.toml), or the file named by \\fB\\-\\-config\\fR or \\fBIMAPDIR_CONFIG\\fR.\n");
    s.push_str(".SH DESCRIPTION\n");
    s.push_str(
        "A TOML file with one table per account, \\fB[accounts.NAME]\\fR. NAME is a plain \
         word (no slash, no leading dot) used on the command line, e.g. \
         \\fBimapdir sync NAME\\fR. Unknown keys are errors, so a misspelt key never goes \
         unnoticed.\n",
    );
    s.push_str(".SH KEYS\n");
    for key in KEYS {
        s.push_str(&format!(
            ".TP\n\\fB{}\\fR = \\fI{}\\fR\n{}\n",
            roff_text(key.name),
            roff_text(key.value),
            roff_text(key.text)
        ));
    }
    s.push_str(".SH EXAMPLE\n.nf\n");
    for line in EXAMPLE.lines() {
        s.push_str(&roff_text(line));
        s.push('\n');
    }
    s.push_str(".fi\n");
    s.push_str(".SH SEE ALSO\n\\fBimapdir\\fR(1), \\fBimapdir\\-sync\\fR(1), \\fBimapdir\\-status\\fR(1)\n");
    s
}

const EXAMPLE: &str = r#"[accounts.personal]
host = "imap.example.org"
user = "me@example.org"
password_command = "pass show mail/personal"
maildir = "~/Mail/personal"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys `RawAccount` in config.rs declares, read from its source so
    /// a new key cannot be added without documenting it here.
    fn config_keys() -> Vec<String> {
        let source = include_str!("../config.rs");
        let start = source
            .find("struct RawAccount {")
            .expect("RawAccount in config.rs");
        let body = &source[start..];
        let body = &body[..body.find("\n}").expect("end of RawAccount")];
        body.lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.starts_with("#[") && !l.starts_with("//") && l.contains(':'))
            .map(|l| l.split(':').next().unwrap().trim().to_string())
            .collect()
    }

    #[test]
    fn config_page_documents_every_key() {
        let keys = config_keys();
        assert!(keys.len() >= 10, "parsed keys: {keys:?}");
        for key in keys {
            assert!(
                KEYS.iter().any(|k| k.name == key),
                "config key {key} is not described in imapdir.toml(5) (src/generate.rs KEYS)"
            );
        }
    }

    #[test]
    fn example_in_config_page_parses() {
        let env = crate::config::Environment {
            home: Some("/home/u".into()),
            ..Default::default()
        };
        crate::config::Config::parse(EXAMPLE, &env).unwrap();
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff_text("a-b\\c"), "a\\-b\\ec");
        assert_eq!(roff_text(".x"), "\\&.x");
    }
}
