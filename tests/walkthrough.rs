//! `firedrill walkthrough` end to end: the real binary in a pseudo-terminal, its screen parsed
//! with vt100 and snapshot-tested at 80×24 and 140×40; what it records in the journal and how
//! `firedrill report` renders that; concerns and estimates carried into the next walkthrough
//! and the next run on the local sandbox; `--print` and `--check` (read-only: the sandbox
//! counts no mutating call).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use firedrill::engine::exit;
use firedrill::sandbox::ProxyConfig;
use firedrill::store::journal::Journal;
use firedrill::walkthrough::record::{Record, WalkState};
use support::Test;
use support::pty::Pty;
use support::sandbox::TestSandbox;

const RIGHT: &str = "\x1b[C";
const LEFT: &str = "\x1b[D";

fn quickstart() -> PathBuf {
    support::root().join("examples/quickstart/playbook.yaml")
}

/// `firedrill walkthrough ARGS` in a `cols`×`rows` terminal, facilitated by `sam`.
fn walkthrough(state: &Path, args: &[&str], cols: u16, rows: u16) -> Pty {
    let mut command = Command::new(env!("CARGO_BIN_EXE_firedrill"));
    command
        .arg("walkthrough")
        .args(args)
        .env("FIREDRILL_STATE_DIR", state)
        .env("USER", "sam")
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR");
    Pty::spawn(command, cols, rows)
}

/// The screen without what changes from one run to the next: the title's clock, the times
/// of notes, the dates concerns were raised.
fn stable(screen: &str) -> String {
    let clock = regex::Regex::new(r"· \d[0-9hms]*s\b").expect("regex");
    let hhmm = regex::Regex::new(r"\b\d{2}:\d{2}\b").expect("regex");
    let date = regex::Regex::new(r"\d{4}-\d{2}-\d{2}").expect("regex");
    let out = clock.replace_all(screen, "· CLOCK");
    let out = hhmm.replace_all(&out, "HH:MM");
    date.replace_all(&out, "DATE").into_owned()
}

/// The quickstart's walkthrough (from its own figures) in a `cols`×`rows` terminal, its first
/// frame drawn.
fn quickstart_walk(state: &Path, cols: u16, rows: u16) -> Pty {
    let playbook = quickstart();
    let mut pty = walkthrough(
        state,
        &["--no-history", playbook.to_str().expect("utf-8")],
        cols,
        rows,
    );
    pty.wait_for("step 1 of 6");
    pty
}

/// The one walkthrough the journal in `state` holds.
fn only_record(state: &Path) -> Record {
    let [record] = records(state).try_into().expect("one walkthrough");
    record
}

fn records(state: &Path) -> Vec<Record> {
    let journal = Journal::open_existing(state)
        .expect("journal")
        .expect("a journal exists");
    journal
        .walkthroughs(None)
        .expect("walkthroughs")
        .into_iter()
        .map(|w| Record::from_json(&w.record).expect("a record parses"))
        .collect()
}

/// Raises a concern (with an owner) on the step shown, and gives the team's estimate.
fn concern_and_estimate(pty: &mut Pty, concern: &str, owner: &str, estimate: &str) {
    pty.keys("c");
    pty.wait_for("concern ›");
    pty.keys(&format!("{concern}\r"));
    pty.wait_for("owner (Enter: none) ›");
    pty.keys(&format!("{owner}\r"));
    pty.wait_for("concern raised");
    pty.keys("e");
    pty.wait_for("team estimate (e.g. 25m) ›");
    pty.keys(&format!("{estimate}\r"));
    pty.wait_for(&format!("team estimate {estimate}"));
}

