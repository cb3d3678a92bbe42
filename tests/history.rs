//! `firedrill history` over a seeded series of runs (trend, regression and target warnings,
//! filters, limits, JSON), and `firedrill plan` learning step durations from that history.

mod support;

use std::path::Path;

use support::Test;
use support::history::{SeedRun, seed};

const STEPS: &[(&str, &str, &str, Option<f64>)] = &[];

fn shop(id: &'static str, day: u32, state: &'static str, rto: Option<f64>) -> SeedRun<'static> {
    let started_at: &'static str =
        Box::leak(format!("2026-11-{day:02}T03:00:00.000Z").into_boxed_str());
    SeedRun {
        id,
        playbook: "shop",
        started_at,
        state,
        rto: (rto, Some(1800.0)),
        rpo: (Some(7200.0), Some(93_600.0)),
        steps: STEPS,
    }
}

/// Eight runs of `shop` (RTO target 30m): steady around 10m, a failed run without an RTO,
/// then a regression to 13m20s, then 25m (a regression and above 80% of the target); and one
/// run of `orders`.
fn seeded(state: &Path) {
    seed(
        state,
        &[
            shop("20261101-030000-00000001", 1, "passed", Some(600.0)),
            shop("20261102-030000-00000002", 2, "passed", Some(610.0)),
            shop("20261103-030000-00000003", 3, "failed", None),
            shop("20261104-030000-00000004", 4, "passed", Some(590.0)),
            shop("20261105-030000-00000005", 5, "passed", Some(605.0)),
            shop("20261106-030000-00000006", 6, "passed", Some(600.0)),
            shop("20261107-030000-00000007", 7, "passed", Some(800.0)),
            shop("20261108-030000-00000008", 8, "passed", Some(1500.0)),
            SeedRun {
                id: "20261108-040000-0000000a",
                playbook: "orders",
                started_at: "2026-11-08T04:00:00.000Z",
                state: "target-missed",
                rto: (Some(400.0), Some(300.0)),
                rpo: (None, None),
                steps: STEPS,
            },
        ],
    );
}

fn history(state: &Path, args: &[&str]) -> support::Output {
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["history"])
        .args(args)
        .run()
}

#[test]
fn history_lists_runs_against_targets_with_the_trend_and_warnings() {
    let dir = tempfile::tempdir().expect("dir");
    seeded(dir.path());
    let out = history(dir.path(), &["shop"]).stdout;
    assert!(
        out.starts_with(
            "shop (playbooks/shop.yaml): 8 runs, 7 passed; RTO target 30m, RPO target 1d2h\n"
        ),
        "{out}"
    );
    // Oldest first; the newest two are marked.
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[2].contains("2026-11-01 03:00:00  20261101-030000-00000001  passed")
            && lines[2].contains("10m")
            && lines[2].contains("33%"),
        "{out}"
    );
    assert!(
        lines[4].contains("failed") && lines[4].contains("  -  "),
        "{out}"
    );
    assert!(
        lines[8].starts_with("  ! ") && lines[8].contains("13m20s"),
        "{out}"
    );
    assert!(
        lines[9].starts_with("  ! ") && lines[9].contains("83%"),
        "{out}"
    );
    assert!(
        !out.contains("orders"),
        "the other playbook is filtered out: {out}"
    );
    for expected in [
        // The last five measured RTOs: 590, 605, 600, 800, 1500.
        "  trend: RTO median 10m5s over the last 5 runs, rising (+133% across them): recovery is getting slower\n",
        "  warnings (!):\n",
        "    20261107-030000-00000007: RTO 13m20s is 33% above the median of the previous 5 runs (10m)\n",
        // The median of 610, 590, 605, 600, 800 is 605 s.
        "    20261108-030000-00000008: RTO 25m is 148% above the median of the previous 5 runs (10m5s)\n",
        "    20261108-030000-00000008: RTO 25m is 83% of its target 30m: close to missing it\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert_eq!(
        out.lines().filter(|l| l.starts_with("    20261")).count(),
        3,
        "exactly three warnings: {out}"
    );
}

