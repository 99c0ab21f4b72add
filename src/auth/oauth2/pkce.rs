//! PKCE (RFC 7636, S256), the `state` value, and the URL encodings the
//! flows need: SHA-256 and randomness from OpenSSL, which imapdir links
//! for TLS anyway.

/// base64url without padding (RFC 4648 §5), as PKCE and most tokens use.
pub fn base64url(bytes: &[u8]) -> String {
    openssl::base64::encode_block(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

/// `len` random bytes from OpenSSL's CSPRNG, base64url-encoded.
pub fn random_text(len: usize) -> Result<String, String> {
    let mut buf = vec![0u8; len];
    openssl::rand::rand_bytes(&mut buf).map_err(|e| format!("no random bytes: {e}"))?;
    Ok(base64url(&buf))
}

/// A code verifier (43 characters from 32 random bytes) and its S256 challenge.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkce(<redacted>)")
    }
}

impl Pkce {
    pub fn new() -> Result<Pkce, String> {
        Ok(Pkce::from_verifier(random_text(32)?))
    }

    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = challenge_s256(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// `BASE64URL(SHA256(verifier))`.
pub fn challenge_s256(verifier: &str) -> String {
    base64url(&openssl::sha::sha256(verifier.as_bytes()))
}

/// Percent-encodes everything but RFC 3986's unreserved characters, as a
/// query value must be.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` and `+` (a space, in a query); bad escapes stay as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The pairs of a query string (`a=1&b=2`), decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(kv), String::new()),
        })
        .collect()
}

/// `base?k=v&...` (or `&` when `base` has a query already).
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = base.to_string();
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (k, v) in pairs {
        url.push(sep);
        url.push_str(&percent_encode(k));
        url.push('=');
        url.push_str(&percent_encode(v));
        sep = '&';
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new().unwrap();
        assert_eq!(fresh.verifier.len(), 43);
        assert_ne!(fresh.verifier, Pkce::new().unwrap().verifier);
        assert_eq!(format!("{fresh:?}"), "Pkce(<redacted>)");
    }

    #[test]
    fn encodings_round_trip() {
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
        let text = "a b&c=d/é~";
        assert_eq!(percent_encode(text), "a%20b%26c%3Dd%2F%C3%A9~");
        assert_eq!(percent_decode(&percent_encode(text)), text);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz+x"), "%zz x");
        assert_eq!(
            query_pairs("code=a%2Fb&state=s&flag"),
            vec![
                ("code".into(), "a/b".into()),
                ("state".into(), "s".into()),
                ("flag".into(), String::new())
            ]
        );
        assert_eq!(
            with_query("https://x/auth?tenant=1", &[("scope", "a b")]),
            "https://x/auth?tenant=1&scope=a%20b"
        );
    }
}
