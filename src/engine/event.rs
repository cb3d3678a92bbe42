//! What happens during a run, as events: the one record that the journal, the log lines, the
//! JSON log and the progress display are all made from. Every event carries the time on the
//! run's monotonic clock (`elapsed`) and the wall-clock time derived from it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::store::recorder::Recorder;

/// The run's clock: a monotonic start (what RTO is measured on) and the wall-clock time of
/// that start (what reports show). Wall times are derived from the monotonic clock, so a clock
/// step (NTP) during a drill cannot bend its measurements.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    wall: DateTime<Utc>,
}

impl Clock {
    /// A clock started now.
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
            wall: Utc::now(),
        }
    }

    /// When the run started (monotonic).
    pub fn started(&self) -> Instant {
        self.start
    }

    /// When the run started (wall clock).
    pub fn started_wall(&self) -> DateTime<Utc> {
        self.wall
    }

    /// Time since the start.
    pub fn elapsed(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.start)
    }

    /// The wall-clock time of `at`.
    pub fn wall(&self, at: Instant) -> DateTime<Utc> {
        chrono::Duration::from_std(self.elapsed(at))
            .ok()
            .and_then(|d| self.wall.checked_add_signed(d))
            .unwrap_or(self.wall)
    }
}

/// An RFC 3339 timestamp with milliseconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Seconds as a JSON-friendly number with millisecond precision.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Something that happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum What {
    /// The run began.
    RunStarted {
        /// The run id.
        run_id: String,
        /// The playbook's name.
        playbook: String,
        /// How many steps it has.
        steps: usize,
    },
    /// The account guard let the run through.
    GuardPassed {
        /// The account.
        account: String,
        /// The caller's ARN.
        arn: String,
    },
    /// A step started (its first attempt).
    StepStarted {
        /// The step.
        step: String,
    },
    /// An attempt of a step failed; another may follow.
    AttemptFailed {
        /// The step.
        step: String,
        /// Which attempt (from 1).
        attempt: u32,
        /// Why.
        reason: String,
    },
    /// A step succeeded.
    StepSucceeded {
        /// The step.
        step: String,
        /// Attempts it took.
        attempts: u32,
        /// How long it ran, in seconds.
        duration_secs: f64,
    },
    /// A step failed or timed out.
    StepFailed {
        /// The step.
        step: String,
        /// Whether it ran out of time.
        timed_out: bool,
        /// Attempts made.
        attempts: u32,
        /// Why.
        reason: String,
    },
    /// A running step was cancelled because the run stopped.
    StepCancelled {
        /// The step.
        step: String,
    },
    /// A step will not run because one it depends on failed.
    StepSkipped {
        /// The step.
        step: String,
        /// The failed step.
        because: String,
    },
    /// A step will not run because the run stopped.
    StepNotStarted {
        /// The step.
        step: String,
        /// Why the run stopped.
        reason: String,
    },
    /// Every step of a milestone succeeded.
    MilestoneReached {
        /// The milestone.
        milestone: String,
        /// Time since the drill started, in seconds (the measured RTO of the milestone).
        after_secs: f64,
        /// Its target, in seconds.
        target_secs: Option<f64>,
        /// Whether the target was met.
        met: Option<bool>,
    },
    /// The run stopped dispatching.
    Stopping {
        /// Why.
        reason: String,
    },
    /// A step is about to create a resource (written to the journal before the call).
    ResourceIntended {
        /// The step.
        step: String,
        /// The resource kind.
        kind: String,
        /// The name or idempotency token it is created with.
        token: String,
    },
    /// A step created a resource.
    ResourceCreated {
        /// The step.
        step: String,
        /// The resource kind.
        kind: String,
        /// Its id.
        id: String,
    },
    /// Teardown began.
    TeardownStarted {
        /// How many resources it deletes.
        resources: usize,
    },
    /// A resource is gone.
    ResourceDeleted {
        /// The step that created it.
        step: String,
        /// The resource kind.
        kind: String,
        /// Its id, or its token when it never existed.
        id: String,
        /// How it was settled (`deleted`, `already gone`, `never created`; a changed record:
        /// `restored (A 10.0.1.10, TTL 300)`).
        how: String,
    },
    /// A resource could not be deleted and is left behind.
    ResourceLeft {
        /// The step that created it.
        step: String,
        /// The resource kind.
        kind: String,
        /// Its id or token.
        id: String,
        /// Why.
        reason: String,
    },
    /// Teardown is still waiting on these resources.
    TeardownWaiting {
        /// `kind id` of each.
        on: Vec<String>,
    },
    /// Teardown ended.
    TeardownFinished {
        /// `done`, `incomplete` or `abandoned`.
        state: String,
    },
    /// Teardown was not done, by policy.
    TeardownKept {
        /// Why, and until when.
        reason: String,
    },
    /// A facilitator paused dispatching: running steps go on, no new step starts.
    Paused {
        /// Who paused.
        by: String,
    },
    /// Dispatching resumed after a pause.
    Resumed {
        /// Who resumed.
        by: String,
        /// How long the pause lasted, in seconds.
        paused_secs: f64,
    },
    /// A note, stamped on the RTO clock.
    Note {
        /// Who wrote it.
        by: String,
        /// What it says.
        text: String,
    },
    /// A manual gate waits for an answer (at the terminal, or from outside).
    GateWaiting {
        /// The gate's step.
        step: String,
        /// What it asks.
        prompt: String,
    },
    /// A manual gate was answered from outside the terminal.
    GateAnswered {
        /// The gate's step.
        step: String,
        /// Whether it was approved.
        approved: bool,
        /// Who answered.
        by: String,
    },
    /// A failure was injected into a running step: it stops and fails with the reason.
    FailureInjected {
        /// The step.
        step: String,
        /// The reason it fails with.
        reason: String,
        /// Who injected it.
        by: String,
    },
    /// A command could not be carried out (a step that is not running, a gate not waiting).
    CommandRefused {
        /// The command, as it reads in a log.
        command: String,
        /// Why not.
        reason: String,
    },
    /// The run ended.
    RunFinished {
        /// `passed`, `target-missed`, `failed` or `interrupted`.
        state: String,
        /// The exit code.
        exit_code: u8,
    },
}

