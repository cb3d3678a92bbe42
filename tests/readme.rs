//! The README's console examples stay true: every ```` ```console ```` block whose commands
//! all run offline (`firedrill validate`, `firedrill plan` with an empty journal) is run
//! from the repository's root, its standard output and error together, and compared line by
//! line with what the README shows; a line `...` stands for any number of lines. A block
//! that needs more (a sandbox, a journal with history) is skipped by rule, or, when its
//! commands would run offline but show a journal's state, by the line
//! `<!-- not run by tests/readme.rs: WHY -->` just before it; the test counts what it ran,
//! so that a README that stops showing runnable examples is noticed.

use std::path::Path;
use std::process::Command;

mod support;

/// One `$ command` of a block and the lines the README shows after it.
struct Example {
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands that run without a sandbox or a journal.
const OFFLINE: &[&str] = &["firedrill validate ", "firedrill plan "];

/// The README's console blocks, each as its examples.
fn blocks(readme: &str) -> Vec<Vec<Example>> {
    let mut blocks = Vec::new();
    let mut lines = readme.lines().enumerate();
    let mut before = "";
    while let Some((_, line)) = lines.next() {
        let skipped = before.starts_with("<!-- not run by tests/readme.rs:");
        before = line;
        if line.trim_end() != "```console" || skipped {
            continue;
        }
        let mut block: Vec<Example> = Vec::new();
        for (n, line) in lines.by_ref() {
            if line.starts_with("```") {
                break;
            }
            if let Some(command) = line.strip_prefix("$ ") {
                block.push(Example {
                    line: n + 1,
                    command: command.to_owned(),
                    expected: Vec::new(),
                });
            } else if let Some(example) = block.last_mut() {
                example.expected.push(line.to_owned());
            }
        }
        blocks.push(block);
    }
    blocks
}

/// Whether `actual` matches `expected`, where an expected line `...` takes any number of
/// lines; trailing blanks are ignored on both sides.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    if actual.is_empty() {
        return expected
            .iter()
            .all(|l| l.trim().is_empty() || l.trim() == "...");
    }
    match expected.split_first() {
        None => actual.iter().all(|l| l.trim().is_empty()),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| a.trim_end() == first.trim_end() && matches(rest, more)),
    }
}

#[test]
fn the_readmes_offline_examples_print_what_it_shows() {
    let root = support::root();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let bin = Path::new(env!("CARGO_BIN_EXE_firedrill"));
    let state = tempfile::tempdir().expect("tempdir");
    let path = format!(
        "{}:{}",
        bin.parent().expect("a directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut ran = 0;
    let mut failures = Vec::new();
    for block in blocks(&readme) {
        let offline = block
            .iter()
            .all(|e| OFFLINE.iter().any(|c| e.command.starts_with(c)));
        if block.is_empty() || !offline {
            continue;
        }
        for example in block {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("{} 2>&1", example.command))
                .current_dir(&root)
                .env("PATH", &path)
                .env("NO_COLOR", "1")
                .env("FIREDRILL_STATE_DIR", state.path())
                .output()
                .expect("sh runs");
            let actual = String::from_utf8_lossy(&out.stdout).into_owned();
            let actual: Vec<&str> = actual.lines().collect();
            ran += 1;
            if !matches(&example.expected, &actual) {
                failures.push(format!(
                    "README.md:{}: `{}` printed:\n{}\nbut the README shows:\n{}",
                    example.line,
                    example.command,
                    actual.join("\n"),
                    example.expected.join("\n")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        ran >= 2,
        "only {ran} README examples ran offline: the validate and plan examples are expected"
    );
}

#[test]
fn an_ellipsis_takes_any_number_of_lines_and_nothing_else_does() {
    let e = |lines: &[&str]| lines.iter().map(|l| (*l).to_owned()).collect::<Vec<_>>();
    assert!(matches(&e(&["a", "...", "d"]), &["a", "b", "c", "d"]));
    assert!(matches(&e(&["a", "...", "d"]), &["a", "d"]));
    assert!(!matches(&e(&["a", "...", "d"]), &["a", "b", "c"]));
    assert!(!matches(&e(&["a", "b"]), &["a", "c"]));
    assert!(matches(&e(&["a", ""]), &["a"]));
}
