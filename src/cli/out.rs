//! Writing to the terminal: the command line's one way to print, which treats a closed pipe
//! (`firedrill plan | head`) as the reader's choice, not an error.

use std::io::Write;

/// Writes `text` to standard output.
pub(crate) fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`firedrill plan | head`) is not an error worth a panic.
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes `text` to standard error.
pub(crate) fn eprint(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
}

/// Writes an error to standard error in the layout of `validate`'s diagnostics: the message,
/// then each hint on its own `= hint:` line.
pub(crate) fn error(message: &str, hints: &[String]) {
    eprint(&diagnostic("error", message, hints));
}

/// Writes a warning in the same layout as [`error`].
pub(crate) fn warning(message: &str, hints: &[String]) {
    eprint(&diagnostic("warning", message, hints));
}

fn diagnostic(level: &str, message: &str, hints: &[String]) -> String {
    use std::fmt::Write as _;
    let mut text = format!("{level}: {message}\n");
    for h in hints {
        let _ = writeln!(text, "  = hint: {h}");
    }
    text
}
