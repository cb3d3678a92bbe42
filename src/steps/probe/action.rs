//! Probes: one attempt of `probe.http`, `probe.dns`, `probe.tcp` or `probe.command` (`probe.sql`
//! is [`crate::steps::probe::sql`]). An attempt that finds the
//! service unhealthy fails with what it saw; the step's `retry` (interval, until) makes the
//! probe keep trying, and the outputs of the healthy attempt say how many attempts it took and
//! how long after the step started the service was healthy.

use std::sync::Arc;
use std::time::Duration;

use crate::language::template::Tpl;
use crate::steps::context::{Outputs, Perform, StepCx, StepError};
use crate::steps::probe::names::{self, Names};
use crate::steps::probe::{Command, Dns, DnsVia, Http, Method, Tcp};
use crate::steps::route53::RecordType;

/// The outputs every healthy probe gives.
pub(super) fn healthy(cx: &StepCx, attempt: u32) -> Outputs {
    let mut out = Outputs::new();
    out.insert("attempts".into(), attempt.to_string());
    out.insert(
        "time_to_healthy_secs".into(),
        format!("{:.3}", cx.started.elapsed().as_secs_f64()),
    );
    out
}

/// `value`, or the value its template gives, parsed.
pub(super) fn resolve<T: std::str::FromStr + Clone>(
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
pub(super) async fn within<T, F: Future<Output = Result<T, StepError>>>(
    limit: Duration,
    what: &str,
    attempt: F,
) -> Result<T, StepError> {
    tokio::time::timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(StepError::failed(format!(
                "{what} did not answer within {}",
                crate::language::duration::Duration(limit)
            )))
        })
}

