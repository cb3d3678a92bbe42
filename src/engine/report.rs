//! The run report: the versioned JSON document a run leaves behind (in its directory and in
//! the journal), which `firedrill report`, `history` and every rendering (the summary among
//! them, in [`crate::reports::summary`]) build on.
//!
//! Reports are read back from the journal to be rendered again ([`crate::reports`]), so every
//! field added within a version has a default: a report written by an older firedrill parses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::board::StepState;
use crate::store::journal::ResourceRecord;

/// The version of the report's format. Fields are only ever added within a version.
pub const FORMAT_VERSION: u32 = 1;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Every step succeeded and every target was met.
    Passed,
    /// Every step succeeded, but a target was missed.
    TargetMissed,
    /// A step failed (or timed out, or the deadline passed).
    Failed,
    /// A signal stopped the run.
    Interrupted,
}

impl RunState {
    /// The name in reports and the journal.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Passed => "passed",
            RunState::TargetMissed => "target-missed",
            RunState::Failed => "failed",
            RunState::Interrupted => "interrupted",
        }
    }
}

/// How a run's teardown ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeardownState {
    /// Everything the run created is gone.
    Done,
    /// Something is left behind.
    Incomplete,
    /// A second signal stopped it; `firedrill teardown` resumes it.
    Abandoned,
    /// The policy kept the resources (`never`, `on-success` after a failure, `keep_for`).
    Kept,
    /// The run created nothing.
    NotNeeded,
}

impl TeardownState {
    /// The name in reports and the journal.
    pub fn name(self) -> &'static str {
        match self {
            TeardownState::Done => "done",
            TeardownState::Incomplete => "incomplete",
            TeardownState::Abandoned => "abandoned",
            TeardownState::Kept => "kept",
            TeardownState::NotNeeded => "not-needed",
        }
    }

    /// Whether the run's resources are all settled (deleted, or kept on purpose).
    pub fn is_settled(self) -> bool {
        match self {
            TeardownState::Done | TeardownState::Kept | TeardownState::NotNeeded => true,
            TeardownState::Incomplete | TeardownState::Abandoned => false,
        }
    }
}

impl std::fmt::Display for TeardownState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The whole report.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The run id.
    pub run_id: String,
    /// The playbook.
    pub playbook: PlaybookInfo,
    /// The account the guard found (none when the drill made no AWS call).
    pub account: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// How long it took, teardown included.
    pub duration_secs: f64,
    /// How it ended.
    pub state: RunState,
    /// The exit code of `firedrill run`.
    pub exit_code: u8,
    /// Why dispatching stopped early, if it did.
    pub stop_reason: Option<String>,
    /// The recovery time: to the `recovered` milestone.
    pub rto: Measure,
    /// The data loss: measured by restore and backup steps and `probe.sql` with
    /// `measures: rpo`, back from `disaster_at` (else from `started_at`).
    pub rpo: Measure,
    /// The declared disaster time (RFC 3339), when one was given.
    pub disaster_at: Option<String>,
    /// Every milestone the playbook names.
    pub milestones: Vec<MilestoneReport>,
    /// Every step, in file order.
    pub steps: Vec<StepReport>,
    /// The run's critical path: the chain of steps that decided when its last step finished
    /// (that step, the dependency of it that finished last, and so on back to the start), first
    /// step first. Empty when no step ran.
    #[serde(default)]
    pub critical_path: Vec<String>,
    /// What the run created, and what became of it.
    pub resources: Vec<ResourceRecord>,
    /// The teardown.
    pub teardown: TeardownReport,
    /// What the playbook's last walkthrough said before this run: its open concerns and the
    /// team's estimates, compared with what was measured (none without a walkthrough).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rehearsal: Option<Rehearsal>,
}

/// The last walkthrough of a run's playbook, as the run carries it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rehearsal {
    /// The walkthrough's id.
    pub walkthrough: String,
    /// When it started (RFC 3339).
    pub at: String,
    /// The concerns still open at its end.
    pub concerns: Vec<OpenConcern>,
    /// The team's estimates, by step id, in seconds.
    pub estimates: BTreeMap<String, f64>,
}

/// A concern a walkthrough left open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenConcern {
    /// The step it is about.
    pub step: String,
    /// What it is.
    pub text: String,
    /// Who looks into it.
    pub owner: Option<String>,
    /// When it was raised.
    pub raised_at: String,
}

impl OpenConcern {
    /// The concern in one line: `who has the image? (owner: sam, raised 2026-12-02)`.
    pub fn line(&self) -> String {
        let owner = self
            .owner
            .as_ref()
            .map_or(String::new(), |o| format!("owner: {o}, "));
        format!(
            "{} ({owner}raised {})",
            self.text,
            self.raised_at.get(..10).unwrap_or(&self.raised_at)
        )
    }
}

