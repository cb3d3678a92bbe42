//! The compiler: YAML text to a validated [`Playbook`], collecting every error in one pass.
//!
//! Each section and each step is deserialized on its own, so a mistake in one does not hide
//! the mistakes in others; unknown and duplicate keys are collected everywhere. Semantic checks
//! (references, `needs`, cycles, targets, accounts) run over whatever deserialized, and are
//! careful not to report consequences of an error already reported (a step whose fields did not
//! deserialize is still known by its id).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::language::de::{self, Ctx, Spanned};
use crate::language::diag::{self, Code, Diagnostic, SourceFile, Span};
use crate::language::files;
use crate::language::shapes::{Scalar, is_account_id, is_region};
use crate::language::suggest;
use crate::language::template::{RUN_FIELDS, Ref, Template};
use crate::language::yaml::{self, Node, Value};
use crate::playbook::graph::Dag;
use crate::steps::{self, Action, CheckCx, Outputs};

use super::doc::{ROOT_KEYS, RetryDoc, SandboxDoc, StepDoc, TargetsDoc};
use super::model::{DEFAULT_RETRY_INTERVAL, Playbook, RECOVERED, Retry, Sandbox, Step, Targets};

/// A playbook that validated, with the warnings it has.
#[derive(Debug)]
pub struct Loaded {
    /// The playbook.
    pub playbook: Playbook,
    /// Findings that do not make it invalid.
    pub warnings: Vec<Diagnostic>,
}

/// Reads and compiles the playbook at `path`. The source comes back either way, so that the
/// diagnostics can be rendered against it.
pub fn load(path: &Path) -> (SourceFile, Result<Loaded, Vec<Diagnostic>>) {
    let name = path.display().to_string();
    match files::read_text(path, path, "playbook", files::Base::CurrentDir) {
        Ok(text) => {
            let file = SourceFile { name, text };
            let result = compile(&file, path);
            (file, result)
        }
        Err(e) => {
            let d = Diagnostic::new(Code::Io, e.to_string()).hint(e.hint);
            (
                SourceFile {
                    name,
                    text: String::new(),
                },
                Err(vec![d]),
            )
        }
    }
}

/// Compiles `file`, read from `path` (relative paths in the playbook are resolved against
/// its directory). On error, every diagnostic found, warnings included, in file order.
pub fn compile(file: &SourceFile, path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let root = match yaml::parse(&file.text) {
        Ok(root) => root,
        Err(d) => return Err(vec![*d]),
    };
    let base_dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let mut c = Compiler {
        file,
        ctx: Ctx::default(),
        diags: Vec::new(),
        base_dir,
        vars_broken: false,
    };
    let playbook = c.playbook(&root, path);
    let mut diags = c.diags;
    diags.extend(c.ctx.take());
    diag::sort(&mut diags);
    // The same mistake written twice at one place (a reference repeated in one string) is
    // one finding.
    diags.dedup_by(|a, b| a.code == b.code && a.span == b.span && a.message == b.message);
    match playbook {
        Some(playbook) if !diags.iter().any(Diagnostic::is_error) => Ok(Loaded {
            playbook,
            warnings: diags,
        }),
        _ => Err(diags),
    }
}

struct Compiler<'a> {
    file: &'a SourceFile,
    ctx: Ctx,
    diags: Vec<Diagnostic>,
    base_dir: PathBuf,
    /// `vars:` is not a mapping: uses of vars are not checked, to report the cause once.
    vars_broken: bool,
}

/// A step as far as it deserialized.
struct Partial<'n> {
    id: String,
    key_span: Span,
    node: &'n Node,
    doc: Option<StepDoc>,
    action: Option<Action>,
    outputs: Option<Outputs>,
}

/// Why one step depends on another: for cycle messages.
#[derive(Clone)]
enum Because {
    Needs,
    Uses(String),
}

