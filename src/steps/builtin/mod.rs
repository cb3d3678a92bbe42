//! Built-in kinds that need no cloud: `run` (a process), `wait` and `manual`.
//!
//! The language side (this file) never imports AWS, store or engine code; the calls are in [`action`], the process runner in [`process`].

pub mod action;
pub mod gate;
pub mod process;
pub mod prompter;
pub mod reaper;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::template::Template;
use crate::steps::common::Command;
use crate::steps::kind::{CheckCx, Kind, minutes, seconds};

/// Run a process; its exit code decides.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// A shell command (run by `sh -c`), or a list: program and arguments.
    pub command: Command,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, Template>,
    /// The working directory (default: the playbook's directory).
    pub dir: Option<Template>,
    /// Outputs the process sets, by writing `key=value` lines to the file named by
    /// `$FIREDRILL_OUTPUTS`.
    #[serde(default)]
    pub outputs: Vec<String>,
}

impl Kind for Run {
    const NAME: &'static str = "run";
    const SUMMARY: &'static str = "Run a process (a shell string or an argument list); the exit code decides; the output tail is kept for the report.";
    const DEFAULT_ESTIMATE: Duration = seconds(30);
    const OUTPUTS: &'static [&'static str] = &["exit_code", "stdout"];

    const LITERAL_FIELDS: &'static [&'static str] = &["outputs"];

    fn describe(&self) -> String {
        format!("run `{}`", self.command)
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.command.is_empty() {
            cx.error(
                &["command"],
                "the command is empty",
                "write the command to run",
            );
        }
        for name in &self.outputs {
            if name.contains("${") {
                continue; // the compiler reports references here
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                cx.error(
                    &["outputs"],
                    format!("`{name}` is not an output name"),
                    "use letters, digits, `_` and `-`",
                );
            } else if Self::OUTPUTS.contains(&name.as_str()) {
                cx.error(
                    &["outputs"],
                    format!("`{name}` is an output of every `run` step"),
                    "pick another name",
                );
            }
        }
        cx.declared_outputs.extend(self.outputs.iter().cloned());
    }
}

/// Wait for a fixed time.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    /// How long to wait.
    pub duration: Duration,
}

impl Kind for Wait {
    const NAME: &'static str = "wait";
    const SUMMARY: &'static str = "Wait for a fixed time (replication catch-up, DNS TTLs).";
    const DEFAULT_ESTIMATE: Duration = seconds(0);
    const OUTPUTS: &'static [&'static str] = &[];

    fn describe(&self) -> String {
        format!("wait {}", self.duration)
    }

    fn estimate(&self) -> Option<Duration> {
        Some(self.duration)
    }
}

/// A step a person does: the drill waits for confirmation.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manual {
    /// What to ask the person (shown on the terminal).
    pub prompt: String,
    /// Longer instructions, a runbook link.
    pub instructions: Option<String>,
}

impl Kind for Manual {
    const NAME: &'static str = "manual";
    const SUMMARY: &'static str = "A manual gate: a person confirms on the terminal (fails without one unless --auto-approve).";
    const DEFAULT_ESTIMATE: Duration = minutes(5);
    /// Who let the gate pass: `terminal`, `--auto-approve`, or the approver's name.
    const OUTPUTS: &'static [&'static str] = &["approved_by"];

    const LITERAL_FIELDS: &'static [&'static str] = &["prompt", "instructions"];

    fn describe(&self) -> String {
        format!("ask a person: {}", self.prompt)
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.prompt.trim().is_empty() {
            cx.error(
                &["prompt"],
                "the prompt is empty",
                "write what the person must confirm",
            );
        }
    }
}
