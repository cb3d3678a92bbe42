//! `firedrill run` and `firedrill teardown` as an operator runs them: Ctrl-C once and twice,
//! a SIGKILL in the middle of a drill against the local sandbox and the teardown that
//! follows, and the refusals.

mod support;

use std::time::Duration;

use firedrill::engine::exit;
use firedrill::steps::builtin::reaper;
use firedrill::store::journal::{Journal, ResourceStatus};
use support::Test;
use support::live::Live;
use support::sandbox::TestSandbox;

fn run_id_of(line: &str) -> String {
    line.split("run-started run ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a run id")
        .to_owned()
}

/// Waits until a step has written a pid to `path` (the event); the limit turns a hang into a
/// failure.
fn wait_for_pid(path: &std::path::Path) {
    let limit = std::time::Instant::now() + Duration::from_mins(1);
    while std::fs::read_to_string(path).map_or(true, |t| !t.ends_with('\n')) {
        assert!(
            std::time::Instant::now() < limit,
            "no pid in {}",
            path.display()
        );
        std::thread::yield_now();
    }
}

/// Waits until `done` holds, looking at each change of the scheduler's mind; the limit turns
/// a hang into a failure.
fn wait_until(done: impl Fn() -> bool, what: &str) {
    let limit = std::time::Instant::now() + Duration::from_mins(1);
    while !done() {
        assert!(
            std::time::Instant::now() < limit,
            "waited a minute for {what}"
        );
        std::thread::yield_now();
    }
}

/// Whether the reaper of run `run_id` (`firedrill __reap RUN`) is alive, from /proc.
fn reaper_alive(run_id: &str) -> bool {
    let needle = format!("__reap\0{run_id}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .any(|pid| {
            firedrill::sandbox::local::alive(pid)
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
}

fn pid_in(path: &std::path::Path) -> u32 {
    std::fs::read_to_string(path)
        .expect("the step wrote its pid")
        .trim()
        .parse()
        .expect("a pid")
}

#[test]
fn a_secret_in_a_var_never_reaches_the_report() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(
        dir.path(),
        r#"version: 1
name: secrets
sandbox: { accounts: ["123456789012"] }
vars:
  auth: "Bearer ${secret:env:DRILL_TOKEN}"
steps:
  call:
    uses: run
    with: { command: 'echo "calling with ${vars.auth}"; echo "token=${vars.auth}" >> "$FIREDRILL_OUTPUTS"', outputs: [token] }
"#,
    );
    let state = dir.path().join("state");
    let report = dir.path().join("report.json");
    let out = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .env("DRILL_TOKEN", "s3cr3t-value")
        .args([
            "run",
            playbook.to_str().expect("utf-8"),
            "--report",
            report.to_str().expect("utf-8"),
        ])
        .run();
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(text.contains("calling with Bearer ***"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "{text}");
    assert!(!out.stdout.contains("s3cr3t-value"));
    // The database and its write-ahead log.
    for file in std::fs::read_dir(&state).expect("state dir").flatten() {
        if file
            .file_name()
            .to_string_lossy()
            .starts_with("journal.sqlite3")
        {
            let bytes = std::fs::read(file.path()).expect("journal file");
            assert!(
                !String::from_utf8_lossy(&bytes).contains("s3cr3t-value"),
                "{} holds the secret",
                file.path().display()
            );
        }
    }
}

#[test]
fn parallel_zero_is_a_usage_error() {
    Test::new()
        .args([
            "run",
            "examples/quickstart/playbook.yaml",
            "--parallel",
            "0",
        ])
        .code(exit::INVALID)
        .stderr_has("--parallel")
        .run();
}

#[test]
fn the_first_signal_cancels_running_steps_and_ends_the_run_interrupted() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(
        dir.path(),
        r#"version: 1
name: interrupt
sandbox: { accounts: ["123456789012"] }
steps:
  long:
    uses: run
    with: { command: 'sleep 600 & echo $! > sleep.pid; wait' }
  after:
    uses: run
    needs: [long]
    with: { command: 'true' }
"#,
    );
    let mut live = Live::start(
        &dir.path().join("state"),
        &["run", playbook.to_str().expect("utf-8")],
    );
    live.wait_for("step-started long");
    // The step's process is up once it has written its child's pid.
    let pid_file = dir.path().join("sleep.pid");
    wait_for_pid(&pid_file);
    let sleeper = pid_in(&pid_file);
    live.signal(rustix::process::Signal::INT);
    let (code, stdout, stderr) = live.finish();
    assert_eq!(
        code,
        Some(i32::from(exit::INTERRUPTED)),
        "{stdout}\n{stderr}"
    );
    for line in [
        "stopping interrupted by a signal",
        "step-cancelled long",
        "step-not-started after: interrupted by a signal",
        "run-finished interrupted (exit 130)",
        "INTERRUPTED",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(
        stdout.contains(
            "stopping interrupted by a signal: no new step starts; 1 running step stops at a safe point; then teardown of 0 resources. Signal again to stop waiting"
        ),
        "the first signal says what happens next:\n{stdout}"
    );
    assert!(
        !firedrill::sandbox::local::alive(sleeper),
        "the step's whole process group is gone"
    );
}

#[test]
fn the_second_signal_stops_waiting_and_a_run_that_made_nothing_has_nothing_to_resume() {
    let dir = tempfile::tempdir().expect("dir");
    // A step that ignores SIGTERM: after the first signal, the run waits out its grace period.
    let playbook = write_drill(
        dir.path(),
        r#"version: 1
name: stubborn
sandbox: { accounts: ["123456789012"] }
steps:
  stubborn:
    uses: run
    with: { command: "trap '' TERM; sleep 600 & echo $! > sleep.pid; wait" }
"#,
    );
    let state = dir.path().join("state");
    let mut live = Live::start(&state, &["run", playbook.to_str().expect("utf-8")]);
    let run_id = run_id_of(&live.wait_for("run-started"));
    live.wait_for("step-started stubborn");
    let pid_file = dir.path().join("sleep.pid");
    wait_for_pid(&pid_file);
    let sleeper = pid_in(&pid_file);
    live.signal(rustix::process::Signal::INT);
    live.wait_for("stopping interrupted by a signal");
    assert!(
        firedrill::sandbox::local::alive(sleeper),
        "the step ignores SIGTERM and is still in its grace period"
    );
    live.signal(rustix::process::Signal::INT);
    let (code, stdout, stderr) = live.finish();
    assert_eq!(
        code,
        Some(i32::from(exit::INTERRUPTED)),
        "{stdout}\n{stderr}"
    );
    // The drill created nothing: there is no teardown to resume, and the command is not shown.
    assert!(stdout.contains("teardown: nothing was created"), "{stdout}");
    assert!(
        !stderr.contains("teardown "),
        "no resume command:\n{stderr}"
    );
    assert!(
        stderr.contains("no longer waiting: what is unfinished stays in the journal. Signal again to exit at once."),
        "{stderr}"
    );
    assert!(stdout.contains("step-cancelled stubborn"), "{stdout}");
    assert!(
        !firedrill::sandbox::local::alive(sleeper),
        "no process of the step outlives the run"
    );
    // Resuming works and has nothing to do: the drill created nothing.
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["teardown", &run_id])
        .stdout_has("nothing left to tear down")
        .run();
}

