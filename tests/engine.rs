//! The drill engine with `run`, `wait` and `manual` steps: order and parallelism, failure
//! propagation under both `on_failure` modes, retries, timeouts, outputs flowing into
//! dependents, milestones and the deadline on tokio's paused clock, and the journal it leaves.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use firedrill::engine::board::StepState;
use firedrill::engine::command::{self, Command, Controller};
use firedrill::engine::dispatch::{self, Drill, Outcome, Sink, View};
use firedrill::engine::event::{Event, What};
use firedrill::engine::exit;
use firedrill::engine::report::RunState;
use firedrill::engine::teardown;
use firedrill::steps::builtin::gate::Gates;
use firedrill::steps::context::Shared;
use firedrill::store::journal::{Journal, NewRun};
use firedrill::store::recorder::Recorder;

/// Collects every event, and passes each on to whoever drives the run.
struct Collect(Vec<Event>, mpsc::UnboundedSender<Event>);

impl Sink for Collect {
    fn event(&mut self, event: &Event, _view: &View<'_>) {
        self.0.push(event.clone());
        let _ = self.1.send(event.clone());
    }
}

/// Receives a running drill's events, for a test that steers it with commands.
struct Watch(mpsc::UnboundedReceiver<Event>);

impl Watch {
    /// Waits for the event `name` (of `step`, when given), returning it; panics when the run
    /// ends without it.
    async fn until(&mut self, name: &str, step: Option<&str>) -> Event {
        // A guard against a hang, not a wait for state: every awaited event comes at once.
        let limit = tokio::time::Instant::now() + Duration::from_secs(30);
        while let Ok(Some(e)) = tokio::time::timeout_at(limit, self.0.recv()).await {
            if e.what.name() == name && (step.is_none() || e.what.step() == step) {
                return e;
            }
            assert_ne!(e.what.name(), "run-finished", "the run ended before {name}");
        }
        panic!("no {name} within 30s, or the run ended before it");
    }
}

struct Ran {
    outcome: Outcome,
    events: Vec<Event>,
    journal: tempfile::TempDir,
}

impl Ran {
    fn position(&self, name: &str, step: &str) -> usize {
        self.events
            .iter()
            .position(|e| e.what.name() == name && e.what.step() == Some(step))
            .unwrap_or_else(|| panic!("no {name} of {step}: {:#?}", self.events))
    }

    fn state(&self, step: &str) -> &StepState {
        &self
            .outcome
            .report
            .steps
            .iter()
            .find(|s| s.id == step)
            .expect("the step is reported")
            .state
    }

    fn output(&self, step: &str, key: &str) -> String {
        self.outcome
            .report
            .steps
            .iter()
            .find(|s| s.id == step)
            .and_then(|s| s.outputs.get(key))
            .cloned()
            .unwrap_or_default()
    }
}

async fn run_yaml(yaml: &str, parallel: Option<usize>, deadline: Option<Duration>) -> Ran {
    run_inner(yaml, parallel, deadline, false, |_, _| async {}).await
}

/// Runs `yaml` while `drive` steers it: it gets the drill's controller and its events, and
/// the run's manual gates take answers from it.
async fn run_driven<F, Fut>(
    yaml: &str,
    parallel: Option<usize>,
    deadline: Option<Duration>,
    drive: F,
) -> Ran
where
    F: FnOnce(Controller, Watch) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    run_inner(yaml, parallel, deadline, true, drive).await
}

