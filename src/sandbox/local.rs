//! Running the local sandbox: moto's server, installed into a Python virtual environment that
//! firedrill manages, on a free loopback port, with the realism layer in front of it and the
//! name server of its Route53 zones beside it.
//!
//! [`LocalSandbox`] is one running sandbox with its own ports and state; it stops when dropped
//! (tests start one each). `firedrill sandbox start` runs one in a background process and leaves
//! a [`SandboxRecord`] in the state directory, which `stop`, `status`, `seed` and
//! `run --sandbox local` read.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use super::apps::Apps;
use super::authority::Authority;
use super::data::{self, DataPlane};
use super::dns::{self, RunningDns};
use super::proxy::{self, ProxyConfig, RunningProxy, Stats};

/// The moto version the sandbox installs (PyPI `moto[server]`).
pub const MOTO_VERSION: &str = "5.2.5";

/// Why the sandbox could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Installing moto failed.
    #[error("cannot install moto[server]=={MOTO_VERSION}: {0}")]
    Install(String),
    /// moto or the layer did not start.
    #[error("the local sandbox did not start: {0}")]
    Start(String),
    /// No sandbox is running.
    #[error("no local sandbox is running: start one with `firedrill sandbox start`")]
    NotRunning,
    /// A control request failed.
    #[error("the local sandbox at {endpoint} did not answer: {reason}")]
    Control {
        /// The endpoint.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the virtual environment with moto lives: `FIREDRILL_SANDBOX_VENV`, else
/// `<data dir>/sandbox/moto-<version>`.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("FIREDRILL_SANDBOX_VENV").map_or_else(
        || {
            crate::store::paths::data_dir()
                .join("sandbox")
                .join(format!("moto-{MOTO_VERSION}"))
        },
        PathBuf::from,
    )
}

/// The `moto_server` program, installing moto first when it is missing. `say` is told what
/// happens (the install takes about a minute, once). Safe to call from several processes at
/// once: the install is done under a file lock.
pub fn ensure_moto(say: &mut dyn FnMut(&str)) -> Result<PathBuf, SandboxError> {
    let venv = venv_dir();
    let server = venv.join("bin").join("moto_server");
    let marker = venv.join(".firedrill-ready");
    if marker.exists() {
        return Ok(server);
    }
    let parent = venv.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let lock = std::fs::File::create(parent.join(format!(".moto-{MOTO_VERSION}.lock")))?;
    lock.lock()?;
    if marker.exists() {
        return Ok(server);
    }
    let python = std::env::var("FIREDRILL_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    say(&format!(
        "installing moto[server]=={MOTO_VERSION} into {} (once; about a minute)",
        venv.display()
    ));
    run_logged(
        std::process::Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        say,
    )
    .map_err(|e| {
        SandboxError::Install(format!(
            "`{python} -m venv` failed: {e}; is Python 3 installed?"
        ))
    })?;
    run_logged(
        &mut super::venv::pip_install(&venv, &format!("moto[server]=={MOTO_VERSION}")),
        say,
    )
    .map_err(|e| SandboxError::Install(format!("pip install failed: {e}")))?;
    std::fs::write(&marker, MOTO_VERSION)?;
    say("moto is installed");
    Ok(server)
}

fn run_logged(cmd: &mut std::process::Command, say: &mut dyn FnMut(&str)) -> Result<(), String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !line.trim().is_empty() {
                say(&format!("  {line}"));
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let errors = errors.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "{status}: {}",
            errors
                .iter()
                .rev()
                .take(5)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

/// How a sandbox is started.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxOptions {
    /// The realism layer's settings.
    pub proxy: ProxyConfig,
    /// The layer's port (0: any free port).
    pub port: u16,
    /// The name server's port, UDP and TCP (0: any free port).
    pub dns_port: u16,
    /// The sandbox's region (what latency records answer for).
    pub region: String,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            proxy: ProxyConfig::default(),
            port: 0,
            dns_port: 0,
            region: "us-east-1".to_owned(),
        }
    }
}

/// A running sandbox: moto, the realism layer and the name server. Dropping it stops them.
pub struct LocalSandbox {
    moto: tokio::process::Child,
    proxy: RunningProxy,
    dns: RunningDns,
    data: std::sync::Arc<DataPlane>,
    apps: std::sync::Arc<Apps>,
    /// The certificate (PEM file) of the sandbox's authority, which signed the certificate its
    /// database endpoints present.
    pub ca: PathBuf,
    /// moto's own address (behind the layer).
    pub moto_addr: SocketAddr,
    /// moto's log file.
    pub log: PathBuf,
}

