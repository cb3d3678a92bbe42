//! The playbook language as written: version 1. These types are what the YAML deserializes
//! into, section by section, and what the JSON Schema is generated from. The compiler turns
//! them into the validated [`super::model`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::de::{Any, Spanned};
use crate::language::duration::Duration;
use crate::language::shapes::{OneOrMany, Scalar};

pub use super::model::{OnFailure, TeardownPolicy};

/// A firedrill playbook (version 1): a recovery plan as a dependency graph of steps.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "firedrill playbook")]
pub struct PlaybookDoc {
    /// The language version: `1`.
    pub version: u32,
    /// The drill's name: letters, digits, `.`, `_` and `-`; used in tags and reports.
    pub name: String,
    /// What the drill restores, from what.
    pub description: Option<String>,
    /// Who owns the drill (a team).
    pub owner: Option<String>,
    /// Recovery targets.
    #[serde(default)]
    pub targets: TargetsDoc,
    /// Where the drill may run, and what happens to what it creates.
    pub sandbox: SandboxDoc,
    /// Values that steps use as `${vars.NAME}`.
    #[serde(default)]
    pub vars: BTreeMap<String, Scalar>,
    /// The steps, by id.
    pub steps: BTreeMap<String, StepDoc>,
}

/// The top-level keys, in the order the language documents them.
pub const ROOT_KEYS: &[&str] = &[
    "version",
    "name",
    "description",
    "owner",
    "targets",
    "sandbox",
    "vars",
    "steps",
];

/// Recovery targets.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsDoc {
    /// Recovery time objective: from the drill's start to the `recovered` milestone.
    pub rto: Option<Spanned<Duration>>,
    /// Recovery point objective: the most data loss allowed (the age of the restored data).
    pub rpo: Option<Spanned<Duration>>,
    /// Recovery time targets for other milestones, by milestone name.
    #[serde(default)]
    pub milestones: BTreeMap<String, Duration>,
}

/// Where the drill may run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxDoc {
    /// The AWS accounts the drill may run in (12-digit ids); any other is refused.
    pub accounts: Vec<Spanned<Scalar>>,
    /// The AWS region (default: `--region`, then the environment).
    pub region: Option<Spanned<String>>,
    /// A role to assume through STS before anything else.
    pub role_arn: Option<Spanned<String>>,
    /// An endpoint URL for every AWS service (the local sandbox).
    pub endpoint: Option<Spanned<String>>,
    /// Tags added to everything the drill creates.
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// When to tear down what the drill created (default `always`).
    #[serde(default)]
    pub teardown: TeardownPolicy,
    /// Keep what was created this long before teardown (for inspection); `firedrill sweep`
    /// deletes it after.
    pub keep_for: Option<Spanned<Duration>>,
}

/// How a failed step is retried, or how long a probe keeps trying.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDoc {
    /// How many attempts in all (default 1 for actions; probes try until `until`).
    pub attempts: Option<Spanned<u32>>,
    /// The time between attempts (default 10s).
    pub interval: Option<Spanned<Duration>>,
    /// The interval is multiplied by this after each attempt (default 1: fixed).
    pub backoff: Option<Spanned<f64>>,
    /// Stop trying this long after the first attempt.
    pub until: Option<Spanned<Duration>>,
}

/// One step of the drill.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDoc {
    /// The step kind, like `rds.restore-snapshot` or `probe.http`.
    pub uses: Spanned<String>,
    /// The kind's own fields.
    pub with: Option<Any>,
    /// Steps that must succeed before this one starts (besides the steps whose outputs it uses).
    pub needs: Option<OneOrMany<String>>,
    /// The longest the step may take.
    pub timeout: Option<Duration>,
    /// Retries, or how long a probe keeps trying.
    pub retry: Option<RetryDoc>,
    /// What a failure of this step does to the drill (default `abort`).
    pub on_failure: Option<OnFailure>,
    /// The milestone this step reaches when it succeeds; `recovered` is what `targets.rto`
    /// measures to.
    pub milestone: Option<String>,
    /// How long the step is expected to take, for `plan` (default: the kind's).
    pub estimate: Option<Duration>,
    /// What the step is for.
    pub description: Option<String>,
}
