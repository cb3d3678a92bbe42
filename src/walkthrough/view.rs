//! What a walkthrough shows of a playbook: each step in execution order with its text and
//! every static value resolved (`${vars.source_db}` reads `shop-prod`; a value known only at
//! run time says where it comes from, `← app.private_ip`), what it waits for and what waits
//! for it, its expected duration and where that comes from, and where it sits on the
//! predicted RTO clock. Built once from a [`Plan`]; the screen and the printed runbook are
//! renderings of it. No I/O, no AWS.

use crate::language::duration::{Duration, human};
use crate::playbook::Playbook;
use crate::playbook::model::RECOVERED;
use crate::playbook::plan::{Basis, Plan};
use crate::playbook::resolve::resolve;

/// The playbook as a walkthrough shows it.
#[derive(Clone, Debug)]
pub struct Walk {
    /// The playbook's name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// What it is for.
    pub description: Option<String>,
    /// The RTO target.
    pub rto_target: Option<Duration>,
    /// The RPO target.
    pub rpo_target: Option<Duration>,
    /// The predicted RTO.
    pub predicted_rto: Duration,
    /// How many past runs the durations are learned from.
    pub history_runs: usize,
    /// Every step, in execution order (predicted start, then file order).
    pub steps: Vec<StepView>,
}

/// One step as a walkthrough shows it.
#[derive(Clone, Debug)]
pub struct StepView {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub uses: &'static str,
    /// The playbook's description of it, values resolved.
    pub description: Option<String>,
    /// What it does, values resolved.
    pub does: String,
    /// What it waits for.
    pub needs: Vec<String>,
    /// What waits for it.
    pub needed_by: Vec<String>,
    /// Its expected duration.
    pub expected: Duration,
    /// Where that comes from.
    pub basis: Basis,
    /// `learned: median of 5 runs, p90 6m` and the like.
    pub basis_note: String,
    /// When it is predicted to start, on the RTO clock.
    pub start: Duration,
    /// When it is predicted to finish.
    pub finish: Duration,
    /// Whether it is on the critical path.
    pub critical: bool,
    /// Whether the `recovered` milestone waits for it (so its finish counts against the RTO).
    pub before_recovery: bool,
    /// The milestone it reaches.
    pub milestone: Option<String>,
    /// Its timeout.
    pub timeout: Option<Duration>,
    /// Its retry policy, for people.
    pub retry: Option<String>,
}

impl Walk {
    /// What a walkthrough shows of `plan`.
    pub fn new(plan: &Plan<'_>) -> Self {
        let pb = plan.playbook;
        let mut order: Vec<usize> = (0..pb.steps.len()).collect();
        order.sort_by_key(|&i| (plan.schedule.start[i], i));
        let before_recovery = before_recovery(pb);
        let steps = order
            .iter()
            .map(|&i| {
                let s = &pb.steps[i];
                let (expected, basis) = plan.durations[i];
                StepView {
                    id: s.id.clone(),
                    uses: s.uses(),
                    description: s.description.as_deref().map(|d| resolve(pb, d)),
                    does: resolve(pb, &s.action.describe()),
                    needs: s.deps.iter().map(|&d| pb.steps[d].id.clone()).collect(),
                    needed_by: pb
                        .dag
                        .dependents(i)
                        .iter()
                        .map(|&d| pb.steps[d].id.clone())
                        .collect(),
                    expected,
                    basis,
                    basis_note: plan.basis_note(i),
                    start: Duration::from_millis(plan.schedule.start[i]),
                    finish: Duration::from_millis(plan.schedule.finish[i]),
                    critical: plan.critical_path.contains(&i),
                    before_recovery: before_recovery[i],
                    milestone: s.milestone.clone(),
                    timeout: s.timeout,
                    retry: s.retry.map(|r| {
                        let mut text = match r.attempts {
                            Some(n) => format!("{n} attempts, {} apart", r.interval),
                            None => format!("every {}", r.interval),
                        };
                        if r.backoff > 1.0 {
                            text.push_str(&format!(", the wait ×{} each time", r.backoff));
                        }
                        if let Some(until) = r.until {
                            text.push_str(&format!(", for up to {until}"));
                        }
                        text
                    }),
                }
            })
            .collect();
        Self {
            name: pb.name.clone(),
            file: pb.file.display().to_string(),
            description: pb.description.clone(),
            rto_target: pb.targets.rto,
            rpo_target: pb.targets.rpo,
            predicted_rto: plan.predicted_rto(),
            history_runs: plan.history_runs,
            steps,
        }
    }

    /// The position of step `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.id == id)
    }

    /// Where a step sits against the RTO target: `T+10m → T+15m`, and how far its finish is
    /// from the target when the recovery waits for it.
    pub fn clock(&self, step: &StepView) -> String {
        let h = |d: Duration| human(d.as_secs_f64());
        let span = format!("T+{} → T+{}", h(step.start), h(step.finish));
        match (self.rto_target, step.before_recovery) {
            (Some(t), true) if step.finish > t => format!(
                "{span}, past the RTO target {t} by {}",
                h(Duration::from_millis(
                    step.finish.as_millis() - t.as_millis()
                ))
            ),
            (Some(t), true) => format!(
                "{span}, {} before the RTO target {t}",
                h(Duration::from_millis(
                    t.as_millis() - step.finish.as_millis()
                ))
            ),
            (Some(_), false) => format!("{span}, after recovery"),
            (None, _) => span,
        }
    }
}

/// For each step, whether a `recovered` step (or, without one, any step) waits for it.
fn before_recovery(pb: &Playbook) -> Vec<bool> {
    let mut marked = vec![false; pb.steps.len()];
    let mut todo: Vec<usize> = pb
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.milestone.as_deref() == Some(RECOVERED))
        .map(|(i, _)| i)
        .collect();
    if todo.is_empty() {
        return vec![true; pb.steps.len()];
    }
    while let Some(i) = todo.pop() {
        if !std::mem::replace(&mut marked[i], true) {
            todo.extend(pb.steps[i].deps.iter().copied());
        }
    }
    marked
}
