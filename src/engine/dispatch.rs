//! The dispatcher: one loop owns the run's state and reacts to step results, step events,
//! signals, the global deadline and a display tick. A step starts the moment all of its
//! dependencies have succeeded (at most `--parallel` at once); the run ends in a named state
//! and every step in a named state; then the teardown policy is applied.
//!
//! Signals escalate: the first stops dispatching, cancels running steps (each stops at a safe
//! point: a create call in flight completes and is journaled) and tears down; the second stops
//! waiting (what is unfinished stays in the journal and `firedrill teardown` resumes it); the
//! third exits at once (the signal source does that, so it works even if this loop is stuck).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{Id, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::attempts::{self, Failure, Success};
use crate::engine::board::{Board, StepState};
use crate::engine::event::{Clock, Event, What, rfc3339, secs};
use crate::engine::exit;
use crate::engine::report::{
    LeftReport, Measure, MilestoneReport, PlaybookInfo, Report, RunState, StepReport,
    TeardownReport,
};
use crate::engine::teardown;
use crate::playbook::model::RECOVERED;
use crate::playbook::{Playbook, TeardownPolicy};
use crate::steps::context::{Outputs, Scope, Shared, StepCx, StepError};

/// How a run behaves.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// At most this many steps at once.
    pub parallel: Option<usize>,
    /// Stop dispatching this long after the start.
    pub deadline: Option<Duration>,
    /// The teardown's settings.
    pub teardown: teardown::Options,
    /// The seed of retry jitter.
    pub seed: u64,
    /// How often the display is refreshed (none: no ticks).
    pub tick: Option<Duration>,
    /// The declared disaster time: what RPOs are measured from (none: the drill's start).
    pub disaster_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A drill ready to run.
pub struct Drill {
    /// The playbook.
    pub playbook: Arc<Playbook>,
    /// The run id (already in the journal).
    pub run_id: String,
    /// Who the guard found (none when the drill makes no AWS call).
    pub identity: Option<crate::aws::guard::Identity>,
    /// What steps share.
    pub shared: Arc<Shared>,
    /// How it runs.
    pub options: Options,
}

/// Where the display and logs go: told of every event, and ticked.
pub trait Sink {
    /// Something happened.
    fn event(&mut self, event: &Event, view: &View<'_>);
    /// Time passed (refresh a live display).
    fn tick(&mut self, _view: &View<'_>, _now: Instant) {}
}

/// How many failure reasons of a step's attempts the report keeps (the last ones).
pub const KEPT_FAILURES: usize = 5;

/// One step's run: times, attempts, failures and outputs.
#[derive(Clone, Debug, Default)]
pub struct StepRun {
    /// When it started.
    pub started: Option<Instant>,
    /// When it finished.
    pub finished: Option<Instant>,
    /// Attempts made (so far, while running).
    pub attempts: u32,
    /// The last failure reasons.
    pub failures: Vec<String>,
    /// Its outputs.
    pub outputs: Outputs,
}

/// What the display sees of a run.
pub struct View<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// Every step's state.
    pub board: &'a Board,
    /// Every step's run.
    pub runs: &'a [StepRun],
    /// The run's clock.
    pub clock: &'a Clock,
    /// The milestones reached, with their time since the start.
    pub reached: &'a HashMap<String, Duration>,
}

/// How a run ended.
#[derive(Debug)]
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// The exit code.
    pub exit_code: u8,
    /// Whether a second signal stopped the teardown (so it must be resumed).
    pub teardown_abandoned: bool,
}

type Joined = (usize, Result<Success<Outputs>, Failure>, Instant, Instant);

