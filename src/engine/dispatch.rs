//! The dispatcher: one loop owns the run's state. It starts every step whose dependencies have
//! succeeded (at most `--parallel` at once), then waits for the next [`Input`] — a signal, a
//! command from outside, an event from a running step, a step's end, the deadline, a display
//! tick — and hands it to [`Run::handle`], a small step that changes the state and says what
//! happened. When nothing runs and nothing can start, the run is concluded
//! ([`super::conclude`]): the verdict, the teardown by policy, the report.
//!
//! Signals escalate: the first stops dispatching, cancels running steps (each stops at a safe
//! point: a create call in flight completes and is journaled) and tears down; the second stops
//! waiting (what is unfinished stays in the journal and `firedrill teardown` resumes it); the
//! third exits at once (the signal source does that, so it works even if this loop is stuck).
//!
//! Commands ([`super::command`]) pause and resume dispatching, answer manual gates, put notes
//! on the record and inject failures into running steps; each is answered with an event, so
//! it is journaled and shown like everything else.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::{Id, JoinError, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::attempts::{self, Failure, Success};
use crate::engine::board::Board;
use crate::engine::command::{Command, Commands};
use crate::engine::event::{Clock, What, secs};
pub use crate::engine::state::{Drill, KEPT_FAILURES, Options, Outcome, Sink, StepRun, View};
use crate::engine::state::{Flags, Ledger};
use crate::language::template::Template;
use crate::steps::builtin::gate::Answer;
use crate::steps::context::{Outputs, Scope, Shared, StepCx, StepError};

/// A step's task, ended: its index, its result, when it started and ended.
type Joined = (usize, Result<Success<Outputs>, Failure>, Instant, Instant);

/// Everything the loop reacts to.
#[derive(Debug)]
enum Input {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// The signal source is gone: nothing more will come from it.
    SignalsClosed,
    /// A command from outside.
    Command(Command),
    /// Every controller is gone.
    CommandsClosed,
    /// An event from a running step (an attempt failed, a resource was made).
    Step(What),
    /// A step's task ended, or died.
    Ended(Result<(Id, Joined), JoinError>),
    /// The run's deadline passed.
    Deadline,
    /// Time to refresh the display.
    Tick,
}

/// What the loop does after an input.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// Go on.
    Go,
    /// Stop waiting for running steps (the second signal).
    Abandon,
}

/// The run while it dispatches: the ledger, and the machinery that starts and awaits steps.
struct Run<'s> {
    ledger: Ledger<'s>,
    flags: Flags,
    shared: Arc<Shared>,
    options: Options,
    vars: Arc<BTreeMap<String, Template>>,
    cancel: CancellationToken,
    /// Each running step's own cancel token (a child of `cancel`), for injected failures.
    step_cancel: HashMap<usize, CancellationToken>,
    /// Failures injected into running steps, by step: the reason each fails with.
    injected: HashMap<usize, String>,
    /// Since when dispatching is paused.
    paused: Option<Instant>,
    events_tx: mpsc::UnboundedSender<What>,
    events_rx: mpsc::UnboundedReceiver<What>,
    set: JoinSet<Joined>,
    tasks: HashMap<Id, usize>,
    cap: usize,
    deadline: Option<Instant>,
    tick: Option<tokio::time::Interval>,
    signals: &'s mut mpsc::UnboundedReceiver<()>,
    signals_open: bool,
    commands: Commands,
    commands_open: bool,
}

