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

/// `m:ss.t`, or `h:mm:ss` past an hour.
pub fn clock_text(d: Duration) -> String {
    let ms = d.as_millis();
    let (h, m, s, tenth) = (
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms / 100 % 10,
    );
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}.{tenth}")
    }
}

/// One line for an event, for cron logs: time, offset on the RTO clock, event, step, details.
pub fn log_line(e: &Event) -> String {
    let detail = match &e.what {
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
            clock_text(Duration::from_secs_f64(*duration_secs)),
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
            let after = clock_text(Duration::from_secs_f64(*after_secs));
            match (target_secs, met) {
                (Some(t), Some(met)) => format!(
                    "`{milestone}` at {after} (target {}: {})",
                    clock_text(Duration::from_secs_f64(*t)),
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
    };
    format!(
        "{} +{} {} {detail}",
        e.at,
        clock_text(Duration::from_secs_f64(e.elapsed_secs)),
        e.what.name()
    )
}

/// The overall line: the RTO clock against its target, and the steps done.
pub fn overall_line(view: &View<'_>, now: Instant) -> String {
    let elapsed = view.clock.elapsed(now);
    let total = view.board.states().len();
    let done = view.board.states().iter().filter(|s| s.is_final()).count();
    let running = view
        .board
        .states()
        .iter()
        .filter(|s| **s == StepState::Running)
        .count();
    let rto = match (view.reached.get(RECOVERED), view.playbook.targets.rto) {
        (Some(at), Some(t)) => format!(
            "RTO {} / {} {}",
            clock_text(*at),
            t,
            if *at <= t.0 { "met" } else { "MISSED" }
        ),
        (Some(at), None) => format!("RTO {}", clock_text(*at)),
        (None, Some(t)) if elapsed > t.0 => format!("RTO {} / {t} OVER", clock_text(elapsed)),
        (None, Some(t)) => format!("RTO {} / {t}", clock_text(elapsed)),
        (None, None) => format!("elapsed {}", clock_text(elapsed)),
    };
    format!("{rto} · {done}/{total} steps done · {running} running")
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
        clock_text(elapsed)
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

/// Live progress bars on a terminal.
pub struct BarsSink {
    bars: MultiProgress,
    overall: ProgressBar,
    steps: HashMap<String, ProgressBar>,
}

impl BarsSink {
    /// Bars drawn on standard error.
    pub fn new() -> Self {
        let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = bars.add(ProgressBar::new_spinner());
        overall
            .set_style(ProgressStyle::with_template("{spinner} {msg}").expect("a valid template"));
        Self {
            bars,
            overall,
            steps: HashMap::new(),
        }
    }

    /// The bars, for prompts that must hide them.
    pub fn multi(&self) -> MultiProgress {
        self.bars.clone()
    }

    /// Removes every bar.
    pub fn finish(&mut self) {
        for (_, bar) in self.steps.drain() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
    }
}

impl Default for BarsSink {
    fn default() -> Self {
        Self::new()
    }
}

impl Sink for BarsSink {
    fn event(&mut self, event: &Event, view: &View<'_>) {
        match &event.what {
            What::StepStarted { step } => {
                let bar = self.bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {msg}").expect("a valid template"),
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
                    What::StepSucceeded { .. } => "ok  ",
                    What::StepFailed { .. } => "FAIL",
                    _ => "stop",
                };
                let _ = self.bars.println(format!("{mark} {}", log_line(event)));
            }
            What::ResourceIntended { .. } => {}
            _ => {
                let _ = self.bars.println(format!("     {}", log_line(event)));
            }
        }
        self.overall.set_message(overall_line(view, Instant::now()));
    }

    fn tick(&mut self, view: &View<'_>, now: Instant) {
        for (step, bar) in &self.steps {
            if let Some(i) = view.playbook.step_index(step) {
                bar.set_message(step_line(view, i, now));
            }
            bar.tick();
        }
        self.overall.set_message(overall_line(view, now));
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
        2026-11-25T10:15:00.000Z +0:00.0 run-started run r1 of `checkout` (4 steps)
        2026-11-25T10:15:00.000Z +0:00.0 step-started db
        2026-11-25T10:15:00.000Z +0:12.5 attempt-failed db attempt 1: Throttling: Rate exceeded
        2026-11-25T10:15:00.000Z +1:01.0 step-succeeded db in 1:01.0 (2 attempts)
        2026-11-25T10:15:00.000Z +1:01.0 step-failed probe timed out after 3 attempts: timed out after 1m
        2026-11-25T10:15:00.000Z +1:01.0 step-skipped dns: `probe` failed
        2026-11-25T10:15:00.000Z +1:01.2 milestone-reached `recovered` at 1:01.2 (target 1:00.0: MISSED)
        2026-11-25T10:15:00.000Z +1:02.0 resource-left rds-instance fd-r1-db-1 (step db) LEFT BEHIND: its tags say run `r0` created it, not this run: not deleting it
        2026-11-25T10:15:00.000Z +1:03.0 run-finished failed (exit 6)
        ");
        assert_eq!(
            events[3].to_json(),
            r#"{"at":"2026-11-25T10:15:00.000Z","elapsed_secs":61.0,"event":"step-succeeded","step":"db","attempts":2,"duration_secs":61.0}"#
        );
    }

    #[test]
    fn clock_text_reads_like_a_stopwatch() {
        assert_eq!(clock_text(Duration::from_millis(1_234)), "0:01.2");
        assert_eq!(clock_text(Duration::from_secs(754)), "12:34.0");
        assert_eq!(clock_text(Duration::from_secs(3_725)), "1:02:05");
    }
}
