//! Field types that several kinds share: selectors of snapshots and images, commands, tags.
//! The plain YAML shapes (scalar strings, one-or-many values) are in [`crate::language::shapes`].

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::language::shapes::Scalar;
use crate::language::template::Template;

/// Tags to match, `{ key: value }`.
pub type Tags = BTreeMap<String, Scalar>;

/// Which recovery point or image to use: `latest`, an identifier, or
/// `{ latest_tagged: { key: value } }`.
#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    /// The newest one (of the step's source).
    Latest,
    /// This identifier.
    Id(Template),
    /// The newest one carrying all these tags.
    LatestTagged(Tags),
}

impl Selector {
    /// The selector as a playbook writes it.
    pub fn as_written(&self) -> String {
        match self {
            Selector::Latest => "latest".to_string(),
            Selector::Id(id) => id.raw().to_string(),
            Selector::LatestTagged(_) => "{ latest_tagged: ... }".to_string(),
        }
    }

    /// How the selector reads in a sentence.
    pub fn describe(&self) -> String {
        match self {
            Selector::Latest => "the latest".to_string(),
            Selector::Id(id) => format!("`{id}`"),
            Selector::LatestTagged(tags) => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
                format!("the latest tagged {}", tags.join(","))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Tagged {
            latest_tagged: Tags,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`latest`, an identifier, or a mapping `latest_tagged: {key: value}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Selector, E> {
                if v == "latest" {
                    return Ok(Selector::Latest);
                }
                Template::deserialize(v.into_deserializer()).map(Selector::Id)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Selector, A::Error> {
                let tagged = Tagged::deserialize(de::value::MapAccessDeserializer::new(map))?;
                if tagged.latest_tagged.is_empty() {
                    return Err(de::Error::custom("`latest_tagged` needs at least one tag"));
                }
                Ok(Selector::LatestTagged(tagged.latest_tagged))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Selector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Selector".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`latest`, an identifier, or `{latest_tagged: {key: value}}`",
            "anyOf": [
                { "type": "string" },
                {
                    "type": "object",
                    "properties": { "latest_tagged": { "type": "object", "additionalProperties": { "type": ["string", "number", "boolean"] }, "minProperties": 1 } },
                    "required": ["latest_tagged"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

/// A process to run: a shell string (`sh -c`) or an argument vector.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run by `sh -c`.
    Shell(Template),
    /// Run directly: program and arguments.
    Argv(Vec<Template>),
}

impl Command {
    /// Whether there is nothing to run.
    pub fn is_empty(&self) -> bool {
        match self {
            Command::Shell(s) => s.raw().trim().is_empty(),
            Command::Argv(argv) => argv.first().is_none_or(|a| a.raw().is_empty()),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell(s) => write!(f, "{s}"),
            Command::Argv(argv) => {
                let words: Vec<&str> = argv.iter().map(Template::raw).collect();
                f.write_str(&words.join(" "))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Command {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Command;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a shell command string, or a list of program and arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Command, E> {
                Template::deserialize(v.into_deserializer()).map(Command::Shell)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Command, A::Error> {
                Vec::<Template>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(Command::Argv)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Command {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Command".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A shell command (run by `sh -c`) or a list: program and arguments.",
            "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" }, "minItems": 1 }]
        })
    }
}

/// The literal text of an optional template, when it has no references.
pub fn literal(t: Option<&Template>) -> Option<String> {
    t.and_then(Template::as_literal)
}
