//! `firedrill run` unattended, as cron runs it: the playbook lock that keeps two runs of one
//! playbook from overlapping, `--quiet`, and the completion webhook received by a real HTTP
//! server.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use firedrill::engine::exit;
use support::Test;

fn write_drill(dir: &Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("drill.yaml");
    std::fs::write(&path, yaml).expect("write");
    path
}

fn state_env(state: &Path) -> (&'static str, String) {
    (
        "FIREDRILL_STATE_DIR",
        state.to_str().expect("utf-8").to_owned(),
    )
}

#[test]
fn a_second_run_of_the_same_playbook_is_refused_while_the_first_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let gate = dir.path().join("gate");
    let made = Command::new("mkfifo").arg(&gate).status().expect("mkfifo");
    assert!(made.success());
    // The step blocks reading the fifo until the test writes to it.
    let playbook = write_drill(
        dir.path(),
        "version: 1\nname: locked\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  hold: { uses: run, with: { command: \"cat gate\" } }\n",
    );
    let state = dir.path().join("state");
    let (key, value) = state_env(&state);
    let mut first = Command::new(env!("CARGO_BIN_EXE_firedrill"))
        .args(["run", playbook.to_str().expect("utf-8")])
        .env(key, &value)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the first run starts");
    let (tx, lines) = mpsc::channel();
    let stdout = first.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut run_id = String::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_mins(1))
            .expect("the first run's events");
        if let Some(rest) = line.split("run-started run ").nth(1) {
            run_id = rest.split_whitespace().next().expect("an id").to_owned();
        }
        if line.contains("step-started hold") {
            break;
        }
    }

    let refused = Test::new()
        .env(key, &value)
        .args(["run", playbook.to_str().expect("utf-8")])
        .code(exit::REFUSED)
        .run();
    let holder = format!(
        "error: another run of `locked` is in progress: run {run_id} (pid {}, since ",
        first.id()
    );
    assert!(
        refused.stderr.contains(&holder),
        "no {holder:?} in:\n{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);

    // Let the first run finish: it passes, and releases the lock.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&gate)
        .and_then(|mut f| f.write_all(b"go\n"))
        .expect("open the gate");
    let status = first.wait().expect("the first run ends");
    assert_eq!(status.code(), Some(0));
    std::fs::remove_file(&gate).expect("remove the fifo");
    std::fs::write(&gate, "open\n").expect("a plain file");
    Test::new()
        .env(key, &value)
        .args(["run", playbook.to_str().expect("utf-8")])
        .stdout_has("PASSED")
        .run();
}

#[test]
fn quiet_prints_nothing_for_a_passed_run_and_the_summary_for_a_failed_one() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let (key, value) = state_env(&state);
    let passing = write_drill(
        dir.path(),
        "version: 1\nname: quiet\ntargets: { rto: 1m }\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  ok: { uses: run, with: { command: \"true\" }, milestone: recovered }\n",
    );
    let out = Test::new()
        .env(key, &value)
        .args(["run", "--quiet", passing.to_str().expect("utf-8")])
        .run();
    assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("", ""));
    assert!(
        support::files_under(&state.join("runs"))
            .iter()
            .any(|p| p.ends_with("report.json")),
        "the report is still kept"
    );

    let failing = dir.path().join("failing.yaml");
    std::fs::write(
        &failing,
        "version: 1\nname: noisy\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  broken: { uses: run, with: { command: \"false\" } }\n",
    )
    .expect("write");
    let out = Test::new()
        .env(key, &value)
        .args(["run", "-q", failing.to_str().expect("utf-8")])
        .code(exit::STEP_FAILED)
        .stdout_has("of `noisy`: FAILED in ")
        .stdout_has("broken: failed: ")
        .run();
    assert!(
        !out.stdout.contains("step-started"),
        "no event lines: {}",
        out.stdout
    );
}

/// A request the webhook server received.
#[derive(Debug)]
struct Received {
    method: String,
    path: String,
    content_type: String,
    body: String,
}

/// A real HTTP server (hyper) on loopback that answers every request with `status` and
/// hands each request it received to the returned channel.
fn webhook_server(status: u16) -> (u16, mpsc::Receiver<Received>) {
    let (tx, rx) = mpsc::channel();
    let port = support::serve_loopback(move |stream| {
        let tx = tx.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let tx = tx.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let body = http_body_util::BodyExt::collect(body)
                        .await
                        .map(http_body_util::Collected::to_bytes)
                        .unwrap_or_default();
                    let _ = tx.send(Received {
                        method: parts.method.to_string(),
                        path: parts.uri.path().to_owned(),
                        content_type: parts
                            .headers
                            .get("content-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned(),
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    hyper::Response::builder()
                        .status(status)
                        .body(http_body_util::Full::new(bytes::Bytes::from("ok")))
                }
            });
        async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
    });
    (port, rx)
}