#[test]
fn a_walkthrough_forward_and_back_records_notes_concerns_and_estimates() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = quickstart();
    let mut pty = walkthrough(
        &state,
        &[
            "--with",
            "ana,ben",
            "--no-history",
            playbook.to_str().expect("utf-8"),
        ],
        80,
        24,
    );
    let first = pty.wait_for("step 1 of 6");
    insta::assert_snapshot!("first_step_80x24", stable(&first));
    // Values are resolved: the var's value, and where a run-time output comes from.
    assert!(first.contains("of `shop-prod`"), "{first}");

    pty.keys(RIGHT);
    pty.wait_for("step 2 of 6");
    pty.keys("a");
    pty.wait_for("note ›");
    pty.keys("the AMI id comes from the build pipeline\r");
    pty.wait_for("note added");
    concern_and_estimate(&mut pty, "who can start an instance from it?", "ben", "6m");
    pty.keys("r");
    let app = pty.wait_for("marked rehearsed");
    insta::assert_snapshot!("app_with_notes_80x24", stable(&app));

    pty.keys("n");
    pty.wait_for("step 3 of 6");
    pty.keys("n");
    let dns = pty.wait_for("step 4 of 6");
    assert!(dns.contains("← app.private_ip"), "{dns}");
    pty.keys(&LEFT.repeat(3));
    pty.wait_for("step 1 of 6");
    pty.keys("g");
    pty.wait_for("go to step");
    pty.keys("rec\r");
    pty.wait_for("step 6 of 6");
    pty.keys("q");
    let quit = pty.wait_for("Save this walkthrough");
    insta::assert_snapshot!("quit_80x24", stable(&quit));
    pty.keys("y");
    let (code, _) = pty.exit_code();
    assert_eq!(code, i32::from(exit::OK));

    let record = only_record(&state);
    assert_eq!(record.state, WalkState::Saved);
    assert_eq!(record.facilitator, "sam");
    assert_eq!(record.participants, ["ana", "ben"]);
    assert_eq!(record.playbook, "quickstart");
    assert!(record.finished_at.is_some());
    let ids: Vec<&str> = record.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["db", "app", "data", "dns", "www", "recovered"],
        "execution order"
    );
    let app = record.step("app").expect("app");
    assert_eq!(app.notes.len(), 1);
    assert_eq!(
        app.notes[0].text,
        "the AMI id comes from the build pipeline"
    );
    assert_eq!(app.estimate.as_ref().map(|e| e.secs), Some(360.0));
    assert!(app.rehearsed_at.is_some());
    assert!(app.time_spent_secs > 0.0);
    let [concern] = record.concerns.as_slice() else {
        panic!("one concern: {:?}", record.concerns)
    };
    assert_eq!(
        (
            concern.step.as_str(),
            concern.text.as_str(),
            concern.owner.as_deref()
        ),
        ("app", "who can start an instance from it?", Some("ben"))
    );
    assert!(concern.is_open());

    // The Markdown rendering is of the stored record.
    let out = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", &record.id, "--format", "markdown"])
        .run();
    // The time spent on each step (the table's seventh column) is the walkthrough's own.
    let md: Vec<String> = out
        .stdout
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.split('|').collect();
            if cells.len() == 11 && cells[1].trim().parse::<u32>().is_ok() {
                cells[6] = " SPENT ";
            }
            cells.join("|")
        })
        .collect();
    let md = md
        .join("\n")
        .replace(support::root().to_str().expect("utf-8"), "ROOT");
    let id = regex::Regex::new(r"wt-\d{8}-\d{6}-[0-9a-f]{8}").expect("regex");
    let time = regex::Regex::new(r"\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?").expect("regex");
    let hash = regex::Regex::new(r"hash `[0-9a-f]{16}`").expect("regex");
    let md = id.replace_all(&md, "wt-ID");
    let md = time.replace_all(&md, "TIME");
    let md = hash.replace_all(&md, "hash `HASH`");
    insta::assert_snapshot!("record_markdown", md);
    // JSON is the record itself; HTML shows the team's estimate beside the plan's.
    let json = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", &record.id, "--format", "json"])
        .run();
    assert_eq!(Record::from_json(&json.stdout).expect("parses"), record);
    let html = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", &record.id, "--format", "html"])
        .stdout_has("<td>20m</td><td>—</td>")
        .stdout_has("<td>2m</td><td>6m</td>")
        .run();
    assert!(html.stdout.contains("class=\"bar team\""));
    // History lists it beside the runs.
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["history"])
        .stdout_has("Walkthroughs (newest first)")
        .stdout_has("rehearsed 1/6, 1 note(s), 1 estimate(s), 1 open concern(s)")
        .run();
}

