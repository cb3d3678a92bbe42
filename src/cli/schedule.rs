//! `firedrill schedule PLAYBOOK --cron EXPR`: checks the playbook and the cron expression,
//! shows the next run times, and prints a crontab fragment (or, with `--kubernetes`, a CronJob
//! manifest) that runs the drill unattended. Everything on standard output is valid in its
//! target file: the explanations are comments.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use clap::Args;

use super::out::{eprint, print};
use crate::engine::exit;
use crate::schedule::cron::{self, CronExpr};
use crate::schedule::{cronjob, crontab};

/// `firedrill schedule`.
#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// The playbook file.
    pub playbook: PathBuf,
    /// When to run it: a 5-field cron expression (minute hour day-of-month month
    /// day-of-week), e.g. "0 3 1 * *" for 03:00 on the 1st of every month.
    #[arg(long)]
    pub cron: String,
    /// How many of the next run times to show.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub count: u32,
    /// Show the run times after this time (RFC 3339) instead of after now.
    #[arg(long)]
    pub after: Option<String>,
    /// Print a Kubernetes CronJob manifest instead of a crontab line.
    #[arg(long)]
    pub kubernetes: bool,
    /// An environment file the crontab line reads before the run (`KEY=value` lines, exported
    /// to it): where secrets such as `FIREDRILL_WEBHOOK` belong instead of the crontab.
    #[arg(long, value_name = "FILE", conflicts_with = "kubernetes")]
    pub env_file: Option<PathBuf>,
    /// The container image of the CronJob (with `--kubernetes`).
    #[arg(long, default_value = concat!("firedrill:", env!("CARGO_PKG_VERSION")))]
    pub image: String,
    /// Extra arguments for `firedrill run`, after `--` (e.g. `-- --sandbox local`).
    #[arg(last = true)]
    pub run_args: Vec<String>,
}

/// Runs `firedrill schedule`; `state_dir` is the one given on the command line or in the
/// environment, if any.
/// `parse_run` parses a whole command line as the CLI does (the trial of the scheduled
/// `firedrill run`).
pub fn run(
    args: &ScheduleArgs,
    state_dir: Option<&Path>,
    color: bool,
    parse_run: impl Fn(&[String]) -> Result<(), clap::Error>,
) -> u8 {
    let (file, loaded) = crate::playbook::load(&args.playbook);
    let loaded = match loaded {
        Ok(l) => l,
        Err(diags) => {
            eprint(&crate::language::diag::render(&file, &diags, color));
            eprint(&format!("invalid: {}: not scheduling it\n", file.name));
            return exit::INVALID;
        }
    };
    eprint(&crate::language::diag::render(
        &file,
        &loaded.warnings,
        color,
    ));
    let expr: CronExpr = match args.cron.parse() {
        Ok(e) => e,
        Err(e) => {
            super::out::error(&format!("invalid cron expression: {e}"), &[cron::hint()]);
            return exit::INVALID;
        }
    };
    let after = match args.after.as_deref().map(DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(e)) => {
            super::out::error(
                &format!(
                    "--after: `{}` is not an RFC 3339 time ({e})",
                    args.after.as_deref().unwrap_or_default()
                ),
                &["e.g. 2026-12-01T00:00:00Z".to_owned()],
            );
            return exit::INVALID;
        }
    };
    // The extra arguments must make a valid `firedrill run`, or the scheduled run would fail
    // at 3 a.m. instead of now.
    let mut trial = vec![
        "firedrill".to_owned(),
        "run".to_owned(),
        "--quiet".to_owned(),
    ];
    trial.extend(args.run_args.iter().cloned());
    trial.push(args.playbook.display().to_string());
    if let Err(e) = parse_run(&trial) {
        eprint(&format!(
            "error: the arguments after `--` do not make a valid `firedrill run --quiet PLAYBOOK`:\n{e}"
        ));
        return exit::INVALID;
    }
    secrets_warning(args);
    let env_file = match &args.env_file {
        Some(file) => match env_file(file) {
            Ok(path) => Some(path),
            Err(code) => return code,
        },
        None => None,
    };
    let count = usize::try_from(args.count).unwrap_or(5);
    let next: Vec<String> = expr
        .next_after(after, count)
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
        .collect();
    let playbook_path = args
        .playbook
        .canonicalize()
        .unwrap_or_else(|_| args.playbook.clone());
    let pb = &loaded.playbook;
    if args.kubernetes {
        let file_name = playbook_path.file_name().map_or_else(
            || "playbook.yaml".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        print(&cronjob::manifest(&cronjob::CronJob {
            playbook: &pb.name,
            file_name: &file_name,
            schedule: expr.as_str(),
            image: &args.image,
            extra: &args.run_args,
            next: &next,
        }));
        return exit::OK;
    }
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .unwrap_or_else(|_| PathBuf::from("firedrill"));
    let command = crontab::command(
        &exe,
        state_dir,
        env_file.as_deref(),
        &playbook_path,
        &args.run_args,
    );
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# firedrill: the `{}` drill ({}), `{}`",
        pb.name,
        playbook_path.display(),
        expr.as_str()
    );
    let _ = writeln!(
        out,
        "# next {} run{} in UTC (cron reads the schedule in its own time zone, usually the system's):",
        next.len(),
        if next.len() == 1 { "" } else { "s" }
    );
    for t in &next {
        let _ = writeln!(out, "#   {t}");
    }
    let _ = writeln!(out, "{}", crontab::line(expr.as_str(), &command));
    print(&out);
    exit::OK
}

