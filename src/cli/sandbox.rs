//! `firedrill sandbox start|stop|status|seed` (and the hidden `serve`, the background process
//! that `start` leaves running).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};

use super::out::{eprint, print};
use crate::aws::Clients;
use crate::engine::exit;
use crate::language::diag::{self, SourceFile};
use crate::language::files;
use crate::sandbox::faults::FaultConfig;
use crate::sandbox::local::{self, MOTO_VERSION, SANDBOX_ACCOUNT, SandboxRecord, SeedMark};
use crate::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, seed};

/// The sandbox subcommands.
#[derive(Subcommand, Debug)]
pub enum SandboxCommand {
    /// Start the local sandbox in the background (installs moto the first time).
    Start(StartArgs),
    /// Stop the local sandbox; no process is left behind.
    Stop,
    /// Say what runs where, and how many calls it has served.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
        format: StatusFormat,
    },
    /// Create the "production" side that drills restore from, from a seed file.
    Seed {
        /// The seed file (YAML).
        file: PathBuf,
    },
    /// Run the sandbox in the foreground (what `start` runs in the background).
    #[command(hide = true)]
    Serve(StartArgs),
}

/// Formats of `sandbox status`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum StatusFormat {
    /// For a person.
    Text,
    /// For programs.
    Json,
}

/// The time scale of a sandbox started without `--time-scale`.
pub(super) const DEFAULT_TIME_SCALE: f64 = 0.01;

/// How the sandbox behaves.
#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    /// Multiply AWS-like durations by this: 1 is real time, 0.01 turns a 15-minute RDS restore
    /// into 9 s, 0 finishes everything at once.
    #[arg(long, default_value_t = DEFAULT_TIME_SCALE)]
    time_scale: f64,
    /// The seed of injected faults and duration jitter: the same seed repeats a run exactly.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The share of calls answered with a throttling error (0 to 1).
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// The share of calls answered with HTTP 500.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// The share of calls answered with HTTP 503.
    #[arg(long, default_value_t = 0.0)]
    unavailable_rate: f64,
    /// The share of calls delayed by --latency-ms.
    #[arg(long, default_value_t = 0.0)]
    latency_rate: f64,
    /// The added latency, in milliseconds.
    #[arg(long, default_value_t = 200)]
    latency_ms: u64,
    /// The port of the sandbox endpoint (default: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The port of the name server that answers the sandbox's Route53 zones, UDP and TCP
    /// (default: a free one).
    #[arg(long, default_value_t = 0)]
    dns_port: u16,
    /// The region drills against the sandbox use unless their playbook names one.
    #[arg(long, default_value = "us-east-1")]
    region: String,
}

impl StartArgs {
    fn options(&self) -> Result<SandboxOptions, String> {
        let options = SandboxOptions {
            proxy: ProxyConfig {
                time_scale: self.time_scale,
                seed: self.seed,
                faults: FaultConfig {
                    throttle: self.throttle_rate,
                    server_error: self.error_rate,
                    unavailable: self.unavailable_rate,
                    latency: self.latency_rate,
                    latency_ms: self.latency_ms,
                },
            },
            port: self.port,
            dns_port: self.dns_port,
            region: self.region.clone(),
        };
        options.proxy.validate()?;
        Ok(options)
    }

    fn to_args(&self) -> Vec<String> {
        vec![
            format!("--time-scale={}", self.time_scale),
            format!("--seed={}", self.seed),
            format!("--throttle-rate={}", self.throttle_rate),
            format!("--error-rate={}", self.error_rate),
            format!("--unavailable-rate={}", self.unavailable_rate),
            format!("--latency-rate={}", self.latency_rate),
            format!("--latency-ms={}", self.latency_ms),
            format!("--port={}", self.port),
            format!("--dns-port={}", self.dns_port),
            format!("--region={}", self.region),
        ]
    }
}

