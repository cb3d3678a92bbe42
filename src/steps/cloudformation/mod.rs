//! `cloudformation.stack`: a stack from a template file, whose outputs become step outputs.
//!
//! The language side (this file) never imports AWS, store or engine code; the calls are in [`action`].

pub mod action;

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::files;
use crate::language::template::Template;
use crate::language::yaml;
use crate::steps::kind::{CheckCx, Kind, minutes};

/// Capabilities a template may need to be acknowledged.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
pub enum Capability {
    /// The template creates IAM resources.
    #[serde(rename = "CAPABILITY_IAM")]
    Iam,
    /// The template creates IAM resources with custom names.
    #[serde(rename = "CAPABILITY_NAMED_IAM")]
    NamedIam,
    /// The template uses macros or nested stacks.
    #[serde(rename = "CAPABILITY_AUTO_EXPAND")]
    AutoExpand,
}

/// Create a CloudFormation stack from a template file.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// The template file (YAML or JSON), relative to the playbook.
    pub template: String,
    /// Template parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, Template>,
    /// Capabilities to acknowledge.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// The stack outputs this drill uses, when the template cannot be read at validation time.
    #[serde(default)]
    pub outputs: Vec<String>,
}

impl Kind for Stack {
    const NAME: &'static str = "cloudformation.stack";
    const SUMMARY: &'static str = "Create a CloudFormation stack from a template file and parameters; its outputs become the step's outputs; teardown deletes it.";
    const DEFAULT_ESTIMATE: Duration = minutes(5);
    const OUTPUTS: &'static [&'static str] = &["stack_id", "stack_name"];

    const LITERAL_FIELDS: &'static [&'static str] = &["template", "outputs"];

    fn describe(&self) -> String {
        let params = if self.parameters.is_empty() {
            String::new()
        } else {
            format!(" with {} parameter(s)", self.parameters.len())
        };
        format!(
            "create a CloudFormation stack from `{}`{params}",
            self.template
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        cx.declared_outputs.extend(self.outputs.iter().cloned());
        if self.template.contains("${") {
            // The compiler reports the reference; there is no file to read.
            cx.open_outputs = true;
            return;
        }
        let path = cx.base_dir.join(&self.template);
        let text = match files::read_text(
            &path,
            Path::new(&self.template),
            "template",
            files::Base::FileDir(cx.base_dir),
        ) {
            Ok(text) => text,
            Err(e) => {
                cx.diags.push(
                    crate::language::diag::Diagnostic::new(
                        crate::language::diag::Code::MissingFile,
                        format!("steps.{}.with.template: {e}", cx.step),
                    )
                    .at(cx.span_of(&["template"]))
                    .hint(e.hint),
                );
                cx.open_outputs = true;
                return;
            }
        };
        // Short-form intrinsic tags (`!Ref`, `!GetAtt`) are read as plain values: only the
        // names under `Outputs` matter here.
        match yaml::parse(&text) {
            Ok(doc) => {
                if let Some(outputs) = doc.get("Outputs").and_then(yaml::Node::as_map) {
                    cx.declared_outputs.extend(
                        outputs
                            .iter()
                            .filter_map(|(k, _)| k.as_str().map(str::to_owned)),
                    );
                }
                let params = doc
                    .get("Parameters")
                    .and_then(yaml::Node::as_map)
                    .unwrap_or(&[]);
                {
                    let known: Vec<&str> = params.iter().filter_map(|(k, _)| k.as_str()).collect();
                    for name in self.parameters.keys() {
                        if !known.contains(&name.as_str()) {
                            cx.error(
                                &["parameters", name],
                                format!(
                                    "the template `{}` has no parameter `{name}`",
                                    self.template
                                ),
                                crate::language::suggest::hint(
                                    name,
                                    "parameters",
                                    known.iter().copied(),
                                ),
                            );
                        }
                    }
                }
            }
            Err(_) => cx.open_outputs = self.outputs.is_empty(),
        }
    }
}
