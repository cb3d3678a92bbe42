//! Benchmark program (not a timed test) of the local sandbox, once moto is installed:
//! start-to-ready time, the median latency the realism layer adds to a call on loopback (the
//! same call straight to moto and through the layer, alternated, in one run), and what a DNS
//! answer of its name server costs against one Route53 read straight from moto (each answer
//! reads the zones and the zone's records from moto).
//!
//! `cargo bench --bench sandbox`

use std::time::{Duration, Instant};

use firedrill::aws::Clients;
use firedrill::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, local};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("firedrill-bench-sandbox-{}", std::process::id()));
    local::ensure_moto(&mut |line| eprintln!("{line}")).expect("moto installs");
    let options = SandboxOptions {
        proxy: ProxyConfig {
            time_scale: 0.0,
            ..ProxyConfig::default()
        },
        ..SandboxOptions::default()
    };

    let mut starts = Vec::new();
    for _ in 0..5 {
        let began = Instant::now();
        let sandbox = LocalSandbox::start(&options, &dir).await.expect("starts");
        starts.push(began.elapsed());
        sandbox.stop().await;
    }

    let sandbox = LocalSandbox::start(&options, &dir).await.expect("starts");
    let direct = Clients::for_sandbox(&format!("http://{}", sandbox.moto_addr), "us-east-1")
        .await
        .sts();
    let layered = Clients::for_sandbox(&sandbox.endpoint(), "us-east-1")
        .await
        .sts();
    for _ in 0..50 {
        direct.get_caller_identity().send().await.expect("warm up");
        layered.get_caller_identity().send().await.expect("warm up");
    }
    let (mut d, mut l) = (Vec::new(), Vec::new());
    for _ in 0..300 {
        let t = Instant::now();
        direct.get_caller_identity().send().await.expect("direct");
        d.push(t.elapsed());
        let t = Instant::now();
        layered
            .get_caller_identity()
            .send()
            .await
            .expect("through the layer");
        l.push(t.elapsed());
    }
    let (md, ml) = (median(d), median(l));
    let (dns, read) = dns_against_route53(&sandbox).await;
    println!("local sandbox (moto {}), 2-core VM:", local::MOTO_VERSION);
    println!(
        "  start to ready: median {:.0} ms, best {:.0} ms over 5 starts (target: under 3 s)",
        ms(median(starts.clone())),
        ms(*starts.iter().min().expect("5"))
    );
    println!(
        "  GetCallerIdentity, median of 300: {:.2} ms straight to moto, {:.2} ms through the realism layer: {:.2} ms added, {:.2}x (target: under 2 ms added)",
        ms(md),
        ms(ml),
        ms(ml.saturating_sub(md)),
        ml.as_secs_f64() / md.as_secs_f64()
    );
    println!(
        "  DNS A query, median of 300: {:.2} ms; one ListResourceRecordSets straight to moto {:.2} ms: {:.2}x (target: under 20 ms)",
        ms(dns),
        ms(read),
        dns.as_secs_f64() / read.as_secs_f64()
    );
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Medians of a DNS query to the sandbox's name server and of a record-set read straight from
/// moto, alternated, for a zone of 20 records.
async fn dns_against_route53(sandbox: &LocalSandbox) -> (Duration, Duration) {
    use firedrill::steps::probe::names;
    use hickory_resolver::proto::rr::RecordType;

    let mut seed =
        String::from("region: us-east-1\nhosted_zones:\n  - name: shop.internal.\n    records:\n");
    for i in 0..20 {
        seed.push_str(&format!(
            "      - {{ name: host{i}, type: A, values: [10.0.0.{i}] }}\n"
        ));
    }
    let file = firedrill::language::diag::SourceFile {
        name: "bench-seed.yaml".into(),
        text: seed,
    };
    let seed = firedrill::sandbox::seed::parse(&file).expect("the seed parses");
    let endpoint = sandbox.endpoint();
    let clients = Clients::for_sandbox(&endpoint, "us-east-1").await;
    firedrill::sandbox::seed::apply(&seed, &clients, &endpoint)
        .await
        .expect("seeded");
    let route53 = Clients::for_sandbox(&format!("http://{}", sandbox.moto_addr), "us-east-1")
        .await
        .route53();
    let zones = route53.list_hosted_zones().send().await.expect("zones");
    let zone = zones.hosted_zones()[0].id().to_owned();
    let server = sandbox.dns_addr();
    let (mut dns, mut read) = (Vec::new(), Vec::new());
    for i in 0..320 {
        let t = Instant::now();
        let answer = names::query(server, "host7.shop.internal.", RecordType::A)
            .await
            .expect("an answer");
        let took = t.elapsed();
        assert_eq!(answer, ["10.0.0.7"]);
        let t = Instant::now();
        route53
            .list_resource_record_sets()
            .hosted_zone_id(&zone)
            .send()
            .await
            .expect("records");
        // The first 20 of each warm up.
        if i >= 20 {
            dns.push(took);
            read.push(t.elapsed());
        }
    }
    (median(dns), median(read))
}
