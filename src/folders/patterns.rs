//! The `folders` key: which folders an account syncs, as ordered patterns
//! in the manner of mbsync's `Patterns`.
//!
//! Patterns match folder names as `imapdir folders` shows them (UTF-8,
//! `/` between levels). `*` matches any characters, `%` any but `/`, a
//! leading `!` excludes, and the last pattern that matches decides; a
//! name no pattern matches is excluded. Written here rather than taken
//! from a glob crate because `%` and last-match-wins are IMAP's and
//! mbsync's, not a shell's.

/// An account's folder patterns, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPatterns {
    rules: Vec<Rule>,
    /// `sync --folder`: a second list a folder must also pass.
    narrowed: Option<Vec<Rule>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    include: bool,
    glob: Vec<char>,
    /// As configured, `!` included, to name in messages.
    text: String,
    /// Added by imapdir itself (the outbox's exclusion), not configured:
    /// never reported as matching nothing.
    implicit: bool,
}

/// Whether a folder is synced, and the pattern that decided it (`None`:
/// no pattern matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision<'a> {
    pub included: bool,
    pub by: Option<&'a str>,
}

impl Default for FolderPatterns {
    /// Every folder: `["*"]`.
    fn default() -> FolderPatterns {
        FolderPatterns {
            rules: vec![Rule {
                include: true,
                glob: vec!['*'],
                text: "*".into(),
                implicit: false,
            }],
            narrowed: None,
        }
    }
}

impl FolderPatterns {
    /// Checks the configured patterns; the error says which one is wrong.
    pub fn parse(patterns: &[String]) -> Result<FolderPatterns, String> {
        if patterns.is_empty() {
            return Err(
                "folders = [] would sync no folder; leave the key out to sync every folder".into(),
            );
        }
        Ok(FolderPatterns {
            rules: rules(patterns, "folders")?,
            narrowed: None,
        })
    }

    /// These patterns, and of the folders they include only those that
    /// `only` (`sync --folder`, the same syntax) includes too.
    pub fn narrowed(&self, only: &[String]) -> Result<FolderPatterns, String> {
        Ok(FolderPatterns {
            rules: self.rules.clone(),
            narrowed: Some(rules(only, "--folder")?),
        })
    }

    /// These patterns, then an exclusion of `glob` that imapdir adds itself
    /// (a local-only folder such as the outbox), whatever the user wrote.
    pub fn excluding(mut self, glob: &str) -> FolderPatterns {
        self.rules.push(Rule {
            include: false,
            glob: glob.chars().collect(),
            text: format!("!{glob}"),
            implicit: true,
        });
        self
    }

    /// Whether the patterns are the default, every folder.
    pub fn is_everything(&self) -> bool {
        *self == FolderPatterns::default()
    }

    /// Whether the folder `name` (as `imapdir folders` shows it) is synced.
    pub fn decide(&self, name: &str) -> Decision<'_> {
        let name: Vec<char> = name.chars().collect();
        let decision = decide(&self.rules, &name);
        match &self.narrowed {
            Some(only) if decision.included => decide(only, &name),
            _ => decision,
        }
    }

    /// The patterns that match none of `names`: likely typos.
    pub fn unmatched<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Vec<&str> {
        let names: Vec<Vec<char>> = names.into_iter().map(|n| n.chars().collect()).collect();
        self.rules
            .iter()
            .chain(self.narrowed.iter().flatten())
            .filter(|r| !r.implicit && !names.iter().any(|n| matches(&r.glob, n)))
            .map(|r| r.text.as_str())
            .collect()
    }
}

/// Checks each pattern of `key`; the error names the key and the pattern.
fn rules(patterns: &[String], key: &str) -> Result<Vec<Rule>, String> {
    let mut rules = Vec::with_capacity(patterns.len());
    for text in patterns {
        let (include, glob) = match text.strip_prefix('!') {
            Some(rest) => (false, rest),
            None => (true, text.as_str()),
        };
        if glob.is_empty() {
            return Err(format!("{key}: the pattern {text:?} names no folder"));
        }
        if glob.chars().any(char::is_control) {
            return Err(format!(
                "{key}: the pattern {text:?} holds a control character"
            ));
        }
        rules.push(Rule {
            include,
            glob: glob.chars().collect(),
            text: text.clone(),
            implicit: false,
        });
    }
    Ok(rules)
}

/// The last rule that matches decides; none matching excludes.
fn decide<'a>(rules: &'a [Rule], name: &[char]) -> Decision<'a> {
    match rules.iter().rev().find(|r| matches(&r.glob, name)) {
        Some(rule) => Decision {
            included: rule.include,
            by: Some(&rule.text),
        },
        None => Decision {
            included: false,
            by: None,
        },
    }
}