/// Runs `drill` to its end: dispatch, then the conclusion (teardown by policy, the report).
/// `signals` delivers each Ctrl-C or SIGTERM.
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
        commands,
    } = drill;
    let n = playbook.steps.len();
    let clock = Clock::start();
    let (events_tx, events_rx) = mpsc::unbounded_channel::<What>();
    let mut run = Run {
        ledger: Ledger {
            playbook: playbook.clone(),
            run_id: run_id.clone(),
            board: Board::new(&playbook),
            runs: vec![StepRun::default(); n],
            reported: vec![false; n],
            created: 0,
            reached: HashMap::new(),
            sink,
            recorder: shared.recorder.clone(),
            clock,
        },
        flags: Flags::default(),
        vars: Arc::new(playbook.vars.clone()),
        cancel: CancellationToken::new(),
        step_cancel: HashMap::new(),
        injected: HashMap::new(),
        paused: None,
        events_tx,
        events_rx,
        set: JoinSet::new(),
        tasks: HashMap::new(),
        cap: options.parallel.unwrap_or(usize::MAX).max(1),
        deadline: options.deadline.map(|d| clock.started() + d),
        tick: options.tick.map(tokio::time::interval),
        signals,
        signals_open: true,
        commands,
        commands_open: true,
        shared,
        options,
    };
    run.ledger.emit(What::RunStarted {
        run_id,
        playbook: playbook.name.clone(),
        steps: n,
    });
    if let Some(id) = &identity {
        run.ledger.emit(What::GuardPassed {
            account: id.account.clone(),
            arn: id.arn.clone(),
        });
    }
    loop {
        run.start_ready();
        if run.idle() {
            break;
        }
        let input = run.next_input().await;
        if run.handle(input) == Flow::Abandon {
            break;
        }
    }
    run.wind_down();
    let Run {
        ledger,
        flags,
        shared,
        options,
        signals,
        ..
    } = run;
    super::conclude::conclude(super::conclude::Dispatched {
        ledger,
        flags,
        shared,
        options,
        identity,
        signals,
    })
    .await
}

