//! A date and count window (`since`, `max_messages`, `keep_flagged`,
//! `keep_unread`): which server messages not yet synced are downloaded.
//!
//! A window only ever holds a download back. A message outside it that is
//! already paired keeps syncing its flags, and one that ages out is never
//! deleted on either side: leaving the window is not deleting. The server
//! decides what is inside (`UID SEARCH SINCE`, and UID order for the
//! newest N), so the dates are the server's INTERNALDATEs.
//!
//! Pure: today's date comes in as a day number, never from the clock.

use std::fmt;

use super::{Flags, RemoteMessage};

/// The oldest date a window takes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// `since = "2024-01-01"`: a fixed date.
    Date { year: i32, month: u32, day: u32 },
    /// `since = "90d"`: that many days before the day of the run.
    DaysAgo(u32),
}

impl Since {
    /// Parses `YYYY-MM-DD` or `<N>d`; the error says what is accepted.
    pub fn parse(text: &str) -> Result<Since, String> {
        let expected = "is not a date (YYYY-MM-DD, e.g. \"2024-01-01\") or a number of days \
                        (e.g. \"90d\")";
        let bad = || format!("since = {text:?} {expected}");
        let t = text.trim();
        if let Some(days) = t.strip_suffix('d') {
            if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            return match days.parse::<u32>() {
                Ok(n) if (1..=100_000).contains(&n) => Ok(Since::DaysAgo(n)),
                _ => Err(format!(
                    "since = {text:?} must be between 1d and 100000d days"
                )),
            };
        }
        let parts: Vec<&str> = t.split('-').collect();
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(y, 4) || !digits(m, 2) || !digits(d, 2) {
            return Err(bad());
        }
        let (year, month, day) = (
            y.parse::<i32>().map_err(|_| bad())?,
            m.parse::<u32>().map_err(|_| bad())?,
            d.parse::<u32>().map_err(|_| bad())?,
        );
        if year < 1900 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month)
        {
            return Err(format!("since = {text:?} is not a day of the calendar"));
        }
        Ok(Since::Date { year, month, day })
    }

    /// The first day inside the window, as a day number (days since
    /// 1970-01-01), for a run on day `today`.
    pub fn first_day(self, today: i64) -> i64 {
        match self {
            Since::Date { year, month, day } => days_from_civil(year, month, day),
            Since::DaysAgo(n) => today - i64::from(n),
        }
    }
}

impl fmt::Display for Since {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Since::Date { year, month, day } => write!(f, "{year:04}-{month:02}-{day:02}"),
            Since::DaysAgo(n) => write!(f, "{n}d"),
        }
    }
}

/// An account's window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub since: Option<Since>,
    /// The newest N messages of each folder (highest UIDs).
    pub max_messages: Option<u32>,
    /// Flagged messages come in whatever their age or rank.
    pub keep_flagged: bool,
    /// Unread messages come in whatever their age or rank.
    pub keep_unread: bool,
}

impl Window {
    /// The window as recorded with a folder's state: a change of it is a
    /// change of the folder, which is then listed again in full, so that a
    /// widened window downloads what it now takes in. A relative `since`
    /// is recorded as written: its date moves forward only, which takes
    /// nothing new in.
    pub fn spec(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.since {
            parts.push(format!("since={s}"));
        }
        if let Some(n) = self.max_messages {
            parts.push(format!("max_messages={n}"));
        }
        if self.keep_flagged {
            parts.push("keep_flagged".into());
        }
        if self.keep_unread {
            parts.push("keep_unread".into());
        }
        parts.join(" ")
    }

    /// Whether the message comes in by its flags alone.
    pub fn kept_in_by_flags(&self, m: &RemoteMessage) -> bool {
        (self.keep_flagged && m.flags.contains(Flags::FLAGGED))
            || (self.keep_unread && !m.flags.contains(Flags::SEEN))
    }

