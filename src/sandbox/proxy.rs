//! The realism layer: an HTTP proxy between the AWS SDK and moto.
//!
//! moto finishes everything at once and never fails. The layer gives resources the time AWS
//! takes (describe responses say `creating`, `pending`, `CREATE_IN_PROGRESS`, `PENDING`, or
//! `deleting` until a scaled, seeded duration has passed), injects throttling, server errors and
//! latency from a seed, counts every call per service and action, and shows seeded recovery
//! points with the age the seed file gave them. Aurora clusters' automated backups behave as
//! AWS's do (`backups`): they go with their cluster unless the delete call keeps them.
//!
//! Restores and deletes of RDS instances are told to the data plane (`data`), and each restored
//! instance's described endpoint is its own loopback port there.
//!
//! Control endpoints live under `/__firedrill/`: `health`, `stats` (GET; `stats/reset` POST),
//! `config` (GET, PUT), `created-at` (POST `{"id": "RFC 3339 time"}`), `data` (GET: whether the
//! data plane is on), `data/seed` (POST a seed's data for one instance), `apps/image` (POST
//! what an image's instances serve), and `data/stop`, `data/start`, `apps/stop`, `apps/start`,
//! `apps/fail`, `apps/recover` (POST `{"instance": "id", "for_secs": 30}`: a restored database
//! or an app stops or starts, or an app answers 500 or recovers, for a while or until told). Launches from an image that serves an app start it (`apps`),
//! on an address of its own that describes show as the instance's private IP.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apps::{Apps, ImageApp};
use super::backups;
use super::data::{DataPlane, Of, Source};
use super::faults::{self, Decision, Fault, FaultConfig};
use super::lifecycle::{self, Kind, Phase, Shape};
use super::xml::{Child, Document, Element};

/// How the layer behaves; changeable while it runs (`PUT /__firedrill/config`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Lifecycle durations are multiplied by this (1.0 is AWS speed; 0 is moto's instant).
    pub time_scale: f64,
    /// The seed of fault decisions and duration jitter.
    pub seed: u64,
    /// Fault rates.
    pub faults: FaultConfig,
}

impl ProxyConfig {
    /// The largest time scale (a hundred times slower than AWS is already absurd).
    pub const MAX_TIME_SCALE: f64 = 100.0;

    /// Checks the settings: rates from 0 to 1 adding up to at most 1, a time scale from 0 to
    /// [`Self::MAX_TIME_SCALE`].
    pub fn validate(&self) -> Result<(), String> {
        let f = &self.faults;
        for (name, rate) in [
            ("throttle", f.throttle),
            ("server_error", f.server_error),
            ("unavailable", f.unavailable),
            ("latency", f.latency),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!(
                    "the {name} rate is a share of calls, from 0 to 1, not {rate}"
                ));
            }
        }
        if f.throttle + f.server_error + f.unavailable > 1.0 {
            return Err("the fault rates add up to more than 1".into());
        }
        if !(0.0..=Self::MAX_TIME_SCALE).contains(&self.time_scale) {
            return Err(format!(
                "the time scale must be from 0 to {}, not {}",
                Self::MAX_TIME_SCALE,
                self.time_scale
            ));
        }
        if f.latency_ms > 60_000 {
            return Err(format!(
                "added latency of {} ms is over a minute",
                f.latency_ms
            ));
        }
        Ok(())
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            time_scale: 0.01,
            seed: 1,
            faults: FaultConfig::default(),
        }
    }
}

/// Calls counted by the layer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Calls per `service:Action`, faulted ones included.
    pub calls: BTreeMap<String, u64>,
    /// All calls.
    pub total: u64,
    /// Calls that change something (not `Describe*`, `List*`, `Get*`, `Head*`).
    pub mutating: u64,
    /// Mutating calls per `service:Action`.
    pub mutating_calls: BTreeMap<String, u64>,
    /// Injected faults per kind (`throttle`, `server-error`, `unavailable`, `latency`).
    pub faults: BTreeMap<String, u64>,
    /// The fault decision of every call, in order of arrival: `service:Action:fault` (the first
    /// [`FAULT_LOG_LIMIT`]).
    pub fault_log: Vec<String>,
}

/// How many fault decisions the stats keep (the first ones), so that a long-running sandbox
/// does not grow without bound.
pub const FAULT_LOG_LIMIT: usize = 100_000;

/// Whether an action changes anything.
pub fn is_mutating(action: &str) -> bool {
    !["Describe", "List", "Get", "Head"]
        .iter()
        .any(|p| action.starts_with(p))
}

struct Life {
    phase: Phase,
    until: Instant,
}

struct Tombstone {
    /// The whole describe response for the resource, taken just before the delete.
    doc: Document,
    /// The element that lists the resource in it (`DBInstances`, `volumeSet`).
    container: String,
    member: Element,
    until: Instant,
}

#[derive(Default)]
struct State {
    stats: Stats,
    counters: HashMap<String, u64>,
    lives: HashMap<(Kind, String), Life>,
    tombstones: HashMap<(Kind, String), Tombstone>,
    created_at: HashMap<String, String>,
}

struct Inner {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    config: Mutex<ProxyConfig>,
    state: Mutex<State>,
    planes: Planes,
}

