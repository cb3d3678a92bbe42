//! The command line: `validate`, `plan`, `run`, `walkthrough`, `teardown`, `report`, `history`,
//! `schedule`, `schema`, `completions`, `man` and `sandbox`. Every command returns one of the
//! documented [`crate::engine::exit`] codes.

mod again;
mod history;
mod learned;
mod out;
mod report;
mod run;
mod sandbox;
mod schedule;
mod sweep;
mod walkthrough;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::engine::exit;
use crate::language::diag::{self, Diagnostic, JsonDiagnostic, SourceFile};
use crate::playbook;
use crate::playbook::plan::{self, Plan, Verdict};
use out::{eprint, print};

/// firedrill: run your disaster-recovery plan as a drill, measure RTO and RPO, and tear down
/// everything it created.
#[derive(Parser, Debug)]
#[command(name = "firedrill", version, about, long_about = None, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// When to color diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Where run journals and the local sandbox's record live [default: $XDG_STATE_HOME/firedrill].
    #[arg(long, global = true, env = "FIREDRILL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Log more to standard error: `-v` what firedrill does, `-vv` each AWS request too,
    /// `-vvv` everything, the SDK's own included. FIREDRILL_LOG (or RUST_LOG) takes a filter
    /// instead, e.g. `firedrill::aws=debug`.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXIT_CODES_HELP: &str = "Exit codes: 0 ok, 1 internal error, 2 invalid playbook or usage, 3 target missed, \
4 step failed, 5 refused by a safety guard, 6 teardown incomplete, 7 not ready (walkthrough --check), 130 interrupted.";

/// When to use colors.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Color {
    /// When standard error is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and check playbooks; report every error at once, each with file:line:col.
    Validate {
        /// Playbook files.
        #[arg(required = true)]
        playbooks: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        format: ValidateFormat,
    },
    /// The dry run: execution waves, critical path, predicted RTO against the targets. Makes
    /// no AWS call.
    Plan {
        /// The playbook file.
        playbook: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Plan from the playbook's own figures only, not from durations learned from past
        /// runs in the journal.
        #[arg(long)]
        no_history: bool,
        /// Plan a run on the local sandbox: learn from past runs on it at its time scale
        /// (without it, from runs against AWS, or against the playbook's `sandbox.endpoint`).
        #[arg(long, value_enum)]
        sandbox: Option<run::SandboxChoice>,
    },
    /// Run the drill: every step in the sandbox account, RTO measured, then teardown. Progress
    /// bars on a terminal, one line per event otherwise.
    Run(run::RunArgs),
    /// The tabletop walkthrough: the plan one step at a time on a terminal, with the team's
    /// notes, concerns and estimates recorded; nothing is created. `--print` writes it as a
    /// Markdown runbook; `--check` proves with read-only calls that the plan could start now.
    Walkthrough(walkthrough::WalkthroughArgs),
    /// Finish the teardown of an interrupted or crashed run from its journal (idempotent).
    Teardown(run::TeardownArgs),
    /// Find what firedrill made and nobody is tearing down (its run ended, crashed, expired, or
    /// is unknown to the journal); `--delete` removes it as teardown does.
    Sweep(sweep::SweepArgs),
    /// Render a stored run again, from the journal: JSON, JUnit XML, Markdown or HTML.
    Report(report::ReportArgs),
    /// Past runs with RTO and RPO against the targets, the trend, and warnings about
    /// regressions.
    History(history::HistoryArgs),
    /// Check a cron expression, show the next run times, and print the crontab line (or a
    /// Kubernetes CronJob) that runs the drill unattended.
    Schedule(schedule::ScheduleArgs),
    /// Print the JSON Schema of the playbook language (for editors).
    Schema,
    /// Print a completion script for a shell: `firedrill completions bash`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `firedrill man | man -l -`.
    Man,
    /// The reaper `run` leaves beside itself: when its standard input closes (the run ended,
    /// however), it kills what is left of the run's processes.
    #[command(name = "__reap", hide = true)]
    Reap {
        /// The run id its processes are marked with.
        run: String,
    },
    /// The local sandbox: an emulated AWS account on loopback (moto behind firedrill's
    /// realism layer).
    Sandbox {
        /// What to do with it.
        #[command(subcommand)]
        command: sandbox::SandboxCommand,
    },
}

/// Formats of `validate`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ValidateFormat {
    /// Diagnostics with source lines and carets.
    Text,
    /// One JSON document: every file with its diagnostics.
    Json,
}

/// Formats of `plan`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PlanFormat {
    /// For a person.
    Text,
    /// For programs (`waves`, `critical_path`, `predicted_rto_secs`, ...).
    Json,
    /// Graphviz.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
}

/// Runs the command line of this process.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                exit::code(exit::INVALID)
            } else {
                exit::code(exit::OK)
            };
        }
    };
    logging(cli.verbose, cli.color);
    exit::code(run(&cli))
}