impl What {
    /// The kebab-case name of the event (`step-started`).
    pub fn name(&self) -> &'static str {
        match self {
            What::RunStarted { .. } => "run-started",
            What::GuardPassed { .. } => "guard-passed",
            What::StepStarted { .. } => "step-started",
            What::AttemptFailed { .. } => "attempt-failed",
            What::StepSucceeded { .. } => "step-succeeded",
            What::StepFailed { .. } => "step-failed",
            What::StepCancelled { .. } => "step-cancelled",
            What::StepSkipped { .. } => "step-skipped",
            What::StepNotStarted { .. } => "step-not-started",
            What::MilestoneReached { .. } => "milestone-reached",
            What::Stopping { .. } => "stopping",
            What::ResourceIntended { .. } => "resource-intended",
            What::ResourceCreated { .. } => "resource-created",
            What::TeardownStarted { .. } => "teardown-started",
            What::ResourceDeleted { .. } => "resource-deleted",
            What::ResourceLeft { .. } => "resource-left",
            What::TeardownWaiting { .. } => "teardown-waiting",
            What::TeardownFinished { .. } => "teardown-finished",
            What::TeardownKept { .. } => "teardown-kept",
            What::Paused { .. } => "paused",
            What::Resumed { .. } => "resumed",
            What::Note { .. } => "note",
            What::GateWaiting { .. } => "gate-waiting",
            What::GateAnswered { .. } => "gate-answered",
            What::FailureInjected { .. } => "failure-injected",
            What::CommandRefused { .. } => "command-refused",
            What::RunFinished { .. } => "run-finished",
        }
    }

    /// The step the event concerns, if one.
    pub fn step(&self) -> Option<&str> {
        match self {
            What::StepStarted { step }
            | What::AttemptFailed { step, .. }
            | What::StepSucceeded { step, .. }
            | What::StepFailed { step, .. }
            | What::StepCancelled { step }
            | What::StepSkipped { step, .. }
            | What::StepNotStarted { step, .. }
            | What::ResourceIntended { step, .. }
            | What::ResourceCreated { step, .. }
            | What::ResourceDeleted { step, .. }
            | What::ResourceLeft { step, .. }
            | What::GateWaiting { step, .. }
            | What::GateAnswered { step, .. }
            | What::FailureInjected { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// An event with its time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    /// Wall-clock time (RFC 3339, milliseconds).
    pub at: String,
    /// Seconds since the drill started, on the monotonic clock.
    pub elapsed_secs: f64,
    /// What happened.
    #[serde(flatten)]
    pub what: What,
}

impl Event {
    /// `what`, happening now on `clock`.
    pub fn now(clock: &Clock, what: What) -> Self {
        Self::at(clock, Instant::now(), what)
    }

    /// `what`, happening at `at` on `clock`.
    pub fn at(clock: &Clock, at: Instant, what: What) -> Self {
        Self {
            at: rfc3339(clock.wall(at)),
            elapsed_secs: secs(clock.elapsed(at)),
            what,
        }
    }

    /// The event as one JSON line (for `--log-format json` and the journal).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }

    /// Sends the event to run `run_id`'s journal (written by the recorder's thread, in order).
    pub fn journal(&self, recorder: &Recorder, run_id: &str) {
        let (run_id, json) = (run_id.to_owned(), self.to_json());
        let (step, kind, at) = (
            self.what.step().map(str::to_owned),
            self.what.name(),
            self.at.clone(),
        );
        recorder.send(move |j| {
            let _ = j.event_at(&run_id, &at, step.as_deref(), kind, &json);
        });
    }
}