#[test]
fn history_of_every_playbook_and_by_playbook_file() {
    let dir = tempfile::tempdir().expect("dir");
    seeded(dir.path());
    let all = history(dir.path(), &[]).stdout;
    assert!(
        all.starts_with("orders (playbooks/orders.yaml): 1 run, 0 passed; RTO target 5m"),
        "{all}"
    );
    assert!(
        all.contains("    20261108-040000-0000000a: RTO 6m40s missed its target 5m\n"),
        "{all}"
    );
    assert!(
        all.contains("\nshop (playbooks/shop.yaml): 8 runs"),
        "{all}"
    );
    assert!(
        all.contains("  trend: RTO median 6m40s over the last 1 run\n"),
        "{all}"
    );

    // A playbook file means the playbook of its `name:`, wherever it lives.
    let file = dir.path().join("moved.yaml");
    std::fs::write(
        &file,
        "version: 1\nname: shop\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  a: { uses: wait, with: { duration: 1s } }\n",
    )
    .expect("write");
    let by_file = history(dir.path(), &[file.to_str().expect("utf-8")]).stdout;
    assert!(
        by_file.starts_with("shop (playbooks/shop.yaml): 8 runs"),
        "{by_file}"
    );
}

#[test]
fn history_limit_shows_the_newest_runs_judged_against_all() {
    let dir = tempfile::tempdir().expect("dir");
    seeded(dir.path());
    let out = history(dir.path(), &["shop", "--limit", "2"]).stdout;
    assert!(
        out.starts_with("shop (playbooks/shop.yaml): the last 2 of 8 runs, 2 passed"),
        "{out}"
    );
    assert_eq!(out.matches("20261101").count(), 0, "{out}");
    // The regression of the 7th run is still judged against the runs before it.
    assert!(
        out.contains("20261107-030000-00000007: RTO 13m20s is 33% above"),
        "{out}"
    );
}

#[test]
fn history_json_has_runs_measures_warnings_and_trend() {
    let dir = tempfile::tempdir().expect("dir");
    seeded(dir.path());
    let out = history(dir.path(), &["--format", "json"]).stdout;
    let doc: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(doc["format_version"], 1);
    let shop = &doc["playbooks"][1];
    assert_eq!(shop["name"], "shop");
    assert_eq!(shop["total_runs"], 8);
    let runs = shop["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 8);
    assert_eq!(runs[0]["run_id"], "20261101-030000-00000001");
    assert_eq!(runs[0]["started_at"], "2026-11-01T03:00:00.000Z");
    assert_eq!(
        runs[0]["rto"],
        serde_json::json!({"target_secs": 1800.0, "measured_secs": 600.0, "met": true})
    );
    assert_eq!(runs[2]["state"], "failed");
    assert_eq!(runs[2]["rto"]["measured_secs"], serde_json::Value::Null);
    let kinds = |r: &serde_json::Value| -> Vec<String> {
        r["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .map(|w| w["kind"].as_str().expect("kind").to_owned())
            .collect()
    };
    assert!(runs[..6].iter().all(|r| kinds(r).is_empty()), "{out}");
    assert_eq!(kinds(&runs[6]), ["rto-regression"]);
    assert_eq!(kinds(&runs[7]), ["rto-regression", "rto-near-target"]);
    assert_eq!(shop["warnings"].as_array().map(Vec::len), Some(3));
    assert_eq!(shop["trend"]["runs"], 5);
    assert_eq!(shop["trend"]["rto_median_secs"], 605.0);
    assert_eq!(shop["trend"]["direction"], "rising");
    assert_eq!(kinds(&doc["playbooks"][0]["runs"][0]), ["rto-missed"]);
}

#[test]
fn history_without_runs_says_so() {
    let dir = tempfile::tempdir().expect("dir");
    let out = history(&dir.path().join("empty"), &[]).stdout;
    assert!(out.starts_with("no runs in the journal in "), "{out}");
    assert!(
        !dir.path().join("empty").exists(),
        "history creates nothing"
    );
    let json = history(&dir.path().join("empty"), &["--format", "json"]).stdout;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&json).expect("JSON"),
        serde_json::json!({"format_version": 1, "playbooks": [], "walkthroughs": []})
    );
    seeded(dir.path());
    // A name no run has is a mistake: exit 2, with the nearest name.
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["history", "shopp"])
        .code(firedrill::engine::exit::INVALID)
        .stderr_has("error: no runs of `shopp` in the journal")
        .stderr_has("did you mean `shop`?")
        .run();
}

