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
    // The webhook's URL comes from a Secret that may be absent.
    assert_eq!(
        container["env"][0],
        serde_json::json!({
            "name": "FIREDRILL_WEBHOOK",
            "valueFrom": {"secretKeyRef": {"name": "firedrill-shop-webhook", "key": "url", "optional": true}}
        })
    );
    assert!(yaml.contains(
        "#   kubectl create secret generic firedrill-shop-webhook --from-literal=url=URL\n"
    ));
}

#[test]
fn a_webhook_url_in_the_arguments_is_a_secret_the_schedule_warns_about() {
    let url = "https://hooks.slack.com/services/T000/B000/XXXX";
    let crontab = schedule(&["--cron", "0 3 1 * *", "--", "--webhook", url])
        .stderr_has("warning: `--webhook` puts the webhook URL, a secret, into the crontab, where `crontab -l`")
        .stderr_has("= hint: schedule without `--webhook`: put `FIREDRILL_WEBHOOK=URL` in a file only you can read")
        .stderr_has("give it with `--env-file ~/.config/firedrill/env`")
        .run();
    assert!(crontab.stdout.contains(url), "what was asked is still done");
    schedule(&[
        "--cron",
        "0 3 1 * *",
        "--kubernetes",
        "--",
        &format!("--webhook={url}"),
    ])
    .stderr_has("warning: `--webhook` puts the webhook URL, a secret, into the manifest")
    .stderr_has("`kubectl create secret generic firedrill-shop-webhook --from-literal=url=URL`")
    .run();
    let quiet = schedule(&["--cron", "0 3 1 * *"]).run();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);
}

#[test]
fn an_environment_file_keeps_the_secret_out_of_the_crontab() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("dir");
    let env = dir.path().join("env");
    let shown = env.to_str().expect("utf-8");
    let missing = schedule(&["--cron", "0 3 1 * *", "--env-file", shown])
        .stderr_has("there is no such file yet; the scheduled run fails until there is")
        .run();
    assert!(
        missing.stdout.contains(&format!(
            "\n0 3 1 * * set -a && . {shown} && set +a && exec "
        )),
        "{}",
        missing.stdout
    );
    std::fs::write(&env, "FIREDRILL_WEBHOOK=http://127.0.0.1:9/hook\n").expect("write");
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    schedule(&["--cron", "0 3 1 * *", "--env-file", shown])
        .stderr_has("others may read it (mode 644)")
        .stderr_has(&format!("= hint: `chmod 600 {shown}`"))
        .run();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let fine = schedule(&["--cron", "0 3 1 * *", "--env-file", shown]).run();
    assert_eq!(fine.stderr, "", "a private file is fine");
    // The line works under sh as cron runs it: the variable reaches the command.
    let line = fine.stdout.lines().last().expect("the line");
    let command = line.splitn(6, ' ').nth(5).expect("the command");
    let probe = command.replace(
        &format!(
            "exec {}",
            std::path::Path::new(env!("CARGO_BIN_EXE_firedrill"))
                .canonicalize()
                .expect("abs")
                .display()
        ),
        "exec sh -c 'echo \"$FIREDRILL_WEBHOOK\"' --",
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &probe])
        .output()
        .expect("sh");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "http://127.0.0.1:9/hook\n",
        "{probe}"
    );
}
