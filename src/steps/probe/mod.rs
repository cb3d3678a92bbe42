//! Health probes: `probe.http`, `probe.tcp`, `probe.dns`, `probe.sql`, `probe.command`.
//!
//! A probe keeps trying at `retry.interval` until it is healthy or `retry.until` has passed;
//! its time to healthy is what milestones measure.
//!
//! The language side (this file) never imports AWS, store or engine code; the calls are in
//! [`action`], `probe.sql` in [`sql`], and how names are looked up in [`names`].

pub mod action;
pub mod names;
pub mod sql;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::shapes::{OneOrMany, Scalar};
use crate::language::template::{Ref, Template, Tpl};
use crate::steps::common::Command as Process;
use crate::steps::kind::{CheckCx, Kind, seconds};

const PROBE_OUTPUTS: &[&str] = &["attempts", "time_to_healthy_secs"];

/// HTTP methods a probe may use.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[allow(clippy::upper_case_acronyms)]
pub enum Method {
    /// GET (default).
    #[default]
    GET,
    /// HEAD.
    HEAD,
    /// POST.
    POST,
    /// PUT.
    PUT,
    /// OPTIONS.
    OPTIONS,
}

/// What a healthy HTTP answer looks like.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    /// The status code, or codes (default 200).
    pub status: Option<OneOrMany<u16>>,
    /// Text the body must contain.
    pub body_contains: Option<Template>,
    /// A regular expression the body must match.
    pub body_regex: Option<String>,
    /// JSON values at paths (`status: ok`, `checks.db: up`), with dotted paths into the body.
    #[serde(default)]
    pub json: BTreeMap<String, Scalar>,
}

/// Probe an HTTP(S) endpoint.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// The URL.
    pub url: Template,
    /// The method (default GET).
    #[serde(default)]
    pub method: Method,
    /// Request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, Template>,
    /// A request body.
    pub body: Option<Template>,
    /// What a healthy answer looks like.
    #[serde(default)]
    pub expect: HttpExpect,
    /// Verify TLS certificates (default true): against `ca_file` when given, else the
    /// system's roots.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// A PEM file of the certificate authorities to trust instead of the system's (relative
    /// to the playbook).
    pub ca_file: Option<Template>,
    /// How long one attempt may take (default 10s).
    #[serde(default = "ten_seconds")]
    pub attempt_timeout: Duration,
}

fn yes() -> bool {
    true
}

fn ten_seconds() -> Duration {
    Duration::from_secs(10)
}

impl Kind for Http {
    const NAME: &'static str = "probe.http";
    const SUMMARY: &'static str =
        "Probe an HTTP(S) endpoint until the status, body or JSON values are as expected.";
    const DEFAULT_ESTIMATE: Duration = seconds(10);
    const OUTPUTS: &'static [&'static str] = &["status", "attempts", "time_to_healthy_secs"];

    const LITERAL_FIELDS: &'static [&'static str] = &["expect.body_regex"];

    fn describe(&self) -> String {
        let status: Vec<String> = self.expect.status.as_ref().map_or(vec!["200".into()], |s| {
            s.0.iter().map(u16::to_string).collect()
        });
        format!(
            "{:?} {} until it answers {}",
            self.method,
            self.url,
            status.join(" or ")
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if !self.tls_verify && self.ca_file.is_some() {
            cx.error(
                &["ca_file"],
                "`ca_file` is for verifying certificates, and `tls_verify: false` verifies none",
                "remove one of them",
            );
        }
        if let Some(url) = self.url.as_literal()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            cx.error(
                &["url"],
                format!("`{url}` is not an http:// or https:// URL"),
                "write the whole URL, like http://app.internal/health",
            );
        }
        if let Some(status) = &self.expect.status {
            for code in &status.0 {
                if !(100..=599).contains(code) {
                    cx.error(
                        &["expect", "status"],
                        format!("{code} is not an HTTP status"),
                        "write a status from 100 to 599",
                    );
                }
            }
        }
        if let Some(re) = &self.expect.body_regex
            && let Err(err) = regex_syntax::Parser::new().parse(re)
        {
            cx.error(
                &["expect", "body_regex"],
                format!("the regular expression does not parse: {err}"),
                "check the escaping; YAML single quotes keep backslashes as they are",
            );
        }
        check_attempt_timeout(cx, self.attempt_timeout);
    }
}

fn check_attempt_timeout(cx: &mut CheckCx<'_>, timeout: Duration) {
    if timeout.is_zero() {
        cx.error(
            &["attempt_timeout"],
            "an attempt cannot take 0s",
            "write how long one attempt may take, like 5s",
        );
    }
}

/// Probe that a TCP port accepts connections.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tcp {
    /// The host name or address.
    pub host: Template,
    /// The port.
    pub port: Tpl<u16>,
    /// How long one connection attempt may take (default 5s).
    #[serde(default = "five_seconds")]
    pub attempt_timeout: Duration,
}

