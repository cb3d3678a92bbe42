//! Typed deserialization from a [`Node`] tree, the "as written" half of validation.
//!
//! Playbook types derive `serde::Deserialize` (and `schemars::JsonSchema`, so the schema comes
//! from the same types). This deserializer feeds them from [`Node`]s and adds what a YAML
//! library alone does not:
//! - every error carries the place of the innermost value it concerns, and the key path;
//! - unknown keys and duplicate keys are collected into a [`Ctx`] instead of stopping, each
//!   with a "did you mean" hint, so one pass reports all of them;
//! - [`Spanned`] values record where they were written, for the semantic checks that follow.

use std::cell::RefCell;
use std::fmt;

use schemars::JsonSchema;
use serde::de::value::{SeqDeserializer, StrDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::{Deserialize, Deserializer};

use crate::language::diag::{Code, Diagnostic, Span};
use crate::language::suggest;
use crate::language::yaml::{Node, Value};

/// Collects the diagnostics that do not stop deserialization (unknown and duplicate keys).
#[derive(Default)]
pub struct Ctx {
    diags: RefCell<Vec<Diagnostic>>,
    /// The key path of the deserialized root, dot-separated (a buffer reused between calls).
    base: RefCell<String>,
}

/// One step of the key path from the deserialized root to a value: kept on the stack, so
/// that tracking the path costs no allocation; it is only turned into text for a message.
#[derive(Clone, Copy)]
struct Link<'a> {
    key: Key<'a>,
    parent: Option<&'a Link<'a>>,
}

#[derive(Clone, Copy)]
enum Key<'a> {
    Name(&'a str),
    Index(usize),
}

impl Ctx {
    /// Sets the key path of the node about to be deserialized, for messages.
    pub fn set_path(&self, path: &[&str]) {
        let mut base = self.base.borrow_mut();
        base.clear();
        for (i, key) in path.iter().enumerate() {
            if i > 0 {
                base.push('.');
            }
            base.push_str(key);
        }
    }

    /// `message` prefixed with the key path `path`.
    fn at_path(&self, path: Option<&Link<'_>>, message: &str) -> String {
        let mut keys: Vec<String> = Vec::new();
        let mut at = path;
        while let Some(link) = at {
            keys.push(match link.key {
                Key::Name(name) => name.to_owned(),
                Key::Index(i) => i.to_string(),
            });
            at = link.parent;
        }
        let base = self.base.borrow();
        if !base.is_empty() {
            keys.push(base.clone());
        }
        keys.reverse();
        if keys.is_empty() {
            message.to_owned()
        } else {
            format!("{}: {message}", keys.join("."))
        }
    }

    /// Records a diagnostic.
    pub fn push(&self, d: Diagnostic) {
        self.diags.borrow_mut().push(d);
    }

    /// Takes what was recorded.
    pub fn take(&self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.diags.borrow_mut())
    }
}

/// A deserialization error with its place and key path.
#[derive(Debug, Clone)]
pub struct Error {
    /// The diagnostic code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// What to do.
    pub hint: Option<String>,
    /// Where (the innermost value).
    pub span: Option<Span>,
    /// The keys from the deserialized root to the value, outermost first.
    pub path: Vec<String>,
}

impl Error {
    /// A new error.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            hint: None,
            span: None,
            path: Vec::new(),
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    fn or_at(mut self, span: Span) -> Self {
        self.span.get_or_insert(span);
        self
    }

    fn in_key(mut self, key: &str) -> Self {
        self.path.insert(0, key.to_owned());
        self
    }