/// The runtime of the commands that talk to AWS or the sandbox.
pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Runs a sandbox subcommand.
pub fn run(command: &SandboxCommand, state_dir: &Path, color: bool) -> u8 {
    match command {
        SandboxCommand::Start(args) => start(args, state_dir, print),
        SandboxCommand::Stop => stop(state_dir),
        SandboxCommand::Status { format } => runtime().block_on(status(state_dir, *format)),
        SandboxCommand::Seed { file } => runtime().block_on(seed(file, state_dir, color, print)),
        SandboxCommand::Serve(args) => runtime().block_on(serve(args, state_dir)),
    }
}

/// The command lines that prove a recorded pid is still the sandbox's.
const SERVE_MARK: &str = "serve";
const MOTO_MARK: &str = "moto_server";

/// The running local sandbox, if there is one.
pub(super) fn running(state_dir: &Path) -> Option<SandboxRecord> {
    let record = SandboxRecord::load(state_dir)?;
    if local::is_ours(record.serve_pid, SERVE_MARK) {
        Some(record)
    } else {
        // The background process died without cleaning up: leave nothing of it behind, but
        // signal only a process that is provably moto.
        if local::is_ours(record.moto_pid, MOTO_MARK) {
            local::signal(record.moto_pid, rustix::process::Signal::KILL);
        }
        SandboxRecord::remove(state_dir);
        None
    }
}

/// The running local sandbox, started (with the default settings) when none runs; `quiet`
/// keeps its progress messages (not its errors) to itself.
pub(super) fn ensure_running(state_dir: &Path, quiet: bool) -> Result<SandboxRecord, u8> {
    if let Some(record) = running(state_dir) {
        return Ok(record);
    }
    let Ok(defaults) = SandboxCommand::try_parse_start(&[]) else {
        return Err(exit::INTERNAL);
    };
    match start(&defaults, state_dir, if quiet { silent } else { eprint }) {
        exit::OK => running(state_dir).ok_or(exit::INTERNAL),
        code => Err(code),
    }
}

impl SandboxCommand {
    fn try_parse_start(args: &[&str]) -> Result<StartArgs, ()> {
        #[derive(clap::Parser)]
        struct Wrap {
            #[command(flatten)]
            args: StartArgs,
        }
        use clap::Parser;
        Wrap::try_parse_from(std::iter::once("start").chain(args.iter().copied()))
            .map(|w| w.args)
            .map_err(|_| ())
    }
}