fn five_seconds() -> Duration {
    Duration::from_secs(5)
}

impl Kind for Tcp {
    const NAME: &'static str = "probe.tcp";
    const SUMMARY: &'static str = "Probe that a TCP port accepts a connection.";
    const DEFAULT_ESTIMATE: Duration = seconds(5);
    const OUTPUTS: &'static [&'static str] = PROBE_OUTPUTS;

    fn describe(&self) -> String {
        let port = match &self.port {
            Tpl::Lit(p) => p.to_string(),
            Tpl::Template(t) => t.to_string(),
        };
        format!("connect to {}:{port} until it accepts", self.host)
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.port == Tpl::Lit(0) {
            cx.error(
                &["port"],
                "port 0 cannot be connected to",
                "write the service's port",
            );
        }
        check_attempt_timeout(cx, self.attempt_timeout);
    }
}

/// How `probe.dns` looks a name up.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DnsVia {
    /// A DNS query (default): to `server` when it is given, else in a run on the local sandbox
    /// to its name server (for the names of its Route53 zones), else through the system
    /// resolver.
    #[default]
    Resolver,
    /// The record set read through the Route53 API.
    Route53,
}

/// Probe that a name resolves to the expected values.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// The name to look up.
    pub name: Template,
    /// The record type (default A).
    #[serde(default = "a_record", rename = "type")]
    pub record_type: crate::steps::route53::RecordType,
    /// The values the answer must contain (any answer passes when empty).
    #[serde(default)]
    pub expect: Option<OneOrMany<Template>>,
    /// How to look the name up.
    #[serde(default)]
    pub via: DnsVia,
    /// A name server `address[:port]` to ask instead of the system resolver.
    pub server: Option<String>,
    /// With `via: route53`, the hosted zone (default: found from the name).
    pub zone: Option<Template>,
}

fn a_record() -> crate::steps::route53::RecordType {
    crate::steps::route53::RecordType::A
}

impl Kind for Dns {
    const NAME: &'static str = "probe.dns";
    const SUMMARY: &'static str =
        "Probe that a name resolves to the expected values, by DNS or through the Route53 API.";
    const DEFAULT_ESTIMATE: Duration = seconds(10);
    const OUTPUTS: &'static [&'static str] = &["values", "attempts", "time_to_healthy_secs"];

    const LITERAL_FIELDS: &'static [&'static str] = &["server"];

    fn describe(&self) -> String {
        let via = match self.via {
            DnsVia::Resolver => self
                .server
                .as_ref()
                .map_or("DNS".to_string(), |s| format!("DNS server {s}")),
            DnsVia::Route53 => "the Route53 API".to_string(),
        };
        let expect = self.expect.as_ref().map_or("any value".to_string(), |e| {
            e.0.iter().map(Template::raw).collect::<Vec<_>>().join(", ")
        });
        format!(
            "look up {:?} `{}` through {via} until it gives {expect}",
            self.record_type, self.name
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.via == DnsVia::Route53 && self.server.is_some() {
            cx.error(
                &["server"],
                "`server` is for DNS queries, not `via: route53`",
                "remove `server`, or use `via: resolver`",
            );
        }
        if self.via == DnsVia::Resolver && self.zone.is_some() {
            cx.error(
                &["zone"],
                "`zone` is for `via: route53`",
                "remove `zone`, or add `via: route53`",
            );
        }
        if let Some(server) = &self.server
            && !server.contains("${")
            && server.parse::<std::net::SocketAddr>().is_err()
            && server.parse::<std::net::IpAddr>().is_err()
        {
            cx.error(
                &["server"],
                format!("`{server}` is not an address"),
                "write an IP address, optionally with a port: 127.0.0.1:5353",
            );
        }
    }
}

/// Databases `probe.sql` speaks to.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// PostgreSQL (and Aurora PostgreSQL).
    Postgres,
    /// MySQL, MariaDB (and Aurora MySQL).
    Mysql,
}

/// What `probe.sql` measures besides health.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Measure {
    /// The query returns the newest data timestamp; RPO = drill start (or disaster time) minus it.
    Rpo,
}

/// What a healthy query result looks like.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlExpect {
    /// The number of rows.
    pub rows: Option<u64>,
    /// At least this many rows.
    pub min_rows: Option<u64>,
    /// The first column of the first row, as text.
    pub value: Option<Scalar>,
}

