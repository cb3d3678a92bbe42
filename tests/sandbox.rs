//! The local sandbox through the real AWS SDK: lifecycle delays, seeded faults absorbed by the
//! SDK's retry policy, repeatable fault sequences, call counts, the seed, and the account guard.

mod support;

use std::time::{Duration, Instant};

use firedrill::aws::RetrySettings;
use firedrill::aws::guard::{self, Refusal};
use firedrill::sandbox::ProxyConfig;
use firedrill::sandbox::faults::FaultConfig;
use support::sandbox::TestSandbox;

const SEED: &str = "
region: us-east-1
rds_instances:
  - id: prod-db
    snapshots: [{ id: prod-db-nightly, age: 20h }]
images:
  - { name: app-1, tags: { role: app }, age: 3d }
hosted_zones:
  - name: prod.internal.
    records: [{ name: www, type: A, values: [10.0.0.1] }]
";

async fn seeded(config: ProxyConfig) -> TestSandbox {
    let sandbox = TestSandbox::start(config).await;
    sandbox.seed(SEED).await;
    sandbox
}

/// Polls `status` until it returns `want`, failing after `limit`; returns when it was seen.
async fn wait_for<F, Fut>(limit: Duration, want: &str, mut status: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let began = Instant::now();
    loop {
        let now = status().await;
        if now == want {
            return began.elapsed();
        }
        assert!(
            began.elapsed() < limit,
            "still `{now}` after {limit:?}, waiting for `{want}`"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_instance_is_creating_then_available_after_the_scaled_delay() {
    // 900 s of restore x 0.004 = 3.6 s, +-20% jitter.
    let sandbox = seeded(ProxyConfig {
        time_scale: 0.004,
        ..ProxyConfig::default()
    })
    .await;
    let rds = sandbox.clients().await.rds();
    let began = Instant::now();
    let restored = rds
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier("drill-db")
        .db_snapshot_identifier("prod-db-nightly")
        .send()
        .await
        .expect("restore");
    assert_eq!(
        restored
            .db_instance()
            .and_then(|d| d.db_instance_identifier()),
        Some("drill-db")
    );
    let status = || async {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier("drill-db")
            .send()
            .await
            .expect("describe");
        out.db_instances()[0]
            .db_instance_status()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(status().await, "creating");
    wait_for(Duration::from_secs(20), "available", status).await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(2800),
        "available after {took:?}, before the scaled delay (>= 2.88 s)"
    );
    assert!(
        took < Duration::from_secs(8),
        "available only after {took:?}"
    );

    // Deleting takes time too: `deleting`, then gone.
    rds.delete_db_instance()
        .db_instance_identifier("drill-db")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete");
    assert_eq!(status().await, "deleting");
    let began = Instant::now();
    loop {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier("drill-db")
            .send()
            .await;
        if out.is_err() {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "still there after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario per resource kind of the realism layer, in one place so none is missed"
)]
async fn every_kind_reports_its_in_progress_state() {
    let sandbox = seeded(ProxyConfig {
        time_scale: 0.02,
        ..ProxyConfig::default()
    })
    .await;
    let clients = sandbox.clients().await;
    let ec2 = clients.ec2();
    let image = ec2
        .describe_images()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:role")
                .values("app")
                .build(),
        )
        .send()
        .await
        .expect("images");
    let image_id = image.images()[0].image_id().expect("id").to_owned();
    let run = ec2
        .run_instances()
        .image_id(&image_id)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .expect("run");
    let instance = run.instances()[0].instance_id().expect("id").to_owned();
    let state = ec2
        .describe_instances()
        .instance_ids(&instance)
        .send()
        .await
        .expect("describe");
    let name = state.reservations()[0].instances()[0]
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_owned());
    assert_eq!(name.as_deref(), Some("pending"));
    let code = state.reservations()[0].instances()[0]
        .state()
        .and_then(aws_sdk_ec2::types::InstanceState::code);
    assert_eq!(code, Some(0));

    let route53 = clients.route53();
    let zones = route53
        .list_hosted_zones_by_name()
        .dns_name("prod.internal.")
        .send()
        .await
        .expect("zones");
    let zone = zones.hosted_zones()[0].id().to_owned();
    let set = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("drill.prod.internal.")
        .r#type(aws_sdk_route53::types::RrType::A)
        .ttl(60)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("10.9.9.9")
                .build()
                .expect("record"),
        )
        .build()
        .expect("set");
    let change = route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
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
        .expect("upsert");
    let change_id = change.change_info().expect("info").id().to_owned();
    let got = route53
        .get_change()
        .id(&change_id)
        .send()
        .await
        .expect("get change");
    assert_eq!(
        got.change_info()
            .map(|c| c.status().as_str().to_owned())
            .as_deref(),
        Some("PENDING")
    );

    let cfn = clients.cloudformation();
    let template = r#"{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#;
    let stack = cfn
        .create_stack()
        .stack_name("drill-net")
        .template_body(template)
        .send()
        .await
        .expect("stack");
    let stack_id = stack.stack_id().expect("id").to_owned();
    let described = cfn
        .describe_stacks()
        .stack_name(&stack_id)
        .send()
        .await
        .expect("describe");
    assert_eq!(
        described.stacks()[0]
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("CREATE_IN_PROGRESS")
    );

    // And each becomes ready.
    wait_for(Duration::from_secs(20), "running", || async {
        let d = ec2
            .describe_instances()
            .instance_ids(&instance)
            .send()
            .await
            .expect("describe");
        d.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map_or(String::new(), |n| n.as_str().to_owned())
    })
    .await;
    wait_for(Duration::from_secs(20), "INSYNC", || async {
        let c = route53
            .get_change()
            .id(&change_id)
            .send()
            .await
            .expect("get change");
        c.change_info()
            .map_or(String::new(), |c| c.status().as_str().to_owned())
    })
    .await;
    wait_for(Duration::from_secs(20), "CREATE_COMPLETE", || async {
        let d = cfn
            .describe_stacks()
            .stack_name(&stack_id)
            .send()
            .await
            .expect("describe");
        d.stacks()[0]
            .stack_status()
            .map_or(String::new(), |s| s.as_str().to_owned())
    })
    .await;

    // A deleted stack shows DELETE_IN_PROGRESS by name for a while, then is gone.
    cfn.delete_stack()
        .stack_name("drill-net")
        .send()
        .await
        .expect("delete");
    let by_name = cfn
        .describe_stacks()
        .stack_name("drill-net")
        .send()
        .await
        .expect("still described");
    assert_eq!(
        by_name.stacks()[0]
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .as_deref(),
        Some("DELETE_IN_PROGRESS")
    );
    let began = Instant::now();
    while cfn
        .describe_stacks()
        .stack_name("drill-net")
        .send()
        .await
        .is_ok()
    {
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "the stack never went away"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_throttling_is_absorbed_by_the_sdk_retry_policy() {
    let faults = FaultConfig {
        throttle: 0.3,
        server_error: 0.05,
        unavailable: 0.05,
        ..FaultConfig::default()
    };
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        seed: 42,
        faults,
    })
    .await;
    let retry = RetrySettings {
        initial_backoff: Duration::from_millis(20),
        ..firedrill::aws::RETRY
    };
    let ec2 = sandbox.clients_with_retry(retry).await.ec2();
    for _ in 0..25 {
        ec2.describe_instances()
            .send()
            .await
            .expect("every call succeeds after retries");
    }
    let stats = sandbox.stats().await;
    let throttled = stats.faults.get("throttle").copied().unwrap_or(0);
    assert!(throttled > 0, "some calls were throttled: {stats:?}");
    assert_eq!(
        stats.calls["ec2:DescribeInstances"],
        25 + stats.faults.values().sum::<u64>()
    );
}

async fn fault_log(seed: u64) -> Vec<String> {
    let faults = FaultConfig {
        throttle: 0.4,
        server_error: 0.1,
        ..FaultConfig::default()
    };
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        seed,
        faults,
    })
    .await;
    let retry = RetrySettings {
        max_attempts: 1,
        ..firedrill::aws::RETRY
    };
    let clients = sandbox.clients_with_retry(retry).await;
    let (rds, sts) = (clients.rds(), clients.sts());
    for _ in 0..15 {
        let _ = rds.describe_db_instances().send().await;
        let _ = sts.get_caller_identity().send().await;
    }
    sandbox.stats().await.fault_log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_gives_the_same_fault_sequence() {
    let (a, b, c) = tokio::join!(fault_log(7), fault_log(7), fault_log(8));
    assert_eq!(a.len(), 30);
    assert!(
        a.iter().any(|l| !l.ends_with(":none")),
        "faults were injected: {a:?}"
    );
    assert_eq!(a, b, "the same seed repeats the faults exactly");
    assert_ne!(a, c, "another seed gives other faults");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_match_the_calls_made() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let clients = sandbox.clients().await;
    for _ in 0..3 {
        clients
            .rds()
            .describe_db_instances()
            .send()
            .await
            .expect("rds");
    }
    for _ in 0..2 {
        clients.ec2().describe_volumes().send().await.expect("ec2");
    }
    clients
        .sts()
        .get_caller_identity()
        .send()
        .await
        .expect("sts");
    clients
        .route53()
        .list_hosted_zones()
        .send()
        .await
        .expect("route53");
    clients
        .ec2()
        .create_volume()
        .availability_zone("us-east-1a")
        .size(1)
        .send()
        .await
        .expect("create");
    let stats = sandbox.stats().await;
    let calls: Vec<(&str, u64)> = stats.calls.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        calls,
        [
            ("ec2:CreateVolume", 1),
            ("ec2:DescribeVolumes", 2),
            ("rds:DescribeDBInstances", 3),
            ("route53:ListHostedZones", 1),
            ("sts:GetCallerIdentity", 1)
        ]
    );
    assert_eq!((stats.total, stats.mutating), (8, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_creates_a_tagged_production_side_with_aged_recovery_points() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let text = std::fs::read_to_string(support::root().join("examples/quickstart/seed.yaml"))
        .expect("seed");
    let seeded = sandbox.seed(&text).await;
    let clients = sandbox.clients().await;
    assert!(seeded.created.iter().any(|c| c == "bucket shop-backups"));
    let snaps = clients
        .rds()
        .describe_db_snapshots()
        .db_instance_identifier("shop-prod")
        .send()
        .await
        .expect("snapshots");
    let mut ages: Vec<(String, i64)> = snaps
        .db_snapshots()
        .iter()
        .map(|s| {
            let created = s.snapshot_create_time().expect("a time");
            let age = chrono::Utc::now().timestamp() - created.secs();
            (
                s.db_snapshot_identifier().unwrap_or_default().to_owned(),
                (age + 1800) / 3600,
            )
        })
        .collect();
    ages.sort();
    assert_eq!(
        ages,
        [
            ("shop-prod-nightly-1".to_owned(), 2),
            ("shop-prod-nightly-2".to_owned(), 26),
            ("shop-prod-nightly-3".to_owned(), 50)
        ],
        "only the seeded snapshots, with their ages in hours"
    );
    let tags = snaps.db_snapshots()[0].tag_list();
    assert!(
        tags.iter()
            .any(|t| t.key() == Some("environment") && t.value() == Some("production")),
        "{tags:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_another_account_with_zero_mutating_calls() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let root = support::root();
    let (_, loaded) = firedrill::playbook::load(&root.join("playbooks/shop.yaml"));
    let mut playbook = loaded.expect("the quickstart validates").playbook;
    playbook.sandbox.accounts = vec!["111122223333".into()];
    let clients = sandbox.clients().await;
    let refusal = guard::check(&clients, &playbook.sandbox.accounts)
        .await
        .expect_err("refused");
    assert!(
        matches!(&refusal, Refusal::WrongAccount { found, .. } if found == "123456789012"),
        "{refusal:?}"
    );
    let message = refusal.to_string();
    assert!(message.contains("allows only 111122223333"), "{message}");
    let stats = sandbox.stats().await;
    assert_eq!(stats.mutating, 0, "no mutating call: {stats:?}");
    assert_eq!(
        stats.calls.keys().collect::<Vec<_>>(),
        ["sts:GetCallerIdentity"]
    );

    let identity = guard::check(&clients, &["123456789012".into()])
        .await
        .expect("the sandbox account passes");
    assert_eq!(identity.account, "123456789012");
}
