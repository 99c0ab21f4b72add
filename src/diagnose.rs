//! Why a connection or a login failed, in one sentence that says what to
//! do: the server's words (and what it offered) mapped to the fix. Pure:
//! `imapdir check` gathers the facts, this decides what they mean.

use crate::model::TlsMode;
use crate::net::CERTIFICATE_NAMES;
use crate::providers::{Login, Provider};

/// What is known about one failed attempt.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// The whole error, every cause (`{e:#}`).
    pub error: &'a str,
    pub tls: TlsMode,
    pub port: u16,
    /// The account logs in with a password (not an OAuth2 token).
    pub password: bool,
    pub provider: Option<&'static Provider>,
    /// Connections the account opens at once (`jobs`).
    pub jobs: usize,
    /// The server's capabilities before login, where known.
    pub capabilities: &'a [String],
    /// What a second look at the port found.
    pub probe: Probe,
}

/// What a second connection to the same port found, after the first failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Probe {
    /// Plain TCP got an IMAP greeting (`* OK`): the port does not start with TLS.
    pub plain_greeting: bool,
    /// A TLS handshake went through (or failed only over the certificate).
    pub speaks_tls: bool,
}

/// The sentence that says what to do, where the failure is a common one.
pub fn explain(f: &Failure<'_>) -> Option<String> {
    let text = f.error.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let offers = |cap: &str| f.capabilities.iter().any(|c| c.eq_ignore_ascii_case(cap));
    let offers_oauth2 = offers("AUTH=XOAUTH2") || offers("AUTH=OAUTHBEARER");
    let offers_password = offers("AUTH=PLAIN") || offers("AUTH=LOGIN");
    let tls_value = |mode: &str| format!("tls = \"{mode}\"");

    if has(&[
        "too many simultaneous connections",
        "maximum number of connections",
        "too many connections",
        "too many open connections",
        "connection limit",
    ]) || (has(&["[unavailable]"]) && has(&["connection"]))
    {
        let limit = f
            .provider
            .map(|p| format!(" ({} allows {})", p.title, p.max_connections))
            .unwrap_or_default();
        return Some(format!(
            "the server allows only so many connections per account at once{limit}, and other \
             programs (a mail client, another imapdir) hold them: close some, or set jobs lower \
             than {} in the account",
            f.jobs
        ));
    }

    if has(&[
        "application-specific password",
        "app-specific password",
        "app password",
        "application password",
    ]) {
        let how = f
            .provider
            .filter(|p| p.login != Login::Password)
            .map(|p| format!(" ({}: {})", p.title, p.note))
            .unwrap_or_default();
        return Some(format!(
            "the provider wants an app password here, not the account's own password: make one \
             in the account's security settings{how} and have password_command, password_file \
             or password_env give it"
        ));
    }
    if has(&[
        "web login required",
        "log in via your web browser",
        "[webalert",
    ]) {
        return Some(
            "the provider wants you to log in on its web page once (it saw a new device): do \
             so in a browser, then run imapdir check again"
                .into(),
        );
    }

    let use_oauth2 = "this server does not take passwords: use OAuth2 (set \
                      oauth2_token_command to a token helper such as pizauth or oama, or use \
                      `imapdir auth ACCOUNT`; the README's OAuth2 section has the steps)";
    if has(&["logindisabled"]) && f.password {
        if f.tls == TlsMode::Plain {
            return Some(if offers("STARTTLS") {
                format!(
                    "the server takes passwords only over an encrypted connection, and it offers \
                     STARTTLS: set {} (same port), then allow_plaintext can go",
                    tls_value("starttls")
                )
            } else {
                format!(
                    "the server takes passwords only over an encrypted connection: set {} and \
                     port = 993",
                    tls_value("tls")
                )
            });
        }
        if offers_oauth2 || !offers_password {
            return Some(use_oauth2.into());
        }
    }

    let login_refused = has(&[
        "login failed",
        "authenticate failed",
        "authenticationfailed",
        "authentication failed",
        "invalid credentials",
    ]);
    if login_refused && f.password {
        let oauth2_only = f.provider.is_some_and(|p| p.login == Login::OAuth2Only)
            || (offers_oauth2 && !offers_password && !f.capabilities.is_empty());
        if oauth2_only {
            return Some(use_oauth2.into());
        }
        if let Some(p) = f.provider {
            match p.login {
                Login::AppPassword => {
                    return Some(format!(
                        "{} takes an app password, not the account's own password: {}; check \
                         that the password source gives that one, and the user",
                        p.title, p.note
                    ))
                }
                Login::OAuth2OrAppPassword => {
                    return Some(format!(
                        "{} takes an app password or OAuth2, not the account's own password: \
                         {}",
                        p.title, p.note
                    ))
                }
                _ => {}
            }
        }
        return Some(
            "the server refused the user name or the password: check user and what the \
             password source gives (run the password_command by hand)"
                .into(),
        );
    }

    if has(&["hostname mismatch", "ip address mismatch"]) {
        let names = f
            .error
            .split_once(CERTIFICATE_NAMES)
            .map(|(_, rest)| rest.split(['\n', ')']).next().unwrap_or("").trim())
            .filter(|names| !names.is_empty());
        return Some(match names {
            Some(names) => format!(
                "the server's certificate is for another name ({names}): set host to one of \
                 these (the name you connect to must be on the certificate)"
            ),
            None => "the server's certificate is for another name: set host to the name on \
                     the certificate"
                .into(),
        });
    }
    if has(&[
        "self-signed certificate",
        "self signed certificate",
        "unable to get local issuer certificate",
        "unable to get issuer certificate",
    ]) {
        return Some(
            "the server's certificate is not signed by an authority this machine trusts: for \
             your own server set ca_file to its CA certificate (PEM); otherwise do not go on, \
             the connection may be intercepted"
                .into(),
        );
    }
    if has(&["certificate has expired"]) {
        return Some(
            "the server's certificate has expired: its administrator must renew it (or this \
             machine's clock is wrong)"
                .into(),
        );
    }

    if f.tls == TlsMode::Tls
        && has(&["tls error"])
        && (f.probe.plain_greeting
            || has(&[
                "wrong version number",
                "packet length too long",
                "record layer failure",
            ]))
    {
        return Some(format!(
            "port {} speaks plain IMAP first, not TLS: set {} for this port (or use port 993 \
             with {})",
            f.port,
            tls_value("starttls"),
            tls_value("tls")
        ));
    }
    if f.tls != TlsMode::Tls
        && (f.probe.speaks_tls
            || (f.port == 993 && has(&["timed out", "unexpected greeting", "protocol error"])))
    {
        return Some(format!(
            "port {} expects TLS from the first byte: set {}",
            f.port,
            tls_value("tls")
        ));
    }
    if has(&["does not offer starttls"]) && f.port == 993 {
        return Some(format!(
            "port 993 is for TLS from the first byte: set {}",
            tls_value("tls")
        ));
    }
    None
}

