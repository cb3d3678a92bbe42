//! What a run shows while it goes: on a terminal, live progress bars (a line per running step
//! with its state and elapsed time, and an overall line with the RTO clock against its target
//! and the steps done); otherwise one line per event, as text for cron logs or as JSON
//! (`--log-format json`). Every line is made by a pure function of the run's state and the
//! time, so what operators see is tested without a terminal.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::time::Instant;

use crate::engine::board::StepState;
use crate::engine::event::{Event, What};
use crate::engine::state::{Sink, View};
use crate::language::duration::human;
use crate::playbook::model::RECOVERED;
use crate::reports::paint::Paint;

/// One line for an event, for cron logs: time, offset on the RTO clock, event, step, details.
pub fn log_line(e: &Event) -> String {
    format!("{} {}", e.at, live_line(e))
}

/// An event's line without the wall-clock time, for the live display (which is watched as it
/// happens): offset on the RTO clock, event, step, details.
pub fn live_line(e: &Event) -> String {
    format!("+{} {} {}", human(e.elapsed_secs), e.what.name(), detail(e))
}

/// What an event says beyond its name.
fn detail(e: &Event) -> String {
    match &e.what {
        What::RunStarted {
            run_id,
            playbook,
            steps,
        } => format!("run {run_id} of `{playbook}` ({steps} steps)"),
        What::GuardPassed { account, arn } => format!("account {account} ({arn})"),
        What::StepStarted { step } | What::StepCancelled { step } => step.clone(),
        What::AttemptFailed {
            step,
            attempt,
            reason,
        } => format!("{step} attempt {attempt}: {reason}"),
        What::StepSucceeded {
            step,
            attempts,
            duration_secs,
        } => format!(
            "{step} in {} ({attempts} attempt{})",
            human(*duration_secs),
            if *attempts == 1 { "" } else { "s" }
        ),
        What::StepFailed {
            step,
            timed_out,
            attempts,
            reason,
        } => format!(
            "{step}{} after {attempts} attempt{}: {reason}",
            if *timed_out { " timed out" } else { "" },
            if *attempts == 1 { "" } else { "s" }
        ),
        What::StepSkipped { step, because } => format!("{step}: `{because}` failed"),
        What::StepNotStarted { step, reason } => format!("{step}: {reason}"),
        What::MilestoneReached {
            milestone,
            after_secs,
            target_secs,
            met,
        } => {
            let after = human(*after_secs);
            match (target_secs, met) {
                (Some(t), Some(met)) => format!(
                    "`{milestone}` at {after} (target {}: {})",
                    human(*t),
                    if *met { "met" } else { "MISSED" }
                ),
                _ => format!("`{milestone}` at {after}"),
            }
        }
        What::Stopping { reason } | What::TeardownKept { reason } => reason.clone(),
        What::ResourceIntended { step, kind, token } => format!("{step}: {kind} {token}"),
        What::ResourceCreated { step, kind, id } => format!("{step}: {kind} {id}"),
        What::TeardownStarted { resources } => format!("{resources} resource(s)"),
        What::ResourceDeleted {
            step,
            kind,
            id,
            how,
        } => format!("{kind} {id} (step {step}): {how}"),
        What::ResourceLeft {
            step,
            kind,
            id,
            reason,
        } => format!("{kind} {id} (step {step}) LEFT BEHIND: {reason}"),
        What::TeardownWaiting { on } => {
            format!("deadline passed; still waiting on {}", on.join(", "))
        }
        What::TeardownFinished { state } => state.clone(),
        What::RunFinished { state, exit_code } => format!("{state} (exit {exit_code})"),
        What::Paused { by } => format!("by {by}: no new step starts"),
        What::Resumed { by, paused_secs } => {
            format!("by {by} after {}", human(*paused_secs))
        }
        What::Note { by, text } => format!("{by}: {text}"),
        What::GateWaiting { step, prompt } => format!("{step}: {prompt}"),
        What::GateAnswered { step, approved, by } => format!(
            "{step}: {} by {by}",
            if *approved { "approved" } else { "rejected" }
        ),
        What::FailureInjected { step, reason, by } => format!("{step}: {reason} (by {by})"),
        What::CommandRefused { command, reason } => format!("{command}: {reason}"),
    }
}

