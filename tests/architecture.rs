//! The layout's rules (ARCHITECTURE.md), checked on the source: no two files import each other
//! through a cycle; the language side never imports AWS, store or engine code; production code
//! never imports the emulator; the kind table and the resource dispatch match every kind by
//! name, with no catch-all arm.
//!
//! A file's imports are the `crate::` and `super::` paths in its code outside `#[cfg(test)]`
//! blocks and comments, plus a `mod.rs`'s paths into its own child modules; each path counts
//! as an edge to the longest module prefix that is a file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A source file: its module path (`["steps", "rds", "action"]`) and its code.
struct Source {
    module: Vec<String>,
    code: String,
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its `#[cfg(test)]` items.
fn production_code(text: &str) -> String {
    let mut out = String::new();
    let mut skipping: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_test = false;
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        if code.trim() == "#[cfg(test)]" {
            pending_test = true;
            continue;
        }
        let opens = code.matches('{').count();
        let closes = code.matches('}').count();
        if pending_test && skipping.is_none() {
            pending_test = false;
            if opens == 0 {
                // A one-line item (`use ...;`, `mod tests;`).
                continue;
            }
            skipping = Some(depth);
        }
        depth = (depth + opens).saturating_sub(closes);
        if let Some(start) = skipping {
            if depth <= start {
                skipping = None;
            }
            continue;
        }
        out.push_str(code);
        out.push('\n');
    }
    out
}

fn sources() -> BTreeMap<PathBuf, Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "main.rs"))
        .map(|path| {
            let rel = path.strip_prefix(&root).expect("under src");
            let mut module: Vec<String> = rel
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().is_some_and(|m| m == "mod" || m == "lib") {
                module.pop();
            }
            let code = production_code(&fs::read_to_string(&path).expect("read"));
            (rel.to_path_buf(), Source { module, code })
        })
        .collect()
}

/// The paths (as module segments) written after `prefix` in `code`, with `{a, b::c}` groups
/// expanded.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find(prefix) {
        let at = from + i;
        from = at + prefix.len();
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        expand(code, from, Vec::new(), &mut out);
    }
    out
}

/// Reads a path starting at `at` (after `base`), pushing every full path it names.
fn expand(code: &str, mut at: usize, mut base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let bytes = code.as_bytes();
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at < bytes.len() && bytes[at] == b'{' {
            at += 1;
            loop {
                at = expand(code, at, base.clone(), out);
                while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b',') {
                    at += 1;
                }
                if at >= bytes.len() || bytes[at] == b'}' {
                    return at + 1;
                }
            }
        }
        let start = at;
        while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
            at += 1;
        }
        if start == at {
            out.push(base);
            return at;
        }
        base.push(code[start..at].to_owned());
        if code[at..].starts_with("::") {
            at += 2;
        } else {
            // The end of the path (an alias, a `;`, a `,` or a `}` follow).
            while at < bytes.len() && !matches!(bytes[at], b',' | b'}' | b';') {
                if bytes[at] == b'\n' || bytes[at] == b'(' || bytes[at] == b')' {
                    break;
                }
                at += 1;
            }
            out.push(base);
            return at;
        }
    }
}

