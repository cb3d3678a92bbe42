//! The command line as a user runs it: `validate`, `plan`, `schema`, and their exit codes.

mod support;

use firedrill::engine::exit;
use support::{Test, root, yaml_files};

fn shipped_playbooks() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = yaml_files(&root().join("playbooks"))
        .into_iter()
        .filter(|p| {
            !p.components()
                .any(|c| c.as_os_str() == "templates" || c.as_os_str() == "seeds")
        })
        .collect();
    files.extend(
        yaml_files(&root().join("examples"))
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains("playbook"))
            }),
    );
    files
}

#[test]
fn every_shipped_seed_file_parses() {
    let mut seeds = yaml_files(&root().join("playbooks/seeds"));
    seeds.push(root().join("examples/quickstart/seed.yaml"));
    assert!(seeds.len() >= 2, "{seeds:?}");
    for path in seeds {
        let file = firedrill::language::diag::SourceFile {
            name: path.display().to_string(),
            text: std::fs::read_to_string(&path).expect("read"),
        };
        if let Err(diags) = firedrill::sandbox::seed::parse(&file) {
            panic!("{}: {diags:?}", path.display());
        }
    }
}

#[test]
fn every_shipped_playbook_validates() {
    let files = shipped_playbooks();
    assert!(
        files.len() >= 4,
        "playbooks/ and examples/ ship drills: {files:?}"
    );
    for f in files {
        Test::new()
            .args(["validate".as_ref(), f.as_os_str()])
            .stdout_has("ok: ")
            .run();
    }
}

#[test]
fn validate_reports_every_file_and_exits_invalid() {
    let out = Test::new()
        .args([
            "validate",
            "playbooks/checkout-rds.yaml",
            "tests/invalid/many-errors.yaml",
            "tests/invalid/cycle.yaml",
        ])
        .code(exit::INVALID)
        .stdout_has("ok: playbooks/checkout-rds.yaml")
        .stderr_has("invalid: tests/invalid/many-errors.yaml: 5 errors")
        .stderr_has("--> tests/invalid/cycle.yaml:7:3")
        .run();
    assert!(out.stderr.contains(
        "error[E041]: steps depend on each other in a circle: network -> dns -> db -> network"
    ));
}

#[test]
fn validate_json_lists_diagnostics_with_places() {
    let out = Test::new()
        .args([
            "validate",
            "--format",
            "json",
            "tests/invalid/unknown-step-key.yaml",
            "examples/quickstart/playbook.yaml",
        ])
        .code(exit::INVALID)
        .run();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    let files = doc["files"].as_array().expect("files");
    assert_eq!(files[0]["valid"], false);
    let d = &files[0]["diagnostics"][0];
    assert_eq!(d["code"], "E010");
    assert_eq!(d["name"], "unknown-key");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(10), Some(5))
    );
    assert_eq!(d["hint"], "did you mean `timeout`?");
    assert_eq!(files[1]["valid"], true);
    assert_eq!(files[1]["steps"], 6);
}

#[test]
fn a_missing_file_is_invalid_with_a_hint() {
    Test::new()
        .args(["validate", "no/such/playbook.yaml"])
        .code(exit::INVALID)
        .stderr_has("error[E000]: cannot read no/such/playbook.yaml: no such file")
        .stderr_has("= help: there is no directory no/such (the path is relative to the current directory, ")
        .run();
}

#[test]
fn a_directory_given_as_a_playbook_is_named_a_directory() {
    let out = Test::new()
        .args(["validate", "examples/quickstart"])
        .code(exit::INVALID)
        .stderr_has("error[E000]: cannot read examples/quickstart: it is a directory")
        .stderr_has("= help: give one of its files, e.g. `examples/quickstart/playbook.yaml` (2 YAML files there)")
        .run();
    assert!(!out.stderr.contains("readable"), "{}", out.stderr);
}

#[test]
fn a_missing_absolute_path_is_not_called_relative() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::copy("playbooks/shop.yaml", dir.path().join("shop.yaml")).expect("copy");
    let missing = dir.path().join("shpo.yaml");
    let out = Test::new()
        .args(["validate", missing.to_str().expect("utf-8")])
        .code(exit::INVALID)
        .stderr_has(": no such file")
        .stderr_has(&format!(
            "= help: did you mean `{}`?",
            dir.path().join("shop.yaml").display()
        ))
        .run();
    assert!(!out.stderr.contains("relative"), "{}", out.stderr);
}

#[test]
fn usage_errors_exit_invalid() {
    Test::new()
        .args(["frobnicate"])
        .code(exit::INVALID)
        .stderr_has("unrecognized subcommand")
        .run();
    Test::new().args(["plan"]).code(exit::INVALID).run();
    Test::new()
        .args(["plan", "x.yaml", "--format", "svg"])
        .code(exit::INVALID)
        .run();
}