/// Writes a playbook into `dir`; returns its path.
fn write_drill(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("drill.yaml");
    std::fs::write(&path, yaml).expect("write");
    path
}

fn sandbox_playbook(dir: &std::path::Path, endpoint: &str, hold: &str) -> std::path::PathBuf {
    write_drill(
        dir,
        &format!(
            r#"version: 1
name: crash
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {endpoint}
steps:
  app:
    uses: ec2.launch
    with: {{ image: {{ latest_tagged: {{ role: shop }} }} }}
  worker:
    uses: ec2.launch
    needs: [app]
    with: {{ image: {{ latest_tagged: {{ role: shop-admin }} }} }}
  hold:
    uses: run
    needs: [worker]
    with: {{ command: '{hold}' }}
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sigkill_teardown_deletes_everything_the_run_created() {
    let sandbox = TestSandbox::quickstart().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = sandbox_playbook(
        dir.path(),
        &sandbox.endpoint,
        "sleep 600 & echo $! > hold.pid; wait",
    );
    let mut live = Live::start(&state, &["run", playbook.to_str().expect("utf-8")]);
    let run_id = run_id_of(&live.wait_for("run-started"));
    live.wait_for("step-started hold");
    let pid_file = dir.path().join("hold.pid");
    wait_for_pid(&pid_file);
    let hold = pid_in(&pid_file);
    assert_eq!(
        reaper::marked(&run_id).len(),
        2,
        "the step's shell and its sleep carry the mark"
    );
    live.signal(rustix::process::Signal::KILL);
    let (code, _, _) = live.finish();
    assert_eq!(code, None, "killed");
    // The reaper saw firedrill end and killed the run's processes: none is left, by the mark
    // in their environment (read from /proc), the `sleep` its shell started included.
    wait_until(
        || reaper::marked(&run_id).is_empty(),
        "the run's processes to end",
    );
    // And the reaper itself has ended, so that the straggler below is the teardown's to stop.
    wait_until(|| !reaper_alive(&run_id), "the reaper to end");
    assert!(
        !firedrill::sandbox::local::alive(hold),
        "the step's child is gone"
    );
    // One the reaper could not see (its mark given by hand here) is stopped by the teardown.
    let mut straggler = std::process::Command::new("sleep")
        .arg("600")
        .env(reaper::MARKER, &run_id)
        .spawn()
        .expect("sleep");

    let journal = Journal::open(&state).expect("journal");
    let before = journal.resources(&run_id).expect("resources");
    assert_eq!(before.len(), 2, "{before:#?}");
    assert!(before.iter().all(|r| r.status == ResourceStatus::Created));
    let ids: Vec<String> = before
        .iter()
        .map(|r| r.resource_id.clone().expect("an id"))
        .collect();
    for id in &ids {
        assert_eq!(sandbox.instance_state(id).await, "running");
    }

    let state_arg = state.to_str().expect("utf-8").to_owned();
    let teardown = {
        let state_arg = state_arg.clone();
        let stopped = format!("run {run_id}: stopped");
        tokio::task::spawn_blocking(move || {
            Test::new()
                .env("FIREDRILL_STATE_DIR", &state_arg)
                .args(["teardown"])
                .stdout_has(&format!(
                    "{stopped} 1 process(es) of its steps that were still running"
                ))
                .stdout_has("teardown done (2 settled)")
                .run()
        })
        .await
        .expect("teardown ran")
    };
    let ended = straggler.wait().expect("wait");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&ended),
        Some(9),
        "the teardown killed it"
    );
    // Dependents first: `worker` (which needs `app`) is deleted before `app`.
    let worker_at = teardown.stdout.find(&ids[1]).expect("worker deleted");
    let app_at = teardown.stdout.rfind(&ids[0]).expect("app deleted");
    assert!(worker_at < app_at, "{}", teardown.stdout);
    let after = journal.resources(&run_id).expect("resources");
    assert!(
        after.iter().all(|r| r.status == ResourceStatus::Deleted),
        "{after:#?}"
    );
    for id in &ids {
        assert_eq!(sandbox.instance_state(id).await, "terminated");
    }
    assert_eq!(
        journal.run(&run_id).expect("run").expect("recorded").state,
        "crashed"
    );
    // Idempotent.
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["teardown", &run_id])
            .stdout_has("nothing left to tear down")
            .run();
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["teardown"])
            .stdout_has("nothing to tear down")
            .run();
    })
    .await
    .expect("again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_drill_on_the_sandbox_passes_and_leaves_nothing_behind() {
    let sandbox = TestSandbox::quickstart().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = sandbox_playbook(dir.path(), &sandbox.endpoint, "true");
    let report = dir.path().join("report.json");
    let (state_arg, playbook_arg, report_arg) = (
        state.to_str().expect("utf-8").to_owned(),
        playbook.to_str().expect("utf-8").to_owned(),
        report.to_str().expect("utf-8").to_owned(),
    );
    let out = tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["run", &playbook_arg, "--report", &report_arg])
            .stdout_has("guard-passed account 123456789012")
            .stdout_has("teardown: done, 2 resources deleted")
            .run()
    })
    .await
    .expect("ran");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    assert_eq!(doc["format_version"], 1);
    assert_eq!(doc["state"], "passed");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["teardown"]["state"], "done");
    let resources = doc["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 2, "{}", out.stdout);
    for r in resources {
        assert_eq!(r["status"], "deleted");
        let id = r["resource_id"].as_str().expect("id");
        assert_eq!(sandbox.instance_state(id).await, "terminated");
    }
    // The images chosen are the newest tagged ones.
    assert!(
        doc["steps"][0]["outputs"]["image_id"]
            .as_str()
            .is_some_and(|s| s.starts_with("ami-")),
        "{doc}"
    );
}

