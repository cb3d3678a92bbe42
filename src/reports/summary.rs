//! The summary printed at the end of a run (and sent by the webhook): a pure function of the
//! report, a line for the RTO, each milestone and the RPO, then what failed and what the
//! teardown left.

use crate::engine::board::StepState;
use std::collections::BTreeMap;

use crate::engine::report::{Measure, Report, RunState, TeardownState, state_name};
use crate::language::duration::human;
use crate::reports::paint::Paint;

fn measure_line(name: &str, m: &Measure, paint: Paint) -> String {
    match (m.measured_secs, m.target_secs, m.met) {
        (Some(v), Some(t), Some(true)) => {
            format!(
                "{name} {} (target {}): {}",
                human(v),
                human(t),
                paint.good("met")
            )
        }
        (Some(v), Some(t), _) => format!(
            "{name} {} (target {}): {}",
            human(v),
            human(t),
            paint.bad("MISSED")
        ),
        (Some(v), None, _) => format!("{name} {} (no target)", human(v)),
        (None, Some(t), Some(false)) => {
            format!(
                "{name} not reached (target {}): {}",
                human(t),
                paint.bad("MISSED")
            )
        }
        (None, Some(t), _) => format!("{name} not measured (target {})", human(t)),
        (None, None, _) => format!("{name} not measured"),
    }
}

/// The command that tears a run down when nothing more is known of where it was run from.
pub fn teardown_command(run_id: &str) -> String {
    format!("firedrill teardown {run_id}")
}

/// The summary printed at the end of a run: a pure function of the report, its verdict
/// words coloured by `paint`; `teardown` is the command that deletes what a run kept (the
/// caller knows the state directory it must name; [`teardown_command`] otherwise).
pub fn render_summary(r: &Report, paint: Paint, teardown: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "drill {} of `{}`: {} in {}\n",
        r.run_id,
        r.playbook.name,
        paint.verdict(r.state == RunState::Passed, &r.state.name().to_uppercase()),
        human(r.duration_secs)
    ));
    if let Some(reason) = &r.stop_reason {
        out.push_str(&format!("  stopped: {reason}\n"));
    }
    out.push_str(&format!("  {}\n", measure_line("RTO", &r.rto, paint)));
    for m in r.milestones.iter().filter(|m| m.name != "recovered") {
        let line = measure_line(
            &format!("milestone `{}`", m.name),
            &Measure::new(m.target_secs, m.reached_secs, m.met),
            paint,
        );
        out.push_str(&format!("  {line}\n"));
    }
    if r.rpo.target_secs.is_some() || r.rpo.measured_secs.is_some() {
        out.push_str(&format!("  {}", measure_line("RPO", &r.rpo, paint)));
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
            StepState::Failed { reason } => format!("{}: {reason}", paint.bad("failed")),
            StepState::TimedOut => format!(
                "{}: {}",
                paint.bad("timed out"),
                s.failures.last().map_or("", String::as_str)
            ),
            StepState::Skipped { because } => format!("skipped because `{because}` failed"),
            StepState::Cancelled => "cancelled".to_owned(),
            _ => continue,
        };
        out.push_str(&format!("    {}: {line}\n", s.id));
    }
    if let Some(rh) = &r.rehearsal {
        let compared = rh.compare(&r.steps);
        if !compared.is_empty() {
            out.push_str(&format!("  against walkthrough {}:\n", rh.walkthrough));
            for (id, v) in compared {
                out.push_str(&format!("    {id}: {v}\n"));
            }
        }
        for c in &rh.concerns {
            out.push_str(&format!("  open concern at `{}`: {}\n", c.step, c.line()));
        }
    }
    let t = &r.teardown;
    match t.state {
        TeardownState::Done => {
            let rows = super::parts::teardown_rows(r);
            let restored = rows.iter().filter(|x| x.status == "restored").count();
            let deleted = rows.len() - restored;
            let mut said = vec![format!(
                "{deleted} resource{} deleted",
                if deleted == 1 { "" } else { "s" }
            )];
            if restored > 0 {
                said.push(format!(
                    "{restored} record{} restored",
                    if restored == 1 { "" } else { "s" }
                ));
            }
            out.push_str(&format!("  teardown: done, {}\n", said.join(", ")));
        }
        TeardownState::NotNeeded => out.push_str("  teardown: nothing was created\n"),
        TeardownState::Kept => out.push_str(&format!(
            "  teardown: kept ({}); `{teardown}` deletes them\n",
            t.kept.as_deref().unwrap_or("by policy"),
        )),
        other @ (TeardownState::Incomplete | TeardownState::Abandoned) => {
            out.push_str(&format!(
                "  teardown: {}: {}\n",
                paint.bad(&other.name().to_uppercase()),
                paint.bad(&format!(
                    "{} resource{} LEFT BEHIND",
                    t.left.len(),
                    if t.left.len() == 1 { " IS" } else { "S ARE" }
                ))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::{
        FORMAT_VERSION, LeftReport, MilestoneReport, PlaybookInfo, RunState, StepReport,
        TeardownReport,
    };
    use std::collections::BTreeMap;

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
            rehearsal: None,
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
        insta::assert_snapshot!(render_summary(&report(RunState::Failed, left), Paint::PLAIN, "unused"), @r"
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
        let text = render_summary(
            &report(RunState::Failed, kept),
            Paint::PLAIN,
            &teardown_command("20261125-101500-1a2b3c4d"),
        );
        assert!(text.ends_with("teardown: kept (the drill failed and the policy is `on-success`: kept for investigation); `firedrill teardown 20261125-101500-1a2b3c4d` deletes them\n"), "{text}");
    }

    #[test]
    fn durations_read_one_way() {
        assert_eq!(human(0.25), "0.25s");
        assert_eq!(human(9.2454), "9.25s");
        assert_eq!(human(6.02), "6.02s");
        assert_eq!(human(45.0), "45s");
        assert_eq!(human(59.996), "1m");
        assert_eq!(human(75.31), "1m15s");
        assert_eq!(human(3725.0), "1h2m5s");
        assert_eq!(human(1800.0), "30m");
        assert_eq!(human(-1.0), "0s");
        assert_eq!(human(f64::NAN), "0s");
    }
}