    /// Converts into a diagnostic, naming the key path in the message.
    pub fn into_diagnostic(self, prefix: &[&str]) -> Diagnostic {
        let path: Vec<&str> = prefix
            .iter()
            .copied()
            .chain(self.path.iter().map(String::as_str))
            .collect();
        let message = if path.is_empty() {
            self.message
        } else {
            format!("{}: {}", path.join("."), self.message)
        };
        Diagnostic::new(self.code, message)
            .at_opt(self.span)
            .hint_opt(self.hint)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        let message = msg.to_string();
        if message.contains(crate::language::duration::NOT_A_DURATION) {
            return Self::new(Code::BadDuration, message).hint(crate::language::duration::HINT);
        }
        Self::new(Code::InvalidValue, message)
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = plain_expected(exp);
        let found = match unexp {
            de::Unexpected::Str(s) => format!("the string \"{s}\""),
            de::Unexpected::Map => "a mapping".to_string(),
            de::Unexpected::Seq => "a list".to_string(),
            de::Unexpected::Unit => "nothing (null)".to_string(),
            other => other.to_string(),
        };
        let hint = match unexp {
            de::Unexpected::Unit => "give this key a value, or remove it".to_string(),
            _ => format!("write {exp} here"),
        };
        Self::new(Code::WrongType, format!("expected {exp}, found {found}")).hint(hint)
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let exp = plain_expected(exp);
        Self::new(
            Code::InvalidValue,
            format!("{unexp} is out of range: expected {exp}"),
        )
        .hint(format!("write {exp}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Code::InvalidValue, format!("unknown value `{variant}`")).hint(suggest::hint(
            variant,
            "values",
            expected.iter().copied(),
        ))
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(Code::UnknownKey, format!("unknown key `{field}`")).hint(suggest::hint(
            field,
            "keys",
            expected.iter().copied(),
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new(
            Code::MissingField,
            format!("missing required key `{field}`"),
        )
        .hint(format!("add `{field}:` to this mapping"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::new(Code::DuplicateKey, format!("key `{field}` is given twice"))
    }
}

/// What serde expects, in an operator's words rather than Rust's (`u16`).
fn plain_expected(exp: &dyn de::Expected) -> String {
    let exp = exp.to_string();
    match exp.as_str() {
        "u8" => "a whole number from 0 to 255".into(),
        "u16" => "a whole number from 0 to 65535".into(),
        "u32" | "u64" | "usize" => "a whole number, 0 or more".into(),
        "i8" | "i16" | "i32" | "i64" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a sequence" => "a list".into(),
        _ if exp.starts_with("struct ") => "a mapping of keys".into(),
        _ if exp.starts_with("a map") => "a mapping".into(),
        _ => exp,
    }
}

/// Deserializes `T` from `node`; unknown and duplicate keys go to `ctx`.
pub fn from_node<T: DeserializeOwned>(node: &Node, ctx: &Ctx) -> Result<T, Error> {
    T::deserialize(NodeDe {
        node,
        ctx,
        path: None,
    })
}

/// A [`serde::Deserializer`] over one [`Node`].
#[derive(Clone, Copy)]
pub struct NodeDe<'a> {
    node: &'a Node,
    ctx: &'a Ctx,
    path: Option<&'a Link<'a>>,
}

impl NodeDe<'_> {
    fn visit<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        fields: Option<&'static [&'static str]>,
    ) -> Result<V::Value, Error> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                ctx: self.ctx,
                index: 0,
                path: self.path,
            }),
            Value::Map(entries) => {
                visitor.visit_map(MapAccess::new(entries, self.ctx, fields, self.path))
            }
        };
        result.map_err(|e| e.or_at(self.node.span))
    }
}

macro_rules! forward_to_visit {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.visit(visitor, None)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    forward_to_visit! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.or_at(self.node.span))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.visit(visitor, None)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit(visitor, None)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.or_at(self.node.span))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit(visitor, None)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit(visitor, None)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED {
            return visitor.visit_map(SpannedAccess { de: self, state: 0 });
        }
        self.visit(visitor, Some(fields))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                key: &entries[0].0,
                value: &entries[0].1,
                de: self,
            }),
            other => Err(Error::new(
                Code::WrongType,
                format!("expected a name, found {}", other.describe()),
            )),
        }
        .map_err(|e| e.or_at(self.node.span))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'a> {
    items: std::slice::Iter<'a, Node>,
    ctx: &'a Ctx,
    index: usize,
    path: Option<&'a Link<'a>>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        let link = Link {
            key: Key::Index(index),
            parent: self.path,
        };
        seed.deserialize(NodeDe {
            node,
            ctx: self.ctx,
            path: Some(&link),
        })
        .map(Some)
        .map_err(|e| e.or_at(node.span).in_key(&index.to_string()))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'a> {
    entries: &'a [(Node, Node)],
    next: usize,
    ctx: &'a Ctx,
    fields: Option<&'static [&'static str]>,
    value: Option<(&'a Node, &'a str)>,
    path: Option<&'a Link<'a>>,
}

impl<'a> MapAccess<'a> {
    fn new(
        entries: &'a [(Node, Node)],
        ctx: &'a Ctx,
        fields: Option<&'static [&'static str]>,
        path: Option<&'a Link<'a>>,
    ) -> Self {
        Self {
            entries,
            next: 0,
            ctx,
            fields,
            value: None,
            path,
        }
    }
}

