//! Benchmark program (not a timed test) of waiting without wasting API calls: 50 RDS restores
//! in parallel on the local sandbox with its lifecycle delays (time scale 0.01: a 15-minute
//! restore takes about 9 s, ±20%), then their teardown. Prints the API calls the realism layer
//! counted, and the calls a per-resource waiter (one describe per resource per poll interval,
//! for as long as each resource is waited on) would have made for the same run.
//!
//! `cargo bench --bench restores` (`-- --restores N` sets the count).

#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use firedrill::aws::Clients;
use firedrill::language::diag::SourceFile;
use firedrill::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, local, seed};

/// The poll interval `firedrill run` uses against the local sandbox.
const POLL_SECS: f64 = 0.1;

const SEED: &str = "region: us-east-1
rds_instances:
  - id: orders-prod
    snapshots: [{ id: orders-prod-nightly, age: 3h }]
";

fn playbook(endpoint: &str, n: usize) -> String {
    let mut y = format!(
        "version: 1\nname: restores-bench\nsandbox:\n  accounts: [\"123456789012\"]\n  region: us-east-1\n  endpoint: {endpoint}\nsteps:\n"
    );
    for i in 0..n {
        let _ = writeln!(
            y,
            "  db-{i:02}:\n    uses: rds.restore-snapshot\n    with: {{ source: orders-prod }}"
        );
    }
    y
}

#[tokio::main]
async fn main() {
    let n = std::env::args()
        .skip_while(|a| a != "--restores")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_usize);
    let dir = tempfile::tempdir().expect("dir");
    local::ensure_moto(&mut |line| eprintln!("{line}")).expect("moto installs");
    let sandbox = LocalSandbox::start(
        &SandboxOptions {
            proxy: ProxyConfig {
                time_scale: 0.01,
                ..ProxyConfig::default()
            },
            ..SandboxOptions::default()
        },
        dir.path(),
    )
    .await
    .expect("the sandbox starts");
    let endpoint = sandbox.endpoint();
    let clients = Clients::for_sandbox(&endpoint, "us-east-1").await;
    let file = SourceFile {
        name: "seed.yaml".into(),
        text: SEED.into(),
    };
    seed::apply(&seed::parse(&file).expect("seed"), &clients, &endpoint)
        .await
        .expect("seeded");
    local::request(
        &endpoint,
        http::Method::POST,
        "/__firedrill/stats/reset",
        None,
    )
    .await
    .expect("reset");

    let pb = dir.path().join("restores.yaml");
    std::fs::write(&pb, playbook(&endpoint, n)).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_firedrill"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["run", "--log-format", "json"])
        .arg(&pb)
        .output()
        .expect("firedrill runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = local::stats(&endpoint).await.expect("stats");
    sandbox.stop().await;

    // How long each resource was waited on: from its creation to its step's success, and from
    // the start of teardown to its deletion.
    let mut created: BTreeMap<String, f64> = BTreeMap::new();
    let mut waits = Vec::new();
    let mut teardown_from = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(e) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at = e["elapsed_secs"].as_f64().unwrap_or_default();
        let step = e["step"].as_str().unwrap_or_default().to_owned();
        match e["event"].as_str() {
            Some("resource-created") => {
                created.insert(step, at);
            }
            Some("step-succeeded") => {
                if let Some(from) = created.get(&step) {
                    waits.push(at - from);
                }
            }
            Some("teardown-started") => teardown_from = Some(at),
            Some("resource-deleted") => waits.push(at - teardown_from.unwrap_or(at)),
            _ => {}
        }
    }
    // The describes made to wait (not the snapshot lookups, which both ways make once a step).
    let describes: u64 = stats
        .calls
        .iter()
        .filter(|(action, _)| action.as_str() == "rds:DescribeDBInstances")
        .map(|(_, n)| n)
        .sum();
    let per_resource_describes: u64 = waits
        .iter()
        .map(|w| (w / POLL_SECS).ceil() as u64 + 1)
        .sum();
    let per_resource_total = stats.total - describes + per_resource_describes;
    println!("{n} RDS restores in parallel, then their teardown (time scale 0.01, poll 100 ms)");
    println!("  calls counted by the realism layer: {}", stats.total);
    for (action, count) in &stats.calls {
        println!("    {action:<40} {count}");
    }
    println!(
        "  a per-resource waiter would make:   {per_resource_total} ({per_resource_describes} describes over {} waits)",
        waits.len()
    );
    println!(
        "  waiting describes: {describes} vs {per_resource_describes}: {:.1}x fewer",
        per_resource_describes as f64 / describes.max(1) as f64
    );
    println!(
        "  all calls: {} vs {per_resource_total}: {:.1}x fewer",
        stats.total,
        per_resource_total as f64 / stats.total.max(1) as f64
    );
}