/// How far the teardown has come: resources settled (deleted, restored or left) of those it
/// started with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TeardownProgress {
    /// Resources settled so far.
    pub settled: usize,
    /// Resources the teardown started with.
    pub total: usize,
}

/// The overall line: the RTO clock against its target, the steps by how they ended (never
/// "done" for a step that was cancelled or never started), and the teardown once it runs.
pub fn overall_line(
    view: &View<'_>,
    now: Instant,
    teardown: Option<TeardownProgress>,
    paint: Paint,
) -> String {
    let elapsed = view.clock.elapsed(now);
    let states = view.board.states();
    let count = |f: fn(&StepState) -> bool| states.iter().filter(|s| f(s)).count();
    let succeeded = count(|s| *s == StepState::Succeeded);
    let failed = count(|s| matches!(s, StepState::Failed { .. } | StepState::TimedOut));
    let stopped = count(|s| {
        matches!(
            s,
            StepState::Cancelled | StepState::Skipped { .. } | StepState::NotStarted { .. }
        )
    });
    let running = count(|s| *s == StepState::Running);
    let rto = match (view.reached.get(RECOVERED), view.playbook.targets.rto) {
        (Some(at), Some(t)) => format!(
            "RTO {} / {} {}",
            human(at.as_secs_f64()),
            t,
            if *at <= t.0 {
                paint.good("met")
            } else {
                paint.bad("MISSED")
            }
        ),
        (Some(at), None) => format!("RTO {}", human(at.as_secs_f64())),
        (None, Some(t)) if elapsed > t.0 => format!(
            "RTO {} / {t} {}",
            human(elapsed.as_secs_f64()),
            paint.bad("OVER")
        ),
        (None, Some(t)) => format!("RTO {} / {t}", human(elapsed.as_secs_f64())),
        (None, None) => format!("elapsed {}", human(elapsed.as_secs_f64())),
    };
    let mut line = format!("{rto} · {succeeded}/{} steps succeeded", states.len());
    if failed > 0 {
        line.push_str(&format!(", {}", paint.bad(&format!("{failed} failed"))));
    }
    if stopped > 0 {
        line.push_str(&format!(", {stopped} not run"));
    }
    match teardown {
        Some(t) => line.push_str(&format!(" · teardown {}/{}", t.settled, t.total)),
        None => line.push_str(&format!(" · {running} running")),
    }
    line
}

/// A running step's line: id, kind, elapsed time, attempt.
pub fn step_line(view: &View<'_>, i: usize, now: Instant) -> String {
    let step = &view.playbook.steps[i];
    let run = &view.runs[i];
    let elapsed = run
        .started
        .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
    let attempt = if run.attempts > 1 {
        format!(" · attempt {}", run.attempts)
    } else {
        String::new()
    };
    format!(
        "{} ({}) running {}{attempt}",
        step.id,
        step.uses(),
        human(elapsed.as_secs_f64())
    )
}

/// How event lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// [`log_line`].
    Text,
    /// [`Event::to_json`].
    Json,
}

/// One line per event, to a writer (cron logs).
pub struct LogSink<W: Write> {
    out: W,
    format: LogFormat,
}

