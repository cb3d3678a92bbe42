//! The command line as a user runs it: `validate`, `plan`, `schema`, and their exit codes.

mod support;

use firedrill::exit;
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
        let file = firedrill::diag::SourceFile {
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
    assert_eq!(files[1]["steps"], 4);
}

#[test]
fn a_missing_file_is_invalid_with_a_hint() {
    Test::new()
        .args(["validate", "no/such/playbook.yaml"])
        .code(exit::INVALID)
        .stderr_has("error[E000]: cannot read no/such/playbook.yaml")
        .stderr_has("check the path")
        .run();
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
        .stdout_has("recovered  predicted 4m30s     target 4m: MISSED by 30s")
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
    firedrill::yaml::parse(&text).expect("YAML").to_json()
}

#[test]
fn the_schema_accepts_every_shipped_playbook_and_rejects_typos() {
    let schema = firedrill::schema::schema();
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
fn the_readme_documents_every_exit_code_and_subcommand() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    for (code, name, _) in exit::ALL {
        assert!(
            readme.contains(&format!("| {code} | `{name}`")),
            "README lacks exit code {code} ({name})"
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
    for code in firedrill::diag::Code::ALL {
        assert!(
            readme.contains(code.id()),
            "README lacks diagnostic {}",
            code.id()
        );
    }
}
