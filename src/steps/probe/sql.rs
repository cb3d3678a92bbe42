//! `probe.sql`: one attempt connects to a PostgreSQL or MySQL database (sqlx), runs the query
//! and holds its result to the step's expectations. With `measures: rpo` the first value of
//! the result is the newest data timestamp, and the step's `rpo_secs` is the data-level RPO:
//! the drill's start (or the declared disaster time) minus that timestamp.
//!
//! The query runs as a plain (simple-protocol) statement, so every value arrives as the
//! database's own text: expectations compare text, numbers as numbers and booleans by truth.
//! PostgreSQL sessions use the time zone UTC and MySQL sessions `+00:00`, so a timestamp
//! without a zone is read as UTC.
//!
//! Verified TLS trusts the step's `ca_file`, else (in a run on the local sandbox) the sandbox's
//! authority, else the system's roots.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlSslMode};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Row};

use crate::steps::context::{Outputs, Perform, StepCx, StepError};
use crate::steps::probe::action::{healthy, resolve, within};
use crate::steps::probe::{Engine, Measure, Sql};

/// A query's result, every value as text (`None`: SQL NULL).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Rows {
    /// The number of rows.
    pub count: u64,
    /// The first column of the first row.
    pub first: Option<String>,
}

/// Where and how to connect, resolved for one attempt.
struct Target {
    engine: Engine,
    host: String,
    /// Where the local sandbox's name server says `host` is (none: the driver looks it up).
    address: Option<std::net::IpAddr>,
    port: u16,
    database: String,
    user: String,
    password: Option<String>,
    tls: bool,
    tls_verify: bool,
    ca_file: Option<PathBuf>,
}

impl Target {
    /// Where the driver connects: the address the sandbox gave, else the host.
    fn connect_host(&self) -> String {
        self.address
            .map_or_else(|| self.host.clone(), |ip| ip.to_string())
    }

    fn name(&self) -> String {
        let engine = match self.engine {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        };
        format!(
            "{engine} database `{}` on {}:{} as `{}`",
            self.database, self.host, self.port, self.user
        )
    }
}

/// One attempt of a `probe.sql`.
pub async fn sql(with: &Sql, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let host = cx.render(&with.host)?;
    let target = Target {
        engine: with.engine,
        address: cx
            .shared
            .names
            .sandbox_addresses(&host)
            .await
            .map_err(|e| StepError::failed(e.to_string()))?
            .and_then(|ips| ips.first().copied()),
        host,
        port: resolve(cx, &with.port, "port")?,
        database: cx.render(&with.database)?,
        user: cx.render(&with.user)?,
        password: with.password.as_ref().map(|p| cx.render(p)).transpose()?,
        tls: with.tls,
        tls_verify: with.tls_verify,
        // On the local sandbox its authority, unless the step names its own.
        ca_file: with
            .ca_file
            .as_ref()
            .map(|f| cx.path(f))
            .transpose()?
            .or_else(|| cx.shared.sandbox_ca.clone()),
    };
    let query = cx.render(&with.query)?;
    let name = target.name();
    let rows = within(with.attempt_timeout.0, &name, async {
        tokio::select! {
            rows = fetch(&target, query) => rows.map_err(|e| StepError::failed(format!("{name}: {e}"))),
            () = cx.cancel.cancelled() => Err(StepError::Cancelled),
        }
    })
    .await?;
    let mut out = judge(with, &rows)?;
    if with.measures == Some(Measure::Rpo) {
        let text = rows.first.as_deref().ok_or_else(|| {
            StepError::failed(
                "the query gave no timestamp (no rows, or NULL): with `measures: rpo` it must \
                 return the newest data time, like `select max(created_at) from orders`",
            )
        })?;
        let newest = parse_timestamp(text).ok_or_else(|| {
            StepError::failed(format!(
                "`{text}` is not a timestamp: with `measures: rpo` the query's first value must \
                 be the newest data time (a timestamp, or seconds since 1970)"
            ))
        })?;
        out.insert(
            "newest_data_time".into(),
            crate::engine::event::rfc3339(newest),
        );
        out.insert("rpo_secs".into(), cx.rpo_secs(newest));
    }
    out.extend(healthy(cx, attempt));
    Ok(out)
}

/// Connects, runs `query`, and closes.
async fn fetch(target: &Target, query: String) -> Result<Rows, sqlx::Error> {
    let query = sqlx::AssertSqlSafe(query);
    match target.engine {
        Engine::Postgres => {
            let mut options = PgConnectOptions::new()
                .host(&target.connect_host())
                .port(target.port)
                .database(&target.database)
                .username(&target.user)
                .application_name("firedrill")
                .options([("TimeZone", "UTC")])
                .ssl_mode(match (target.tls, target.tls_verify) {
                    (false, _) => PgSslMode::Disable,
                    (true, false) => PgSslMode::Require,
                    (true, true) => PgSslMode::VerifyFull,
                });
            if let Some(password) = &target.password {
                options = options.password(password);
            }
            if let Some(ca) = &target.ca_file {
                options = options.ssl_root_cert(ca);
            }
            let mut conn = PgConnection::connect_with(&options).await?;
            let rows = sqlx::raw_sql(query).fetch_all(&mut conn).await;
            // Closing is a courtesy: the result is what the attempt came for.
            let _ = conn.close().await;
            Ok(summarize(&rows?))
        }
        Engine::Mysql => {
            let mut options = MySqlConnectOptions::new()
                .host(&target.connect_host())
                .port(target.port)
                .database(&target.database)
                .username(&target.user)
                .timezone(Some("+00:00".to_owned()))
                .ssl_mode(match (target.tls, target.tls_verify) {
                    (false, _) => MySqlSslMode::Disabled,
                    (true, false) => MySqlSslMode::Required,
                    (true, true) => MySqlSslMode::VerifyIdentity,
                });
            if let Some(password) = &target.password {
                options = options.password(password);
            }
            if let Some(ca) = &target.ca_file {
                options = options.ssl_ca(ca);
            }
            let mut conn = MySqlConnection::connect_with(&options).await?;
            let rows = sqlx::raw_sql(query).fetch_all(&mut conn).await;
            let _ = conn.close().await;
            Ok(summarize(&rows?))
        }
    }
}