impl LocalSandbox {
    /// Installs moto if needed, starts it on a free loopback port with its log in `log_dir`,
    /// and puts the realism layer in front of it. Returns once both answer.
    pub async fn start(options: &SandboxOptions, log_dir: &Path) -> Result<Self, SandboxError> {
        let (server, postgres) = tokio::task::spawn_blocking(|| {
            let say = &mut |line: &str| eprintln!("{line}");
            let server = ensure_moto(say)?;
            Ok::<_, SandboxError>((server, data::postgres::ensure(&venv_dir(), say)))
        })
        .await
        .map_err(|e| SandboxError::Start(e.to_string()))??;
        std::fs::create_dir_all(log_dir)?;
        let authority = Authority::new().map_err(SandboxError::Start)?;
        let ca = log_dir.join("ca.pem");
        std::fs::write(&ca, &authority.pem)?;
        let data = std::sync::Arc::new(DataPlane::new(
            postgres,
            Some(authority.acceptor()),
            venv_dir(),
            log_dir.to_owned(),
        ));
        let apps = std::sync::Arc::new(Apps::new(log_dir.to_owned()));
        let mut last_error = String::new();
        for attempt in 0..3 {
            let log = log_dir.join(format!("moto-{}-{attempt}.log", std::process::id()));
            let log_file = std::fs::File::create(&log)?;
            // Port 0: moto binds a free port itself and says which in its log, so two
            // sandboxes starting at once can never end up sharing one moto.
            let mut moto = tokio::process::Command::new(&server)
                .args(["-H", "127.0.0.1", "-p", "0"])
                .stdin(Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    SandboxError::Start(format!("cannot run {}: {e}", server.display()))
                })?;
            match wait_for_moto(&mut moto, &log).await {
                Ok(moto_addr) => {
                    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, options.port)).await?;
                    let planes = proxy::Planes {
                        data: data.clone(),
                        apps: apps.clone(),
                    };
                    let proxy = proxy::start(listener, moto_addr, options.proxy, planes)?;
                    let dns = dns::start(options.dns_port, moto_addr, &options.region).await?;
                    return Ok(Self {
                        moto,
                        proxy,
                        dns,
                        data,
                        apps,
                        ca: ca.clone(),
                        moto_addr,
                        log,
                    });
                }
                Err(e) => {
                    let _ = moto.kill().await;
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let tail: Vec<&str> = tail.lines().rev().take(5).collect();
                    last_error = format!(
                        "{e}; moto's log ends: {}",
                        tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                    );
                }
            }
        }
        Err(SandboxError::Start(last_error))
    }

    /// The endpoint the SDK talks to (the realism layer).
    pub fn endpoint(&self) -> String {
        self.proxy.endpoint()
    }

    /// Where the name server of the sandbox's Route53 zones answers (UDP and TCP).
    pub fn dns_addr(&self) -> SocketAddr {
        self.dns.addr
    }

    /// moto's process id.
    pub fn moto_pid(&self) -> Option<u32> {
        self.moto.id()
    }

    /// Where the data plane's PostgreSQL comes from, or why the data plane is off.
    pub fn data_plane(&self) -> Result<&Path, &str> {
        self.data.programs()
    }

    /// Stops moto, the layer and the data plane, and waits for moto to exit.
    pub async fn stop(mut self) {
        self.data.stop();
        self.apps.stop();
        let _ = self.moto.kill().await;
    }
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        self.data.stop();
        self.apps.stop();
    }
}

