//! Header text as people read it: RFC 2047 encoded words
//! (`=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=`) decoded, in any charset `encoding_rs`
//! knows; raw 8-bit text read as UTF-8. Pure.

/// Decodes `raw` (a Subject, a display name). An encoded word that cannot
/// be decoded (unknown charset, bad base64) is kept as it was written.
pub fn decode_header_text(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut rest: &str = &text;
    // Whitespace between two encoded words is not part of the text.
    let mut pending_space = String::new();
    let mut after_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = rest.strip_prefix("=?").and_then(|_| encoded_word(rest)) {
            if !after_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used..];
            after_word = true;
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        rest = &rest[c.len_utf8()..];
        if c.is_whitespace() {
            pending_space.push(if c == '\r' || c == '\n' { ' ' } else { c });
            continue;
        }
        out.push_str(&pending_space);
        pending_space.clear();
        out.push(c);
        after_word = false;
    }
    out.push_str(&pending_space);
    // Folding leaves runs of spaces.
    let mut collapsed = String::with_capacity(out.len());
    for c in out.trim().chars() {
        if c == ' ' && collapsed.ends_with(' ') {
            continue;
        }
        collapsed.push(c);
    }
    collapsed
}

/// One `=?charset?B|Q?text?=` at the start of `s`: its text and length.
fn encoded_word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    let after = &body[q1 + 1..];
    let mut chars = after.chars();
    let encoding = chars.next()?.to_ascii_uppercase();
    if chars.next()? != '?' {
        return None;
    }
    let payload_start = q1 + 3;
    let end = body[payload_start..].find("?=")?;
    let payload = &body[payload_start..payload_start + end];
    if payload.contains(char::is_whitespace) {
        return None;
    }
    let bytes = match encoding {
        'B' => base64_decode(payload)?,
        'Q' => q_decode(payload)?,
        _ => return None,
    };
    // RFC 2231: `charset*language`.
    let charset = charset.split('*').next().unwrap_or(charset);
    let encoding = encoding_rs::Encoding::for_label(charset.as_bytes())?;
    let (text, _, _) = encoding.decode(&bytes);
    Some((text.into_owned(), 2 + payload_start + end + 2))
}

fn q_decode(payload: &str) -> Option<Vec<u8>> {
    let bytes = payload.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(out)
}

/// Base64 as mail writes it in encoded words, padding optional.
fn base64_decode(payload: &str) -> Option<Vec<u8>> {
    let mut padded = payload.to_string();
    while !padded.len().is_multiple_of(4) {
        padded.push('=');
    }
    openssl::base64::decode_block(&padded).ok()
}

#[cfg(test)]
mod tests {
    use super::decode_header_text as d;

    #[test]
    fn decodes_encoded_words() {
        assert_eq!(d(b"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?="), "Grüße");
        assert_eq!(d(b"=?utf-8?B?R3LDvMOfZQ==?="), "Grüße");
        assert_eq!(d(b"=?ISO-8859-1?Q?Caf=E9_au_lait?="), "Café au lait");
        assert_eq!(d(b"=?windows-1252?q?=80?= 5"), "€ 5");
        assert_eq!(d(b"=?UTF-8*de?Q?Gr=C3=BC=C3=9Fe?="), "Grüße");
    }

    #[test]
    fn joins_adjacent_words_and_keeps_plain_text() {
        assert_eq!(d(b"=?UTF-8?Q?a?= =?UTF-8?Q?b?="), "ab");
        assert_eq!(
            d(b"Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin"),
            "Re: Grüße aus Berlin"
        );
        assert_eq!(d(b"plain  subject\r\n folded"), "plain subject folded");
        assert_eq!("Grüße".as_bytes(), d("Grüße".as_bytes()).as_bytes());
    }

    #[test]
    fn keeps_what_it_cannot_decode() {
        assert_eq!(d(b"=?x-unknown?Q?abc?="), "=?x-unknown?Q?abc?=");
        assert_eq!(d(b"=?UTF-8?B?***?="), "=?UTF-8?B?***?=");
        assert_eq!(d(b"=?UTF-8?Q?=ZZ?="), "=?UTF-8?Q?=ZZ?=");
        assert_eq!(d(b"=?UTF-8?X?abc?="), "=?UTF-8?X?abc?=");
        assert_eq!(d(b"1 =? 2"), "1 =? 2");
        assert_eq!(d(b""), "");
    }
}
