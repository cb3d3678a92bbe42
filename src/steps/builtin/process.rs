//! Running a process for a `run` or `probe.command` step: a shell string (`sh -c`) or an
//! argument vector, with extra environment and a working directory. The exit code decides; the
//! tail of standard output and error is kept for the report; outputs are `key=value` lines the
//! process writes to the file named by `$FIREDRILL_OUTPUTS`.
//!
//! The process runs in its own process group, so that cancelling the step (a sibling failed, a
//! deadline, Ctrl-C) stops everything it started: SIGTERM to the group, then SIGKILL after a
//! grace period. It carries the run's id in its environment (`FIREDRILL_RUN_ID`), the mark by
//! which `reaper` finds what is left of a run that was killed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Run by `sh -c`, or directly when it is a plain command line ([`simple_words`]).
    Shell(String),
    /// Program and arguments.
    Argv(Vec<String>),
}

/// A process to run.
#[derive(Clone, Debug)]
pub struct Spec {
    /// What to run.
    pub program: Program,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub dir: PathBuf,
    /// An existing private directory for the outputs files (one per run, shared by its
    /// processes).
    pub scratch: PathBuf,
    /// How long the group has between SIGTERM and SIGKILL when cancelled.
    pub grace: Duration,
    /// The run it belongs to: its mark in the environment ([`super::reaper::MARKER`]).
    pub run_id: String,
}

/// How much of each output stream is kept.
pub const TAIL_BYTES: usize = 4096;

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    /// The last [`TAIL_BYTES`] of standard output.
    pub stdout: String,
    /// The last [`TAIL_BYTES`] of standard error.
    pub stderr: String,
    /// The outputs it wrote to `$FIREDRILL_OUTPUTS`.
    pub outputs: BTreeMap<String, String>,
    /// Whether it was cancelled.
    pub cancelled: bool,
}

impl Outcome {
    /// Whether it exited with 0 and was not cancelled.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.cancelled
    }
}

/// Why a process could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// It could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The outputs file could not be read.
    #[error("the outputs file: {0}")]
    Outputs(std::io::Error),
    /// The working directory is not there.
    #[error("the working directory {0} does not exist")]
    NoDir(PathBuf),
    /// An empty argument vector.
    #[error("there is no program to run")]
    Empty,
}

async fn tail(mut stream: impl AsyncRead + Unpin) -> String {
    let mut kept: Vec<u8> = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * TAIL_BYTES {
            kept.drain(..kept.len() - TAIL_BYTES);
        }
    }
    if kept.len() > TAIL_BYTES {
        kept.drain(..kept.len() - TAIL_BYTES);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Characters that make a command line need a shell.
const SHELL_SPECIAL: &str = "\"#$&'()*;<>?[\\]^`{|}~=!%\n";

/// Shell builtins and keywords: a command starting with one needs a shell.
const SHELL_WORDS: &[&str] = &[
    ".", ":", "[", "alias", "bg", "break", "case", "cd", "command", "continue", "do", "done",
    "echo", "elif", "else", "esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi",
    "for", "function", "getopts", "hash", "if", "jobs", "kill", "local", "printf", "pwd", "read",
    "readonly", "return", "select", "set", "shift", "source", "test", "then", "times", "trap",
    "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "until", "wait", "while",
];

/// The words of a shell command line that a shell would run as one plain program with
/// arguments (no quoting, expansion, redirection, builtin), like make does: such a line runs
/// without starting a shell first. `None` when a shell is needed.
pub fn simple_words(line: &str) -> Option<Vec<String>> {
    if line.chars().any(|c| SHELL_SPECIAL.contains(c)) {
        return None;
    }
    let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    let first = words.first()?;
    if SHELL_WORDS.contains(&first.as_str()) {
        return None;
    }
    Some(words)
}

/// Parses `key=value` lines; blank lines and `#` comments are skipped.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .collect()
}