/// A running realism layer; stops when dropped.
pub struct RunningProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl RunningProxy {
    /// The endpoint URL for the SDK.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Waits until the proxy stops (it runs until dropped or the process ends).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The sandbox's emulations behind the API: what the layer tells of RDS and EC2 calls.
#[derive(Clone)]
pub struct Planes {
    /// Databases behind RDS.
    pub data: Arc<DataPlane>,
    /// Apps behind EC2.
    pub apps: Arc<Apps>,
}

/// Starts the layer on `listener`, in front of moto at `upstream`, telling `planes` what
/// happens to RDS and EC2 instances.
pub fn start(
    listener: TcpListener,
    upstream: SocketAddr,
    config: ProxyConfig,
    planes: Planes,
) -> std::io::Result<RunningProxy> {
    let addr = listener.local_addr()?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let inner = Arc::new(Inner {
        upstream: format!("http://{upstream}"),
        client: Client::builder(TokioExecutor::new()).build(connector),
        config: Mutex::new(config),
        state: Mutex::new(State::default()),
        planes,
    });
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, say: give them time to come back instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let inner = inner.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let inner = inner.clone();
                    async move { Ok::<_, Infallible>(inner.handle(req).await) }
                });
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(RunningProxy { addr, task })
}

fn response(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn json<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    response(
        StatusCode::OK,
        "application/json",
        serde_json::to_vec_pretty(value).unwrap_or_default(),
    )
}

/// Part `n` of the credential scope of a request's signature (`KEY/DATE/REGION/SERVICE/…`),
/// empty when it is not signed.
fn scope_part(req: &Request<Incoming>, n: usize) -> String {
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    auth.split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|scope| scope.split('/').nth(n))
        .unwrap_or("")
        .to_owned()
}

/// The signing name of the service a request is for (`rds`, `ec2`, ...).
fn service_of(req: &Request<Incoming>) -> String {
    let service = scope_part(req, 3);
    if service.is_empty() {
        "unknown".to_owned()
    } else {
        service
    }
}

/// The region a request is signed for (empty when it is not signed).
fn region_of(req: &Request<Incoming>) -> String {
    scope_part(req, 2)
}

/// A resource identifier of `region` as the data plane keys it (`REGION/ID`); an ARN names its
/// own region.
fn scoped(region: &str, given: &str) -> String {
    let arn: Vec<&str> = given.split(':').collect();
    match arn.as_slice() {
        ["arn", _, _, arn_region, .., id] if !arn_region.is_empty() => {
            super::data::scoped(arn_region, id)
        }
        _ => super::data::scoped(region, given),
    }
}

/// The action of a REST request to Route53, from its method and path.
fn route53_action(method: &Method, path: &str) -> String {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let action = match (method.as_str(), parts.as_slice()) {
        ("POST", [_, "hostedzone"]) => "CreateHostedZone",
        ("GET", [_, "hostedzone"]) => "ListHostedZones",
        ("GET", [_, "hostedzonesbyname"]) => "ListHostedZonesByName",
        ("GET", [_, "hostedzone", _]) => "GetHostedZone",
        ("DELETE", [_, "hostedzone", _]) => "DeleteHostedZone",
        ("POST", [_, "hostedzone", _, "rrset", ..]) => "ChangeResourceRecordSets",
        ("GET", [_, "hostedzone", _, "rrset", ..]) => "ListResourceRecordSets",
        ("GET", [_, "change", _]) => "GetChange",
        ("POST", [_, "tags", ..]) => "ChangeTagsForResource",
        ("GET", [_, "tags", ..]) => "ListTagsForResource",
        (m, _) => return format!("{}{}", &m[..1], m[1..].to_ascii_lowercase()),
    };
    action.to_owned()
}