/// Waits until moto says in its log which port it bound, and answers there.
async fn wait_for_moto(moto: &mut tokio::process::Child, log: &Path) -> Result<SocketAddr, String> {
    let deadline = tokio::time::Instant::now() + Duration::from_mins(1);
    let marker = "Running on http://127.0.0.1:";
    loop {
        if let Ok(Some(status)) = moto.try_wait() {
            return Err(format!("moto exited at start ({status})"));
        }
        let port = std::fs::read_to_string(log).ok().and_then(|text| {
            let rest = &text[text.find(marker)? + marker.len()..];
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<u16>()
                .ok()
        });
        if let Some(port) = port {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            if request(
                &format!("http://{addr}"),
                http::Method::GET,
                "/moto-api/data.json",
                None,
            )
            .await
            .is_ok()
            {
                return Ok(addr);
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err("moto did not answer within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Sends one HTTP request to `endpoint` and returns the body of a 2xx answer.
pub async fn request(
    endpoint: &str,
    method: http::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Bytes, SandboxError> {
    let fail = |reason: String| SandboxError::Control {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{endpoint}{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .map_err(|e| fail(e.to_string()))?;
    let resp = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| fail("timed out".into()))?
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| fail(e.to_string()))?
        .to_bytes();
    if !status.is_success() {
        return Err(fail(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    Ok(bytes)
}

/// The realism layer's call counts.
pub async fn stats(endpoint: &str) -> Result<Stats, SandboxError> {
    let bytes = request(endpoint, http::Method::GET, "/__firedrill/stats", None).await?;
    serde_json::from_slice(&bytes).map_err(|e| SandboxError::Control {
        endpoint: endpoint.to_owned(),
        reason: e.to_string(),
    })
}

/// Resets the call counts.
pub async fn reset_stats(endpoint: &str) -> Result<(), SandboxError> {
    request(
        endpoint,
        http::Method::POST,
        "/__firedrill/stats/reset",
        None,
    )
    .await
    .map(|_| ())
}

/// Changes the realism layer's settings while it runs.
pub async fn configure(endpoint: &str, config: &ProxyConfig) -> Result<(), SandboxError> {
    let body = serde_json::to_vec(config).expect("a config serializes");
    request(
        endpoint,
        http::Method::PUT,
        "/__firedrill/config",
        Some(body),
    )
    .await
    .map(|_| ())
}

/// The sandbox that `firedrill sandbox start` runs, as recorded in the state directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SandboxRecord {
    /// The endpoint the SDK talks to.
    pub endpoint: String,
    /// Where the name server of its Route53 zones answers, UDP and TCP (none: a sandbox from
    /// before it had one).
    #[serde(default)]
    pub dns: Option<SocketAddr>,
    /// The certificate (PEM file) of the sandbox's authority, which signed the certificate its
    /// database endpoints present.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Where the data plane's PostgreSQL programs are (none: it is off).
    #[serde(default)]
    pub postgres: Option<PathBuf>,
    /// Why the data plane is off.
    #[serde(default)]
    pub data_plane_off: Option<String>,
    /// The default region of drills against it.
    pub region: String,
    /// The account moto emulates.
    pub account: String,
    /// The background `firedrill sandbox serve` process.
    pub serve_pid: u32,
    /// moto's process.
    pub moto_pid: u32,
    /// moto's own endpoint.
    pub moto_endpoint: String,
    /// The moto version.
    pub moto_version: String,
    /// The layer's settings at start.
    pub config: ProxyConfig,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// The log file of the background process and of moto.
    pub logs: Vec<PathBuf>,
    /// The seed files applied to it, so that the same seed is applied only once.
    #[serde(default)]
    pub seeds: Vec<SeedMark>,
    /// The paths of the seed files applied by a firedrill before seed marks (read, never
    /// written): the same path is taken as the same seed.
    #[serde(default, skip_serializing)]
    pub seeded: Vec<PathBuf>,
}

/// A seed file the sandbox was seeded from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedMark {
    /// Its path (canonical) when it was applied.
    pub path: PathBuf,
    /// A hash of its text: the same text from another path is the same seed.
    pub content: String,
}

/// moto's default account, the local sandbox's account id.
pub const SANDBOX_ACCOUNT: &str = "123456789012";

impl SandboxRecord {
    /// Where the record of the sandbox lives.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("sandbox").join("local.json")
    }

    /// The recorded sandbox, if there is one.
    pub fn load(state_dir: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(Self::path(state_dir)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Writes the record (atomically).
    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = Self::path(state_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).expect("a record serializes"),
        )?;
        std::fs::rename(tmp, path)
    }

    /// What tells this sandbox from a later one started in its place (a run records it: a
    /// restarted sandbox no longer holds the run's resources).
    pub fn identity(&self) -> String {
        format!("{}#{}", self.started_at, self.serve_pid)
    }

    /// Removes the record.
    pub fn remove(state_dir: &Path) {
        let _ = std::fs::remove_file(Self::path(state_dir));
    }
}

/// Whether process `pid` is alive and its command line contains `needle`: a recorded pid may
/// have been reused by an unrelated process since (after a crash or a reboot), and firedrill
/// never signals a process it cannot prove is its own.
pub fn is_ours(pid: u32, needle: &str) -> bool {
    alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(needle))
}

/// Whether a process is alive (and not a zombie of ours).
pub fn alive(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    if rustix::process::test_kill_process(pid).is_err() {
        return false;
    }
    // A zombie still accepts signal 0; /proc says it is dead.
    std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero())).map_or(true, |stat| {
        !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// Sends `signal` to a process.
pub fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process(pid, signal);
    }
}
