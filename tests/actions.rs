//! The AWS restore actions, each run as a user runs them (`firedrill run` against a seeded local
//! sandbox with lifecycle delays): the happy path with its outputs and tags, the clear error
//! when nothing matches, and teardown. The production side is compared before and after.

mod support;

use firedrill::engine::exit;
use firedrill::sandbox::ProxyConfig;
use firedrill::sandbox::faults::FaultConfig;
use serde_json::Value;
use support::sandbox::TestSandbox;
use support::{Test, step};

/// The production side these drills restore from.
const SEED: &str = r"
region: us-east-1
rds_instances:
  - id: shop-prod
    snapshots:
      - { id: shop-prod-nightly-2, age: 26h }
      - { id: shop-prod-nightly-1, age: 2h, tags: { kind: nightly } }
      - { id: shop-prod-manual, age: 1h }
aurora_clusters:
  - id: orders-prod
    snapshots: [{ id: orders-prod-nightly, age: 20h }]
images:
  - { name: shop-app, tags: { role: shop }, age: 5d }
ebs_snapshots:
  - size_gib: 20
    tags: { volume: shop-uploads }
    snapshots: [{ age: 6h }, { age: 30h }]
hosted_zones:
  - name: shop.internal.
    records:
      - { name: www, type: A, values: [10.0.1.10], ttl: 300 }
";

async fn sandbox() -> TestSandbox {
    sandbox_with(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await
}

async fn sandbox_with(config: ProxyConfig) -> TestSandbox {
    let sandbox = TestSandbox::start(config).await;
    sandbox.seed(SEED).await;
    sandbox
}

/// A drill: the playbook (header pointed at `sandbox`, then `rest`), run with `args`.
struct Drill {
    dir: tempfile::TempDir,
    playbook: std::path::PathBuf,
}

impl Drill {
    fn new(sandbox: &TestSandbox, rest: &str) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let playbook = dir.path().join("drill.yaml");
        std::fs::write(
            &playbook,
            format!(
                "version: 1\nname: actions\ntargets: {{ rpo: 26h }}\nsandbox:\n  accounts: [\"123456789012\"]\n  region: us-east-1\n  endpoint: {}\n{rest}",
                sandbox.endpoint
            ),
        )
        .expect("write");
        Self { dir, playbook }
    }

    fn state(&self) -> String {
        self.dir
            .path()
            .join("state")
            .to_str()
            .expect("utf-8")
            .to_owned()
    }

    /// Runs it, expecting exit `code`; gives the output and the report.
    async fn run(&self, code: u8) -> (support::Output, Value) {
        let (state, playbook) = (
            self.state(),
            self.playbook.to_str().expect("utf-8").to_owned(),
        );
        let report = self.dir.path().join("report.json");
        let report_arg = report.to_str().expect("utf-8").to_owned();
        let out = tokio::task::spawn_blocking(move || {
            Test::new()
                .env("FIREDRILL_STATE_DIR", &state)
                .args(["run", &playbook, "--report", &report_arg])
                .code(code)
                .run()
        })
        .await
        .expect("ran");
        let doc =
            serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
        (out, doc)
    }

    /// `firedrill teardown RUN`, expecting exit `code`.
    async fn teardown(&self, run: &str, code: u8) -> support::Output {
        let (state, run) = (self.state(), run.to_owned());
        tokio::task::spawn_blocking(move || {
            Test::new()
                .env("FIREDRILL_STATE_DIR", &state)
                .args(["teardown", &run])
                .code(code)
                .run()
        })
        .await
        .expect("ran")
    }
}

fn output<'a>(doc: &'a Value, id: &str, key: &str) -> &'a str {
    step(doc, id)["outputs"][key]
        .as_str()
        .unwrap_or_else(|| panic!("step {id} has no output {key}: {doc}"))
}

