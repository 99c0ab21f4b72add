//! The IMAP server a mail domain publishes for mail clients, in Mozilla's
//! autoconfig format (what Thunderbird reads): first
//! `https://autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=ADDRESS`,
//! then `https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml`.
//! Only the domain's own servers are asked (no third-party database), over
//! HTTPS, with a timeout of a few seconds. `imapdir init` uses it for a
//! domain that no preset knows, and shows what it found before writing it.
//!
//! The parser reads only what imapdir needs (the `incomingServer` of type
//! `imap`: hostname, port, socketType, username, authentication) and is a
//! few string searches, not a general XML reader.

use std::time::Duration;

use crate::model::TlsMode;

/// An IMAP server as a domain publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// The login name, placeholders filled in.
    pub user: Option<String>,
    /// The domain says it logs in with OAuth2.
    pub oauth2: bool,
}

/// How long one lookup may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The URLs asked, in order. `base` replaces both `https://autoconfig.DOMAIN`
/// and `https://DOMAIN` (for tests, through `IMAPDIR_AUTOCONFIG_URL`).
pub fn urls(address: &str, base: Option<&str>) -> Vec<String> {
    let domain = address.rsplit_once('@').map_or("", |(_, d)| d);
    let query = format!("emailaddress={}", percent_encode(address));
    let (first, second) = match base {
        Some(base) => {
            let base = base.trim_end_matches('/');
            (base.to_string(), base.to_string())
        }
        None => (
            format!("https://autoconfig.{domain}"),
            format!("https://{domain}"),
        ),
    };
    vec![
        format!("{first}/mail/config-v1.1.xml?{query}"),
        format!("{second}/.well-known/autoconfig/mail/config-v1.1.xml?{query}"),
    ]
}

/// Asks the domain's servers; the error says what was tried and why each failed.
pub fn lookup(address: &str, base: Option<&str>) -> Result<Server, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .max_redirects(3)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        )
        .build()
        .into();
    let mut failures = Vec::new();
    for url in urls(address, base) {
        let body = agent.get(&url).call().and_then(|mut response| {
            response
                .body_mut()
                .with_config()
                .limit(256 * 1024)
                .read_to_string()
        });
        match body {
            Ok(xml) => match parse(&xml, address) {
                Some(server) => return Ok(server),
                None => failures.push(format!("{url}: no usable IMAP server in it")),
            },
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    Err(failures.join("; "))
}

/// The best IMAP server of an autoconfig document: TLS first, then
/// STARTTLS, then plain; `None` when it names no IMAP server.
pub fn parse(xml: &str, address: &str) -> Option<Server> {
    let xml = strip_comments(xml);
    let mut servers = Vec::new();
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<incomingServer") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let open = &after[..open_end];
        let body_end = after.find("</incomingServer>").unwrap_or(after.len());
        let body = &after[open_end.min(body_end)..body_end];
        rest = &after[body_end..];
        if attribute(open, "type").as_deref() != Some("imap") {
            continue;
        }
        if let Some(server) = server(body, address) {
            servers.push(server);
        }
    }
    let rank = |s: &Server| match s.tls {
        TlsMode::Tls => 0,
        TlsMode::StartTls => 1,
        TlsMode::Plain => 2,
    };
    servers.into_iter().min_by_key(rank)
}

fn server(body: &str, address: &str) -> Option<Server> {
    let host = fill(&element(body, "hostname")?, address);
    let valid_host = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    if !valid_host {
        return None;
    }
    let port = element(body, "port")?.trim().parse().ok()?;
    let tls = match element(body, "socketType")?
        .trim()
        .to_ascii_uppercase()
        .as_str()
    {
        "SSL" | "TLS" => TlsMode::Tls,
        "STARTTLS" => TlsMode::StartTls,
        "PLAIN" => TlsMode::Plain,
        _ => return None,
    };
    let user = element(body, "username")
        .map(|u| fill(&u, address))
        .filter(|u| !u.is_empty() && !u.chars().any(char::is_control));
    let oauth2 = elements(body, "authentication")
        .iter()
        .any(|a| a.trim().eq_ignore_ascii_case("OAuth2"));
    Some(Server {
        host,
        port,
        tls,
        user,
        oauth2,
    })
}