/// Probe a database with a query.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sql {
    /// The database engine.
    pub engine: Engine,
    /// The host, usually `${steps.db.outputs.endpoint}`.
    pub host: Template,
    /// The port, usually `${steps.db.outputs.port}`.
    pub port: Tpl<u16>,
    /// The database name.
    pub database: Template,
    /// The user.
    pub user: Template,
    /// The password: a secret reference, `${secret:env:NAME}` or `${secret:ssm:/path}`.
    pub password: Option<Template>,
    /// The query.
    pub query: Template,
    /// What a healthy result looks like (default: the query succeeds).
    #[serde(default)]
    pub expect: SqlExpect,
    /// `rpo`: the query returns the newest data timestamp, which gives the data-level RPO.
    pub measures: Option<Measure>,
    /// Use TLS (default true).
    #[serde(default = "yes")]
    pub tls: bool,
    /// Verify the server's certificate and name (default true): against `ca_file` when given
    /// (for RDS, its CA bundle), else the system's roots.
    #[serde(default = "yes")]
    pub tls_verify: bool,
    /// A PEM file of the certificate authorities to trust (relative to the playbook).
    pub ca_file: Option<Template>,
    /// How long one attempt may take (default 10s).
    #[serde(default = "ten_seconds")]
    pub attempt_timeout: Duration,
}

impl Kind for Sql {
    const NAME: &'static str = "probe.sql";
    const SUMMARY: &'static str = "Probe a PostgreSQL or MySQL database with a query; with `measures: rpo`, the newest data timestamp gives the data-level RPO.";
    const DEFAULT_ESTIMATE: Duration = seconds(10);
    /// With `measures: rpo`, also `newest_data_time` and `rpo_secs` (declared by `check`).
    const OUTPUTS: &'static [&'static str] = &["value", "rows", "attempts", "time_to_healthy_secs"];

    fn describe(&self) -> String {
        let rpo = if self.measures == Some(Measure::Rpo) {
            " and measure the data RPO"
        } else {
            ""
        };
        format!(
            "query {:?} database `{}` on {}{rpo}",
            self.engine, self.database, self.host
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.measures == Some(Measure::Rpo) {
            cx.declared_outputs
                .extend(["newest_data_time".to_owned(), "rpo_secs".to_owned()]);
        }
        if let Some(password) = &self.password {
            let is_secret = password
                .refs()
                .any(|r| matches!(r.target, Ref::Secret { .. }));
            if !is_secret {
                cx.error(
                    &["password"],
                    "a password must come from a secret, not the playbook",
                    "write `${secret:env:NAME}` or `${secret:ssm:/path/to/parameter}`",
                );
            }
        }
        if self.query.raw().trim().is_empty() {
            cx.error(
                &["query"],
                "the query is empty",
                "write a query, like `select 1`",
            );
        }
        if !self.tls && (!self.tls_verify || self.ca_file.is_some()) {
            cx.error(
                &[if self.ca_file.is_some() {
                    "ca_file"
                } else {
                    "tls_verify"
                }],
                "certificate settings need `tls: true`",
                "remove them, or remove `tls: false`",
            );
        }
        check_attempt_timeout(cx, self.attempt_timeout);
    }

    fn measures_rpo(&self) -> bool {
        self.measures == Some(Measure::Rpo)
    }
}

/// What a healthy command looks like.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandExpect {
    /// The exit code (default 0).
    #[serde(default)]
    pub exit_code: i32,
    /// Text standard output must contain.
    pub stdout_contains: Option<Template>,
    /// A regular expression standard output must match.
    pub stdout_regex: Option<String>,
}

/// Probe by running a process.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// A shell command, or a list: program and arguments.
    pub command: Process,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    /// The working directory (default: the playbook's directory).
    pub dir: Option<Template>,
    /// What a healthy run looks like.
    #[serde(default)]
    pub expect: CommandExpect,
    /// How long one attempt may take (default 10s).
    #[serde(default = "ten_seconds")]
    pub attempt_timeout: Duration,
}

impl Kind for Command {
    const NAME: &'static str = "probe.command";
    const SUMMARY: &'static str = "Probe by running a process whose exit code and output decide.";
    const DEFAULT_ESTIMATE: Duration = seconds(10);
    const OUTPUTS: &'static [&'static str] =
        &["exit_code", "stdout", "attempts", "time_to_healthy_secs"];

    const LITERAL_FIELDS: &'static [&'static str] = &["expect.stdout_regex"];

    fn describe(&self) -> String {
        format!(
            "run `{}` until it exits {}",
            self.command, self.expect.exit_code
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.command.is_empty() {
            cx.error(
                &["command"],
                "the command is empty",
                "write the command to run",
            );
        }
        if let Some(re) = &self.expect.stdout_regex
            && let Err(err) = regex_syntax::Parser::new().parse(re)
        {
            cx.error(
                &["expect", "stdout_regex"],
                format!("the regular expression does not parse: {err}"),
                "check the escaping",
            );
        }
        check_attempt_timeout(cx, self.attempt_timeout);
    }
}