/// Warns when the `run` arguments carry the webhook URL, a secret, into the crontab or the
/// manifest, and says where it belongs instead.
fn secrets_warning(args: &ScheduleArgs) {
    let given = args
        .run_args
        .iter()
        .any(|a| a == "--webhook" || a.starts_with("--webhook="));
    if !given {
        return;
    }
    let (into, hint) = if args.kubernetes {
        let playbook = crate::playbook::load(&args.playbook)
            .1
            .map(|l| l.playbook.name)
            .unwrap_or_default();
        (
            "the manifest, where anyone who can read the CronJob sees it",
            format!(
                "schedule without `--webhook` and keep the URL in the Secret the CronJob reads it from: `kubectl create secret generic {} --from-literal={}=URL`",
                cronjob::webhook_secret(&playbook),
                cronjob::WEBHOOK_KEY
            ),
        )
    } else {
        (
            "the crontab, where `crontab -l`, its backups and anyone who can read the crontab see it",
            "schedule without `--webhook`: put `FIREDRILL_WEBHOOK=URL` in a file only you can read (`install -m 600 /dev/null ~/.config/firedrill/env`), and give it with `--env-file ~/.config/firedrill/env`".to_owned(),
        )
    };
    super::out::warning(
        &format!("`--webhook` puts the webhook URL, a secret, into {into}"),
        &[hint],
    );
}

/// The environment file as the crontab line names it (absolute), with a warning when it does
/// not exist yet or others may read it.
fn env_file(file: &Path) -> Result<PathBuf, u8> {
    let path = match std::path::absolute(file) {
        Ok(p) => p,
        Err(e) => {
            super::out::error(
                &format!(
                    "--env-file {}: {}",
                    file.display(),
                    crate::language::diag::error_chain(&e)
                ),
                &[],
            );
            return Err(exit::INVALID);
        }
    };
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_dir() => {
            super::out::error(
                &format!("--env-file {}: it is a directory", file.display()),
                &["give a file of `KEY=value` lines".to_owned()],
            );
            return Err(exit::INVALID);
        }
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt as _;
            if meta.permissions().mode() & 0o077 != 0 {
                super::out::warning(
                    &format!(
                        "--env-file {}: others may read it (mode {:o})",
                        file.display(),
                        meta.permissions().mode() & 0o777
                    ),
                    &[format!(
                        "`chmod 600 {}`",
                        crontab::word(&path.display().to_string())
                    )],
                );
            }
        }
        Err(_) => super::out::warning(
            &format!(
                "--env-file {}: there is no such file yet; the scheduled run fails until there is",
                file.display()
            ),
            &[format!(
                "`install -m 600 /dev/null {}`, then write `FIREDRILL_WEBHOOK=URL` in it",
                crontab::word(&path.display().to_string())
            )],
        ),
    }
    Ok(path)
}
