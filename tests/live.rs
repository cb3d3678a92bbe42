//! `firedrill run`'s live display as an operator sees it on a terminal: the real binary in a
//! pseudo-terminal (80×24 and 140×40), the screen parsed with vt100 and snapshot-tested. Every
//! event line fits the width (wrapped under its mark, never by the terminal), the step count
//! says how steps ended, the first Ctrl-C says what happens next, and the last frame of the
//! bars is gone when the run ends.

mod support;

use std::path::Path;
use std::process::Command;

use firedrill::engine::exit;
use support::pty::Pty;

/// A drill of local steps only (no AWS): one with a long name that succeeds, one that holds
/// until it is interrupted, and one after it that never starts.
const DRILL: &str = r#"version: 1
name: live
sandbox: { accounts: ["123456789012"] }
targets: { rto: 30m }
steps:
  warm-the-caches-of-the-storefront-before-anything-else:
    uses: wait
    with: { duration: 100ms }
  hold:
    uses: run
    needs: [warm-the-caches-of-the-storefront-before-anything-else]
    with: { command: 'sleep 600' }
  after:
    uses: run
    needs: [hold]
    milestone: recovered
    with: { command: 'true' }
"#;

/// The screen without what changes from one run to the next: times, durations, run ids, the
/// spinner's frame and the state directory.
fn stable(screen: &str, state: &Path) -> String {
    let run_id = regex::Regex::new(r"\d{8}-\d{6}-[0-9a-f]{8}").expect("regex");
    let duration = regex::Regex::new(r"\b\d+(\.\d+)?s\b|\b\d+m(\d+s)?\b").expect("regex");
    let spinner = regex::Regex::new(r"[\u{2800}-\u{28FF}]").expect("regex");
    let out = screen.replace(&state.display().to_string(), "$STATE");
    let out = run_id.replace_all(&out, "RUN");
    let out = duration.replace_all(&out, "T");
    spinner.replace_all(&out, "*").into_owned()
}

fn live_run(cols: u16, rows: u16) {
    let state = tempfile::Builder::new()
        .prefix("fd")
        .tempdir_in("/tmp")
        .expect("tempdir");
    let playbook = state.path().join("live.yaml");
    std::fs::write(&playbook, DRILL).expect("write");
    let mut command = Command::new(env!("CARGO_BIN_EXE_firedrill"));
    command
        .args(["run", playbook.to_str().expect("utf-8")])
        .env("FIREDRILL_STATE_DIR", state.path())
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1");
    let mut pty = Pty::spawn(command, cols, rows);
    pty.wait_until("the hold step running, one step succeeded", |s| {
        s.contains("hold (run) running") && s.contains("1/3 steps succeeded · 1 running")
    });
    let running = pty.rows().join("\n");
    let size = format!("{cols}x{rows}");
    insta::assert_snapshot!(format!("running_{size}"), stable(&running, state.path()));
    pty.keys("\x03");
    let code = pty.wait_end();
    assert_eq!(code, i32::from(exit::INTERRUPTED));
    let end = pty.rows().join("\n");
    assert!(
        pty.full_rows().is_empty(),
        "the terminal wrapped no line: {:?}\n{end}",
        pty.full_rows()
    );
    assert!(
        !end.contains("steps succeeded ·") && !end.contains("(run) running"),
        "the bars' last frame is cleared:\n{end}"
    );
    assert!(
        end.contains("then teardown of 0 resources."),
        "the first Ctrl-C says what happens next:\n{end}"
    );
    insta::assert_snapshot!(format!("interrupted_{size}"), stable(&end, state.path()));
}

#[test]
fn the_live_display_fits_80_columns() {
    live_run(80, 24);
}

#[test]
fn the_live_display_fits_140_columns() {
    live_run(140, 40);
}