/// Advice after a login that worked: a password sent in the clear where
/// the server offers STARTTLS.
pub fn advise(tls: TlsMode, capabilities_before_login: &[String]) -> Option<String> {
    let offers_starttls = capabilities_before_login
        .iter()
        .any(|c| c.eq_ignore_ascii_case("STARTTLS"));
    (tls == TlsMode::Plain && offers_starttls).then(|| {
        "the server offers STARTTLS: set tls = \"starttls\" so the password does not travel \
         in the clear"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::find;

    fn failure(error: &str) -> Failure<'_> {
        Failure {
            error,
            tls: TlsMode::Tls,
            port: 993,
            password: true,
            provider: None,
            jobs: 4,
            capabilities: &[],
            probe: Probe::default(),
        }
    }

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn app_passwords_are_named() {
        let gmail = Failure {
            provider: Some(find("gmail").unwrap()),
            ..failure(
                "account g: login failed: [ALERT] Application-specific password required: \
                 https://support.google.com/accounts/answer/185833 (Failure)",
            )
        };
        let hint = explain(&gmail).unwrap();
        assert!(
            hint.contains("app password") && hint.contains("2-step"),
            "{hint}"
        );
        let yahoo = Failure {
            provider: Some(find("yahoo").unwrap()),
            ..failure("login failed: [AUTHENTICATIONFAILED] LOGIN Invalid credentials")
        };
        let hint = explain(&yahoo).unwrap();
        assert!(
            hint.contains("Yahoo") && hint.contains("app password"),
            "{hint}"
        );
        let web =
            failure("login failed: [WEBALERT https://accounts.google.com/x] Web login required.");
        assert!(explain(&web).unwrap().contains("web page"));
    }

    #[test]
    fn a_server_without_password_logins_is_sent_to_oauth2() {
        let microsoft = Failure {
            provider: Some(find("outlook").unwrap()),
            ..failure("account w: login failed: AUTHENTICATE failed.")
        };
        assert!(explain(&microsoft).unwrap().contains("use OAuth2"));
        // No preset: the capabilities tell.
        let offered = caps(&["IMAP4rev1", "AUTH=XOAUTH2", "SASL-IR"]);
        let bare = Failure {
            capabilities: &offered,
            ..failure("login failed: LOGIN failed.")
        };
        assert!(explain(&bare).unwrap().contains("oauth2_token_command"));
        let disabled = Failure {
            capabilities: &offered,
            ..failure("login failed: the server refuses password logins on this connection (LOGINDISABLED)")
        };
        assert!(explain(&disabled).unwrap().contains("use OAuth2"));
        // A token that was refused is not a reason to tell of OAuth2.
        let token = Failure {
            password: false,
            capabilities: &offered,
            ..failure("login failed: AUTHENTICATE failed.")
        };
        assert_eq!(explain(&token), None);
    }

    #[test]
    fn a_plaintext_connection_that_must_be_encrypted_asks_for_starttls() {
        let offered = caps(&["IMAP4rev1", "STARTTLS", "LOGINDISABLED"]);
        let plain = Failure {
            tls: TlsMode::Plain,
            port: 143,
            capabilities: &offered,
            ..failure(
                "account p: server refuses login on an unencrypted connection (LOGINDISABLED)",
            )
        };
        let hint = explain(&plain).unwrap();
        assert!(hint.contains("tls = \"starttls\""), "{hint}");
        let none = caps(&["IMAP4rev1", "LOGINDISABLED"]);
        let plain = Failure {
            capabilities: &none,
            ..plain
        };
        assert!(explain(&plain).unwrap().contains("port = 993"));
        assert_eq!(
            advise(TlsMode::Plain, &offered)
                .as_deref()
                .map(|a| a.contains("starttls")),
            Some(true)
        );
        assert_eq!(advise(TlsMode::StartTls, &offered), None);
        assert_eq!(advise(TlsMode::Plain, &none), None);
    }

    #[test]
    fn a_certificate_for_another_name_shows_its_names() {
        let text = format!(
            "account t: TLS error: handshake with 127.1 failed: certificate verify failed: \
             hostname mismatch; {CERTIFICATE_NAMES}localhost, 127.0.0.1"
        );
        let hint = explain(&failure(&text)).unwrap();
        assert!(hint.contains("(localhost, 127.0.0.1)"), "{hint}");
        let hint = explain(&failure(
            "TLS error: certificate verify failed: hostname mismatch",
        ));
        assert!(hint.unwrap().contains("another name"));
        let hint = explain(&failure(
            "TLS error: handshake with h failed: certificate verify failed: self-signed certificate",
        ));
        assert!(hint.unwrap().contains("ca_file"));
    }

    #[test]
    fn tls_against_a_plain_port_and_the_reverse() {
        let tls_to_plain = Failure {
            port: 143,
            probe: Probe {
                plain_greeting: true,
                speaks_tls: false,
            },
            ..failure("TLS error: handshake with h failed: unexpected eof while reading")
        };
        let hint = explain(&tls_to_plain).unwrap();
        assert!(
            hint.contains("port 143") && hint.contains("starttls"),
            "{hint}"
        );
        let wrong_version = Failure {
            port: 143,
            ..failure("TLS error: handshake with h failed: error:0A00010B:SSL routines::wrong version number")
        };
        assert!(explain(&wrong_version)
            .unwrap()
            .contains("plain IMAP first"));

        let plain_to_tls = Failure {
            tls: TlsMode::StartTls,
            port: 10993,
            probe: Probe {
                plain_greeting: false,
                speaks_tls: true,
            },
            ..failure("account x: timed out after 2s waiting for the server")
        };
        assert!(explain(&plain_to_tls).unwrap().contains("tls = \"tls\""));
        let guess = Failure {
            tls: TlsMode::Plain,
            ..failure("timed out after 60s waiting for the server")
        };
        assert!(explain(&guess).unwrap().contains("port 993"));
    }

    #[test]
    fn too_many_connections_says_lower_jobs() {
        for text in [
            "connection closed by server: Maximum number of connections from user+IP exceeded \
             (mail_max_userip_connections=1)",
            "login failed: [ALERT] Too many simultaneous connections. (Failure)",
            "login failed: [UNAVAILABLE] Too many connections for this account",
        ] {
            let hint = explain(&Failure {
                provider: Some(find("gmail").unwrap()),
                ..failure(text)
            })
            .unwrap_or_else(|| panic!("{text}"));
            assert!(
                hint.contains("jobs lower than 4") && hint.contains("15"),
                "{hint}"
            );
        }
    }

    #[test]
    fn other_failures_get_no_sentence() {
        assert_eq!(
            explain(&failure("cannot connect to h:993: connection refused")),
            None
        );
        let generic = explain(&failure(
            "login failed: [AUTHENTICATIONFAILED] Authentication failed.",
        ));
        assert!(generic.unwrap().contains("check user"));
    }
}