/// One attempt of a `probe.tcp`.
pub async fn tcp(with: &Tcp, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let host = cx.render(&with.host)?;
    let port: u16 = resolve(cx, &with.port, "port")?;
    let target = format!("{host}:{port}");
    within(with.attempt_timeout.0, &target, async {
        let addrs: Vec<std::net::SocketAddr> = cx
            .shared
            .names
            .addresses(&host)
            .await
            .map_err(|e| StepError::failed(e.to_string()))?
            .into_iter()
            .map(|ip| (ip, port).into())
            .collect();
        tokio::select! {
            connected = tokio::net::TcpStream::connect(&addrs[..]) => connected
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

/// A and AAAA values of `name` through the system resolver.
async fn system_resolver(name: &str, record_type: RecordType) -> Result<Vec<String>, StepError> {
    if !matches!(record_type, RecordType::A | RecordType::AAAA) {
        return Err(StepError::failed(format!(
            "the system resolver answers A and AAAA lookups here, not {record_type:?}: give \
             `server:` to ask a name server for it, or use `via: route53`"
        )));
    }
    let v6 = record_type == RecordType::AAAA;
    match tokio::net::lookup_host((name, 0)).await {
        Ok(addrs) => Ok(addrs
            .map(|a| a.ip())
            .filter(|ip| ip.is_ipv6() == v6)
            .map(|ip| ip.to_string())
            .collect()),
        Err(e) => Err(StepError::failed(format!("{name} does not resolve: {e}"))),
    }
}

/// The values of `name`'s `record_type` records as the name server at `server`
/// (`address[:port]`, port 53 by default) answers.
async fn ask(server: &str, name: &str, record_type: RecordType) -> Result<Vec<String>, StepError> {
    let addr = server
        .parse::<std::net::SocketAddr>()
        .or_else(|_| server.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
        .map_err(|_| StepError::failed(format!("the name server `{server}` is not an address")))?;
    names::query(addr, name, dns_type(record_type)?)
        .await
        .map_err(|e| dns_failure(name, record_type, server, &e))
}

/// The DNS type of a Route53 record type.
fn dns_type(record_type: RecordType) -> Result<hickory_resolver::proto::rr::RecordType, StepError> {
    format!("{record_type:?}")
        .parse()
        .map_err(|_| StepError::failed(format!("{record_type:?} cannot be asked for")))
}

fn dns_failure(
    name: &str,
    record_type: RecordType,
    server: &str,
    e: &hickory_resolver::net::NetError,
) -> StepError {
    StepError::failed(format!(
        "{name} {record_type:?} does not resolve at {server}: {}",
        names::reason(e)
    ))
}

/// The values of `name`'s `record_type` records as the run's names say: the local sandbox's
/// name server for a name in its zones, else the system's resolver.
async fn look_up(
    names: Names,
    name: &str,
    record_type: RecordType,
) -> Result<Vec<String>, StepError> {
    let Names::Sandbox(server) = names else {
        return system_resolver(name, record_type).await;
    };
    match names::query(server, name, dns_type(record_type)?).await {
        Ok(values) => Ok(values),
        Err(e) if names::refused(&e) => system_resolver(name, record_type).await,
        Err(e) => Err(dns_failure(
            name,
            record_type,
            &format!("the local sandbox's name server {server}"),
            &e,
        )),
    }
}

/// One attempt of a `probe.dns`.
pub async fn dns(with: &Dns, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let name = cx.render(&with.name)?;
    let mut found = match with.via {
        DnsVia::Route53 => {
            let zone = with.zone.as_ref().map(|z| cx.render(z)).transpose()?;
            crate::steps::route53::action::lookup(
                cx.clients()?,
                &name,
                with.record_type,
                zone.as_deref(),
            )
            .await?
        }
        DnsVia::Resolver => {
            if let Some(server) = &with.server {
                ask(server, &name, with.record_type).await?
            } else {
                look_up(cx.shared.names, &name, with.record_type).await?
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

/// The compiled regular expression of an `expect` field (`field`), when one is given.
fn expected_pattern(pattern: Option<&str>, field: &str) -> Result<Option<regex::Regex>, StepError> {
    pattern
        .map(|r| {
            regex::Regex::new(r)
                .map_err(|e| StepError::failed(format!("`{field}` is not valid: {e}")))
        })
        .transpose()
}

/// One attempt of a `probe.command`.
pub async fn command(with: &Command, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let spec =
        crate::steps::builtin::action::spec(cx, &with.command, &with.env, with.dir.as_ref())?;
    let contains = with
        .expect
        .stdout_contains
        .as_ref()
        .map(|t| cx.render(t))
        .transpose()?;
    let pattern = expected_pattern(with.expect.stdout_regex.as_deref(), "stdout_regex")?;
    let outcome = within(with.attempt_timeout.0, "the command", async {
        let outcome = crate::steps::builtin::process::run(&spec, cx.cancel.cancelled())
            .await
            .map_err(|e| StepError::failed(e.to_string()))?;
        if outcome.cancelled {
            return Err(StepError::Cancelled);
        }
        let stdout = cx.mask(&outcome.stdout);
        if outcome.exit_code != Some(with.expect.exit_code) {
            let how = crate::steps::builtin::action::how_it_ended(&outcome, cx);
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

/// Accepts any server certificate: `tls_verify: false`, for drills against endpoints with
/// self-signed certificates. Signatures are still checked with the provider's algorithms.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

pub(crate) type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector<NameService>>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Host names of HTTP requests, looked up as the run's [`Names`] say.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameService(Names);

impl tower_service::Service<hyper_util::client::legacy::connect::dns::Name> for NameService {
    type Response = std::vec::IntoIter<std::net::SocketAddr>;
    type Error = std::io::Error;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let names = self.0;
        Box::pin(async move {
            let ips = names
                .addresses(name.as_str())
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Ok(ips
                .into_iter()
                .map(|ip| (ip, 0).into())
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}

/// An HTTP(S) client looking names up as `names` say: certificates checked against the
/// system's roots, unless `verify` is off.
pub(crate) fn http_client(
    names: Names,
    verify: bool,
    ca_file: Option<&std::path::Path>,
) -> Result<HttpClient, StepError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = if let (true, Some(ca_file)) = (verify, ca_file) {
        let unreadable = |e: &dyn std::fmt::Display| {
            StepError::failed(format!(
                "cannot read the CA file {}: {e}",
                ca_file.display()
            ))
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| unreadable(&e))? {
            roots
                .add(cert.map_err(|e| unreadable(&e))?)
                .map_err(|e| unreadable(&e))?;
        }
        if roots.is_empty() {
            return Err(unreadable(&"it holds no certificate"));
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StepError::failed(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        builder.with_tls_config(config)
    } else if verify {
        builder
            .with_provider_and_native_roots(provider)
            .map_err(|e| StepError::failed(format!("cannot load the system's CA roots: {e}")))?
    } else {
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| StepError::failed(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        builder.with_tls_config(config)
    };
    let mut http =
        hyper_util::client::legacy::connect::HttpConnector::new_with_resolver(NameService(names));
    http.enforce_http(false);
    let connector = builder.https_or_http().enable_http1().wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(connector),
    )
}

/// The JSON value at dotted `path` (`checks.db`, `items.0.id`).
fn at_path<'v>(value: &'v serde_json::Value, path: &str) -> Option<&'v serde_json::Value> {
    path.split('.').try_fold(value, |v, key| match v {
        serde_json::Value::Object(map) => map.get(key),
        serde_json::Value::Array(items) => items.get(key.parse::<usize>().ok()?),
        _ => None,
    })
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One attempt of a `probe.http`.
pub async fn http(with: &Http, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let url = cx.render(&with.url)?;
    let uri: http::Uri = url
        .parse()
        .map_err(|e| StepError::failed(format!("`{url}` is not a URL: {e}")))?;
    let mut request = http::Request::builder()
        .method(match with.method {
            Method::GET => http::Method::GET,
            Method::HEAD => http::Method::HEAD,
            Method::POST => http::Method::POST,
            Method::PUT => http::Method::PUT,
            Method::OPTIONS => http::Method::OPTIONS,
        })
        .uri(uri)
        .header(
            "user-agent",
            concat!("firedrill/", env!("CARGO_PKG_VERSION")),
        );
    for (k, v) in &with.headers {
        request = request.header(k.as_str(), cx.render(v)?);
    }
    let body = with.body.as_ref().map(|b| cx.render(b)).transpose()?;
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.unwrap_or_default(),
        )))
        .map_err(|e| StepError::failed(format!("cannot make the request: {e}")))?;
    let contains = with
        .expect
        .body_contains
        .as_ref()
        .map(|t| cx.render(t))
        .transpose()?;
    let pattern = expected_pattern(with.expect.body_regex.as_deref(), "body_regex")?;
    let ca_file = with.ca_file.as_ref().map(|f| cx.path(f)).transpose()?;
    let client = http_client(cx.shared.names, with.tls_verify, ca_file.as_deref())?;
    let shown = cx.mask(&url);
    within(with.attempt_timeout.0, &shown, async {
        let response = tokio::select! {
            r = client.request(request) => r.map_err(|e| {
                StepError::failed(format!("{shown}: {}", crate::language::diag::error_chain(&e)))
            })?,
            () = cx.cancel.cancelled() => return Err(StepError::Cancelled),
        };
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .map_err(|e| StepError::failed(format!("{shown}: reading the body: {e}")))?
            .to_bytes();
        let text = String::from_utf8_lossy(&body);
        let wanted: Vec<u16> = with
            .expect
            .status
            .as_ref()
            .map_or(vec![200], |s| s.0.clone());
        if !wanted.contains(&status) {
            let snippet: String = cx.mask(text.trim()).chars().take(120).collect();
            return Err(StepError::failed(format!(
                "{shown} answered {status}, not {}{}",
                wanted
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(" or "),
                if snippet.is_empty() {
                    String::new()
                } else {
                    format!(": {snippet}")
                }
            )));
        }
        if let Some(c) = &contains
            && !text.contains(c.as_str())
        {
            return Err(StepError::failed(format!(
                "{shown}: the body does not contain {c:?}"
            )));
        }
        if let Some(re) = &pattern
            && !re.is_match(&text)
        {
            return Err(StepError::failed(format!(
                "{shown}: the body does not match /{}/",
                re.as_str()
            )));
        }
        if !with.expect.json.is_empty() {
            let doc: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| StepError::failed(format!("{shown}: the body is not JSON: {e}")))?;
            for (path, want) in &with.expect.json {
                match at_path(&doc, path) {
                    Some(v) if json_text(v) == want.0 => {}
                    Some(v) => {
                        return Err(StepError::failed(format!(
                            "{shown}: `{path}` is {} instead of {:?}",
                            v, want.0
                        )));
                    }
                    None => {
                        return Err(StepError::failed(format!(
                            "{shown}: the JSON has no `{path}`"
                        )));
                    }
                }
            }
        }
        let mut out = healthy(cx, attempt);
        out.insert("status".into(), status.to_string());
        Ok(out)
    })
    .await
}

impl Perform for Http {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        http(self, cx, attempt).await
    }
}

impl Perform for Dns {
    fn needs_aws(&self) -> bool {
        self.via == DnsVia::Route53
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        dns(self, cx, attempt).await
    }
}

impl Perform for Tcp {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        tcp(self, cx, attempt).await
    }
}

impl Perform for Command {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        command(self, cx, attempt).await
    }
}