const LEARNER: &str = r#"version: 1
name: learner
targets: { rto: 10m }
sandbox: { accounts: ["123456789012"] }
steps:
  restore: { uses: wait, with: { duration: 1m } }
  app: { uses: run, needs: [restore], with: { command: "true" }, estimate: 30s }
  check: { uses: run, needs: [app], with: { command: "true" }, milestone: recovered }
"#;

fn learner_run(
    id: &'static str,
    playbook: &'static str,
    steps: &'static [(&'static str, &'static str, &'static str, Option<f64>)],
) -> SeedRun<'static> {
    SeedRun {
        id,
        playbook,
        started_at: "2026-11-01T03:00:00.000Z",
        state: "passed",
        rto: (Some(200.0), Some(600.0)),
        rpo: (None, None),
        steps,
    }
}

/// Seeds runs of `learner`: `restore` succeeded in 100, 120 and 300 s (and failed once after
/// 1000 s); `app` (a `run`) succeeded in 40 and 50 s, and once was a `wait` of 999 s; `check`
/// never ran. A playbook of another name has a `restore` of 5000 s.
fn seeded_learner(state: &Path) {
    seed(
        state,
        &[
            learner_run(
                "20261101-030000-00000001",
                "learner",
                &[
                    ("restore", "wait", "succeeded", Some(100.0)),
                    ("app", "run", "succeeded", Some(40.0)),
                ],
            ),
            learner_run(
                "20261102-030000-00000002",
                "learner",
                &[
                    ("restore", "wait", "failed", Some(1000.0)),
                    ("app", "run", "not-started", None),
                ],
            ),
            learner_run(
                "20261103-030000-00000003",
                "learner",
                &[
                    ("restore", "wait", "succeeded", Some(300.0)),
                    ("app", "wait", "succeeded", Some(999.0)),
                ],
            ),
            learner_run(
                "20261104-030000-00000004",
                "learner",
                &[
                    ("restore", "wait", "succeeded", Some(120.0)),
                    ("app", "run", "succeeded", Some(50.0)),
                ],
            ),
            learner_run(
                "20261104-030000-00000005",
                "other",
                &[("restore", "wait", "succeeded", Some(5000.0))],
            ),
        ],
    );
}

fn plan(state: &Path, playbook: &Path, extra: &[&str]) -> support::Output {
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["plan", playbook.to_str().expect("utf-8")])
        .args(extra)
        .run()
}

#[test]
fn plan_learns_step_durations_from_past_succeeded_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = dir.path().join("learner.yaml");
    std::fs::write(&playbook, LEARNER).expect("write");
    let state = dir.path().join("state");
    seeded_learner(&state);

    let doc: serde_json::Value =
        serde_json::from_str(&plan(&state, &playbook, &["--format", "json"]).stdout).expect("JSON");
    let steps = &doc["steps"];
    assert_eq!(steps[0]["estimate_source"], "learned");
    assert_eq!(steps[0]["estimate_secs"], 120.0);
    assert_eq!(
        steps[0]["learned"],
        serde_json::json!({"runs": 3, "median_secs": 120.0, "p90_secs": 300.0})
    );
    assert_eq!(
        steps[1]["estimate_source"], "learned",
        "learned beats `estimate:`"
    );
    assert_eq!(
        steps[1]["learned"],
        serde_json::json!({"runs": 2, "median_secs": 45.0, "p90_secs": 50.0})
    );
    assert_eq!(steps[2]["estimate_source"], "kind-default");
    assert_eq!(steps[2]["learned"], serde_json::Value::Null);
    let check = steps[2]["estimate_secs"].as_f64().expect("secs");
    assert_eq!(
        doc["predicted_rto_secs"].as_f64(),
        Some(120.0 + 45.0 + check)
    );
    assert_eq!(
        doc["critical_path"],
        serde_json::json!(["restore", "app", "check"])
    );
    assert_eq!(
        (doc["history_runs"].as_u64(), doc["learned_steps"].as_u64()),
        (Some(4), Some(2))
    );

    let text = plan(&state, &playbook, &[]).stdout;
    for expected in [
        "takes ~2m (learned: median of 3 runs, p90 5m)\n",
        "takes ~45s (learned: median of 2 runs, p90 50s)\n",
        "(kind default)\n",
        "2 of 3 durations are learned from the last 4 runs of `learner` against AWS in the journal",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // Without history: the playbook's own figures.
    let doc: serde_json::Value = serde_json::from_str(
        &plan(&state, &playbook, &["--format", "json", "--no-history"]).stdout,
    )
    .expect("JSON");
    assert_eq!(doc["steps"][0]["estimate_source"], "fields");
    assert_eq!(doc["steps"][1]["estimate_source"], "playbook");
    assert_eq!(
        doc["predicted_rto_secs"].as_f64(),
        Some(60.0 + 30.0 + check)
    );
    assert_eq!(doc["history_runs"], 0);
}

