//! What sending needs from a message's header: the sender, the envelope
//! recipients (To, Cc, Bcc), the Message-ID; and the message as sent and
//! filed: Bcc and imapdir's own envelope header removed, a Message-ID
//! added where there was none. Pure.

/// imapdir's own header, written by `imapdir sendmail RECIPIENTS` (no
/// `-t`): the envelope recipients given on the command line. Never sent.
pub const ENVELOPE_HEADER: &str = "X-Imapdir-Envelope-To";

/// The parts of a header block sending looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// The From address (the first, when several).
    pub from: Option<String>,
    /// Every recipient: the envelope header when present, else To, Cc and
    /// Bcc; each once, in order.
    pub recipients: Vec<String>,
    pub message_id: Option<String>,
}

/// The header fields of `message`, unfolded: (name, value).
pub fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in message.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        if text.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push_str(&text);
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// The addr-specs of an address list (`Name <a@b>, c@d, group: e@f;`),
/// comments and display names left out.
pub fn addresses(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut piece = String::new();
    let (mut quoted, mut angle, mut comment) = (false, false, 0u32);
    let mut flush = |piece: &mut String| {
        let mut p = piece.trim().to_string();
        piece.clear();
        if let Some(start) = p.find('<') {
            let end = p[start..].find('>').map_or(p.len(), |e| start + e);
            p = p[start + 1..end].to_string();
        } else if let Some((group, rest)) = p.split_once(':') {
            if !group.contains('@') {
                p = rest.to_string();
            }
        }
        let p = p.trim().trim_end_matches(';').trim();
        if p.contains('@') && !p.contains(char::is_whitespace) {
            out.push(p.to_string());
        }
    };
    for c in value.chars() {
        match c {
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => {
                comment += 1;
                continue;
            }
            ')' if !quoted && comment > 0 => {
                comment -= 1;
                continue;
            }
            _ if comment > 0 => continue,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                flush(&mut piece);
                continue;
            }
            _ => {}
        }
        piece.push(c);
    }
    flush(&mut piece);
    out
}

/// Reads the envelope from a message's header.
pub fn envelope(message: &[u8]) -> Envelope {
    let fields = header_fields(message);
    let named = |name: &'static str| {
        fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let from = named("From").flat_map(addresses).next();
    let given: Vec<String> = named(ENVELOPE_HEADER).flat_map(addresses).collect();
    let listed = if given.is_empty() {
        ["To", "Cc", "Bcc"]
            .into_iter()
            .flat_map(|n| named(n).flat_map(addresses).collect::<Vec<_>>())
            .collect()
    } else {
        given
    };
    let mut recipients: Vec<String> = Vec::new();
    for r in listed {
        if !recipients.iter().any(|k| k.eq_ignore_ascii_case(&r)) {
            recipients.push(r);
        }
    }
    let message_id = named("Message-ID")
        .map(|v| v.trim().to_string())
        .find(|v| v.starts_with('<') && v.ends_with('>') && v.len() > 2);
    Envelope {
        from,
        recipients,
        message_id,
    }
}

/// The message as it is sent and filed: the Bcc and envelope headers
/// (with their continuation lines) removed, `Message-ID: <message_id>`
/// added first when `add_message_id`. Line endings are kept.
pub fn prepared(message: &[u8], message_id: Option<&str>) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 80);
    if let Some(id) = message_id {
        let eol: &[u8] = if message.windows(2).any(|w| w == b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        out.extend_from_slice(b"Message-ID: ");
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(eol);
    }
    let mut in_header = true;
    let mut dropping = false;
    let mut rest = message;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = &rest[..end];
        rest = &rest[end..];
        if in_header {
            let bare = line
                .strip_suffix(b"\n")
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .unwrap_or(line);
            if bare.is_empty() {
                in_header = false;
            } else if bare.starts_with(b" ") || bare.starts_with(b"\t") {
                if dropping {
                    continue;
                }
            } else {
                let name = bare.split(|b| *b == b':').next().unwrap_or(b"");
                let name = String::from_utf8_lossy(name);
                let name = name.trim();
                dropping = name.eq_ignore_ascii_case("Bcc")
                    || name.eq_ignore_ascii_case(ENVELOPE_HEADER)
                    || name.eq_ignore_ascii_case("Resent-Bcc");
                if dropping {
                    continue;
                }
            }
        }
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_of_real_headers() {
        assert_eq!(
            addresses("\"Doe, Jane\" <jane@x.org>, bob@y.org (Bob), team: a@z.org, b@z.org;"),
            vec!["jane@x.org", "bob@y.org", "a@z.org", "b@z.org"]
        );
        assert_eq!(addresses("undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(addresses("Name <n@x>"), vec!["n@x"]);
    }

    #[test]
    fn envelope_takes_to_cc_and_bcc_once_each() {
        let m = b"From: Me <me@x.org>\nTo: a@y.org,\n b@y.org\nCc: A@y.org\nBcc: secret@z.org\n\
                  Message-ID: <1@x>\n\nBcc: not a header\n";
        let e = envelope(m);
        assert_eq!(e.from.as_deref(), Some("me@x.org"));
        assert_eq!(e.recipients, vec!["a@y.org", "b@y.org", "secret@z.org"]);
        assert_eq!(e.message_id.as_deref(), Some("<1@x>"));
        let given = b"X-Imapdir-Envelope-To: only@y.org\nTo: a@y.org\n\nhi\n";
        assert_eq!(envelope(given).recipients, vec!["only@y.org"]);
        assert_eq!(envelope(b"To: a@y.org\n\n").from, None);
    }

    #[test]
    fn bcc_is_stripped_with_its_continuation_and_the_body_kept() {
        let m = b"From: me@x\r\nBcc: s@z,\r\n t@z\r\nTo: a@y\r\n\r\nBcc: body line\r\n";
        let out = prepared(m, Some("<new@x>"));
        assert_eq!(
            out,
            b"Message-ID: <new@x>\r\nFrom: me@x\r\nTo: a@y\r\n\r\nBcc: body line\r\n".to_vec()
        );
        assert_eq!(prepared(b"To: a\n\nx\n", None), b"To: a\n\nx\n".to_vec());
    }
}
