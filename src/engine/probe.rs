//! Probes: one attempt of `probe.dns`, `probe.tcp` or `probe.command`. An attempt that finds the
//! service unhealthy fails with what it saw; the step's `retry` (interval, until) makes the
//! probe keep trying, and the outputs of the healthy attempt say how many attempts it took and
//! how long after the step started the service was healthy.

use std::time::Duration;

use super::step::{Outputs, StepCx, StepError};
use crate::kinds::probe::{Command, Dns, DnsVia, Tcp};
use crate::kinds::route53::RecordType;
use crate::template::Tpl;

/// The outputs every healthy probe gives.
fn healthy(cx: &StepCx, attempt: u32) -> Outputs {
    let mut out = Outputs::new();
    out.insert("attempts".into(), attempt.to_string());
    out.insert(
        "time_to_healthy_secs".into(),
        format!("{:.3}", cx.started.elapsed().as_secs_f64()),
    );
    out
}

/// `value`, or the value its template gives, parsed.
fn resolve<T: std::str::FromStr + Clone>(
    cx: &StepCx,
    value: &Tpl<T>,
    what: &str,
) -> Result<T, StepError> {
    match value {
        Tpl::Lit(v) => Ok(v.clone()),
        Tpl::Template(t) => {
            let text = cx.render(t)?;
            text.trim()
                .parse()
                .map_err(|_| StepError::failed(format!("{what} `{text}` is not valid")))
        }
    }
}

/// Runs `attempt`, failing it with a timeout message after `limit`.
async fn within<F: Future<Output = Result<Outputs, StepError>>>(
    limit: Duration,
    what: &str,
    attempt: F,
) -> Result<Outputs, StepError> {
    tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(StepError::failed(format!(
                "{what} did not answer within {}",
                crate::duration::Duration(limit)
            )))
        })
}

/// One attempt of a `probe.tcp`.
pub async fn tcp(with: &Tcp, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let host = cx.render(&with.host)?;
    let port: u16 = resolve(cx, &with.port, "port")?;
    let target = format!("{host}:{port}");
    within(with.attempt_timeout.0, &target, async {
        tokio::select! {
            connected = tokio::net::TcpStream::connect(&target) => connected
                .map(|_| healthy(cx, attempt))
                .map_err(|e| StepError::failed(format!("{target} refused the connection: {e}"))),
            () = cx.cancel.cancelled() => Err(StepError::Cancelled),
        }
    })
    .await
}

fn normalized(value: &str, record_type: RecordType) -> String {
    match record_type {
        RecordType::CNAME | RecordType::MX | RecordType::SRV => {
            value.trim_end_matches('.').to_ascii_lowercase()
        }
        RecordType::TXT => value.trim_matches('"').to_owned(),
        _ => value.to_owned(),
    }
}

/// One attempt of a `probe.dns`.
pub async fn dns(with: &Dns, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let name = cx.render(&with.name)?;
    let mut found = match with.via {
        DnsVia::Route53 => {
            let zone = with.zone.as_ref().map(|z| cx.render(z)).transpose()?;
            super::route53::lookup(cx.clients()?, &name, with.record_type, zone.as_deref()).await?
        }
        DnsVia::Resolver => {
            if let Some(server) = &with.server {
                return Err(StepError::failed(format!(
                    "asking a given name server ({server}) is not supported by this version of \
                     firedrill: drop `server:` to use the system resolver, or use `via: route53`"
                )));
            }
            if !matches!(with.record_type, RecordType::A | RecordType::AAAA) {
                return Err(StepError::failed(format!(
                    "the system resolver answers A and AAAA lookups here, not {:?}: use `via: route53`",
                    with.record_type
                )));
            }
            let v6 = with.record_type == RecordType::AAAA;
            match tokio::net::lookup_host((name.as_str(), 0)).await {
                Ok(addrs) => addrs
                    .map(|a| a.ip())
                    .filter(|ip| ip.is_ipv6() == v6)
                    .map(|ip| ip.to_string())
                    .collect(),
                Err(e) => return Err(StepError::failed(format!("{name} does not resolve: {e}"))),
            }
        }
    };
    found.sort();
    found.dedup();
    if found.is_empty() {
        return Err(StepError::failed(format!(
            "{name} has no {:?} record",
            with.record_type
        )));
    }
    if let Some(expect) = &with.expect {
        let have: Vec<String> = found
            .iter()
            .map(|v| normalized(v, with.record_type))
            .collect();
        let mut missing = Vec::new();
        for e in &expect.0 {
            let e = cx.render(e)?;
            if !have.contains(&normalized(&e, with.record_type)) {
                missing.push(e);
            }
        }
        if !missing.is_empty() {
            return Err(StepError::failed(format!(
                "{name} {:?} is {} instead of {}",
                with.record_type,
                found.join(", "),
                missing.join(", ")
            )));
        }
    }
    let mut out = healthy(cx, attempt);
    out.insert("values".into(), found.join(","));
    Ok(out)
}

/// One attempt of a `probe.command`.
pub async fn command(with: &Command, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let spec = super::builtin::spec(cx, &with.command, &with.env, with.dir.as_ref())?;
    let contains = with
        .expect
        .stdout_contains
        .as_ref()
        .map(|t| cx.render(t))
        .transpose()?;
    let pattern = with
        .expect
        .stdout_regex
        .as_ref()
        .map(|r| {
            regex::Regex::new(r)
                .map_err(|e| StepError::failed(format!("`stdout_regex` is not valid: {e}")))
        })
        .transpose()?;
    let outcome = within(with.attempt_timeout.0, "the command", async {
        let outcome = crate::process::run(&spec, cx.cancel.cancelled())
            .await
            .map_err(|e| StepError::failed(e.to_string()))?;
        if outcome.cancelled {
            return Err(StepError::Cancelled);
        }
        let stdout = cx.mask(&outcome.stdout);
        if outcome.exit_code != Some(with.expect.exit_code) {
            let how = super::builtin::how_it_ended(&outcome, cx);
            return Err(StepError::failed(format!(
                "{how} (expected exit code {})",
                with.expect.exit_code
            )));
        }
        if let Some(text) = &contains
            && !outcome.stdout.contains(text.as_str())
        {
            return Err(StepError::failed(format!(
                "its output does not contain {text:?}"
            )));
        }
        if let Some(re) = &pattern
            && !re.is_match(&outcome.stdout)
        {
            return Err(StepError::failed(format!(
                "its output does not match /{}/",
                re.as_str()
            )));
        }
        let mut out = healthy(cx, attempt);
        out.insert(
            "exit_code".into(),
            outcome.exit_code.unwrap_or_default().to_string(),
        );
        out.insert("stdout".into(), stdout);
        Ok(out)
    })
    .await?;
    Ok(outcome)
}
