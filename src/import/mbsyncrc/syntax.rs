//! The mbsyncrc file cut into directives and sections, as mbsync reads it.

use crate::import::Unmapped;

/// One configuration line: its keyword and arguments.
#[derive(Debug, Clone)]
pub(super) struct Directive {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) args: Vec<String>,
}

impl Directive {
    pub(super) fn is(&self, key: &str) -> bool {
        self.key.eq_ignore_ascii_case(key)
    }

    pub(super) fn value(&self) -> String {
        self.args.join(" ")
    }

    /// The directive as the user wrote it, for messages (secrets hidden).
    pub(super) fn shown(&self) -> String {
        if self.is("Pass") {
            format!("{} <hidden>", self.key)
        } else if self.args.is_empty() {
            self.key.clone()
        } else {
            format!("{} {}", self.key, self.value())
        }
    }

    pub(super) fn unmapped(&self, why: impl Into<String>) -> Unmapped {
        Unmapped::new(self.line, self.shown(), why)
    }

    pub(super) fn yes(&self) -> Option<bool> {
        match self.value().to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    ImapAccount,
    ImapStore,
    MaildirStore,
    Channel,
    Group,
}

#[derive(Debug, Clone)]
pub(super) struct Section {
    pub(super) kind: Kind,
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) directives: Vec<Directive>,
    /// The section's own line, for messages.
    pub(super) head: Directive,
}

/// The file cut into global directives and sections.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub(super) globals: Vec<Directive>,
    pub(super) sections: Vec<Section>,
}

/// Splits a line into arguments the way mbsync does; `None` for an empty
/// or comment line.
pub(super) fn split_line(text: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None | Some('#') => break,
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        arg.push(next);
                    }
                }
                '"' => quoted = !quoted,
                c if c.is_whitespace() && !quoted => break,
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    (!args.is_empty()).then_some(args)
}

pub(super) fn section_kind(key: &str) -> Option<Kind> {
    [
        ("IMAPAccount", Kind::ImapAccount),
        ("IMAPStore", Kind::ImapStore),
        ("MaildirStore", Kind::MaildirStore),
        ("Channel", Kind::Channel),
        ("Group", Kind::Group),
    ]
    .into_iter()
    .find(|(k, _)| key.eq_ignore_ascii_case(k))
    .map(|(_, kind)| kind)
}

pub(super) fn parse_file(text: &str) -> Result<Parsed, String> {
    let mut parsed = Parsed::default();
    let mut current: Option<Section> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let blank = raw.trim().is_empty();
        let Some(mut args) = split_line(raw) else {
            if blank {
                parsed.sections.extend(current.take());
            }
            continue;
        };
        let key = args.remove(0);
        let d = Directive { line, key, args };
        // Inside a Group, "Channel x" names a member, not a new section.
        let in_group = current.as_ref().is_some_and(|s| s.kind == Kind::Group);
        match section_kind(&d.key).filter(|k| !(in_group && *k == Kind::Channel)) {
            Some(kind) => {
                parsed.sections.extend(current.take());
                let Some(name) = d.args.first().filter(|n| !n.is_empty()) else {
                    return Err(format!("{line}: {} needs a name", d.key));
                };
                current = Some(Section {
                    kind,
                    name: name.clone(),
                    line,
                    directives: Vec::new(),
                    head: d.clone(),
                });
            }
            None => match &mut current {
                Some(section) => section.directives.push(d),
                None => parsed.globals.push(d),
            },
        }
    }
    parsed.sections.extend(current);
    Ok(parsed)
}
