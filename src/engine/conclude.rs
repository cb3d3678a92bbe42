//! What happens after the last step: the verdict of the drill, the teardown its policy
//! decides (kept, torn down, abandoned), the exit code and the report, written to the journal.
//! The decisions are the pure functions of [`super::verdict`]; this file carries them out.

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::board::StepState;
use crate::engine::event::{What, rfc3339, secs};
use crate::engine::report::{
    LeftReport, Measure, MilestoneReport, PlaybookInfo, Report, RunState, StepReport,
    TeardownReport, TeardownState,
};
use crate::engine::state::{Flags, Ledger, Outcome, StepRun};
use crate::engine::teardown;
use crate::engine::verdict::{self, Facts, TeardownDecision, measured_rpo};
use crate::playbook::Playbook;
use crate::playbook::model::RECOVERED;
use crate::steps::context::Shared;

/// A run whose dispatch is over.
pub(super) struct Dispatched<'s> {
    pub(super) ledger: Ledger<'s>,
    pub(super) flags: Flags,
    pub(super) shared: std::sync::Arc<Shared>,
    pub(super) options: crate::engine::state::Options,
    pub(super) identity: Option<crate::aws::guard::Identity>,
    pub(super) signals: &'s mut mpsc::UnboundedReceiver<()>,
}

/// What the teardown did.
struct Torn {
    state: TeardownState,
    kept: Option<String>,
    left: Vec<LeftReport>,
    span: Option<(Instant, Instant)>,
    abandoned: bool,
    interrupted: bool,
}

/// Concludes a run: verdict, teardown by policy, exit code, report.
pub(super) async fn conclude(d: Dispatched<'_>) -> Outcome {
    let Dispatched {
        mut ledger,
        flags,
        shared,
        options,
        identity,
        signals,
    } = d;
    let playbook = ledger.playbook.clone();
    let run_id = ledger.run_id.clone();
    let state = verdict::verdict(Facts {
        interrupted: flags.interrupted,
        any_failed: ledger.board.states().iter().any(StepState::is_failure),
        deadline_passed: flags.deadline_passed,
        target_missed: verdict::targets_missed(&playbook, &ledger.reached, &ledger.runs),
    });
    let rid = run_id.clone();
    let has_resources = shared
        .recorder
        .call(move |j| j.resources(&rid))
        .await
        .map_or(true, |r| !r.is_empty());
    let decision = verdict::teardown_decision(
        playbook.sandbox.teardown,
        playbook.sandbox.keep_for.map(|k| k.0),
        state,
        flags.abandoned,
        has_resources,
        ledger.clock.wall(Instant::now()),
    );
    let torn = tear_down(&mut ledger, &shared, &options, flags, signals, decision).await;
    let exit_code = verdict::exit_code(state, torn.state, torn.interrupted);
    let end = Instant::now();
    ledger.emit_at(
        end,
        What::RunFinished {
            state: state.name().into(),
            exit_code,
        },
    );
    let rid = run_id.clone();
    let resources = shared
        .recorder
        .call(move |j| j.resources(&rid))
        .await
        .unwrap_or_default();
    let mut report = build_report(
        &ledger,
        &playbook,
        identity.map(|i| i.account),
        shared.clients.as_ref().map(|c| c.region.clone()),
        state,
        exit_code,
        resources,
        TeardownReport {
            policy: playbook.sandbox.teardown.name().into(),
            state: torn.state,
            kept: torn.kept,
            left: torn.left,
            started_secs: torn.span.map(|(a, _)| secs(ledger.clock.elapsed(a))),
            duration_secs: torn.span.map(|(a, b)| secs(b - a)),
        },
        end,
        options.disaster_at.map(rfc3339),
    );
    report.rehearsal.clone_from(&options.rehearsal);
    let (rid, json, st) = (run_id, report.to_json(), state.name());
    let _ = shared
        .recorder
        .call(move |j| j.finish_run(&rid, st, &json))
        .await;
    Outcome {
        report,
        exit_code,
        teardown_abandoned: torn.abandoned,
    }
}