#[test]
fn the_screen_reflows_when_the_terminal_is_resized_and_says_when_it_is_too_small() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let mut pty = quickstart_walk(&state, 140, 40);
    let wide = pty.screen();
    insta::assert_snapshot!("first_step_140x40", stable(&wide));
    pty.keys("?");
    let help = pty.wait_for("any key closes");
    insta::assert_snapshot!("help_140x40", stable(&help));
    pty.keys("x");
    pty.wait_until("the help closed", |s| !s.contains("any key closes"));

    pty.resize(80, 24);
    let narrow = pty.wait_until("the screen redrawn at 80 columns", |s| {
        s.lines().count() == 24 && s.lines().nth(23).is_some_and(|l| l.contains("q quit"))
    });
    insta::assert_snapshot!("resized_80x24", stable(&narrow));
    pty.resize(50, 12);
    let small = pty.wait_for("This terminal is 50×12");
    insta::assert_snapshot!("too_small_50x12", stable(&small));
    pty.resize(80, 24);
    pty.wait_for("step 1 of 6");
    pty.keys("q");
    pty.wait_for("Save this walkthrough");
    pty.keys("n");
    let (code, _) = pty.exit_code();
    assert_eq!(code, i32::from(exit::OK));
    assert!(
        records(&state).is_empty(),
        "quit without saving keeps nothing"
    );
}

#[test]
fn ctrl_c_keeps_what_was_recorded_and_exits_130() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let mut pty = quickstart_walk(&state, 80, 24);
    pty.keys("a");
    pty.wait_for("note ›");
    pty.keys("snapshots are nightly only\r");
    pty.wait_for("note added");
    pty.keys("\x03");
    let (code, screen) = pty.exit_code();
    assert_eq!(code, i32::from(exit::INTERRUPTED), "{screen}");
    assert!(
        screen.contains("walkthrough interrupted (Ctrl-C); kept what was recorded"),
        "{screen}"
    );
    let record = only_record(&state);
    assert_eq!(record.state, WalkState::Interrupted);
    assert_eq!(
        record.step("db").expect("db").notes[0].text,
        "snapshots are nightly only"
    );
}

#[test]
fn a_closed_terminal_keeps_what_was_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let mut pty = quickstart_walk(&state, 80, 24);
    pty.keys("e");
    pty.wait_for("team estimate");
    pty.keys("25m\r");
    pty.wait_for("team estimate 25m");
    // The terminal's window closes: the kernel hangs the session up.
    assert_eq!(
        records(&state).len(),
        1,
        "the record is stored while the walkthrough goes on"
    );
    pty.hang_up();
    let (code, _) = pty.exit_code();
    assert_eq!(code, i32::from(exit::INTERRUPTED));
    let record = only_record(&state);
    assert_eq!(record.state, WalkState::Interrupted);
    assert_eq!(
        record
            .step("db")
            .and_then(|s| s.estimate.as_ref())
            .map(|e| e.secs),
        Some(1500.0)
    );
}

#[test]
fn without_a_terminal_it_refuses_and_points_to_print() {
    let dir = tempfile::tempdir().expect("dir");
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["walkthrough", quickstart().to_str().expect("utf-8")])
        .code(exit::INVALID)
        .stderr_has("needs a terminal")
        .stderr_has("--print")
        .run();
    assert!(!Journal::file(dir.path()).exists(), "nothing is recorded");
}

#[test]
fn an_invalid_playbook_gets_its_diagnostics_before_any_screen() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "version: 1\nname: bad\nsteps:\n  a:\n    uses: wiat\n    with: { duration: 1s }\n",
    )
    .expect("write");
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["walkthrough", "--print", bad.to_str().expect("utf-8")])
        .code(exit::INVALID)
        .stderr_has("bad.yaml:5:")
        .stderr_has("not walking through it")
        .run();
}

#[test]
fn print_writes_the_runbook_with_every_step() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .dir(&support::root())
        .args([
            "walkthrough",
            "--print",
            "--no-history",
            "examples/quickstart/playbook.yaml",
        ])
        .run();
    insta::assert_snapshot!("runbook", out.stdout);
}

/// A drill on the test sandbox: an instance from the seeded image, then a command.
fn sandbox_playbook(dir: &Path, endpoint: &str) -> PathBuf {
    let path = dir.join("launch.yaml");
    std::fs::write(
        &path,
        format!(
            r#"version: 1
name: launch
targets: {{ rto: 30m }}
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {endpoint}
steps:
  app:
    uses: ec2.launch
    with: {{ image: {{ latest_tagged: {{ role: shop }} }} }}
  smoke:
    uses: run
    needs: [app]
    with: {{ command: "true" }}
    milestone: recovered
"#
        ),
    )
    .expect("write");
    path
}