fn write_playbook(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("drill.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

const DIAMOND: &str = r#"
version: 1
name: diamond
targets: { rto: 10m, milestones: { db-up: 4m } }
sandbox: { accounts: ["123456789012"] }
steps:
  start: { uses: wait, with: { duration: 1m } }
  db:
    uses: run
    needs: [start]
    with: { command: "true", outputs: [url] }
    estimate: 3m
    milestone: db-up
  app: { uses: wait, needs: [start], with: { duration: 1m } }
  check:
    uses: probe.http
    with: { url: "${steps.db.outputs.url}" }
    needs: [app]
    estimate: 30s
    milestone: recovered
"#;

#[test]
fn plan_json_has_waves_critical_path_and_predicted_rto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_playbook(&dir, DIAMOND);
    let out = Test::new()
        .args([
            "plan".as_ref(),
            path.as_os_str(),
            "--format".as_ref(),
            "json".as_ref(),
        ])
        .run();
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        plan["waves"],
        serde_json::json!([["start"], ["db", "app"], ["check"]])
    );
    assert_eq!(
        plan["critical_path"],
        serde_json::json!(["start", "db", "check"])
    );
    assert_eq!(plan["predicted_rto_secs"], 270.0);
    assert_eq!(plan["verdict"], "within-targets");
    let db_up = &plan["milestones"][0];
    assert_eq!(db_up["name"], "db-up");
    assert_eq!(db_up["predicted_secs"], 240.0);
    assert_eq!(db_up["met"], true);
    assert_eq!(db_up["margin_secs"], 0.0);
    assert_eq!(
        plan["steps"][3]["depends_on"],
        serde_json::json!(["db", "app"])
    );
}

#[test]
fn plan_exits_target_missed_when_the_prediction_misses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_playbook(&dir, &DIAMOND.replace("rto: 10m", "rto: 4m"));
    Test::new()
        .args(["plan".as_ref(), path.as_os_str()])
        .code(exit::TARGET_MISSED)
        .stdout_has("recovered  predicted 4m30s  target 4m: MISSED by 30s")
        .run();
}

#[test]
fn plan_renders_text_dot_and_mermaid() {
    for format in ["text", "dot", "mermaid"] {
        let out = Test::new()
            .args(["plan", "playbooks/shop.yaml", "--format", format])
            .run();
        insta::assert_snapshot!(format!("plan-shop-{format}"), out.stdout);
    }
}

#[test]
fn plan_of_an_invalid_playbook_shows_the_errors() {
    Test::new()
        .args(["plan", "tests/invalid/unknown-need.yaml"])
        .code(exit::INVALID)
        .stderr_has("did you mean `database`?")
        .run();
}

#[test]
fn the_committed_schema_is_current() {
    let out = Test::new().args(["schema"]).run();
    let committed = std::fs::read_to_string(root().join("schema/playbook.schema.json"))
        .expect("schema/playbook.schema.json");
    assert!(
        out.stdout == committed,
        "schema/playbook.schema.json is stale: run `cargo run -- schema > schema/playbook.schema.json`"
    );
}

fn yaml_as_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("readable");
    firedrill::language::yaml::parse(&text)
        .expect("YAML")
        .to_json()
}

#[test]
fn the_schema_accepts_every_shipped_playbook_and_rejects_typos() {
    let schema = firedrill::playbook::schema::schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for path in shipped_playbooks() {
        let doc = yaml_as_json(&path);
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    }
    for (file, why) in [
        ("unknown-step-key.yaml", "timout"),
        ("unknown-with-key.yaml", "snapshot_id"),
        ("unknown-kind.yaml", "rds.restore-snapshots"),
        ("missing-version.yaml", "version"),
    ] {
        let doc = yaml_as_json(&root().join("tests/invalid").join(file));
        assert!(
            !validator.is_valid(&doc),
            "the schema must reject {file} ({why})"
        );
    }
}