/// `value` encoded for a form body.
fn form_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn config(&self) -> ProxyConfig {
        *self.config.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        if req.uri().path().starts_with("/__firedrill/") {
            return self.control(req).await;
        }
        let service = service_of(&req);
        let region = region_of(&req);
        let (parts, body) = req.into_parts();
        let Ok(body) = body
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
        else {
            return response(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "unreadable request body",
            );
        };
        let params = if parts.method == Method::POST && service != "route53" && service != "s3" {
            form(&body)
        } else {
            Vec::new()
        };
        let action = match (service.as_str(), parts.headers.get("x-amz-target")) {
            (_, Some(target)) => target
                .to_str()
                .unwrap_or("")
                .rsplit('.')
                .next()
                .unwrap_or("")
                .to_owned(),
            ("route53", _) => route53_action(&parts.method, parts.uri.path()),
            // S3 actions by method, named so that reads count as reads.
            ("s3", _) => match parts.method.as_str() {
                "GET" => "GetS3".to_owned(),
                "HEAD" => "HeadS3".to_owned(),
                m => format!("{}{}S3", &m[..1], m[1..].to_ascii_lowercase()),
            },
            _ => params
                .iter()
                .find(|(k, _)| k == "Action")
                .map_or_else(|| "Unknown".to_owned(), |(_, v)| v.clone()),
        };
        let config = self.config();
        let decision = self.count(&service, &action, &config);
        if decision.delayed {
            tokio::time::sleep(Duration::from_millis(config.faults.latency_ms)).await;
        }
        if decision.fault != Fault::None {
            let request_id = format!(
                "firedrill-{:016x}",
                faults::hash(config.seed, &[&service, &action, "rid"])
            );
            let (status, content_type, body) =
                faults::error_response(decision.fault, &service, &request_id);
            return response(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                content_type,
                body,
            );
        }
        if backups::ACTIONS.contains(&action.as_str()) {
            return self.cluster_backups(&parts, &action, &params).await;
        }
        let transition = lifecycle::transition(&action);
        if let Some(t) = transition
            && t.phase == Phase::Delete
            && lifecycle::shape(t.kind).vanishes
        {
            self.capture_tombstone(t, &parts, &params, &config).await;
        }
        let Ok((status, headers, resp_body)) = self.forward(&parts, body).await else {
            return response(
                StatusCode::BAD_GATEWAY,
                "text/plain",
                "the local sandbox (moto) did not answer",
            );
        };
        if action == "DeleteDBCluster" && status.is_success() {
            self.delete_with_cluster(&parts, &params).await;
        }
        if status.is_success() {
            self.data_plane(&action, &params, &region).await;
            self.app_plane(&action, &params, &resp_body);
        }
        let resp_body = self.after(&action, transition, status, &params, resp_body, &config);
        let (status, resp_body) = resp_body;
        let resp_body = match service.as_str() {
            "rds" => self.endpoints(resp_body, &region),
            "ec2" => self.private_ips(resp_body),
            _ => resp_body,
        };
        let mut r = Response::new(Full::new(resp_body));
        *r.status_mut() = status;
        for (name, value) in &headers {
            if name != http::header::CONTENT_LENGTH
                && name != http::header::CONNECTION
                && name != http::header::TRANSFER_ENCODING
            {
                r.headers_mut().append(name, value.clone());
            }
        }
        r
    }

    /// Tells the data plane what an RDS call did: a restore makes the instance's or cluster's
    /// database (before the call is answered), an instance created in a cluster reaches the
    /// cluster's, a snapshot taken or copied holds its source's data, a delete drops it.
    async fn data_plane(&self, action: &str, params: &[(String, String)], region: &str) {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        // Identifiers, not times, are kept apart by region.
        let scope = |name: &str| param(name).map(|v| scoped(region, &v));
        let Some(&(_, of, call, id_param, other_param)) =
            DATA_CALLS.iter().find(|(a, ..)| *a == action)
        else {
            return;
        };
        let Some(id) = scope(id_param) else {
            return;
        };
        let other = scope(other_param);
        let data = &self.planes.data;
        match (call, other) {
            (DataCall::FromSnapshot, Some(snapshot)) => {
                data.restored(of, &id, &Source::Snapshot(snapshot)).await;
            }
            (DataCall::ToPointInTime(time_param), Some(source)) => {
                let time = param(time_param)
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| t.with_timezone(&chrono::Utc));
                data.restored(of, &id, &Source::PointInTime { source, time })
                    .await;
            }
            (DataCall::InCluster, Some(cluster)) => data.member(&id, &cluster).await,
            (DataCall::SnapshotTaken, Some(snapshot)) => data.snapshot_taken(of, &id, &snapshot),
            (DataCall::SnapshotCopied, Some(copy)) => data.snapshot_copied(of, &id, &copy),
            (DataCall::Deleted, _) => data.deleted(of, &id).await,
            (
                DataCall::FromSnapshot
                | DataCall::ToPointInTime(_)
                | DataCall::InCluster
                | DataCall::SnapshotTaken
                | DataCall::SnapshotCopied,
                None,
            ) => {}
        }
    }

    /// Tells the apps what an EC2 call did: a launch from an image that serves something
    /// starts its app, a stop or start stops or starts it, a termination ends it.
    fn app_plane(&self, action: &str, params: &[(String, String)], body: &Bytes) {
        let ids: Vec<String> = params
            .iter()
            .filter(|(k, _)| k.starts_with("InstanceId."))
            .map(|(_, v)| v.clone())
            .collect();
        match action {
            "RunInstances" => {
                let param = |name: &str| {
                    params
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.as_str())
                };
                let Some(image) = param("ImageId") else {
                    return;
                };
                let Some(doc) = Document::parse(body) else {
                    return;
                };
                let mut launched = Vec::new();
                doc.root.visit(&mut |e| {
                    if let (Some(id), Some(ip)) =
                        (e.at(&["instanceId"]), e.at(&["privateIpAddress"]))
                    {
                        launched.push((id.text(), ip.text()));
                    }
                });
                self.planes
                    .apps
                    .launched(image, &launched, param("UserData"));
            }
            "StopInstances" | "StartInstances" => {
                let _ = self
                    .planes
                    .apps
                    .set_running(&ids, action == "StartInstances", false);
            }
            "TerminateInstances" => self.planes.apps.terminated(&ids),
            _ => {}
        }
    }

    /// Writes each app instance's own loopback address into an EC2 answer, wherever moto's
    /// address for it appears in its description.
    fn private_ips(&self, body: Bytes) -> Bytes {
        rewrite(body, b"privateIpAddress", |e| {
            let Some((moto_ip, ip)) = e
                .at(&["instanceId"])
                .and_then(|id| self.planes.apps.address(&id.text()))
            else {
                return false;
            };
            let ip = ip.to_string();
            let mut changed = false;
            e.visit_mut(&mut |x| {
                if x.children.len() == 1 && x.text() == moto_ip {
                    x.set_text(&ip);
                    changed = true;
                }
            });
            changed
        })
    }

    /// Writes each restored instance's and cluster's own endpoint (loopback, its port) into an
    /// RDS answer.
    fn endpoints(&self, body: Bytes, region: &str) -> Bytes {
        rewrite(body, b"Endpoint>", |e| {
            let mut changed = false;
            let cluster = e.name() == "DBCluster";
            let (of, id_path) = if cluster {
                (Of::Cluster, "DBClusterIdentifier")
            } else {
                (Of::Instance, "DBInstanceIdentifier")
            };
            let Some(port) = e
                .at(&[id_path])
                .and_then(|id| self.planes.data.port(of, &scoped(region, &id.text())))
            else {
                return false;
            };
            let port = port.to_string();
            if cluster {
                // A cluster's writer and reader endpoints are one host name and a port.
                for (path, text) in [
                    ("Endpoint", "127.0.0.1"),
                    ("ReaderEndpoint", "127.0.0.1"),
                    ("Port", port.as_str()),
                ] {
                    if let Some(x) = e.at_mut(&[path]) {
                        x.set_text(text);
                        changed = true;
                    }
                }
                return changed;
            }
            if let Some(address) = e.at_mut(&["Endpoint", "Address"]) {
                address.set_text("127.0.0.1");
                changed = true;
            }
            if let Some(p) = e.at_mut(&["Endpoint", "Port"]) {
                p.set_text(&port);
            }
            changed
        })
    }

    fn count(&self, service: &str, action: &str, config: &ProxyConfig) -> Decision {
        let mut state = self.state();
        let key = format!("{service}:{action}");
        let n = {
            let c = state.counters.entry(key.clone()).or_insert(0);
            *c += 1;
            *c - 1
        };
        let decision = config.faults.decide(config.seed, service, action, n);
        let counts = &mut state.stats;
        *counts.calls.entry(key.clone()).or_insert(0) += 1;
        counts.total += 1;
        if is_mutating(action) {
            counts.mutating += 1;
            *counts.mutating_calls.entry(key.clone()).or_insert(0) += 1;
        }
        let fault = match decision.fault {
            Fault::None => None,
            Fault::Throttle => Some("throttle"),
            Fault::ServerError => Some("server-error"),
            Fault::Unavailable => Some("unavailable"),
        };
        if let Some(f) = fault {
            *counts.faults.entry(f.to_owned()).or_insert(0) += 1;
        }
        if decision.delayed {
            *counts.faults.entry("latency".to_owned()).or_insert(0) += 1;
        }
        if counts.fault_log.len() < FAULT_LOG_LIMIT {
            counts
                .fault_log
                .push(format!("{key}:{}", fault.unwrap_or("none")));
        }
        decision
    }

    async fn forward(
        &self,
        parts: &http::request::Parts,
        body: Bytes,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), ()> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut req = Request::builder()
            .method(parts.method.clone())
            .uri(format!("{}{path}", self.upstream));
        for (name, value) in &parts.headers {
            // hyper sets the length of the body it sends; a copied length could disagree.
            if name != http::header::HOST
                && name != http::header::CONNECTION
                && name != http::header::CONTENT_LENGTH
            {
                req = req.header(name, value);
            }
        }
        let req = req.body(Full::new(body)).map_err(|_| ())?;
        // One minute for moto to answer, body included: a stuck moto must not hang the SDK.
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|_| ())?;
            let (rparts, rbody) = resp.into_parts();
            let bytes = rbody.collect().await.map_err(|_| ())?.to_bytes();
            Ok((rparts.status, rparts.headers, bytes))
        };
        tokio::time::timeout(Duration::from_mins(1), exchange)
            .await
            .map_err(|_| ())?
    }
}

