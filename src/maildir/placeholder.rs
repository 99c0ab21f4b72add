//! Placeholders (`max_message_size`): a message too large to download is
//! stored as its real header and a short text/plain body saying its size
//! and how to get it, marked with [`PLACEHOLDER_HEADER`].
//!
//! The mark is what keeps a placeholder from ever being uploaded: a copy
//! of one, or one met again after the state was lost, is never taken for
//! a new local message.

use std::io::{self, Read};

/// The header that marks a placeholder; its value is the real size.
pub const PLACEHOLDER_HEADER: &str = "X-Imapdir-Placeholder";

/// Headers of the real message that describe its body, which the
/// placeholder's body is not; kept under `X-Imapdir-Original-` names.
const BODY_HEADERS: [&str; 2] = ["content-type", "content-transfer-encoding"];

/// The placeholder of a message of `size` bytes with this `header` (as the
/// server sent it, with or without the blank line), ending in LF lines.
/// `fetch` is the command that downloads the whole message.
pub fn compose(header: &[u8], size: u64, fetch: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(header);
    let mut out = String::with_capacity(header.len() + 512);
    let mut kept_aside = String::new();
    // Where the current field's lines go: the placeholder's header, the
    // fields set aside, or nowhere (an older mark).
    #[derive(PartialEq)]
    enum To {
        Header,
        Aside,
        Dropped,
    }
    let mut to = To::Header;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if !line.starts_with([' ', '\t']) {
            let name = line.split(':').next().unwrap_or("").trim();
            to = if name.eq_ignore_ascii_case(PLACEHOLDER_HEADER) {
                To::Dropped
            } else if BODY_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                kept_aside.push_str("X-Imapdir-Original-");
                To::Aside
            } else {
                To::Header
            };
        }
        match to {
            To::Header => {
                out.push_str(line);
                out.push('\n');
            }
            To::Aside => {
                kept_aside.push_str(line);
                kept_aside.push('\n');
            }
            To::Dropped => {}
        }
    }
    out.push_str(&kept_aside);
    out.push_str(&format!("{PLACEHOLDER_HEADER}: {size}\n"));
    out.push_str("Content-Type: text/plain; charset=us-ascii\n");
    out.push_str("Content-Transfer-Encoding: 7bit\n\n");
    out.push_str(&format!(
        "This message is {} ({size} bytes), larger than max_message_size: it was\n\
         left on the server. To download it, flag this message, or run\n\n    {fetch}\n\n\
         and sync again.\n",
        human_size(size)
    ));
    out.into_bytes()
}

/// The real size a placeholder's mark gives, or `None` for a message that
/// is not a placeholder.
pub fn placeholder_size(file: &mut impl Read) -> io::Result<Option<u64>> {
    let header = super::message::read_header_block(file)?;
    let text = String::from_utf8_lossy(&header);
    Ok(text.split('\n').find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case(PLACEHOLDER_HEADER)
            .then(|| value.trim().parse().ok())
            .flatten()
    }))
}

fn human_size(size: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)];
    for (unit, scale) in UNITS {
        if size >= scale {
            return format!("{:.1} {unit}", size as f64 / scale as f64);
        }
    }
    format!("{size} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_header_stays_and_the_body_headers_are_set_aside() {
        let header = b"From: a@example.org\r\nSubject: big\r\n files\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"x\"\r\nContent-Transfer-Encoding: 7bit\r\nMessage-ID: <m@x>\r\n\r\n";
        let p = String::from_utf8(compose(header, 3 << 20, "imapdir fetch a INBOX 7")).unwrap();
        let (head, body) = p.split_once("\n\n").unwrap();
        assert!(
            head.starts_with("From: a@example.org\nSubject: big\n files\n"),
            "{head}"
        );
        assert!(head.contains("Message-ID: <m@x>\n"));
        assert!(
            head.contains("X-Imapdir-Original-Content-Type: multipart/mixed;\n\tboundary=\"x\"\n")
        );
        assert!(head.contains("X-Imapdir-Original-Content-Transfer-Encoding: 7bit\n"));
        assert!(head.contains("X-Imapdir-Placeholder: 3145728\n"));
        assert_eq!(head.matches("Content-Type:").count(), 2, "{head}");
        assert!(head.contains("\nContent-Type: text/plain; charset=us-ascii"));
        assert!(!p.contains('\r'));
        assert!(body.contains("3.0 MB (3145728 bytes)"), "{body}");
        assert!(body.contains("imapdir fetch a INBOX 7"));
        assert_eq!(placeholder_size(&mut p.as_bytes()).unwrap(), Some(3145728));
        assert_eq!(placeholder_size(&mut &header[..]).unwrap(), None);
    }

    #[test]
    fn a_placeholder_of_a_placeholder_has_one_mark() {
        let first = compose(b"Subject: s\n", 10, "f");
        let second = String::from_utf8(compose(&first, 20, "f")).unwrap();
        assert_eq!(second.matches(PLACEHOLDER_HEADER).count(), 1, "{second}");
        assert_eq!(placeholder_size(&mut second.as_bytes()).unwrap(), Some(20));
    }
}
