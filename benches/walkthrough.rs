//! Benchmark program (not a timed test): the walkthrough of a generated 1,000-step playbook.
//!
//! `cargo bench --bench walkthrough` prints, in process, the time from the playbook's text to
//! the first frame (compile, plan, the walkthrough's view, one frame drawn at 80×24) and the
//! time of one keystroke (the session takes `→` and the frame is drawn again), as medians and
//! 99th percentiles; then the same seen from outside, through the real `firedrill` binary in a
//! pseudo-terminal (spawn to the end of the first frame; a key to the end of the frame it
//! causes); and the peak memory. Goals: first frame under 150 ms, a keystroke under 16 ms.
//! `--steps N` changes the size.

#![allow(clippy::cast_precision_loss)] // figures printed to one decimal

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use chrono::Utc;
use firedrill::language::diag::SourceFile;
use firedrill::playbook::plan::Plan;
use firedrill::walkthrough::screen;
use firedrill::walkthrough::session::{Key, Session, new_record};
use firedrill::walkthrough::view::Walk;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A layered playbook of `steps` steps, 20 a layer, each waiting for two of the layer before.
fn generate(steps: usize) -> String {
    let width = 20;
    let mut out = String::from(
        "version: 1\nname: generated\ntargets: { rto: 100d }\nsandbox: { accounts: [\"123456789012\"] }\nvars: { db: shop-prod }\nsteps:\n",
    );
    for i in 0..steps {
        let layer = i / width;
        let _ = writeln!(
            out,
            "  s{i}:\n    uses: wait\n    description: Step {i} of ${{vars.db}}.\n    with: {{ duration: {}s }}",
            1 + i % 7
        );
        if i == steps - 1 {
            out.push_str("    milestone: recovered\n");
        }
        if layer > 0 {
            let a = (layer - 1) * width + i % width;
            let b = (layer - 1) * width + (i + 3) % width;
            let _ = writeln!(out, "    needs: [s{a}, s{b}]");
        }
    }
    out
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn quantile(v: &mut [Duration], q: f64) -> Duration {
    v.sort_unstable();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn first_frame(text: &str) -> (Duration, Session, Terminal<TestBackend>) {
    let start = Instant::now();
    let file = SourceFile {
        name: "generated.yaml".into(),
        text: text.into(),
    };
    let pb = firedrill::playbook::compile(&file, std::path::Path::new("generated.yaml"))
        .expect("the generated playbook is valid")
        .playbook;
    let walk = Walk::new(&Plan::new(&pb));
    let now = Utc::now();
    let record = new_record(&walk, "h".into(), "bench".into(), vec![], vec![], now);
    let session = Session::new(walk, record, now);
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("a test terminal");
    terminal
        .draw(|f| screen::draw(f, &session, now))
        .expect("drawn");
    (start.elapsed(), session, terminal)
}

/// The frames a program in a pty has finished: each ends with the end of a synchronized
/// update (`ESC[?2026l`), which the walkthrough writes after every frame.
struct Frames<R> {
    stream: R,
    carry: Vec<u8>,
    ended: usize,
}

impl<R: Read> Frames<R> {
    const END: &'static [u8] = b"\x1b[?2026l";

    /// Reads until `n` frames have ended; when the last one did.
    fn until(&mut self, n: usize) -> Instant {
        let mut buf = [0u8; 16384];
        while self.ended < n {
            let read = self.stream.read(&mut buf).expect("read the pty");
            assert!(read > 0, "the walkthrough ended early");
            self.carry.extend_from_slice(&buf[..read]);
            self.ended += self
                .carry
                .windows(Self::END.len())
                .filter(|w| *w == Self::END)
                .count();
            // The marker has no prefix that is also its suffix: its last bytes cannot begin
            // another, so keeping fewer than its length never counts one twice.
            let keep = self.carry.len().min(Self::END.len() - 1);
            self.carry.drain(..self.carry.len() - keep);
        }
        Instant::now()
    }
}

/// Spawn-to-first-frame and key-to-frame through the real binary in a pseudo-terminal.
fn through_the_binary(path: &std::path::Path, keys: usize) -> (Duration, Vec<Duration>) {
    let state = tempfile::tempdir().expect("a state dir");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_firedrill"));
    command
        .args(["walkthrough", "--no-history"])
        .arg(path)
        .env("FIREDRILL_STATE_DIR", state.path())
        .env("TERM", "xterm-256color");
    let start = Instant::now();
    let mut session = expectrl::Session::spawn(command).expect("spawn");
    session
        .get_process_mut()
        .set_window_size(80, 24)
        .expect("size");
    let mut frames = Frames {
        stream: session.get_process().get_pty_stream().expect("stream"),
        carry: Vec::new(),
        ended: 0,
    };
    let first = frames.until(1) - start;
    // A resize redraws too: begin counting once the screen is settled.
    let mut per_key = Vec::with_capacity(keys);
    for _ in 0..keys {
        let before = frames.ended;
        let sent = Instant::now();
        session.write_all(b"n").expect("key");
        session.flush().expect("flush");
        per_key.push(frames.until(before + 1) - sent);
    }
    session.write_all(b"qn").expect("quit");
    session.flush().expect("flush");
    let _ = session.get_process().wait();
    (first, per_key)
}

fn main() {
    let mut steps = 1000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--steps" {
            steps = args.next().and_then(|n| n.parse().ok()).expect("--steps N");
        }
    }
    let text = generate(steps);
    println!(
        "walkthrough of a generated {steps}-step playbook ({} KiB)",
        text.len() / 1024
    );

    let mut firsts: Vec<Duration> = (0..7).map(|_| first_frame(&text).0).collect();
    let (_, mut session, mut terminal) = first_frame(&text);
    let mut per_key = Vec::with_capacity(steps);
    for _ in 0..steps - 1 {
        let t = Instant::now();
        let now = Utc::now();
        session.key(Key::Right, now);
        terminal
            .draw(|f| screen::draw(f, &session, now))
            .expect("drawn");
        per_key.push(t.elapsed());
    }
    println!(
        "  in process: first frame median {:.1} ms (p99 {:.1}); a keystroke median {:.2} ms, p99 {:.2} ms",
        ms(quantile(&mut firsts, 0.5)),
        ms(quantile(&mut firsts, 0.99)),
        ms(quantile(&mut per_key, 0.5)),
        ms(quantile(&mut per_key, 0.99)),
    );
    let peak = peak_rss_kib().unwrap_or(0);

    let dir = tempfile::tempdir().expect("a dir");
    let path = dir.path().join("generated.yaml");
    std::fs::write(&path, &text).expect("write");
    let mut spawn_firsts = Vec::new();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let (first, per) = through_the_binary(&path, 100);
        spawn_firsts.push(first);
        keys.extend(per);
    }
    println!(
        "  the binary in a pty (80x24): spawn to first frame median {:.1} ms; key to frame median {:.2} ms, p99 {:.2} ms (goals: 150 ms, 16 ms)",
        ms(quantile(&mut spawn_firsts, 0.5)),
        ms(quantile(&mut keys, 0.5)),
        ms(quantile(&mut keys, 0.99)),
    );
    println!(
        "  peak memory of the in-process walkthrough (VmHWM) {:.1} MiB",
        peak as f64 / 1024.0
    );
}