#[test]
fn the_readme_table_of_run_exit_codes_is_the_one_the_code_gives() {
    use firedrill::engine::report::{RunState, TeardownState};
    use firedrill::engine::verdict::exit_code;
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let header =
        "| drill | teardown clean | teardown clean, signal during it | resources left behind |";
    let at = readme
        .find(header)
        .expect("the README's table of run exit codes");
    let rows: Vec<&str> = readme[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    let mut seen = 0;
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let state = match cells[0] {
            "passed" => RunState::Passed,
            "target missed" => RunState::TargetMissed,
            "step failed" => RunState::Failed,
            "interrupted" => RunState::Interrupted,
            other => panic!("a drill state the table should not have: {other}"),
        };
        for (teardown, signal, cell) in [
            (TeardownState::Done, false, cells[1]),
            (TeardownState::Kept, false, cells[1]),
            (TeardownState::Done, true, cells[2]),
            (TeardownState::Incomplete, false, cells[3]),
            (TeardownState::Abandoned, true, cells[3]),
        ] {
            assert_eq!(
                cell,
                exit_code(state, teardown, signal).to_string(),
                "{row}: {teardown:?}, signal {signal}"
            );
        }
        seen += 1;
    }
    assert_eq!(seen, 4, "one row per way a drill ends");
}

#[test]
fn the_readme_documents_every_exit_code_and_subcommand() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for (code, name, meaning) in exit::ALL {
        assert!(
            readme.contains(&format!("| {code} | `{name}` | {meaning} |")),
            "README lacks exit code {code} ({name}: {meaning})"
        );
    }
    // Every visible subcommand, from the command line's own definition.
    let cli = <firedrill::cli::Cli as clap::CommandFactory>::command();
    let mut subs = Vec::new();
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let nested: Vec<_> = sub.get_subcommands().filter(|s| !s.is_hide_set()).collect();
        if nested.is_empty() {
            subs.push(sub.get_name().to_owned());
        }
        for n in nested {
            subs.push(format!("{} {}", sub.get_name(), n.get_name()));
        }
    }
    assert!(subs.len() >= 9, "{subs:?}");
    for sub in subs {
        assert!(
            readme.contains(&format!("firedrill {sub}")),
            "README lacks an example of `firedrill {sub}`"
        );
    }
    for code in firedrill::language::diag::Code::ALL {
        assert!(
            readme.contains(code.id()),
            "README lacks diagnostic {}",
            code.id()
        );
    }
}

/// A drill of `run` and `wait` steps (no AWS call) with targets and a milestone.
const REPORT_DRILL: &str = r#"version: 1
name: report-drill
sandbox: { accounts: ["123456789012"] }
targets: { rto: 1m, milestones: { data: 1m } }
steps:
  restore:
    uses: run
    with: { command: "echo 'restored <all> & more'" }
    milestone: data
  warm:
    uses: wait
    with: { duration: 100ms }
  check:
    uses: run
    needs: [restore, warm]
    with: { command: "true" }
    milestone: recovered
"#;

#[test]
fn report_formats_written_by_run_are_rendered_again_from_the_journal() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(dir.path(), REPORT_DRILL);
    let state = dir.path().join("state");
    let reports = dir.path().join("reports");
    let out = Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args([
            "run",
            playbook.to_str().expect("utf-8"),
            "--report",
            "json,junit,markdown,html",
            "--report-dir",
            reports.to_str().expect("utf-8"),
        ])
        .stdout_has("PASSED")
        .run();
    for name in [
        "report.json",
        "report.junit.xml",
        "report.md",
        "report.html",
    ] {
        assert!(
            out.stdout
                .contains(&format!("report: {}", reports.join(name).display())),
            "{}",
            out.stdout
        );
    }
    let run_id = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("drill "))
        .and_then(|l| l.split_whitespace().next())
        .expect("the summary names the run")
        .to_owned();
    let read = |name: &str| std::fs::read_to_string(reports.join(name)).expect(name);

    // The same bytes, rendered again from the journal.
    for (format, name) in [
        ("markdown", "report.md"),
        ("junit", "report.junit.xml"),
        ("html", "report.html"),
        ("json", "report.json"),
    ] {
        let again = Test::new()
            .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
            .args(["report", &run_id, "--format", format])
            .run();
        assert_eq!(again.stdout, read(name), "{format}");
    }
    let md = read("report.md");
    assert!(md.contains("# Drill `report-drill`: PASSED"), "{md}");
    assert!(
        md.contains("| RTO | drill start to the recovered milestone | 1m |"),
        "{md}"
    );
    assert!(md.contains("Critical path (★): "), "{md}");
    assert!(
        read("report.junit.xml")
            .contains(r#"<testcase classname="report-drill.steps" name="restore""#)
    );
    assert!(read("report.html").contains("<svg"));

    // `latest`, and `--output`.
    let file = dir.path().join("latest.md");
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", "latest", "--format", "markdown", "--output"])
        .args([file.to_str().expect("utf-8")])
        .stderr_has(&run_id)
        .run();
    assert_eq!(std::fs::read_to_string(&file).expect("written"), md);

    // A unique prefix of a run id names it.
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", &run_id[..12], "--format", "markdown"])
        .stdout_has("# Drill `report-drill`: PASSED")
        .run();

    // An unknown run: exit 2, with the recent runs listed.
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args(["report", "20991231-000000-00000000"])
        .code(exit::INVALID)
        .stderr_has("the journal has no run `20991231-000000-00000000`")
        .stderr_has("recent runs (newest first)")
        .stderr_has(&run_id)
        .run();
}