#[allow(clippy::struct_field_names)]
struct Run<'s> {
    playbook: Arc<Playbook>,
    run_id: String,
    clock: Clock,
    board: Board,
    runs: Vec<StepRun>,
    reported: Vec<bool>,
    reached: HashMap<String, Duration>,
    sink: &'s mut dyn Sink,
    recorder: crate::store::recorder::Recorder,
    disaster_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Run<'_> {
    fn emit_at(&mut self, at: Instant, what: What) {
        let event = Event::at(&self.clock, at, what);
        let (run_id, json) = (self.run_id.clone(), event.to_json());
        let (step, kind, at) = (
            event.what.step().map(str::to_owned),
            event.what.name(),
            event.at.clone(),
        );
        self.recorder.send(move |j| {
            let _ = j.event_at(&run_id, &at, step.as_deref(), kind, &json);
        });
        let view = View {
            playbook: &self.playbook,
            board: &self.board,
            runs: &self.runs,
            clock: &self.clock,
            reached: &self.reached,
        };
        self.sink.event(&event, &view);
    }

    /// An event from a running step: a failed attempt is counted and its reason kept (the
    /// last [`KEPT_FAILURES`], for the report, whether the step ends up succeeding or not).
    fn step_event(&mut self, what: What) {
        if let What::AttemptFailed {
            step,
            attempt,
            reason,
        } = &what
            && let Some(i) = self.playbook.step_index(step)
        {
            let r = &mut self.runs[i];
            r.attempts = attempt + 1;
            r.failures.push(reason.clone());
            let extra = r.failures.len().saturating_sub(KEPT_FAILURES);
            r.failures.drain(..extra);
        }
        self.emit(what);
    }

    fn emit(&mut self, what: What) {
        self.emit_at(Instant::now(), what);
    }

    /// Reports steps that became skipped or not started since the last call.
    fn report_unstarted(&mut self) {
        for i in 0..self.board.states().len() {
            if self.reported[i] {
                continue;
            }
            let what = match self.board.state(i) {
                StepState::Skipped { because } => What::StepSkipped {
                    step: self.playbook.steps[i].id.clone(),
                    because: because.clone(),
                },
                StepState::NotStarted { reason } => What::StepNotStarted {
                    step: self.playbook.steps[i].id.clone(),
                    reason: reason.clone(),
                },
                _ => continue,
            };
            self.reported[i] = true;
            self.emit(what);
        }
    }

    fn stop(&mut self, reason: &str, cancel: &CancellationToken) {
        if self.board.stopped().is_none() {
            self.board.stop(reason);
            self.emit(What::Stopping {
                reason: reason.to_owned(),
            });
        }
        cancel.cancel();
        self.report_unstarted();
    }

    fn milestone_check(&mut self, i: usize, at: Instant) {
        let Some(m) = self.playbook.steps[i].milestone.clone() else {
            return;
        };
        let all = self
            .playbook
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.milestone.as_deref() == Some(m.as_str()))
            .all(|(j, _)| *self.board.state(j) == StepState::Succeeded);
        if !all || self.reached.contains_key(&m) {
            return;
        }
        let after = self.clock.elapsed(at);
        self.reached.insert(m.clone(), after);
        let target = self.playbook.targets.for_milestone(&m);
        self.emit_at(
            at,
            What::MilestoneReached {
                milestone: m,
                after_secs: secs(after),
                target_secs: target.map(|t| secs(t.0)),
                met: target.map(|t| after <= t.0),
            },
        );
    }
}