/// `base` times the time scale, varied by up to 20% by the seed and the resource.
fn scaled(base: Duration, kind: Kind, id: &str, config: &ProxyConfig) -> Duration {
    let jitter = 0.8 + 0.4 * faults::unit(faults::hash(config.seed, &[&format!("{kind:?}"), id]));
    Duration::try_from_secs_f64(base.as_secs_f64() * (config.time_scale * jitter).max(0.0))
        .unwrap_or(Duration::MAX)
}

impl Inner {
    /// Asks moto `query` (an RDS-style form) with the credentials of `parts`; its answer when it
    /// succeeded.
    async fn ask_moto(&self, parts: &http::request::Parts, query: String) -> Option<Document> {
        let mut call = parts.clone();
        call.method = Method::POST;
        call.uri = http::Uri::from_static("/");
        call.headers.remove("x-amz-target");
        call.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let (status, _, body) = self.forward(&call, Bytes::from(query)).await.ok()?;
        if !status.is_success() {
            return None;
        }
        Document::parse(&body)
    }

    /// The automated backups of one cluster (or every cluster), from moto's automated snapshots.
    async fn automated_backups(
        &self,
        parts: &http::request::Parts,
        cluster: Option<&str>,
    ) -> Option<Vec<backups::Backups>> {
        let mut query =
            "Action=DescribeDBClusterSnapshots&Version=2014-10-31&SnapshotType=automated"
                .to_owned();
        if let Some(c) = cluster {
            query.push_str(&format!("&DBClusterIdentifier={}", form_value(c)));
        }
        let doc = self.ask_moto(parts, query).await?;
        Some(
            backups::automated(&doc)
                .into_iter()
                .filter(|b| cluster.is_none_or(|c| b.cluster == c))
                .collect(),
        )
    }

