//! Provider presets: what a newcomer would otherwise have to know by heart
//! about the big mail providers (host, port, TLS, how they log in, which of
//! their folders repeat every message). `provider = "gmail"` fills these in
//! as defaults; every value the account sets itself wins.

use crate::model::TlsMode;

/// How a provider lets a program such as imapdir log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// OAuth2 (a token from `oauth2_token_command`) or an app password.
    OAuth2OrAppPassword,
    /// OAuth2 only: password logins are off for IMAP.
    OAuth2Only,
    /// An app-specific password made in the provider's account settings.
    AppPassword,
    /// The account's password (IMAP access may have to be switched on).
    Password,
}

impl Login {
    pub fn describe(self) -> &'static str {
        match self {
            Login::OAuth2OrAppPassword => "OAuth2 token or app password",
            Login::OAuth2Only => "OAuth2 token (XOAUTH2)",
            Login::AppPassword => "app password",
            Login::Password => "password",
        }
    }
}

/// One provider's preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    pub name: &'static str,
    pub title: &'static str,
    pub host: &'static str,
    pub port: u16,
    pub tls: TlsMode,
    pub login: Login,
    /// Mail domains that are this provider's (for `imapdir init`).
    pub domains: &'static [&'static str],
    /// Connections one account may hold at once.
    pub max_connections: u16,
    /// Special-use folders left out: they repeat messages held elsewhere
    /// (Gmail's All Mail, Important and Starred).
    pub exclude_special_use: &'static [&'static str],
    /// Sent, Drafts, Trash, Junk and Archive under those plain names.
    pub special_use_names: bool,
    /// SMTP submission host and port (for the outbox).
    pub smtp: (&'static str, u16),
    /// The provider files every message sent through its SMTP server in
    /// Sent itself (Gmail, Outlook): the outbox does not file it again.
    pub files_sent: bool,
    /// OAuth2 endpoints and scopes, where the provider offers OAuth2:
    /// (authorization, token, device authorization, scopes).
    pub oauth2: Option<OAuth2Endpoints>,
    /// What a newcomer must know, in one sentence.
    pub note: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuth2Endpoints {
    pub authorization: &'static str,
    pub token: &'static str,
    pub device: &'static str,
    pub scopes: &'static str,
}

const GOOGLE: OAuth2Endpoints = OAuth2Endpoints {
    authorization: "https://accounts.google.com/o/oauth2/v2/auth",
    token: "https://oauth2.googleapis.com/token",
    device: "https://oauth2.googleapis.com/device/code",
    scopes: "https://mail.google.com/",
};

const MICROSOFT: OAuth2Endpoints = OAuth2Endpoints {
    authorization: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    device: "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
    scopes: "https://outlook.office.com/IMAP.AccessAsUser.All offline_access",
};

const fn preset(
    name: &'static str,
    title: &'static str,
    host: &'static str,
    login: Login,
    domains: &'static [&'static str],
    smtp: (&'static str, u16),
    note: &'static str,
) -> Provider {
    Provider {
        name,
        title,
        host,
        port: 993,
        tls: TlsMode::Tls,
        login,
        domains,
        max_connections: 10,
        exclude_special_use: &[],
        special_use_names: true,
        smtp,
        files_sent: false,
        oauth2: None,
        note,
    }
}

/// Every preset, by name.
pub const PROVIDERS: &[Provider] = &[
    Provider {
        max_connections: 15,
        exclude_special_use: &["\\All", "\\Important", "\\Flagged"],
        oauth2: Some(GOOGLE),
        files_sent: true,
        ..preset(
            "gmail",
            "Gmail and Google Workspace",
            "imap.gmail.com",
            Login::OAuth2OrAppPassword,
            &["gmail.com", "googlemail.com"],
            ("smtp.gmail.com", 465),
            "labels are folders; All Mail, Important and Starred repeat every message and are \
             left out; an app password needs 2-step verification, OAuth2 a client id of your own \
             (a client left in \"testing\" gets refresh tokens that expire after 7 days)",
        )
    },
    Provider {
        oauth2: Some(MICROSOFT),
        files_sent: true,
        ..preset(
            "outlook",
            "Microsoft 365, Outlook.com, Hotmail",
            "outlook.office365.com",
            Login::OAuth2Only,
            &[
                "outlook.com",
                "hotmail.com",
                "live.com",
                "msn.com",
                "outlook.de",
            ],
            ("smtp.office365.com", 587),
            "password logins are off: register a client id of your own and log in with imapdir \
             auth (or use an OAuth2 token helper); Microsoft takes XOAUTH2 only, and an \
             organisation's admin may have to allow IMAP for the account",
        )
    },
    preset(
        "yahoo",
        "Yahoo Mail",
        "imap.mail.yahoo.com",
        Login::AppPassword,
        &["yahoo.com", "yahoo.de", "yahoo.co.uk", "ymail.com"],
        ("smtp.mail.yahoo.com", 465),
        "make an app password under Account security",
    ),
    preset(
        "aol",
        "AOL Mail",
        "imap.aol.com",
        Login::AppPassword,
        &["aol.com"],
        ("smtp.aol.com", 465),
        "make an app password under Account security",
    ),
    preset(
        "icloud",
        "iCloud Mail",
        "imap.mail.me.com",
        Login::AppPassword,
        &["icloud.com", "me.com", "mac.com"],
        ("smtp.mail.me.com", 587),
        "make an app-specific password at account.apple.com; the user is the address",
    ),
    preset(
        "fastmail",
        "Fastmail",
        "imap.fastmail.com",
        Login::AppPassword,
        &["fastmail.com", "fastmail.fm"],
        ("smtp.fastmail.com", 465),
        "make an app password with IMAP access under Settings, Privacy & Security",
    ),
    preset(
        "gmx",
        "GMX",
        "imap.gmx.net",
        Login::Password,
        &["gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.com"],
        ("mail.gmx.net", 587),
        "switch on IMAP under E-Mail, Settings, POP3/IMAP first",
    ),
    preset(
        "web.de",
        "WEB.DE",
        "imap.web.de",
        Login::Password,
        &["web.de"],
        ("smtp.web.de", 587),
        "switch on IMAP under E-Mail, Settings, POP3/IMAP first",
    ),
    preset(
        "strato",
        "STRATO",
        "imap.strato.de",
        Login::Password,
        &[],
        ("smtp.strato.de", 465),
        "the user is the full address",
    ),
    preset(
        "ionos",
        "IONOS (1&1)",
        "imap.ionos.de",
        Login::Password,
        &[],
        ("smtp.ionos.de", 587),
        "the user is the full address; outside Germany the host is imap.ionos.com",
    ),
    preset(
        "posteo",
        "Posteo",
        "posteo.de",
        Login::Password,
        &["posteo.de", "posteo.net"],
        ("posteo.de", 587),
        "the user is the full address",
    ),
    preset(
        "mailbox.org",
        "mailbox.org",
        "imap.mailbox.org",
        Login::Password,
        &["mailbox.org"],
        ("smtp.mailbox.org", 465),
        "an app password can be made under Settings, Security",
    ),
    preset(
        "zoho",
        "Zoho Mail",
        "imap.zoho.com",
        Login::AppPassword,
        &["zoho.com", "zohomail.com"],
        ("smtp.zoho.com", 465),
        "switch on IMAP access in Zoho Mail's settings; in the EU the host is imap.zoho.eu",
    ),
];

/// The preset named `name`; the error lists the known ones.
pub fn find(name: &str) -> Result<&'static Provider, String> {
    PROVIDERS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            let known: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
            format!(
                "provider = {name:?} is not a known provider (known: {}; `imapdir providers` \
                 lists them); leave it out and set host instead",
                known.join(", ")
            )
        })
}