/// Carries out the teardown decision; the journal learns the teardown's state.
async fn tear_down(
    ledger: &mut Ledger<'_>,
    shared: &Shared,
    options: &crate::engine::state::Options,
    flags: Flags,
    signals: &mut mpsc::UnboundedReceiver<()>,
    decision: TeardownDecision,
) -> Torn {
    let run_id = ledger.run_id.clone();
    let mut torn = Torn {
        state: TeardownState::NotNeeded,
        kept: None,
        left: Vec::new(),
        span: None,
        abandoned: false,
        interrupted: false,
    };
    let until = match decision {
        TeardownDecision::NotNeeded => return torn,
        TeardownDecision::Abandoned => {
            torn.state = TeardownState::Abandoned;
            torn.abandoned = true;
            None
        }
        TeardownDecision::Keep { reason, until } => {
            ledger.emit(What::TeardownKept {
                reason: reason.clone(),
            });
            torn.state = TeardownState::Kept;
            torn.kept = Some(reason);
            until
        }
        TeardownDecision::TearDown => {
            let graph = teardown::graph_of(&ledger.playbook);
            let start = Instant::now();
            // Teardown events are shown as they happen: a long teardown is never silent.
            let outcome = teardown::run(
                shared.clients.as_ref(),
                &shared.recorder,
                &run_id,
                &graph,
                teardown::Options {
                    signalled: flags.interrupted,
                    ..options.teardown
                },
                signals,
                &mut |what| ledger.emit(what),
            )
            .await;
            torn.span = Some((start, Instant::now()));
            torn.state = outcome.state;
            torn.abandoned = outcome.state == TeardownState::Abandoned;
            torn.interrupted = outcome.interrupted;
            torn.left = outcome
                .left
                .into_iter()
                .map(|l| LeftReport {
                    step: l.resource.step.clone(),
                    kind: l.resource.kind.clone(),
                    id: crate::steps::resource::label(&l.resource),
                    reason: l.reason,
                })
                .collect();
            None
        }
    };
    let (rid, state) = (run_id, torn.state.name());
    let _ = shared
        .recorder
        .call(move |j| j.set_teardown_state(&rid, state, until.as_deref()))
        .await;
    torn
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    run: &Ledger<'_>,
    playbook: &Playbook,
    account: Option<String>,
    region: Option<String>,
    state: RunState,
    exit_code: u8,
    resources: Vec<crate::store::journal::ResourceRecord>,
    teardown: TeardownReport,
    end: Instant,
    disaster_at: Option<String>,
) -> Report {
    let clock = &run.clock;
    let measure = |name: &str| {
        let target = playbook.targets.for_milestone(name).map(|t| t.0);
        let measured = run.reached.get(name).copied();
        Measure::new(
            target.map(secs),
            measured.map(secs),
            match (target, measured) {
                (Some(t), Some(m)) => Some(m <= t),
                (Some(_), None) => Some(false),
                _ => None,
            },
        )
    };
    let milestones = playbook
        .milestones()
        .keys()
        .map(|m| {
            let x = measure(m);
            MilestoneReport {
                name: (*m).to_owned(),
                target_secs: x.target_secs,
                reached_secs: x.measured_secs,
                reached_at: run
                    .reached
                    .get(*m)
                    .map(|d| rfc3339(clock.wall(clock.started() + *d))),
                met: x.met,
                margin_secs: x.margin_secs,
            }
        })
        .collect();
    let steps = playbook
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let r = &run.runs[i];
            StepReport {
                id: s.id.clone(),
                uses: s.uses().to_owned(),
                state: run.board.state(i).clone(),
                milestone: s.milestone.clone(),
                attempts: r.attempts,
                start_secs: r.started.map(|t| secs(clock.elapsed(t))),
                duration_secs: r.started.zip(r.finished).map(|(a, b)| secs(b - a)),
                started_at: r.started.map(|t| rfc3339(clock.wall(t))),
                finished_at: r.finished.map(|t| rfc3339(clock.wall(t))),
                failures: r.failures.clone(),
                outputs: r.outputs.clone(),
            }
        })
        .collect();
    Report {
        format_version: crate::engine::report::FORMAT_VERSION,
        run_id: run.run_id.clone(),
        playbook: PlaybookInfo {
            name: playbook.name.clone(),
            file: playbook.file.display().to_string(),
            owner: playbook.owner.clone(),
        },
        account,
        region,
        started_at: rfc3339(clock.started_wall()),
        finished_at: rfc3339(clock.wall(end)),
        duration_secs: secs(clock.elapsed(end)),
        state,
        exit_code,
        stop_reason: run.board.stopped().map(str::to_owned),
        rto: measure(RECOVERED),
        rpo: {
            let target = playbook.targets.rpo.map(|t| t.0);
            let measured = measured_rpo(playbook, &run.runs);
            Measure::new(
                target.map(secs),
                measured.map(secs),
                target.zip(measured).map(|(t, m)| m <= t),
            )
        },
        disaster_at,
        milestones,
        steps,
        critical_path: critical_path(playbook, &run.runs),
        resources,
        teardown,
        rehearsal: None,
    }
}

/// The chain of steps that decided when the run's last step finished: that step, then the
/// dependency of each that finished last, back to a step with none. Measured, not planned:
/// a step that took longer than its estimate moves the path.
fn critical_path(playbook: &Playbook, runs: &[StepRun]) -> Vec<String> {
    let finished = |i: usize| runs[i].started.and(runs[i].finished);
    let latest = |candidates: &mut dyn Iterator<Item = usize>| {
        candidates
            .filter_map(|i| finished(i).map(|f| (i, f)))
            // The first in file order among equals.
            .fold(None, |best: Option<(usize, Instant)>, (i, f)| match best {
                Some((_, bf)) if bf >= f => best,
                _ => Some((i, f)),
            })
            .map(|(i, _)| i)
    };
    let mut path = Vec::new();
    let mut at = latest(&mut (0..runs.len()));
    while let Some(i) = at {
        path.push(playbook.steps[i].id.clone());
        at = latest(&mut playbook.dag.deps(i).iter().copied());
    }
    path.reverse();
    path
}