/// A drill touching every kind of production resource a restore reads or changes: a
/// database restored from its snapshot, an app server, the production DNS record cut over to
/// it, a data volume restored and attached; then `gate` runs `gate`.
fn touching_playbook(dir: &std::path::Path, endpoint: &str, gate: &str) -> std::path::PathBuf {
    write_drill(
        dir,
        &format!(
            r#"version: 1
name: safety
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {endpoint}
steps:
  db:
    uses: rds.restore-snapshot
    with: {{ source: shop-prod }}
  app:
    uses: ec2.launch
    with: {{ image: {{ latest_tagged: {{ role: shop }} }} }}
  dns:
    uses: route53.record
    with: {{ zone: shop.internal., name: www, type: A, value: '${{steps.app.outputs.private_ip}}' }}
  data:
    uses: ec2.restore-volume
    with:
      snapshot: {{ latest_tagged: {{ volume: shop-uploads }} }}
      attach: {{ instance: '${{steps.app.outputs.id}}', device: /dev/sdf }}
  gate:
    uses: run
    needs: [db, dns, data]
    with: {{ command: '{gate}' }}
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_production_side_is_unchanged_after_a_passed_a_failed_and_a_killed_drill() {
    let sandbox = TestSandbox::quickstart().await;
    let production = sandbox.production().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let state_arg = state.to_str().expect("utf-8").to_owned();

    for (gate, code) in [("true", exit::OK), ("false", exit::STEP_FAILED)] {
        let playbook = touching_playbook(dir.path(), &sandbox.endpoint, gate);
        let (state_arg, playbook_arg) = (
            state_arg.clone(),
            playbook.to_str().expect("utf-8").to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            Test::new()
                .env("FIREDRILL_STATE_DIR", &state_arg)
                .args(["run", &playbook_arg])
                .code(code)
                .stdout_has("teardown: done, 3 resources deleted, 1 record restored")
                .run()
        })
        .await
        .expect("ran");
        sandbox.assert_production_unchanged(&production).await;
        assert!(sandbox.drill_leftovers().await.is_empty());
    }

    // Killed mid-way, with the production record pointing at the drill's server.
    let playbook = touching_playbook(
        dir.path(),
        &sandbox.endpoint,
        "sleep 600 & echo $! > hold.pid; wait",
    );
    let mut live = Live::start(&state, &["run", playbook.to_str().expect("utf-8")]);
    live.wait_for("step-started gate");
    let pid_file = dir.path().join("hold.pid");
    wait_for_pid(&pid_file);
    live.signal(rustix::process::Signal::KILL);
    let _ = live.finish();
    firedrill::sandbox::local::signal(pid_in(&pid_file), rustix::process::Signal::KILL);
    assert!(!sandbox.drill_leftovers().await.is_empty());
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["teardown"])
            .stdout_has("teardown done (4 settled)")
            .run()
    })
    .await
    .expect("teardown ran");
    sandbox.assert_production_unchanged(&production).await;
    assert!(sandbox.drill_leftovers().await.is_empty());
}

