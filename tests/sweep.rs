//! `firedrill sweep` against the local sandbox: what a run left behind after its journal was
//! lost is found and removed; a production resource with a forged firedrill tag and a run in
//! progress are never touched; listing makes no mutating call.

mod support;

use firedrill::engine::exit;
use support::Test;
use support::live::Live;
use support::sandbox::TestSandbox;

/// A playbook pointed at `sandbox` that keeps what it makes (`teardown: never`): an app server
/// and a restored database, then `last`.
fn playbook(dir: &std::path::Path, sandbox: &TestSandbox, last: &str) -> String {
    let path = dir.join("kept.yaml");
    std::fs::write(
        &path,
        format!(
            r#"version: 1
name: kept
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {}
  teardown: never
steps:
  app:
    uses: ec2.launch
    with: {{ image: {{ latest_tagged: {{ role: shop }} }} }}
  db:
    uses: rds.restore-snapshot
    with: {{ source: shop-prod }}
  last:
    uses: run
    needs: [app, db]
    with: {{ command: '{last}' }}
"#,
            sandbox.endpoint
        ),
    )
    .expect("write");
    path.to_str().expect("utf-8").to_owned()
}

/// `firedrill sweep` with `state` as the state directory, off the async runtime.
async fn sweep(state: &std::path::Path, args: &[&str], code: u8) -> support::Output {
    let (state, args): (String, Vec<String>) = (
        state.to_str().expect("utf-8").to_owned(),
        args.iter().map(|a| (*a).to_owned()).collect(),
    );
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state)
            .args(["sweep".to_owned()])
            .args(args)
            .code(code)
            .run()
    })
    .await
    .expect("sweep ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_journals_resources_are_found_and_removed_and_production_is_never_touched() {
    let sandbox = TestSandbox::quickstart().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = playbook(dir.path(), &sandbox, "true");
    // A forged firedrill tag on production: sweep must still never touch it.
    let rds = sandbox.clients().await.rds();
    let prod = rds
        .describe_db_instances()
        .db_instance_identifier("shop-prod")
        .send()
        .await
        .expect("shop-prod")
        .db_instances()[0]
        .clone();
    rds.add_tags_to_resource()
        .resource_name(prod.db_instance_arn().expect("an ARN"))
        .tags(
            aws_sdk_rds::types::Tag::builder()
                .key("firedrill:run-id")
                .value("20261101-000000-deadbeef")
                .build(),
        )
        .send()
        .await
        .expect("forged");
    let production = sandbox.production().await;

    let (state_arg, playbook_arg) = (state.to_str().expect("utf-8").to_owned(), playbook.clone());
    tokio::task::spawn_blocking(move || {
        // The hint that deletes what it kept names the state directory it was given.
        Test::new()
            .args(["--state-dir", &state_arg, "run", &playbook_arg])
            .stdout_has(&format!("`firedrill --state-dir {state_arg} teardown 20"))
            .stdout_has("` deletes them\n")
            .run();
    })
    .await
    .expect("ran");
    // The instance, its root volume and the database, kept by `teardown: never` (and the
    // forged production instance, which carries the run tag too).
    assert_eq!(sandbox.drill_leftovers().await.len(), 4);
    // The journal is lost with its disk.
    std::fs::remove_dir_all(&state).expect("the journal goes");

    let before = sandbox.stats().await.mutating;
    let listed = sweep(&state, &[&playbook, "--grace", "0s"], exit::OK).await;
    assert_eq!(
        sandbox.stats().await.mutating,
        before,
        "listing changes nothing"
    );
    let out = &listed.stdout;
    assert!(
        out.starts_with("sweep of account 123456789012 (arn:aws:sts::123456789012:user/moto), us-east-1: 3 orphans, 1 spared\n"),
        "{out}"
    );
    for kind in ["ec2-instance", "ec2-volume", "rds-instance fd-"] {
        let line = out
            .lines()
            .find(|l| l.contains(kind) && l.contains("orphan"))
            .unwrap_or_else(|| panic!("no orphan {kind} in:\n{out}"));
        assert!(
            line.ends_with("its run is unknown to the journal (lost with its disk or pod?)"),
            "{line}"
        );
    }
    let forged = out
        .lines()
        .find(|l| l.contains("shop-prod"))
        .expect("the forged one");
    assert!(
        forged.contains("spared")
            && forged.contains("tagged as production (environment=production)"),
        "{forged}"
    );
    assert!(
        out.contains("add `--delete` to delete the 3 orphans"),
        "{out}"
    );

    // A run begun under the grace ago may be another machine's: spared by default.
    let young = sweep(&state, &[&playbook], exit::OK).await;
    assert!(
        young.stdout.contains(": 0 orphans, 4 spared\n"),
        "{}",
        young.stdout
    );
    assert!(
        young
            .stdout
            .contains("it may be another machine's run in progress"),
        "{}",
        young.stdout
    );

    let deleted = sweep(&state, &[&playbook, "--grace", "0s", "--delete"], exit::OK).await;
    assert!(
        deleted.stdout.contains("sweep: 3 deleted, 0 left behind\n"),
        "{}",
        deleted.stdout
    );
    assert_eq!(
        sandbox.drill_leftovers().await,
        vec!["db Some(\"shop-prod\")".to_owned()],
        "only the forged production instance is left"
    );
    sandbox.assert_production_unchanged(&production).await;
    assert_eq!(
        sweep(&state, &[&playbook, "--grace", "0s"], exit::OK)
            .await
            .stdout
            .lines()
            .next(),
        Some(
            "sweep of account 123456789012 (arn:aws:sts::123456789012:user/moto), us-east-1: 0 orphans, 1 spared"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_in_progress_is_never_touched_and_deleting_needs_an_account() {
    let sandbox = TestSandbox::quickstart().await;
    let dir = tempfile::tempdir().expect("dir");
    let state = dir.path().join("state");
    let playbook = playbook(dir.path(), &sandbox, "sleep 600");
    let mut live = Live::start(&state, &["run", &playbook]);
    live.wait_for("step-started last");
    let out = sweep(&state, &[&playbook, "--grace", "0s", "--delete"], exit::OK).await;
    assert!(
        out.stdout.contains(": 0 orphans, 3 spared\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("its run is in progress (its process holds the run's lock)"),
        "{}",
        out.stdout
    );
    assert_eq!(
        sandbox.drill_leftovers().await.len(),
        3,
        "nothing of a live run is deleted"
    );
    // Without a playbook or `--account`, deleting is refused before any call.
    let refused = sweep(&state, &["--delete"], exit::REFUSED).await;
    assert!(
        refused
            .stderr
            .contains("error: `sweep --delete` deletes only in accounts it is told it may"),
        "{}",
        refused.stderr
    );
    live.signal(rustix::process::Signal::INT);
    let (code, stdout, stderr) = live.finish();
    assert_eq!(
        code,
        Some(i32::from(exit::INTERRUPTED)),
        "{stdout}\n{stderr}"
    );
    // `teardown: never` kept them; now the run is over, they are orphans, and sweep deletes
    // them through the journal's rows.
    let out = sweep(&state, &[&playbook, "--delete"], exit::OK).await;
    assert!(
        out.stdout
            .contains("kept by its playbook's teardown policy for a later teardown or sweep"),
        "{}",
        out.stdout
    );
    // The instance's root volume is not the journal's: spared, it goes with its instance.
    assert!(
        out.stdout.contains("its run's journal does not record it"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("sweep: 2 deleted, 0 left behind\n"),
        "{}",
        out.stdout
    );
    assert!(sandbox.drill_leftovers().await.is_empty());
    let state_arg = state.to_str().expect("utf-8").to_owned();
    tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state_arg)
            .args(["teardown"])
            .stdout_has("nothing to tear down")
            .run();
    })
    .await
    .expect("teardown ran");
}