/// `*` any characters, `%` any characters but `/`, anything else itself.
/// Dynamic programming over both, so no pattern can take exponential time.
fn matches(glob: &[char], name: &[char]) -> bool {
    // reach[j]: the glob read so far matches name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &g in glob {
        let mut next = vec![false; name.len() + 1];
        match g {
            '*' | '%' => {
                for j in 0..=name.len() {
                    next[j] =
                        reach[j] || (j > 0 && next[j - 1] && (g == '*' || name[j - 1] != '/'));
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(p: &[&str]) -> FolderPatterns {
        FolderPatterns::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn globs_match_as_mbsync_patterns_do() {
        let cases = [
            ("*", "INBOX", true),
            ("*", "Lists/rust/announce", true),
            ("%", "Archive", true),
            ("%", "Archive/2023", false),
            ("Lists/%", "Lists/rust", true),
            ("Lists/%", "Lists/rust/announce", false),
            ("Lists/*", "Lists/rust/announce", true),
            ("Lists/*", "Lists", false),
            ("Lists*", "Lists", true),
            ("A*c*e", "Abcde", true),
            ("A*c*e", "Abcdf", false),
            ("%/%", "a/b", true),
            ("%/%", "a/b/c", false),
            ("INBOX", "INBOX", true),
            ("INBOX", "inbox", false),
            ("Entwürfe", "Entwürfe", true),
            ("Entw%rfe", "Entwürfe", true),
            ("", "", true),
        ];
        for (glob, name, want) in cases {
            let g: Vec<char> = glob.chars().collect();
            let n: Vec<char> = name.chars().collect();
            assert_eq!(matches(&g, &n), want, "{glob:?} against {name:?}");
        }
    }

    #[test]
    fn the_last_pattern_that_matches_decides() {
        let p = patterns(&["*", "!Junk", "!Lists/%", "Lists/keep"]);
        let decided = |name| {
            let d = p.decide(name);
            (d.included, d.by)
        };
        assert_eq!(decided("INBOX"), (true, Some("*")));
        assert_eq!(decided("Junk"), (false, Some("!Junk")));
        assert_eq!(decided("Junk/old"), (true, Some("*")));
        assert_eq!(decided("Lists/rust"), (false, Some("!Lists/%")));
        assert_eq!(decided("Lists/keep"), (true, Some("Lists/keep")));
        assert_eq!(decided("Lists/rust/deep"), (true, Some("*")));
        // No pattern matches: not synced.
        let only = patterns(&["INBOX", "Archive/*"]);
        assert!(!only.decide("Sent").included);
        assert_eq!(only.decide("Sent").by, None);
        assert!(only.decide("Archive/2023").included);
    }

    #[test]
    fn bad_patterns_are_errors_naming_them() {
        let parse = |p: &[&str]| {
            FolderPatterns::parse(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert!(parse(&[]).unwrap_err().contains("folders = []"));
        assert!(parse(&["*", "!"]).unwrap_err().contains("\"!\""));
        assert!(parse(&["a\nb"]).unwrap_err().contains("control"));
        assert!(FolderPatterns::default().is_everything());
        assert!(!patterns(&["*", "!Junk"]).is_everything());
    }

    #[test]
    fn sync_folder_narrows_what_the_account_includes() {
        let account = patterns(&["*", "!Junk"]);
        let only = account
            .narrowed(&["Lists/*".to_string(), "Junk".to_string()])
            .unwrap();
        assert!(only.decide("Lists/rust").included);
        assert!(!only.decide("Junk").included, "the account's ! still holds");
        assert_eq!(only.decide("Junk").by, Some("!Junk"));
        assert!(!only.decide("INBOX").included);
        assert!(!only.is_everything());
        assert_eq!(
            only.unmatched(["INBOX", "Lists/rust"]),
            vec!["!Junk", "Junk"]
        );
        assert!(account
            .narrowed(&["!".to_string()])
            .unwrap_err()
            .contains("--folder"));
    }

    #[test]
    fn patterns_that_match_nothing_are_found() {
        let p = patterns(&["*", "!Junk", "!Spam/%"]);
        assert_eq!(p.unmatched(["INBOX", "Junk", "Spam"]), vec!["!Spam/%"]);
        // imapdir's own exclusions exclude, and are never a typo.
        let p = p.excluding("Outbox").excluding("Outbox/*");
        assert!(!p.decide("Outbox").included);
        assert!(!p.decide("Outbox/failed").included);
        assert_eq!(p.unmatched(["INBOX", "Junk", "Spam"]), vec!["!Spam/%"]);
    }

    #[test]
    fn long_names_and_many_stars_stay_fast() {
        let glob: Vec<char> = "*a*a*a*a*a*a*a*a*a*a*b".chars().collect();
        let name: Vec<char> = "a".repeat(5000).chars().collect();
        assert!(!matches(&glob, &name));
    }
}