impl Compiler<'_> {
    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn de<T: serde::de::DeserializeOwned>(&mut self, node: &Node, path: &[&str]) -> Option<T> {
        self.ctx.set_path(path);
        match de::from_node(node, &self.ctx) {
            Ok(v) => Some(v),
            Err(e) => {
                self.diags.push(e.into_diagnostic(path));
                None
            }
        }
    }

    fn playbook(&mut self, root: &Node, path: &Path) -> Option<Playbook> {
        let Some(entries) = root.as_map() else {
            let found = if root.value == Value::Null {
                "an empty document".to_string()
            } else {
                root.value.describe().to_string()
            };
            self.error(
                Diagnostic::new(Code::WrongRoot, format!("a playbook is a mapping of keys, but this file holds {found}"))
                    .at(if root.value == Value::Null { Span { line: 1, col: 1, offset: 0, len: 0 } } else { root.span })
                    .hint("start with `version: 1`, `name:`, `sandbox:` and `steps:`; `firedrill schema` describes every key"),
            );
            return None;
        };
        let mut sections: HashMap<&str, &Node> = HashMap::new();
        for (index, (key, value)) in entries.iter().enumerate() {
            if de::is_duplicate(entries, index, &self.ctx) {
                continue;
            }
            match key.as_str() {
                Some(k) if ROOT_KEYS.contains(&k) => {
                    sections.insert(k, value);
                }
                Some(k) => self.error(
                    Diagnostic::new(Code::UnknownKey, format!("unknown top-level key `{k}`"))
                        .at(key.span)
                        .label("not a playbook key")
                        .hint(suggest::hint(
                            k,
                            "top-level keys",
                            ROOT_KEYS.iter().copied(),
                        )),
                ),
                None => self
                    .error(Diagnostic::new(Code::WrongType, "a key must be a name").at(key.span)),
            }
        }
        let start = Span {
            line: 1,
            col: 1,
            offset: 0,
            len: 0,
        };
        for required in ["version", "name", "sandbox", "steps"] {
            if !sections.contains_key(required) {
                self.error(
                    Diagnostic::new(Code::MissingField, format!("missing required top-level key `{required}`"))
                        .at(entries.first().map_or(start, |(k, _)| k.span))
                        .hint(match required {
                            "version" => "add `version: 1`",
                            "name" => "add `name: my-service` (letters, digits, `.`, `_`, `-`)",
                            "sandbox" => "add `sandbox:` with `accounts: [\"111122223333\"]`: the accounts the drill may run in",
                            _ => "add `steps:`, a mapping from step id to step",
                        }),
                );
            }
        }

        if let Some(node) = sections.get("version")
            && let Some(version) = self.de::<Spanned<u32>>(node, &["version"])
            && version.value != 1
        {
            self.error(
                Diagnostic::new(
                    Code::UnsupportedVersion,
                    format!("playbook version {} is not supported", version.value),
                )
                .at(version.span)
                .hint("this firedrill reads `version: 1`"),
            );
        }
        let name = sections
            .get("name")
            .and_then(|n| self.de::<Spanned<String>>(n, &["name"]));
        if let Some(name) = &name
            && !is_slug(&name.value)
        {
            self.error(
                Diagnostic::new(Code::InvalidValue, format!("`{}` is not a valid drill name", name.value))
                    .at(name.span)
                    .hint("use 1 to 64 letters, digits, `.`, `_` and `-`: it goes into tags and file names"),
            );
        }
        let description = sections
            .get("description")
            .and_then(|n| self.de::<String>(n, &["description"]));
        let owner = sections
            .get("owner")
            .and_then(|n| self.de::<String>(n, &["owner"]));
        let targets_node = sections.get("targets").copied();
        let targets_doc = targets_node.and_then(|n| self.de::<TargetsDoc>(n, &["targets"]));
        let sandbox = sections.get("sandbox").and_then(|n| self.sandbox(n));
        let vars = sections
            .get("vars")
            .map(|n| self.vars(n))
            .unwrap_or_default();
        let steps_node = sections.get("steps").copied();
        let partials = steps_node.map(|n| self.steps(n)).unwrap_or_default();
        let deps = self.dependencies(&partials, &vars);
        let dag = self.dag(&partials, &deps);
        let targets = self.targets(targets_doc, targets_node, &partials);

        let dag = dag?;
        let steps = partials
            .into_iter()
            .enumerate()
            .map(|(i, p)| finish_step(p, dag.deps(i).to_vec()))
            .collect::<Option<Vec<Step>>>()?;
        Some(Playbook {
            file: path.to_path_buf(),
            name: name?.value,
            description,
            owner,
            targets: targets?,
            sandbox: sandbox?,
            vars,
            steps,
            dag,
        })
    }

    fn sandbox(&mut self, node: &Node) -> Option<Sandbox> {
        let doc: SandboxDoc = self.de(node, &["sandbox"])?;
        let mut accounts = Vec::new();
        if doc.accounts.is_empty() {
            self.error(
                Diagnostic::new(
                    Code::BadAccount,
                    "sandbox.accounts is empty: the drill could run nowhere",
                )
                .at(node.get("accounts").map_or(node.span, |n| n.span))
                .hint("list the sandbox account ids: accounts: [\"111122223333\"]"),
            );
        }
        for account in &doc.accounts {
            let Scalar(id) = &account.value;
            if is_account_id(id) {
                accounts.push(id.clone());
            } else {
                let hint = if id.bytes().all(|b| b.is_ascii_digit()) && id.len() < 12 {
                    "an account id has 12 digits; quote ids that start with 0 (\"012345678901\") so YAML keeps the zeros"
                } else {
                    "write the 12-digit account id, quoted: \"111122223333\""
                };
                self.error(
                    Diagnostic::new(
                        Code::BadAccount,
                        format!("`{id}` is not a 12-digit AWS account id"),
                    )
                    .at(account.span)
                    .hint(hint),
                );
            }
        }
        if let Some(region) = &doc.region
            && !is_region(&region.value)
        {
            self.error(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is not an AWS region", region.value),
                )
                .at(region.span)
                .hint("write a region like `eu-west-1`"),
            );
        }
        if let Some(arn) = &doc.role_arn {
            self.role_arn(arn, &accounts);
        }
        if let Some(endpoint) = &doc.endpoint
            && !(endpoint.value.starts_with("http://") || endpoint.value.starts_with("https://"))
        {
            self.error(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("`{}` is not an http:// or https:// URL", endpoint.value),
                )
                .at(endpoint.span)
                .hint("write the whole URL, like http://127.0.0.1:4566"),
            );
        }
        for key in doc.tags.keys() {
            if key.starts_with("aws:") || key.starts_with("firedrill:") {
                let span = node
                    .get("tags")
                    .map_or(node.span, |t| key_span(t, key).unwrap_or(t.span));
                self.error(
                    Diagnostic::new(Code::InvalidValue, format!("tag key `{key}` is reserved"))
                        .at(span)
                        .hint("`aws:` tags belong to AWS and `firedrill:` tags to firedrill's own bookkeeping; pick another prefix"),
                );
            }
        }
        if let (Some(keep), super::model::TeardownPolicy::Never) = (&doc.keep_for, doc.teardown) {
            self.error(
                Diagnostic::new(
                    Code::InvalidValue,
                    "`keep_for` has no effect with `teardown: never`",
                )
                .at(keep.span)
                .hint("remove `keep_for`, or choose `teardown: always` or `on-success`"),
            );
        }
        Some(Sandbox {
            accounts,
            region: doc.region.map(|r| r.value),
            role_arn: doc.role_arn.map(|r| r.value),
            endpoint: doc.endpoint.map(|e| e.value),
            tags: doc.tags.into_iter().map(|(k, v)| (k, v.0)).collect(),
            teardown: doc.teardown,
            keep_for: doc.keep_for.map(|k| k.value),
        })
    }

    fn role_arn(&mut self, arn: &Spanned<String>, accounts: &[String]) {
        let parts: Vec<&str> = arn.value.splitn(6, ':').collect();
        let well_formed = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && parts[2] == "iam"
            && is_account_id(parts[4])
            && parts[5].starts_with("role/")
            && parts[5].len() > "role/".len();
        if !well_formed {
            self.error(
                Diagnostic::new(
                    Code::BadRoleArn,
                    format!("`{}` is not an IAM role ARN", arn.value),
                )
                .at(arn.span)
                .hint("write arn:aws:iam::111122223333:role/NAME"),
            );
        } else if !accounts.is_empty() && !accounts.iter().any(|a| a == parts[4]) {
            self.error(
                Diagnostic::new(
                    Code::BadRoleArn,
                    format!(
                        "the role is in account {}, which is not in sandbox.accounts",
                        parts[4]
                    ),
                )
                .at(arn.span)
                .hint(format!(
                    "the drill may only run in {}; add the account there, or use a role in it",
                    accounts.join(", ")
                )),
            );
        }
    }

    fn vars(&mut self, node: &Node) -> BTreeMap<String, Template> {
        let mut vars = BTreeMap::new();
        let Some(entries) = node.as_map() else {
            self.error(
                Diagnostic::new(
                    Code::WrongType,
                    format!(
                        "vars: expected a mapping of names to values, found {}",
                        node.value.describe()
                    ),
                )
                .at(node.span),
            );
            self.vars_broken = true;
            return vars;
        };
        for (index, (key, value)) in entries.iter().enumerate() {
            self.ctx.set_path(&["vars"]);
            if de::is_duplicate(entries, index, &self.ctx) {
                continue;
            }
            let Some(name) = key.as_str().filter(|k| is_name(k)) else {
                self.error(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "a var name must be letters, digits, `_` and `-`",
                    )
                    .at(key.span)
                    .hint("rename it; it is used as ${vars.NAME}"),
                );
                continue;
            };
            let Some(Scalar(text)) = self.de::<Scalar>(value, &["vars", name]) else {
                // Known, though broken: its uses are not reported again as unknown vars.
                vars.insert(name.to_owned(), Template::literal(""));
                continue;
            };
            match Template::parse(&text) {
                Ok(t) => {
                    for r in t.refs() {
                        if matches!(r.target, Ref::Var(_) | Ref::Output { .. }) {
                            let span = sub_span(&self.file.text, value.span, &r.text);
                            self.error(
                                Diagnostic::new(Code::RefNotAllowed, format!("vars.{name}: a var cannot use `{}`", r.text))
                                    .at(span)
                                    .hint("vars may use ${env.NAME}, ${run.id} and secrets; use step outputs in the steps themselves"),
                            );
                        }
                    }
                    vars.insert(name.to_owned(), t);
                }
                Err(e) => {
                    self.bad_reference(&format!("vars.{name}"), value.span, &e);
                    vars.insert(name.to_owned(), Template::literal(""));
                }
            }
        }
        vars
    }

    fn bad_reference(
        &mut self,
        path: &str,
        span: Span,
        e: &crate::language::template::SyntaxError,
    ) {
        self.error(
            Diagnostic::new(Code::BadReference, format!("{path}: {}", e.message))
                .at(sub_span(&self.file.text, span, &e.text))
                .hint(e.hint.clone()),
        );
    }

    fn steps<'n>(&mut self, node: &'n Node) -> Vec<Partial<'n>> {
        let Some(entries) = node.as_map() else {
            self.error(
                Diagnostic::new(
                    Code::WrongType,
                    format!(
                        "steps: expected a mapping of step ids to steps, found {}",
                        node.value.describe()
                    ),
                )
                .at(node.span)
                .hint(
                    "write `steps:` then each step id on its own line, indented, followed by `:`",
                ),
            );
            return Vec::new();
        };
        if entries.is_empty() {
            self.error(
                Diagnostic::new(Code::NoSteps, "the playbook has no steps")
                    .at(node.span)
                    .hint("add at least one step"),
            );
        }
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(entries.len());
        let mut unique: Vec<(&'n str, &'n Node, &'n Node)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Some(id) = key.as_str() else {
                self.error(
                    Diagnostic::new(Code::BadStepId, "a step id must be a name").at(key.span),
                );
                continue;
            };
            if let Some(first) = seen.get(id) {
                self.error(
                    Diagnostic::new(Code::DuplicateStep, format!("step `{id}` is defined twice"))
                        .at(key.span)
                        .label("defined again here")
                        .related(*first, "first defined here")
                        .hint("step ids are unique; rename one of the steps"),
                );
                continue;
            }
            seen.insert(id, key.span);
            if !is_name(id) || id.len() > 64 {
                self.error(
                    Diagnostic::new(Code::BadStepId, format!("`{id}` is not a valid step id"))
                        .at(key.span)
                        .hint("use up to 64 letters, digits, `_` and `-`: step ids go into references and resource names"),
                );
            }
            unique.push((id, key, value));
        }
        unique
            .iter()
            .map(|&(id, key, value)| self.step(id, key, value))
            .collect()
    }

    /// Deserializes one step and checks its kind's rules.
    fn step<'n>(&mut self, id: &str, key: &'n Node, value: &'n Node) -> Partial<'n> {
        let path = ["steps", id];
        let doc: Option<StepDoc> = self.de(value, &path);
        let mut action = None;
        // The kind as written, even when the rest of the step did not deserialize, so that
        // mistakes in `with` are reported in the same pass.
        let uses = match &doc {
            Some(doc) => Some((doc.uses.value.as_str(), doc.uses.span)),
            None => value
                .get("uses")
                .and_then(|n| n.as_str().map(|s| (s, n.span))),
        };
        if let Some((uses, uses_span)) = uses {
            let given = value.get("with");
            let absent = Node {
                span: key.span,
                value: Value::Map(Vec::new()),
            };
            self.ctx.set_path(&["steps", id, "with"]);
            match steps::parse(uses, given.unwrap_or(&absent), &self.ctx) {
                Some(Ok(a)) => action = Some(a),
                Some(Err(mut e)) => {
                    if given.is_none() && e.code == Code::MissingField {
                        e.hint = Some(format!("a `{uses}` step needs `with:` and its fields"));
                    }
                    self.diags.push(e.into_diagnostic(&["steps", id, "with"]));
                }
                None => self.error(
                    Diagnostic::new(
                        Code::UnknownKind,
                        format!("steps.{id}: unknown step kind `{uses}`"),
                    )
                    .at(uses_span)
                    .hint(suggest::hint(
                        uses,
                        "kinds",
                        steps::NAMES.iter().copied(),
                    )),
                ),
            }
        }
        let mut partial = Partial {
            id: id.to_owned(),
            key_span: key.span,
            node: value,
            doc,
            action,
            outputs: None,
        };
        self.check_kind(&mut partial);
        partial
    }

    fn check_kind(&mut self, p: &mut Partial<'_>) {
        if let Some(doc) = &p.doc {
            // retry, timeout and milestone are checked whatever became of `with`.
            self.check_step_fields(p, doc);
        }
        let Some(action) = &p.action else {
            // The kind is known even when its fields did not deserialize: its fixed outputs
            // are, too.
            if let Some(info) = p.doc.as_ref().and_then(|d| steps::info(&d.uses.value)) {
                p.outputs = Some(Outputs {
                    fixed: info.outputs,
                    declared: Vec::new(),
                    open: true,
                });
            }
            return;
        };
        let empty = Node {
            span: Span::default(),
            value: Value::Null,
        };
        let mut cx = CheckCx {
            step: &p.id,
            with: p.node.get("with").unwrap_or(&empty),
            step_span: p.key_span,
            base_dir: &self.base_dir,
            diags: Vec::new(),
            declared_outputs: Vec::new(),
            open_outputs: false,
        };
        action.check(&mut cx);
        let info = steps::info(action.name()).expect("a parsed action has a known kind");
        p.outputs = Some(Outputs {
            fixed: info.outputs,
            declared: cx.declared_outputs,
            open: cx.open_outputs,
        });
        self.diags.extend(cx.diags);
    }

    fn check_step_fields(&mut self, p: &Partial<'_>, doc: &StepDoc) {
        let id = &p.id;
        if let Some(retry) = &doc.retry {
            let span = p.node.get("retry").map_or(p.key_span, |n| n.span);
            self.check_retry(id, retry, span);
        }
        if let (Some(timeout), Some(node)) = (doc.timeout, p.node.get("timeout"))
            && timeout.is_zero()
        {
            self.error(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("steps.{id}.timeout: a step cannot finish in 0s"),
                )
                .at(node.span)
                .hint("write how long the step may take, like 40m"),
            );
        }
        if let Some(m) = &doc.milestone
            && !is_name(m)
        {
            self.error(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("steps.{id}.milestone: `{m}` is not a milestone name"),
                )
                .at(p.node.get("milestone").map_or(p.key_span, |n| n.span))
                .hint("use letters, digits, `_` and `-`, like `recovered` or `db-restored`"),
            );
        }
    }

    fn check_retry(&mut self, id: &str, retry: &RetryDoc, span: Span) {
        let mut bad = |at: Option<Span>, message: String, hint: &str| {
            self.diags.push(
                Diagnostic::new(Code::BadRetry, format!("steps.{id}.retry: {message}"))
                    .at(at.unwrap_or(span))
                    .hint(hint),
            );
        };
        if let Some(a) = &retry.attempts
            && a.value == 0
        {
            bad(
                Some(a.span),
                "`attempts: 0` would never run the step".into(),
                "write 1 for no retries, or more",
            );
        }
        if let Some(b) = &retry.backoff
            && !(b.value.is_finite() && (1.0..=10.0).contains(&b.value))
        {
            bad(
                Some(b.span),
                format!("`backoff: {}` is outside 1 to 10", b.value),
                "1 keeps the interval fixed; 2 doubles it each time",
            );
        }
        if let Some(i) = &retry.interval
            && i.value.is_zero()
        {
            bad(
                Some(i.span),
                "`interval: 0s` would hammer the service".into(),
                "write a pause between attempts, like 10s",
            );
        }
        if let Some(u) = &retry.until {
            let interval = retry
                .interval
                .as_ref()
                .map_or(DEFAULT_RETRY_INTERVAL, |i| i.value);
            if u.value < interval {
                bad(
                    Some(u.span),
                    format!(
                        "`until: {}` is shorter than the interval ({interval}): there would be no second attempt",
                        u.value
                    ),
                    "make `until` longer than `interval`",
                );
            }
        }
    }

    /// Each step's dependencies with the reason, from `needs` and from references; reports
    /// unknown names.
    fn dependencies(
        &mut self,
        partials: &[Partial<'_>],
        vars: &BTreeMap<String, Template>,
    ) -> Vec<Vec<(usize, Because)>> {
        let index: HashMap<&str, usize> = partials
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect();
        let ids = || partials.iter().map(|p| p.id.as_str());
        let mut all = Vec::with_capacity(partials.len());
        for p in partials {
            let mut deps: Vec<(usize, Because)> = Vec::new();
            // needs: read from the node for the place of each name.
            if let Some(needs) = p.node.get("needs") {
                let items: Vec<&Node> = match &needs.value {
                    Value::Seq(items) => items.iter().collect(),
                    _ => vec![needs],
                };
                for item in items {
                    let Some(name) = item.as_str() else { continue };
                    match index.get(name) {
                        Some(&j) => deps.push((j, Because::Needs)),
                        None => self.error(
                            Diagnostic::new(
                                Code::UnknownNeed,
                                format!("steps.{}.needs: there is no step `{name}`", p.id),
                            )
                            .at(item.span)
                            .hint(suggest::hint(
                                name,
                                "step ids",
                                ids(),
                            )),
                        ),
                    }
                }
            }
            if let Some(with) = p.node.get("with") {
                let literal = p
                    .doc
                    .as_ref()
                    .and_then(|d| steps::info(&d.uses.value))
                    .map_or(&[][..], |i| i.literal_fields);
                let mut found = Vec::new();
                with.for_each_str_at(&mut Vec::new(), &mut |path, s, span| {
                    if s.contains("${") {
                        found.push((path.join("."), s, span));
                    }
                });
                for (field, s, span) in found {
                    if literal.contains(&field.as_str()) {
                        let at = s.find("${").map_or(span, |i| {
                            sub_span(
                                &self.file.text,
                                span,
                                &s[i..s[i..].find('}').map_or(s.len(), |j| i + j + 1)],
                            )
                        });
                        self.error(
                            Diagnostic::new(
                                Code::RefNotAllowed,
                                format!("steps.{}.with.{field}: `{field}` is read when the playbook is validated, so it cannot use `${{...}}`", p.id),
                            )
                            .at(at)
                            .hint("write the value itself: references are resolved only when steps run"),
                        );
                        continue;
                    }
                    let template = match Template::parse(s) {
                        Ok(t) => t,
                        Err(e) => {
                            self.bad_reference(&format!("steps.{}.with", p.id), span, &e);
                            continue;
                        }
                    };
                    for r in template.refs() {
                        let at = sub_span(&self.file.text, span, &r.text);
                        if let Some(j) =
                            self.check_ref(p, &r.target, &r.text, at, partials, &index, vars)
                        {
                            deps.push((j, Because::Uses(r.text.clone())));
                        }
                    }
                }
            }
            all.push(deps);
        }
        all
    }

    #[allow(clippy::too_many_arguments)]
    fn check_ref(
        &mut self,
        p: &Partial<'_>,
        target: &Ref,
        text: &str,
        at: Span,
        partials: &[Partial<'_>],
        index: &HashMap<&str, usize>,
        vars: &BTreeMap<String, Template>,
    ) -> Option<usize> {
        let id = &p.id;
        match target {
            Ref::Var(name) if !vars.contains_key(name) && !self.vars_broken => {
                self.error(
                    Diagnostic::new(
                        Code::UnknownVar,
                        format!("steps.{id}: `{text}` names a var that is not defined"),
                    )
                    .at(at)
                    .hint(if vars.is_empty() {
                        format!(
                            "define it under `vars:` at the top level: `vars: {{ {name}: ... }}`"
                        )
                    } else {
                        suggest::hint(name, "vars", vars.keys().map(String::as_str))
                    }),
                );
                None
            }
            Ref::Run(field) if !RUN_FIELDS.contains(&field.as_str()) => {
                self.error(
                    Diagnostic::new(
                        Code::BadReference,
                        format!("steps.{id}: `{text}`: a run has no `{field}`"),
                    )
                    .at(at)
                    .hint(suggest::hint(
                        field,
                        "run fields",
                        RUN_FIELDS.iter().copied(),
                    )),
                );
                None
            }
            Ref::Output { step, key } => {
                let Some(&j) = index.get(step.as_str()) else {
                    self.error(
                        Diagnostic::new(
                            Code::UnknownStepRef,
                            format!("steps.{id}: `{text}` names a step that does not exist"),
                        )
                        .at(at)
                        .hint(suggest::hint(
                            step,
                            "step ids",
                            partials.iter().map(|p| p.id.as_str()),
                        )),
                    );
                    return None;
                };
                if let Some(outputs) = &partials[j].outputs
                    && !outputs.has(key)
                {
                    let uses = partials[j]
                        .doc
                        .as_ref()
                        .map_or("?", |d| d.uses.value.as_str())
                        .to_owned();
                    let hint = if outputs.names().next().is_none() {
                        format!("a `{uses}` step has no outputs")
                    } else {
                        suggest::hint(
                            key,
                            &format!("outputs of `{step}` ({uses})"),
                            outputs.names(),
                        )
                    };
                    self.error(
                        Diagnostic::new(
                            Code::UnknownOutput,
                            format!("steps.{id}: step `{step}` has no output `{key}`"),
                        )
                        .at(at)
                        .hint(hint),
                    );
                }
                Some(j)
            }
            _ => None,
        }
    }

    fn dag(&mut self, partials: &[Partial<'_>], deps: &[Vec<(usize, Because)>]) -> Option<Dag> {
        let plain: Vec<Vec<usize>> = deps
            .iter()
            .map(|d| d.iter().map(|(j, _)| *j).collect())
            .collect();
        match Dag::new(plain) {
            Ok(dag) => Some(dag),
            Err(cycles) => {
                for cycle in cycles {
                    self.cycle(partials, deps, &cycle);
                }
                None
            }
        }
    }

    fn cycle(&mut self, partials: &[Partial<'_>], deps: &[Vec<(usize, Because)>], cycle: &[usize]) {
        let names: Vec<&str> = cycle.iter().map(|&i| partials[i].id.as_str()).collect();
        let first = cycle[0];
        if cycle.len() == 1 {
            let because = deps[first]
                .iter()
                .find(|(j, _)| *j == first)
                .map(|(_, b)| b.clone());
            let how = match because {
                Some(Because::Uses(text)) => format!("uses its own output `{text}`"),
                _ => "needs itself".to_string(),
            };
            self.error(
                Diagnostic::new(Code::Cycle, format!("step `{}` {how}", names[0]))
                    .at(partials[first].key_span)
                    .hint("a step cannot wait for itself; remove the dependency"),
            );
            return;
        }
        let mut path = names.join(" -> ");
        path.push_str(" -> ");
        path.push_str(names[0]);
        let mut reasons = Vec::new();
        for (k, &i) in cycle.iter().enumerate() {
            let next = cycle[(k + 1) % cycle.len()];
            let how = match deps[i].iter().find(|(j, _)| *j == next).map(|(_, b)| b) {
                Some(Because::Uses(text)) => format!("`{}` uses {text}", partials[i].id),
                _ => format!("`{}` needs `{}`", partials[i].id, partials[next].id),
            };
            reasons.push(how);
        }
        let mut d = Diagnostic::new(
            Code::Cycle,
            format!("steps depend on each other in a circle: {path}"),
        )
        .at(partials[first].key_span)
        .label("the cycle starts here")
        .hint(format!(
            "{}; remove one of these dependencies",
            reasons.join(", ")
        ));
        for &i in &cycle[1..] {
            d = d.related(partials[i].key_span, "in the cycle");
        }
        self.error(d);
    }

    fn targets(
        &mut self,
        doc: Option<TargetsDoc>,
        node: Option<&Node>,
        partials: &[Partial<'_>],
    ) -> Option<Targets> {
        let doc = match (doc, node) {
            (Some(doc), _) => doc,
            (None, None) => TargetsDoc::default(),
            (None, Some(_)) => return None,
        };
        let reached: Vec<&str> = partials
            .iter()
            .filter_map(|p| p.doc.as_ref()?.milestone.as_deref())
            .collect();
        let any_broken = partials.iter().any(|p| p.doc.is_none());
        if let Some(rto) = &doc.rto
            && !reached.contains(&RECOVERED)
            && !any_broken
        {
            self.error(
                Diagnostic::new(Code::TargetWithoutMilestone, "targets.rto is set, but no step reaches the `recovered` milestone")
                    .at(rto.span)
                    .hint("add `milestone: recovered` to the step that proves the service is back (usually the last probe)"),
            );
        }
        for name in doc.milestones.keys() {
            let span = node
                .and_then(|n| n.get("milestones"))
                .and_then(|m| key_span(m, name));
            if name == RECOVERED {
                self.error(
                    Diagnostic::new(
                        Code::InvalidValue,
                        "the target of `recovered` is `targets.rto`",
                    )
                    .at_opt(span)
                    .hint("move it to `targets: { rto: ... }`"),
                );
            } else if !reached.contains(&name.as_str()) && !any_broken {
                self.error(
                    Diagnostic::new(
                        Code::UnknownMilestone,
                        format!("targets.milestones: no step reaches milestone `{name}`"),
                    )
                    .at_opt(span)
                    .hint(if reached.is_empty() {
                        format!("add `milestone: {name}` to the step that reaches it")
                    } else {
                        suggest::hint(name, "milestones", reached.iter().copied())
                    }),
                );
            }
        }
        if let Some(rpo) = &doc.rpo
            && !partials
                .iter()
                .any(|p| p.action.as_ref().is_none_or(Action::measures_rpo))
        {
            self.error(
                Diagnostic::new(Code::NothingMeasuresRpo, "targets.rpo is set, but no step measures the RPO")
                    .at(rpo.span)
                    .hint("restore steps (rds.*, ec2.restore-volume), check.backups, or probe.sql with `measures: rpo` measure it"),
            );
        }
        Some(Targets {
            rto: doc.rto.map(|r| r.value),
            rpo: doc.rpo.map(|r| r.value),
            milestones: doc.milestones,
        })
    }
}

fn finish_step(p: Partial<'_>, deps: Vec<usize>) -> Option<Step> {
    let doc = p.doc?;
    let action = p.action?;
    let retry = doc.retry.map(|r| Retry {
        attempts: r.attempts.map(|a| a.value),
        interval: r.interval.map_or(DEFAULT_RETRY_INTERVAL, |i| i.value),
        backoff: r.backoff.map_or(1.0, |b| b.value),
        until: r.until.map(|u| u.value),
    });
    Some(Step {
        id: p.id,
        action,
        deps,
        timeout: doc.timeout,
        retry,
        on_failure: doc.on_failure.unwrap_or_default(),
        milestone: doc.milestone,
        estimate: doc.estimate,
        description: doc.description,
        outputs: p.outputs.unwrap_or_default(),
        line: p.key_span.line,
    })
}

/// Whether `s` is a name: letters, digits, `_` and `-`.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The place of key `key` in mapping `map`.
fn key_span(map: &Node, key: &str) -> Option<Span> {
    map.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(k, _)| k.span)
}

/// The place of `needle` inside the value written at `span`, when it is written there as is
/// (not through escapes); otherwise `span` itself.
pub fn sub_span(text: &str, span: Span, needle: &str) -> Span {
    let end = (span.offset + span.len).min(text.len());
    let Some(slice) = text.get(span.offset..end) else {
        return span;
    };
    let Some(at) = slice.find(needle) else {
        return span;
    };
    let before = &slice[..at];
    let newlines = before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(nl) => before[nl + 1..].chars().count() + 1,
        None => span.col as usize + before.chars().count(),
    };
    Span {
        line: span.line + u32::try_from(newlines).unwrap_or(0),
        col: u32::try_from(col).unwrap_or(span.col),
        offset: span.offset + at,
        len: needle.len(),
    }
}
