//! Benchmark program (not a timed test) of the dispatcher: a generated layered DAG of `run`
//! steps (`sleep 0.05 && echo ID done`: a sleep and a log line), each step needing two steps
//! of the layer before, is run by `firedrill run` and, in the same benchmark run, by
//! `make -j<width>` and `ninja -j<width>` from a Makefile and a build.ninja generated from the
//! same graph. Prints the wall times as ratios to the critical path (layers × 50 ms); the
//! median of several runs each, the tools taking turns.
//!
//! Two floors are measured with them, to tell firedrill's overhead from this machine's: the
//! critical path's processes alone (one step's command after another, nothing else running),
//! and the same graph run by a bare executor (one loop: spawn what is ready, wait for any
//! child; no journal, no output capture, nothing else).
//!
//! ninja is taken from `PATH`, else from PyPI's `ninja` package installed once into
//! `~/.cache/firedrill-bench/ninja-venv` (the benchmark says so when it cannot).
//!
//! `cargo bench --bench dispatch` (200 steps: width 20, 10 layers; then 2,000 steps: width 20,
//! 100 layers). `-- --reps N` sets the runs per tool.

#![allow(clippy::cast_precision_loss)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLEEP: &str = "0.05";

/// A step's command: the sleep, then its log line.
fn command(id: &str) -> String {
    format!("sleep {SLEEP} && echo {id} done")
}

fn id(layer: usize, w: usize) -> String {
    format!("s{layer}_{w}")
}

/// The steps of the last layer: what "all" needs.
fn last_layer(width: usize, layers: usize) -> Vec<String> {
    (0..width).map(|w| id(layers - 1, w)).collect()
}

fn deps(layer: usize, w: usize, width: usize) -> Vec<String> {
    if layer == 0 {
        return Vec::new();
    }
    let mut d = vec![id(layer - 1, w), id(layer - 1, (w + 1) % width)];
    d.dedup();
    d
}

fn playbook(width: usize, layers: usize) -> String {
    let mut y = String::from(
        "version: 1\nname: dispatch-bench\nsandbox: { accounts: [\"123456789012\"] }\nsteps:\n",
    );
    for layer in 0..layers {
        for w in 0..width {
            let _ = writeln!(
                y,
                "  {}:\n    uses: run\n    with: {{ command: '{}' }}",
                id(layer, w),
                command(&id(layer, w))
            );
            let d = deps(layer, w, width);
            if !d.is_empty() {
                let _ = writeln!(y, "    needs: [{}]", d.join(", "));
            }
        }
    }
    y
}

fn makefile(width: usize, layers: usize) -> String {
    let mut m = String::from(".PHONY: all");
    for layer in 0..layers {
        for w in 0..width {
            let _ = write!(m, " {}", id(layer, w));
        }
    }
    let _ = writeln!(m, "\nall: {}", last_layer(width, layers).join(" "));
    for layer in 0..layers {
        for w in 0..width {
            let _ = writeln!(
                m,
                "{}: {}\n\t@{}",
                id(layer, w),
                deps(layer, w, width).join(" "),
                command(&id(layer, w))
            );
        }
    }
    m
}

/// The same graph for ninja: outputs that are never written, so every step runs every time.
fn build_ninja(width: usize, layers: usize) -> String {
    // `$out` is ninja's name for the step being built.
    let mut n = format!("rule step\n  command = {}\n", command("$out"));
    for layer in 0..layers {
        for w in 0..width {
            let d = deps(layer, w, width);
            let _ = writeln!(n, "build {}: step {}", id(layer, w), d.join(" "));
        }
    }
    let _ = writeln!(
        n,
        "build all: phony {}\ndefault all",
        last_layer(width, layers).join(" ")
    );
    n
}

/// A ninja binary: the one on `PATH`, else PyPI's, installed once into a cache venv.
fn ninja() -> Result<PathBuf, String> {
    let works = |p: &Path| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if works(Path::new("ninja")) {
        return Ok(PathBuf::from("ninja"));
    }
    let home = std::env::var_os("HOME").ok_or("no $HOME for the ninja venv")?;
    let venv = Path::new(&home).join(".cache/firedrill-bench/ninja-venv");
    let bin = venv.join("bin/ninja");
    if works(&bin) {
        return Ok(bin);
    }
    let quiet = |c: &mut Command| {
        c.stdout(Stdio::null())
            .status()
            .map_err(|e| e.to_string())
            .and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("{c:?}: {s}"))
                }
            })
    };
    quiet(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    quiet(Command::new(venv.join("bin/pip")).args(["install", "-q", "ninja"]))?;
    if works(&bin) {
        Ok(bin)
    } else {
        Err(format!("{} does not run", bin.display()))
    }
}

