//! `firedrill report RUN`: renders a stored run (or a walkthrough's record, `wt-...`) again, from the report its `firedrill run`
//! kept in the journal, as JSON, JUnit XML, Markdown or HTML; and the writing of the reports
//! `firedrill run --report` asks for.

use std::path::{Path, PathBuf};

use clap::Args;

use super::out::{eprint, error, print};
use crate::engine::exit;
use crate::engine::report::{FORMAT_VERSION, Report};
use crate::reports::{self, Format};
use crate::store::journal::{Journal, JournalError, RunRecord};
use crate::walkthrough::record::{self, Record};
use crate::walkthrough::render;

/// `firedrill report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run id (`firedrill run` prints it), or `latest` for the newest run with a report;
    /// or a walkthrough id (`wt-...`), or `latest-walkthrough`.
    pub run: String,
    /// What to render.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub format: Format,
    /// Write it to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Why a stored report cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// There is no journal, so no run.
    #[error("there is no journal in {dir}, so no run `{run}`")]
    NoJournal {
        /// The state directory.
        dir: PathBuf,
        /// The run asked for.
        run: String,
    },
    /// The journal has no such run.
    #[error("the journal has no run `{run}`\n  = {recent}")]
    UnknownRun {
        /// The run asked for.
        run: String,
        /// The recent runs, or a suggestion.
        recent: String,
    },
    /// `latest` with no finished run.
    #[error("the journal in {dir} has no finished run with a report")]
    NoRuns {
        /// The state directory.
        dir: PathBuf,
    },
    /// The run has no report (it is running, it crashed, or the guard refused it).
    #[error(
        "run `{run}` has no report: its state is `{state}` (a report is written when a drill finishes)"
    )]
    NoReport {
        /// The run.
        run: String,
        /// Its state.
        state: String,
    },
    /// The report was written by a newer firedrill.
    #[error(
        "the report of run `{run}` has format version {found}; this firedrill reads up to {FORMAT_VERSION}: upgrade firedrill"
    )]
    TooNew {
        /// The run.
        run: String,
        /// Its version.
        found: u64,
    },
    /// The stored report does not parse.
    #[error("the stored report of run `{run}` does not parse: {source}")]
    Unreadable {
        /// The run.
        run: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The output cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl ReportError {
    /// The exit code: a run that cannot be found or has no report is a usage error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::NoJournal { .. }
            | ReportError::UnknownRun { .. }
            | ReportError::NoRuns { .. }
            | ReportError::NoReport { .. } => exit::INVALID,
            ReportError::TooNew { .. }
            | ReportError::Unreadable { .. }
            | ReportError::Journal(_)
            | ReportError::Write { .. } => exit::INTERNAL,
        }
    }
}

/// How many recent runs an unknown run id's error lists.
const RECENT: usize = 10;

fn recent_runs(run: &str, runs: &[RunRecord]) -> String {
    if runs.is_empty() {
        return "hint: the journal has no runs yet".into();
    }
    let mut out = String::new();
    if let Some(best) =
        crate::language::suggest::did_you_mean(run, runs.iter().map(|r| r.id.as_str()))
    {
        out.push_str(&format!("hint: did you mean `{best}`?\n  = "));
    }
    out.push_str("recent runs (newest first):");
    for r in runs.iter().take(RECENT) {
        out.push_str(&format!("\n      {}  {:<13} {}", r.id, r.state, r.playbook));
    }
    if runs.len() > RECENT {
        out.push_str(&format!("\n      ... and {} more", runs.len() - RECENT));
    }
    out
}

/// The stored report of `run` (`latest`: the newest run that has one), as the JSON text the
/// run wrote and parsed.
pub fn load(state_dir: &Path, run: &str) -> Result<(String, Report), ReportError> {
    let Some(journal) = Journal::open_existing(state_dir)? else {
        return Err(ReportError::NoJournal {
            dir: state_dir.to_path_buf(),
            run: run.to_owned(),
        });
    };
    if run == "latest" {
        // Newest first: the first stored report is the one.
        for record in journal.runs()? {
            if let Some(text) = journal.report(&record.id)? {
                return parse(&record.id, text);
            }
        }
        return Err(ReportError::NoRuns {
            dir: state_dir.to_path_buf(),
        });
    }
    let record = find_run(&journal, run)?;
    let text = journal
        .report(&record.id)?
        .ok_or_else(|| ReportError::NoReport {
            run: record.id.clone(),
            state: record.state.clone(),
        })?;
    parse(&record.id, text)
}