#[test]
fn report_without_a_journal_a_report_or_a_known_format_says_why() {
    let dir = tempfile::tempdir().expect("dir");
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["report", "latest"])
        .code(exit::INVALID)
        .stderr_has("there is no journal")
        .run();
    // A run still running (or crashed) has no report; a newer firedrill's is refused.
    let journal = firedrill::store::journal::Journal::open(dir.path()).expect("journal");
    for id in ["20261126-000000-00000001", "20261126-000000-00000002"] {
        journal
            .begin_run(&firedrill::store::journal::NewRun {
                id,
                ..firedrill::store::journal::NewRun::default()
            })
            .expect("a run");
    }
    journal
        .finish_run(
            "20261126-000000-00000002",
            "passed",
            r#"{"format_version": 2, "run_id": "20261126-000000-00000002"}"#,
        )
        .expect("finished by a newer firedrill");
    drop(journal);
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["report", "20261126-000000-00000001"])
        .code(exit::INVALID)
        .stderr_has("has no report: its state is `running`")
        .run();
    Test::new()
        .env("FIREDRILL_STATE_DIR", dir.path().to_str().expect("utf-8"))
        .args(["report", "20261126-000000-00000002", "--format", "markdown"])
        .code(exit::INTERNAL)
        .stderr_has("format version 2; this firedrill reads up to 1: upgrade firedrill")
        .run();
    Test::new()
        .args(["report", "latest", "--format", "pdf"])
        .code(exit::INVALID)
        .run();
    Test::new()
        .args([
            "run",
            "examples/quickstart/playbook.yaml",
            "--report",
            "json,pdf",
        ])
        .code(exit::INVALID)
        .stderr_has("`pdf` is not a report format")
        .run();
}

#[test]
fn report_dir_alone_writes_the_json_report_and_a_file_path_still_works() {
    let dir = tempfile::tempdir().expect("dir");
    let playbook = write_drill(dir.path(), REPORT_DRILL);
    let state = dir.path().join("state");
    let reports = dir.path().join("out/nested");
    let file = dir.path().join("copy.json");
    Test::new()
        .env("FIREDRILL_STATE_DIR", state.to_str().expect("utf-8"))
        .args([
            "run",
            playbook.to_str().expect("utf-8"),
            "--report-dir",
            reports.to_str().expect("utf-8"),
            "--report",
            file.to_str().expect("utf-8"),
        ])
        .run();
    let names: Vec<String> = std::fs::read_dir(&reports)
        .expect("the directory was made")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["report.json"]);
    let a: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("report.json")).expect("json"))
            .expect("parses");
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("json")).expect("parses");
    assert_eq!(a, b);
    assert_eq!(a["state"], "passed");
    assert_eq!(a["critical_path"][1], "check", "{a}");
}

fn write_drill(dir: &std::path::Path, yaml: &str) -> std::path::PathBuf {
    let path = dir.join("drill.yaml");
    std::fs::write(&path, yaml).expect("write");
    path
}

#[test]
fn completions_offer_the_subcommands_and_the_man_page_renders() {
    let dir = tempfile::tempdir().expect("dir");
    let script = dir.path().join("firedrill.bash");
    std::fs::write(
        &script,
        Test::new().args(["completions", "bash"]).run().stdout,
    )
    .expect("write");
    // Sourced in bash, the script completes `firedrill wa` to the walkthrough.
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(firedrill wa); COMP_CWORD=1; COMP_LINE='firedrill wa'; COMP_POINT=12; _firedrill firedrill wa firedrill; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .expect("bash runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "walkthrough");
    for shell in ["zsh", "fish"] {
        Test::new()
            .args(["completions", shell])
            .stdout_has("walkthrough")
            .run();
    }
    Test::new()
        .args(["completions", "tcsh"])
        .code(exit::INVALID)
        .stderr_has("invalid value 'tcsh'")
        .run();
    let page = Test::new()
        .args(["man"])
        .stdout_has(".TH firedrill 1")
        .run()
        .stdout;
    // Rendered by man(1) where it is installed, as a user would read it.
    if let Ok(mut man) = std::process::Command::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    {
        use std::io::Write as _;
        man.stdin
            .take()
            .expect("stdin")
            .write_all(page.as_bytes())
            .expect("write");
        let rendered = man.wait_with_output().expect("man ran");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("NAME"), "{text}");
        assert!(text.contains("walkthrough"), "{text}");
    }
}