fn time(cmd: &mut Command) -> Duration {
    let began = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runs");
    let took = began.elapsed();
    assert!(status.success(), "{cmd:?} failed: {status}");
    took
}

/// The critical path's processes alone: `layers` steps' commands one after another.
fn sequence(layers: usize) -> Duration {
    let began = Instant::now();
    for layer in 0..layers {
        let status = Command::new("sh")
            .arg("-c")
            .arg(command(&id(layer, 0)))
            .stdout(Stdio::null())
            .status()
            .expect("sleep runs");
        assert!(status.success());
    }
    began.elapsed()
}

/// The graph run by an executor with nothing of its own: spawn every ready step, wait for any
/// child to end, spawn the dependents it made ready, repeat.
#[expect(
    clippy::zombie_processes,
    reason = "children are reaped by `wait` for any child, not through their handles"
)]
fn bare(width: usize, layers: usize) -> Duration {
    use std::collections::HashMap;
    let steps: Vec<(usize, usize)> = (0..layers)
        .flat_map(|layer| (0..width).map(move |w| (layer, w)))
        .collect();
    let index: HashMap<String, usize> = steps
        .iter()
        .enumerate()
        .map(|(i, &(layer, w))| (id(layer, w), i))
        .collect();
    let mut pending = vec![0usize; steps.len()];
    let mut dependents = vec![Vec::new(); steps.len()];
    for (i, &(layer, w)) in steps.iter().enumerate() {
        for d in deps(layer, w, width) {
            pending[i] += 1;
            dependents[index[&d]].push(i);
        }
    }
    let spawn = |i: usize, running: &mut HashMap<i32, usize>| {
        let (layer, w) = steps[i];
        let child = Command::new("sh")
            .arg("-c")
            .arg(command(&id(layer, w)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("sleep runs");
        running.insert(i32::try_from(child.id()).expect("a pid"), i);
    };
    let began = Instant::now();
    let mut running: HashMap<i32, usize> = HashMap::new();
    for i in (0..steps.len()).filter(|&i| pending[i] == 0) {
        spawn(i, &mut running);
    }
    while !running.is_empty() {
        let (pid, status) = rustix::process::wait(rustix::process::WaitOptions::empty())
            .expect("wait")
            .expect("a child");
        assert!(status.exit_status() == Some(0), "sleep failed");
        let done = running.remove(&pid.as_raw_nonzero().get()).expect("ours");
        for &next in &dependents[done] {
            pending[next] -= 1;
            if pending[next] == 0 {
                spawn(next, &mut running);
            }
        }
    }
    began.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// What one more firedrill run, with JSON events, says of where the time goes.
struct Breakdown {
    /// From the last dependency's end to the dependent's start, seconds.
    latency: Vec<f64>,
    /// Each step's duration, seconds.
    durations: Vec<f64>,
    /// The longest path over the steps' measured durations, seconds.
    floor: f64,
}

fn breakdown(pb: &Path, state: &Path, width: usize, layers: usize) -> Breakdown {
    // One more firedrill run with JSON events, to see where the time goes: the dispatch
    // latency (the last dependency done to the dependent started) is firedrill's own; a step's
    // duration beyond the sleep is the cost of a process on this machine, which make pays too.
    let out = Command::new(env!("CARGO_BIN_EXE_firedrill"))
        .arg("--state-dir")
        .arg(state)
        .args(["run", "--log-format", "json"])
        .arg(pb)
        .stderr(Stdio::null())
        .output()
        .expect("runs");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let at = |kind: &str| -> std::collections::HashMap<String, f64> {
        events
            .iter()
            .filter(|e| e["event"] == kind)
            .filter_map(|e| Some((e["step"].as_str()?.to_owned(), e["elapsed_secs"].as_f64()?)))
            .collect()
    };
    let (started, ended) = (at("step-started"), at("step-succeeded"));
    let mut latency = Vec::new();
    for layer in 1..layers {
        for w in 0..width {
            let ready = deps(layer, w, width)
                .iter()
                .map(|d| ended[d])
                .fold(0.0, f64::max);
            latency.push(started[&id(layer, w)] - ready);
        }
    }
    let durations: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "step-succeeded")
        .filter_map(|e| e["duration_secs"].as_f64())
        .collect();
    // The floor: the longest path through the graph with each step's measured duration, what
    // a scheduler with no overhead of its own would take with these processes.
    let took: std::collections::HashMap<String, f64> = events
        .iter()
        .filter(|e| e["event"] == "step-succeeded")
        .filter_map(|e| Some((e["step"].as_str()?.to_owned(), e["duration_secs"].as_f64()?)))
        .collect();
    let mut finish: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for layer in 0..layers {
        for w in 0..width {
            let ready = deps(layer, w, width)
                .iter()
                .map(|d| finish[d])
                .fold(0.0, f64::max);
            finish.insert(id(layer, w), ready + took[&id(layer, w)]);
        }
    }
    let floor = finish.values().copied().fold(0.0, f64::max);

    Breakdown {
        latency,
        durations,
        floor,
    }
}

fn bench(dir: &Path, width: usize, layers: usize, reps: usize, ninja: Option<&Path>) {
    let pb = dir.join(format!("dag-{width}x{layers}.yaml"));
    let mk = dir.join(format!("Makefile-{width}x{layers}"));
    let nj = dir.join(format!("ninja-{width}x{layers}"));
    std::fs::write(&pb, playbook(width, layers)).expect("write");
    std::fs::write(&mk, makefile(width, layers)).expect("write");
    std::fs::create_dir_all(&nj).expect("mkdir");
    std::fs::write(nj.join("build.ninja"), build_ninja(width, layers)).expect("write");
    let state = dir.join("state");
    let (mut fd, mut make, mut nin, mut floor_bare, mut floor_seq) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        floor_seq.push(sequence(layers));
        floor_bare.push(bare(width, layers));
        fd.push(time(
            Command::new(env!("CARGO_BIN_EXE_firedrill"))
                .arg("--state-dir")
                .arg(&state)
                .arg("run")
                .arg(&pb),
        ));
        make.push(time(
            Command::new("make")
                .arg(format!("-j{width}"))
                .arg("-f")
                .arg(&mk)
                .arg("all"),
        ));
        if let Some(ninja) = ninja {
            nin.push(time(
                Command::new(ninja)
                    .arg(format!("-j{width}"))
                    .arg("-C")
                    .arg(&nj),
            ));
        }
    }
    let Breakdown {
        latency,
        durations,
        floor,
    } = breakdown(&pb, &state, width, layers);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);

    let critical = Duration::from_secs_f64(SLEEP.parse::<f64>().expect("a number") * layers as f64);
    let (fd, make) = (median(fd), median(make));
    let nin = (!nin.is_empty()).then(|| median(nin));
    let (floor_bare, floor_seq) = (median(floor_bare), median(floor_seq));
    let ratio = |d: Duration| d.as_secs_f64() / critical.as_secs_f64();
    println!(
        "{} steps (width {width}, {layers} layers), critical path {:.0} ms, median of {reps}:",
        width * layers,
        critical.as_secs_f64() * 1000.0
    );
    println!(
        "  firedrill run   {:>8.0} ms  {:.3}x the critical path",
        fd.as_secs_f64() * 1000.0,
        ratio(fd)
    );
    println!(
        "  make -j{width:<8} {:>8.0} ms  {:.3}x the critical path",
        make.as_secs_f64() * 1000.0,
        ratio(make)
    );
    match nin {
        Some(nin) => println!(
            "  ninja -j{width:<7} {:>8.0} ms  {:.3}x the critical path",
            nin.as_secs_f64() * 1000.0,
            ratio(nin)
        ),
        None => println!("  ninja           not run (see above)"),
    }
    println!(
        "  bare executor   {:>8.0} ms  {:.3}x the critical path (spawn what is ready, wait for any child; nothing else)",
        floor_bare.as_secs_f64() * 1000.0,
        ratio(floor_bare)
    );
    println!(
        "  the critical path's {layers} sleeps one after another, nothing else running: {:.0} ms, {:.3}x",
        floor_seq.as_secs_f64() * 1000.0,
        ratio(floor_seq)
    );
    println!(
        "  firedrill dispatch latency: mean {:.2} ms, max {:.1} ms; a step's process takes {:.1} ms on average, {:.1} ms at most",
        mean(&latency) * 1000.0,
        max(&latency) * 1000.0,
        mean(&durations) * 1000.0,
        max(&durations) * 1000.0
    );
    println!(
        "  firedrill / make {:.3}, firedrill / ninja {}",
        fd.as_secs_f64() / make.as_secs_f64(),
        nin.map_or_else(
            || "-".to_owned(),
            |n| format!("{:.3}", fd.as_secs_f64() / n.as_secs_f64())
        )
    );
    println!(
        "  the process floor (longest path over the steps' measured durations): {:.0} ms, {:.3}x the critical path",
        floor * 1000.0,
        floor / critical.as_secs_f64()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reps = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let ninja = ninja()
        .inspect_err(|why| println!("ninja is not available, so not measured: {why}"))
        .ok();
    let dir = tempfile::tempdir().expect("tempdir");
    bench(dir.path(), 20, 10, reps, ninja.as_deref());
    bench(dir.path(), 20, 100, reps.min(3), ninja.as_deref());
}
