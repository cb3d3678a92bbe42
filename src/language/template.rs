//! Strings with references: `${vars.NAME}`, `${steps.ID.outputs.KEY}`, `${env.NAME}`,
//! `${run.id}`, `${secret:env:NAME}` and `${secret:ssm:/path}`. `$${` writes a literal `${`.
//!
//! A reference to a step's outputs makes that step a dependency, like `needs`. References are
//! checked by the compiler (which knows the vars, steps and outputs) and resolved by the engine
//! when the step is dispatched.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{IntoDeserializer, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::language::suggest;

/// What a reference points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Ref {
    /// `${vars.NAME}`.
    Var(String),
    /// `${steps.ID.outputs.KEY}`.
    Output {
        /// The step id.
        step: String,
        /// The output key.
        key: String,
    },
    /// `${env.NAME}`: an environment variable of the firedrill process.
    Env(String),
    /// `${run.FIELD}`: a property of the current run.
    Run(String),
    /// `${secret:env:NAME}` or `${secret:ssm:/path}`: never printed, logged or stored.
    Secret {
        /// Where the secret comes from.
        source: SecretSource,
        /// The variable name or parameter path.
        key: String,
    },
}

/// Where a secret comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretSource {
    /// An environment variable.
    Env,
    /// An AWS SSM parameter (decrypted).
    Ssm,
}

/// The fields of `${run.*}`.
pub const RUN_FIELDS: &[&str] = &["id", "playbook"];
const NAMESPACES: &[&str] = &["vars", "steps", "env", "run", "secret"];

/// A reference inside a string, with its place in that string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefAt {
    /// What it points at.
    pub target: Ref,
    /// The reference as written, `${...}` included.
    pub text: String,
}

/// A part of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A reference.
    Ref(RefAt),
}

/// Why a template does not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// The offending text (a `${...}` or the unterminated tail), to point at.
    pub text: String,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

/// A string with references, as written in a playbook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    raw: String,
    /// Empty when `raw` has no `${` (no reference, no escape): `raw` is then the literal text.
    parts: Vec<Part>,
    valid: bool,
}

impl Template {
    /// Parses `raw`.
    pub fn parse(raw: &str) -> Result<Self, SyntaxError> {
        if !raw.contains("${") {
            // No reference and no `$${` escape: the text is the literal.
            return Ok(Self {
                raw: raw.to_owned(),
                parts: Vec::new(),
                valid: true,
            });
        }
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = raw;
        while let Some(pos) = rest.find('$') {
            lit.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if let Some(after) = tail.strip_prefix("$${") {
                lit.push_str("${");
                rest = after;
            } else if let Some(after) = tail.strip_prefix("${") {
                let Some(end) = after.find('}') else {
                    return Err(SyntaxError {
                        text: tail.to_owned(),
                        message: "a reference is not closed".into(),
                        hint: "close it with `}`; to write a literal `${`, write `$${`".into(),
                    });
                };
                let text = &tail[..end + 3];
                let target = parse_ref(after[..end].trim(), text)?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Ref(RefAt {
                    target,
                    text: text.to_owned(),
                }));
                rest = &after[end + 1..];
            } else {
                lit.push('$');
                rest = &tail[1..];
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Self {
            raw: raw.to_owned(),
            parts,
            valid: true,
        })
    }

    /// A template without references.
    pub fn literal(text: impl Into<String>) -> Self {
        let text: String = text.into();
        if text.contains("${") {
            let raw = text.replace("${", "$${");
            return Self {
                raw,
                parts: vec![Part::Lit(text)],
                valid: true,
            };
        }
        Self {
            raw: text,
            parts: Vec::new(),
            valid: true,
        }
    }

