//! What the sync engine reads from message files besides their bytes: the
//! Message-ID (to pair files with server messages) and the mtime (the
//! INTERNALDATE given to APPEND).

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;

/// Headers larger than this are not worth reading further for a Message-ID.
const HEADER_CAP: usize = 256 * 1024;

/// Reads the header block (up to the first empty line, at most 256 KiB)
/// and returns the first Message-ID value, unfolded and trimmed: the
/// `<…>` part if there is one, else the whole non-empty value.
pub fn read_message_id(file: &mut impl Read) -> io::Result<Option<String>> {
    let header = read_header_block(file)?;
    let mut lines = header.split(|&b| b == b'\n').map(strip_cr).peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon]
            .trim_ascii_end()
            .eq_ignore_ascii_case(b"message-id")
        {
            continue;
        }
        let mut value = line[colon + 1..].to_vec();
        while let Some(next) = lines.peek() {
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            value.extend_from_slice(next);
            lines.next();
        }
        let value = String::from_utf8_lossy(&value);
        let value = value.trim();
        if let (Some(open), Some(close)) = (value.find('<'), value.find('>')) {
            if open < close {
                return Ok(Some(value[open..=close].to_string()));
            }
        }
        return Ok((!value.is_empty()).then(|| value.to_string()));
    }
    Ok(None)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads until the blank line ending the header block, EOF, or the cap.
pub(super) fn read_header_block(file: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut header = Vec::with_capacity(8 * 1024);
    let mut chunk = [0u8; 8 * 1024];
    let mut searched = 0usize;
    while header.len() < HEADER_CAP {
        let want = chunk.len().min(HEADER_CAP - header.len());
        let len = match file.read(&mut chunk[..want]) {
            Ok(0) => break,
            Ok(len) => len,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        header.extend_from_slice(&chunk[..len]);
        // Restart the search a little before the new bytes so a "\n\r\n"
        // split across reads is found.
        if let Some(end) = find_header_end(&header, searched.saturating_sub(2)) {
            header.truncate(end);
            break;
        }
        searched = header.len();
    }
    Ok(header)
}

/// Offset just past the line break that precedes the blank line, looking
/// at line breaks from `from` on.
fn find_header_end(bytes: &[u8], from: usize) -> Option<usize> {
    if bytes.starts_with(b"\n") || bytes.starts_with(b"\r\n") {
        return Some(0);
    }
    (from..bytes.len()).find_map(|i| {
        let after = &bytes[i..];
        (after.starts_with(b"\n\n") || after.starts_with(b"\n\r\n")).then_some(i + 1)
    })
}

/// Seconds since the epoch of the file's mtime: the INTERNALDATE for APPEND
/// (mail tools set it to the delivery time).
pub fn mtime_secs(file: &File) -> io::Result<i64> {
    Ok(file.metadata()?.mtime())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Option<String> {
        read_message_id(&mut text.as_bytes()).unwrap()
    }

    #[test]
    fn finds_message_ids() {
        assert_eq!(
            id("From: a\nMessage-ID: <x@y>\n\nbody"),
            Some("<x@y>".into())
        );
        assert_eq!(
            id("message-id:<x@y>\r\nSubject: s\r\n\r\n"),
            Some("<x@y>".into())
        );
        assert_eq!(
            id("Message-Id:\n <folded@y>\nTo: b\n\n"),
            Some("<folded@y>".into())
        );
        assert_eq!(id("Message-ID: <a@b> (comment)\n\n"), Some("<a@b>".into()));
        assert_eq!(id("Message-ID: bare@id\n\n"), Some("bare@id".into()));
        assert_eq!(id("Message-ID:   \n\n"), None);
        assert_eq!(id("Subject: x\n\nMessage-ID: <in@body>\n"), None);
        assert_eq!(id("\nMessage-ID: <in@body>\n"), None);
        assert_eq!(
            id("X-Message-ID: <no@x>\nMessage-ID: <yes@x>\n"),
            Some("<yes@x>".into())
        );
        assert_eq!(id(""), None);
    }

    #[test]
    fn header_end_is_found_across_reads() {
        // A reader returning one byte per call.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = Trickle(b"Subject: a\r\n\r\nMessage-ID: <body@x>\r\n");
        assert_eq!(read_message_id(&mut r).unwrap(), None);
        let mut r = Trickle(b"Message-ID: <h@x>\n\nMore");
        assert_eq!(read_message_id(&mut r).unwrap(), Some("<h@x>".into()));
    }

    #[test]
    fn header_reading_stops_at_the_cap() {
        let mut text = "X-Long: ".to_string();
        text.push_str(&"a".repeat(HEADER_CAP));
        text.push_str("\nMessage-ID: <late@x>\n\n");
        assert_eq!(id(&text), None);
    }

    #[test]
    fn mtime_is_read() {
        let file = tempfile::tempfile().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((mtime_secs(&file).unwrap() - now).abs() < 60);
    }
}
