//! Where a folder's directory is under the Maildir root, per layout:
//! nested directories (`verbatim`), Dovecot's and Courier's `maildir++`,
//! or mbsync's `flat` (`Flatten`).

use std::path::{Path, PathBuf};

use super::names::{encode_mutf7, local_path, spelling_of, Spelling};
use crate::model::{Layout, LocalNames};

/// The directory of a folder whose on-disk components are `disk`; an error
/// says why the layout cannot hold that name (a component holding the
/// layout's separator would read back as two levels).
pub fn folder_path(root: &Path, layout: Layout, disk: &[String]) -> Result<PathBuf, String> {
    let joined = |separator: char| -> Result<String, String> {
        if let Some(c) = disk.iter().find(|c| c.contains(separator)) {
            return Err(format!(
                "its name {c:?} contains {separator:?}, which the {} layout uses between levels",
                layout.describe()
            ));
        }
        Ok(disk.join(&separator.to_string()))
    };
    match layout {
        Layout::Verbatim => Ok(local_path(root, disk)),
        Layout::MaildirPlusPlus if disk == ["INBOX"] => Ok(root.to_path_buf()),
        Layout::MaildirPlusPlus => Ok(root.join(format!(".{}", joined('.')?))),
        Layout::Flat(_) if disk == ["INBOX"] => Ok(root.join("INBOX")),
        Layout::Flat(separator) => Ok(root.join(joined(separator)?)),
    }
}

/// The on-disk components a flat or Maildir++ directory name stands for:
/// the inverse of [`folder_path`] (`None` for a name that is none of the
/// layout's folders).
pub fn components_of(layout: Layout, name: &str) -> Option<Vec<String>> {
    match layout {
        Layout::Verbatim => Some(vec![name.to_string()]),
        Layout::MaildirPlusPlus => {
            let rest = name.strip_prefix('.')?;
            (!rest.is_empty()).then(|| rest.split('.').map(str::to_string).collect())
        }
        Layout::Flat(separator) => Some(name.split(separator).map(str::to_string).collect()),
    }
}