/// A real HTTP server on loopback: `/health` answers 503 to its first `sick` requests, then
/// 200 with a JSON body; anything else is 404. Serves until the test ends.
fn health_server(sick: usize) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut health_calls = 0;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let (status, body) = if request.starts_with("GET /health ") {
                health_calls += 1;
                if health_calls <= sick {
                    (
                        "503 Service Unavailable",
                        r#"{"status":"starting"}"#.to_string(),
                    )
                } else {
                    (
                        "200 OK",
                        r#"{"status":"ok","checks":{"db":"up"},"version":3}"#.to_string(),
                    )
                }
            } else {
                ("404 Not Found", "not here".to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn an_http_probe_keeps_trying_until_the_service_is_healthy_and_says_what_it_saw() {
    let port = health_server(3);
    let dir = tempfile::tempdir().expect("dir");
    let (_, doc) = Test::new().code(exit::STEP_FAILED).drill(
        dir.path(),
        &format!(
            r#"version: 1
name: http
sandbox: {{ accounts: ["123456789012"] }}
steps:
  healthy:
    uses: probe.http
    with:
      url: http://127.0.0.1:{port}/health
      expect: {{ json: {{ status: ok, checks.db: up, version: 3 }}, body_regex: '"db":\s*"up"' }}
    retry: {{ interval: 20ms, until: 10s }}
  missing:
    uses: probe.http
    on_failure: continue
    with: {{ url: 'http://127.0.0.1:{port}/nope' }}
    retry: {{ interval: 20ms, until: 100ms }}
"#
        ),
    );
    let healthy = &doc["steps"][0];
    assert_eq!(healthy["state"], "succeeded", "{doc}");
    assert_eq!(
        healthy["outputs"]["attempts"], "4",
        "three 503s, then healthy"
    );
    assert_eq!(healthy["outputs"]["status"], "200");
    assert!(
        healthy["failures"][0]
            .as_str()
            .is_some_and(|f| f.contains("answered 503, not 200: {\"status\":\"starting\"}")),
        "{doc}"
    );
    let missing = doc["steps"][1]["failures"].to_string();
    assert!(
        missing.contains("answered 404, not 200: not here"),
        "{missing}"
    );
}

#[test]
fn a_canary_secret_reaches_no_stream_and_no_file() {
    const CANARY: &str = "canary-7f3a9c2e";
    let port = health_server(1);
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(
        dir.path(),
        &format!(
            r#"version: 1
name: canary
sandbox: {{ accounts: ["123456789012"] }}
steps:
  http:
    uses: probe.http
    with:
      url: 'http://127.0.0.1:{port}/health?token=${{secret:env:CANARY}}'
      headers: {{ authorization: "Bearer ${{secret:env:CANARY}}" }}
    retry: {{ interval: 20ms, until: 5s }}
  command:
    uses: probe.command
    on_failure: continue
    with:
      command: 'echo "seen $T"; exit 1'
      env: {{ T: "${{secret:env:CANARY}}" }}
    retry: {{ interval: 20ms, until: 100ms }}
  process:
    uses: run
    on_failure: continue
    with: {{ command: 'echo "token ${{secret:env:CANARY}}" >&2; exit 2' }}
"#
        ),
    );
    let state = dir.path().join("state");
    let out = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .env("CANARY", CANARY)
        .args([
            "run",
            playbook.to_str().expect("utf-8"),
            "--log-format",
            "json",
        ])
        .code(exit::STEP_FAILED)
        .run();
    // The failures were reported, with the secret masked.
    assert!(out.stdout.contains("token=***"), "{}", out.stdout);
    assert!(out.stdout.contains("seen ***"), "{}", out.stdout);
    assert!(out.stdout.contains("token ***"), "{}", out.stdout);
    assert!(!out.stdout.contains(CANARY) && !out.stderr.contains(CANARY));
    let files = support::files_under(dir.path());
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let bytes = std::fs::read(&file).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(CANARY),
            "{} holds the secret",
            file.display()
        );
    }
}

