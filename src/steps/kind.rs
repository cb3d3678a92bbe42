//! What a step kind is, on the language side: the [`Kind`] trait every kind's `with` struct
//! implements (its name, summary, outputs, estimate and rules), what validation gives a kind's
//! rules ([`CheckCx`]) and what it learns of a step's outputs ([`Outputs`]).
//!
//! Knows no particular kind (those are in the folders beside this file, listed in the table in
//! `steps/mod.rs`), and nothing of AWS, the store or the engine.

use std::path::Path;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::language::diag::{Code, Diagnostic, Span};
use crate::language::duration::Duration;
use crate::language::yaml::Node;

/// What every step kind provides.
pub trait Kind: DeserializeOwned + JsonSchema + std::fmt::Debug + Clone {
    /// The `uses:` name.
    const NAME: &'static str;
    /// One line about the kind, for the schema and `plan`.
    const SUMMARY: &'static str;
    /// How long the kind usually takes, for planning, when the step gives no `estimate`.
    const DEFAULT_ESTIMATE: Duration;
    /// The outputs every step of this kind has.
    const OUTPUTS: &'static [&'static str];

    /// What this step would do, in one sentence, for `plan` and the walkthrough.
    fn describe(&self) -> String;

    /// Kind-specific rules, beyond what the types enforce; also declares dynamic outputs.
    fn check(&self, _cx: &mut CheckCx<'_>) {}

    /// A better estimate than the kind's default, when the fields give one (a `wait`).
    fn estimate(&self) -> Option<Duration> {
        None
    }

    /// Fields of `with` (dot-separated paths) that validation reads, so that they cannot hold
    /// `${...}` references, which are resolved only when steps run.
    const LITERAL_FIELDS: &'static [&'static str] = &[];

    /// Whether a step of this kind measures the RPO (restores from a recovery point, checks
    /// backups, or queries the newest data).
    fn measures_rpo(&self) -> bool {
        false
    }
}

/// What a step's outputs are, as far as validation can know.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    /// The outputs of the kind.
    pub fixed: &'static [&'static str],
    /// Outputs the step declares (a `run` step's `outputs`, a stack template's `Outputs`).
    pub declared: Vec<String>,
    /// Whether any other key may exist too (a stack whose template could not be read).
    pub open: bool,
}

impl Outputs {
    /// Whether `key` is an output.
    pub fn has(&self, key: &str) -> bool {
        self.open || self.fixed.contains(&key) || self.declared.iter().any(|k| k == key)
    }

    /// All the known output names.
    pub fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.fixed
            .iter()
            .copied()
            .chain(self.declared.iter().map(String::as_str))
    }
}

/// What a kind's [`Kind::check`] works with.
pub struct CheckCx<'a> {
    /// The step id.
    pub step: &'a str,
    /// The step's `with` node (a null node when absent).
    pub with: &'a Node,
    /// Where the step is written.
    pub step_span: Span,
    /// The directory of the playbook file, for relative paths.
    pub base_dir: &'a Path,
    /// What the check found wrong.
    pub diags: Vec<Diagnostic>,
    /// Outputs the step declares beyond the kind's own.
    pub declared_outputs: Vec<String>,
    /// Whether outputs beyond the known ones may exist.
    pub open_outputs: bool,
}

impl CheckCx<'_> {
    /// The place of `with.<path>`, or of `with`, or of the step.
    pub fn span_of(&self, path: &[&str]) -> Span {
        let mut node = self.with;
        for key in path {
            match node.get(key) {
                Some(n) => node = n,
                None => break,
            }
        }
        if node.span == Span::default() {
            self.step_span
        } else {
            node.span
        }
    }

    /// Reports a broken rule at `with.<path>`.
    pub fn error(&mut self, path: &[&str], message: impl Into<String>, hint: impl Into<String>) {
        let where_ = if path.is_empty() {
            "with".to_string()
        } else {
            format!("with.{}", path.join("."))
        };
        let message = format!("steps.{}.{where_}: {}", self.step, message.into());
        self.diags.push(
            Diagnostic::new(Code::KindRule, message)
                .at(self.span_of(path))
                .hint(hint),
        );
    }
}

/// What is known of a kind without a step.
#[derive(Clone, Copy, Debug)]
pub struct KindInfo {
    /// The `uses:` name.
    pub name: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// The planning default.
    pub default_estimate: Duration,
    /// Its fixed outputs.
    pub outputs: &'static [&'static str],
    /// Fields that cannot hold references.
    pub literal_fields: &'static [&'static str],
}

impl KindInfo {
    pub(crate) fn of<K: Kind>() -> Self {
        Self {
            name: K::NAME,
            summary: K::SUMMARY,
            default_estimate: K::DEFAULT_ESTIMATE,
            outputs: K::OUTPUTS,
            literal_fields: K::LITERAL_FIELDS,
        }
    }
}

/// Minutes as a [`Duration`], for the estimate constants.
pub(crate) const fn minutes(m: u64) -> Duration {
    Duration(std::time::Duration::from_secs(m * 60))
}

/// Seconds as a [`Duration`], for the estimate constants.
pub(crate) const fn seconds(s: u64) -> Duration {
    Duration(std::time::Duration::from_secs(s))
}