fn start(args: &StartArgs, state_dir: &Path, out: fn(&str)) -> u8 {
    if let Err(e) = args.options() {
        eprint(&format!("error: {e}\n"));
        return exit::INVALID;
    }
    // One `start` at a time per state directory: two would both find nothing running.
    let lock_path = state_dir.join("sandbox").join("start.lock");
    let lock = std::fs::create_dir_all(state_dir.join("sandbox"))
        .and_then(|()| std::fs::File::create(&lock_path));
    let _lock = match lock.and_then(|f| f.lock().map(|()| f)) {
        Ok(f) => f,
        Err(e) => {
            eprint(&format!(
                "error: cannot lock {}: {e}\n",
                lock_path.display()
            ));
            return exit::INTERNAL;
        }
    };
    if let Some(record) = running(state_dir) {
        out(&format!(
            "the local sandbox is already running at {}\n",
            record.endpoint
        ));
        return exit::OK;
    }
    if let Err(e) = local::ensure_moto(&mut |line| eprint(&format!("{line}\n"))) {
        eprint(&format!("error: {e}\n"));
        return exit::INTERNAL;
    }
    // PostgreSQL too, here where its install can be seen; without it the sandbox says why.
    let _ = crate::sandbox::data::postgres::ensure(&local::venv_dir(), &mut |line| {
        eprint(&format!("{line}\n"));
    });
    let began = Instant::now();
    let dir = state_dir.join("sandbox");
    let log = dir.join("serve.log");
    let spawned = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::File::create(&log))
        .and_then(|log_file| {
            let exe = std::env::current_exe()?;
            let mut cmd = std::process::Command::new(exe);
            cmd.arg("--state-dir")
                .arg(state_dir)
                .args(["sandbox", "serve"])
                .args(args.to_args());
            cmd.stdin(std::process::Stdio::null())
                .stdout(log_file.try_clone()?)
                .stderr(log_file);
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            cmd.spawn()
        });
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            eprint(&format!("error: cannot start the sandbox process: {e}\n"));
            return exit::INTERNAL;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(record) = SandboxRecord::load(state_dir)
            && record.serve_pid == child.id()
        {
            out(&format!(
                "local sandbox running at {} (moto {} at {}, account {}, region {}; time scale {}, seed {}), ready in {}\n\
                 its Route53 zones answer DNS at {}\n\
                 {}\n\
                 drills find it with `{}`; stop it with `{}`\n",
                record.endpoint,
                record.moto_version,
                record.moto_endpoint,
                record.account,
                record.region,
                record.config.time_scale,
                record.config.seed,
                crate::language::duration::human(began.elapsed().as_secs_f64()),
                record
                    .dns
                    .map_or_else(|| "no name server".to_owned(), |a| a.to_string()),
                data_plane_line(&record),
                super::again::firedrill(state_dir, "run --sandbox local PLAYBOOK"),
                super::again::firedrill(state_dir, "sandbox stop"),
            ));
            return exit::OK;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            eprint(&format!(
                "error: the sandbox process exited ({status}); its log ({}):\n{tail}\n",
                log.display()
            ));
            return exit::INTERNAL;
        }
        if Instant::now() > deadline {
            // The background process leads its own group, moto included: stop them all.
            if let Some(pgid) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
            let _ = child.wait();
            eprint(&format!(
                "error: the sandbox did not become ready in 90 s; see {}\n",
                log.display()
            ));
            return exit::INTERNAL;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn serve(args: &StartArgs, state_dir: &Path) -> u8 {
    let options = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INVALID;
        }
    };
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        return exit::INTERNAL;
    };
    let sandbox = match LocalSandbox::start(&options, &state_dir.join("sandbox")).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::INTERNAL;
        }
    };
    let record = SandboxRecord {
        endpoint: sandbox.endpoint(),
        dns: Some(sandbox.dns_addr()),
        ca: Some(sandbox.ca.clone()),
        postgres: sandbox.data_plane().ok().map(Path::to_path_buf),
        data_plane_off: sandbox.data_plane().err().map(str::to_owned),
        region: args.region.clone(),
        account: SANDBOX_ACCOUNT.to_owned(),
        serve_pid: std::process::id(),
        moto_pid: sandbox.moto_pid().unwrap_or(0),
        moto_endpoint: format!("http://{}", sandbox.moto_addr),
        moto_version: MOTO_VERSION.to_owned(),
        config: options.proxy,
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        logs: vec![
            state_dir.join("sandbox").join("serve.log"),
            sandbox.log.clone(),
        ],
        seeds: Vec::new(),
        seeded: Vec::new(),
    };
    if let Err(e) = record.save(state_dir) {
        eprintln!(
            "error: cannot record the sandbox in {}: {e}",
            state_dir.display()
        );
        sandbox.stop().await;
        return exit::INTERNAL;
    }
    eprintln!(
        "serving at {} in front of moto at {}",
        record.endpoint, record.moto_endpoint
    );
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    sandbox.stop().await;
    if SandboxRecord::load(state_dir).is_some_and(|r| r.serve_pid == std::process::id()) {
        SandboxRecord::remove(state_dir);
    }
    exit::OK
}