/// Every file's imports: the files it names.
fn imports(sources: &BTreeMap<PathBuf, Source>) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let by_module: BTreeMap<&[String], &PathBuf> = sources
        .iter()
        .map(|(p, s)| (s.module.as_slice(), p))
        .collect();
    let resolve = |path: &[String]| -> Option<&PathBuf> {
        (0..=path.len())
            .rev()
            .find_map(|n| by_module.get(&path[..n]).copied())
    };
    let mut graph = BTreeMap::new();
    for (file, source) in sources {
        let is_mod = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let parent = &source.module[..source.module.len().saturating_sub(1)];
        let mut named = Vec::new();
        for p in paths_after(&source.code, "crate::") {
            named.push(p);
        }
        for p in paths_after(&source.code, "super::") {
            named.push(parent.iter().cloned().chain(p).collect());
        }
        if is_mod {
            // A parent's plain paths into its own children (`rds::RestoreSnapshot`).
            for (other, s) in sources {
                if s.module.len() == source.module.len() + 1
                    && s.module.starts_with(&source.module)
                    && other != file
                {
                    let child = s.module.last().expect("a child has a name");
                    for p in paths_after(&source.code, &format!("{child}::")) {
                        named.push(
                            source
                                .module
                                .iter()
                                .cloned()
                                .chain([child.clone()])
                                .chain(p)
                                .collect(),
                        );
                    }
                }
            }
        }
        let targets: BTreeSet<PathBuf> = named
            .iter()
            .filter_map(|p| resolve(p))
            .filter(|t| *t != file)
            .cloned()
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        marks: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let from = stack.iter().position(|n| n == next).expect("on the stack");
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(next, graph, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(c) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn show(cycle: &[PathBuf]) -> String {
    cycle
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[test]
fn no_two_files_import_each_other_through_a_cycle() {
    let graph = imports(&sources());
    // The check sees real imports: the dispatcher names the board, a kind names its context.
    assert!(graph[Path::new("engine/dispatch.rs")].contains(Path::new("engine/board.rs")));
    assert!(graph[Path::new("steps/rds/action.rs")].contains(Path::new("steps/context.rs")));
    assert!(graph[Path::new("steps/mod.rs")].contains(Path::new("steps/rds/mod.rs")));
    // Every cycle, each found once: after reporting one, its closing edge is dropped.
    let mut rest = graph.clone();
    let mut cycles = Vec::new();
    while let Some(cycle) = find_cycle(&rest) {
        let (from, to) = (&cycle[cycle.len() - 2], &cycle[cycle.len() - 1]);
        rest.get_mut(from).expect("in the graph").remove(to);
        cycles.push(show(&cycle));
    }
    assert!(
        cycles.is_empty(),
        "circular imports:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut graph = BTreeMap::new();
    let (a, b, c) = (
        PathBuf::from("a.rs"),
        PathBuf::from("b.rs"),
        PathBuf::from("c.rs"),
    );
    graph.insert(a.clone(), BTreeSet::from([b.clone()]));
    graph.insert(b.clone(), BTreeSet::from([c.clone()]));
    graph.insert(c.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(
        show(&find_cycle(&graph).expect("a cycle")),
        "a.rs -> b.rs -> c.rs -> a.rs"
    );
    graph.insert(c, BTreeSet::new());
    assert_eq!(find_cycle(&graph), None);
}

/// Whether `file` is on the language side: the language, the playbook, and each kind's
/// fields (a kind folder's `mod.rs`, the shared field types, the `Kind` trait).
fn language_side(file: &Path) -> bool {
    let s = file.to_string_lossy();
    s.starts_with("language/")
        || s.starts_with("playbook/")
        || s == "steps/kind.rs"
        || s == "steps/common.rs"
        || (s.starts_with("steps/") && s.ends_with("/mod.rs") && s != "steps/mod.rs")
}

#[test]
fn the_language_side_never_imports_aws_store_or_engine_code() {
    let graph = imports(&sources());
    let runtime = |t: &Path| {
        let s = t.to_string_lossy();
        s.starts_with("aws/")
            || s.starts_with("store/")
            || s.starts_with("engine/")
            || s.starts_with("sandbox/")
            || s.starts_with("reports/")
            || s.starts_with("cli/")
            || s == "steps/context.rs"
            || s == "steps/resource.rs"
            || (s.starts_with("steps/") && !language_side(t) && s != "steps/mod.rs")
    };
    let mut seen = 0;
    let mut wrong = Vec::new();
    for (file, targets) in &graph {
        if !language_side(file) {
            continue;
        }
        seen += 1;
        for t in targets {
            if runtime(t) {
                wrong.push(format!("{} imports {}", file.display(), t.display()));
            }
        }
    }
    assert!(seen > 15, "only {seen} language-side files found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn production_code_never_imports_the_emulator() {
    let graph = imports(&sources());
    let wrong: Vec<String> = graph
        .iter()
        .filter(|(file, _)| {
            let s = file.to_string_lossy();
            // The emulator itself, and the `firedrill sandbox` command and `run --sandbox
            // local`, which start it, are its only users.
            !s.starts_with("sandbox/") && !s.starts_with("cli/")
        })
        .flat_map(|(file, targets)| {
            targets
                .iter()
                .filter(|t| t.starts_with("sandbox"))
                .map(move |t| format!("{} imports {}", file.display(), t.display()))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_kind_table_and_the_resource_dispatch_have_no_catch_all_arm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wildcards = 0;
    for file in ["steps/mod.rs", "steps/resource.rs", "steps/kind.rs"] {
        let code = production_code(&fs::read_to_string(root.join(file)).expect("read"));
        for (n, line) in code.lines().enumerate() {
            let compact: String = line.split_whitespace().collect();
            if compact.starts_with("_=>") {
                // The only wildcards allowed match a `uses:` name that no kind has (in
                // `parse` and `info`), and give nothing.
                assert!(
                    file == "steps/mod.rs" && compact == "_=>None,",
                    "{file}:{}: a catch-all arm over kinds: {}",
                    n + 1,
                    line.trim()
                );
                wildcards += 1;
            }
        }
    }
    assert_eq!(
        wildcards, 2,
        "parse and info each match an unknown name once"
    );
}

/// What the language side may name in `steps`: the table's language half, the `Kind` side,
/// the shared field types, and each kind's fields (a kind folder's `mod.rs`).
const LANGUAGE_STEPS: &[&str] = &[
    // `use crate::steps::{self, ..}`, whose uses as `steps::X` are checked too.
    "self",
    "Action",
    "NAMES",
    "parse",
    "info",
    "schemas",
    "Kind",
    "CheckCx",
    "KindInfo",
    "Outputs",
    "kind",
    "common",
    "backups",
    "builtin",
    "cloudformation",
    "ec2",
    "probe",
    "rds",
    "route53",
];

/// The runtime files inside kind folders, which the language side must not name.
const RUNTIME_IN_KINDS: &[&str] = &["action", "sql", "process", "prompter", "gate"];

#[test]
fn the_language_side_names_only_the_language_half_of_the_kind_table() {
    let mut wrong = Vec::new();
    let mut seen = 0;
    for (file, source) in sources() {
        if !language_side(&file) {
            continue;
        }
        // `crate::steps::X` and, through `use crate::steps::{self, ..}`, `steps::X`.
        let named = paths_after(&source.code, "crate::steps::")
            .into_iter()
            .chain(paths_after(&source.code, "steps::"));
        for path in named {
            seen += 1;
            let first = path.first().map_or("", String::as_str);
            let second = path.get(1).map_or("", String::as_str);
            if !LANGUAGE_STEPS.contains(&first) || RUNTIME_IN_KINDS.contains(&second) {
                wrong.push(format!(
                    "{} names steps::{}",
                    file.display(),
                    path.join("::")
                ));
            }
        }
    }
    assert!(seen > 10, "only {seen} paths into steps found");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