fn secs(doc: &Value, id: &str, key: &str) -> i64 {
    output(doc, id, key).parse().expect("seconds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_restore_picks_the_tagged_snapshot_tags_what_it_makes_and_is_torn_down() {
    let sandbox = sandbox().await;
    let production = sandbox.production().await;
    let drill = Drill::new(
        &sandbox,
        r"  teardown: never
steps:
  db:
    uses: rds.restore-snapshot
    with: { source: shop-prod, snapshot: { latest_tagged: { kind: nightly } } }
",
    );
    let (_, doc) = drill.run(exit::OK).await;
    assert_eq!(doc["state"], "passed", "{doc}");
    assert_eq!(output(&doc, "db", "snapshot_id"), "shop-prod-nightly-1");
    // Two hours old, measured from the drill's start.
    let rpo = secs(&doc, "db", "rpo_secs");
    assert!((7200..7260).contains(&rpo), "{rpo}");
    // A restored instance's endpoint is its own loopback port on the sandbox.
    assert_eq!(output(&doc, "db", "endpoint"), "127.0.0.1");
    assert!(
        output(&doc, "db", "port")
            .parse::<u16>()
            .is_ok_and(|p| p != 5432)
    );
    let id = output(&doc, "db", "id");
    let run = doc["run_id"].as_str().expect("run id");
    assert!(id.starts_with("fd-") && id.len() <= 63, "{id}");

    // What it made is tagged with the run, the playbook, the token and when it expires.
    let rds = sandbox.clients().await.rds();
    let db = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("the restored instance exists")
        .db_instances()[0]
        .clone();
    let tag = |k: &str| {
        db.tag_list()
            .iter()
            .find(|t| t.key() == Some(k))
            .and_then(|t| t.value())
            .map(str::to_owned)
    };
    assert_eq!(tag("firedrill:run-id").as_deref(), Some(run));
    assert_eq!(tag("firedrill:playbook").as_deref(), Some("actions"));
    assert_eq!(tag("firedrill:token").as_deref(), Some(id));
    assert!(
        tag("firedrill:expires-at").is_some_and(|t| t.starts_with("20")),
        "{db:?}"
    );

    drill
        .teardown(run, exit::OK)
        .await
        .stdout
        .contains("deleted");
    assert!(sandbox.drill_leftovers().await.is_empty());
    sandbox.assert_production_unchanged(&production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_with_no_matching_snapshot_names_the_source_and_the_filters() {
    let sandbox = sandbox().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  db:
    uses: rds.restore-snapshot
    with: { source: shop-prod, snapshot: { latest_tagged: { kind: weekly } } }
  orders:
    uses: rds.restore-cluster
    with: { source: orders-staging }
",
    );
    let (out, doc) = drill.run(exit::STEP_FAILED).await;
    let db = step(&doc, "db")["failures"].to_string();
    let text = format!("{}{}", out.stdout, doc);
    assert!(
        text.contains(
            "no snapshot found: looked for an available snapshot of DB instance `shop-prod` tagged kind=weekly in us-east-1"
        ),
        "{db}\n{text}"
    );
    assert!(
        text.contains(
            "no cluster snapshot found: looked for an available snapshot of DB cluster `orders-staging` in us-east-1"
        ),
        "{text}"
    );
    assert!(sandbox.drill_leftovers().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_in_time_and_aurora_restores_give_their_endpoints_and_leave_nothing() {
    let sandbox = sandbox().await;
    let production = sandbox.production().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  pitr:
    uses: rds.restore-pitr
    with: { source: shop-prod }
  orders:
    uses: rds.restore-cluster
    with: { source: orders-prod, snapshot: orders-prod-nightly, instances: 2 }
",
    );
    let (out, doc) = drill.run(exit::OK).await;
    assert!(
        out.stdout.contains("teardown: done, 4 resources deleted"),
        "{}",
        out.stdout
    );
    // The latest restorable time is moments before the drill.
    assert!(secs(&doc, "pitr", "rpo_secs") < 600, "{doc}");
    assert!(output(&doc, "pitr", "restore_time").starts_with("20"));
    let cluster = output(&doc, "orders", "id");
    // A restored cluster answers on its own loopback port (this one says its snapshot holds no
    // data: the seed gives it none).
    assert_eq!(output(&doc, "orders", "endpoint"), "127.0.0.1");
    assert_eq!(output(&doc, "orders", "reader_endpoint"), "127.0.0.1");
    assert!(output(&doc, "orders", "port").parse::<u16>().is_ok());
    let instances: Vec<&str> = output(&doc, "orders", "instance_ids").split(',').collect();
    assert_eq!(
        instances,
        [format!("{cluster}-i1"), format!("{cluster}-i2")]
    );
    let rpo = secs(&doc, "orders", "rpo_secs");
    assert!((72_000..72_060).contains(&rpo), "{rpo}");
    assert!(sandbox.drill_leftovers().await.is_empty());
    sandbox.assert_production_unchanged(&production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_volume_is_attached_then_detached_and_deleted_by_teardown() {
    let sandbox = sandbox().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  app:
    uses: ec2.launch
    with: { image: { latest_tagged: { role: shop } } }
  data:
    uses: ec2.restore-volume
    with:
      snapshot: { latest_tagged: { volume: shop-uploads } }
      attach: { instance: '${steps.app.outputs.id}', device: /dev/sdf }
",
    );
    let (_, doc) = drill.run(exit::OK).await;
    assert_eq!(
        output(&doc, "data", "availability_zone"),
        output(&doc, "app", "availability_zone")
    );
    let rpo = secs(&doc, "data", "rpo_secs");
    assert!((21_600..21_660).contains(&rpo), "the 6 h snapshot: {rpo}");
    let volume = output(&doc, "data", "id");
    let gone = sandbox
        .clients()
        .await
        .ec2()
        .describe_volumes()
        .volume_ids(volume)
        .send()
        .await;
    assert!(gone.is_err() || gone.expect("ok").volumes().is_empty());
    assert!(sandbox.drill_leftovers().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_gives_its_outputs_and_is_deleted() {
    let sandbox = sandbox().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  network:
    uses: cloudformation.stack
    with:
      template: network.yaml
      parameters: { Cidr: 10.98.0.0/16 }
  app:
    uses: ec2.launch
    with:
      image: { latest_tagged: { role: shop } }
      subnet: ${steps.network.outputs.Subnet}
",
    );
    std::fs::write(
        drill.dir.path().join("network.yaml"),
        support::NETWORK_TEMPLATE,
    )
    .expect("template");
    let (_, doc) = drill.run(exit::OK).await;
    assert!(output(&doc, "network", "Subnet").starts_with("subnet-"));
    assert!(output(&doc, "network", "stack_id").starts_with("arn:aws:cloudformation:"));
    assert!(sandbox.drill_leftovers().await.is_empty());
}

async fn record(sandbox: &TestSandbox, name: &str) -> Option<(i64, Vec<String>)> {
    let r53 = sandbox.clients().await.route53();
    let zone = r53
        .list_hosted_zones_by_name()
        .dns_name("shop.internal.")
        .send()
        .await
        .expect("zones")
        .hosted_zones()[0]
        .id()
        .to_owned();
    r53.list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("records")
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == name && r.r#type().as_str() == "A")
        .map(|r| {
            (
                r.ttl().unwrap_or_default(),
                r.resource_records()
                    .iter()
                    .map(|v| v.value().to_owned())
                    .collect(),
            )
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cutover_is_undone_exactly_and_a_new_record_is_deleted() {
    let sandbox = sandbox().await;
    let production = sandbox.production().await;
    let drill = Drill::new(
        &sandbox,
        r"  teardown: never
steps:
  www:
    uses: route53.record
    with: { zone: shop.internal., name: www, type: A, value: 10.9.9.9, ttl: 30 }
  api:
    uses: route53.record
    with: { zone: shop.internal., name: api.shop.internal., type: A, value: [10.9.9.1, 10.9.9.2] }
",
    );
    let (_, doc) = drill.run(exit::OK).await;
    assert_eq!(output(&doc, "www", "fqdn"), "www.shop.internal.");
    assert_eq!(
        record(&sandbox, "www.shop.internal.").await,
        Some((30, vec!["10.9.9.9".to_string()]))
    );
    assert_eq!(
        record(&sandbox, "api.shop.internal.")
            .await
            .map(|r| r.1.len()),
        Some(2)
    );
    let run = doc["run_id"].as_str().expect("run id");
    drill.teardown(run, exit::OK).await;
    // The exact record set that was there, TTL included; the new one is gone.
    assert_eq!(
        record(&sandbox, "www.shop.internal.").await,
        Some((300, vec!["10.0.1.10".to_string()]))
    );
    assert_eq!(record(&sandbox, "api.shop.internal.").await, None);
    sandbox.assert_production_unchanged(&production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_by_someone_since_the_drill_is_left_alone() {
    let sandbox = sandbox().await;
    let drill = Drill::new(
        &sandbox,
        r"  teardown: never
steps:
  www:
    uses: route53.record
    with: { zone: shop.internal., name: www, type: A, value: 10.9.9.9 }
",
    );
    let (_, doc) = drill.run(exit::OK).await;
    // Someone points the record elsewhere after the drill.
    let r53 = sandbox.clients().await.route53();
    let zone = output(&doc, "www", "zone_id").to_owned();
    let set = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("www.shop.internal.")
        .r#type(aws_sdk_route53::types::RrType::A)
        .ttl(120)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("10.5.5.5")
                .build()
                .expect("record"),
        )
        .build()
        .expect("set");
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Upsert)
                        .resource_record_set(set)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("changed");
    let run = doc["run_id"].as_str().expect("run id");
    let out = drill.teardown(run, exit::TEARDOWN_INCOMPLETE).await;
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("someone changed it since"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        record(&sandbox, "www.shop.internal.").await,
        Some((120, vec!["10.5.5.5".to_string()]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_checks_report_every_stale_or_unisolated_backup_at_once() {
    let sandbox = sandbox().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  fresh:
    uses: check.backups
    with:
      resources: [{ type: rds-instance, id: shop-prod }, { type: rds-cluster, id: orders-prod }]
  isolated:
    uses: check.backups
    on_failure: continue
    with:
      resources: [{ type: rds-instance, id: shop-prod }, { type: rds-cluster, id: orders-staging }]
      max_age: 30m
      min_points: 5
      copy: { region: us-west-2 }
",
    );
    let (_, doc) = drill.run(exit::STEP_FAILED).await;
    assert_eq!(step(&doc, "fresh")["state"], "succeeded", "{doc}");
    // The RPO the backups imply is the worse of the two resources': the cluster's newest
    // snapshot is 20 h old (the instance's, 1 h).
    let rpo = secs(&doc, "fresh", "rpo_secs");
    assert!((72_000..72_100).contains(&rpo), "{rpo}");
    let error = step(&doc, "isolated")["failures"][0]
        .as_str()
        .expect("a failure");
    for part in [
        "DB instance `shop-prod` has 3 recovery point(s), fewer than the 5 required",
        "DB instance `shop-prod`: the newest recovery point (shop-prod-manual) is 1h",
        "DB instance `shop-prod` has no copy of its backups in us-west-2",
        "DB cluster `orders-staging` has no completed recovery point in us-east-1",
    ] {
        assert!(error.contains(part), "{part:?} in {error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_passes_and_cleans_up_through_throttling_and_server_errors() {
    let sandbox = sandbox_with(ProxyConfig {
        time_scale: 0.01,
        seed: 7,
        faults: FaultConfig {
            throttle: 0.15,
            server_error: 0.05,
            unavailable: 0.05,
            ..FaultConfig::default()
        },
    })
    .await;
    let production = sandbox.production().await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  db:
    uses: rds.restore-snapshot
    with: { source: shop-prod }
  app:
    uses: ec2.launch
    with: { image: { latest_tagged: { role: shop } } }
  data:
    uses: ec2.restore-volume
    with:
      snapshot: { latest_tagged: { volume: shop-uploads } }
      attach: { instance: '${steps.app.outputs.id}', device: /dev/sdf }
  dns:
    uses: route53.record
    with: { zone: shop.internal., name: www, type: A, value: '${steps.app.outputs.private_ip}' }
",
    );
    let (out, doc) = drill.run(exit::OK).await;
    assert!(
        out.stdout
            .contains("teardown: done, 3 resources deleted, 1 record restored"),
        "{}",
        out.stdout
    );
    assert_eq!(doc["state"], "passed");
    let faults: u64 = sandbox.stats().await.faults.values().sum();
    assert!(faults >= 5, "the layer injected {faults} faults");
    assert!(sandbox.drill_leftovers().await.is_empty());
    sandbox.assert_production_unchanged(&production).await;
}

/// `playbooks/NAME` pointed at `sandbox`, written into a temporary directory with the
/// playbooks' templates.
fn shipped(sandbox: &TestSandbox, name: &str) -> Drill {
    let dir = tempfile::tempdir().expect("dir");
    let root = support::root().join("playbooks");
    let text = std::fs::read_to_string(root.join(name)).expect("playbook");
    let text = text.replacen(
        "\nsandbox:\n",
        &format!("\nsandbox:\n  endpoint: {}\n", sandbox.endpoint),
        1,
    );
    let playbook = dir.path().join(name);
    std::fs::write(&playbook, text).expect("write");
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(&templates).expect("templates");
    for t in std::fs::read_dir(root.join("templates")).expect("templates") {
        let t = t.expect("entry").path();
        std::fs::copy(&t, templates.join(t.file_name().expect("name"))).expect("copy");
    }
    Drill { dir, playbook }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_drill_passes_with_its_dns_probe_and_measures_the_rpo() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await;
    let seed = std::fs::read_to_string(support::root().join("examples/quickstart/seed.yaml"))
        .expect("seed");
    sandbox.seed(&seed).await;
    let production = sandbox.production().await;
    let drill = shipped(&sandbox, "shop.yaml");
    let (out, doc) = drill.run(exit::OK).await;
    assert_eq!(doc["state"], "passed", "{}", out.stdout);
    // The newest snapshot is 2 h old: that is the RPO, against a 26 h target.
    let rpo = doc["rpo"]["measured_secs"].as_f64().expect("an RPO");
    assert!((7200.0..7300.0).contains(&rpo), "{rpo}");
    assert_eq!(doc["rpo"]["met"], true);
    assert_eq!(
        output(&doc, "recovered", "values"),
        output(&doc, "app", "private_ip")
    );
    assert_eq!(output(&doc, "recovered", "attempts"), "1");
    assert!(
        doc["rto"]["measured_secs"]
            .as_f64()
            .is_some_and(|s| s > 5.0)
    );
    assert!(sandbox.drill_leftovers().await.is_empty());
    sandbox.assert_production_unchanged(&production).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_say_what_they_saw_when_the_service_is_not_healthy() {
    let sandbox = sandbox().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = listener.local_addr().expect("addr").port();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let drill = Drill::new(
        &sandbox,
        &format!(
            r"steps:
  open:
    uses: probe.tcp
    with: {{ host: 127.0.0.1, port: {open} }}
  closed:
    uses: probe.tcp
    on_failure: continue
    with: {{ host: 127.0.0.1, port: {closed} }}
  dns:
    uses: probe.dns
    on_failure: continue
    with: {{ name: www.shop.internal., via: route53, expect: 10.9.9.9 }}
    retry: {{ interval: 100ms, until: 500ms }}
  version:
    uses: probe.command
    with:
      command: echo build 4.2.1
      expect: {{ stdout_regex: 'build \d+\.\d+' }}
  wrong-code:
    uses: probe.command
    on_failure: continue
    with: {{ command: 'exit 3' }}
  slow:
    uses: probe.command
    on_failure: continue
    with: {{ command: 'sleep 5', attempt_timeout: 200ms }}
"
        ),
    );
    let (_, doc) = drill.run(exit::STEP_FAILED).await;
    drop(listener);
    assert_eq!(step(&doc, "open")["state"], "succeeded", "{doc}");
    assert_eq!(output(&doc, "version", "stdout").trim(), "build 4.2.1");
    let failure = |id: &str| step(&doc, id)["failures"].to_string();
    assert!(
        failure("closed").contains(&format!("127.0.0.1:{closed} refused the connection")),
        "{}",
        failure("closed")
    );
    assert!(
        failure("dns").contains("www.shop.internal. A is 10.0.1.10 instead of 10.9.9.9"),
        "{}",
        failure("dns")
    );
    assert!(
        step(&doc, "dns")["attempts"]
            .as_u64()
            .is_some_and(|n| n >= 3),
        "retried until `until`: {doc}"
    );
    assert!(
        failure("wrong-code").contains("exited with 3 (expected exit code 0)"),
        "{}",
        failure("wrong-code")
    );
    assert!(
        failure("slow").contains("the command did not answer within 200ms"),
        "{}",
        failure("slow")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aurora_and_the_file_server_drills_pass_and_leave_production_as_it_was() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await;
    let seed = std::fs::read_to_string(support::root().join("playbooks/seeds/eu-west-1.yaml"))
        .expect("seed");
    sandbox.seed(&seed).await;
    let production = sandbox.production().await;
    // Every RDS backup, automated and manual: a drill leaves none of its own behind.
    let backups = sandbox.backups().await;
    assert!(
        backups.iter().any(|b| b.contains("orders-prod-nightly")),
        "the listing sees the seeded cluster snapshots: {backups:#?}"
    );
    for (name, resources) in [("orders-aurora.yaml", 5), ("files-network-ec2.yaml", 3)] {
        let drill = shipped(&sandbox, name);
        let (out, doc) = drill.run(exit::OK).await;
        assert_eq!(doc["state"], "passed", "{name}: {}", out.stdout);
        assert!(
            out.stdout.contains(&format!(
                "teardown: done, {resources} resources deleted, 1 record restored"
            )),
            "{name}: {}",
            out.stdout
        );
        assert_eq!(doc["rpo"]["met"], true, "{name}: {doc}");
        assert!(sandbox.drill_leftovers().await.is_empty(), "{name}");
        assert_eq!(sandbox.backups().await, backups, "{name}: the RDS backups");
        sandbox.assert_production_unchanged(&production).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_from_a_copy_in_another_region_copies_it_here_and_deletes_the_copy() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await;
    // The backup copies live in us-west-2; the drill runs in us-east-1.
    sandbox
        .seed(
            "region: us-west-2\nrds_instances:\n  - id: shop-prod\n    snapshots: [{ id: shop-prod-copy-1, age: 5h }]\n",
        )
        .await;
    sandbox.seed(SEED).await;
    let drill = Drill::new(
        &sandbox,
        r"steps:
  db:
    uses: rds.restore-snapshot
    with: { source: shop-prod, source_region: us-west-2 }
",
    );
    let (out, doc) = drill.run(exit::OK).await;
    assert!(
        out.stdout.contains("resource-created db: rds-snapshot fd-"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("teardown: done, 2 resources deleted"),
        "{}",
        out.stdout
    );
    // The RPO is the original's age, not the copy's.
    let rpo = secs(&doc, "db", "rpo_secs");
    assert!((18_000..18_100).contains(&rpo), "{rpo}");
    assert!(output(&doc, "db", "snapshot_id").ends_with("-copy"));
    let copies = sandbox
        .clients()
        .await
        .rds()
        .describe_db_snapshots()
        .db_snapshot_identifier(output(&doc, "db", "snapshot_id"))
        .send()
        .await;
    assert!(copies.is_err() || copies.expect("ok").db_snapshots().is_empty());
    assert!(sandbox.drill_leftovers().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_cut_over_twice_is_unwound_to_the_original() {
    let sandbox = sandbox().await;
    // The second change records the first's value as what was there: teardown undoes the
    // second, then the first.
    let drill = Drill::new(
        &sandbox,
        r"steps:
  first:
    uses: route53.record
    with: { zone: shop.internal., name: www, type: A, value: 10.9.9.9 }
  second:
    uses: route53.record
    needs: [first]
    with: { zone: shop.internal., name: www, type: A, value: 10.8.8.8, ttl: 5 }
",
    );
    let (out, _) = drill.run(exit::OK).await;
    let (second, first) = (
        out.stdout
            .find("(step second): restored (A 10.9.9.9, TTL 60)")
            .expect("second undone"),
        out.stdout
            .find("(step first): restored (A 10.0.1.10, TTL 300)")
            .expect("first undone"),
    );
    assert!(second < first, "{}", out.stdout);
    assert_eq!(
        record(&sandbox, "www.shop.internal.").await,
        Some((300, vec!["10.0.1.10".to_string()]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_must_be_shared_with_the_recovery_account_when_asked() {
    let sandbox = sandbox().await;
    let drill = |account: &str| {
        Drill::new(
            &sandbox,
            &format!(
                r#"steps:
  isolated:
    uses: check.backups
    with:
      resources: [{{ type: rds-instance, id: shop-prod }}]
      copy: {{ account: "{account}" }}
"#
            ),
        )
    };
    // Not shared yet: the check says so.
    let (_, doc) = drill("444455556666").run(exit::STEP_FAILED).await;
    assert!(
        step(&doc, "isolated")["failures"][0]
            .as_str()
            .is_some_and(|f| {
                f.contains(
            "the newest recovery point (shop-prod-manual) is not shared with account 444455556666"
        )
            }),
        "{doc}"
    );
    // Shared with the recovery account: it passes.
    sandbox
        .clients()
        .await
        .rds()
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier("shop-prod-manual")
        .attribute_name("restore")
        .values_to_add("444455556666")
        .send()
        .await
        .expect("shared");
    let (_, doc) = drill("444455556666").run(exit::OK).await;
    assert_eq!(step(&doc, "isolated")["state"], "succeeded", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssm_secrets_are_read_once_masked_everywhere_and_a_missing_one_fails_its_step() {
    const VALUE: &str = "ssm-canary-51d0c";
    let sandbox = sandbox().await;
    sandbox
        .seed(&format!(
            "region: us-east-1\nssm_parameters:\n  - {{ name: /shop/api-token, value: {VALUE} }}\n"
        ))
        .await;
    let drill = Drill::new(
        &sandbox,
        r#"vars:
  token: "${secret:ssm:/shop/api-token}"
steps:
  use:
    uses: run
    with:
      command: 'test "$${#TOKEN}" = 16 && echo "using $TOKEN"'
      env: { TOKEN: "${vars.token}" }
  missing:
    uses: run
    on_failure: continue
    with: { command: 'echo ${secret:ssm:/shop/nope}' }
"#,
    );
    let (out, doc) = drill.run(exit::STEP_FAILED).await;
    assert_eq!(step(&doc, "use")["state"], "succeeded", "{doc}");
    assert_eq!(output(&doc, "use", "stdout").trim(), "using ***");
    assert!(
        step(&doc, "missing")["failures"][0]
            .as_str()
            .is_some_and(|f| f.contains(
                "`${secret:ssm:/shop/nope}`: cannot read the parameter: ParameterNotFound"
            )),
        "{doc}"
    );
    assert!(!out.stdout.contains(VALUE) && !out.stderr.contains(VALUE));
    for file in support::files_under(drill.dir.path()) {
        let bytes = std::fs::read(&file).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(VALUE),
            "{} holds the secret",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automated_backups_kept_of_a_drill_cluster_are_found_and_deleted_by_teardown() {
    let sandbox = sandbox().await;
    let backups = sandbox.backups().await;
    let drill = Drill::new(
        &sandbox,
        r"  teardown: never
steps:
  orders:
    uses: rds.restore-cluster
    with: { source: orders-prod, snapshot: orders-prod-nightly, instances: 1 }
",
    );
    let (_, doc) = drill.run(exit::OK).await;
    let run = doc["run_id"].as_str().expect("run id");
    let cluster = output(&doc, "orders", "id").to_owned();
    // As a backup plan would: the cluster goes, AWS keeps its automated backups.
    let rds = sandbox.clients().await.rds();
    let members = rds
        .describe_db_clusters()
        .db_cluster_identifier(&cluster)
        .send()
        .await
        .expect("the cluster")
        .db_clusters()[0]
        .db_cluster_members()
        .iter()
        .filter_map(|m| m.db_instance_identifier().map(str::to_owned))
        .collect::<Vec<_>>();
    for m in &members {
        rds.delete_db_instance()
            .db_instance_identifier(m)
            .skip_final_snapshot(true)
            .send()
            .await
            .expect("instance deleted");
    }
    rds.delete_db_cluster()
        .db_cluster_identifier(&cluster)
        .skip_final_snapshot(true)
        .delete_automated_backups(false)
        .send()
        .await
        .expect("cluster deleted, its backups kept");
    let kept = sandbox.backups().await;
    assert!(
        kept.contains(&format!(
            "cluster-backup of Some({cluster:?}) Some(\"retained\")"
        )),
        "{kept:#?}"
    );
    let out = drill.teardown(run, exit::OK).await;
    assert!(
        out.stdout
            .contains(", and 1 automated backup AWS kept of it"),
        "{}",
        out.stdout
    );
    assert_eq!(
        sandbox.backups().await,
        backups,
        "no backup of the drill is left"
    );
}