/// The text of a scalar key, or `None` for a collection used as a key.
fn key_text(key: &Node) -> Option<std::borrow::Cow<'_, str>> {
    match &key.value {
        Value::Str(s) => Some(s.as_str().into()),
        Value::Int(i) => Some(i.to_string().into()),
        Value::Bool(b) => Some(b.to_string().into()),
        Value::Float(f) => Some(f.to_string().into()),
        Value::Null => Some("null".into()),
        Value::Seq(_) | Value::Map(_) => None,
    }
}

/// Reports the second and later occurrences of a key in `entries[..=index]`, and says whether
/// `entries[index]` repeats an earlier key.
pub fn is_duplicate(entries: &[(Node, Node)], index: usize, ctx: &Ctx) -> bool {
    duplicate_at(entries, index, ctx, None)
}

fn duplicate_at(
    entries: &[(Node, Node)],
    index: usize,
    ctx: &Ctx,
    path: Option<&Link<'_>>,
) -> bool {
    let (key, _) = &entries[index];
    let Some(text) = key_text(key) else {
        return false;
    };
    let first = entries[..index]
        .iter()
        .find(|(k, _)| key_text(k).as_deref() == Some(&*text));
    if let Some((first, _)) = first {
        ctx.push(
            Diagnostic::new(
                Code::DuplicateKey,
                ctx.at_path(
                    path,
                    &format!("key `{text}` is given twice in this mapping"),
                ),
            )
            .at(key.span)
            .label("given again here")
            .related(first.span, "first given here")
            .hint("YAML keeps only one of them; remove one, or merge them"),
        );
        return true;
    }
    false
}

impl<'de> de::MapAccess<'de> for MapAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        while self.next < self.entries.len() {
            let index = self.next;
            self.next += 1;
            let (key, value) = &self.entries[index];
            let Some(text) = key_text(key) else {
                return Err(Error::new(
                    Code::WrongType,
                    "a key must be a name, not a list or a mapping",
                )
                .or_at(key.span));
            };
            // Duplicate detection is quadratic in a mapping's size; mappings deserialized here
            // are small (the steps mapping, the large one, is walked by the compiler).
            if duplicate_at(self.entries, index, self.ctx, self.path) {
                continue;
            }
            if let Some(fields) = self.fields
                && !fields.contains(&&*text)
            {
                self.ctx.push(
                    Diagnostic::new(
                        Code::UnknownKey,
                        self.ctx
                            .at_path(self.path, &format!("unknown key `{text}`")),
                    )
                    .at(key.span)
                    .label("not a key here")
                    .hint(suggest::hint(
                        &text,
                        "keys here",
                        fields.iter().copied(),
                    )),
                );
                continue;
            }
            let Value::Str(name) = &key.value else {
                self.value = Some((value, ""));
                return seed
                    .deserialize(text.into_owned().into_deserializer())
                    .map(Some);
            };
            self.value = Some((value, name));
            let key_de: StrDeserializer<'_, Error> = name.as_str().into_deserializer();
            return seed
                .deserialize(key_de)
                .map(Some)
                .map_err(|e| e.or_at(key.span));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (node, key) = self
            .value
            .take()
            .expect("next_value_seed is called after next_key_seed");
        let link = Link {
            key: Key::Name(key),
            parent: self.path,
        };
        seed.deserialize(NodeDe {
            node,
            ctx: self.ctx,
            path: Some(&link),
        })
        .map_err(|e| e.or_at(node.span).in_key(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

struct EnumAccess<'a> {
    key: &'a Node,
    value: &'a Node,
    de: NodeDe<'a>,
}

impl<'de, 'a> de::EnumAccess<'de> for EnumAccess<'a> {
    type Error = Error;
    type Variant = NodeDe<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'a>), Error> {
        let name = seed.deserialize(NodeDe {
            node: self.key,
            ..self.de
        })?;
        Ok((
            name,
            NodeDe {
                node: self.value,
                ..self.de
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => Err(Error::new(Code::WrongType, "this name takes no value").or_at(self.node.span)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        self.visit(visitor, None)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.visit(visitor, Some(fields))
    }
}

const SPANNED: &str = "$firedrill::Spanned";
const SPAN_KEY: &str = "$span";
const VALUE_KEY: &str = "$value";

struct SpannedAccess<'a> {
    de: NodeDe<'a>,
    state: u8,
}

impl<'de> de::MapAccess<'de> for SpannedAccess<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let key = match self.state {
            0 => SPAN_KEY,
            1 => VALUE_KEY,
            _ => return Ok(None),
        };
        seed.deserialize(StrDeserializer::<Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        self.state += 1;
        if self.state == 1 {
            let s = self.de.node.span;
            let parts = [
                u64::from(s.line),
                u64::from(s.col),
                s.offset as u64,
                s.len as u64,
            ];
            seed.deserialize(SeqDeserializer::<_, Error>::new(parts.into_iter()))
        } else {
            seed.deserialize(self.de)
        }
    }
}

/// The two keys of the [`Spanned`] protocol, deserialized without allocating.
#[derive(PartialEq, Eq)]
enum SpannedKey {
    Span,
    Value,
}

impl<'de> Deserialize<'de> for SpannedKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SpannedKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key of a spanned value")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SpannedKey, E> {
                match v {
                    SPAN_KEY => Ok(SpannedKey::Span),
                    VALUE_KEY => Ok(SpannedKey::Value),
                    other => Err(E::custom(format!(
                        "`{other}` is not a key of a spanned value"
                    ))),
                }
            }
        }
        d.deserialize_identifier(V)
    }
}