    /// AWS's default on `DeleteDBCluster`: its automated backups go with it, unless the call
    /// says `DeleteAutomatedBackups=false`.
    async fn delete_with_cluster(&self, parts: &http::request::Parts, params: &[(String, String)]) {
        let keep = params
            .iter()
            .any(|(k, v)| k == "DeleteAutomatedBackups" && v == "false");
        let Some(cluster) = params
            .iter()
            .find(|(k, _)| k == "DBClusterIdentifier")
            .map(|(_, v)| v.clone())
        else {
            return;
        };
        if keep {
            return;
        }
        for b in self
            .automated_backups(parts, Some(&cluster))
            .await
            .unwrap_or_default()
        {
            self.delete_snapshots(parts, &b).await;
        }
    }

    async fn delete_snapshots(&self, parts: &http::request::Parts, b: &backups::Backups) {
        for id in &b.snapshots {
            let query = format!(
                "Action=DeleteDBClusterSnapshot&Version=2014-10-31&DBClusterSnapshotIdentifier={}",
                form_value(id)
            );
            let _ = self.ask_moto(parts, query).await;
        }
    }

    /// Answers `DescribeDBClusterAutomatedBackups` and `DeleteDBClusterAutomatedBackup`, which
    /// moto does not know.
    async fn cluster_backups(
        &self,
        parts: &http::request::Parts,
        action: &str,
        params: &[(String, String)],
    ) -> Response<Full<Bytes>> {
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let request_id = format!("firedrill-backups-{:016x}", faults::hash(0, &[action]));
        let xml = |status: StatusCode, body: String| response(status, "text/xml", body);
        let cluster = match (param("DBClusterIdentifier"), param("DbClusterResourceId")) {
            (Some(c), _) => Some(c.to_owned()),
            // A resource id the layer did not hand out names no cluster's backups.
            (None, Some(id)) => Some(backups::cluster_of(id).unwrap_or("").to_owned()),
            (None, None) => None,
        };
        let (Some(found), Some(live)) = (
            self.automated_backups(parts, cluster.as_deref()).await,
            self.ask_moto(
                parts,
                "Action=DescribeDBClusters&Version=2014-10-31".to_owned(),
            )
            .await
            .map(|d| backups::clusters(&d)),
        ) else {
            return response(
                StatusCode::BAD_GATEWAY,
                "text/plain",
                "the local sandbox (moto) did not answer",
            );
        };
        if action == "DescribeDBClusterAutomatedBackups" {
            return xml(
                StatusCode::OK,
                backups::describe_answer(&found, &live, &request_id),
            );
        }
        let not_found = || {
            let (status, body) = backups::error_answer(
                404,
                "DBClusterAutomatedBackupNotFoundFault",
                "No automated backup found for this resource id.",
                &request_id,
            );
            xml(
                StatusCode::from_u16(status).unwrap_or(StatusCode::NOT_FOUND),
                body,
            )
        };
        let Some(b) = cluster.is_some().then(|| found.first()).flatten() else {
            return not_found();
        };
        if live.contains(&b.cluster) {
            let (status, body) = backups::error_answer(
                400,
                "InvalidDBClusterAutomatedBackupStateFault",
                "The automated backups of a cluster that exists cannot be deleted.",
                &request_id,
            );
            return xml(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                body,
            );
        }
        self.delete_snapshots(parts, b).await;
        xml(StatusCode::OK, backups::delete_answer(b, &request_id))
    }

    /// Takes a copy of a resource about to vanish from moto, so that describes keep showing
    /// it as deleting for as long as AWS would.
    async fn capture_tombstone(
        &self,
        t: &lifecycle::Transition,
        parts: &http::request::Parts,
        params: &[(String, String)],
        config: &ProxyConfig,
    ) {
        let kind = t.kind;
        let Some(id) = t.named_ids(params).next().map(str::to_owned) else {
            return;
        };
        let query = match kind {
            Kind::RdsInstance => {
                format!("Action=DescribeDBInstances&Version=2014-10-31&DBInstanceIdentifier={id}")
            }
            Kind::RdsCluster => {
                format!("Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier={id}")
            }
            Kind::Ec2Volume => format!("Action=DescribeVolumes&Version=2016-11-15&VolumeId.1={id}"),
            Kind::CfnStack => format!("Action=DescribeStacks&Version=2010-05-15&StackName={id}"),
            _ => return,
        };
        let mut describe = parts.clone();
        describe.method = Method::POST;
        describe.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let Ok((status, _, body)) = self.forward(&describe, Bytes::from(query)).await else {
            return;
        };
        if !status.is_success() {
            return;
        }
        let Some(doc) = Document::parse(&body) else {
            return;
        };
        let shape = lifecycle::shape(kind);
        let Some((container, member)) = find_member(&doc.root, shape, &id) else {
            return;
        };
        let until = Instant::now() + scaled(t.duration, kind, &id, config);
        self.state().tombstones.insert(
            (kind, id),
            Tombstone {
                doc,
                container,
                member,
                until,
            },
        );
    }

