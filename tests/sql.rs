//! `probe.sql` against real database servers started by the test: PostgreSQL (and MariaDB
//! for the MySQL protocol) from Debian's packages, seeded with rows of known timestamps.
//! The data-level RPO is checked to the second; every failure says what the probe saw.

mod support;

use chrono::{DateTime, Duration as Span, SubsecRound, Utc};
use firedrill::engine::exit;
use support::db::Tls;
use support::mysql::{self, Mysql};
use support::postgres::{self, Postgres};
use support::{Test, failures, step};

/// Runs the drill `yaml` in `dir` with `args`, the PostgreSQL password in `DB_PASSWORD`;
/// returns the JSON report.
fn drill(dir: &std::path::Path, yaml: &str, args: &[&str], code: u8) -> serde_json::Value {
    Test::new()
        .env("DB_PASSWORD", postgres::PASSWORD)
        .args(args.iter().copied())
        .code(code)
        .drill(dir, yaml)
        .1
}

/// Seeds `orders` with rows whose newest is `newest`.
async fn seed_orders(pg: &Postgres, newest: DateTime<Utc>) {
    pg.exec("postgres", "create database shop").await;
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string();
    pg.exec(
        "shop",
        &format!(
            "create table orders (id serial primary key, total numeric, created_at timestamptz not null);
             insert into orders (total, created_at) values
               (10.50, '{}'), (20, '{}'), (30, '{}');
             create table empty (created_at timestamptz);",
            at(newest - Span::days(2)),
            at(newest),
            at(newest - Span::hours(1)),
        ),
    )
    .await;
}

const TARGETS: &str = "targets: { rpo: 1h }";
const HEAD: &str = "version: 1\nname: sql\nsandbox: { accounts: [\"123456789012\"] }\n";