fn stop(state_dir: &Path) -> u8 {
    let Some(record) = SandboxRecord::load(state_dir) else {
        print("no local sandbox is running\n");
        return exit::OK;
    };
    let serve = |r: &SandboxRecord| local::is_ours(r.serve_pid, SERVE_MARK);
    let moto = |r: &SandboxRecord| local::is_ours(r.moto_pid, MOTO_MARK);
    // What was ours when asked: only those are waited for below.
    let ours = (serve(&record), moto(&record));
    if ours.0 {
        local::signal(record.serve_pid, rustix::process::Signal::TERM);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while (serve(&record) || moto(&record)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if serve(&record)
        && let Some(pgid) = i32::try_from(record.serve_pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
    {
        // It did not end in time: its group (moto, PostgreSQL) goes with it.
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    for (pid, still_ours) in [
        (record.serve_pid, serve(&record)),
        (record.moto_pid, moto(&record)),
    ] {
        if still_ours {
            local::signal(pid, rustix::process::Signal::KILL);
        }
    }
    // "Stopped" means gone. A process that is ending has lost its command line (so it no
    // longer looks like ours) before it is a zombie: wait on its life, which was ours moments
    // ago, not on its name.
    let deadline = Instant::now() + Duration::from_secs(5);
    while (ours.0 && local::alive(record.serve_pid) || ours.1 && local::alive(record.moto_pid))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    SandboxRecord::remove(state_dir);
    print(&format!(
        "stopped the local sandbox at {}\n",
        record.endpoint
    ));
    exit::OK
}

async fn status(state_dir: &Path, format: StatusFormat) -> u8 {
    let Some(record) = running(state_dir) else {
        match format {
            StatusFormat::Text => print(
                "the local sandbox is not running (start it with `firedrill sandbox start`)\n",
            ),
            StatusFormat::Json => print("{\"running\": false}\n"),
        }
        return exit::NOT_RUNNING;
    };
    let stats = local::stats(&record.endpoint).await;
    match format {
        StatusFormat::Json => {
            let doc = serde_json::json!({
                "running": true,
                "record": record,
                "stats": stats.as_ref().ok(),
            });
            print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).expect("JSON")
            ));
        }
        StatusFormat::Text => {
            let c = &record.config;
            let mut text = format!(
                "local sandbox: running since {}\n  endpoint     {} (realism layer, pid {})\n  dns          {} (Route53 zones, UDP and TCP)\n  data plane   {}\n  moto         {} {} (pid {})\n  account      {}, region {}\n  time scale   {}; seed {}; faults: throttle {}, 500 {}, 503 {}, latency {} x {} ms\n",
                record.started_at,
                record.endpoint,
                record.serve_pid,
                record
                    .dns
                    .map_or_else(|| "none".to_owned(), |a| a.to_string()),
                match (&record.postgres, &record.data_plane_off) {
                    (Some(bin), _) => format!("PostgreSQL from {}", bin.display()),
                    (None, Some(reason)) => format!("off: {reason}"),
                    (None, None) => "none".to_owned(),
                },
                record.moto_endpoint,
                record.moto_version,
                record.moto_pid,
                record.account,
                record.region,
                c.time_scale,
                c.seed,
                c.faults.throttle,
                c.faults.server_error,
                c.faults.unavailable,
                c.faults.latency,
                c.faults.latency_ms
            );
            match &stats {
                Ok(s) => text.push_str(&format!(
                    "  calls        {} ({} mutating)\n",
                    s.total, s.mutating
                )),
                Err(e) => text.push_str(&format!("  calls        unknown: {e}\n")),
            }
            for log in &record.logs {
                text.push_str(&format!("  log          {}\n", log.display()));
            }
            print(&text);
        }
    }
    exit::OK
}

/// Seeds the running sandbox from `path` (`sandbox seed`, and a drill's `--seed`). The same
/// text seeded before is a no-op that says so; a file naming resources the sandbox holds already
/// is refused before anything is created, with what conflicts. `quiet` keeps what it seeded to
/// itself (a drill's `--quiet`).
pub(super) async fn seed_once(path: &Path, state_dir: &Path, color: bool, quiet: bool) -> u8 {
    seed(path, state_dir, color, if quiet { silent } else { eprint }).await
}

/// [`seed_once`], saying what it did through `out`.
async fn seed(path: &Path, state_dir: &Path, color: bool, out: fn(&str)) -> u8 {
    let text = match files::read_text(path, path, "seed file", files::Base::CurrentDir) {
        Ok(t) => t,
        Err(e) => {
            super::out::error(&e.to_string(), &[e.hint]);
            return exit::INVALID;
        }
    };
    let file = SourceFile {
        name: path.display().to_string(),
        text,
    };
    let seed_file = match seed::parse(&file) {
        Ok(s) => s,
        Err(diags) => {
            eprint(&diag::render(&file, &diags, color));
            return exit::INVALID;
        }
    };
    let Some(record) = running(state_dir) else {
        super::out::error(
            "no local sandbox is running",
            &[format!(
                "start one with `{}`",
                super::again::firedrill(state_dir, "sandbox start")
            )],
        );
        return exit::INTERNAL;
    };
    let content = format!("{:016x}", crate::util::hash(0, &[&file.text]));
    if record.seeded.contains(&canonical(path)) {
        out(&format!(
            "the local sandbox is already seeded from {}; nothing to do\n",
            path.display()
        ));
        return exit::OK;
    }
    if let Some(mark) = record.seeds.iter().find(|m| m.content == content) {
        out(&format!(
            "the local sandbox is already seeded from {}{}; nothing to do\n",
            path.display(),
            if mark.path == canonical(path) {
                String::new()
            } else {
                format!(" (the same text as {})", mark.path.display())
            }
        ));
        return exit::OK;
    }
    let clients = Clients::for_sandbox(&record.endpoint, &seed_file.region).await;
    match seed::existing(&seed_file, &clients).await {
        Ok(found) if found.is_empty() => {}
        Ok(found) => {
            conflicting(path, &found, &record, state_dir);
            return exit::INVALID;
        }
        Err(e) => {
            super::out::error(&e.to_string(), &[]);
            return exit::INTERNAL;
        }
    }
    match seed::apply(&seed_file, &clients, &record.endpoint).await {
        Ok(seeded) => {
            let mut text = format!(
                "seeded the production side of {} ({} resources):\n",
                record.endpoint,
                seeded.created.len()
            );
            for c in &seeded.created {
                text.push_str(&format!("  {c}\n"));
            }
            for d in &seeded.data {
                text.push_str(&format!("  {d}\n"));
            }
            out(&text);
            if let Some(mut now) = running(state_dir)
                && now.serve_pid == record.serve_pid
            {
                now.seeds.push(SeedMark {
                    path: canonical(path),
                    content,
                });
                let _ = now.save(state_dir);
            }
            exit::OK
        }
        Err(e) => {
            super::out::error(&e.to_string(), &[]);
            exit::INTERNAL
        }
    }
}

/// What `sandbox start` says of the data plane, once.
fn data_plane_line(record: &SandboxRecord) -> String {
    match (&record.postgres, &record.data_plane_off) {
        (Some(_), _) => {
            "its restored RDS databases answer SQL (PostgreSQL, on loopback)".to_owned()
        }
        (None, Some(reason)) => {
            format!("its data plane is off, so restored RDS databases answer no SQL: {reason}")
        }
        (None, None) => "it has no data plane".to_owned(),
    }
}

/// Says what of a seed file the sandbox holds already, and what to do.
fn conflicting(path: &Path, found: &[String], record: &SandboxRecord, state_dir: &Path) {
    let (first, rest) = found.split_first().expect("a conflict");
    let more = match rest.len() {
        0 => String::new(),
        n => format!(" (and {n} more: {})", rest.join(", ")),
    };
    let mut hints = Vec::new();
    if let Some(mark) = record.seeds.last() {
        hints.push(format!(
            "the sandbox was seeded from {}, whose text differs",
            mark.path.display()
        ));
    }
    hints.push(format!(
        "give it another name in {}, or start from an empty sandbox: `{}`, then `{}`",
        path.display(),
        super::again::firedrill(state_dir, "sandbox stop"),
        super::again::firedrill(state_dir, "sandbox start")
    ));
    super::out::error(
        &format!(
            "{} conflicts with the sandbox: {first} exists already{more}",
            path.display()
        ),
        &hints,
    );
}

/// A path as recorded in a seed mark.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Says nothing (`--quiet`).
fn silent(_: &str) {}