impl Rehearsal {
    /// Each step of `steps` with a team estimate and a measured duration, and the two side
    /// by side (`versus`).
    pub fn compare<'a>(&self, steps: &'a [StepReport]) -> Vec<(&'a str, String)> {
        steps
            .iter()
            .filter_map(|s| self.versus(s).map(|v| (s.id.as_str(), v)))
            .collect()
    }

    /// `estimated 10m, took 14m32s (4m32s over)`: the team's estimate of `step` beside its
    /// measured duration; none without both.
    pub fn versus(&self, step: &StepReport) -> Option<String> {
        use crate::language::duration::human;
        let estimate = *self.estimates.get(&step.id)?;
        let measured = step.duration_secs?;
        let diff = measured - estimate;
        let how = if diff.abs() < 0.0005 {
            "as estimated".to_owned()
        } else if diff > 0.0 {
            format!("{} over", human(diff))
        } else {
            format!("{} under", human(-diff))
        };
        Some(format!(
            "estimated {}, took {} ({how})",
            human(estimate),
            human(measured)
        ))
    }
}

/// The playbook of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlaybookInfo {
    /// Its name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// Its owner.
    pub owner: Option<String>,
}

/// A target and what was measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Measure {
    /// The target, in seconds.
    pub target_secs: Option<f64>,
    /// What was measured, in seconds.
    pub measured_secs: Option<f64>,
    /// Whether the target was met (none without a target or a measurement).
    pub met: Option<bool>,
    /// The target minus what was measured: positive is time to spare, negative is by how
    /// much it was missed (none without both).
    #[serde(default)]
    pub margin_secs: Option<f64>,
}

impl Measure {
    /// A measure against its target, its margin computed.
    pub fn new(target_secs: Option<f64>, measured_secs: Option<f64>, met: Option<bool>) -> Self {
        Measure {
            target_secs,
            measured_secs,
            met,
            // To the millisecond, as the measures are: no 29.999999999 in reports.
            margin_secs: target_secs
                .zip(measured_secs)
                .map(|(t, m)| ((t - m) * 1000.0).round() / 1000.0),
        }
    }
}

/// A milestone.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MilestoneReport {
    /// Its name.
    pub name: String,
    /// Its target, in seconds.
    pub target_secs: Option<f64>,
    /// When it was reached, in seconds since the drill started.
    pub reached_secs: Option<f64>,
    /// When it was reached (RFC 3339).
    pub reached_at: Option<String>,
    /// Whether its target was met: `false` when it has a target and was not reached.
    pub met: Option<bool>,
    /// Its target minus when it was reached (none without both).
    #[serde(default)]
    pub margin_secs: Option<f64>,
}

/// A step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepReport {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub uses: String,
    /// Where it ended: `state` and its reason fields.
    #[serde(flatten)]
    pub state: StepState,
    /// Its milestone.
    pub milestone: Option<String>,
    /// How many attempts it made.
    pub attempts: u32,
    /// When it started, in seconds since the drill started.
    pub start_secs: Option<f64>,
    /// How long it took.
    pub duration_secs: Option<f64>,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Why its attempts failed (the last few).
    pub failures: Vec<String>,
    /// Its outputs (a `run` step's `stdout` is the tail of its output).
    pub outputs: BTreeMap<String, String>,
}

/// The teardown of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TeardownReport {
    /// The playbook's policy.
    pub policy: String,
    /// How it ended.
    pub state: TeardownState,
    /// Until when resources are kept (`keep_for`), or why they are.
    pub kept: Option<String>,
    /// What is left behind, and why.
    pub left: Vec<LeftReport>,
    /// When the teardown started, in seconds since the drill started (none when there was
    /// nothing to tear down, or it was not attempted).
    #[serde(default)]
    pub started_secs: Option<f64>,
    /// How long the teardown took.
    #[serde(default)]
    pub duration_secs: Option<f64>,
}

/// A resource left behind.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeftReport {
    /// The step that created it.
    pub step: String,
    /// Its kind.
    pub kind: String,
    /// Its id, or its token when its id is unknown.
    pub id: String,
    /// Why it is left.
    pub reason: String,
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("reports serialize")
    }

    /// Reads a report back (from the journal or a `report.json`). A report of an older
    /// firedrill of the same format version parses: fields are only added, with defaults.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The name of a step state (`succeeded`, `timed-out`, ...).
pub fn state_name(s: &StepState) -> &'static str {
    match s {
        StepState::Waiting => "waiting",
        StepState::Ready => "ready",
        StepState::Running => "running",
        StepState::Succeeded => "succeeded",
        StepState::Failed { .. } => "failed",
        StepState::TimedOut => "timed-out",
        StepState::Skipped { .. } => "skipped",
        StepState::NotStarted { .. } => "not-started",
        StepState::Cancelled => "cancelled",
    }
}