impl Run<'_> {
    /// Whether the loop has nothing left to wait for: no step runs, and none can start (a
    /// paused run with ready steps waits for its resume).
    fn idle(&self) -> bool {
        self.set.is_empty() && !(self.paused.is_some() && self.ledger.board.has_ready())
    }

    /// Waits for the next input.
    async fn next_input(&mut self) -> Input {
        tokio::select! {
            biased;
            signal = self.signals.recv(), if self.signals_open => match signal {
                Some(()) => Input::Signal,
                None => Input::SignalsClosed,
            },
            command = self.commands.recv(), if self.commands_open => match command {
                Some(c) => Input::Command(c),
                None => Input::CommandsClosed,
            },
            Some(what) = self.events_rx.recv() => Input::Step(what),
            Some(joined) = self.set.join_next_with_id(), if !self.set.is_empty() => Input::Ended(joined),
            () = sleep_until_opt(self.deadline), if !self.flags.deadline_passed => Input::Deadline,
            () = tick_opt(&mut self.tick) => Input::Tick,
        }
    }

    /// Takes one input: changes the state, and says what happened.
    fn handle(&mut self, input: Input) -> Flow {
        match input {
            Input::Signal => return self.signal(),
            Input::SignalsClosed => self.signals_open = false,
            Input::Command(command) => self.command(command),
            Input::CommandsClosed => {
                self.commands_open = false;
                // Nobody is left to resume a pause: the run goes on rather than wait forever.
                if self.paused.is_some() {
                    let _ = self.resume("nobody (every controller closed)".to_owned());
                }
            }
            Input::Step(what) => self.ledger.step_event(what),
            Input::Ended(joined) => self.ended(joined),
            Input::Deadline => {
                self.flags.deadline_passed = true;
                let d =
                    crate::language::duration::Duration(self.options.deadline.unwrap_or_default());
                self.stop(&format!("the run's deadline ({d}) passed"), None);
            }
            Input::Tick => self.ledger.tick(),
        }
        Flow::Go
    }

    fn signal(&mut self) -> Flow {
        if self.flags.interrupted {
            // The second: stop waiting for running steps.
            self.flags.abandoned = true;
            self.set.abort_all();
            return Flow::Abandon;
        }
        self.flags.interrupted = true;
        let (running, made) = (self.set.len(), self.ledger.created);
        let next = format!(
            "no new step starts; {running} running step{} at a safe point; then teardown of {made} resource{}. Signal again to stop waiting",
            if running == 1 { " stops" } else { "s stop" },
            if made == 1 { "" } else { "s" },
        );
        self.stop("interrupted by a signal", Some(&next));
        Flow::Go
    }

    /// Starts ready steps, up to the cap, unless paused.
    fn start_ready(&mut self) {
        while self.set.len() < self.cap && self.paused.is_none() {
            let Some(i) = self.ledger.board.start_next() else {
                break;
            };
            self.start(i);
        }
    }

    fn start(&mut self, i: usize) {
        let playbook = self.ledger.playbook.clone();
        let step = &playbook.steps[i];
        let mut scope = Scope {
            run_id: self.ledger.run_id.clone(),
            playbook: playbook.name.clone(),
            vars: self.vars.clone(),
            outputs: BTreeMap::default(),
            started_at: self.ledger.clock.started_wall(),
            rpo_target: playbook.targets.rpo.map(|d| d.0),
            disaster_at: self.options.disaster_at,
        };
        for &d in &step.deps {
            scope.outputs.insert(
                playbook.steps[d].id.clone(),
                self.ledger.runs[d].outputs.clone(),
            );
        }
        let cancel = self.cancel.child_token();
        self.step_cancel.insert(i, cancel.clone());
        let cx = StepCx::new(
            step.id.clone(),
            Arc::new(scope),
            self.shared.clone(),
            cancel,
            self.events_tx.clone(),
        );
        let started = Instant::now();
        self.ledger.runs[i].started = Some(started);
        self.ledger.runs[i].attempts = 1;
        self.ledger.emit_at(
            started,
            What::StepStarted {
                step: step.id.clone(),
            },
        );
        let seed = crate::util::hash(self.options.seed, &[&step.id]);
        let events = self.events_tx.clone();
        let handle = self.set.spawn(async move {
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
        self.tasks.insert(handle.id(), i);
    }

    /// A step's task ended: its result goes on the board.
    fn ended(&mut self, joined: Result<(Id, Joined), JoinError>) {
        // Step events sent before the step ended are shown before its end.
        while let Ok(what) = self.events_rx.try_recv() {
            self.ledger.step_event(what);
        }
        let (i, result, started, ended) = match joined {
            Ok((_, joined)) => joined,
            Err(e) => {
                let Some(i) = self.tasks.get(&e.id()).copied() else {
                    return;
                };
                let now = Instant::now();
                let failure = Failure {
                    timed_out: false,
                    cancelled: false,
                    attempts: self.ledger.runs[i].attempts,
                    reasons: vec![format!("the step's task failed: {e}")],
                };
                (
                    i,
                    Err(failure),
                    self.ledger.runs[i].started.unwrap_or(now),
                    now,
                )
            }
        };
        self.step_cancel.remove(&i);
        // A failure injected into the step: it stopped because of it, and fails with it.
        let result = match (result, self.injected.remove(&i)) {
            (Err(f), Some(reason)) if f.cancelled => {
                let mut reasons = f.reasons;
                reasons.push(reason);
                Err(Failure {
                    timed_out: false,
                    cancelled: false,
                    attempts: f.attempts,
                    reasons,
                })
            }
            (result, _) => result,
        };
        self.finish_step(i, result, started, ended);
    }

    fn finish_step(
        &mut self,
        i: usize,
        result: Result<Success<Outputs>, Failure>,
        started: Instant,
        ended: Instant,
    ) {
        let ledger = &mut self.ledger;
        let id = ledger.playbook.steps[i].id.clone();
        ledger.runs[i].finished = Some(ended);
        match result {
            Ok(success) => {
                ledger.runs[i].attempts = success.attempts;
                ledger.runs[i].outputs = success.value;
                ledger.board.succeeded(i);
                ledger.emit_at(
                    ended,
                    What::StepSucceeded {
                        step: id,
                        attempts: success.attempts,
                        duration_secs: secs(ended - started),
                    },
                );
                ledger.milestone_check(i, ended);
            }
            Err(failure) if failure.cancelled => {
                ledger.runs[i].attempts = failure.attempts;
                ledger.runs[i].failures = last_failures(failure.reasons);
                ledger.board.cancelled(i);
                ledger.emit_at(ended, What::StepCancelled { step: id });
            }
            Err(failure) => {
                let reason = failure.reasons.last().cloned().unwrap_or_default();
                ledger.runs[i].attempts = failure.attempts;
                ledger.runs[i].failures = last_failures(failure.reasons);
                let aborts = ledger.board.failed(i, &reason, failure.timed_out);
                ledger.emit_at(
                    ended,
                    What::StepFailed {
                        step: id,
                        timed_out: failure.timed_out,
                        attempts: failure.attempts,
                        reason,
                    },
                );
                if aborts && !self.cancel.is_cancelled() {
                    let why = ledger.board.stopped().unwrap_or("aborted").to_owned();
                    ledger.emit(What::Stopping { reason: why });
                    self.cancel.cancel();
                }
                ledger.report_unstarted();
            }
        }
    }

    /// Stops dispatching: no step starts any more, running ones are cancelled. The event says
    /// `reason`, then `next` (what happens now) when given.
    fn stop(&mut self, reason: &str, next: Option<&str>) {
        if self.ledger.board.stopped().is_none() {
            self.ledger.board.stop(reason);
            self.ledger.emit(What::Stopping {
                reason: next.map_or_else(|| reason.to_owned(), |n| format!("{reason}: {n}")),
            });
        }
        self.cancel.cancel();
        self.ledger.report_unstarted();
    }

    /// Carries out a command from outside; one it cannot is refused with the reason.
    fn command(&mut self, command: Command) {
        let label = command.label();
        let refused = match command {
            Command::Pause { by } => self.pause(by),
            Command::Resume { by } => self.resume(by),
            Command::Approve { step, by } => self.answer_gate(step, true, by),
            Command::Reject { step, by } => self.answer_gate(step, false, by),
            Command::Note { by, text } => {
                self.ledger.emit(What::Note { by, text });
                None
            }
            Command::FailStep { step, reason, by } => self.inject(step, reason, by),
        };
        if let Some(reason) = refused {
            self.ledger.emit(What::CommandRefused {
                command: label,
                reason,
            });
        }
    }

    fn pause(&mut self, by: String) -> Option<String> {
        if self.paused.is_some() {
            return Some("the run is paused already".into());
        }
        if let Some(why) = self.ledger.board.stopped() {
            return Some(format!("the run is stopping ({why})"));
        }
        self.paused = Some(Instant::now());
        self.ledger.emit(What::Paused { by });
        None
    }

    fn resume(&mut self, by: String) -> Option<String> {
        let Some(since) = self.paused.take() else {
            return Some("the run is not paused".into());
        };
        self.ledger.emit(What::Resumed {
            by,
            paused_secs: secs(since.elapsed()),
        });
        None
    }

    fn answer_gate(&mut self, step: String, approved: bool, by: String) -> Option<String> {
        let answered = self.shared.gates.as_ref().is_some_and(|g| {
            g.answer(
                &step,
                Answer {
                    approved,
                    by: by.clone(),
                },
            )
        });
        if !answered {
            return Some(format!(
                "`{step}` is not a manual gate waiting for an answer"
            ));
        }
        self.ledger.emit(What::GateAnswered { step, approved, by });
        None
    }

    fn inject(&mut self, step: String, reason: String, by: String) -> Option<String> {
        let Some(i) = self.ledger.playbook.step_index(&step) else {
            return Some(format!("there is no step `{step}`"));
        };
        if let Some(why) = self.ledger.board.stopped() {
            return Some(format!("the run is stopping ({why})"));
        }
        let Some(cancel) = self.step_cancel.get(&i) else {
            return Some(format!("`{step}` is not running"));
        };
        cancel.cancel();
        self.injected
            .insert(i, format!("injected failure: {reason} (by {by})"));
        self.ledger.emit(What::FailureInjected { step, reason, by });
        None
    }

    /// After the loop: late step events are shown, and steps still running when a second
    /// signal came are cancelled, unfinished.
    fn wind_down(&mut self) {
        while let Ok(what) = self.events_rx.try_recv() {
            self.ledger.emit(what);
        }
        if self.flags.abandoned {
            let running: Vec<usize> = self.ledger.board.running().collect();
            for i in running {
                self.ledger.board.cancelled(i);
                self.ledger.runs[i].finished = Some(Instant::now());
                let step = self.ledger.playbook.steps[i].id.clone();
                self.ledger.emit(What::StepCancelled { step });
            }
        }
        self.ledger.report_unstarted();
    }
}

fn last_failures(mut reasons: Vec<String>) -> Vec<String> {
    let extra = reasons.len().saturating_sub(KEPT_FAILURES);
    reasons.drain(..extra);
    reasons
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
