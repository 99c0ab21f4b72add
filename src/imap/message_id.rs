//! Extracting the Message-ID from fetched header bytes.

/// The value of the first `Message-ID` header in `header`, unfolded and
/// trimmed (angle brackets kept); `None` when absent or empty.
pub fn extract_message_id(header: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(header);
    let mut value: Option<String> = None;
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            // End of the header block.
            if value.is_some() {
                break;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push_str(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((name, rest)) = line.split_once(':') {
            if name.trim_end().eq_ignore_ascii_case("Message-ID") {
                value = Some(rest.to_string());
            }
        }
    }
    let value = value?;
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_simple_and_folded_ids() {
        assert_eq!(
            extract_message_id(b"Message-ID: <a@b.c>\r\n\r\n").as_deref(),
            Some("<a@b.c>")
        );
        assert_eq!(
            extract_message_id(b"message-id:\r\n   <folded@x.y>  \r\n\r\n").as_deref(),
            Some("<folded@x.y>")
        );
        assert_eq!(
            extract_message_id(b"Subject: hi\r\nMessage-Id: <1@x>\r\nX: y\r\n\r\n").as_deref(),
            Some("<1@x>")
        );
    }

    #[test]
    fn missing_or_empty_is_none() {
        assert_eq!(extract_message_id(b"\r\n"), None);
        assert_eq!(extract_message_id(b""), None);
        assert_eq!(extract_message_id(b"Message-ID:   \r\n\r\n"), None);
        assert_eq!(extract_message_id(b"X-Message-ID: <no@x>\r\n\r\n"), None);
    }
}