/// Whether what goes to standard error is coloured.
fn colored(color: Color) -> bool {
    match color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Starts the log on standard error when asked: by `-v` or by a filter in FIREDRILL_LOG or
/// RUST_LOG (the filter wins). Without either nothing is logged, the SDK's warnings included:
/// what a run says is its events.
fn logging(verbose: u8, color: Color) {
    use tracing_subscriber::EnvFilter;
    let from_env = ["FIREDRILL_LOG", "RUST_LOG"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|f| !f.trim().is_empty()));
    let filter = match (from_env, verbose) {
        (Some(f), _) => f,
        (None, 0) => return,
        (None, 1) => "firedrill=info".to_owned(),
        (None, 2) => "firedrill=debug".to_owned(),
        (None, _) => "debug".to_owned(),
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprint(&format!(
            "warning: the log filter `{filter}` is not valid ({e}); logging warnings only\n"
        ));
        EnvFilter::new("warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colored(color))
        .try_init();
}

/// Runs `cli`, printing to standard output and error; returns the exit code.
pub fn run(cli: &Cli) -> u8 {
    let color = colored(cli.color);
    match &cli.command {
        Command::Validate { playbooks, format } => validate(playbooks, *format, color),
        Command::Plan {
            playbook,
            format,
            no_history,
            sandbox,
        } => {
            let state_dir = (!no_history).then(|| state_dir(cli));
            plan(playbook, *format, state_dir.as_deref(), *sandbox, color)
        }
        Command::Schema => {
            print(&crate::playbook::schema::schema_text());
            exit::OK
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "firedrill", &mut out);
            print(&String::from_utf8_lossy(&out));
            exit::OK
        }
        Command::Reap { run } => {
            crate::steps::builtin::reaper::reap_when_stdin_closes(run);
            exit::OK
        }
        Command::Man => {
            let mut out = Vec::new();
            match clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out) {
                Ok(()) => {
                    print(&String::from_utf8_lossy(&out));
                    exit::OK
                }
                Err(e) => {
                    eprint(&format!("error: cannot render the man page: {e}\n"));
                    exit::INTERNAL
                }
            }
        }
        Command::Sandbox { command } => sandbox::run(command, &state_dir(cli), color),
        Command::Run(args) => run::run(args, &state_dir(cli), color),
        Command::Teardown(args) => run::teardown_cmd(args, &state_dir(cli)),
        Command::Sweep(args) => sweep::run(args, &state_dir(cli), color),
        Command::Walkthrough(args) => walkthrough::run(args, &state_dir(cli), color),
        Command::Report(args) => report::run(args, &state_dir(cli)),
        Command::History(args) => history::run(args, &state_dir(cli), color),
        Command::Schedule(args) => {
            let given = cli.state_dir.as_ref().map(|_| state_dir(cli));
            schedule::run(args, given.as_deref(), color, |argv| {
                Cli::try_parse_from(argv).map(|_| ())
            })
        }
    }
}

fn state_dir(cli: &Cli) -> PathBuf {
    let dir = cli
        .state_dir
        .clone()
        .unwrap_or_else(crate::store::paths::state_dir);
    // Absolute, so that the resume command printed on an interrupt works from anywhere.
    std::path::absolute(&dir).unwrap_or(dir)
}

fn summary(file: &SourceFile, diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut s = format!("{}: {}", file.name, plural(errors, "error"));
    if warnings > 0 {
        s.push_str(&format!(", {}", plural(warnings, "warning")));
    }
    s
}

fn validate(paths: &[PathBuf], format: ValidateFormat, color: bool) -> u8 {
    let mut code = exit::OK;
    let mut json_files = Vec::new();
    for path in paths {
        let (file, result) = playbook::load(path);
        let (diags, valid, steps) = match &result {
            Ok(loaded) => (
                loaded.warnings.as_slice(),
                true,
                Some(loaded.playbook.steps.len()),
            ),
            Err(diags) => (diags.as_slice(), false, None),
        };
        if !valid {
            code = exit::INVALID;
        }
        match format {
            ValidateFormat::Text => {
                eprint(&diag::render(&file, diags, color));
                match &result {
                    Ok(loaded) => print(&format!(
                        "ok: {} ({}, {} steps)\n",
                        file.name,
                        loaded.playbook.name,
                        loaded.playbook.steps.len()
                    )),
                    Err(diags) => eprint(&format!("invalid: {}\n", summary(&file, diags))),
                }
            }
            ValidateFormat::Json => json_files.push(serde_json::json!({
                "file": file.name,
                "valid": valid,
                "steps": steps,
                "diagnostics": diags.iter().map(|d| JsonDiagnostic::new(&file.name, d)).collect::<Vec<_>>(),
            })),
        }
    }
    if format == ValidateFormat::Json {
        let doc = serde_json::json!({ "format_version": 1, "files": json_files });
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&doc).expect("JSON serializes")
        ));
    }
    code
}

fn plan(
    path: &std::path::Path,
    format: PlanFormat,
    state_dir: Option<&std::path::Path>,
    sandbox: Option<run::SandboxChoice>,
    color: bool,
) -> u8 {
    let (file, result) = playbook::load(path);
    let loaded = match result {
        Ok(loaded) => loaded,
        Err(diags) => {
            eprint(&diag::render(&file, &diags, color));
            eprint(&format!("invalid: {}\n", summary(&file, &diags)));
            return exit::INVALID;
        }
    };
    eprint(&diag::render(&file, &loaded.warnings, color));
    let learned = state_dir
        .map(|dir| {
            let target = learned::target(&loaded.playbook, sandbox, dir);
            learned::learned_durations(dir, &loaded.playbook, target)
        })
        .unwrap_or_default();
    let plan = Plan::learning(&loaded.playbook, &learned);
    let text = match format {
        PlanFormat::Text => plan::render_text(&plan),
        PlanFormat::Json => plan::render_json(&plan),
        PlanFormat::Dot => plan::render_dot(&plan),
        PlanFormat::Mermaid => plan::render_mermaid(&plan),
    };
    print(&text);
    if plan.verdict() == Verdict::TargetMissed {
        exit::TARGET_MISSED
    } else {
        exit::OK
    }
}
