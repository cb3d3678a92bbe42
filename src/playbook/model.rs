//! The validated playbook: what the engine runs and `plan` shows. Every reference in it names
//! something that exists, and its steps form an acyclic graph.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::language::duration::Duration;
use crate::language::template::Template;
use crate::playbook::graph::Dag;
use crate::steps::{self, Action, Outputs};

/// When the drill tears down what it created.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TeardownPolicy {
    /// Always, whatever the outcome (default).
    #[default]
    Always,
    /// Only when the drill passed; a failed drill is kept for investigation until swept.
    OnSuccess,
    /// Never: `firedrill teardown` or `firedrill sweep` does it later.
    Never,
}

impl TeardownPolicy {
    /// The name as a playbook writes it (and the journal and reports keep it).
    pub fn name(self) -> &'static str {
        match self {
            TeardownPolicy::Always => "always",
            TeardownPolicy::OnSuccess => "on-success",
            TeardownPolicy::Never => "never",
        }
    }
}

/// What a failed step does to the drill.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Stop dispatching, cancel what runs, tear down (default).
    #[default]
    Abort,
    /// Skip the steps that depend on it; independent steps go on.
    Continue,
}

/// Recovery targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    /// To the `recovered` milestone.
    pub rto: Option<Duration>,
    /// The most data loss allowed.
    pub rpo: Option<Duration>,
    /// Recovery time targets of other milestones.
    pub milestones: BTreeMap<String, Duration>,
}

impl Targets {
    /// The RTO target of `milestone`, `rto` for `recovered`.
    pub fn for_milestone(&self, milestone: &str) -> Option<Duration> {
        if milestone == RECOVERED {
            self.rto
        } else {
            self.milestones.get(milestone).copied()
        }
    }
}

/// The milestone that `targets.rto` measures to.
pub const RECOVERED: &str = "recovered";

/// Where the drill may run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sandbox {
    /// Allowed 12-digit account ids.
    pub accounts: Vec<String>,
    /// The region, when the playbook fixes one.
    pub region: Option<String>,
    /// A role to assume.
    pub role_arn: Option<String>,
    /// An endpoint override.
    pub endpoint: Option<String>,
    /// Extra tags for everything created.
    pub tags: BTreeMap<String, String>,
    /// When to tear down.
    pub teardown: TeardownPolicy,
    /// How long to keep resources before teardown.
    pub keep_for: Option<Duration>,
}

/// How a step is retried.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in all, when limited.
    pub attempts: Option<u32>,
    /// Time between attempts.
    pub interval: Duration,
    /// Multiplier of the interval after each attempt.
    pub backoff: f64,
    /// Stop trying this long after the first attempt.
    pub until: Option<Duration>,
}

/// The default time between attempts.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration(std::time::Duration::from_secs(10));

/// A validated step.
#[derive(Clone, Debug)]
pub struct Step {
    /// The id.
    pub id: String,
    /// What it does.
    pub action: Action,
    /// Everything it waits for: `needs` and the steps whose outputs it uses (indices).
    pub deps: Vec<usize>,
    /// The longest it may take.
    pub timeout: Option<Duration>,
    /// How it is retried.
    pub retry: Option<Retry>,
    /// What its failure does.
    pub on_failure: OnFailure,
    /// The milestone it reaches.
    pub milestone: Option<String>,
    /// The playbook's estimate.
    pub estimate: Option<Duration>,
    /// What it is for.
    pub description: Option<String>,
    /// Its outputs.
    pub outputs: Outputs,
    /// The line it starts on.
    pub line: u32,
}

/// Where a step's planning estimate comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EstimateSource {
    /// The step's `estimate`.
    Playbook,
    /// The step's own fields (a `wait`'s duration).
    Fields,
    /// The kind's default.
    KindDefault,
}

impl Step {
    /// The kind name.
    pub fn uses(&self) -> &'static str {
        self.action.name()
    }

    /// The expected duration for planning, and where it comes from.
    pub fn planned_duration(&self) -> (Duration, EstimateSource) {
        if let Some(e) = self.estimate {
            return (e, EstimateSource::Playbook);
        }
        if let Some(e) = self.action.estimate() {
            return (e, EstimateSource::Fields);
        }
        let info = steps::info(self.uses()).expect("a validated step has a known kind");
        (info.default_estimate, EstimateSource::KindDefault)
    }
}

/// A validated playbook.
#[derive(Clone, Debug)]
pub struct Playbook {
    /// The file it was read from.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// What it restores.
    pub description: Option<String>,
    /// Its owner.
    pub owner: Option<String>,
    /// Its targets.
    pub targets: Targets,
    /// Where it may run.
    pub sandbox: Sandbox,
    /// Its vars.
    pub vars: BTreeMap<String, Template>,
    /// Its steps, in file order.
    pub steps: Vec<Step>,
    /// Their dependency graph (indices into `steps`).
    pub dag: Dag,
}

impl Playbook {
    /// The directory its relative paths (templates, commands) are resolved against: the
    /// playbook file's, or `.`.
    pub fn base_dir(&self) -> PathBuf {
        self.file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
    }

    /// The index of the step with id `id`.
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// The milestones that steps reach, each with the steps that reach it, in file order.
    pub fn milestones(&self) -> BTreeMap<&str, Vec<usize>> {
        let mut out: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            if let Some(m) = &s.milestone {
                out.entry(m.as_str()).or_default().push(i);
            }
        }
        out
    }
}
