//! A `firedrill` process running in the background, read line by line as it writes: wait for
//! an event line, signal it, collect how it ended.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A `firedrill` process whose standard output is read line by line as it comes.
pub struct Live {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Live {
    /// Starts `firedrill ARGS` with `state` as its state directory.
    pub fn start(state: &std::path::Path, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_firedrill"))
            .args(args)
            .env("FIREDRILL_STATE_DIR", state)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("firedrill starts");
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
            text
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits for a line containing `text` (the event, not a guess at its time); the limit only
    /// turns a hang into a failure.
    pub fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_mins(2)) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no line with {text:?} ({e}); saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).expect("pid"))
            .expect("a pid");
        rustix::process::kill_process(pid, signal).expect("signal");
    }

    /// Waits for the exit; returns the code, all of standard output and standard error.
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        let status = self.child.wait().expect("wait");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let stderr = self.stderr.join().unwrap_or_default();
        (status.code(), self.seen.join("\n"), stderr)
    }
}