/// Runs `spec` until it exits or `cancel` completes (then the group is stopped).
pub async fn run(
    spec: &Spec,
    cancel: impl std::future::Future<Output = ()>,
) -> Result<Outcome, Error> {
    if !spec.dir.is_dir() {
        return Err(Error::NoDir(spec.dir.clone()));
    }
    // A name of its own in the run's private scratch directory; the process creates the
    // file if it has outputs (most have none, and pay nothing for it).
    let outputs_file = OutputsFile::new(&spec.scratch);
    let (program, args): (String, Vec<String>) = match &spec.program {
        Program::Shell(s) if let Some(words) = simple_words(s) => {
            let (first, rest) = words.split_first().ok_or(Error::Empty)?;
            (first.clone(), rest.to_vec())
        }
        Program::Shell(s) => ("sh".into(), vec!["-c".into(), s.clone()]),
        Program::Argv(argv) => {
            let (first, rest) = argv.split_first().ok_or(Error::Empty)?;
            (first.clone(), rest.to_vec())
        }
    };
    let path_env = spec
        .env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("PATH").ok())
        .unwrap_or_default();
    let mut cmd = tokio::process::Command::new(resolve(&program, &path_env));
    cmd.args(&args)
        .current_dir(&spec.dir)
        .env("FIREDRILL_OUTPUTS", &outputs_file.0)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        // After the step's own variables: the mark that proves the process is the run's.
        .env(super::reaper::MARKER, &spec.run_id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    // If this future is dropped (the run stopped waiting), nothing the process started
    // outlives it either.
    let _group = GroupGuard(pid);
    let (stdout, stderr) = (
        child.stdout.take().expect("piped"),
        child.stderr.take().expect("piped"),
    );
    let tails = tokio::spawn(async move { tokio::join!(tail(stdout), tail(stderr)) });
    let mut cancelled = false;
    let status = tokio::select! {
        status = child.wait() => status,
        () = cancel => {
            cancelled = true;
            signal_group(pid, rustix::process::Signal::TERM);
            if let Ok(status) = tokio::time::timeout(spec.grace, child.wait()).await {
                status
            } else {
                signal_group(pid, rustix::process::Signal::KILL);
                child.wait().await
            }
        }
    };
    // Whatever the leader did, nothing it started outlives the step.
    signal_group(pid, rustix::process::Signal::KILL);
    let status = status.map_err(|source| Error::Spawn { program, source })?;
    let outputs = parse_outputs(&outputs_file.read()?);
    // A process that escaped the group (`setsid`) may hold the pipes open: the step does not
    // wait for it beyond the grace period.
    let (stdout, stderr) = drain(tails, spec.grace).await;
    Ok(Outcome {
        exit_code: status.code(),
        signal: std::os::unix::process::ExitStatusExt::signal(&status),
        stdout,
        stderr,
        outputs,
        cancelled,
    })
}

/// `program` found on `path` once, and remembered: spawning by a full path spares every step
/// the search (a failed exec per directory before the right one).
fn resolve(program: &str, path: &str) -> PathBuf {
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let key = (program.to_owned(), path.to_owned());
    let found = FOUND.get_or_init(Mutex::default);
    if let Some(p) = found.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return p;
    }
    let hit = std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    match hit {
        Some(p) => {
            if let Ok(mut m) = found.lock() {
                m.insert(key, p.clone());
            }
            p
        }
        // Not found: let the spawn report it as it would.
        None => PathBuf::from(program),
    }
}

/// What the tail readers collected (standard output, standard error), waiting at most `limit`
/// for the streams to close.
async fn drain(
    mut reader: tokio::task::JoinHandle<(String, String)>,
    limit: Duration,
) -> (String, String) {
    if let Ok(joined) = tokio::time::timeout(limit, &mut reader).await {
        joined.unwrap_or_default()
    } else {
        reader.abort();
        let open = "(the output stream stayed open: a process outside the step's group holds it)";
        (open.to_owned(), open.to_owned())
    }
}

/// The path `$FIREDRILL_OUTPUTS` names: unique in the run's scratch directory (a private
/// temporary directory), created by the process if it writes outputs, removed when dropped.
struct OutputsFile(PathBuf);

impl OutputsFile {
    fn new(scratch: &std::path::Path) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Self(scratch.join(format!("outputs-{n}")))
    }

    /// What the process wrote: nothing when it made no file.
    fn read(&self) -> Result<String, Error> {
        match std::fs::read_to_string(&self.0) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(Error::Outputs(e)),
        }
    }
}

impl Drop for OutputsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Kills a process group when dropped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        signal_group(self.0, rustix::process::Signal::KILL);
    }
}

