//! Benchmark program (not a timed test): validate and plan a generated 10,000-step playbook.
//!
//! `cargo bench --bench validate_plan` prints the median and best time of reading, validating
//! and planning it, the share spent in YAML parsing, and the peak memory of the process.
//! `cargo bench --bench validate_plan -- --write drill.yaml` also writes the generated playbook,
//! to time the `firedrill` binary on it (`hyperfine 'firedrill plan drill.yaml'`).
//! `--steps N` changes the size.

#![allow(clippy::cast_precision_loss)] // figures printed to one decimal

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use firedrill::language::diag::SourceFile;
use firedrill::language::yaml;
use firedrill::playbook;
use firedrill::playbook::plan::{self, Plan};

/// The allocator the `firedrill` binary uses, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A layered playbook of `steps` steps, `width` per layer, mixing kinds, `needs` and output
/// references, so that every part of validation has work to do.
fn generate(steps: usize, width: usize) -> String {
    let mut out = String::with_capacity(steps * 160);
    out.push_str("version: 1\nname: generated\ndescription: A generated layered drill.\n");
    out.push_str(
        "targets:\n  rto: 100d\nsandbox:\n  accounts: [\"123456789012\"]\n  region: eu-west-1\n",
    );
    out.push_str("vars:\n  base_url: http://127.0.0.1:8080\n  greeting: hello\nsteps:\n");
    for i in 0..steps {
        let layer = i / width;
        let prev = |k: usize| (layer - 1) * width + (i + k) % width;
        let _ = writeln!(out, "  s{i}:");
        match i % 4 {
            0 => {
                let _ = writeln!(out, "    uses: run");
                let _ = writeln!(
                    out,
                    "    with:\n      command: \"echo ${{vars.greeting}} {i}\"\n      outputs: [token]"
                );
            }
            1 => {
                let _ = writeln!(out, "    uses: wait\n    with: {{ duration: 1s }}");
            }
            2 if layer > 0 => {
                let src = (layer - 1) * width + ((i / 4) * 4) % width;
                let _ = writeln!(out, "    uses: probe.http");
                let _ = writeln!(
                    out,
                    "    with:\n      url: \"${{vars.base_url}}/health?t=${{steps.s{src}.outputs.token}}\""
                );
                let _ = writeln!(out, "    retry: {{ interval: 5s, until: 2m }}");
            }
            _ => {
                let _ = writeln!(
                    out,
                    "    uses: probe.tcp\n    with: {{ host: 127.0.0.1, port: 5432 }}\n    estimate: 3s"
                );
            }
        }
        if layer > 0 {
            let _ = writeln!(out, "    needs: [s{}, s{}]", prev(0), prev(1));
        }
        if i + 1 == steps {
            let _ = writeln!(out, "    milestone: recovered");
        }
    }
    out
}

/// The peak resident memory of this process, from /proc (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let steps: usize = flag("--steps")
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let text = generate(steps, 100);
    if let Some(path) = flag("--write") {
        std::fs::write(path, &text).expect("write the playbook");
        println!("wrote {path}");
    }
    let dir = tempfile_dir();
    let path = dir.join("generated.yaml");
    std::fs::write(&path, &text).expect("write the playbook");
    let before = peak_rss_kib().unwrap_or(0);

    let iterations = 25;
    let mut total = Vec::new();
    let mut parse_only = Vec::new();
    let mut compile_only = Vec::new();
    let mut plan_only = Vec::new();
    let mut rendered = Vec::new();
    let mut output_len = 0;
    for _ in 0..iterations {
        let start = Instant::now();
        let source = SourceFile {
            name: path.display().to_string(),
            text: std::fs::read_to_string(&path).expect("read"),
        };
        let loaded = playbook::compile(&source, &path)
            .unwrap_or_else(|d| panic!("the generated playbook is valid: {:?}", d.first()));
        let compiled = start.elapsed();
        let plan = Plan::new(&loaded.playbook);
        let planned = start.elapsed();
        output_len = plan::render_json(&plan).len();
        rendered.push(start.elapsed().saturating_sub(planned));
        total.push(planned);
        compile_only.push(compiled);
        plan_only.push(planned.saturating_sub(compiled));
        // Only one playbook at a time is alive: the peak is that of validating and planning one.
        drop(plan);
        drop((loaded, source));

        let start = Instant::now();
        let node = yaml::parse(&text).expect("YAML");
        parse_only.push(start.elapsed());
        drop(node);
    }
    let peak = peak_rss_kib().unwrap_or(0);
    let median_total = median(total.clone());
    let best = total.iter().min().copied().unwrap_or_default();
    let parse = median(parse_only);
    println!(
        "read, validate and plan a generated {steps}-step playbook ({} KiB of YAML, {output_len} bytes of plan JSON)",
        text.len() / 1024
    );
    println!(
        "  median {:.1} ms, best {:.1} ms over {iterations} runs (target: under 100 ms)",
        ms(median_total),
        ms(best)
    );
    println!(
        "  of which: read + validate {:.1} ms (YAML parsing alone {:.1} ms), plan {:.1} ms",
        ms(median(compile_only)),
        ms(parse),
        ms(median(plan_only))
    );
    println!(
        "  rendering the plan as JSON takes {:.1} ms more",
        ms(median(rendered))
    );
    println!(
        "  peak memory (VmHWM) {:.1} MiB; {:.1} MiB before the first run (target: under 64 MiB)",
        peak as f64 / 1024.0,
        before as f64 / 1024.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("firedrill-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
