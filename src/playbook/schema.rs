//! `firedrill schema`: the JSON Schema of the playbook language, generated from the same types
//! that playbooks deserialize into. A step's `with` is described per kind (`if uses is X then
//! with is X's fields`), so editors complete and check the fields of each kind.

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::playbook::doc::PlaybookDoc;
use crate::steps;

/// The `$id` of the schema.
pub const SCHEMA_ID: &str = "https://firedrill.dev/schema/playbook-v1.json";

/// The schema as a JSON value.
pub fn schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let kind_schemas = steps::schemas(&mut generator);
    let root = generator.root_schema_for::<PlaybookDoc>();
    let mut root = root.to_value();
    root["$id"] = json!(SCHEMA_ID);
    let step = &mut root["$defs"]["StepDoc"];
    let names: Vec<&str> = kind_schemas.iter().map(|(info, _)| info.name).collect();
    step["properties"]["uses"] = json!({
        "description": "The step kind.",
        "enum": names,
    });
    let rules: Vec<Value> = kind_schemas
        .into_iter()
        .map(|(info, with)| {
            json!({
                "if": { "properties": { "uses": { "const": info.name } }, "required": ["uses"] },
                "then": {
                    "description": info.summary,
                    "properties": { "with": with.to_value() }
                }
            })
        })
        .collect();
    step["allOf"] = Value::Array(rules);
    root
}

/// The schema as pretty JSON text, as committed in `schema/playbook.schema.json`.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a schema serializes");
    text.push('\n');
    text
}
