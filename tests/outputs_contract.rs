//! The outputs contract: every step kind, run as a user runs it (`firedrill run` against a
//! seeded local sandbox, with real HTTP and PostgreSQL servers for the probes), produces
//! exactly the outputs validation lets other steps refer to — the kind's declared outputs plus
//! what the step itself declares (a `run` step's `outputs`, a stack template's `Outputs`). An
//! action that drops a declared output, or produces one nobody can refer to, fails here.

mod support;

use std::collections::BTreeSet;

use firedrill::engine::exit;
use firedrill::sandbox::ProxyConfig;
use support::postgres::{self, Postgres};
use support::sandbox::TestSandbox;
use support::{Test, step};

const SEED: &str = r"
region: us-east-1
rds_instances:
  - id: shop-prod
    snapshots:
      - { id: shop-prod-nightly-1, age: 2h, tags: { kind: nightly } }
aurora_clusters:
  - id: orders-prod
    snapshots: [{ id: orders-prod-nightly, age: 20h }]
images:
  - { name: shop-app, tags: { role: shop }, age: 5d }
ebs_snapshots:
  - size_gib: 20
    tags: { volume: shop-uploads }
    snapshots: [{ age: 6h }]
hosted_zones:
  - name: shop.internal.
    records:
      - { name: www, type: A, values: [10.0.1.10], ttl: 300 }
";

/// A playbook with a step of every kind.
fn playbook(endpoint: &str, http: u16, pg: u16) -> String {
    format!(
        r#"version: 1
name: contract
targets: {{ rpo: 26h }}
sandbox:
  accounts: ["123456789012"]
  region: us-east-1
  endpoint: {endpoint}
steps:
  db:
    uses: rds.restore-snapshot
    with: {{ source: shop-prod }}
  pitr:
    uses: rds.restore-pitr
    with: {{ source: shop-prod }}
  orders:
    uses: rds.restore-cluster
    with: {{ source: orders-prod, snapshot: orders-prod-nightly }}
  network:
    uses: cloudformation.stack
    with: {{ template: network.yaml, parameters: {{ Cidr: 10.98.0.0/16 }} }}
  app:
    uses: ec2.launch
    with: {{ image: {{ latest_tagged: {{ role: shop }} }}, subnet: "${{steps.network.outputs.Subnet}}" }}
  data:
    uses: ec2.restore-volume
    with:
      snapshot: {{ latest_tagged: {{ volume: shop-uploads }} }}
      attach: {{ instance: "${{steps.app.outputs.id}}", device: /dev/sdf }}
  www:
    uses: route53.record
    with: {{ zone: shop.internal., name: www, type: A, value: 10.9.9.9, ttl: 30 }}
  backups:
    uses: check.backups
    with: {{ resources: [{{ type: rds-instance, id: shop-prod }}] }}
  http:
    uses: probe.http
    with: {{ url: "http://127.0.0.1:{http}/health", expect: {{ status: 200 }} }}
  tcp:
    uses: probe.tcp
    with: {{ host: 127.0.0.1, port: {http} }}
  dns:
    uses: probe.dns
    needs: [www]
    with: {{ name: www.shop.internal., via: route53, expect: 10.9.9.9 }}
    retry: {{ interval: 100ms, until: 5s }}
  sql:
    uses: probe.sql
    with:
      engine: postgres
      host: 127.0.0.1
      port: {pg}
      database: shop
      user: {user}
      password: ${{secret:env:DB_PASSWORD}}
      tls: false
      query: select 1
  sql-rpo:
    uses: probe.sql
    with:
      engine: postgres
      host: 127.0.0.1
      port: {pg}
      database: shop
      user: {user}
      password: ${{secret:env:DB_PASSWORD}}
      tls: false
      query: select now() - interval '5 minutes'
      measures: rpo
  version:
    uses: probe.command
    with: {{ command: echo build 4.2.1, expect: {{ stdout_regex: 'build \d+' }} }}
  script:
    uses: run
    with:
      command: 'echo "url=http://db.local" >> "$FIREDRILL_OUTPUTS"'
      outputs: [url]
  settle:
    uses: wait
    with: {{ duration: 10ms }}
  gate:
    uses: manual
    with: {{ prompt: Is the team ready? }}
"#,
        user = postgres::USER,
    )
}

/// An HTTP server that answers every request with 200.
fn http_server() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    support::serve_loopback(|mut socket| async move {
        let mut buf = vec![0; 4096];
        let _ = socket.read(&mut buf).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
        let _ = socket.shutdown().await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_produces_exactly_the_outputs_it_declares() {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.01,
        ..ProxyConfig::default()
    })
    .await;
    sandbox.seed(SEED).await;
    let pg = Postgres::start(None);
    pg.exec("postgres", "create database shop").await;
    let http = http_server();

    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("network.yaml"), support::NETWORK_TEMPLATE).expect("template");
    let yaml = playbook(&sandbox.endpoint, http, pg.port);
    let state = dir.path().join("state");
    let (root, state) = (dir.path().to_path_buf(), state.display().to_string());
    let yaml_run = yaml.clone();
    let (out, report) = tokio::task::spawn_blocking(move || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", &state)
            .env("DB_PASSWORD", postgres::PASSWORD)
            .args(["--auto-approve"])
            .code(exit::OK)
            .drill(&root, &yaml_run)
    })
    .await
    .expect("ran");
    assert_eq!(report["state"], "passed", "{}\n{report}", out.stdout);

    // Every kind is in the playbook.
    let (_, loaded) = firedrill::playbook::load(&dir.path().join("drill.yaml"));
    let playbook = loaded.expect("the playbook is valid").playbook;
    let used: BTreeSet<&str> = playbook
        .steps
        .iter()
        .map(firedrill::playbook::Step::uses)
        .collect();
    let all: BTreeSet<&str> = firedrill::steps::NAMES.iter().copied().collect();
    assert_eq!(used, all, "a kind without a step in this test");

    let mut broken = Vec::new();
    for s in &playbook.steps {
        let declared: BTreeSet<&str> = s.outputs.names().collect();
        let produced: BTreeSet<&str> = step(&report, &s.id)["outputs"]
            .as_object()
            .expect("outputs")
            .keys()
            .map(String::as_str)
            .collect();
        if declared != produced {
            broken.push(format!(
                "{} ({}): declares {declared:?}, produced {produced:?}",
                s.id,
                s.uses()
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
