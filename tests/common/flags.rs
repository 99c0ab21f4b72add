//! Mapping between IMAP flags and Maildir info letters, shared by the
//! server-side and the local message types so both compare alike.

/// Maildir info letters for the standard IMAP flags, sorted; keywords
/// (whose letters depend on the folder) left out.
pub fn imap_flags_to_letters<S: AsRef<str>>(flags: &[S]) -> String {
    let mut letters: Vec<char> = flags
        .iter()
        .filter_map(|f| match f.as_ref().to_ascii_lowercase().as_str() {
            "\\seen" => Some('S'),
            "\\answered" => Some('R'),
            "\\flagged" => Some('F'),
            "\\deleted" => Some('T'),
            "\\draft" => Some('D'),
            "$forwarded" => Some('P'),
            _ => None,
        })
        .collect();
    letters.sort_unstable();
    letters.dedup();
    letters.into_iter().collect()
}

/// IMAP flag list (space separated) for Maildir info letters.
pub fn letters_to_imap_flags(letters: &str) -> String {
    letters
        .chars()
        .filter_map(|c| match c {
            'S' => Some("\\Seen"),
            'R' => Some("\\Answered"),
            'F' => Some("\\Flagged"),
            'T' => Some("\\Deleted"),
            'D' => Some("\\Draft"),
            'P' => Some("$Forwarded"),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