/// The directory moves that take the folders `disk` (on-disk components,
/// as found in the `from` layout) to the `to` layout, in an order where no
/// move carries another folder along: children before their parents out
/// of nested directories, parents before their children into them. An
/// error names a folder the new layout cannot hold, before anything moved.
///
/// Each directory is spelt as a first sync in the new layout spells it:
/// in modified UTF-7 for `maildir++`, whose readers (Dovecot, Courier)
/// expect it, in UTF-8 otherwise, unless `local_names` says which.
pub fn relayout_moves(
    root: &Path,
    from: Layout,
    to: Layout,
    names: LocalNames,
    disk: &[Vec<String>],
) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mutf7 = match names {
        LocalNames::Utf8 => false,
        LocalNames::ModifiedUtf7 => true,
        LocalNames::Keep => to == Layout::MaildirPlusPlus,
    };
    let mut ordered: Vec<&Vec<String>> = disk.iter().collect();
    ordered.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    if from == Layout::Verbatim {
        ordered.reverse();
    }
    let mut moves = Vec::new();
    for components in ordered {
        let source = folder_path(root, from, components)?;
        let spelt: Vec<String> = components
            .iter()
            .map(|c| {
                let name = match spelling_of(c) {
                    Spelling::ModifiedUtf7(decoded) => decoded,
                    _ => c.clone(),
                };
                if mutf7 && components != &["INBOX"] {
                    encode_mutf7(&name)
                } else {
                    name
                }
            })
            .collect();
        let target = folder_path(root, to, &spelt)
            .map_err(|e| format!("folder {}: {e}", components.join("/")))?;
        if source != target {
            moves.push((source, target));
        }
    }
    Ok(moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_layout_places_inbox_and_nested_folders() {
        let root = Path::new("/m");
        let cases = [
            (Layout::Verbatim, "/m/INBOX", "/m/Archive/2023"),
            (Layout::MaildirPlusPlus, "/m", "/m/.Archive.2023"),
            (Layout::Flat('.'), "/m/INBOX", "/m/Archive.2023"),
            (Layout::Flat('_'), "/m/INBOX", "/m/Archive_2023"),
        ];
        for (layout, inbox, nested) in cases {
            assert_eq!(
                folder_path(root, layout, &comps(&["INBOX"])).unwrap(),
                PathBuf::from(inbox)
            );
            let path = folder_path(root, layout, &comps(&["Archive", "2023"])).unwrap();
            assert_eq!(path, PathBuf::from(nested));
            let name = path.file_name().unwrap().to_str().unwrap();
            if layout != Layout::Verbatim {
                assert_eq!(
                    components_of(layout, name),
                    Some(comps(&["Archive", "2023"]))
                );
            }
        }
    }

    #[test]
    fn a_name_holding_the_separator_is_refused() {
        let err =
            folder_path(Path::new("/m"), Layout::MaildirPlusPlus, &comps(&["v1.0"])).unwrap_err();
        assert!(err.contains("maildir++"), "{err}");
        assert!(folder_path(Path::new("/m"), Layout::Flat('.'), &comps(&["a.b", "c"])).is_err());
        assert!(folder_path(Path::new("/m"), Layout::Verbatim, &comps(&["v1.0"])).is_ok());
        assert_eq!(components_of(Layout::MaildirPlusPlus, "Archive"), None);
        assert_eq!(components_of(Layout::MaildirPlusPlus, "."), None);
    }

    #[test]
    fn moves_never_carry_another_folder_along() {
        let root = Path::new("/m");
        let disk = [
            comps(&["Archive"]),
            comps(&["Archive", "2023"]),
            comps(&["INBOX"]),
        ];
        let out = relayout_moves(
            root,
            Layout::Verbatim,
            Layout::MaildirPlusPlus,
            LocalNames::Keep,
            &disk,
        )
        .unwrap();
        let shown: Vec<(String, String)> = out
            .iter()
            .map(|(a, b)| (a.display().to_string(), b.display().to_string()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("/m/Archive/2023".into(), "/m/.Archive.2023".into()),
                ("/m/INBOX".into(), "/m".into()),
                ("/m/Archive".into(), "/m/.Archive".into()),
            ]
        );
        let back = relayout_moves(
            root,
            Layout::MaildirPlusPlus,
            Layout::Verbatim,
            LocalNames::Keep,
            &disk,
        )
        .unwrap();
        assert_eq!(back[0].1, PathBuf::from("/m/Archive"));
        assert_eq!(back.last().unwrap().1, PathBuf::from("/m/Archive/2023"));
        let err = relayout_moves(
            root,
            Layout::Verbatim,
            Layout::Flat('.'),
            LocalNames::Keep,
            &[comps(&["v1.0"])],
        )
        .unwrap_err();
        assert!(err.contains("v1.0"), "{err}");
    }

    #[test]
    fn maildir_plus_plus_is_spelt_in_modified_utf7_and_the_rest_in_utf8() {
        let root = Path::new("/m");
        let to_plus = relayout_moves(
            root,
            Layout::Verbatim,
            Layout::MaildirPlusPlus,
            LocalNames::Keep,
            &[comps(&["Été"])],
        )
        .unwrap();
        assert_eq!(to_plus[0].1, PathBuf::from("/m/.&AMk-t&AOk-"));
        let back = relayout_moves(
            root,
            Layout::MaildirPlusPlus,
            Layout::Verbatim,
            LocalNames::Keep,
            &[comps(&["&AMk-t&AOk-"])],
        )
        .unwrap();
        assert_eq!(back[0].1, PathBuf::from("/m/Été"));
        let kept = relayout_moves(
            root,
            Layout::MaildirPlusPlus,
            Layout::Flat('.'),
            LocalNames::ModifiedUtf7,
            &[comps(&["&AMk-t&AOk-"])],
        )
        .unwrap();
        assert_eq!(kept[0].1, PathBuf::from("/m/&AMk-t&AOk-"));
    }

    #[test]
    fn recorded_layouts_read_back() {
        for layout in [
            Layout::Verbatim,
            Layout::MaildirPlusPlus,
            Layout::Flat('.'),
            Layout::Flat('_'),
        ] {
            assert_eq!(Layout::from_recorded(&layout.describe()), Some(layout));
        }
        assert_eq!(Layout::from_recorded("flat"), None);
        assert_eq!(Layout::from_recorded("nested"), None);
    }
}
