//! The record of a tabletop walkthrough: the versioned JSON document the journal keeps for it
//! (who was there, each step's notes, concerns, the team's estimate and the time spent on
//! it) and that `firedrill report` renders, the next walkthrough and the next run read back.
//!
//! Plain data with no I/O: the session ([`super::session`]) changes it, the command line
//! stores it. Every field added within a version has a default, so an older record parses.

use serde::{Deserialize, Serialize};

use crate::steps::context::Readiness;

/// The version of the record's format. Fields are only ever added within a version.
pub const FORMAT_VERSION: u32 = 1;

/// How a walkthrough ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalkState {
    /// It is going on (or its process died: the record holds what was saved until then).
    InProgress,
    /// The facilitator quit and saved it.
    Saved,
    /// Ctrl-C, a closed terminal or a signal ended it; what was recorded is kept.
    Interrupted,
}

impl WalkState {
    /// The name in the journal and in reports.
    pub fn name(self) -> &'static str {
        match self {
            WalkState::InProgress => "in-progress",
            WalkState::Saved => "saved",
            WalkState::Interrupted => "interrupted",
        }
    }
}

/// A whole walkthrough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Its id (`wt-` and a run-id-like stamp).
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The playbook's file, as given.
    pub file: String,
    /// A hash of the playbook's text: which version of the plan was rehearsed.
    pub file_hash: String,
    /// Who led it.
    pub facilitator: String,
    /// Who took part.
    pub participants: Vec<String>,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: Option<String>,
    /// How it ended.
    pub state: WalkState,
    /// The predicted RTO at the time, in seconds.
    pub predicted_rto_secs: f64,
    /// The RTO target, in seconds.
    pub rto_target_secs: Option<f64>,
    /// Every step, in execution order.
    pub steps: Vec<StepRecord>,
    /// The playbook's concerns: those still open from earlier walkthroughs and those raised in
    /// this one, each with its status at the end of this one.
    pub concerns: Vec<Concern>,
    /// Whether a readiness check (`--check`) ran, and when.
    #[serde(default)]
    pub checked_at: Option<String>,
}

/// One step as the team discussed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub uses: String,
    /// What it waits for (step ids).
    pub needs: Vec<String>,
    /// The plan's start for it, in seconds on the RTO clock.
    pub predicted_start_secs: f64,
    /// The plan's duration for it.
    pub predicted_secs: f64,
    /// Where that duration comes from (`learned`, `playbook`, `fields`, `kind-default`).
    pub basis: String,
    /// Whether it is on the critical path.
    pub critical: bool,
    /// The milestone it reaches.
    pub milestone: Option<String>,
    /// What the team said.
    pub notes: Vec<Note>,
    /// The team's own estimate of its duration.
    pub estimate: Option<TeamEstimate>,
    /// When the team marked it rehearsed.
    pub rehearsed_at: Option<String>,
    /// How long the walkthrough stayed on it, in seconds.
    pub time_spent_secs: f64,
    /// What the readiness check found for it.
    #[serde(default)]
    pub readiness: Option<Readiness>,
}

/// A note, stamped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// When it was written (RFC 3339).
    pub at: String,
    /// What it says.
    pub text: String,
}

/// The team's estimate of a step's duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamEstimate {
    /// When it was given.
    pub at: String,
    /// The duration, in seconds.
    pub secs: f64,
    /// As the team wrote it (`25m`).
    pub as_written: String,
}

/// An open question or risk about a step; carried into the next walkthrough, run and game day
/// until a walkthrough closes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concern {
    /// The step it is about.
    pub step: String,
    /// What it is.
    pub text: String,
    /// Who will look into it.
    pub owner: Option<String>,
    /// When it was raised (RFC 3339).
    pub raised_at: String,
    /// The walkthrough that raised it.
    pub raised_in: String,
    /// When a walkthrough closed it.
    pub closed_at: Option<String>,
    /// The walkthrough that closed it.
    pub closed_in: Option<String>,
}

impl Concern {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }
}

impl Record {
    /// The record as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("records serialize")
    }

    /// Reads a record back from the journal.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The concerns still open at its end.
    pub fn open_concerns(&self) -> impl Iterator<Item = &Concern> {
        self.concerns.iter().filter(|c| c.is_open())
    }

    /// The open concerns about step `step`.
    pub fn open_concerns_at<'a>(&'a self, step: &'a str) -> impl Iterator<Item = &'a Concern> {
        self.open_concerns().filter(move |c| c.step == step)
    }

    /// How many steps are marked rehearsed.
    pub fn rehearsed(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.rehearsed_at.is_some())
            .count()
    }

    /// How many notes it has, on all steps.
    pub fn notes(&self) -> usize {
        self.steps.iter().map(|s| s.notes.len()).sum()
    }

    /// How many steps have the team's estimate.
    pub fn estimates(&self) -> usize {
        self.steps.iter().filter(|s| s.estimate.is_some()).count()
    }

    /// How many steps the readiness check found could not start now.
    pub fn not_ready(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.readiness.as_ref().is_some_and(Readiness::blocks))
            .count()
    }

    /// The step `id`.
    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Each step's start and finish on the team's clock: the plan's durations with the team's
    /// estimates in their place, the steps started as soon as what they wait for is done
    /// (steps are in execution order, so one pass is enough).
    pub fn team_schedule(&self) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let start = s
                .needs
                .iter()
                .filter_map(|n| self.steps.iter().position(|o| &o.id == n))
                .filter_map(|i| out.get(i).map(|(_, f)| *f))
                .fold(0.0, f64::max);
            let secs = s.estimate.as_ref().map_or(s.predicted_secs, |e| e.secs);
            out.push((start, start + secs));
        }
        out
    }
}

/// A new walkthrough id: `wt-` and the shape of a run id.
pub fn new_id() -> String {
    format!("wt-{}", crate::store::journal::new_run_id())
}