async fn seeded(seed: &str) -> TestSandbox {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await;
    sandbox.seed(seed).await;
    sandbox
}

fn quickstart_seed() -> String {
    std::fs::read_to_string(support::root().join("examples/quickstart/seed.yaml")).expect("seed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concern_and_an_estimate_carry_into_the_next_walkthrough_and_the_next_run() {
    let sandbox = seeded(&quickstart_seed()).await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = sandbox_playbook(dir.path(), &sandbox.endpoint);
    let (state_arg, playbook_arg) = (
        state.to_str().expect("utf-8").to_owned(),
        playbook.to_str().expect("utf-8").to_owned(),
    );
    let (s, p) = (state.clone(), playbook_arg.clone());
    tokio::task::spawn_blocking(move || {
        let mut pty = walkthrough(&s, &["--no-history", &p], 80, 24);
        pty.wait_for("step 1 of 2");
        concern_and_estimate(&mut pty, "the image is a week old", "ana", "2m");
        pty.keys("q");
        pty.wait_for("Save this walkthrough");
        pty.keys("y");
        assert_eq!(pty.exit_code().0, i32::from(exit::OK));

        // The next walkthrough shows it at its step, marked as carried.
        let mut pty = walkthrough(&s, &["--no-history", &p], 80, 24);
        let next = pty.wait_for("step 1 of 2");
        assert!(
            next.contains("1. the image is a week old (ana) [from"),
            "{next}"
        );
        pty.keys("q");
        pty.wait_for("Save this walkthrough");
        pty.keys("n");
        assert_eq!(pty.exit_code().0, i32::from(exit::OK));
    })
    .await
    .expect("walked through");

    let report = dir.path().join("report.json");
    let report_arg = report.to_str().expect("utf-8").to_owned();
    let (st, pb) = (state_arg.clone(), playbook_arg.clone());
    let out = tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &st)
            .args(["run", &pb, "--report", &report_arg])
            .stderr_has("open concern at `app` (walkthrough wt-")
            .stderr_has("the image is a week old (owner: ana, raised ")
            .stdout_has("against walkthrough wt-")
            .stdout_has("app: estimated 2m, took ")
            .run()
    })
    .await
    .expect("ran");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    assert_eq!(doc["state"], "passed", "{}", out.stdout);
    assert_eq!(doc["rehearsal"]["estimates"]["app"], 120.0);
    assert_eq!(
        doc["rehearsal"]["concerns"][0]["text"],
        "the image is a week old"
    );
    let run_id = doc["run_id"].as_str().expect("run id").to_owned();
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["report", &run_id, "--format", "markdown"])
            .stdout_has("## Against the walkthrough")
            .stdout_has("| `app` | estimated 2m, took ")
            .stdout_has("- `app`: the image is a week old (owner: ana, raised ")
            .run();
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["report", &run_id, "--format", "html"])
            .stdout_has("<h2>Against the walkthrough</h2>")
            .stdout_has("<tr><td><code>app</code></td><td>estimated 2m, took ")
            .run();
    })
    .await
    .expect("rendered");
}