async fn run_inner<F, Fut>(
    yaml: &str,
    parallel: Option<usize>,
    deadline: Option<Duration>,
    gates: bool,
    drive: F,
) -> Ran
where
    F: FnOnce(Controller, Watch) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("drill.yaml");
    std::fs::write(
        &path,
        format!("{yaml}\nsandbox:\n  accounts: [\"123456789012\"]\n"),
    )
    .expect("write");
    let (_, loaded) = firedrill::playbook::load(&path);
    let playbook = Arc::new(loaded.unwrap_or_else(|d| panic!("valid: {d:#?}")).playbook);
    let state = tempfile::tempdir().expect("state");
    let recorder = Recorder::start(Journal::open(state.path()).expect("journal"));
    let run_id = "20261125-000000-00000001".to_owned();
    let rid = run_id.clone();
    recorder
        .call(move |j| {
            j.begin_run(&NewRun {
                id: &rid,
                ..NewRun::default()
            })
        })
        .await
        .expect("begin");
    let shared = Arc::new(Shared {
        clients: None,
        recorder: recorder.clone(),
        base_dir: dir.path().to_path_buf(),
        poll: Duration::from_millis(50),
        grace: Duration::from_secs(2),
        tags: Vec::new(),
        auto_approve: false,
        prompter: None,
        gates: gates.then(|| Arc::new(Gates::default())),
        pollers: Arc::new(firedrill::aws::poll::Pollers::new(
            None,
            Duration::from_millis(50),
        )),
        ssm: Arc::default(),
        scratch: Arc::new(tempfile::tempdir().expect("scratch")),
        names: firedrill::steps::probe::names::Names::System,
        sandbox_ca: None,
    });
    let (controller, commands) = command::channel();
    let drill = Drill {
        playbook,
        run_id,
        identity: None,
        shared,
        options: dispatch::Options {
            disaster_at: None,
            rehearsal: None,
            parallel,
            deadline,
            teardown: teardown::Options {
                deadline: Duration::from_mins(1),
                poll: Duration::from_millis(50),
                signalled: false,
            },
            seed: 1,
            tick: None,
        },
        commands,
    };
    let (_keep, mut signals) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let driver = tokio::spawn(drive(controller, Watch(events_rx)));
    let mut sink = Collect(Vec::new(), events_tx);
    let outcome = dispatch::run(drill, &mut signals, &mut sink).await;
    drop(sink.1);
    driver.await.expect("the driver finished");
    recorder.flush().await.expect("flush");
    Ran {
        outcome,
        events: sink.0,
        journal: state,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_start_when_their_dependencies_succeed_and_outputs_flow() {
    let ran = run_yaml(
        r#"
version: 1
name: flow
steps:
  root:
    uses: run
    with:
      command: 'echo "url=http://db.local:5432" >> "$FIREDRILL_OUTPUTS"'
      outputs: [url]
  left:
    uses: run
    needs: [root]
    with: { command: 'echo "side=left" >> "$FIREDRILL_OUTPUTS"', outputs: [side] }
  right:
    uses: run
    with: { command: ["printf", "%s", "${steps.root.outputs.url}"] }
  join:
    uses: run
    needs: [left, right]
    with:
      command: 'printf "%s|%s" "${steps.left.outputs.side}" "${steps.right.outputs.stdout}"'
"#,
        None,
        None,
    )
    .await;
    assert_eq!(ran.outcome.exit_code, exit::OK);
    assert_eq!(ran.outcome.report.state, RunState::Passed);
    // A reference is a dependency: `right` waits for `root` like `left` does.
    for (before, after) in [
        ("root", "left"),
        ("root", "right"),
        ("left", "join"),
        ("right", "join"),
    ] {
        assert!(
            ran.position("step-succeeded", before) < ran.position("step-started", after),
            "{after} started before {before} succeeded"
        );
    }
    assert_eq!(ran.output("right", "stdout"), "http://db.local:5432");
    assert_eq!(ran.output("join", "stdout"), "left|http://db.local:5432");
    assert_eq!(ran.output("join", "exit_code"), "0");

    // The journal holds every event of the run, in order.
    let journal = Journal::open(ran.journal.path()).expect("reopen");
    let kinds: Vec<String> = journal
        .events("20261125-000000-00000001")
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("run-started"));
    assert_eq!(kinds.last().map(String::as_str), Some("run-finished"));
    assert_eq!(kinds.len(), ran.events.len());
    let run = journal
        .run("20261125-000000-00000001")
        .expect("run")
        .expect("recorded");
    assert_eq!(run.state, "passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_caps_how_many_steps_run_at_once() {
    let mut yaml = "version: 1\nname: wide\nsteps:\n".to_owned();
    for i in 0..6 {
        yaml.push_str(&format!(
            "  s{i}:\n    uses: run\n    with: {{ command: 'sleep 0.2' }}\n"
        ));
    }
    let max_running = |events: &[Event]| {
        let (mut now, mut max) = (0i32, 0i32);
        for e in events {
            match e.what {
                What::StepStarted { .. } => now += 1,
                What::StepSucceeded { .. } | What::StepFailed { .. } => now -= 1,
                _ => {}
            }
            max = max.max(now);
        }
        max
    };
    let capped = run_yaml(&yaml, Some(2), None).await;
    assert_eq!(capped.outcome.exit_code, exit::OK);
    assert_eq!(max_running(&capped.events), 2);
    let free = run_yaml(&yaml, None, None).await;
    assert_eq!(max_running(&free.events), 6, "no cap by default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aborting_failure_cancels_running_steps_and_starts_nothing_more() {
    let started = std::time::Instant::now();
    let ran = run_yaml(
        r"
version: 1
name: abort
steps:
  slow:
    uses: run
    with: { command: 'sleep 30' }
  broken:
    uses: run
    with: { command: 'echo disk full >&2; exit 3' }
  after:
    uses: run
    needs: [broken]
    with: { command: 'true' }
  later:
    uses: run
    needs: [slow]
    with: { command: 'true' }
",
        None,
        None,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the running sleep was cancelled, not waited for"
    );
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
    assert_eq!(ran.outcome.report.state, RunState::Failed);
    assert_eq!(
        ran.state("broken"),
        &StepState::Failed {
            reason: "the process exited with 3: disk full".into()
        }
    );
    assert_eq!(ran.state("slow"), &StepState::Cancelled);
    assert_eq!(
        ran.state("after"),
        &StepState::Skipped {
            because: "broken".into()
        }
    );
    assert!(
        matches!(ran.state("later"), StepState::NotStarted { reason } if reason.contains("`broken` failed and aborts the run"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuing_failure_skips_its_dependents_and_independent_steps_go_on() {
    let ran = run_yaml(
        r"
version: 1
name: continue
steps:
  broken:
    uses: run
    on_failure: continue
    with: { command: 'exit 1' }
  child:
    uses: run
    needs: [broken]
    with: { command: 'true' }
  grandchild:
    uses: run
    needs: [child]
    with: { command: 'true' }
  independent:
    uses: run
    with: { command: 'sleep 0.3' }
  after_independent:
    uses: run
    needs: [independent]
    with: { command: 'true' }
",
        None,
        None,
    )
    .await;
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
    for s in ["child", "grandchild"] {
        assert_eq!(
            ran.state(s),
            &StepState::Skipped {
                because: "broken".into()
            }
        );
    }
    assert_eq!(ran.state("independent"), &StepState::Succeeded);
    assert_eq!(ran.state("after_independent"), &StepState::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_until_success_and_a_timeout_ends_a_step_as_timed_out() {
    let ran = run_yaml(
        r#"
version: 1
name: retries
steps:
  flaky:
    uses: run
    retry: { attempts: 5, interval: 100ms }
    with:
      command: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ "$n" -ge 3 ]'
  hung:
    uses: run
    on_failure: continue
    timeout: 1s
    with: { command: 'sleep 30' }
"#,
        None,
        None,
    )
    .await;
    let flaky = ran
        .outcome
        .report
        .steps
        .iter()
        .find(|s| s.id == "flaky")
        .expect("flaky");
    assert_eq!(flaky.state, StepState::Succeeded);
    assert_eq!(flaky.attempts, 3);
    assert_eq!(
        ran.events
            .iter()
            .filter(|e| matches!(&e.what, What::AttemptFailed { step, .. } if step == "flaky"))
            .count(),
        2
    );
    assert_eq!(ran.state("hung"), &StepState::TimedOut);
    let hung = ran
        .outcome
        .report
        .steps
        .iter()
        .find(|s| s.id == "hung")
        .expect("hung");
    assert!(
        hung.duration_secs.is_some_and(|d| d < 10.0),
        "the timeout stopped the process: {hung:?}"
    );
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
}

#[tokio::test(start_paused = true)]
async fn milestones_are_measured_on_the_run_clock_against_their_targets() {
    let ran = run_yaml(
        r"
version: 1
name: clock
targets:
  rto: 12m
  milestones: { data: 11m }
steps:
  restore:
    uses: wait
    with: { duration: 10m }
    milestone: data
  app:
    uses: wait
    needs: [restore]
    with: { duration: 5m }
    milestone: recovered
",
        None,
        None,
    )
    .await;
    let report = &ran.outcome.report;
    assert_eq!(report.state, RunState::TargetMissed);
    assert_eq!(ran.outcome.exit_code, exit::TARGET_MISSED);
    assert_eq!(report.rto.measured_secs, Some(900.0));
    assert_eq!(report.rto.met, Some(false));
    let data = report
        .milestones
        .iter()
        .find(|m| m.name == "data")
        .expect("data");
    assert_eq!((data.reached_secs, data.met), (Some(600.0), Some(true)));
}

#[tokio::test(start_paused = true)]
async fn the_deadline_stops_the_run_and_cancels_what_runs() {
    let ran = run_yaml(
        r"
version: 1
name: deadline
steps:
  first:
    uses: wait
    with: { duration: 5m }
  long:
    uses: wait
    needs: [first]
    with: { duration: 1h }
  never:
    uses: wait
    needs: [long]
    with: { duration: 1s }
",
        None,
        Some(Duration::from_mins(10)),
    )
    .await;
    assert_eq!(ran.outcome.report.state, RunState::Failed);
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
    assert_eq!(ran.state("first"), &StepState::Succeeded);
    assert_eq!(ran.state("long"), &StepState::Cancelled);
    assert!(
        matches!(ran.state("never"), StepState::NotStarted { reason } if reason.contains("deadline (10m)"))
    );
    assert!(
        (ran.outcome.report.duration_secs - 600.0).abs() < 1.0,
        "it ended at the deadline: {}",
        ran.outcome.report.duration_secs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_gate_without_a_terminal_fails_with_the_way_out() {
    let ran = run_yaml(
        r"
version: 1
name: gate
steps:
  confirm:
    uses: manual
    with: { prompt: 'Is the app serving?' }
",
        None,
        None,
    )
    .await;
    assert!(
        matches!(ran.state("confirm"), StepState::Failed { reason } if reason.contains("--auto-approve"))
    );
}

const TWO_WAITS: &str = r"
version: 1
name: paused
steps:
  first: { uses: wait, with: { duration: 50ms } }
  second: { uses: wait, needs: [first], with: { duration: 50ms } }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_starts_nothing_until_resumed_and_the_journal_says_so() {
    let ran = run_driven(TWO_WAITS, None, None, |control, mut watch| async move {
        watch.until("step-started", Some("first")).await;
        let by = || "ana".to_owned();
        assert!(control.send(Command::Pause { by: by() }));
        watch.until("paused", None).await;
        watch.until("step-succeeded", Some("first")).await;
        // Commands are handled in order, and a ready step starts before the next input is
        // taken: once the note is seen, `second` would have started had the run not paused.
        control.send(Command::Note {
            by: by(),
            text: "waiting for the DBA".into(),
        });
        let note = watch.until("note", None).await;
        assert!(matches!(note.what, What::Note { ref text, .. } if text == "waiting for the DBA"));
        control.send(Command::Resume { by: by() });
        let resumed = watch.until("resumed", None).await;
        let What::Resumed { paused_secs, .. } = resumed.what else {
            unreachable!()
        };
        assert!(paused_secs > 0.0);
        watch.until("step-started", Some("second")).await;
    })
    .await;
    assert_eq!(ran.outcome.exit_code, exit::OK);
    let names: Vec<&str> = ran.events.iter().map(|e| e.what.name()).collect();
    let at = |n: &str| names.iter().position(|x| *x == n).expect(n);
    assert!(at("paused") < at("note") && at("note") < at("resumed"));
    assert!(
        ran.position("step-succeeded", "first") < at("note")
            && at("resumed") < ran.position("step-started", "second"),
        "{names:?}"
    );
    // The journal holds the commands' events, in the run's order.
    let journal = Journal::open(ran.journal.path()).expect("reopen");
    let kinds: Vec<String> = journal
        .events("20261125-000000-00000001")
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| ["paused", "note", "resumed"].contains(&k.as_str()))
        .collect();
    assert_eq!(kinds, ["paused", "note", "resumed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_is_answered_from_outside_and_a_command_that_cannot_be_done_is_refused() {
    let ran = run_driven(
        r"
version: 1
name: gated
steps:
  confirm: { uses: manual, with: { prompt: Is the replica caught up? } }
  refuse: { uses: manual, needs: [confirm], with: { prompt: Cut over? } }
",
        None,
        None,
        |control, mut watch| async move {
            watch.until("gate-waiting", Some("confirm")).await;
            control.send(Command::Resume { by: "bo".into() });
            let refused = watch.until("command-refused", None).await;
            assert!(
                matches!(refused.what, What::CommandRefused { ref reason, .. } if reason == "the run is not paused")
            );
            control.send(Command::Approve {
                step: "nope".into(),
                by: "bo".into(),
            });
            watch.until("command-refused", None).await;
            control.send(Command::Approve {
                step: "confirm".into(),
                by: "lead".into(),
            });
            watch.until("step-succeeded", Some("confirm")).await;
            watch.until("gate-waiting", Some("refuse")).await;
            control.send(Command::Reject {
                step: "refuse".into(),
                by: "lead".into(),
            });
        },
    )
    .await;
    assert_eq!(ran.output("confirm", "approved_by"), "lead");
    assert_eq!(
        ran.state("refuse"),
        &StepState::Failed {
            reason: "lead said no".into()
        }
    );
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_injected_failure_fails_the_running_step_with_its_reason() {
    let ran = run_driven(
        r"
version: 1
name: injected
steps:
  long: { uses: wait, with: { duration: 1h } }
  after: { uses: wait, needs: [long], with: { duration: 1s } }
",
        None,
        None,
        |control, mut watch| async move {
            watch.until("step-started", Some("long")).await;
            control.send(Command::FailStep {
                step: "after".into(),
                reason: "the AZ is gone".into(),
                by: "chaos".into(),
            });
            watch.until("command-refused", None).await;
            control.send(Command::FailStep {
                step: "long".into(),
                reason: "the AZ is gone".into(),
                by: "chaos".into(),
            });
        },
    )
    .await;
    assert_eq!(
        ran.state("long"),
        &StepState::Failed {
            reason: "injected failure: the AZ is gone (by chaos)".into()
        }
    );
    assert!(matches!(ran.state("after"), StepState::Skipped { .. }));
    assert!(ran.position("failure-injected", "long") < ran.position("step-failed", "long"));
    assert_eq!(ran.outcome.exit_code, exit::STEP_FAILED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_outlived_by_every_controller_resumes_rather_than_wait_forever() {
    let ran = run_driven(TWO_WAITS, None, None, |control, mut watch| async move {
        watch.until("step-started", Some("first")).await;
        control.send(Command::Pause { by: "ana".into() });
        watch.until("paused", None).await;
        // The facilitator's screen goes away: the driver ends, and its controller with it.
    })
    .await;
    assert_eq!(ran.outcome.exit_code, exit::OK);
    let resumed = ran
        .events
        .iter()
        .position(|e| matches!(&e.what, What::Resumed { by, .. } if by.starts_with("nobody")))
        .expect("resumed by nobody");
    assert!(resumed < ran.position("step-started", "second"));
}