/// The placeholders Thunderbird fills in.
fn fill(text: &str, address: &str) -> String {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    text.trim()
        .replace("%EMAILADDRESS%", address)
        .replace("%EMAILLOCALPART%", local)
        .replace("%EMAILDOMAIN%", domain)
}

fn strip_comments(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = match rest[start..].find("-->") {
            Some(end) => &rest[start + end + 3..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The text of the first `<name>…</name>` in `body`.
fn element(body: &str, name: &str) -> Option<String> {
    elements(body, name).into_iter().next()
}

fn elements(body: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut found = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        // `<port>` but not `<portal>`.
        if !after.starts_with(['>', ' ', '\t', '\n', '\r']) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let inner = &after[gt + 1..];
        let Some(end) = inner.find(&close) else { break };
        found.push(unescape(&inner[..end]));
        rest = &inner[end + close.len()..];
    }
    found
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let mut rest = tag;
    while let Some(at) = rest.find(name) {
        let before_ok = rest[..at].ends_with([' ', '\t', '\n', '\r']);
        let after = rest[at + name.len()..].trim_start();
        if let (true, Some(value)) = (before_ok, after.strip_prefix('=')) {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &value[1..];
                return value.find(quote).map(|end| unescape(&value[..end]));
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <!-- <incomingServer type="imap"><hostname>commented.example</hostname></incomingServer> -->
    <incomingServer type="pop3">
      <hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.org</hostname>
      <port>143</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type='imap'>
      <hostname>mail.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp"><hostname>smtp.example.org</hostname></outgoingServer>
  </emailProvider>
</clientConfig>"#;

    #[test]
    fn the_tls_imap_server_is_preferred_and_placeholders_filled() {
        let server = parse(SAMPLE, "me@example.org").unwrap();
        assert_eq!(
            server,
            Server {
                host: "mail.example.org".into(),
                port: 993,
                tls: TlsMode::Tls,
                user: Some("me".into()),
                oauth2: true,
            }
        );
        let starttls_only = SAMPLE.replace(
            "<socketType>SSL</socketType>\n      <username>%EMAILLOCALPART%",
            "<socketType>bogus</socketType>\n      <username>%EMAILLOCALPART%",
        );
        let server = parse(&starttls_only, "me@example.org").unwrap();
        assert_eq!(
            (server.host.as_str(), server.port, server.tls),
            ("imap.example.org", 143, TlsMode::StartTls)
        );
        assert_eq!(server.user.as_deref(), Some("me@example.org"));
    }

    #[test]
    fn documents_without_a_usable_imap_server_give_none() {
        assert_eq!(parse("", "a@b"), None);
        assert_eq!(parse("<html>not found</html>", "a@b"), None);
        let pop_only = r#"<incomingServer type="pop3"><hostname>p</hostname><port>995</port><socketType>SSL</socketType></incomingServer>"#;
        assert_eq!(parse(pop_only, "a@b"), None);
        let hostile = r#"<incomingServer type="imap"><hostname>evil host;rm</hostname><port>993</port><socketType>SSL</socketType></incomingServer>"#;
        assert_eq!(parse(hostile, "a@b"), None);
        let bad_port = r#"<incomingServer type="imap"><hostname>h</hostname><port>99999</port><socketType>SSL</socketType></incomingServer>"#;
        assert_eq!(parse(bad_port, "a@b"), None);
        let unclosed = r#"<incomingServer type="imap"><hostname>h"#;
        assert_eq!(parse(unclosed, "a@b"), None);
    }

    #[test]
    fn urls_ask_the_domain_first_then_its_well_known_path() {
        assert_eq!(
            urls("a+b@example.org", None),
            vec![
                "https://autoconfig.example.org/mail/config-v1.1.xml?emailaddress=a%2Bb%40example.org",
                "https://example.org/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a%2Bb%40example.org",
            ]
        );
        assert!(urls("a@b", Some("http://127.0.0.1:9/"))[1]
            .starts_with("http://127.0.0.1:9/.well-known/autoconfig/"));
    }
}