fn signal_group(pid: Option<u32>, signal: rustix::process::Signal) {
    if let Some(pgid) = pid
        .and_then(|p| i32::try_from(p).ok())
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(program: Program) -> Spec {
        Spec {
            program,
            env: vec![("GREETING".into(), "hello".into())],
            dir: std::env::temp_dir(),
            scratch: std::env::temp_dir(),
            grace: Duration::from_secs(2),
            run_id: "test-run".into(),
        }
    }

    #[tokio::test]
    async fn exit_codes_outputs_environment_and_directory() {
        let s = spec(Program::Shell(
            "echo \"$GREETING from $(pwd)\"; echo 'url=http://x?a=b' >> \"$FIREDRILL_OUTPUTS\"; echo oops >&2; exit 3".into(),
        ));
        let out = run(&s, std::future::pending()).await.expect("runs");
        assert_eq!(out.exit_code, Some(3));
        assert!(!out.success());
        let tmp = std::env::temp_dir().canonicalize().expect("tmp");
        assert_eq!(out.stdout.trim(), format!("hello from {}", tmp.display()));
        assert_eq!(out.stderr.trim(), "oops");
        assert_eq!(
            out.outputs.get("url").map(String::as_str),
            Some("http://x?a=b")
        );

        let argv = run(
            &spec(Program::Argv(vec![
                "printf".into(),
                "%s".into(),
                "a b".into(),
            ])),
            std::future::pending(),
        )
        .await
        .expect("runs");
        assert_eq!((argv.exit_code, argv.stdout.as_str()), (Some(0), "a b"));
        assert!(matches!(
            run(
                &spec(Program::Argv(vec!["/no/such/program".into()])),
                std::future::pending()
            )
            .await,
            Err(Error::Spawn { .. })
        ));
    }

    #[tokio::test]
    async fn outputs_files_are_made_by_the_process_and_removed_after_it() {
        let scratch = tempfile::tempdir().expect("tempdir");
        let with_scratch = |command: &str| Spec {
            scratch: scratch.path().to_path_buf(),
            ..spec(Program::Shell(command.into()))
        };
        let wrote = run(
            &with_scratch(
                "test ! -e \"$FIREDRILL_OUTPUTS\" && echo 'a=1' > \"$FIREDRILL_OUTPUTS\"",
            ),
            std::future::pending(),
        )
        .await
        .expect("runs");
        assert_eq!(
            wrote.exit_code,
            Some(0),
            "no file before the process makes one"
        );
        assert_eq!(wrote.outputs.get("a").map(String::as_str), Some("1"));
        let none = run(&with_scratch("exit 0"), std::future::pending())
            .await
            .expect("runs");
        assert!(none.outputs.is_empty());
        let left: Vec<_> = std::fs::read_dir(scratch.path()).expect("dir").collect();
        assert!(
            left.is_empty(),
            "nothing is left in the scratch directory: {left:?}"
        );
    }

    #[test]
    fn programs_are_found_on_the_path_once() {
        let path = std::env::var("PATH").unwrap_or_default();
        let sh = resolve("sh", &path);
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(resolve("sh", &path), sh, "remembered");
        assert_eq!(
            resolve("./local-tool", &path),
            PathBuf::from("./local-tool")
        );
        assert_eq!(
            resolve("no-such-program-anywhere", &path),
            PathBuf::from("no-such-program-anywhere"),
            "left for the spawn to report"
        );
        assert_eq!(
            resolve("sh", "/nonexistent"),
            PathBuf::from("sh"),
            "per PATH"
        );
    }

    #[test]
    fn only_plain_command_lines_skip_the_shell() {
        assert_eq!(
            simple_words("sleep 0.05"),
            Some(vec!["sleep".to_owned(), "0.05".to_owned()])
        );
        assert_eq!(
            simple_words("  pg_isready -h db.local  "),
            Some(vec!["pg_isready".into(), "-h".into(), "db.local".into()])
        );
        for needs_a_shell in [
            "exit 1",
            "true",
            "cd /tmp",
            "echo $HOME",
            "a && b",
            "a | b",
            "a > f",
            "FOO=1 cmd",
            "cmd 'quoted arg'",
            "ls *.yaml",
            "ls ~",
            "a\nb",
            "",
        ] {
            assert_eq!(simple_words(needs_a_shell), None, "{needs_a_shell:?}");
        }
    }

    #[tokio::test]
    async fn only_the_tail_of_long_output_is_kept() {
        let out = run(
            &spec(Program::Shell("seq 1 100000".into())),
            std::future::pending(),
        )
        .await
        .expect("runs");
        assert!(out.stdout.len() <= TAIL_BYTES);
        assert!(
            out.stdout.ends_with("99999\n100000\n"),
            "{}",
            &out.stdout[out.stdout.len() - 20..]
        );
    }

    #[tokio::test]
    #[expect(
        deprecated,
        reason = "AsyncFd::new's replacement, AsyncFd::register, is unsafe, which this crate forbids; the test owns the pidfd for the AsyncFd's whole life"
    )]
    async fn cancelling_stops_the_whole_process_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("pid");
        // The shell starts a grandchild that would outlive a plain kill of the shell.
        let script = format!("sleep 60 & echo $! > {}; wait", pidfile.display());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn({
            let s = spec(Program::Shell(script));
            async move {
                run(&s, async {
                    let _ = rx.await;
                })
                .await
            }
        });
        // Wait on the event (the grandchild's pid written), not on time.
        let grandchild = loop {
            if let Ok(text) = std::fs::read_to_string(&pidfile)
                && let Ok(pid) = text.trim().parse::<u32>()
            {
                break pid;
            }
            tokio::task::yield_now().await;
        };
        tx.send(()).expect("cancel");
        let out = tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops promptly")
            .expect("joined")
            .expect("ran");
        assert!(out.cancelled);
        assert!(!out.success());
        // The grandchild is gone too: its pidfd turns readable when it exits (opening one
        // fails when it has been reaped already).
        let pid = rustix::process::Pid::from_raw(i32::try_from(grandchild).expect("a pid"))
            .expect("a pid");
        if let Ok(fd) = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()) {
            let fd = tokio::io::unix::AsyncFd::new(fd).expect("a pidfd");
            let _ = tokio::time::timeout(Duration::from_secs(10), fd.readable())
                .await
                .expect("the grandchild is gone too");
        }
    }
}