const HOOKED: &str = "version: 1\nname: hooked\ntargets: { rto: 1m }\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  ok: { uses: run, with: { command: \"true\" }, milestone: recovered }\n";

#[test]
fn the_webhook_gets_a_slack_compatible_message_when_the_run_ends() {
    let (port, received) = webhook_server(200);
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(dir.path(), HOOKED);
    let report = dir.path().join("report.json");
    let (key, value) = state_env(&dir.path().join("state"));
    Test::new()
        .env(key, &value)
        .args([
            "run",
            "--quiet",
            playbook.to_str().expect("utf-8"),
            "--report",
            report.to_str().expect("utf-8"),
            "--webhook",
            &format!("http://127.0.0.1:{port}/services/T0/B0/secret"),
        ])
        .run();
    let got = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook was called");
    assert_eq!(
        (
            got.method.as_str(),
            got.path.as_str(),
            got.content_type.as_str()
        ),
        ("POST", "/services/T0/B0/secret", "application/json")
    );
    let doc: serde_json::Value = serde_json::from_str(&got.body).expect("JSON");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    let run_id = report["run_id"].as_str().expect("run id");
    let text = doc["text"].as_str().expect("text");
    assert!(
        text.starts_with(&format!("drill {run_id} of `hooked`: PASSED in ")),
        "{text}"
    );
    assert!(
        text.contains("\n  RTO ") && text.contains("(target 1m): met"),
        "{text}"
    );
    let facts = &doc["firedrill"];
    assert_eq!(facts["run_id"], run_id);
    assert_eq!(facts["playbook"], "hooked");
    assert_eq!(facts["state"], "passed");
    assert_eq!(facts["exit_code"], 0);
    assert_eq!(facts["rto"], report["rto"]);
    assert_eq!(facts["rto"]["target_secs"], 60.0);
    assert!(received.try_recv().is_err(), "one message per run");
}

#[test]
fn a_webhook_that_fails_is_a_warning_and_never_changes_the_exit_code() {
    let (port, received) = webhook_server(500);
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(dir.path(), HOOKED);
    let (key, value) = state_env(&dir.path().join("state"));
    let out = Test::new()
        .env(key, &value)
        .env(
            "FIREDRILL_WEBHOOK",
            &format!("http://127.0.0.1:{port}/hook"),
        )
        .args(["run", "--quiet", playbook.to_str().expect("utf-8")])
        .code(exit::OK)
        .run();
    assert!(
        received.recv_timeout(Duration::from_secs(30)).is_ok(),
        "called, from the environment"
    );
    assert_eq!(
        out.stderr,
        format!(
            "warning: the webhook was not delivered: http://127.0.0.1:{port} answered 500: ok (the run's outcome is unchanged)\n"
        )
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    Test::new()
        .env(key, &value)
        .args([
            "run",
            playbook.to_str().expect("utf-8"),
            "--webhook",
            "ftp://example.com/x",
        ])
        .code(exit::INVALID)
        .stderr_has("error: --webhook: `ftp://example.com/x` is not an http:// or https:// URL")
        .run();
}

#[test]
fn a_run_that_never_started_its_drill_still_tells_the_webhook_why() {
    let (port, received) = webhook_server(200);
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(dir.path(), &HOOKED.replace("uses: run", "uses: runn"));
    let (key, value) = state_env(&dir.path().join("state"));
    Test::new()
        .env(key, &value)
        .env(
            "FIREDRILL_WEBHOOK",
            &format!("http://127.0.0.1:{port}/hook"),
        )
        .args(["run", "--quiet", playbook.to_str().expect("utf-8")])
        .code(exit::INVALID)
        .stderr_has("not running it")
        .run();
    let got = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook was called");
    let doc: serde_json::Value = serde_json::from_str(&got.body).expect("JSON");
    assert_eq!(
        doc["text"],
        format!(
            "drill of `{}` did not run: invalid playbook or command line (exit 2, invalid); its error output says why",
            playbook.display()
        )
    );
    assert_eq!(doc["firedrill"]["state"], "not-run");
    assert_eq!(doc["firedrill"]["exit_code"], 2);
    assert_eq!(doc["firedrill"]["run_id"], serde_json::Value::Null);
}
