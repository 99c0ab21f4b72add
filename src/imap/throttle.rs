//! Servers' ways of saying "not now": a connection limit ("too many
//! simultaneous connections", RFC 5530 `[LIMIT]`), a request to slow down
//! (Gmail's `[THROTTLED]`, Microsoft's "Request is throttled. Suggested
//! Backoff Time: N milliseconds"), a daily transfer cap ("Account exceeded
//! command or bandwidth limits") or a passing outage (`[UNAVAILABLE]`).
//! Read from the response text, since `imap-proto` knows none of these
//! codes and the providers put the words in the text anyway.

use std::time::Duration;

use super::ImapError;

/// What the server's refusal asks of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Throttle {
    /// No further connection now; the open ones may go on.
    TooManyConnections,
    /// Slow down or stop for now; `retry_after` where the server said.
    SlowDown { retry_after: Option<Duration> },
}

impl Throttle {
    /// Reads a NO, BAD or BYE text (response code included).
    pub fn of_text(text: &str) -> Option<Throttle> {
        let lower = text.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
        if has(&[
            "[limit]",
            "too many simultaneous connections",
            "too many connections",
            "maximum number of connections",
            "connection limit",
        ]) {
            return Some(Throttle::TooManyConnections);
        }
        if has(&[
            "[throttled]",
            "throttled",
            "[unavailable]",
            "bandwidth limits",
            "command or bandwidth",
            "try again later",
            "rate limit",
        ]) {
            return Some(Throttle::SlowDown {
                retry_after: suggested_backoff(&lower),
            });
        }
        None
    }

    /// Whether `err` is a server saying "not now".
    pub fn of_error(err: &ImapError) -> Option<Throttle> {
        match err {
            ImapError::Bye(Some(text)) | ImapError::Auth(text) => Throttle::of_text(text),
            ImapError::No { text, .. } => Throttle::of_text(text),
            _ => None,
        }
    }
}

/// Microsoft's "Suggested Backoff Time: 14955 milliseconds".
fn suggested_backoff(lower: &str) -> Option<Duration> {
    let rest = &lower[lower.find("backoff time:")? + "backoff time:".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let n: u64 = digits.parse().ok()?;
    let unit = rest.trim_start()[digits.len()..].trim_start();
    Some(if unit.starts_with("ms") || unit.starts_with("milli") {
        Duration::from_millis(n)
    } else {
        Duration::from_secs(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_refusals_are_recognised() {
        let too_many = Some(Throttle::TooManyConnections);
        for text in [
            "[ALERT] Too many simultaneous connections. (Failure)",
            "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=2)",
            "[LIMIT] Too many connections",
        ] {
            assert_eq!(Throttle::of_text(text), too_many, "{text}");
        }
        let slow = Some(Throttle::SlowDown { retry_after: None });
        for text in [
            "[THROTTLED] Please slow down",
            "[UNAVAILABLE] Temporary System Problem",
            "[ALERT] Account exceeded command or bandwidth limits. (Failure)",
        ] {
            assert_eq!(Throttle::of_text(text), slow, "{text}");
        }
        assert_eq!(
            Throttle::of_text("Request is throttled. Suggested Backoff Time: 14955 milliseconds"),
            Some(Throttle::SlowDown {
                retry_after: Some(Duration::from_millis(14955))
            })
        );
        for text in [
            "[NONEXISTENT] Mailbox doesn't exist",
            "Invalid credentials",
            "",
        ] {
            assert_eq!(Throttle::of_text(text), None, "{text}");
        }
    }

    #[test]
    fn errors_carry_the_refusal() {
        let bye = ImapError::Bye(Some("[UNAVAILABLE] Temporary System Problem".into()));
        assert!(matches!(
            Throttle::of_error(&bye),
            Some(Throttle::SlowDown { .. })
        ));
        let no = ImapError::No {
            command: "UID FETCH".into(),
            text: "[THROTTLED] slow down".into(),
        };
        assert!(Throttle::of_error(&no).is_some());
        assert_eq!(Throttle::of_error(&ImapError::Bye(None)), None);
    }
}
