//! The run report: the versioned JSON document a run leaves behind (in its directory and in
//! the journal), which `firedrill report` and `history` build on, and the summary printed at
//! the end of a run.
//!
//! Reports are read back from the journal to be rendered again ([`crate::reports`]), so every
//! field added within a version has a default: a report written by an older firedrill parses.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::engine::board::StepState;
use crate::language::duration::human;
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

fn measure_line(name: &str, m: &Measure) -> String {
    match (m.measured_secs, m.target_secs, m.met) {
        (Some(v), Some(t), Some(true)) => {
            format!("{name} {} (target {}): met", human(v), human(t))
        }
        (Some(v), Some(t), _) => format!("{name} {} (target {}): MISSED", human(v), human(t)),
        (Some(v), None, _) => format!("{name} {} (no target)", human(v)),
        (None, Some(t), Some(false)) => {
            format!("{name} not reached (target {}): MISSED", human(t))
        }
        (None, Some(t), _) => format!("{name} not measured (target {})", human(t)),
        (None, None, _) => format!("{name} not measured"),
    }
}

/// The summary printed at the end of a run: a pure function of the report.
pub fn render_summary(r: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "drill {} of `{}`: {} in {}\n",
        r.run_id,
        r.playbook.name,
        r.state.name().to_uppercase(),
        human(r.duration_secs)
    ));
    if let Some(reason) = &r.stop_reason {
        out.push_str(&format!("  stopped: {reason}\n"));
    }
    out.push_str(&format!("  {}\n", measure_line("RTO", &r.rto)));
    for m in r.milestones.iter().filter(|m| m.name != "recovered") {
        let line = measure_line(
            &format!("milestone `{}`", m.name),
            &Measure::new(m.target_secs, m.reached_secs, m.met),
        );
        out.push_str(&format!("  {line}\n"));
    }
    if r.rpo.target_secs.is_some() || r.rpo.measured_secs.is_some() {
        out.push_str(&format!("  {}", measure_line("RPO", &r.rpo)));
        if let Some(at) = &r.disaster_at {
            out.push_str(&format!(", back from the declared disaster at {at}"));
        }
        out.push('\n');
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &r.steps {
        *counts.entry(state_name(&s.state)).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    out.push_str(&format!("  steps: {}\n", counts.join(", ")));
    for s in &r.steps {
        let line = match &s.state {
            StepState::Failed { reason } => format!("failed: {reason}"),
            StepState::TimedOut => format!(
                "timed out: {}",
                s.failures.last().map_or("", String::as_str)
            ),
            StepState::Skipped { because } => format!("skipped because `{because}` failed"),
            StepState::Cancelled => "cancelled".to_owned(),
            _ => continue,
        };
        out.push_str(&format!("    {}: {line}\n", s.id));
    }
    let t = &r.teardown;
    match t.state {
        TeardownState::Done => out.push_str(&format!(
            "  teardown: done, {} resource{} deleted\n",
            r.resources.len(),
            if r.resources.len() == 1 { "" } else { "s" }
        )),
        TeardownState::NotNeeded => out.push_str("  teardown: nothing was created\n"),
        TeardownState::Kept => out.push_str(&format!(
            "  teardown: kept ({}); `firedrill teardown {}` deletes them\n",
            t.kept.as_deref().unwrap_or("by policy"),
            r.run_id
        )),
        other @ (TeardownState::Incomplete | TeardownState::Abandoned) => {
            out.push_str(&format!(
                "  teardown: {}: {} resource{} LEFT BEHIND\n",
                other.name().to_uppercase(),
                t.left.len(),
                if t.left.len() == 1 { " IS" } else { "S ARE" }
            ));
            for l in &t.left {
                out.push_str(&format!(
                    "    {} {} (step `{}`): {}\n",
                    l.kind, l.id, l.step, l.reason
                ));
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str, state: StepState, failures: &[&str]) -> StepReport {
        StepReport {
            id: id.into(),
            uses: "run".into(),
            state,
            milestone: None,
            attempts: 1,
            start_secs: Some(0.0),
            duration_secs: Some(1.0),
            started_at: None,
            finished_at: None,
            failures: failures.iter().map(|f| (*f).to_owned()).collect(),
            outputs: BTreeMap::new(),
        }
    }

    fn report(state: RunState, teardown: TeardownReport) -> Report {
        Report {
            format_version: FORMAT_VERSION,
            run_id: "20261125-101500-1a2b3c4d".into(),
            playbook: PlaybookInfo {
                name: "checkout".into(),
                file: "checkout.yaml".into(),
                owner: None,
            },
            account: Some("123456789012".into()),
            region: Some("us-east-1".into()),
            started_at: "2026-11-25T10:15:00.000Z".into(),
            finished_at: "2026-11-25T10:52:13.500Z".into(),
            duration_secs: 2233.5,
            state,
            exit_code: 0,
            stop_reason: Some("`db` failed and aborts the run".into()),
            rto: Measure::new(Some(1800.0), Some(1980.25), Some(false)),
            rpo: Measure::new(Some(86400.0), None, None),
            disaster_at: None,
            milestones: vec![MilestoneReport {
                name: "data".into(),
                target_secs: Some(1200.0),
                reached_secs: None,
                reached_at: None,
                met: Some(false),
                margin_secs: None,
            }],
            steps: vec![
                step("network", StepState::Succeeded, &[]),
                step(
                    "db",
                    StepState::Failed {
                        reason: "the process exited with 3: disk full".into(),
                    },
                    &["the process exited with 3: disk full"],
                ),
                step("probe", StepState::TimedOut, &["timed out after 15m"]),
                step(
                    "dns",
                    StepState::Skipped {
                        because: "db".into(),
                    },
                    &[],
                ),
                step("app", StepState::Cancelled, &[]),
            ],
            critical_path: vec!["network".into(), "db".into()],
            resources: Vec::new(),
            teardown,
        }
    }

    #[test]
    fn the_summary_names_what_failed_and_what_is_left_behind() {
        let left = TeardownReport {
            policy: "always".into(),
            state: TeardownState::Incomplete,
            kept: None,
            left: vec![LeftReport {
                step: "app".into(),
                kind: "ec2-instance".into(),
                id: "i-0abc".into(),
                reason: "deleting it failed 5 times: UnauthorizedOperation".into(),
            }],
            started_secs: Some(1990.0),
            duration_secs: Some(243.5),
        };
        insta::assert_snapshot!(render_summary(&report(RunState::Failed, left)), @r"
        drill 20261125-101500-1a2b3c4d of `checkout`: FAILED in 37m14s
          stopped: `db` failed and aborts the run
          RTO 33m (target 30m): MISSED
          milestone `data` not reached (target 20m): MISSED
          RPO not measured (target 1d)
          steps: 1 cancelled, 1 failed, 1 skipped, 1 succeeded, 1 timed-out
            db: failed: the process exited with 3: disk full
            probe: timed out: timed out after 15m
            dns: skipped because `db` failed
            app: cancelled
          teardown: INCOMPLETE: 1 resource IS LEFT BEHIND
            ec2-instance i-0abc (step `app`): deleting it failed 5 times: UnauthorizedOperation
        ");
        let kept = TeardownReport {
            policy: "on-success".into(),
            state: TeardownState::Kept,
            kept: Some(
                "the drill failed and the policy is `on-success`: kept for investigation".into(),
            ),
            left: Vec::new(),
            started_secs: None,
            duration_secs: None,
        };
        let text = render_summary(&report(RunState::Failed, kept));
        assert!(text.ends_with("teardown: kept (the drill failed and the policy is `on-success`: kept for investigation); `firedrill teardown 20261125-101500-1a2b3c4d` deletes them\n"), "{text}");
    }

    #[test]
    fn durations_read_as_playbooks_write_them() {
        assert_eq!(human(0.25), "250ms");
        assert_eq!(human(9.2454), "9s245ms");
        assert_eq!(human(75.31), "1m15s");
        assert_eq!(human(3725.0), "1h2m5s");
        assert_eq!(human(1800.0), "30m");
        assert_eq!(human(-1.0), "0s");
        assert_eq!(human(f64::NAN), "0s");
    }
}