fn sql_step(id: &str, port: u16, extra: &str) -> String {
    format!(
        r"  {id}:
    uses: probe.sql
    on_failure: continue
    retry: {{ interval: 10ms, until: 200ms }}
    with:
      engine: postgres
      host: 127.0.0.1
      port: {port}
      database: shop
      user: {user}
      password: ${{secret:env:DB_PASSWORD}}
{extra}",
        user = postgres::USER
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_rpo_is_measured_to_the_second_from_the_newest_row() {
    let pg = Postgres::start(None);
    // Rows written 47m13.4s before the declared disaster: the RPO is 2833 s, not 2834.
    let disaster = Utc::now().trunc_subsecs(0) - Span::hours(3);
    let newest = disaster - Span::seconds(2833) - Span::milliseconds(400);
    seed_orders(&pg, newest).await;
    let dir = tempfile::tempdir().expect("dir");
    let yaml = format!(
        "{HEAD}{TARGETS}\nsteps:\n{}",
        sql_step(
            "orders",
            pg.port,
            "      tls: false\n      query: select max(created_at) from orders\n      measures: rpo\n      expect: { rows: 1 }\n"
        )
    );
    let disaster_arg = disaster.to_rfc3339();
    let report = drill(
        dir.path(),
        &yaml,
        &["--disaster-time", &disaster_arg],
        exit::OK,
    );
    let orders = step(&report, "orders");
    assert_eq!(orders["state"], "succeeded", "{report}");
    assert_eq!(orders["outputs"]["rpo_secs"], "2833", "{report}");
    assert_eq!(orders["outputs"]["rows"], "1");
    let written = DateTime::parse_from_rfc3339(
        orders["outputs"]["newest_data_time"]
            .as_str()
            .expect("time"),
    )
    .expect("RFC 3339");
    assert_eq!(written, newest, "the newest row's time, to the millisecond");
    assert_eq!(report["rpo"]["measured_secs"], 2833.0, "{report}");
    assert_eq!(report["rpo"]["met"], true);
    assert_eq!(
        report["rpo"]["margin_secs"], 767.0,
        "an hour's target minus 2833 s"
    );
    assert_eq!(
        report["disaster_at"],
        disaster.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );

    // Without a declared disaster the RPO runs to the drill's start: more than the hour
    // target, so the drill misses it.
    let report = drill(dir.path(), &yaml, &[], exit::TARGET_MISSED);
    let started = DateTime::parse_from_rfc3339(report["started_at"].as_str().expect("start"))
        .expect("RFC 3339");
    let expected = (started.to_utc() - newest).num_seconds();
    let measured = step(&report, "orders")["outputs"]["rpo_secs"]
        .as_str()
        .expect("rpo_secs")
        .parse::<i64>()
        .expect("whole seconds");
    assert_eq!(measured, expected, "{report}");
    assert_eq!(report["rpo"]["met"], false, "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expectations_hold_the_result_and_every_failure_says_what_the_probe_saw() {
    let pg = Postgres::start(None);
    seed_orders(&pg, Utc::now() - Span::minutes(5)).await;
    // A port that accepts connections and never answers: the attempt times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_port = silent.local_addr().expect("addr").port();
    let closed = support::db::free_port();
    let q = "      tls: false\n";
    let steps = [
        sql_step(
            "count",
            pg.port,
            &format!(
                "{q}      query: select count(*) from orders\n      expect: {{ value: 3, min_rows: 1 }}\n"
            ),
        ),
        sql_step(
            "total",
            pg.port,
            &format!(
                "{q}      query: select sum(total) from orders\n      expect: {{ value: 60.5 }}\n"
            ),
        ),
        sql_step(
            "truth",
            pg.port,
            &format!(
                "{q}      query: select count(*) = 3 from orders\n      expect: {{ value: true }}\n"
            ),
        ),
        sql_step(
            "rows",
            pg.port,
            &format!("{q}      query: select id from orders\n      expect: {{ rows: 2 }}\n"),
        ),
        sql_step(
            "value",
            pg.port,
            &format!("{q}      query: select count(*) from orders\n      expect: {{ value: 4 }}\n"),
        ),
        sql_step(
            "no-data",
            pg.port,
            &format!("{q}      query: select max(created_at) from empty\n      measures: rpo\n"),
        ),
        sql_step(
            "bad-sql",
            pg.port,
            &format!("{q}      query: select * from nowhere\n"),
        ),
        sql_step("refused", closed, &format!("{q}      query: select 1\n")),
        sql_step(
            "silent",
            silent_port,
            &format!("{q}      query: select 1\n      attempt_timeout: 100ms\n"),
        ),
    ];
    let mut yaml = format!("{HEAD}steps:\n{}", steps.join(""));
    // The wrong password, from its own secret.
    yaml.push_str(
        &sql_step("password", pg.port, &format!("{q}      query: select 1\n"))
            .replace("DB_PASSWORD", "WRONG_PASSWORD"),
    );
    let dir = tempfile::tempdir().expect("dir");
    let (out, report) = Test::new()
        .env("DB_PASSWORD", postgres::PASSWORD)
        .env("WRONG_PASSWORD", "not-the-password")
        .code(exit::STEP_FAILED)
        .drill(dir.path(), &yaml);
    for id in ["count", "total", "truth"] {
        assert_eq!(step(&report, id)["state"], "succeeded", "{id}: {report}");
    }
    assert_eq!(step(&report, "count")["outputs"]["value"], "3");
    let expect = [
        ("rows", "the query gave 3 rows, not 2"),
        ("value", "the query's first value is `3`, not `4`"),
        ("no-data", "the query gave no timestamp (no rows, or NULL)"),
        ("bad-sql", "relation \\\"nowhere\\\" does not exist"),
        ("refused", "Connection refused"),
        ("silent", "did not answer within 100ms"),
        (
            "password",
            "password authentication failed for user \\\"drill\\\"",
        ),
    ];
    for (id, reason) in expect {
        assert_eq!(step(&report, id)["state"], "failed", "{id}: {report}");
        let f = failures(&report, id);
        assert!(f.contains(reason), "{id}: {reason:?} not in {f}");
    }
    assert!(
        !out.stdout.contains(postgres::PASSWORD) && !out.stderr.contains("not-the-password"),
        "a password reached the output"
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_on_by_default_and_verifies_the_server_certificate() {
    let tls = Tls::new();
    let pg = Postgres::start(Some(&tls));
    seed_orders(&pg, Utc::now() - Span::minutes(5)).await;
    let dir = tempfile::tempdir().expect("dir");
    let ca = tls.write_ca(dir.path());
    let query = "      query: select count(*) from orders\n      expect: { value: 3 }\n";
    let yaml = format!(
        "{HEAD}steps:\n{}{}{}",
        sql_step(
            "trusted",
            pg.port,
            &format!("      ca_file: {}\n{query}", ca.display())
        ),
        sql_step("unknown-ca", pg.port, query),
        sql_step(
            "unverified",
            pg.port,
            &format!("      tls_verify: false\n{query}")
        ),
    );
    let report = drill(dir.path(), &yaml, &[], exit::STEP_FAILED);
    assert_eq!(step(&report, "trusted")["state"], "succeeded", "{report}");
    assert_eq!(
        step(&report, "unverified")["state"],
        "succeeded",
        "{report}"
    );
    assert_eq!(step(&report, "unknown-ca")["state"], "failed", "{report}");
    let f = failures(&report, "unknown-ca");
    assert!(f.contains("certificate"), "{f}");

    // The server takes plain connections too: `tls: false` really is plain, and the
    // default really is encrypted.
    let yaml = format!(
        "{HEAD}steps:\n{}",
        sql_step(
            "plain",
            pg.port,
            "      tls: false\n      query: select ssl from pg_stat_ssl where pid = pg_backend_pid()\n      expect: { value: false }\n"
        ),
    );
    let report = drill(dir.path(), &yaml, &[], exit::OK);
    assert_eq!(step(&report, "plain")["state"], "succeeded", "{report}");
    let yaml = format!(
        "{HEAD}steps:\n{}",
        sql_step(
            "encrypted",
            pg.port,
            &format!(
                "      ca_file: {}\n      query: select ssl from pg_stat_ssl where pid = pg_backend_pid()\n      expect: {{ value: true }}\n",
                ca.display()
            )
        ),
    );
    let report = drill(dir.path(), &yaml, &[], exit::OK);
    assert_eq!(step(&report, "encrypted")["state"], "succeeded", "{report}");
}

#[test]
fn mysql_too_measures_the_data_rpo_over_verified_tls() {
    let disaster = Utc::now().trunc_subsecs(0) - Span::hours(1);
    let newest = disaster - Span::seconds(125) - Span::milliseconds(250);
    let at = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    let tls = Tls::new();
    let db = Mysql::start(
        Some(&tls),
        &format!(
            "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME(3) NOT NULL);\n\
             INSERT INTO orders (created_at) VALUES ('{}'), ('{}');",
            at(newest - Span::days(1)),
            at(newest)
        ),
    );
    let dir = tempfile::tempdir().expect("dir");
    let ca = tls.write_ca(dir.path());
    let yaml = format!(
        "{HEAD}{TARGETS}\nsteps:\n  orders:\n    uses: probe.sql\n    with:\n      engine: mysql\n      \
         host: 127.0.0.1\n      port: {port}\n      database: shop\n      user: {user}\n      \
         password: ${{secret:env:MYSQL_PASSWORD}}\n      ca_file: {ca}\n      \
         query: select max(created_at) from orders\n      measures: rpo\n  \
         encrypted:\n    uses: probe.sql\n    with:\n      engine: mysql\n      \
         host: 127.0.0.1\n      port: {port}\n      database: shop\n      user: {user}\n      \
         password: ${{secret:env:MYSQL_PASSWORD}}\n      ca_file: {ca}\n      \
         query: \"select variable_value like 'TLS%' from information_schema.session_status where variable_name = 'Ssl_version'\"\n      \
         expect: {{ value: true }}\n",
        port = db.port,
        user = mysql::USER,
        ca = ca.display(),
    );
    let (_, report) = Test::new()
        .env("MYSQL_PASSWORD", mysql::PASSWORD)
        .args(["--disaster-time", &disaster.to_rfc3339()])
        .drill(dir.path(), &yaml);
    let orders = step(&report, "orders");
    assert_eq!(orders["outputs"]["rpo_secs"], "125", "{report}");
    assert_eq!(report["rpo"]["measured_secs"], 125.0, "{report}");
    assert_eq!(
        step(&report, "encrypted")["outputs"]["value"],
        "1",
        "{report}"
    );
}
