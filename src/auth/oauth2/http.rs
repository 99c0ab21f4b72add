//! The two requests OAuth2 needs: a form POST to the token or device
//! endpoint, answered with JSON (RFC 6749 §5). Over HTTPS, or plain HTTP to
//! this machine only (a test server, a local proxy): tokens never cross a
//! network unencrypted.

use std::time::Duration;

use serde_json::Value;

use super::Refusal;

/// Why a request got no usable answer.
#[derive(Debug)]
pub enum HttpError {
    /// The server answered with an OAuth2 error (`error` in the JSON).
    Refused(Refusal),
    /// No answer, or one that is not OAuth2's.
    Failed(String),
}

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `url` may carry a token: https, or http to a loopback host.
pub fn check_url(key: &str, url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(());
        }
        return Err(format!(
            "{key} = {url:?} is plain http to another machine; tokens go only over https \
             (plain http only to this machine)"
        ));
    }
    Err(format!("{key} = {url:?} is not an https:// URL"))
}

fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .tls_config(tls)
        .user_agent(concat!("imapdir/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// POSTs `form` to `url` and returns the JSON object of a 2xx answer. The
/// error never contains the form (which holds codes and tokens).
pub fn post_form(what: &str, url: &str, form: &[(&str, &str)]) -> Result<Value, HttpError> {
    let mut response = agent()
        .post(url)
        .header("Accept", "application/json")
        .send_form(form.iter().copied())
        .map_err(|e| HttpError::Failed(format!("cannot reach the {what} at {url}: {e}")))?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| HttpError::Failed(format!("the {what} at {url}: {e}")))?;
    parse_answer(what, url, status, &body)
}

/// A 2xx answer's JSON object, or the OAuth2 error in any other.
pub fn parse_answer(what: &str, url: &str, status: u16, body: &str) -> Result<Value, HttpError> {
    let json: Option<Value> = serde_json::from_str(body).ok();
    if let Some(code) = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
    {
        let description = json
            .as_ref()
            .and_then(|j| j.get("error_description"))
            .and_then(Value::as_str)
            .map(printable);
        return Err(HttpError::Refused(Refusal {
            code: printable(code),
            description,
        }));
    }
    match json {
        Some(j @ Value::Object(_)) if (200..300).contains(&status) => Ok(j),
        _ => Err(HttpError::Failed(format!(
            "the {what} at {url} answered HTTP {status} without an OAuth2 answer"
        ))),
    }
}

/// A server's text made safe to show: control characters become `?`, and
/// it is cut at 300 characters.
pub fn printable(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(300)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_over_https_or_to_this_machine() {
        assert!(check_url("k", "https://oauth2.googleapis.com/token").is_ok());
        assert!(check_url("k", "http://127.0.0.1:8080/token").is_ok());
        assert!(check_url("k", "http://localhost/token").is_ok());
        assert!(check_url("k", "http://[::1]:9/t").is_ok());
        assert!(check_url("k", "http://example.org/token")
            .unwrap_err()
            .contains("plain http"));
        assert!(check_url("k", "http://127.0.0.1.example.org/").is_err());
        assert!(check_url("k", "ftp://x").is_err());
    }

    #[test]
    fn answers_are_json_or_oauth2_errors() {
        let ok = parse_answer("t", "u", 200, r#"{"access_token":"a"}"#).unwrap();
        assert_eq!(ok["access_token"], "a");
        match parse_answer(
            "t",
            "u",
            400,
            r#"{"error":"invalid_grant","error_description":"Token has been\nrevoked."}"#,
        ) {
            Err(HttpError::Refused(r)) => {
                assert_eq!(r.code, "invalid_grant");
                assert_eq!(r.description.as_deref(), Some("Token has been?revoked."));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_answer("t", "u", 502, "<html>bad gateway</html>"),
            Err(HttpError::Failed(m)) if m.contains("HTTP 502")
        ));
    }
}