/// Run `run` of the journal: its id, or a prefix of exactly one (as git and docker take them).
fn find_run(journal: &Journal, run: &str) -> Result<RunRecord, ReportError> {
    if let Some(r) = journal.run(run)? {
        return Ok(r);
    }
    let runs = journal.runs()?;
    let matching: Vec<&RunRecord> = runs.iter().filter(|r| r.id.starts_with(run)).collect();
    match matching.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(ReportError::UnknownRun {
            run: run.to_owned(),
            recent: recent_runs(run, &runs),
        }),
        many => Err(ReportError::UnknownRun {
            run: run.to_owned(),
            recent: format!(
                "hint: `{run}` starts {} run ids: give more of one\n  = {}",
                many.len(),
                recent_runs(run, &runs)
            ),
        }),
    }
}

/// Parses a stored report, refusing one of a newer format version with a clear error (also
/// when a newer report no longer reads as this version's).
fn parse(run: &str, text: String) -> Result<(String, Report), ReportError> {
    let too_new = |found: u64| ReportError::TooNew {
        run: run.to_owned(),
        found,
    };
    match Report::from_json(&text) {
        Ok(report) if report.format_version > FORMAT_VERSION => {
            Err(too_new(u64::from(report.format_version)))
        }
        Ok(report) => Ok((text, report)),
        Err(source) => {
            let version = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("format_version")?.as_u64());
            match version.filter(|v| *v > u64::from(FORMAT_VERSION)) {
                Some(found) => Err(too_new(found)),
                None => Err(ReportError::Unreadable {
                    run: run.to_owned(),
                    source,
                }),
            }
        }
    }
}

/// Renders a stored report. JSON is the stored document itself, byte for byte (fields a
/// newer firedrill of the same version added are kept).
pub fn render_stored(text: &str, report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let mut json = text.to_owned();
            if !json.ends_with('\n') {
                json.push('\n');
            }
            json
        }
        other => reports::render(report, other),
    }
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|source| ReportError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// A walkthrough's record rendered as `format` (none when `id` is no stored walkthrough),
/// or why it cannot be.
fn walkthrough(state_dir: &Path, id: &str, format: Format) -> Option<Result<String, String>> {
    let journal = Journal::open_existing(state_dir).ok().flatten()?;
    let stored = journal.walkthrough(id).ok().flatten()?;
    Some(match Record::from_json(&stored.record) {
        Err(e) => Err(format!(
            "the record of walkthrough `{id}` does not parse: {e}"
        )),
        Ok(r) if r.format_version > record::FORMAT_VERSION => Err(format!(
            "walkthrough `{id}` has format version {}; this firedrill reads up to {}: upgrade firedrill",
            r.format_version,
            record::FORMAT_VERSION
        )),
        Ok(r) => match format {
            Format::Json => Ok(format!("{}\n", r.to_json())),
            Format::Markdown => Ok(render::markdown(&r)),
            Format::Html => Ok(render::html(&r)),
            Format::Junit => Err(format!(
                "`{id}` is a walkthrough: it renders as markdown, html or json, not junit"
            )),
        },
    })
}

/// `firedrill report WALKTHROUGH`.
fn report_walkthrough(args: &ReportArgs, state_dir: &Path) -> u8 {
    let id = if args.run == "latest-walkthrough" {
        Journal::open_existing(state_dir)
            .ok()
            .flatten()
            .and_then(|j| j.walkthroughs(None).ok())
            .and_then(|w| w.into_iter().next())
            .map_or_else(|| args.run.clone(), |w| w.id)
    } else {
        args.run.clone()
    };
    let out = match walkthrough(state_dir, &id, args.format) {
        Some(Ok(out)) => out,
        Some(Err(why)) => {
            eprint(&format!("error: {why}\n"));
            return exit::INVALID;
        }
        None => {
            error(
                &format!(
                    "the journal in {} has no walkthrough `{id}`",
                    state_dir.display()
                ),
                &[format!(
                    "`{}` lists walkthroughs beside runs",
                    super::again::firedrill(state_dir, "history")
                )],
            );
            return exit::INVALID;
        }
    };
    let Some(path) = &args.output else {
        print(&out);
        return exit::OK;
    };
    if let Err(e) = write(path, &out) {
        eprint(&format!("error: {e}\n"));
        return e.exit_code();
    }
    eprint(&format!(
        "wrote the {} rendering of walkthrough {id} to {}\n",
        args.format.name(),
        path.display()
    ));
    exit::OK
}

/// Runs `firedrill report`.
pub fn run(args: &ReportArgs, state_dir: &Path) -> u8 {
    if args.run.starts_with("wt-") || args.run == "latest-walkthrough" {
        return report_walkthrough(args, state_dir);
    }
    let result = load(state_dir, &args.run).and_then(|(text, report)| {
        let out = render_stored(&text, &report, args.format);
        match &args.output {
            Some(path) => {
                write(path, &out)?;
                eprint(&format!(
                    "wrote the {} report of run {} to {}\n",
                    args.format.name(),
                    report.run_id,
                    path.display()
                ));
            }
            None => print(&out),
        }
        Ok(())
    });
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            eprint(&format!("error: {e}\n"));
            e.exit_code()
        }
    }
}
