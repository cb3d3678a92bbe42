//! Benchmark program (not a timed test) of the local sandbox's data plane, once moto and
//! PostgreSQL are installed: start-to-ready with the data plane (the sandbox started and a
//! database seeded, which starts PostgreSQL), a snapshot restore of a 100,000-row database at
//! time scale 0 until its endpoint answers a count, and the memory (proportional set size) of
//! the sandbox with 20 restored databases and 20 app instances.
//!
//! `cargo bench --bench data_plane`

use std::time::{Duration, Instant};

use firedrill::aws::Clients;
use firedrill::language::diag::SourceFile;
use firedrill::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, local, seed};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{ConnectOptions, Connection};

/// A small database, which starts PostgreSQL, and the quickstart's app.
const SMALL: &str = "
region: us-east-1
rds_instances:
  - id: small-prod
    snapshots: [{ id: small-1, age: 1h }]
    database:
      user: small
      password: pw
      tables:
        - { name: t, columns: [id bigint], timestamp: at, rows: { every: 1h, for: 10h } }
images:
  - name: app
    age: 1d
    serves: { command: [python3, app.py], port: 8080 }
";

/// A database of orders, one a second for 100,000 s, with a snapshot a second old (100,000
/// rows).
const BIG: &str = "
region: us-east-1
rds_instances:
  - id: big-prod
    snapshots: [{ id: big-1, age: 1s }]
    database:
      user: big
      password: pw
      tables:
        - name: orders
          columns: [id bigint, item text, total numeric]
          timestamp: placed_at
          rows: { every: 1s, for: 100000s }
";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn seeded(sandbox: &LocalSandbox, text: &str) -> Clients {
    let clients = Clients::for_sandbox(&sandbox.endpoint(), "us-east-1").await;
    let file = SourceFile {
        // Relative paths (the app's) are the quickstart's directory's.
        name: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/quickstart/bench.yaml"
        )
        .into(),
        text: text.into(),
    };
    seed::apply(
        &seed::parse(&file).expect("the seed parses"),
        &clients,
        &sandbox.endpoint(),
    )
    .await
    .expect("seeded");
    clients
}

/// Restores `big-1` as `id` and counts its rows through its endpoint.
async fn restore_and_count(clients: &Clients, id: &str) -> i64 {
    let rds = clients.rds();
    rds.restore_db_instance_from_db_snapshot()
        .db_instance_identifier(id)
        .db_snapshot_identifier("big-1")
        .send()
        .await
        .expect("restore");
    let described = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe");
    let e = described.db_instances()[0].endpoint().expect("endpoint");
    let mut conn = PgConnectOptions::new()
        .host(e.address().expect("address"))
        .port(u16::try_from(e.port().expect("port")).expect("port"))
        .username("big")
        .password("pw")
        .ssl_mode(PgSslMode::Disable)
        .disable_statement_logging()
        .connect()
        .await
        .expect("connects");
    let n: i64 = sqlx::query_scalar("select count(*) from orders")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    conn.close().await.expect("close");
    n
}

