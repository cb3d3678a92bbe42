//! The crontab line that runs a drill: the absolute paths of the firedrill binary and the
//! playbook, `run --quiet` (cron mails whatever a job prints, so a passed drill prints
//! nothing), the state directory when one was given, and any extra `run` arguments; with an
//! environment file, the line reads it first (`set -a && . FILE && set +a && exec ...`), so that
//! secrets such as `FIREDRILL_WEBHOOK` stay out of the crontab.

use std::path::Path;

/// A word for the shell that cron runs the line with, quoted when it needs to be, with `%`
/// escaped (cron turns an unescaped `%` into a newline).
pub fn word(s: &str) -> String {
    let quoted = if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@,=".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    };
    quoted.replace('%', "\\%")
}

/// The command of a scheduled run of `playbook` by the binary `exe`, after reading `env_file`
/// (variables in it are exported to the run) when one is given.
pub fn command(
    exe: &Path,
    state_dir: Option<&Path>,
    env_file: Option<&Path>,
    playbook: &Path,
    extra: &[String],
) -> String {
    let mut words = Vec::new();
    if let Some(file) = env_file {
        words.extend([
            "set -a &&".to_owned(),
            ".".to_owned(),
            word(&file.display().to_string()),
            "&& set +a && exec".to_owned(),
        ]);
    }
    words.push(word(&exe.display().to_string()));
    if let Some(dir) = state_dir {
        words.push("--state-dir".into());
        words.push(word(&dir.display().to_string()));
    }
    words.push("run".into());
    words.push("--quiet".into());
    words.extend(extra.iter().map(|a| word(a)));
    words.push(word(&playbook.display().to_string()));
    words.join(" ")
}

/// The crontab line: `schedule` and the command.
pub fn line(schedule: &str, command: &str) -> String {
    format!("{schedule} {command}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_the_shell_would_split_and_escapes_percent() {
        assert_eq!(word("/usr/local/bin/firedrill"), "/usr/local/bin/firedrill");
        assert_eq!(word("/srv/my drills/a.yaml"), "'/srv/my drills/a.yaml'");
        assert_eq!(word("it's"), "'it'\\''s'");
        assert_eq!(word("50%"), "'50\\%'");
        assert_eq!(word(""), "''");
    }

    #[test]
    fn the_line_runs_quietly_with_the_state_dir_and_extra_arguments() {
        let cmd = command(
            Path::new("/usr/bin/firedrill"),
            Some(Path::new("/var/lib/firedrill")),
            None,
            Path::new("/srv/drills/shop.yaml"),
            &["--sandbox".into(), "local".into()],
        );
        assert_eq!(
            line("0 3 1 * *", &cmd),
            "0 3 1 * * /usr/bin/firedrill --state-dir /var/lib/firedrill run --quiet --sandbox local /srv/drills/shop.yaml"
        );
    }

    #[test]
    fn an_environment_file_is_read_and_exported_before_the_run() {
        let cmd = command(
            Path::new("/usr/bin/firedrill"),
            None,
            Some(Path::new("/home/sre/.config/firedrill/env")),
            Path::new("/srv/drills/shop.yaml"),
            &[],
        );
        assert_eq!(
            cmd,
            "set -a && . /home/sre/.config/firedrill/env && set +a && exec /usr/bin/firedrill run --quiet /srv/drills/shop.yaml"
        );
    }
}