/// The quickstart pointed at a test sandbox (and, when given, at another source database).
fn quickstart_at(dir: &Path, endpoint: &str, source_db: &str) -> PathBuf {
    let text = std::fs::read_to_string(quickstart()).expect("quickstart");
    let text = text
        .replace(
            "  region: us-east-1\n",
            &format!("  region: us-east-1\n  endpoint: {endpoint}\n"),
        )
        .replace("source_db: shop-prod", &format!("source_db: {source_db}"));
    let path = dir.join("quickstart.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_proves_the_plan_could_start_with_read_only_calls() {
    let sandbox = seeded(&quickstart_seed()).await;
    let dir = tempfile::tempdir().expect("dir");
    let playbook = quickstart_at(dir.path(), &sandbox.endpoint, "shop-prod");
    let before = sandbox.stats().await;
    let (state, pb) = (
        dir.path().join("state").to_str().expect("utf-8").to_owned(),
        playbook.to_str().expect("utf-8").to_owned(),
    );
    let out = tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state)
            .args(["walkthrough", "--print", "--check", "--no-history", &pb])
            .stdout_has("- Readiness: the plan could start now")
            .stdout_has("- Readiness: ready: snapshot `shop-prod-nightly-1`, 2h")
            .stdout_has("- Readiness: ready: image `ami-")
            .stdout_has("- Readiness: ready: hosted zone `shop.internal.`")
            .stdout_has("- Readiness: nothing to check")
            .run()
    })
    .await
    .expect("checked");
    let after = sandbox.stats().await;
    assert!(after.total > before.total, "the check called the sandbox");
    assert_eq!(
        after.mutating, before.mutating,
        "no mutating call: {:?}\n{}",
        after.mutating_calls, out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_missing_snapshot_and_exits_7() {
    // The seed without the shop's snapshots: its database has none.
    let seed = quickstart_seed();
    let start = seed
        .find("    snapshots:\n      - { id: shop-prod-nightly-3")
        .expect("snapshots");
    let end = seed.find("images:").expect("images");
    let seed = format!("{}{}", &seed[..start], &seed[end..]);
    let sandbox = seeded(&seed).await;
    let dir = tempfile::tempdir().expect("dir");
    let playbook = quickstart_at(dir.path(), &sandbox.endpoint, "shop-prod");
    let before = sandbox.stats().await;
    let (state, pb) = (
        dir.path().join("state").to_str().expect("utf-8").to_owned(),
        playbook.to_str().expect("utf-8").to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state)
            .args(["walkthrough", "--print", "--check", "--no-history", &pb])
            .code(exit::NOT_READY)
            .stdout_has("- Readiness: 1 step(s) could NOT start now")
            .stdout_has(
                "- Readiness: NOT READY: no snapshot found: looked for an available snapshot of DB instance `shop-prod` in us-east-1",
            )
            .run()
    })
    .await
    .expect("checked");
    assert_eq!(sandbox.stats().await.mutating, before.mutating);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_on_the_screen_shows_each_steps_readiness() {
    let sandbox = seeded(&quickstart_seed()).await;
    let dir = tempfile::tempdir().expect("dir");
    let playbook = quickstart_at(dir.path(), &sandbox.endpoint, "shop-prod");
    let state = dir.path().join("state");
    let s = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut pty = walkthrough(
            &s,
            &["--check", "--no-history", playbook.to_str().expect("utf-8")],
            80,
            24,
        );
        pty.wait_for("readiness  ready: snapshot `shop-prod-nightly-1`");
        pty.keys("q");
        pty.wait_for("Save this walkthrough");
        pty.keys("y");
        assert_eq!(pty.exit_code().0, i32::from(exit::OK));
    })
    .await
    .expect("walked through");
    let record = only_record(&state);
    assert!(record.checked_at.is_some());
    assert!(matches!(
        record.step("db").and_then(|s| s.readiness.clone()),
        Some(firedrill::steps::context::Readiness::Ready { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_holds_recovery_points_to_the_rpo_target_and_reads_templates() {
    let sandbox = seeded(&quickstart_seed()).await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("network.yaml"), support::NETWORK_TEMPLATE).expect("write");
    let playbook = dir.path().join("volumes.yaml");
    std::fs::write(
        &playbook,
        format!(
            r#"version: 1
name: volumes
targets: {{ rpo: 4h }}
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {}
steps:
  uploads:
    uses: ec2.restore-volume
    with:
      snapshot: {{ latest_tagged: {{ volume: shop-uploads }} }}
      availability_zone: us-east-1a
  network:
    uses: cloudformation.stack
    with: {{ template: network.yaml, parameters: {{ Cidr: 10.98.0.0/16 }} }}
  backups:
    uses: check.backups
    with: {{ resources: [{{ type: rds-instance, id: shop-prod }}] }}
"#,
            sandbox.endpoint
        ),
    )
    .expect("write");
    let before = sandbox.stats().await;
    let (state, pb) = (
        dir.path().join("state").to_str().expect("utf-8").to_owned(),
        playbook.to_str().expect("utf-8").to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state)
            .args(["walkthrough", "--print", "--check", "--no-history", &pb])
            .code(exit::NOT_READY)
            .stdout_has("- Readiness: NOT READY: EBS snapshot `snap-")
            .stdout_has("is 6h old, older than the RPO target 4h")
            .stdout_has("- Readiness: ready: template ")
            .stdout_has("network.yaml (")
            .stdout_has(
                "- Readiness: not checked: the step is itself a check of the recovery points",
            )
            .run();
    })
    .await
    .expect("checked");
    assert_eq!(sandbox.stats().await.mutating, before.mutating);
}
