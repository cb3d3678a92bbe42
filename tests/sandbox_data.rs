//! The local sandbox's data plane: a restored RDS instance's described endpoint answers SQL,
//! through a real PostgreSQL server, with the rows its recovery point held and nothing else's;
//! asked through the real SDK and a real PostgreSQL client, and through the quickstart drill,
//! whose data-level RPO is the seeded gap.

mod support;

use aws_sdk_rds::primitives::DateTime as AwsTime;
use chrono::{DateTime, Utc};
use firedrill::sandbox::{ProxyConfig, SandboxRecord, local};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{ConnectOptions, Connection};
use support::sandbox::{StopSandbox, TestSandbox, processes_under, with_children};
use support::{Test, step};

/// Two production databases with snapshots (an order every ten minutes for two days, the
/// newest at seeding time), and one instance without data.
const SEED: &str = r"
region: us-east-1
rds_instances:
  - id: books-prod
    snapshots:
      - { id: books-old, age: 26h }
      - { id: books-new, age: 2h, copies: [eu-west-1] }
    database:
      user: books
      password: pw-books
      tables:
        - name: orders
          columns:
            - id bigserial primary key
            - item text not null
            - total numeric(10,2)
          timestamp: placed_at
          rows: { every: 10m, for: 2d }
  - id: other-prod
    snapshots: [{ id: other-1, age: 1h }]
    database:
      user: other
      password: pw-other
      tables:
        - { name: secrets, columns: [v text], timestamp: at, rows: { every: 1h, for: 3h } }
  - id: bare-prod
    snapshots: [{ id: bare-1, age: 1h }]
aurora_clusters:
  - id: ledger-prod
    snapshots: [{ id: ledger-1, age: 3h }]
    database:
      user: books
      password: pw-books
      tables:
        - name: orders
          columns: [id bigint]
          timestamp: placed_at
          rows: { every: 1h, for: 10h }
";