/// A value and the place where it was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// A value with a place.
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value with its place in the file")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let mut span = None;
                let mut value = None;
                while let Some(key) = map.next_key::<SpannedKey>()? {
                    if key == SpannedKey::Span {
                        let [line, col, offset, len]: [u64; 4] = map.next_value()?;
                        span = Some(Span {
                            line: u32::try_from(line).unwrap_or(u32::MAX),
                            col: u32::try_from(col).unwrap_or(u32::MAX),
                            offset: usize::try_from(offset).unwrap_or(usize::MAX),
                            len: usize::try_from(len).unwrap_or(0),
                        });
                    } else {
                        value = Some(map.next_value()?);
                    }
                }
                let value =
                    value.ok_or_else(|| de::Error::custom("a spanned value without a value"))?;
                Ok(Spanned {
                    value,
                    span: span.unwrap_or_default(),
                })
            }
        }
        d.deserialize_struct(SPANNED, &[SPAN_KEY, VALUE_KEY], V(std::marker::PhantomData))
    }
}

impl<T: JsonSchema> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// Accepts any value and keeps nothing: a placeholder for a field that is read from the
/// [`Node`] tree directly (a step's `with`, whose type depends on its `uses`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Any;

impl<'de> Deserialize<'de> for Any {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_ignored_any(de::IgnoredAny).map(|_| Any)
    }
}

impl JsonSchema for Any {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Any".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::yaml;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        port: u16,
        name: Spanned<String>,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        list: Vec<u32>,
    }

    #[test]
    fn errors_point_at_the_innermost_value() {
        let node = yaml::parse("inner:\n  port: 70000\n  name: x\nlist: [1]\n").expect("yaml");
        let err = from_node::<Outer>(&node, &Ctx::default()).expect_err("port too large");
        assert_eq!(err.span.map(|s| (s.line, s.col)), Some((2, 9)));
        assert_eq!(err.path, ["inner", "port"]);
        let node = yaml::parse("inner:\n  port: 7\n  name: x\nlist: [1, nope]\n").expect("yaml");
        let err = from_node::<Outer>(&node, &Ctx::default()).expect_err("not a number");
        assert_eq!(err.code, Code::WrongType);
        assert_eq!(err.path, ["list", "1"]);
        assert_eq!(err.span.map(|s| (s.line, s.col)), Some((4, 11)));
    }

    #[test]
    fn unknown_and_duplicate_keys_are_collected_not_fatal() {
        let node =
            yaml::parse("inner:\n  port: 7\n  prot: 8\n  name: x\n  name: y\nlist: []\nlsit: 1\n")
                .expect("yaml");
        let ctx = Ctx::default();
        let outer = from_node::<Outer>(&node, &ctx).expect("only soft errors");
        assert_eq!(outer.inner.name.value, "x");
        assert_eq!(outer.inner.name.span.line, 4);
        let diags = ctx.take();
        let codes: Vec<_> = diags
            .iter()
            .map(|d| (d.code, d.span.map(|s| s.line)))
            .collect();
        assert_eq!(
            codes,
            [
                (Code::UnknownKey, Some(3)),
                (Code::DuplicateKey, Some(5)),
                (Code::UnknownKey, Some(7))
            ]
        );
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `port`?"));
    }

    #[test]
    fn missing_fields_point_at_the_mapping() {
        let node = yaml::parse("inner:\n  port: 7\nlist: []\n").expect("yaml");
        let err = from_node::<Outer>(&node, &Ctx::default()).expect_err("no name");
        assert_eq!(err.code, Code::MissingField);
        assert_eq!(err.path, ["inner"]);
        assert_eq!(err.span.map(|s| s.line), Some(2));
    }
}
