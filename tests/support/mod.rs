//! Shared test support: a builder that runs the `firedrill` binary as a user would and checks
//! what it says.

#![allow(dead_code)]

pub mod db;
pub mod history;
pub mod live;
pub mod mysql;
pub mod postgres;
pub mod pty;
pub mod sandbox;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A CloudFormation template of a VPC and a subnet, whose output `Subnet` a drill can use.
pub const NETWORK_TEMPLATE: &str = r"Parameters:
  Cidr: { Type: String }
Resources:
  Vpc:
    Type: AWS::EC2::VPC
    Properties: { CidrBlock: !Ref Cidr }
  Subnet:
    Type: AWS::EC2::Subnet
    Properties: { VpcId: !Ref Vpc, CidrBlock: 10.98.1.0/24 }
Outputs:
  Subnet: { Value: !Ref Subnet }
";

/// The repository root (where `Cargo.toml` is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run of the `firedrill` binary.
#[must_use]
pub struct Test {
    args: Vec<OsString>,
    dir: PathBuf,
    env: Vec<(String, String)>,
    removed: Vec<String>,
    code: u8,
    stdout_has: Vec<String>,
    stderr_has: Vec<String>,
}

/// What the run printed.
pub struct Output {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Test {
    /// A run in the repository root that must exit 0.
    pub fn new() -> Self {
        Self {
            args: Vec::new(),
            dir: root(),
            env: Vec::new(),
            removed: Vec::new(),
            code: 0,
            stdout_has: Vec::new(),
            stderr_has: Vec::new(),
        }
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs in `dir`.
    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = dir.to_path_buf();
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an environment variable the tests were given.
    pub fn without(mut self, key: &str) -> Self {
        self.removed.push(key.into());
        self
    }

    /// The exit code the run must have.
    pub fn code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// Text standard output must contain.
    pub fn stdout_has(mut self, text: &str) -> Self {
        self.stdout_has.push(text.into());
        self
    }

    /// Text standard error must contain.
    pub fn stderr_has(mut self, text: &str) -> Self {
        self.stderr_has.push(text.into());
        self
    }

    /// Runs the drill `yaml`, written to `dir/drill.yaml`: `run PLAYBOOK --report
    /// dir/report.json`, then the arguments given so far; checks as [`Test::run`] does and
    /// returns what it printed and its JSON report.
    pub fn drill(mut self, dir: &Path, yaml: &str) -> (Output, serde_json::Value) {
        let playbook = dir.join("drill.yaml");
        std::fs::write(&playbook, yaml).expect("write the playbook");
        let report = dir.join("report.json");
        let given = std::mem::take(&mut self.args);
        self = self
            .args(["run".into(), playbook.into_os_string()])
            .args(["--report".into(), report.clone().into_os_string()])
            .args(given);
        let out = self.run();
        let text = std::fs::read_to_string(&report).expect("the JSON report");
        (
            out,
            serde_json::from_str(&text).expect("the report is JSON"),
        )
    }

    /// Runs and checks.
    pub fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_firedrill"));
        cmd.args(&self.args)
            .current_dir(&self.dir)
            .env("NO_COLOR", "1");
        // Never the user's state directory: an empty one unless the test names its own.
        let isolated = tempfile::tempdir().expect("a state directory");
        if !self.env.iter().any(|(k, _)| k == "FIREDRILL_STATE_DIR") {
            cmd.env("FIREDRILL_STATE_DIR", isolated.path().join("state"));
        }
        for k in &self.removed {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("firedrill runs");
        drop(isolated);
        let output = Output {
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        };
        let context = format!(
            "firedrill {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, output.stdout, output.stderr
        );
        assert_eq!(
            out.status.code(),
            Some(i32::from(self.code)),
            "exit code of {context}"
        );
        for text in &self.stdout_has {
            assert!(
                output.stdout.contains(text),
                "stdout lacks {text:?}: {context}"
            );
        }
        for text in &self.stderr_has {
            assert!(
                output.stderr.contains(text),
                "stderr lacks {text:?}: {context}"
            );
        }
        output
    }
}

/// Step `id` of a JSON run report.
pub fn step<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id} in {report}"))
}

/// The failure reasons step `id` of a JSON run report kept, as JSON text.
pub fn failures(report: &serde_json::Value, id: &str) -> String {
    step(report, id)["failures"].to_string()
}

/// Every YAML file under `dir`, sorted, recursively.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every file under `dir`, recursively (for tests that search what a run wrote).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A server on a loopback port of its own for the rest of the test process: a thread runs a
/// runtime that hands every accepted connection to `handle`, each on a task of its own.
/// Returns the port.
pub fn serve_loopback<F, Fut>(handle: F) -> u16
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(handle(stream));
            }
        });
    });
    port
}