impl<W: Write> LogSink<W> {
    /// Lines in `format` to `out`.
    pub fn new(out: W, format: LogFormat) -> Self {
        Self { out, format }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Says nothing (`run --quiet`): events are not even formatted.
#[derive(Debug, Default)]
pub struct Silent;

impl Sink for Silent {
    fn event(&mut self, _event: &Event, _view: &View<'_>) {}
}

impl<W: Write> Sink for LogSink<W> {
    fn event(&mut self, event: &Event, _view: &View<'_>) {
        let line = match self.format {
            LogFormat::Text => log_line(event),
            LogFormat::Json => event.to_json(),
        };
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

/// Live progress bars on a terminal: a line per running step and the overall line, with the
/// events above them, each cut to the terminal's width (a wrapped line would leave stale rows
/// behind when the bars redraw).
pub struct BarsSink {
    bars: MultiProgress,
    overall: ProgressBar,
    steps: HashMap<String, ProgressBar>,
    teardown: Option<TeardownProgress>,
    paint: Paint,
}

impl BarsSink {
    /// Bars drawn on standard error, their verdict words coloured by `paint`.
    pub fn new(paint: Paint) -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = bars.add(ProgressBar::new_spinner());
        overall.set_style(
            ProgressStyle::with_template("{spinner} {wide_msg}").expect("a valid template"),
        );
        Self {
            bars,
            overall,
            steps: HashMap::new(),
            teardown: None,
            paint,
        }
    }

    /// The bars, for prompts that must hide them.
    pub fn multi(&self) -> MultiProgress {
        self.bars.clone()
    }

    /// Removes every bar, so that the last frame does not stay on the screen.
    pub fn finish(&mut self) {
        for (_, bar) in self.steps.drain() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
    }

    /// Writes `line` above the bars, wrapped to the terminal's width (short of its last
    /// column, which some terminals wrap on).
    fn say(&self, line: &str) {
        let width = ratatui::crossterm::terminal::size()
            .map_or(usize::MAX, |(w, _)| usize::from(w).saturating_sub(1));
        for row in wrap(line, width, MARK_WIDTH) {
            let _ = self.bars.println(row);
        }
    }
}

/// The width of the mark before an event line (`ok   `, `FAIL `), and the indent of its
/// continuation rows.
const MARK_WIDTH: usize = 5;

/// How many columns `text` takes: its characters outside ANSI escape sequences.
fn columns(text: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (false, _) => n += 1,
            (true, c) if c.is_ascii_alphabetic() => in_escape = false,
            (true, _) => {}
        }
    }
    n
}

/// `line` in rows of at most `width` columns, broken between words, the continuation rows
/// indented by `indent`; a word longer than a row is cut.
pub fn wrap(line: &str, width: usize, indent: usize) -> Vec<String> {
    if columns(line) <= width || width <= indent + 1 {
        return vec![line.to_owned()];
    }
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut used = 0;
    for (n, word) in line.split(' ').enumerate() {
        let w = columns(word);
        if used > indent && used + 1 + w > width {
            rows.push(std::mem::take(&mut row));
            row.push_str(&" ".repeat(indent));
            used = indent;
        } else if n > 0 {
            row.push(' ');
            used += 1;
        }
        if used + w > width {
            // One word wider than a row: cut it.
            row.extend(word.chars().take(width.saturating_sub(used + 1)));
            row.push('…');
            used = width;
        } else {
            row.push_str(word);
            used += w;
        }
    }
    rows.push(row);
    rows
}

impl Sink for BarsSink {
    fn event(&mut self, event: &Event, view: &View<'_>) {
        let paint = self.paint;
        match &event.what {
            What::StepStarted { step } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {wide_msg}")
                        .expect("a valid template"),
                );
                if let Some(i) = view.playbook.step_index(step) {
                    bar.set_message(step_line(view, i, Instant::now()));
                }
                self.steps.insert(step.clone(), bar);
            }
            What::StepSucceeded { step, .. }
            | What::StepFailed { step, .. }
            | What::StepCancelled { step } => {
                if let Some(bar) = self.steps.remove(step) {
                    bar.finish_and_clear();
                    self.bars.remove(&bar);
                }
                let mark = match &event.what {
                    What::StepSucceeded { .. } => paint.good("ok  "),
                    What::StepFailed { .. } => paint.bad("FAIL"),
                    _ => paint.warn("stop"),
                };
                self.say(&format!("{mark} {}", live_line(event)));
            }
            What::ResourceIntended { .. } => {}
            What::TeardownStarted { resources } => {
                self.teardown = Some(TeardownProgress {
                    settled: 0,
                    total: *resources,
                });
                self.say(&format!("     {}", live_line(event)));
            }
            What::ResourceDeleted { .. } | What::ResourceLeft { .. } => {
                if let Some(t) = self.teardown.as_mut() {
                    t.settled += 1;
                }
                let mark = if matches!(event.what, What::ResourceLeft { .. }) {
                    paint.bad("LEFT")
                } else {
                    "    ".to_owned()
                };
                self.say(&format!("{mark} {}", live_line(event)));
            }
            _ => self.say(&format!("     {}", live_line(event))),
        }
        self.overall
            .set_message(overall_line(view, Instant::now(), self.teardown, paint));
    }