/// Whether the app at `ip:8080` answers an HTTP request.
async fn answers_http(ip: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect((ip, 8080)).await else {
        return false;
    };
    if stream
        .write_all(b"GET /health HTTP/1.0\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    answer.starts_with(b"HTTP/")
}

/// The proportional set size of this process's descendants (the sandbox's moto, PostgreSQL
/// and apps) and of this process, in MiB, by program name.
fn memory() -> Vec<(String, f64)> {
    let me = std::process::id();
    let mut parents = std::collections::HashMap::new();
    for e in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let parent = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(parent) = parent {
            parents.insert(pid, parent);
        }
    }
    let ours = |mut pid: u32| loop {
        if pid == me {
            return true;
        }
        match parents.get(&pid) {
            Some(p) if *p > 1 => pid = *p,
            _ => return false,
        }
    };
    let mut by_name: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for &pid in parents.keys() {
        if !ours(pid) {
            continue;
        }
        let rollup =
            std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
        let kib: f64 = rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|k| k.parse().ok())
            .unwrap_or(0.0);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let name = match comm.trim() {
            n if n.starts_with("postgres") => "postgres".to_owned(),
            n if n.starts_with("python") => "python3 (apps)".to_owned(),
            // A pyenv shim is a shell script that becomes python3.
            n if n == "bash" || n == "sh" => "shells (before they become an app)".to_owned(),
            n if n.starts_with("moto") => "moto".to_owned(),
            n if n == "data_plane" || n.starts_with("data_plane-") => "this benchmark".to_owned(),
            n => n.to_owned(),
        };
        *by_name.entry(name).or_default() += kib / 1024.0;
    }
    by_name.into_iter().collect()
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("firedrill-bench-data-{}", std::process::id()));
    let options = SandboxOptions {
        proxy: ProxyConfig {
            time_scale: 0.0,
            ..ProxyConfig::default()
        },
        ..SandboxOptions::default()
    };
    // Installs moto and PostgreSQL on first use, outside the figures.
    LocalSandbox::start(&options, &dir)
        .await
        .expect("starts")
        .stop()
        .await;

    let (mut starts, mut ready, mut seeds, mut restores) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..5 {
        let began = Instant::now();
        let sandbox = LocalSandbox::start(&options, &dir).await.expect("starts");
        starts.push(began.elapsed());
        seeded(&sandbox, SMALL).await;
        ready.push(began.elapsed());
        let t = Instant::now();
        let clients = seeded(&sandbox, BIG).await;
        seeds.push(t.elapsed());
        let t = Instant::now();
        let n = restore_and_count(&clients, &format!("big-restored-{round}")).await;
        restores.push(t.elapsed());
        assert_eq!(n, 100_000, "the snapshot's rows");
        sandbox.stop().await;
    }

    let sandbox = LocalSandbox::start(&options, &dir).await.expect("starts");
    seeded(&sandbox, SMALL).await;
    let clients = seeded(&sandbox, BIG).await;
    for i in 0..20 {
        restore_and_count(&clients, &format!("many-{i}")).await;
    }
    let image = clients
        .ec2()
        .describe_images()
        .owners("self")
        .send()
        .await
        .expect("images")
        .images()
        .iter()
        .find(|i| i.name() == Some("app"))
        .expect("the app image")
        .image_id()
        .expect("id")
        .to_owned();
    clients
        .ec2()
        .run_instances()
        .image_id(&image)
        .min_count(20)
        .max_count(20)
        .send()
        .await
        .expect("20 app instances");
    // Every app listening before its memory is read.
    let described = clients
        .ec2()
        .describe_instances()
        .send()
        .await
        .expect("describe");
    for instance in described
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
    {
        let ip = instance
            .private_ip_address()
            .expect("an address")
            .to_owned();
        // The sandbox's front listens at once; the app has started when it answers HTTP.
        while !answers_http(&ip).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let memory = memory();
    let total: f64 = memory.iter().map(|(_, mib)| mib).sum();
    sandbox.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "local sandbox data plane (moto {}), 2-core VM:",
        local::MOTO_VERSION
    );
    println!(
        "  start to ready, median of 5: {:.0} ms; with the data plane (PostgreSQL started by a first seeded database): {:.0} ms (target: under 3 s)",
        ms(median(starts)),
        ms(median(ready))
    );
    println!(
        "  seeding a 100,000-row database and its snapshot's copy, median of 5: {:.0} ms",
        ms(median(seeds))
    );
    println!(
        "  snapshot restore of 100,000 rows at time scale 0, until its endpoint counts them, median of 5: {:.0} ms (target: under 1 s)",
        ms(median(restores))
    );
    println!(
        "  memory with 20 restored databases and 20 app instances (proportional set size): {total:.0} MiB"
    );
    for (name, mib) in &memory {
        if *mib >= 1.0 {
            println!("    {name}: {mib:.0} MiB");
        }
    }
}
