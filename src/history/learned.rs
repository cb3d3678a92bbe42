//! What `firedrill plan` learns from history: for each step of a playbook, the durations of
//! the past runs in which that step (same id, same kind) succeeded, as a median and a 90th
//! percentile.

use std::collections::HashMap;

use serde::Serialize;

use super::PastRun;
use super::stats::{median, percentile};

/// How many of a playbook's most recent runs plans learn from.
pub const RUNS: usize = 20;

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

/// Learned durations by step id and kind.
#[derive(Clone, Debug, Default)]
pub struct LearnedDurations {
    by_step: HashMap<(String, String), Learned>,
    /// How many runs they come from.
    pub runs: usize,
}

impl LearnedDurations {
    /// Learns from `runs` (one playbook's): the duration of every step that succeeded.
    pub fn from_runs(runs: &[PastRun]) -> Self {
        let mut samples: HashMap<(String, String), Vec<f64>> = HashMap::new();
        for run in runs {
            for step in &run.steps {
                if step.state == "succeeded"
                    && let Some(d) = step.duration_secs.filter(|d| d.is_finite() && *d >= 0.0)
                {
                    samples
                        .entry((step.id.clone(), step.uses.clone()))
                        .or_default()
                        .push(d);
                }
            }
        }
        let by_step = samples
            .into_iter()
            .filter_map(|(key, v)| {
                Some((
                    key,
                    Learned {
                        runs: v.len(),
                        median_secs: median(&v)?,
                        p90_secs: percentile(&v, 90)?,
                    },
                ))
            })
            .collect();
        Self {
            by_step,
            runs: runs.len(),
        }
    }

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
    use super::super::stored::{StoredMeasure, StoredStep};
    use super::*;

    fn run(steps: &[(&str, &str, &str, Option<f64>)]) -> PastRun {
        PastRun {
            id: "r".into(),
            playbook: "p".into(),
            file: "p.yaml".into(),
            started_at: String::new(),
            state: "passed".into(),
            rto: StoredMeasure::default(),
            rpo: StoredMeasure::default(),
            steps: steps
                .iter()
                .map(|(id, uses, state, d)| StoredStep {
                    id: (*id).into(),
                    uses: (*uses).into(),
                    state: (*state).into(),
                    duration_secs: *d,
                })
                .collect(),
        }
    }

    #[test]
    fn learns_only_from_succeeded_steps_of_the_same_kind() {
        let runs = [
            run(&[
                ("db", "wait", "succeeded", Some(10.0)),
                ("app", "run", "succeeded", Some(1.0)),
            ]),
            run(&[
                ("db", "wait", "succeeded", Some(30.0)),
                ("app", "run", "failed", Some(99.0)),
            ]),
            run(&[
                ("db", "wait", "succeeded", Some(20.0)),
                ("app", "run", "succeeded", Some(3.0)),
            ]),
            run(&[("db", "run", "succeeded", Some(500.0))]),
        ];
        let learned = LearnedDurations::from_runs(&runs);
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
        assert_eq!(learned.get("db", "run").map(|l| l.runs), Some(1));
        assert_eq!(learned.get("dns", "wait"), None);
        assert_eq!(learned.runs, 4);
    }
}