    /// The text as written.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The parts: literal text and references, in order.
    pub fn parts(&self) -> std::borrow::Cow<'_, [Part]> {
        if self.parts.is_empty() && self.valid && !self.raw.is_empty() {
            return std::borrow::Cow::Owned(vec![Part::Lit(self.raw.clone())]);
        }
        std::borrow::Cow::Borrowed(&self.parts)
    }

    /// The references, in order.
    pub fn refs(&self) -> impl Iterator<Item = &RefAt> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Lit(_) => None,
        })
    }

    /// The text if the template has no references.
    pub fn as_literal(&self) -> Option<String> {
        if !self.valid {
            return None;
        }
        if self.parts.is_empty() {
            return Some(self.raw.clone());
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Ref(_) => return None,
            }
        }
        Some(out)
    }

    /// Replaces every reference with what `resolve` gives for it.
    pub fn render<E>(
        &self,
        mut resolve: impl FnMut(&Ref) -> Result<String, E>,
    ) -> Result<String, E> {
        if self.parts.is_empty() {
            return Ok(self.raw.clone());
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Ref(r) => out.push_str(&resolve(&r.target)?),
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

fn parse_ref(expr: &str, text: &str) -> Result<Ref, SyntaxError> {
    let fail = |message: String, hint: String| SyntaxError {
        text: text.to_owned(),
        message,
        hint,
    };
    if expr.is_empty() {
        return Err(fail(
            "the reference is empty".into(),
            "write `${vars.NAME}`, `${steps.ID.outputs.KEY}`, `${env.NAME}` or `${run.id}`".into(),
        ));
    }
    if let Some(secret) = expr.strip_prefix("secret:") {
        let (source, key) = match secret.split_once(':') {
            Some(("env", key)) => (SecretSource::Env, key),
            Some(("ssm", key)) => (SecretSource::Ssm, key),
            _ => {
                return Err(fail(
                    format!("`{expr}` is not a secret reference"),
                    "write `${secret:env:NAME}` or `${secret:ssm:/parameter/path}`".into(),
                ));
            }
        };
        if key.is_empty() {
            return Err(fail(
                "the secret has no name".into(),
                "write `${secret:env:NAME}`".into(),
            ));
        }
        return Ok(Ref::Secret {
            source,
            key: key.to_owned(),
        });
    }
    let segments: Vec<&str> = expr.split('.').collect();
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    let namespace = segments[0];
    match (namespace, segments.as_slice()) {
        ("vars", [_, name]) if valid_name(name) => Ok(Ref::Var((*name).to_owned())),
        ("env", [_, name]) if valid_name(name) => Ok(Ref::Env((*name).to_owned())),
        ("run", [_, field]) if valid_name(field) => Ok(Ref::Run((*field).to_owned())),
        ("steps", [_, step, "outputs", key]) if valid_name(step) && valid_name(key) => {
            Ok(Ref::Output {
                step: (*step).to_owned(),
                key: (*key).to_owned(),
            })
        }
        ("steps", [_, step, _, key]) if valid_name(step) => Err(fail(
            format!("`{expr}` is not a step output reference"),
            format!("write `${{steps.{step}.outputs.{key}}}`"),
        )),
        ("steps", _) => Err(fail(
            format!("`{expr}` is not a step output reference"),
            "write `${steps.ID.outputs.KEY}`".into(),
        )),
        ("vars" | "env" | "run", _) => Err(fail(
            format!("`{expr}` is not a valid reference"),
            format!("write `${{{namespace}.NAME}}` with a name of letters, digits, `_` and `-`"),
        )),
        _ => Err(fail(
            format!("`{namespace}` is not something a reference can name"),
            suggest::hint(namespace, "namespaces", NAMESPACES.iter().copied()),
        )),
    }
}

impl<'de> Deserialize<'de> for Template {
    /// Accepts any scalar (`8080` is the text `8080`). Never fails on reference syntax: the
    /// compiler reports those with their place, once.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = crate::language::shapes::Scalar::deserialize(d)?.0;
        if !raw.contains("${") {
            return Ok(Template {
                raw,
                parts: Vec::new(),
                valid: true,
            });
        }
        Ok(Template::parse(&raw).unwrap_or(Template {
            raw,
            parts: Vec::new(),
            valid: false,
        }))
    }
}

impl Serialize for Template {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl JsonSchema for Template {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Template".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Text that may contain references: ${vars.NAME}, ${steps.ID.outputs.KEY}, ${env.NAME}, ${run.id}, ${secret:env:NAME}, ${secret:ssm:/path}."
        })
    }
}

/// A value of type `T`, or a template that gives one when the step runs
/// (`port: ${steps.db.outputs.port}`).
#[derive(Clone, Debug, PartialEq)]
pub enum Tpl<T> {
    /// Written as a value.
    Lit(T),
    /// Written as a template; resolved and parsed at dispatch.
    Template(Template),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Tpl<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        macro_rules! forward {
            ($($method:ident: $ty:ty),*) => {$(
                fn $method<E: serde::de::Error>(self, v: $ty) -> Result<Tpl<T>, E> {
                    T::deserialize(v.into_deserializer()).map(Tpl::Lit)
                }
            )*};
        }
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Tpl<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value or a ${...} reference")
            }
            forward!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Tpl<T>, E> {
                if v.contains("${") {
                    let template = Template::deserialize(v.into_deserializer())?;
                    Ok(Tpl::Template(template))
                } else {
                    T::deserialize(v.into_deserializer()).map(Tpl::Lit)
                }
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Tpl<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Tpl_{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let inner = generator.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [inner, {"type": "string", "pattern": "\\$\\{", "description": "a ${...} reference resolved when the step runs"}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_reference_form() {
        let t = Template::parse("postgres://${vars.user}@${steps.db.outputs.endpoint}:${steps.db.outputs.port}/x?r=${run.id}&e=${ env.HOME }&p=${secret:ssm:/db/pw} $${literal}")
            .expect("valid");
        let targets: Vec<_> = t.refs().map(|r| r.target.clone()).collect();
        assert_eq!(
            targets,
            [
                Ref::Var("user".into()),
                Ref::Output {
                    step: "db".into(),
                    key: "endpoint".into()
                },
                Ref::Output {
                    step: "db".into(),
                    key: "port".into()
                },
                Ref::Run("id".into()),
                Ref::Env("HOME".into()),
                Ref::Secret {
                    source: SecretSource::Ssm,
                    key: "/db/pw".into()
                },
            ]
        );
        let rendered = t.render(|_| Ok::<_, ()>("X".to_string())).expect("renders");
        assert!(rendered.ends_with(" ${literal}"), "{rendered}");
        assert_eq!(
            Template::parse("a $ b")
                .expect("ok")
                .as_literal()
                .as_deref(),
            Some("a $ b")
        );
    }

    #[test]
    fn explains_bad_references() {
        let e = Template::parse("x ${steps.db.output.port}").expect_err("typo");
        assert_eq!(e.hint, "write `${steps.db.outputs.port}`");
        assert_eq!(e.text, "${steps.db.output.port}");
        let e = Template::parse("${var.x}").expect_err("namespace");
        assert_eq!(e.hint, "did you mean `vars`?");
        assert!(Template::parse("${vars.x").is_err());
        assert!(Template::parse("${}").is_err());
        assert!(Template::parse("${secret:vault:x}").is_err());
    }
}
