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
            eprint(&format!(
                "error: invalid cron expression: {e}\n  = hint: {}\n",
                cron::hint()
            ));
            return exit::INVALID;
        }
    };
    let after = match args.after.as_deref().map(DateTime::parse_from_rfc3339) {
        None => Utc::now(),
        Some(Ok(t)) => t.with_timezone(&Utc),
        Some(Err(e)) => {
            eprint(&format!(
                "error: --after: `{}` is not an RFC 3339 time ({e})\n  = hint: e.g. 2026-12-01T00:00:00Z\n",
                args.after.as_deref().unwrap_or_default()
            ));
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
    let command = crontab::command(&exe, state_dir, &playbook_path, &args.run_args);
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
