//! Reading a text file a person named (a playbook, a seed file, a template a playbook names), with
//! an error that says what is true about the path: a directory, a missing file in a directory
//! that exists (and the closest name there), a directory that does not exist, a file that may
//! not be read, or a file that is not UTF-8 text.
//!
//! Rules: the message is one sentence without the OS's error code; the hint says what to try and,
//! for a relative path, what it was relative to. Nothing here knows what the file is for beyond
//! the noun the caller gives ("playbook", "seed file").

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// What a relative path is relative to, for the hint.
#[derive(Clone, Copy, Debug)]
pub enum Base<'a> {
    /// The current directory (a path given on the command line).
    CurrentDir,
    /// The directory of the file that named it (a path inside a playbook).
    FileDir(&'a Path),
}

/// Why a file could not be read: one sentence and what to try.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read {}: {why}", path.display())]
pub struct Unreadable {
    /// The path as the person gave it.
    pub path: PathBuf,
    /// What is true about it ("it is a directory", "no such file").
    pub why: String,
    /// What to try.
    pub hint: String,
}

/// Reads the text file at `path` (`shown` is the path as the person wrote it, `noun` what the file
/// is, e.g. "playbook").
pub fn read_text(
    path: &Path,
    shown: &Path,
    noun: &str,
    base: Base<'_>,
) -> Result<String, Unreadable> {
    let unreadable = |why: String, hint: String| Unreadable {
        path: shown.to_path_buf(),
        why,
        hint,
    };
    if path.is_dir() {
        let hint = match files_in(path, &["yaml", "yml"]).as_slice() {
            [] => format!("give the path of a {noun} file, not of a directory"),
            [one] => format!("did you mean `{}`?", shown.join(one).display()),
            many => format!(
                "give one of its files, e.g. `{}` ({} YAML files there)",
                shown.join(&many[0]).display(),
                many.len()
            ),
        };
        return Err(unreadable("it is a directory".into(), hint));
    }
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|e| {
            unreadable(
                format!(
                    "it is not UTF-8 text (byte {} is not)",
                    e.utf8_error().valid_up_to()
                ),
                format!("a {noun} is a YAML text file"),
            )
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(not_found(path, shown, noun, base)),
        Err(e) if e.kind() == ErrorKind::PermissionDenied => Err(unreadable(
            "permission denied".into(),
            format!("check that you may read it (`ls -l {}`)", shown.display()),
        )),
        Err(e) => Err(unreadable(
            crate::language::diag::error_chain(&e),
            format!("check that the {noun} is a readable file"),
        )),
    }
}

/// The error for a path where nothing is.
fn not_found(path: &Path, shown: &Path, noun: &str, base: Base<'_>) -> Unreadable {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir_exists = dir.is_none_or(Path::is_dir);
    let relative = if shown.is_absolute() {
        String::new()
    } else {
        match base {
            Base::CurrentDir => std::env::current_dir().map_or_else(
                |_| " (the path is relative to the current directory)".to_owned(),
                |d| {
                    format!(
                        " (the path is relative to the current directory, {})",
                        d.display()
                    )
                },
            ),
            Base::FileDir(dir) => format!(
                " (the path is relative to the playbook's directory, {})",
                if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                }
                .display()
            ),
        }
    };
    if !dir_exists {
        let dir = dir.unwrap_or(Path::new("."));
        return Unreadable {
            path: shown.to_path_buf(),
            why: "no such file".into(),
            hint: format!("there is no directory {}{relative}", dir.display()),
        };
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let here = dir.unwrap_or(Path::new("."));
    let siblings = files_in(here, &[]);
    let hint =
        match crate::language::suggest::did_you_mean(name, siblings.iter().map(String::as_str)) {
            Some(best) => format!(
                "did you mean `{}`?{relative}",
                shown.with_file_name(best).display()
            ),
            None => format!("check the path of the {noun}{relative}"),
        };
    Unreadable {
        path: shown.to_path_buf(),
        why: "no such file".into(),
        hint,
    }
}

/// The names of the files in `dir` (with one of `extensions`, when any are given), sorted.
fn files_in(dir: &Path, extensions: &[&str]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            extensions.is_empty()
                || Path::new(n)
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| extensions.contains(&x))
        })
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> Unreadable {
        read_text(path, path, "playbook", Base::CurrentDir).expect_err("unreadable")
    }

    #[test]
    fn a_directory_is_named_as_one_with_its_playbooks() {
        let dir = tempfile::tempdir().expect("dir");
        let e = read(dir.path());
        assert_eq!(e.why, "it is a directory");
        assert_eq!(
            e.hint,
            "give the path of a playbook file, not of a directory"
        );
        std::fs::write(dir.path().join("shop.yaml"), "name: x\n").expect("write");
        let e = read(dir.path());
        assert_eq!(
            e.hint,
            format!("did you mean `{}`?", dir.path().join("shop.yaml").display())
        );
        std::fs::write(dir.path().join("db.yml"), "name: x\n").expect("write");
        assert!(read(dir.path()).hint.contains("(2 YAML files there)"));
    }

    #[test]
    fn a_missing_absolute_path_says_nothing_of_the_current_directory() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("shop.yaml"), "name: x\n").expect("write");
        let e = read(&dir.path().join("shpo.yaml"));
        assert_eq!(e.why, "no such file");
        assert_eq!(
            e.hint,
            format!("did you mean `{}`?", dir.path().join("shop.yaml").display())
        );
        let e = read(&dir.path().join("nothing-like-it.yaml"));
        assert_eq!(e.hint, "check the path of the playbook");
        let e = read(&dir.path().join("gone/shop.yaml"));
        assert_eq!(
            e.hint,
            format!(
                "there is no directory {}",
                dir.path().join("gone").display()
            )
        );
    }

    #[test]
    fn a_missing_relative_path_says_what_it_was_relative_to() {
        let e = read(Path::new("no-such-dir-here/x.yaml"));
        assert!(
            e.hint.starts_with("there is no directory no-such-dir-here (the path is relative to the current directory, "),
            "{}",
            e.hint
        );
    }

    #[test]
    fn binary_content_is_not_text() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("x.yaml");
        std::fs::write(&path, b"name: \xff\n").expect("write");
        let e = read(&path);
        assert_eq!(e.why, "it is not UTF-8 text (byte 6 is not)");
    }
}