    /// Registers lifecycles started by `action` and rewrites describe responses.
    #[expect(
        clippy::too_many_lines,
        reason = "it registers the lifecycles a call starts, then rewrites the describe answer, under one hold of the realism layer's state"
    )]
    fn after(
        &self,
        action: &str,
        transition: Option<&'static lifecycle::Transition>,
        status: StatusCode,
        params: &[(String, String)],
        body: Bytes,
        config: &ProxyConfig,
    ) -> (StatusCode, Bytes) {
        let describes: Vec<&Shape> = lifecycle::shapes_for_describe(action).collect();
        if transition.is_none() && describes.is_empty() {
            return (status, body);
        }
        let now = Instant::now();
        if let Some(t) = transition
            && status.is_success()
        {
            let ids: Vec<String> = match t.phase {
                Phase::Create => Document::parse(&body)
                    .map_or_else(Vec::new, |doc| ids_in(&doc.root, lifecycle::shape(t.kind))),
                Phase::Modify | Phase::Delete => t.named_ids(params).map(str::to_owned).collect(),
            };
            let mut state = self.state();
            for id in ids {
                let until = now + scaled(t.duration, t.kind, &id, config);
                state.lives.insert(
                    (t.kind, lifecycle::normalize_id(t.kind, &id)),
                    Life {
                        phase: t.phase,
                        until,
                    },
                );
            }
        }
        if describes.is_empty() {
            return (status, body);
        }
        let mut state = self.state();
        state.lives.retain(|_, life| life.until > now);
        state.tombstones.retain(|_, t| t.until > now);
        let requested: HashSet<&str> = params
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "Action" | "Version" | "MaxRecords" | "Marker" | "NextToken" | "MaxResults"
                )
            })
            .map(|(_, v)| v.as_str())
            .collect();
        let doc = if status.is_success() {
            Document::parse(&body)
        } else {
            None
        };
        let Some(mut doc) = doc else {
            // A describe of one vanished resource that moto no longer knows: answer with the
            // copy taken before the delete, still deleting.
            for shape in &describes {
                let hit = state
                    .tombstones
                    .iter()
                    .find(|((k, id), _)| *k == shape.kind && requested.contains(id.as_str()));
                if let Some((_, t)) = hit {
                    let mut doc = t.doc.clone();
                    set_status_all(&mut doc.root, shape, shape.deleting);
                    return (StatusCode::OK, Bytes::from(doc.to_bytes()));
                }
            }
            return (status, body);
        };
        for shape in describes {
            let mut seen = HashSet::new();
            let state = &*state;
            doc.root.visit_mut(&mut |e| {
                let ids: Vec<String> = shape
                    .id_paths
                    .iter()
                    .filter_map(|p| e.at(p))
                    .map(|x| lifecycle::normalize_id(shape.kind, &x.text()))
                    .collect();
                if ids.is_empty() || e.at(shape.status_path).is_none() {
                    return;
                }
                for id in &ids {
                    seen.insert(id.clone());
                    if let Some(created) = state.created_at.get(id) {
                        for path in shape.time_paths {
                            if let Some(t) = e.at_mut(path) {
                                t.set_text(created);
                            }
                        }
                    }
                }
                let Some(life) = ids
                    .iter()
                    .find_map(|id| state.lives.get(&(shape.kind, id.clone())))
                else {
                    return;
                };
                let current = e
                    .at(shape.status_path)
                    .map(Element::text)
                    .unwrap_or_default();
                let shown = match life.phase {
                    Phase::Create => shape.creating,
                    Phase::Modify => shape.modifying,
                    Phase::Delete
                        if shape.deleted.contains(&current.as_str()) || shape.vanishes =>
                    {
                        shape.deleting
                    }
                    Phase::Delete => return,
                };
                set_status(e, shape, shown);
            });
            if shape.vanishes {
                for ((kind, id), t) in &state.tombstones {
                    let wanted = requested.is_empty() || requested.contains(id.as_str());
                    if *kind != shape.kind || seen.contains(id) || !wanted {
                        continue;
                    }
                    let mut member = t.member.clone();
                    set_status(&mut member, shape, shape.deleting);
                    let mut placed = false;
                    doc.root.visit_mut(&mut |e| {
                        if !placed && e.name() == t.container {
                            e.children.push(Child::Element(member.clone()));
                            placed = true;
                        }
                    });
                }
            }
        }
        (status, Bytes::from(doc.to_bytes()))
    }

    /// A fault of a restored database or an app (`data/stop`, `apps/fail`, ...).
    async fn plane_fault(&self, action: &str, body: &[u8]) -> Response<Full<Bytes>> {
        let fault = match serde_json::from_slice::<PlaneFault>(body) {
            Ok(fault) => fault,
            Err(err) => {
                return response(StatusCode::BAD_REQUEST, "text/plain", err.to_string());
            }
        };
        let fault_kind = match action {
            "data/stop" | "data/start" => PlaneFaultKind::Database,
            "apps/fail" | "apps/recover" => PlaneFaultKind::AppError,
            _ => PlaneFaultKind::App,
        };
        // `healthy`: the state the call asks for is the good one.
        let healthy = matches!(action, "data/start" | "apps/start" | "apps/recover");
        match self
            .planes
            .apply(fault_kind, &fault.instance, healthy)
            .await
        {
            Ok(()) => {}
            Err(reason) => return response(StatusCode::NOT_FOUND, "text/plain", reason),
        }
        if let Some(secs) = fault.for_secs {
            // For a while: then back as it was.
            let planes = self.planes.clone();
            let instance = fault.instance.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))).await;
                let _ = planes.apply(fault_kind, &instance, !healthy).await;
            });
        }
        json(&fault.instance)
    }

    async fn control(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req
            .uri()
            .path()
            .trim_start_matches("/__firedrill/")
            .to_owned();
        let method = req.method().clone();
        let body = req
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        match (method, path.as_str()) {
            (Method::GET, "health") => {
                json(&serde_json::json!({ "status": "ok", "upstream": self.upstream }))
            }
            (Method::GET, "stats") => json(&self.state().stats),
            (Method::POST, "stats/reset") => {
                let mut state = self.state();
                state.stats = Stats::default();
                state.counters.clear();
                json(&state.stats)
            }
            (Method::GET, "config") => json(&self.config()),
            (Method::PUT, "config") => match serde_json::from_slice::<ProxyConfig>(&body)
                .map_err(|e| e.to_string())
                .and_then(|c| c.validate().map(|()| c))
            {
                Ok(config) => {
                    *self.config.lock().unwrap_or_else(PoisonError::into_inner) = config;
                    json(&config)
                }
                Err(err) => response(StatusCode::BAD_REQUEST, "text/plain", err),
            },
            (Method::POST, "created-at") => {
                match serde_json::from_slice::<BTreeMap<String, String>>(&body) {
                    Ok(times) => {
                        let mut state = self.state();
                        for (id, time) in times {
                            let Ok(t) = chrono::DateTime::parse_from_rfc3339(&time) else {
                                return response(
                                    StatusCode::BAD_REQUEST,
                                    "text/plain",
                                    format!("`{time}` is not an RFC 3339 time"),
                                );
                            };
                            let text = t
                                .with_timezone(&chrono::Utc)
                                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                                .to_string();
                            // A recovery point with an age is finished: it exists since then.
                            state.lives.retain(|(_, life_id), _| life_id != &id);
                            state.created_at.insert(id, text);
                        }
                        json(&state.created_at.len())
                    }
                    Err(err) => response(StatusCode::BAD_REQUEST, "text/plain", err.to_string()),
                }
            }
            (Method::GET, "data") => json(&match self.planes.data.programs() {
                Ok(bin) => serde_json::json!({ "on": true, "postgres": bin }),
                Err(reason) => serde_json::json!({ "on": false, "reason": reason }),
            }),
            (Method::POST, "data/seed") => {
                match serde_json::from_slice::<super::data::SeedData>(&body) {
                    Ok(seed) => match self.planes.data.seed(&seed).await {
                        Ok(()) => json(&seed.instance),
                        Err(reason) => {
                            response(StatusCode::UNPROCESSABLE_ENTITY, "text/plain", reason)
                        }
                    },
                    Err(err) => response(StatusCode::BAD_REQUEST, "text/plain", err.to_string()),
                }
            }
            (
                Method::POST,
                action @ ("data/stop" | "data/start" | "apps/stop" | "apps/start" | "apps/fail"
                | "apps/recover"),
            ) => self.plane_fault(action, &body).await,
            (Method::POST, "apps/image") => match serde_json::from_slice::<ImageApp>(&body) {
                Ok(app) => {
                    let image = app.image.clone();
                    self.planes.apps.image(app);
                    json(&image)
                }
                Err(err) => response(StatusCode::BAD_REQUEST, "text/plain", err.to_string()),
            },
            _ => response(
                StatusCode::NOT_FOUND,
                "text/plain",
                "unknown control endpoint",
            ),
        }
    }
}