async fn sandbox() -> (TestSandbox, firedrill::sandbox::seed::Seeded) {
    let sandbox = TestSandbox::start(ProxyConfig {
        time_scale: 0.0,
        ..ProxyConfig::default()
    })
    .await;
    let seeded = sandbox.seed(SEED).await;
    (sandbox, seeded)
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// The endpoint the SDK describes for instance `id`.
async fn endpoint(sandbox: &TestSandbox, id: &str) -> (String, u16) {
    let described = sandbox
        .clients()
        .await
        .rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe");
    let e = described.db_instances()[0].endpoint().expect("an endpoint");
    let port = u16::try_from(e.port().expect("a port")).expect("a port number");
    (e.address().expect("an address").to_owned(), port)
}

async fn restore(sandbox: &TestSandbox, snapshot: &str, id: &str) -> (String, u16) {
    sandbox
        .clients()
        .await
        .rds()
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier(id)
        .db_snapshot_identifier(snapshot)
        .send()
        .await
        .expect("restore");
    endpoint(sandbox, id).await
}

async fn connect(
    (host, port): &(String, u16),
    user: &str,
    password: &str,
) -> Result<PgConnection, sqlx::Error> {
    PgConnectOptions::new()
        .host(host)
        .port(*port)
        .username(user)
        .password(password)
        .database("books")
        .ssl_mode(PgSslMode::Prefer)
        .disable_statement_logging()
        .connect()
        .await
}

/// The newest order's time and the number of orders.
async fn orders(conn: &mut PgConnection) -> (DateTime<Utc>, i64) {
    let (newest, count): (Option<i64>, i64) =
        sqlx::query_as("select extract(epoch from max(placed_at))::bigint, count(*) from orders")
            .fetch_one(conn)
            .await
            .expect("the orders");
    let newest = newest.map_or(DateTime::UNIX_EPOCH, |s| {
        DateTime::from_timestamp(s, 0).expect("a time")
    });
    (newest, count)
}

fn message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_restore_answers_with_the_snapshots_rows_and_not_newer_ones() {
    let (sandbox, seeded) = sandbox().await;
    let old_at = time(&seeded.recovery_points["books-old"]);
    let new_at = time(&seeded.recovery_points["books-new"]);

    let old = restore(&sandbox, "books-old", "drill-old").await;
    let new = restore(&sandbox, "books-new", "drill-new").await;
    assert_eq!(old.0, "127.0.0.1", "a loopback endpoint");
    assert_ne!(old.1, new.1, "each instance has its own endpoint");

    let mut a = connect(&old, "books", "pw-books").await.expect("connects");
    let mut b = connect(&new, "books", "pw-books").await.expect("connects");
    // Orders every 10 minutes from 48 h ago: the snapshot 26 h old holds 22 h of them, the
    // newest placed as it was taken.
    assert_eq!(orders(&mut a).await, (old_at, 22 * 6 + 1));
    assert_eq!(orders(&mut b).await, (new_at, 46 * 6 + 1));

    // Each instance's data is its own.
    sqlx::query("insert into orders (item, placed_at) values ('drill', now())")
        .execute(&mut a)
        .await
        .expect("insert");
    assert_eq!(
        orders(&mut b).await.1,
        46 * 6 + 1,
        "the other copy is untouched"
    );
    let names: (String, String) = (
        sqlx::query_scalar("select current_database()")
            .fetch_one(&mut a)
            .await
            .expect("name"),
        sqlx::query_scalar("select current_database()")
            .fetch_one(&mut b)
            .await
            .expect("name"),
    );
    assert_ne!(names.0, names.1);

    // Wrong credentials, and another database's master user, are refused.
    let wrong = connect(&old, "books", "nope").await.expect_err("refused");
    assert!(
        message(&wrong).contains("password authentication failed"),
        "{wrong}"
    );
    let other = connect(&old, "other", "pw-other")
        .await
        .expect_err("refused");
    assert!(message(&other).contains("permission denied"), "{other}");
}

/// The endpoints speak TLS with a certificate the sandbox's own authority signed for 127.0.0.1:
/// verified against that authority it connects, against the system's roots it does not.
#[tokio::test(flavor = "multi_thread")]
async fn endpoints_speak_tls_verified_by_the_sandboxs_authority() {
    let (sandbox, _) = sandbox().await;
    let (host, port) = restore(&sandbox, "books-new", "drill-tls").await;
    let options = || {
        PgConnectOptions::new()
            .host(&host)
            .port(port)
            .username("books")
            .password("pw-books")
            .ssl_mode(PgSslMode::VerifyFull)
            .disable_statement_logging()
    };
    let mut conn = options()
        .ssl_root_cert(&sandbox.sandbox.ca)
        .connect()
        .await
        .expect("verified TLS");
    let ssl: bool = sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .expect("ssl");
    assert!(
        !ssl,
        "TLS ends at the endpoint; the server behind it is on loopback"
    );
    assert_eq!(orders(&mut conn).await.1, 46 * 6 + 1);
    let refused = options()
        .connect()
        .await
        .expect_err("not trusted by the system");
    assert!(
        refused.to_string().to_lowercase().contains("certificate"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_point_in_time_restore_holds_the_rows_up_to_its_time() {
    let (sandbox, seeded) = sandbox().await;
    // The newest order was placed at seeding time, 2 h after the newest snapshot.
    let seeded_at = time(&seeded.recovery_points["books-new"]) + chrono::Duration::hours(2);
    let cut = seeded_at - chrono::Duration::minutes(5 * 60 + 3);
    let rds = sandbox.clients().await.rds();
    rds.restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("books-prod")
        .target_db_instance_identifier("drill-pitr")
        .restore_time(AwsTime::from_secs(cut.timestamp()))
        .send()
        .await
        .expect("restore to a point in time");
    rds.restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("books-prod")
        .target_db_instance_identifier("drill-latest")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect("restore to the latest time");

    let at = endpoint(&sandbox, "drill-pitr").await;
    let mut conn = connect(&at, "books", "pw-books").await.expect("connects");
    // Orders from 48 h to 5 h 10 min ago: the one 5 h ago came after the restore time.
    assert_eq!(
        orders(&mut conn).await,
        (
            seeded_at - chrono::Duration::minutes(5 * 60 + 10),
            288 - 31 + 1
        )
    );
    let latest = endpoint(&sandbox, "drill-latest").await;
    let mut conn = connect(&latest, "books", "pw-books")
        .await
        .expect("connects");
    assert_eq!(orders(&mut conn).await, (seeded_at, 288 + 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_instance_takes_its_data_and_a_stopped_one_answers_nothing() {
    let (sandbox, _) = sandbox().await;
    let rds = sandbox.clients().await.rds();
    let at = restore(&sandbox, "books-new", "drill-a").await;
    let mut conn = connect(&at, "books", "pw-books").await.expect("connects");
    sqlx::query("delete from orders")
        .execute(&mut conn)
        .await
        .expect("delete");

    // Stopped through the control endpoint: open sessions end, new ones are refused.
    local::request(
        &sandbox.endpoint,
        http::Method::POST,
        "/__firedrill/data/stop",
        Some(br#"{"instance": "drill-a"}"#.to_vec()),
    )
    .await
    .expect("stop");
    assert!(sqlx::query("select 1").execute(&mut conn).await.is_err());
    let refused = connect(&at, "books", "pw-books")
        .await
        .expect_err("stopped");
    assert!(matches!(refused, sqlx::Error::Io(_)), "{refused}");
    local::request(
        &sandbox.endpoint,
        http::Method::POST,
        "/__firedrill/data/start",
        Some(br#"{"instance": "drill-a"}"#.to_vec()),
    )
    .await
    .expect("start");
    let mut conn = connect(&at, "books", "pw-books")
        .await
        .expect("started again");
    assert_eq!(orders(&mut conn).await.1, 0, "its data is as it was");
    conn.close().await.expect("close");

    rds.delete_db_instance()
        .db_instance_identifier("drill-a")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete");
    let gone = connect(&at, "books", "pw-books")
        .await
        .expect_err("deleted");
    assert!(matches!(gone, sqlx::Error::Io(_)), "{gone}");
    let again = restore(&sandbox, "books-new", "drill-a").await;
    let mut conn = connect(&again, "books", "pw-books")
        .await
        .expect("connects");
    assert_eq!(
        orders(&mut conn).await.1,
        46 * 6 + 1,
        "a fresh copy of the snapshot"
    );
}

/// An Aurora cluster restored from its cluster snapshot: its endpoint and each instance created
/// in it reach the cluster's one copy of the data; deleting the cluster drops it.
#[tokio::test(flavor = "multi_thread")]
async fn a_cluster_restore_answers_at_the_cluster_and_its_instances() {
    let (sandbox, seeded) = sandbox().await;
    let at = time(&seeded.recovery_points["ledger-1"]);
    let rds = sandbox.clients().await.rds();
    rds.restore_db_cluster_from_snapshot()
        .db_cluster_identifier("drill-ledger")
        .snapshot_identifier("ledger-1")
        .engine("aurora-postgresql")
        .send()
        .await
        .expect("restore the cluster");
    rds.create_db_instance()
        .db_instance_identifier("drill-ledger-1")
        .db_cluster_identifier("drill-ledger")
        .engine("aurora-postgresql")
        .db_instance_class("db.r6g.large")
        .send()
        .await
        .expect("an instance in it");
    let cluster = rds
        .describe_db_clusters()
        .db_cluster_identifier("drill-ledger")
        .send()
        .await
        .expect("describe");
    let c = &cluster.db_clusters()[0];
    assert_eq!(c.endpoint(), Some("127.0.0.1"));
    assert_eq!(c.reader_endpoint(), Some("127.0.0.1"));
    let writer = (
        "127.0.0.1".to_owned(),
        u16::try_from(c.port().expect("a port")).expect("a port"),
    );
    let member = endpoint(&sandbox, "drill-ledger-1").await;
    assert_ne!(writer.1, member.1, "the instance has its own endpoint");

    let mut w = connect(&writer, "books", "pw-books")
        .await
        .expect("connects");
    // Rows every hour for 10 h, the snapshot 3 h old: 8 of them.
    assert_eq!(orders(&mut w).await, (at, 8));
    sqlx::query("insert into orders (id, placed_at) values (0, now())")
        .execute(&mut w)
        .await
        .expect("write at the writer");
    let mut m = connect(&member, "books", "pw-books")
        .await
        .expect("connects");
    assert_eq!(
        orders(&mut m).await.1,
        9,
        "the instance reads the cluster's data"
    );
    drop((w, m));

    // To a point in time: the rows up to it (the newest at seeding; every hour before).
    let seeded_at = at + chrono::Duration::hours(3);
    rds.restore_db_cluster_to_point_in_time()
        .source_db_cluster_identifier("ledger-prod")
        .db_cluster_identifier("drill-ledger-pitr")
        .restore_to_time(AwsTime::from_secs(
            (seeded_at - chrono::Duration::minutes(90)).timestamp(),
        ))
        .send()
        .await
        .expect("restore the cluster to a point in time");
    let described = rds
        .describe_db_clusters()
        .db_cluster_identifier("drill-ledger-pitr")
        .send()
        .await
        .expect("describe");
    let pitr = (
        "127.0.0.1".to_owned(),
        u16::try_from(described.db_clusters()[0].port().expect("a port")).expect("a port"),
    );
    let mut p = connect(&pitr, "books", "pw-books").await.expect("connects");
    assert_eq!(
        orders(&mut p).await,
        (seeded_at - chrono::Duration::hours(2), 9),
        "the rows written up to 90 minutes before seeding"
    );
    drop(p);

    rds.delete_db_instance()
        .db_instance_identifier("drill-ledger-1")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete the instance");
    rds.delete_db_cluster()
        .db_cluster_identifier("drill-ledger")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete the cluster");
    let gone = connect(&writer, "books", "pw-books")
        .await
        .expect_err("deleted");
    assert!(matches!(gone, sqlx::Error::Io(_)), "{gone}");
}

/// A snapshot a drill takes of a restored instance holds what it was restored from; a copy of
/// a seeded snapshot (named by its ARN, as a cross-region copy is) holds what the snapshot does.
#[tokio::test(flavor = "multi_thread")]
async fn snapshots_a_drill_takes_or_copies_hold_their_sources_data() {
    let (sandbox, seeded) = sandbox().await;
    let rds = sandbox.clients().await.rds();
    restore(&sandbox, "books-new", "drill-src").await;
    rds.create_db_snapshot()
        .db_instance_identifier("drill-src")
        .db_snapshot_identifier("drill-src-snap")
        .send()
        .await
        .expect("snapshot");
    let again = restore(&sandbox, "drill-src-snap", "drill-again").await;
    let mut conn = connect(&again, "books", "pw-books")
        .await
        .expect("connects");
    assert_eq!(orders(&mut conn).await.1, 46 * 6 + 1);

    let arn = rds
        .describe_db_snapshots()
        .db_snapshot_identifier("books-old")
        .send()
        .await
        .expect("describe")
        .db_snapshots()[0]
        .db_snapshot_arn()
        .expect("an ARN")
        .to_owned();
    rds.copy_db_snapshot()
        .source_db_snapshot_identifier(arn)
        .target_db_snapshot_identifier("books-old-copy")
        .send()
        .await
        .expect("copy");
    let copy = restore(&sandbox, "books-old-copy", "drill-copy").await;
    let mut conn = connect(&copy, "books", "pw-books").await.expect("connects");
    assert_eq!(
        orders(&mut conn).await,
        (time(&seeded.recovery_points["books-old"]), 22 * 6 + 1)
    );
}

/// Regions keep their own: the same identifier restored in two regions (from a snapshot and its
/// cross-region copy) is two databases, and deleting one leaves the other.
#[tokio::test(flavor = "multi_thread")]
async fn the_same_identifier_in_two_regions_is_two_databases() {
    let (sandbox, _) = sandbox().await;
    let east = restore(&sandbox, "books-new", "drill-twin").await;
    let west_rds = sandbox.clients().await.in_region("eu-west-1").rds();
    west_rds
        .restore_db_instance_from_db_snapshot()
        .db_instance_identifier("drill-twin")
        .db_snapshot_identifier("books-new")
        .send()
        .await
        .expect("restore the copy in eu-west-1");
    let described = west_rds
        .describe_db_instances()
        .db_instance_identifier("drill-twin")
        .send()
        .await
        .expect("describe");
    let e = described.db_instances()[0].endpoint().expect("an endpoint");
    let west = (
        e.address().expect("address").to_owned(),
        u16::try_from(e.port().expect("port")).expect("port"),
    );
    assert_ne!(
        east.1, west.1,
        "each region's instance has its own endpoint"
    );
    let mut a = connect(&east, "books", "pw-books").await.expect("connects");
    let mut b = connect(&west, "books", "pw-books").await.expect("connects");
    sqlx::query("delete from orders")
        .execute(&mut a)
        .await
        .expect("delete");
    assert_eq!(
        orders(&mut b).await.1,
        46 * 6 + 1,
        "the other region's copy is untouched"
    );
    drop((a, b));
    sandbox
        .clients()
        .await
        .rds()
        .delete_db_instance()
        .db_instance_identifier("drill-twin")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete in us-east-1");
    let mut b = connect(&west, "books", "pw-books")
        .await
        .expect("still answers");
    assert_eq!(orders(&mut b).await.1, 46 * 6 + 1);
}

/// PostgreSQL's users are the server's: a seed naming a user another database has with another
/// password is refused, and so is the sandbox's own superuser.
#[tokio::test(flavor = "multi_thread")]
async fn a_master_user_is_one_user_with_one_password() {
    let (sandbox, _) = sandbox().await;
    let clients = sandbox.clients().await;
    for (user, says) in [
        ("books", "which `books-prod` has with another password"),
        ("firedrill", "it is the sandbox's own"),
    ] {
        let text = format!(
            "rds_instances:\n  - id: second-{user}\n    snapshots: [{{ age: 1h }}]\n    database: {{ user: {user}, password: other }}\n"
        );
        let file = firedrill::language::diag::SourceFile {
            name: "second.yaml".into(),
            text,
        };
        let seed = firedrill::sandbox::seed::parse(&file).expect("a valid seed");
        let e = firedrill::sandbox::seed::apply(&seed, &clients, &sandbox.endpoint)
            .await
            .expect_err("refused");
        assert!(e.to_string().contains(says), "{e}");
        assert!(!e.to_string().contains("did not answer"), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_without_data_says_so_to_whoever_connects() {
    let (sandbox, _) = sandbox().await;
    let at = restore(&sandbox, "bare-1", "drill-bare").await;
    let e = connect(&at, "postgres", "x").await.expect_err("no data");
    assert!(
        message(&e).contains(
            "snapshot `bare-1` in us-east-1 holds no data in the local sandbox: give its \
             instance a `database:` in the seed file"
        ),
        "{e}"
    );
}

/// The quickstart restores the shop's newest snapshot and asks it for the newest order: the
/// data-level RPO is the snapshot's, to the second. `sandbox stop` leaves no PostgreSQL.
#[test]
fn the_quickstarts_data_level_rpo_is_the_seeded_gap() {
    let state = tempfile::tempdir().expect("state");
    let state_dir = state.path().to_str().expect("utf-8");
    let firedrill = || Test::new().env("FIREDRILL_STATE_DIR", state_dir);
    firedrill()
        .args(["sandbox", "start", "--time-scale", "0"])
        .stdout_has("its restored RDS databases answer SQL (PostgreSQL, on loopback)")
        .run();
    let stop = StopSandbox(state.path().to_path_buf());
    let (_, report) = support::sandbox::run_quickstart(firedrill(), state.path());
    assert_eq!(report["state"], "passed", "{report}");
    let db = &step(&report, "db")["outputs"];
    let data = &step(&report, "data")["outputs"];
    assert_eq!(data["newest_data_time"], db["snapshot_time"], "{report}");
    assert_eq!(data["rpo_secs"], db["rpo_secs"], "{report}");
    let rpo: i64 = data["rpo_secs"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("seconds");
    assert!(
        (7200..7200 + 120).contains(&rpo),
        "the snapshot is 2 h old: {rpo}"
    );

    let servers = with_children(&processes_under(state.path()));
    assert!(
        !servers.is_empty(),
        "a PostgreSQL server runs under the state directory"
    );
    let record = SandboxRecord::load(state.path()).expect("running");
    assert!(
        record.postgres.is_some(),
        "the record says where PostgreSQL is"
    );
    drop(stop);
    let left: Vec<u32> = servers.into_iter().filter(|p| local::alive(*p)).collect();
    assert!(left.is_empty(), "no PostgreSQL process is left: {left:?}");
}

/// `playbooks/checkout-rds.yaml`, written for AWS (its `probe.sql` over verified TLS, the
/// password from the environment, a backup copy in another region), runs on the sandbox as it is:
/// its data-level RPO is its snapshot's.
#[test]
fn the_checkout_drill_runs_on_the_sandbox_as_written_for_aws() {
    let state = tempfile::tempdir().expect("state");
    let state_dir = state.path().to_str().expect("utf-8");
    let firedrill = || Test::new().env("FIREDRILL_STATE_DIR", state_dir);
    firedrill()
        .args([
            "sandbox",
            "start",
            "--time-scale",
            "0",
            "--region",
            "eu-west-1",
        ])
        .run();
    let _stop = StopSandbox(state.path().to_path_buf());
    let seed = support::root().join("playbooks/seeds/eu-west-1.yaml");
    firedrill()
        .args(["sandbox", "seed", seed.to_str().expect("utf-8")])
        .stdout_has("  rds-snapshot checkout-prod-nightly-1 (copy in eu-central-1)\n")
        .run();
    let playbook = support::root().join("playbooks/checkout-rds.yaml");
    let report = state.path().join("checkout.json");
    firedrill()
        .env("CHECKOUT_DB_PASSWORD", "local-sandbox-only")
        .args(["run", "--sandbox", "local"])
        .args([playbook.to_str().expect("utf-8"), "--report"])
        .args([report.to_str().expect("utf-8")])
        .stdout_has("steps: 7 succeeded")
        .run();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report")).expect("JSON");
    let answers = &step(&report, "db-answers")["outputs"];
    assert_eq!(
        answers["newest_data_time"],
        step(&report, "db")["outputs"]["snapshot_time"],
        "{report}"
    );
    assert_eq!(report["state"], "passed", "{report}");
}

/// Without PostgreSQL the sandbox says once why the data plane is off, works otherwise, and a
/// drill's `probe.sql` of a restored database fails with that reason.
#[test]
fn without_postgres_the_sandbox_says_why_and_a_sql_probe_fails_with_it() {
    let state = tempfile::tempdir().expect("state");
    let state_dir = state.path().to_str().expect("utf-8");
    let missing = state.path().join("no-postgres-here");
    let firedrill = || {
        Test::new()
            .env("FIREDRILL_STATE_DIR", state_dir)
            .env("FIREDRILL_POSTGRES_BIN", missing.to_str().expect("utf-8"))
    };
    firedrill()
        .args(["sandbox", "start", "--time-scale", "0"])
        .stdout_has(&format!(
            "its data plane is off, so restored RDS databases answer no SQL: \
             FIREDRILL_POSTGRES_BIN is {}, which holds no `initdb` and `postgres`",
            missing.display()
        ))
        .run();
    let _stop = StopSandbox(state.path().to_path_buf());
    firedrill()
        .args(["sandbox", "status"])
        .stdout_has("  data plane   off: FIREDRILL_POSTGRES_BIN is ")
        .run();
    let seed = support::root().join("examples/quickstart/seed.yaml");
    firedrill()
        .args(["sandbox", "seed", seed.to_str().expect("utf-8")])
        .stdout_has("  no data for shop-prod: ")
        .run();
    let drill = "version: 1
name: sql-without-postgres
sandbox: { accounts: ['123456789012'], region: us-east-1, teardown: always }
steps:
  db:
    uses: rds.restore-snapshot
    with: { source: shop-prod, snapshot: latest }
  data:
    uses: probe.sql
    with:
      engine: postgres
      host: ${steps.db.outputs.endpoint}
      port: ${steps.db.outputs.port}
      database: shop
      user: shop
      password: ${secret:ssm:/shop/db/password}
      query: select 1
      tls: false
";
    let (_, report) = firedrill()
        .args(["--sandbox", "local"])
        .code(firedrill::engine::exit::STEP_FAILED)
        .drill(state.path(), drill);
    let failures = support::failures(&report, "data");
    assert!(
        failures.contains("the local sandbox's data plane is off: FIREDRILL_POSTGRES_BIN is "),
        "{failures}"
    );
}