/// The count and first value of text-protocol rows.
fn summarize<R: Row>(rows: &[R]) -> Rows
where
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    Rows {
        count: rows.len() as u64,
        first: rows.first().and_then(|row| {
            if row.is_empty() {
                return None;
            }
            // The simple protocol gives every value as text, whatever its column's type.
            row.try_get_unchecked::<Option<String>, usize>(0)
                .ok()
                .flatten()
        }),
    }
}

/// The outputs of a result that meets `with.expect`, or why it does not.
fn judge(with: &Sql, rows: &Rows) -> Result<Outputs, StepError> {
    let expect = &with.expect;
    if let Some(want) = expect.rows
        && rows.count != want
    {
        return Err(StepError::failed(format!(
            "the query gave {} row{}, not {want}",
            rows.count,
            plural(rows.count)
        )));
    }
    if let Some(min) = expect.min_rows
        && rows.count < min
    {
        return Err(StepError::failed(format!(
            "the query gave {} row{}, fewer than {min}",
            rows.count,
            plural(rows.count)
        )));
    }
    if let Some(want) = &expect.value {
        match &rows.first {
            Some(got) if same_value(got, &want.0) => {}
            Some(got) => {
                return Err(StepError::failed(format!(
                    "the query's first value is `{got}`, not `{}`",
                    want.0
                )));
            }
            None if rows.count == 0 => {
                return Err(StepError::failed(format!(
                    "the query gave no rows, so no value `{}`",
                    want.0
                )));
            }
            None => {
                return Err(StepError::failed(format!(
                    "the query's first value is NULL, not `{}`",
                    want.0
                )));
            }
        }
    }
    let mut out = Outputs::new();
    out.insert("rows".into(), rows.count.to_string());
    out.insert("value".into(), rows.first.clone().unwrap_or_default());
    Ok(out)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Whether a value the database gave as text is the one the playbook expects: the same text,
/// the same number (`1.50` and `1.5`), or the same truth (PostgreSQL's `t`, MySQL's `1`).
pub fn same_value(got: &str, want: &str) -> bool {
    if got == want {
        return true;
    }
    if let (Ok(a), Ok(b)) = (got.trim().parse::<f64>(), want.trim().parse::<f64>()) {
        // The same decimal text parses to the same float: exact comparison is the point.
        #[allow(clippy::float_cmp)]
        return a == b;
    }
    let truth = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "1" | "yes" | "on" => Some(true),
        "f" | "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    };
    matches!(want, "true" | "false") && truth(got).is_some() && truth(got) == truth(want)
}

/// A timestamp as PostgreSQL or MySQL write it as text (`2026-11-26 01:00:00.25+00`,
/// `2026-11-26 01:00:00`, RFC 3339, a date), or seconds since 1970 (`extract(epoch ...)`,
/// `unix_timestamp(...)`). A time without a zone is UTC.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.to_utc());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc());
    }
    let secs: f64 = text.parse().ok()?;
    if !secs.is_finite() {
        return None;
    }
    // Whole milliseconds; far inside i64 for any real timestamp.
    #[allow(clippy::cast_possible_truncation)]
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
}

impl Perform for Sql {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        sql(self, cx, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("RFC 3339").to_utc()
    }

    #[test]
    fn timestamps_as_the_databases_write_them() {
        let t = at("2026-11-26T01:02:03Z");
        for text in [
            "2026-11-26 01:02:03+00",
            "2026-11-26 02:02:03+01",
            "2026-11-26 01:02:03+00:00",
            "2026-11-26 01:02:03",
            "2026-11-26T01:02:03Z",
            "2026-11-26T01:02:03",
            "1795654923",
            "1795654923.000000",
            " 2026-11-26 01:02:03 ",
        ] {
            assert_eq!(parse_timestamp(text), Some(t), "{text}");
        }
        assert_eq!(
            parse_timestamp("2026-11-26 01:02:03.25+00"),
            Some(at("2026-11-26T01:02:03.25Z"))
        );
        assert_eq!(
            parse_timestamp("2026-11-26"),
            Some(at("2026-11-26T00:00:00Z"))
        );
        for text in ["", "yesterday", "NaN", "inf", "2026-13-01"] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn values_compare_as_text_numbers_or_truth() {
        assert!(same_value("checkout", "checkout"));
        assert!(!same_value("Checkout", "checkout"));
        assert!(same_value("1.50", "1.5"));
        assert!(same_value("42", "42.0"));
        assert!(!same_value("42", "43"));
        assert!(same_value("t", "true"));
        assert!(same_value("1", "true"));
        assert!(same_value("f", "false"));
        assert!(!same_value("t", "false"));
        assert!(
            !same_value("yes", "t"),
            "only a playbook's true/false compare by truth"
        );
    }
}
