//! The commands firedrill tells people to run next (`stop it with …`, `render it with …`,
//! `resume the teardown with …`): `firedrill` with the options this invocation acts under, so
//! that a hint followed literally acts on the same state directory. A directory named by
//! `--state-dir` (not the default, nor the one FIREDRILL_STATE_DIR already names in this
//! shell) is repeated; [`resume`] always names it, since a teardown is resumed from anywhere.
//! Knows nothing of what the commands do.

use std::path::Path;

/// `firedrill REST`, with `--state-dir` when `state_dir` is not the one firedrill finds by
/// itself.
pub(crate) fn firedrill(state_dir: &Path, rest: &str) -> String {
    let default = crate::store::paths::state_dir();
    let default = std::path::absolute(&default).unwrap_or(default);
    if state_dir == default {
        format!("firedrill {rest}")
    } else {
        with_state_dir(state_dir, rest)
    }
}

/// The command that resumes a run's teardown, from any directory and shell.
pub(crate) fn resume(state_dir: &Path, run_id: &str) -> String {
    with_state_dir(state_dir, &format!("teardown {run_id}"))
}

fn with_state_dir(state_dir: &Path, rest: &str) -> String {
    format!(
        "firedrill --state-dir {} {rest}",
        shell_word(&state_dir.display().to_string())
    )
}

/// `s` as one shell word, quoted when it needs to be.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_state_dir_is_kept_and_quoted() {
        let dir = Path::new("/tmp/drill state");
        assert_eq!(
            firedrill(dir, "sandbox stop"),
            "firedrill --state-dir '/tmp/drill state' sandbox stop"
        );
        assert_eq!(
            resume(Path::new("/srv/fd"), "r1"),
            "firedrill --state-dir /srv/fd teardown r1"
        );
    }
}