/// The preset for a mail address's domain, if one is known.
pub fn for_address(address: &str) -> Option<&'static Provider> {
    let domain = address.rsplit_once('@')?.1.to_ascii_lowercase();
    PROVIDERS
        .iter()
        .find(|p| p.domains.contains(&domain.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_named_uniquely_and_complete() {
        let mut names: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), PROVIDERS.len());
        for required in [
            "gmail",
            "outlook",
            "yahoo",
            "icloud",
            "fastmail",
            "gmx",
            "web.de",
            "strato",
            "ionos",
            "posteo",
            "mailbox.org",
            "zoho",
            "aol",
        ] {
            assert!(find(required).is_ok(), "{required}");
        }
        for p in PROVIDERS {
            assert!(
                p.host.contains('.') && p.port == 993 && p.tls == TlsMode::Tls,
                "{p:?}"
            );
            assert_eq!(
                p.oauth2.is_some(),
                p.login != Login::Password && p.login != Login::AppPassword
            );
        }
    }

    #[test]
    fn an_unknown_name_lists_the_known_ones() {
        let err = find("gmial").unwrap_err();
        assert!(err.contains("gmail") && err.contains("outlook"), "{err}");
        assert_eq!(find("GMail").unwrap().host, "imap.gmail.com");
    }

    #[test]
    fn addresses_find_their_provider() {
        assert_eq!(for_address("a.b@googlemail.com").unwrap().name, "gmail");
        assert_eq!(for_address("x@Hotmail.com").unwrap().name, "outlook");
        assert!(for_address("me@example.org").is_none());
        assert!(for_address("no-at-sign").is_none());
    }
}