/// `body` with `edit` applied to each of its elements, when it holds `marker` and parses as
/// XML; as it was when no edit changed anything.
fn rewrite(body: Bytes, marker: &[u8], mut edit: impl FnMut(&mut Element) -> bool) -> Bytes {
    if !body.windows(marker.len()).any(|w| w == marker) {
        return body;
    }
    let Some(mut doc) = Document::parse(&body) else {
        return body;
    };
    let mut changed = false;
    doc.root.visit_mut(&mut |e| changed |= edit(e));
    if changed {
        Bytes::from(doc.to_bytes())
    } else {
        body
    }
}

/// What an RDS call means to the data plane.
#[derive(Clone, Copy)]
enum DataCall {
    /// A restore from the snapshot in the other parameter.
    FromSnapshot,
    /// A restore of the instance or cluster in the other parameter to the time in this one.
    ToPointInTime(&'static str),
    /// An instance created in the cluster in the other parameter.
    InCluster,
    /// A snapshot, named in the other parameter, of the instance or cluster.
    SnapshotTaken,
    /// A copy, named in the other parameter, of the snapshot.
    SnapshotCopied,
    /// The instance or cluster deleted.
    Deleted,
}

/// The RDS calls the data plane hears of: the action, what it is of, what it means, the
/// parameter naming the instance, cluster or snapshot, and the other parameter.
const DATA_CALLS: &[(&str, Of, DataCall, &str, &str)] = &[
    (
        "RestoreDBInstanceFromDBSnapshot",
        Of::Instance,
        DataCall::FromSnapshot,
        "DBInstanceIdentifier",
        "DBSnapshotIdentifier",
    ),
    (
        "RestoreDBInstanceToPointInTime",
        Of::Instance,
        DataCall::ToPointInTime("RestoreTime"),
        "TargetDBInstanceIdentifier",
        "SourceDBInstanceIdentifier",
    ),
    (
        "RestoreDBClusterFromSnapshot",
        Of::Cluster,
        DataCall::FromSnapshot,
        "DBClusterIdentifier",
        "SnapshotIdentifier",
    ),
    (
        "RestoreDBClusterToPointInTime",
        Of::Cluster,
        DataCall::ToPointInTime("RestoreToTime"),
        "DBClusterIdentifier",
        "SourceDBClusterIdentifier",
    ),
    (
        "CreateDBInstance",
        Of::Instance,
        DataCall::InCluster,
        "DBInstanceIdentifier",
        "DBClusterIdentifier",
    ),
    (
        "CreateDBSnapshot",
        Of::Instance,
        DataCall::SnapshotTaken,
        "DBInstanceIdentifier",
        "DBSnapshotIdentifier",
    ),
    (
        "CreateDBClusterSnapshot",
        Of::Cluster,
        DataCall::SnapshotTaken,
        "DBClusterIdentifier",
        "DBClusterSnapshotIdentifier",
    ),
    (
        "CopyDBSnapshot",
        Of::Instance,
        DataCall::SnapshotCopied,
        "SourceDBSnapshotIdentifier",
        "TargetDBSnapshotIdentifier",
    ),
    (
        "CopyDBClusterSnapshot",
        Of::Cluster,
        DataCall::SnapshotCopied,
        "SourceDBClusterSnapshotIdentifier",
        "TargetDBClusterSnapshotIdentifier",
    ),
    (
        "DeleteDBInstance",
        Of::Instance,
        DataCall::Deleted,
        "DBInstanceIdentifier",
        "",
    ),
    (
        "DeleteDBCluster",
        Of::Cluster,
        DataCall::Deleted,
        "DBClusterIdentifier",
        "",
    ),
];

/// What a plane fault does.
#[derive(Clone, Copy)]
enum PlaneFaultKind {
    /// A restored database stops (or starts).
    Database,
    /// An app stops (or starts).
    App,
    /// An app answers 500 (or passes requests through again).
    AppError,
}

impl Planes {
    /// Puts `instance` in the healthy state of `kind`, or out of it.
    async fn apply(
        &self,
        kind: PlaneFaultKind,
        instance: &str,
        healthy: bool,
    ) -> Result<(), String> {
        let ids = [instance.to_owned()];
        match kind {
            PlaneFaultKind::Database => self.data.set_running(instance, healthy).await,
            PlaneFaultKind::App => self.apps.set_running(&ids, healthy, true),
            PlaneFaultKind::AppError => self.apps.set_failing(&ids, !healthy),
        }
    }
}

/// A fault of a restored database or an app: stop or start it, for a while or for good.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaneFault {
    /// The RDS or EC2 instance.
    instance: String,
    /// How long until it is undone (none: until told).
    for_secs: Option<f64>,
}