/// A real HTTP server whose `/health` turns from 503 to 200 `after` it starts; gives its port
/// and the wall-clock moment it turned healthy.
fn server_healthy_after(after: Duration) -> (u16, std::time::SystemTime) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let started = std::time::Instant::now();
    let healthy_at = std::time::SystemTime::now() + after;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let status = if started.elapsed() >= after {
                "200 OK"
            } else {
                "503 Service Unavailable"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (port, healthy_at)
}

#[test]
fn the_rto_is_measured_to_the_moment_the_service_became_healthy() {
    let (port, healthy_at) = server_healthy_after(Duration::from_millis(1500));
    let dir = tempfile::tempdir().expect("dir");
    let (_, doc) = Test::new().drill(
        dir.path(),
        &format!(
            r#"version: 1
name: rto
targets: {{ rto: 1m }}
sandbox: {{ accounts: ["123456789012"] }}
steps:
  up:
    uses: probe.http
    with: {{ url: 'http://127.0.0.1:{port}/health' }}
    retry: {{ interval: 50ms, until: 30s }}
    milestone: recovered
"#
        ),
    );
    let reached = doc["milestones"][0]["reached_at"]
        .as_str()
        .expect("reached");
    let reached = chrono::DateTime::parse_from_rfc3339(reached).expect("a time");
    let healthy_at = chrono::DateTime::<chrono::Utc>::from(healthy_at);
    // Times in the report have millisecond precision.
    let error_ms = (reached.with_timezone(&chrono::Utc) - healthy_at).num_milliseconds();
    assert!((-2..250).contains(&error_ms), "RTO error {error_ms} ms");
}

#[test]
fn each_process_gets_its_own_outputs_file_and_none_outlives_the_run() {
    let dir = tempfile::tempdir().expect("dir");
    let (_, report) = Test::new().drill(
        dir.path(),
        r#"version: 1
name: outputs-files
sandbox: { accounts: ["123456789012"] }
steps:
  a:
    uses: run
    with: { command: 'echo "file=$FIREDRILL_OUTPUTS" >> "$FIREDRILL_OUTPUTS"', outputs: [file] }
  b:
    uses: run
    with: { command: 'test ! -s "$FIREDRILL_OUTPUTS" && echo "file=$FIREDRILL_OUTPUTS" >> "$FIREDRILL_OUTPUTS"', outputs: [file] }
"#,
    );
    let file = |id: &str| {
        std::path::PathBuf::from(
            support::step(&report, id)["outputs"]["file"]
                .as_str()
                .expect("the output"),
        )
    };
    let (a, b) = (file("a"), file("b"));
    assert_ne!(a, b, "two processes shared an outputs file");
    assert_eq!(a.parent(), b.parent(), "one scratch directory per run");
    let scratch = a.parent().expect("a directory");
    assert!(!scratch.exists(), "{} outlived the run", scratch.display());
}
