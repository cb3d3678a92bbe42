//! `firedrill sandbox start|status|seed|stop` as a user runs them: the sandbox runs in the
//! background, says where, serves the seeded production side, and leaves no process behind.

mod support;

use firedrill::engine::exit;
use firedrill::sandbox::SandboxRecord;
use firedrill::sandbox::local::alive;
use support::Test;

#[test]
fn start_status_seed_stop_leaves_no_process_behind() {
    let state = tempfile::tempdir().expect("tempdir");
    let state_dir = state.path().to_str().expect("utf-8 path");
    let sandbox = |args: &[&str]| {
        Test::new()
            .env("FIREDRILL_STATE_DIR", state_dir)
            .args(["sandbox"])
            .args(args.iter().copied())
    };

    sandbox(&["status"])
        .code(exit::NOT_RUNNING)
        .stdout_has("not running")
        .run();
    sandbox(&["status", "--format", "json"])
        .code(exit::NOT_RUNNING)
        .stdout_has("\"running\": false")
        .run();
    let started = sandbox(&["start", "--time-scale", "0", "--seed", "9"])
        .stdout_has("local sandbox running at http://127.0.0.1:")
        .run();
    let record = SandboxRecord::load(state.path()).expect("start leaves a record");
    assert!(started.stdout.contains(&record.endpoint));
    let dns = record.dns.expect("a name server");
    assert!(dns.ip().is_loopback(), "loopback only: {dns}");
    assert!(
        started
            .stdout
            .contains(&format!("its Route53 zones answer DNS at {dns}\n")),
        "{}",
        started.stdout
    );
    sandbox(&["status"])
        .stdout_has(&format!(
            "  dns          {dns} (Route53 zones, UDP and TCP)\n"
        ))
        .stdout_has("  data plane   PostgreSQL from ")
        .run();
    assert!(alive(record.serve_pid) && alive(record.moto_pid));
    assert!(
        record.endpoint.starts_with("http://127.0.0.1:"),
        "loopback only: {}",
        record.endpoint
    );

    sandbox(&["start"]).stdout_has("already running").run();
    sandbox(&["seed", "examples/quickstart/seed.yaml"])
        .stdout_has("rds-snapshot shop-prod-nightly-1")
        .stdout_has(
            "  database of shop-prod: 1 table(s), 433 generated row(s), 3 snapshot copy(ies)\n",
        )
        .run();
    let mutating = || {
        let status = sandbox(&["status", "--format", "json"]).run();
        let doc: serde_json::Value = serde_json::from_str(&status.stdout).expect("JSON");
        assert_eq!(doc["running"], true);
        assert_eq!(doc["record"]["config"]["seed"], 9);
        doc["stats"]["mutating"]
            .as_u64()
            .expect("a count of mutating calls")
    };
    let seeded = mutating();
    assert!(seeded >= 13, "the seed's calls are counted: {seeded}");

    // The same text again, from another path too, is a no-op that says so.
    let copy = state.path().join("copy.yaml");
    std::fs::copy("examples/quickstart/seed.yaml", &copy).expect("copy");
    sandbox(&["seed", "examples/quickstart/seed.yaml"])
        .stdout_has(
            "the local sandbox is already seeded from examples/quickstart/seed.yaml; nothing to do",
        )
        .run();
    sandbox(&["seed", copy.to_str().expect("utf-8")])
        .stdout_has("(the same text as ")
        .stdout_has("nothing to do")
        .run();
    assert_eq!(mutating(), seeded, "seeding again changes nothing");

    // Other text naming what the sandbox holds is refused before anything is created.
    let text = std::fs::read_to_string(&copy).expect("read");
    std::fs::write(&copy, text.replace("shop-prod-nightly", "shop-prod-weekly")).expect("write");
    let refused = sandbox(&["seed", copy.to_str().expect("utf-8")])
        .code(exit::INVALID)
        .stderr_has("conflicts with the sandbox: RDS instance `shop-prod` exists already")
        .stderr_has("= hint: the sandbox was seeded from ")
        .stderr_has(
            "start from an empty sandbox: `firedrill sandbox stop`, then `firedrill sandbox start`",
        )
        .run();
    assert!(
        !refused.stderr.contains("ServiceError"),
        "{}",
        refused.stderr
    );
    assert_eq!(mutating(), seeded, "a conflicting seed creates nothing");

    let postgres =
        support::sandbox::with_children(&support::sandbox::processes_under(state.path()));
    assert!(!postgres.is_empty(), "the seed's data started PostgreSQL");
    sandbox(&["stop"])
        .stdout_has("stopped the local sandbox")
        .run();
    let left: Vec<u32> = postgres.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "no PostgreSQL process is left: {left:?}");
    assert!(!alive(record.serve_pid), "the background process is gone");
    assert!(!alive(record.moto_pid), "moto is gone");
    support::sandbox::assert_nothing_answers(dns);
    assert!(SandboxRecord::load(state.path()).is_none());
    sandbox(&["stop"])
        .stdout_has("no local sandbox is running")
        .run();
}

#[test]
fn bad_seed_files_point_at_the_mistake() {
    let state = tempfile::tempdir().expect("tempdir");
    let seed = state.path().join("seed.yaml");
    std::fs::write(&seed, "region: us-east-1\nrds_instances:\n  - id: db\n    engnie: postgres\n    snapshots: [{ age: 2 }]\n")
        .expect("write");
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.path().to_str().expect("utf-8"))
        .args(["sandbox".as_ref(), "seed".as_ref(), seed.as_os_str()])
        .code(firedrill::engine::exit::INVALID)
        .stderr_has("unknown key `engnie`")
        .stderr_has("did you mean `engine`?")
        .stderr_has("seed.yaml:4:5")
        .stderr_has("seed.yaml:5:24")
        .run();
}

#[test]
fn out_of_range_settings_are_usage_errors() {
    let state = tempfile::tempdir().expect("tempdir");
    let dir = state.path().to_str().expect("utf-8");
    for args in [["--time-scale", "1e300"], ["--throttle-rate", "1.5"]] {
        Test::new()
            .env("FIREDRILL_STATE_DIR", dir)
            .args(["sandbox", "start"])
            .args(args)
            .code(firedrill::engine::exit::INVALID)
            .run();
    }
    assert!(
        SandboxRecord::load(state.path()).is_none(),
        "nothing was started"
    );
}