    fn tick(&mut self, view: &View<'_>, now: Instant) {
        for (step, bar) in &self.steps {
            if let Some(i) = view.playbook.step_index(step) {
                bar.set_message(step_line(view, i, now));
            }
            bar.tick();
        }
        self.overall
            .set_message(overall_line(view, now, self.teardown, self.paint));
        self.overall.tick();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64, what: What) -> Event {
        Event {
            at: "2026-11-25T10:15:00.000Z".into(),
            elapsed_secs: secs,
            what,
        }
    }

    #[test]
    fn log_lines_say_what_happened_in_one_line_each() {
        let events = [
            at(
                0.0,
                What::RunStarted {
                    run_id: "r1".into(),
                    playbook: "checkout".into(),
                    steps: 4,
                },
            ),
            at(0.0, What::StepStarted { step: "db".into() }),
            at(
                12.5,
                What::AttemptFailed {
                    step: "db".into(),
                    attempt: 1,
                    reason: "Throttling: Rate exceeded".into(),
                },
            ),
            at(
                61.0,
                What::StepSucceeded {
                    step: "db".into(),
                    attempts: 2,
                    duration_secs: 61.0,
                },
            ),
            at(
                61.0,
                What::StepFailed {
                    step: "probe".into(),
                    timed_out: true,
                    attempts: 3,
                    reason: "timed out after 1m".into(),
                },
            ),
            at(
                61.0,
                What::StepSkipped {
                    step: "dns".into(),
                    because: "probe".into(),
                },
            ),
            at(
                61.2,
                What::MilestoneReached {
                    milestone: "recovered".into(),
                    after_secs: 61.2,
                    target_secs: Some(60.0),
                    met: Some(false),
                },
            ),
            at(
                62.0,
                What::ResourceLeft {
                    step: "db".into(),
                    kind: "rds-instance".into(),
                    id: "fd-r1-db-1".into(),
                    reason: "its tags say run `r0` created it, not this run: not deleting it"
                        .into(),
                },
            ),
            at(
                63.0,
                What::RunFinished {
                    state: "failed".into(),
                    exit_code: 6,
                },
            ),
        ];
        let text: Vec<String> = events.iter().map(log_line).collect();
        insta::assert_snapshot!(text.join("\n"), @r"
        2026-11-25T10:15:00.000Z +0s run-started run r1 of `checkout` (4 steps)
        2026-11-25T10:15:00.000Z +0s step-started db
        2026-11-25T10:15:00.000Z +12.50s attempt-failed db attempt 1: Throttling: Rate exceeded
        2026-11-25T10:15:00.000Z +1m1s step-succeeded db in 1m1s (2 attempts)
        2026-11-25T10:15:00.000Z +1m1s step-failed probe timed out after 3 attempts: timed out after 1m
        2026-11-25T10:15:00.000Z +1m1s step-skipped dns: `probe` failed
        2026-11-25T10:15:00.000Z +1m1s milestone-reached `recovered` at 1m1s (target 1m: MISSED)
        2026-11-25T10:15:00.000Z +1m2s resource-left rds-instance fd-r1-db-1 (step db) LEFT BEHIND: its tags say run `r0` created it, not this run: not deleting it
        2026-11-25T10:15:00.000Z +1m3s run-finished failed (exit 6)
        ");
        assert_eq!(
            events[3].to_json(),
            r#"{"at":"2026-11-25T10:15:00.000Z","elapsed_secs":61.0,"event":"step-succeeded","step":"db","attempts":2,"duration_secs":61.0}"#
        );
    }

    #[test]
    fn lines_wrap_between_words_under_their_mark() {
        let line = "ok   +10.31s step-succeeded restore-the-database in 9.42s (1 attempt)";
        let rows = wrap(line, 40, MARK_WIDTH);
        assert_eq!(
            rows,
            [
                "ok   +10.31s step-succeeded",
                "     restore-the-database in 9.42s (1",
                "     attempt)",
            ]
        );
        assert!(rows.iter().all(|r| columns(r) <= 40));
        assert_eq!(wrap("short", 40, MARK_WIDTH), ["short"]);
        // Colour takes no columns; a word wider than a row is cut.
        assert_eq!(columns("\x1b[32mok\x1b[0m"), 2);
        let cut = wrap(&format!("ok {}", "x".repeat(50)), 20, MARK_WIDTH);
        assert!(cut.iter().all(|r| columns(r) <= 20), "{cut:?}");
    }
}
