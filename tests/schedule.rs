//! `firedrill schedule`: the cron expression checked, the next run times, the crontab line and
//! the Kubernetes CronJob manifest.

mod support;

use firedrill::engine::exit;
use support::{Test, root};

fn schedule(args: &[&str]) -> Test {
    Test::new()
        .args(["schedule", "playbooks/shop.yaml"])
        .args(args)
}

#[test]
fn schedule_prints_the_next_runs_and_a_crontab_line() {
    let state = tempfile::tempdir().expect("state");
    let out = schedule(&[
        "--cron",
        "0 3 1 * *",
        "--after",
        "2026-11-26T01:25:00Z",
        "--count",
        "3",
        "--",
        "--sandbox",
        "local",
    ])
    .env("FIREDRILL_STATE_DIR", state.path().to_str().expect("utf-8"))
    .run();
    let playbook = root()
        .join("playbooks/shop.yaml")
        .canonicalize()
        .expect("abs");
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_firedrill"))
        .canonicalize()
        .expect("abs");
    let expected = format!(
        "# firedrill: the `shop` drill ({}), `0 3 1 * *`\n\
         # next 3 runs in UTC (cron reads the schedule in its own time zone, usually the system's):\n\
         #   2026-12-01 03:00 Tue\n\
         #   2027-01-01 03:00 Fri\n\
         #   2027-02-01 03:00 Mon\n\
         0 3 1 * * {} --state-dir {} run --quiet --sandbox local {}\n",
        playbook.display(),
        exe.display(),
        state.path().display(),
        playbook.display()
    );
    assert_eq!(out.stdout, expected);
}

#[test]
fn a_bad_cron_expression_is_a_usage_error_with_a_hint() {
    for (expr, says) in [
        ("0 25 1 * *", "the hour field `25` is not valid (0-23)"),
        ("0 3 1 *", "has 4 fields; a cron expression has 5"),
        (
            "0 3 L * *",
            "uses `L`, which cron and Kubernetes do not understand",
        ),
        ("0 0 31 2 *", "never fires"),
    ] {
        let out = schedule(&["--cron", expr])
            .code(exit::INVALID)
            .stderr_has("error: invalid cron expression: ")
            .stderr_has(says)
            .stderr_has("= hint: five fields: minute (0-59), hour (0-23)")
            .run();
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    schedule(&["--cron", "0 3 * * *", "--", "--paralel", "2"])
        .code(exit::INVALID)
        .stderr_has("the arguments after `--` do not make a valid `firedrill run")
        .stderr_has("--paralel")
        .run();
    Test::new()
        .args([
            "schedule",
            "tests/invalid/cycle.yaml",
            "--cron",
            "0 3 * * *",
        ])
        .code(exit::INVALID)
        .stderr_has("not scheduling it")
        .run();
}

#[test]
fn schedule_kubernetes_prints_a_cronjob_that_forbids_overlap() {
    let out = schedule(&[
        "--cron",
        "30 2 * * MON",
        "--after",
        "2026-11-26T00:00:00Z",
        "--count",
        "2",
        "--kubernetes",
        "--image",
        "registry.example.com/firedrill:1",
    ])
    .run();
    let yaml = &out.stdout;
    assert!(
        yaml.contains("# Next runs (UTC): 2026-11-30 02:30 Mon, 2026-12-07 02:30 Mon\n"),
        "{yaml}"
    );
    let doc = firedrill::language::yaml::parse(yaml)
        .expect("YAML")
        .to_json();
    assert_eq!(doc["kind"], "CronJob");
    assert_eq!(doc["apiVersion"], "batch/v1");
    assert_eq!(doc["metadata"]["name"], "firedrill-shop");
    let spec = &doc["spec"];
    assert_eq!(spec["schedule"], "30 2 * * MON");
    assert_eq!(spec["concurrencyPolicy"], "Forbid");
    assert_eq!(spec["timeZone"], "Etc/UTC");
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["backoffLimit"], 0);
    let container = &job["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/firedrill:1");
    assert_eq!(
        container["command"],
        serde_json::json!([
            "firedrill",
            "--state-dir",
            "/var/lib/firedrill",
            "run",
            "--quiet",
            "/etc/firedrill/shop.yaml"
        ])
    );
    assert_eq!(job["template"]["spec"]["restartPolicy"], "Never");
    assert_eq!(
        job["template"]["spec"]["volumes"][0]["configMap"]["name"],
        "firedrill-shop"
    );
}