    /// The `UID SEARCH` criteria for the messages inside the window by date
    /// and rank, on day `today`, in a folder of `exists` messages (the
    /// newest N are the last N sequence numbers, which are in UID order).
    pub fn search_criteria(&self, today: i64, exists: u32) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.max_messages {
            let first = exists.saturating_sub(n).saturating_add(1);
            parts.push(format!("{first}:*"));
        }
        if let Some(s) = self.since {
            parts.push(format!("SINCE {}", imap_date(s.first_day(today))));
        }
        if parts.is_empty() {
            parts.push("ALL".into());
        }
        parts.join(" ")
    }
}

/// Today's day number in UTC.
pub fn today() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 86_400) as i64
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A day as IMAP writes dates in SEARCH (`1-Jan-2024`).
fn imap_date(days: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(days.max(0));
    format!("{d}-{}-{y}", MONTHS[(m - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Uid;

    #[test]
    fn dates_and_days_parse() {
        assert_eq!(
            Since::parse("2024-01-01"),
            Ok(Since::Date {
                year: 2024,
                month: 1,
                day: 1
            })
        );
        assert_eq!(
            Since::parse("2024-02-29").unwrap().to_string(),
            "2024-02-29"
        );
        assert_eq!(Since::parse("90d"), Ok(Since::DaysAgo(90)));
        assert_eq!(Since::parse(" 7d ").unwrap().to_string(), "7d");
    }

    #[test]
    fn bad_input_names_the_key_and_the_value() {
        for bad in [
            "",
            "d",
            "0d",
            "-5d",
            "5 d",
            "1.5d",
            "90",
            "yesterday",
            "2024-1-1",
            "2024/01/01",
            "2023-02-29",
            "2024-13-01",
            "2024-04-31",
            "2024-00-10",
            "24-01-01",
            "2024-01-01x",
            "99999999999d",
        ] {
            let e = Since::parse(bad).unwrap_err();
            assert!(e.starts_with("since = "), "{bad}: {e}");
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }

    #[test]
    fn day_numbers_round_trip_through_the_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 1, 1), 19_723);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        for days in (-1000..40_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y as i32, m, d), days);
        }
        assert_eq!(imap_date(19_723), "1-Jan-2024");
        assert_eq!(imap_date(days_from_civil(2023, 12, 31)), "31-Dec-2023");
    }

    #[test]
    fn criteria_combine_rank_and_date() {
        let today = days_from_civil(2024, 3, 31);
        let mut w = Window {
            since: Some(Since::DaysAgo(30)),
            max_messages: None,
            keep_flagged: false,
            keep_unread: false,
        };
        assert_eq!(w.search_criteria(today, 10), "SINCE 1-Mar-2024");
        w.max_messages = Some(3);
        assert_eq!(w.search_criteria(today, 10), "8:* SINCE 1-Mar-2024");
        w.since = None;
        assert_eq!(w.search_criteria(today, 2), "1:*");
        assert_eq!(w.spec(), "max_messages=3");
        w.keep_unread = true;
        w.since = Some(Since::parse("2024-01-01").unwrap());
        assert_eq!(w.spec(), "since=2024-01-01 max_messages=3 keep_unread");
    }

    #[test]
    fn flags_keep_messages_in() {
        let m = |letters: &str| RemoteMessage {
            uid: Uid(1),
            flags: letters
                .chars()
                .filter_map(Flags::from_maildir_letter)
                .fold(Flags::empty(), Flags::union),
            size: None,
            modseq: None,
        };
        let mut w = Window {
            since: Some(Since::DaysAgo(1)),
            max_messages: None,
            keep_flagged: true,
            keep_unread: false,
        };
        assert!(w.kept_in_by_flags(&m("FS")));
        assert!(!w.kept_in_by_flags(&m("S")));
        assert!(!w.kept_in_by_flags(&m("")));
        w.keep_unread = true;
        assert!(w.kept_in_by_flags(&m("")));
        assert!(!w.kept_in_by_flags(&m("RS")));
    }
}