fn set_status(e: &mut Element, shape: &Shape, status: &str) {
    if let Some(s) = e.at_mut(shape.status_path) {
        s.set_text(status);
    }
    if let Some(path) = shape.code_path
        && let Some(c) = e.at_mut(path)
    {
        c.set_text(lifecycle::ec2_state_code(status));
    }
}

fn set_status_all(root: &mut Element, shape: &Shape, status: &str) {
    root.visit_mut(&mut |e| {
        if shape.id_paths.iter().any(|p| e.at(p).is_some()) && e.at(shape.status_path).is_some() {
            set_status(e, shape, status);
        }
    });
}

/// The identifiers of every resource of `shape` in a response.
fn ids_in(root: &Element, shape: &Shape) -> Vec<String> {
    let mut ids = Vec::new();
    root.visit(&mut |e| {
        if let Some(id) = shape.id_paths.iter().find_map(|p| e.at(p)) {
            ids.push(id.text());
        }
    });
    ids
}

/// The element listing resource `id` in a response, and the name of its parent.
fn find_member(root: &Element, shape: &Shape, id: &str) -> Option<(String, Element)> {
    let mut found = None;
    root.visit(&mut |parent| {
        if found.is_some() {
            return;
        }
        for child in &parent.children {
            if let Child::Element(e) = child
                && shape
                    .id_paths
                    .iter()
                    .any(|p| e.at(p).is_some_and(|x| x.text() == id))
                && e.at(shape.status_path).is_some()
            {
                found = Some((parent.name(), e.clone()));
                return;
            }
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route53_actions_from_paths() {
        assert_eq!(
            route53_action(&Method::POST, "/2013-04-01/hostedzone/Z1/rrset/"),
            "ChangeResourceRecordSets"
        );
        assert_eq!(
            route53_action(&Method::GET, "/2013-04-01/change/C1"),
            "GetChange"
        );
        assert_eq!(
            route53_action(&Method::GET, "/2013-04-01/hostedzone"),
            "ListHostedZones"
        );
    }

    #[test]
    fn configs_out_of_range_are_refused() {
        assert!(ProxyConfig::default().validate().is_ok());
        let huge = ProxyConfig {
            time_scale: 1e300,
            ..ProxyConfig::default()
        };
        assert!(huge.validate().is_err());
        let mut rates = ProxyConfig::default();
        rates.faults.throttle = 0.7;
        rates.faults.server_error = 0.5;
        assert!(rates.validate().is_err());
        rates.faults.server_error = -0.1;
        assert!(rates.validate().is_err());
        assert_eq!(
            scaled(Duration::from_mins(15), Kind::RdsInstance, "x", &huge),
            Duration::MAX,
            "no overflow panic"
        );
    }

    #[test]
    fn mutating_actions() {
        assert!(is_mutating("RestoreDBInstanceFromDBSnapshot"));
        assert!(!is_mutating("DescribeDBInstances"));
        assert!(!is_mutating("GetCallerIdentity"));
    }
}
