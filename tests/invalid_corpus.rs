//! The invalid-playbook corpus: every file in `tests/invalid/` is one kind of mistake. Each must
//! be rejected with the codes its first line announces (`# expect: E010, E012`), and the exact
//! rendered diagnostics are snapshot-tested.

mod support;

use firedrill::language::diag::{self, SourceFile};
use firedrill::playbook;

#[test]
fn every_invalid_playbook_is_rejected_with_its_codes_and_rendering() {
    let root = support::root();
    let files = support::yaml_files(&root.join("tests/invalid"));
    assert!(
        files.len() >= 30,
        "the corpus has {} files; it must have at least 30",
        files.len()
    );
    for path in files {
        let relative = path.strip_prefix(&root).expect("inside the repo");
        let text = std::fs::read_to_string(&path).expect("readable");
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect:"))
            .unwrap_or_else(|| panic!("{} lacks its `# expect:` line", relative.display()))
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect::<Vec<String>>();
        let file = SourceFile {
            name: relative.display().to_string(),
            text,
        };
        let diags = playbook::compile(&file, relative).expect_err(&file.name);
        let mut codes: Vec<&str> = diags.iter().map(|d| d.code.id()).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
        want.sort_unstable();
        assert_eq!(codes, want, "codes of {}", file.name);
        for d in &diags {
            let span = d
                .span
                .unwrap_or_else(|| panic!("{}: {} has no place in the file", file.name, d.message));
            assert!(
                span.line >= 1 && span.col >= 1,
                "{}: a real place",
                file.name
            );
            assert!(
                d.hint.is_some(),
                "{}: `{}` has no hint",
                file.name,
                d.message
            );
        }
        let name = relative
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        insta::assert_snapshot!(name, diag::render(&file, &diags, false));
    }
}
