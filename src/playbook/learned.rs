//! What `firedrill plan` learns from history: for each step of a playbook, the durations of
//! the past runs in which that step (same id, same kind) succeeded, as a median and a 90th
//! percentile. Only runs against the same kind of target count ([`Target`]): a restore on the
//! local sandbox at time scale 0.01 takes seconds, in AWS twenty minutes. The store feeds it the durations (the journal's `step_durations` table, one
//! query); this file computes from them and knows nothing of where they come from.

use std::collections::HashMap;

use serde::Serialize;

use crate::util::stats::{median, percentile};

/// How many of a playbook's most recent runs plans learn from.
pub const RUNS: usize = 20;

/// What a run ran against, as far as how long its steps take is concerned: durations are
/// learned only from runs against the same kind of target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Target {
    /// An AWS account.
    #[default]
    Aws,
    /// firedrill's local sandbox, whose durations are AWS's times its time scale.
    LocalSandbox {
        /// The sandbox's time scale.
        time_scale: f64,
    },
    /// An endpoint the playbook names (`sandbox.endpoint`): an emulator whose pace is unknown.
    Endpoint,
}

impl Target {
    /// How the journal keeps it: `aws`, `local@0.01`, `endpoint`.
    pub fn key(self) -> String {
        match self {
            Target::Aws => "aws".to_owned(),
            Target::LocalSandbox { time_scale } => format!("local@{time_scale}"),
            Target::Endpoint => "endpoint".to_owned(),
        }
    }

    /// How a plan names it: `AWS`, `the local sandbox at time scale 0.01`.
    pub fn describe(self) -> String {
        match self {
            Target::Aws => "AWS".to_owned(),
            Target::LocalSandbox { time_scale } => {
                format!("the local sandbox at time scale {time_scale}")
            }
            Target::Endpoint => "the playbook's `sandbox.endpoint`".to_owned(),
        }
    }
}

/// A step's duration learned from past runs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Learned {
    /// How many past runs it is learned from.
    pub runs: usize,
    /// The median duration, in seconds: what the plan uses.
    pub median_secs: f64,
    /// The 90th percentile, in seconds.
    pub p90_secs: f64,
}

/// Gathers the past durations of the steps of one playbook, keyed by the playbook's own step
/// ids (borrowed: adding a sample allocates nothing but its place in a list).
pub struct Learner<'a> {
    index: HashMap<&'a str, usize>,
    steps: Vec<(&'a str, &'a str)>,
    samples: Vec<Vec<f64>>,
}

impl<'a> Learner<'a> {
    /// A learner for these steps: `(id, kind)`.
    pub fn new(steps: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let steps: Vec<(&str, &str)> = steps.into_iter().collect();
        Self {
            index: steps
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (*id, i))
                .collect(),
            samples: vec![Vec::new(); steps.len()],
            steps,
        }
    }

    /// A past duration of step `id` of kind `uses`; ignored when the playbook has no such step
    /// or its kind changed since.
    pub fn add(&mut self, id: &str, uses: &str, secs: f64) {
        if let Some(&i) = self.index.get(id)
            && self.steps[i].1 == uses
            && secs.is_finite()
            && secs >= 0.0
        {
            self.samples[i].push(secs);
        }
    }

    /// What was learned from `runs` runs against `target`.
    pub fn finish(self, runs: usize, target: Target) -> LearnedDurations {
        let by_step = self
            .steps
            .iter()
            .zip(&self.samples)
            .filter_map(|((id, uses), v)| {
                Some((((*id).to_owned(), (*uses).to_owned()), Learned::from(v)?))
            })
            .collect();
        LearnedDurations {
            by_step,
            runs,
            target,
        }
    }
}

impl Learned {
    /// The median and p90 of `durations`; none without any.
    fn from(durations: &[f64]) -> Option<Self> {
        Some(Self {
            runs: durations.len(),
            median_secs: median(durations)?,
            p90_secs: percentile(durations, 90)?,
        })
    }
}

/// Learned durations by step id and kind.
#[derive(Clone, Debug, Default)]
pub struct LearnedDurations {
    by_step: HashMap<(String, String), Learned>,
    /// How many runs they come from.
    pub runs: usize,
    /// What those runs ran against.
    pub target: Target,
}

impl LearnedDurations {
    /// What was learned about step `id` of kind `uses`.
    pub fn get(&self, id: &str, uses: &str) -> Option<Learned> {
        // Keys are owned; a lookup by borrowed pair without allocating needs a raw-entry API,
        // and this runs once per step: allocate.
        self.by_step.get(&(id.to_owned(), uses.to_owned())).copied()
    }

    /// Whether nothing was learned.
    pub fn is_empty(&self) -> bool {
        self.by_step.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_have_a_key_for_the_journal_and_a_name_for_people() {
        assert_eq!(Target::Aws.key(), "aws");
        let local = Target::LocalSandbox { time_scale: 0.01 };
        assert_eq!(local.key(), "local@0.01");
        assert_eq!(local.describe(), "the local sandbox at time scale 0.01");
        assert_eq!(Target::Endpoint.key(), "endpoint");
    }

    #[test]
    fn median_and_p90_per_step_and_kind() {
        let mut from_runs = Learner::new([("db", "wait"), ("app", "run")]);
        for (id, uses, secs) in [
            ("db", "wait", 10.0),
            ("app", "run", 1.0),
            ("db", "wait", 30.0),
            ("db", "wait", 20.0),
            ("app", "run", 3.0),
            ("db", "run", 500.0),
            ("app", "run", f64::NAN),
        ] {
            from_runs.add(id, uses, secs);
        }
        let learned = from_runs.finish(4, Target::Aws);
        assert_eq!(
            learned.get("db", "wait"),
            Some(Learned {
                runs: 3,
                median_secs: 20.0,
                p90_secs: 30.0
            })
        );
        assert_eq!(
            learned.get("app", "run"),
            Some(Learned {
                runs: 2,
                median_secs: 2.0,
                p90_secs: 3.0
            })
        );
        assert_eq!(learned.get("db", "run"), None);
        assert_eq!(learned.get("dns", "wait"), None);
        assert_eq!(learned.runs, 4);
        assert!(Learner::new([]).finish(0, Target::Aws).is_empty());
    }

    #[test]
    fn the_learner_keeps_only_the_playbooks_steps_of_the_same_kind() {
        let mut learner = Learner::new([("db", "wait"), ("app", "run")]);
        for (id, uses, secs) in [
            ("db", "wait", 4.0),
            ("db", "run", 99.0),
            ("gone", "wait", 1.0),
            ("db", "wait", 2.0),
            ("app", "run", -1.0),
        ] {
            learner.add(id, uses, secs);
        }
        let durations = learner.finish(2, Target::Aws);
        assert_eq!(
            durations.get("db", "wait").map(|l| (l.runs, l.median_secs)),
            Some((2, 3.0))
        );
        assert_eq!(durations.get("db", "run"), None);
        assert_eq!(durations.get("app", "run"), None);
        assert_eq!(durations.get("gone", "wait"), None);
        assert_eq!(durations.runs, 2);
    }
}