/// Runs `drill` to its end: dispatch, then teardown by policy. `signals` delivers each
/// Ctrl-C or SIGTERM.
pub async fn run(
    drill: Drill,
    signals: &mut mpsc::UnboundedReceiver<()>,
    sink: &mut dyn Sink,
) -> Outcome {
    let Drill {
        playbook,
        run_id,
        identity,
        shared,
        options,
    } = drill;
    let account = identity.as_ref().map(|i| i.account.clone());
    let n = playbook.steps.len();
    let mut run = Run {
        playbook: playbook.clone(),
        run_id: run_id.clone(),
        clock: Clock::start(),
        board: Board::new(&playbook),
        runs: vec![StepRun::default(); n],
        reported: vec![false; n],
        reached: HashMap::new(),
        sink,
        recorder: shared.recorder.clone(),
        disaster_at: options.disaster_at,
    };
    run.emit(What::RunStarted {
        run_id: run_id.clone(),
        playbook: playbook.name.clone(),
        steps: n,
    });
    if let Some(id) = &identity {
        run.emit(What::GuardPassed {
            account: id.account.clone(),
            arn: id.arn.clone(),
        });
    }
    let vars = Arc::new(playbook.vars.clone());
    let cancel = CancellationToken::new();
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<What>();
    let mut set: JoinSet<Joined> = JoinSet::new();
    let mut tasks: HashMap<Id, usize> = HashMap::new();
    let cap = options.parallel.unwrap_or(usize::MAX).max(1);
    let deadline = options.deadline.map(|d| run.clock.started() + d);
    let mut deadline_passed = false;
    let mut interrupted = false;
    let mut abandoned = false;
    let mut signals_open = true;
    let mut tick = options.tick.map(tokio::time::interval);

    loop {
        while set.len() < cap {
            let Some(i) = run.board.start_next() else {
                break;
            };
            let step = &playbook.steps[i];
            let mut scope = Scope {
                run_id: run_id.clone(),
                playbook: playbook.name.clone(),
                vars: vars.clone(),
                outputs: std::collections::BTreeMap::default(),
                started_at: run.clock.started_wall(),
                rpo_target: playbook.targets.rpo.map(|d| d.0),
                disaster_at: options.disaster_at,
            };
            for &d in &step.deps {
                scope
                    .outputs
                    .insert(playbook.steps[d].id.clone(), run.runs[d].outputs.clone());
            }
            let cx = StepCx::new(
                step.id.clone(),
                Arc::new(scope),
                shared.clone(),
                cancel.child_token(),
                events_tx.clone(),
            );
            let started = Instant::now();
            run.runs[i].started = Some(started);
            run.runs[i].attempts = 1;
            run.emit_at(
                started,
                What::StepStarted {
                    step: step.id.clone(),
                },
            );
            let playbook = playbook.clone();
            let seed = crate::util::hash(options.seed, &[&step.id]);
            let events = events_tx.clone();
            let handle = set.spawn(async move {
                let step = &playbook.steps[i];
                let result = attempts::run(
                    step.retry.as_ref(),
                    step.timeout.map(|t| t.0),
                    seed,
                    &cx.cancel,
                    |attempt| {
                        let cx = &cx;
                        async move {
                            step.action.perform(cx, attempt).await.map_err(|e| match e {
                                StepError::Failed(reason) => reason,
                                StepError::Cancelled => "cancelled".to_owned(),
                            })
                        }
                    },
                    |attempt, reason| {
                        let _ = events.send(What::AttemptFailed {
                            step: step.id.clone(),
                            attempt,
                            reason: reason.to_owned(),
                        });
                    },
                )
                .await;
                (i, result, started, Instant::now())
            });
            tasks.insert(handle.id(), i);
        }
        if set.is_empty() {
            break;
        }
        tokio::select! {
            biased;
            signal = signals.recv(), if signals_open => {
                if signal.is_none() {
                    signals_open = false; // the source is gone: nothing more will come
                    continue;
                }
                if interrupted {
                    // The second: stop waiting for running steps.
                    abandoned = true;
                    set.abort_all();
                    break;
                }
                interrupted = true;
                run.stop("interrupted by a signal", &cancel);
            }
            Some(what) = events_rx.recv() => run.step_event(what),
            joined = set.join_next_with_id() => {
                let Some(joined) = joined else { continue };
                // Step events sent before the step ended are shown before its end.
                while let Ok(what) = events_rx.try_recv() {
                    run.step_event(what);
                }
                let (i, result, started, ended) = match joined {
                    Ok((_, joined)) => joined,
                    Err(e) => {
                        let Some(i) = tasks.get(&e.id()).copied() else { continue };
                        let now = Instant::now();
                        let failure = Failure { timed_out: false, cancelled: false, attempts: run.runs[i].attempts, reasons: vec![format!("the step's task failed: {e}")] };
                        (i, Err(failure), run.runs[i].started.unwrap_or(now), now)
                    }
                };
                finish_step(&mut run, i, result, started, ended, &cancel);
            }
            () = sleep_until_opt(deadline), if !deadline_passed => {
                deadline_passed = true;
                let d = crate::language::duration::Duration(options.deadline.unwrap_or_default());
                run.stop(&format!("the run's deadline ({d}) passed"), &cancel);
            }
            () = tick_opt(&mut tick) => {
                let view = View { playbook: &run.playbook, board: &run.board, runs: &run.runs, clock: &run.clock, reached: &run.reached };
                run.sink.tick(&view, Instant::now());
            }
        }
    }
    while let Ok(what) = events_rx.try_recv() {
        run.emit(what);
    }
    if abandoned {
        // Steps still running when the second signal came: cancelled, unfinished.
        let running: Vec<usize> = run.board.running().collect();
        for i in running {
            run.board.cancelled(i);
            run.runs[i].finished = Some(Instant::now());
            let step = playbook.steps[i].id.clone();
            run.emit(What::StepCancelled { step });
        }
    }
    run.report_unstarted();

    // The verdict of the drill itself, before teardown.
    let any_failed = run.board.states().iter().any(StepState::is_failure);
    let state = if interrupted {
        RunState::Interrupted
    } else if any_failed || deadline_passed {
        RunState::Failed
    } else if targets_missed(&playbook, &run.reached) || rpo_missed(&playbook, &run.runs) {
        RunState::TargetMissed
    } else {
        RunState::Passed
    };

    // Teardown, by policy.
    let rid = run_id.clone();
    let has_resources = shared
        .recorder
        .call(move |j| j.resources(&rid))
        .await
        .map_or(true, |r| !r.is_empty());
    let policy = playbook.sandbox.teardown;
    let keep_for = playbook.sandbox.keep_for;
    let mut teardown_state = "not-needed".to_owned();
    let mut kept = None;
    let mut left: Vec<LeftReport> = Vec::new();
    let mut teardown_span = None;
    let mut teardown_abandoned = abandoned;
    let mut interrupted_in_teardown = false;
    if abandoned {
        teardown_state = "abandoned".into();
        let rid = run_id.clone();
        let _ = shared
            .recorder
            .call(move |j| j.set_teardown_state(&rid, "abandoned", None))
            .await;
    } else if has_resources {
        let keep_reason = match (policy, state, keep_for) {
            (TeardownPolicy::Never, _, _) => {
                Some(("the playbook's teardown policy is `never`".to_owned(), None))
            }
            (TeardownPolicy::OnSuccess, s, _)
                if s != RunState::Passed && s != RunState::Interrupted =>
            {
                Some((
                    format!(
                        "the drill {} and the policy is `on-success`: kept for investigation",
                        s.name()
                    ),
                    None,
                ))
            }
            (_, s, Some(keep)) if s != RunState::Interrupted => {
                // Bounded: a huge `keep_for` keeps resources for a century, never panics.
                let now = run.clock.wall(Instant::now());
                let century = chrono::TimeDelta::days(36_525);
                let keep_delta = chrono::Duration::from_std(keep.0)
                    .unwrap_or(century)
                    .min(century);
                let until = now.checked_add_signed(keep_delta).unwrap_or(now);
                Some((
                    format!("kept for {keep} (`keep_for`), until {}", rfc3339(until)),
                    Some(rfc3339(until)),
                ))
            }
            _ => None,
        };
        if let Some((reason, until)) = keep_reason {
            run.emit(What::TeardownKept {
                reason: reason.clone(),
            });
            let rid = run_id.clone();
            let _ = shared
                .recorder
                .call(move |j| j.set_teardown_state(&rid, "kept", until.as_deref()))
                .await;
            teardown_state = "kept".into();
            kept = Some(reason);
        } else {
            let graph = teardown::graph_of(&playbook);
            let teardown_start = Instant::now();
            // Teardown events are shown as they happen: a long teardown is never silent.
            let outcome = teardown::run(
                shared.clients.as_ref(),
                &shared.recorder,
                &run_id,
                &graph,
                teardown::Options {
                    signalled: interrupted,
                    ..options.teardown
                },
                signals,
                &mut |what| run.emit(what),
            )
            .await;
            teardown_span = Some((teardown_start, Instant::now()));
            teardown_state = outcome.state.name().into();
            teardown_abandoned = outcome.state == teardown::State::Abandoned;
            interrupted_in_teardown = outcome.interrupted;
            let rid = run_id.clone();
            let ts = teardown_state.clone();
            let _ = shared
                .recorder
                .call(move |j| j.set_teardown_state(&rid, &ts, None))
                .await;
            left = outcome
                .left
                .into_iter()
                .map(|l| LeftReport {
                    step: l.resource.step.clone(),
                    kind: l.resource.kind.clone(),
                    id: crate::steps::resource::label(&l.resource),
                    reason: l.reason,
                })
                .collect();
        }
    }
    let exit_code = if state == RunState::Interrupted || interrupted_in_teardown {
        exit::INTERRUPTED
    } else if matches!(teardown_state.as_str(), "incomplete" | "abandoned") {
        exit::TEARDOWN_INCOMPLETE
    } else if state == RunState::Failed {
        exit::STEP_FAILED
    } else if state == RunState::TargetMissed {
        exit::TARGET_MISSED
    } else {
        exit::OK
    };
    let end = Instant::now();
    run.emit_at(
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
    let report = build_report(
        &run,
        &playbook,
        account,
        shared.clients.as_ref().map(|c| c.region.clone()),
        state,
        exit_code,
        resources,
        TeardownReport {
            policy: match policy {
                TeardownPolicy::Always => "always",
                TeardownPolicy::OnSuccess => "on-success",
                TeardownPolicy::Never => "never",
            }
            .into(),
            state: teardown_state,
            kept,
            left,
            started_secs: teardown_span.map(|(a, _)| secs(run.clock.elapsed(a))),
            duration_secs: teardown_span.map(|(a, b)| secs(b - a)),
        },
        end,
    );
    let (rid, json, st) = (run_id.clone(), report.to_json(), state.name());
    let _ = shared
        .recorder
        .call(move |j| j.finish_run(&rid, st, &json))
        .await;
    Outcome {
        report,
        exit_code,
        teardown_abandoned,
    }
}

fn last_failures(mut reasons: Vec<String>) -> Vec<String> {
    let extra = reasons.len().saturating_sub(KEPT_FAILURES);
    reasons.drain(..extra);
    reasons
}

fn finish_step(
    run: &mut Run<'_>,
    i: usize,
    result: Result<Success<Outputs>, Failure>,
    started: Instant,
    ended: Instant,
    cancel: &CancellationToken,
) {
    let id = run.playbook.steps[i].id.clone();
    run.runs[i].finished = Some(ended);
    match result {
        Ok(success) => {
            run.runs[i].attempts = success.attempts;
            run.runs[i].outputs = success.value;
            run.board.succeeded(i);
            run.emit_at(
                ended,
                What::StepSucceeded {
                    step: id,
                    attempts: success.attempts,
                    duration_secs: secs(ended - started),
                },
            );
            run.milestone_check(i, ended);
        }
        Err(failure) if failure.cancelled => {
            run.runs[i].attempts = failure.attempts;
            run.runs[i].failures = last_failures(failure.reasons);
            run.board.cancelled(i);
            run.emit_at(ended, What::StepCancelled { step: id });
        }
        Err(failure) => {
            let reason = failure.reasons.last().cloned().unwrap_or_default();
            run.runs[i].attempts = failure.attempts;
            run.runs[i].failures = last_failures(failure.reasons);
            let aborts = run.board.failed(i, &reason, failure.timed_out);
            run.emit_at(
                ended,
                What::StepFailed {
                    step: id,
                    timed_out: failure.timed_out,
                    attempts: failure.attempts,
                    reason,
                },
            );
            if aborts && !cancel.is_cancelled() {
                let why = run.board.stopped().unwrap_or("aborted").to_owned();
                run.emit(What::Stopping { reason: why });
                cancel.cancel();
            }
            run.report_unstarted();
        }
    }
}

/// The RPO the drill measured: the largest data loss any recovery point it restored from (or
/// checked) implies, from the `rpo_secs` outputs of the steps whose kind measures it.
fn measured_rpo(playbook: &Playbook, runs: &[StepRun]) -> Option<Duration> {
    playbook
        .steps
        .iter()
        .zip(runs)
        .filter(|(s, _)| s.action.measures_rpo())
        .filter_map(|(_, r)| r.outputs.get("rpo_secs")?.parse::<u64>().ok())
        .max()
        .map(Duration::from_secs)
}

fn rpo_missed(playbook: &Playbook, runs: &[StepRun]) -> bool {
    playbook
        .targets
        .rpo
        .zip(measured_rpo(playbook, runs))
        .is_some_and(|(target, measured)| measured > target.0)
}

fn targets_missed(playbook: &Playbook, reached: &HashMap<String, Duration>) -> bool {
    playbook.milestones().keys().any(|m| {
        playbook
            .targets
            .for_milestone(m)
            .is_some_and(|t| reached.get(*m).is_none_or(|after| *after > t.0))
    })
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    run: &Run<'_>,
    playbook: &Playbook,
    account: Option<String>,
    region: Option<String>,
    state: RunState,
    exit_code: u8,
    resources: Vec<crate::store::journal::ResourceRecord>,
    teardown: TeardownReport,
    end: Instant,
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
        disaster_at: run.disaster_at.map(rfc3339),
        milestones,
        steps,
        critical_path: critical_path(playbook, &run.runs),
        resources,
        teardown,
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

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn tick_opt(tick: &mut Option<tokio::time::Interval>) {
    match tick {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}