#[test]
fn plan_without_a_journal_uses_the_playbooks_figures_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = dir.path().join("learner.yaml");
    std::fs::write(&playbook, LEARNER).expect("write");
    let state = dir.path().join("state");
    let text = plan(&state, &playbook, &[]).stdout;
    assert!(text.contains("takes ~1m (from its fields)"), "{text}");
    assert!(!text.contains("learned"), "{text}");
    assert!(!state.exists(), "plan creates no state directory");
}

#[test]
fn real_runs_appear_in_history_and_teach_the_plan() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = dir.path().join("real.yaml");
    std::fs::write(
        &playbook,
        "version: 1\nname: real\ntargets: { rto: 1m }\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  first: { uses: run, with: { command: \"true\" } }\n  done: { uses: run, needs: [first], with: { command: \"true\" }, milestone: recovered }\n",
    )
    .expect("write");
    let state = dir.path().join("state");
    let env = ("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"));
    for _ in 0..2 {
        Test::new()
            .env(env.0, env.1)
            .args(["run", "--quiet", playbook.to_str().expect("utf-8")])
            .run();
    }
    let out = history(&state, &["real"]).stdout;
    assert!(out.starts_with("real ("), "{out}");
    assert!(
        out.contains(": 2 runs, 2 passed; RTO target 1m, RPO target none\n"),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&plan(&state, &playbook, &["--format", "json"]).stdout).expect("JSON");
    for step in doc["steps"].as_array().expect("steps") {
        assert_eq!(step["estimate_source"], "learned", "{doc}");
        assert_eq!(step["learned"]["runs"], 2, "{doc}");
    }
    assert_eq!(doc["history_runs"], 2);
}

#[test]
fn runs_on_the_local_sandbox_teach_only_plans_for_the_local_sandbox() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = dir.path().join("local.yaml");
    std::fs::write(
        &playbook,
        "version: 1\nname: local\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n  first: { uses: run, with: { command: \"true\" } }\n",
    )
    .expect("write");
    let state = dir.path().join("state");
    let env = ("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"));
    let stop = support::sandbox::StopSandbox(state.clone());
    Test::new()
        .env(env.0, env.1)
        .args([
            "run",
            "--quiet",
            "--sandbox",
            "local",
            playbook.to_str().expect("utf-8"),
        ])
        .run();
    let json = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec!["--format", "json"];
        args.extend_from_slice(extra);
        serde_json::from_str(&plan(&state, &playbook, &args).stdout).expect("JSON")
    };
    // A plan for AWS learns nothing from a run on the sandbox, whose durations are scaled.
    let aws = json(&[]);
    assert_eq!(aws["history_runs"], 0, "{aws}");
    assert_eq!(aws["steps"][0]["estimate_source"], "kind-default");
    // A plan for the sandbox learns from it, and says where the runs ran.
    let local = json(&["--sandbox", "local"]);
    assert_eq!(local["history_runs"], 1, "{local}");
    assert_eq!(local["steps"][0]["estimate_source"], "learned");
    assert_eq!(
        local["history_target"],
        serde_json::json!({"kind": "local-sandbox", "time_scale": 0.01})
    );
    let text = plan(&state, &playbook, &["--sandbox", "local"]).stdout;
    assert!(
        text.contains("from the last 1 run of `local` against the local sandbox at time scale 0.01 in the journal"),
        "{text}"
    );
    drop(stop);
}
