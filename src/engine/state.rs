//! A run's state, as the dispatcher and the conclusion share it: the drill as prepared, how
//! it runs, each step's run, what the display sees, and the [`Ledger`] that records every
//! event (the journal first, then the display). Knows nothing of how steps are started.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::board::{Board, StepState};
use crate::engine::command::Commands;
use crate::engine::event::{Clock, Event, What, secs};
use crate::engine::report::Report;
use crate::engine::teardown;
use crate::playbook::Playbook;
use crate::steps::context::{Outputs, Shared};
use crate::store::recorder::Recorder;

/// How a run behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// At most this many steps at once.
    pub parallel: Option<usize>,
    /// Stop dispatching this long after the start.
    pub deadline: Option<Duration>,
    /// The teardown's settings.
    pub teardown: teardown::Options,
    /// The seed of retry jitter.
    pub seed: u64,
    /// How often the display is refreshed (none: no ticks).
    pub tick: Option<Duration>,
    /// The declared disaster time: what RPOs are measured from (none: the drill's start).
    pub disaster_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The playbook's last walkthrough, carried into the report.
    pub rehearsal: Option<crate::engine::report::Rehearsal>,
}

/// A drill ready to run ([`super::prepare`] makes one).
pub struct Drill {
    /// The playbook.
    pub playbook: Arc<Playbook>,
    /// The run id (already in the journal).
    pub run_id: String,
    /// Who the guard found (none when the drill makes no AWS call).
    pub identity: Option<crate::aws::guard::Identity>,
    /// What steps share.
    pub shared: Arc<Shared>,
    /// How it runs.
    pub options: Options,
    /// Commands from outside (a facilitator's screen, another terminal, a test).
    pub commands: Commands,
}

/// Where the display and logs go: told of every event, and ticked.
pub trait Sink {
    /// Something happened.
    fn event(&mut self, event: &Event, view: &View<'_>);
    /// Time passed (refresh a live display).
    fn tick(&mut self, _view: &View<'_>, _now: Instant) {}
}

/// How many failure reasons of a step's attempts the report keeps (the last ones).
pub const KEPT_FAILURES: usize = 5;

/// One step's run: times, attempts, failures and outputs.
#[derive(Clone, Debug, Default)]
pub struct StepRun {
    /// When it started.
    pub started: Option<Instant>,
    /// When it finished.
    pub finished: Option<Instant>,
    /// Attempts made (so far, while running).
    pub attempts: u32,
    /// The last failure reasons.
    pub failures: Vec<String>,
    /// Its outputs.
    pub outputs: Outputs,
}

/// What the display sees of a run.
pub struct View<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// Every step's state.
    pub board: &'a Board,
    /// Every step's run.
    pub runs: &'a [StepRun],
    /// The run's clock.
    pub clock: &'a Clock,
    /// The milestones reached, with their time since the start.
    pub reached: &'a HashMap<String, Duration>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The exit code.
    pub exit_code: u8,
    /// Whether a second signal stopped the teardown (so it must be resumed).
    pub teardown_abandoned: bool,
}

/// What a run knows and where it says so: the state every rendering sees, the display and the
/// journal. Shared by the dispatch loop and the conclusion.
pub(crate) struct Ledger<'s> {
    pub(super) playbook: Arc<Playbook>,
    pub(super) run_id: String,
    pub(super) clock: Clock,
    pub(super) board: Board,
    pub(super) runs: Vec<StepRun>,
    pub(super) reported: Vec<bool>,
    /// Resources created so far (what a stop will have to tear down).
    pub(super) created: usize,
    pub(super) reached: HashMap<String, Duration>,
    pub(super) sink: &'s mut dyn Sink,
    pub(super) recorder: Recorder,
}

impl Ledger<'_> {
    /// Records `what` as happening at `at`: the journal first, then the display.
    pub(super) fn emit_at(&mut self, at: Instant, what: What) {
        if let What::ResourceCreated { .. } = what {
            self.created += 1;
        }
        let event = Event::at(&self.clock, at, what);
        event.journal(&self.recorder, &self.run_id);
        let (view, sink) = self.shown();
        sink.event(&event, &view);
    }

    /// What the display sees, and the display.
    fn shown(&mut self) -> (View<'_>, &mut dyn Sink) {
        let Ledger {
            playbook,
            board,
            runs,
            clock,
            reached,
            sink,
            ..
        } = self;
        let view = View {
            playbook,
            board,
            runs,
            clock,
            reached,
        };
        (view, &mut **sink)
    }

    /// Records `what` as happening now.
    pub(super) fn emit(&mut self, what: What) {
        self.emit_at(Instant::now(), what);
    }

    pub(super) fn tick(&mut self) {
        let (view, sink) = self.shown();
        sink.tick(&view, Instant::now());
    }

    /// An event from a running step: a failed attempt is counted and its reason kept (the
    /// last [`KEPT_FAILURES`], for the report, whether the step ends up succeeding or not).
    pub(super) fn step_event(&mut self, what: What) {
        if let What::AttemptFailed {
            step,
            attempt,
            reason,
        } = &what
            && let Some(i) = self.playbook.step_index(step)
        {
            let r = &mut self.runs[i];
            r.attempts = attempt + 1;
            r.failures.push(reason.clone());
            let extra = r.failures.len().saturating_sub(KEPT_FAILURES);
            r.failures.drain(..extra);
        }
        self.emit(what);
    }

    /// Reports steps that became skipped or not started since the last call.
    pub(super) fn report_unstarted(&mut self) {
        for i in 0..self.board.states().len() {
            if self.reported[i] {
                continue;
            }
            let what = match self.board.state(i) {
                StepState::Skipped { because } => What::StepSkipped {
                    step: self.playbook.steps[i].id.clone(),
                    because: because.clone(),
                },
                StepState::NotStarted { reason } => What::StepNotStarted {
                    step: self.playbook.steps[i].id.clone(),
                    reason: reason.clone(),
                },
                StepState::Waiting
                | StepState::Ready
                | StepState::Running
                | StepState::Succeeded
                | StepState::Failed { .. }
                | StepState::TimedOut
                | StepState::Cancelled => continue,
            };
            self.reported[i] = true;
            self.emit(what);
        }
    }

    pub(super) fn milestone_check(&mut self, i: usize, at: Instant) {
        let Some(m) = self.playbook.steps[i].milestone.clone() else {
            return;
        };
        let all = self
            .playbook
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.milestone.as_deref() == Some(m.as_str()))
            .all(|(j, _)| *self.board.state(j) == StepState::Succeeded);
        if !all || self.reached.contains_key(&m) {
            return;
        }
        let after = self.clock.elapsed(at);
        self.reached.insert(m.clone(), after);
        let target = self.playbook.targets.for_milestone(&m);
        self.emit_at(
            at,
            What::MilestoneReached {
                milestone: m,
                after_secs: secs(after),
                target_secs: target.map(|t| secs(t.0)),
                met: target.map(|t| after <= t.0),
            },
        );
    }
}

/// What stopped or bent the run while it dispatched.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flags {
    /// A signal stopped the run.
    pub(super) interrupted: bool,
    /// The deadline passed.
    pub(super) deadline_passed: bool,
    /// A second signal stopped the waiting for running steps.
    pub(super) abandoned: bool,
}
