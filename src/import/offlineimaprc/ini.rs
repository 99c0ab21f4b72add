//! The offlineimaprc file as Python's configparser reads it: sections,
//! entries, continuation lines, `[DEFAULT]` and `%(key)s` interpolation;
//! and the Python lists some values are.

use crate::import::Unmapped;

#[derive(Debug, Clone)]
pub(super) struct Entry {
    line: usize,
    pub(super) key: String,
    raw: String,
}

#[derive(Debug, Clone)]
pub(super) struct Section {
    pub(super) name: String,
    pub(super) line: usize,
    pub(super) entries: Vec<Entry>,
}

#[derive(Debug, Default)]
pub(super) struct Ini {
    defaults: Vec<Entry>,
    pub(super) sections: Vec<Section>,
}

pub(super) fn parse_ini(text: &str) -> Result<Ini, String> {
    let mut ini = Ini::default();
    // Where new entries go: None for [DEFAULT]; Some(i) for sections[i].
    let mut current: Option<Option<usize>> = None;
    // The entry continuation lines extend, with its key line's indent.
    let mut last: Option<usize> = None;
    let mut last_indent = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        let indent = raw.len() - raw.trim_start().len();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if let (Some(target), Some(idx)) = (current, last) {
            if indent > last_indent {
                let entries = match target {
                    None => &mut ini.defaults,
                    Some(s) => &mut ini.sections[s].entries,
                };
                let entry = &mut entries[idx];
                entry.raw.push('\n');
                entry.raw.push_str(trimmed);
                continue;
            }
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') && trimmed.len() > 2 {
            let name = trimmed[1..trimmed.len() - 1].to_string();
            last = None;
            if name == "DEFAULT" {
                current = Some(None);
                continue;
            }
            if ini.sections.iter().any(|s| s.name == name) {
                return Err(format!("{line}: section [{name}] is defined twice"));
            }
            ini.sections.push(Section {
                name,
                line,
                entries: Vec::new(),
            });
            current = Some(Some(ini.sections.len() - 1));
            continue;
        }
        let Some(target) = current else {
            return Err(format!("{line}: {trimmed:?} comes before any [section]"));
        };
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(format!(
                "{line}: {trimmed:?} is neither a [section], a key = value line nor a comment"
            ));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(format!("{line}: a value without a key"));
        }
        let value = trimmed[at + 1..].trim().to_string();
        let entries = match target {
            None => &mut ini.defaults,
            Some(s) => &mut ini.sections[s].entries,
        };
        if entries.iter().any(|e| e.key == key) {
            return Err(format!("{line}: {key} is set twice in this section"));
        }
        entries.push(Entry {
            line,
            key,
            raw: value,
        });
        last = Some(entries.len() - 1);
        last_indent = indent;
    }
    Ok(ini)
}

/// A looked-up setting: where it is and its value after interpolation
/// (`Err` with the reason when `%(...)s` could not be resolved).
#[derive(Debug, Clone)]
pub(super) struct Value {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) value: Result<String, String>,
}

impl Value {
    pub(super) fn shown(&self) -> String {
        let hidden = self.key == "remotepass";
        match (&self.value, hidden) {
            (_, true) => format!("{} = <hidden>", self.key),
            (Ok(v), _) => format!("{} = {v}", self.key),
            (Err(_), _) => self.key.clone(),
        }
    }

    pub(super) fn unmapped(&self, why: impl Into<String>) -> Unmapped {
        Unmapped::new(self.line, self.shown(), why)
    }

    pub(super) fn text(&self) -> &str {
        self.value.as_deref().unwrap_or("")
    }

    /// configparser's booleans.
    pub(super) fn boolean(&self) -> Option<bool> {
        match self.text().to_ascii_lowercase().as_str() {
            "1" | "yes" | "true" | "on" => Some(true),
            "0" | "no" | "false" | "off" => Some(false),
            _ => None,
        }
    }
}

impl Ini {
    pub(super) fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    fn raw<'a>(&'a self, section: &'a Section, key: &str) -> Option<&'a Entry> {
        section
            .entries
            .iter()
            .find(|e| e.key == key)
            .or_else(|| self.defaults.iter().find(|e| e.key == key))
    }

    pub(super) fn get(&self, section: &Section, key: &str) -> Option<Value> {
        let entry = self.raw(section, key)?;
        Some(Value {
            line: entry.line,
            key: entry.key.clone(),
            value: self.interpolate(section, &entry.raw, 0),
        })
    }

    /// Python's BasicInterpolation: `%(key)s` from the section or
    /// `[DEFAULT]`, `%%` for `%`.
    fn interpolate(&self, section: &Section, raw: &str, depth: usize) -> Result<String, String> {
        if depth > 10 {
            return Err("interpolation nested too deeply".into());
        }
        let mut out = String::new();
        let mut rest = raw;
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(r) = after.strip_prefix('%') {
                out.push('%');
                rest = r;
            } else if let Some(r) = after.strip_prefix('(') {
                let close = r
                    .find(")s")
                    .ok_or_else(|| format!("bad interpolation in {raw:?}"))?;
                let name = r[..close].to_ascii_lowercase();
                let entry = self
                    .raw(section, &name)
                    .ok_or_else(|| format!("%({name})s names no setting"))?;
                out.push_str(&self.interpolate(section, &entry.raw, depth + 1)?);
                rest = &r[close + 2..];
            } else {
                return Err(format!("'%' must be followed by '%' or '(' in {raw:?}"));
            }
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// `['INBOX', "Sent"]`, Python's list of strings, as OfflineIMAP's
/// `idlefolders` takes it.
pub(super) fn python_list(text: &str) -> Option<Vec<String>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let q = s.chars().next()?;
            if (q == '\'' || q == '"') && s.len() >= 2 && s.ends_with(q) {
                let body = &s[1..s.len() - 1];
                (!body.contains(['\\', q])).then(|| body.to_string())
            } else {
                None
            }
        })
        .collect()
}
