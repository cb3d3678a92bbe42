//! The YAML layer: text to a tree of [`Node`]s, each with its place in the file.
//!
//! Events come from `saphyr-parser`, the maintained, panic-free, pure-Rust YAML 1.2 parser that
//! serde-saphyr is built on (the README says why firedrill uses the parser directly). The tree
//! is built here because validation needs what a serde layer hides: every key with its place,
//! duplicates included, so that all of them are reported with both places; aliases expanded
//! under a hard bound, so that an expansion bomb is refused at the alias that crosses it; and
//! scalars typed by the YAML 1.2 core schema, except that numbers with leading zeros stay
//! strings (`012345678901` is an account id, not a number).

use std::collections::HashMap;

use compact_str::CompactString;
use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::language::diag::{Code, Diagnostic, Span};

/// A YAML value with its place in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the value is written (for an alias: where the alias is used).
    pub span: Span,
    /// The value.
    pub value: Value,
}

/// A YAML value. Mappings keep their entries in file order, duplicates included.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(CompactString),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value is called in messages: "a string", "a mapping", ...
    pub fn describe(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The string, if this node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this node is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of the first entry with key `key`, if this node is a mapping that has one.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// The value as JSON (keys as strings; a later duplicate key wins, as in most YAML
    /// loaders). For checking playbooks against the JSON Schema.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.to_string()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match &k.value {
                            Value::Str(s) => s.to_string(),
                            _ => k.to_json().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
        }
    }

    /// Calls `f` on every string scalar in this subtree with the keys leading to it (list
    /// indices are not keys: `attach.device`, `security_groups`).
    pub fn for_each_str_at<'a>(
        &'a self,
        path: &mut Vec<&'a str>,
        f: &mut impl FnMut(&[&'a str], &'a str, Span),
    ) {
        match &self.value {
            Value::Str(s) => f(path, s, self.span),
            Value::Seq(items) => items.iter().for_each(|n| n.for_each_str_at(path, f)),
            Value::Map(entries) => {
                for (k, v) in entries {
                    path.push(k.as_str().unwrap_or(""));
                    v.for_each_str_at(path, f);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// Calls `f` on every string scalar in this subtree, keys excluded.
    pub fn for_each_str<'a>(&'a self, f: &mut impl FnMut(&'a str, Span)) {
        match &self.value {
            Value::Str(s) => f(s, self.span),
            Value::Seq(items) => items.iter().for_each(|n| n.for_each_str(f)),
            Value::Map(entries) => entries.iter().for_each(|(_, v)| v.for_each_str(f)),
            _ => {}
        }
    }
}

/// The most nodes that aliases may expand to in one file; real playbooks need a few hundred.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The deepest nesting of lists and mappings a file may have.
pub const MAX_DEPTH: usize = 64;

/// Byte offsets of lines, to turn the parser's (line, character column) into byte offsets.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
    ascii: bool,
    /// The last (line, column, byte offset) found: events come in order, so the next lookup
    /// walks on from here instead of from the start of a possibly very long line.
    cursor: std::cell::Cell<(usize, usize, usize)>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self {
            text,
            starts,
            ascii: text.is_ascii(),
            cursor: std::cell::Cell::new((0, 0, 0)),
        }
    }

    /// The byte offset of 1-based `line` and 0-based character column `col`.
    fn offset(&self, line: usize, col: usize) -> usize {
        let Some(&start) = self.starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        if self.ascii {
            return (start + col).min(self.text.len());
        }
        let (c_line, c_col, c_byte) = self.cursor.get();
        let (from_col, from_byte) = if c_line == line && c_col <= col {
            (c_col, c_byte)
        } else {
            (0, start)
        };
        let byte = from_byte
            + self.text[from_byte..]
                .chars()
                .take(col - from_col)
                .map(char::len_utf8)
                .sum::<usize>();
        self.cursor.set((line, col, byte));
        byte
    }

    fn span(&self, span: saphyr_parser::Span) -> Span {
        let (s, e) = (span.start, span.end);
        let offset = self.offset(s.line(), s.col());
        let end = if e.line() == 0 {
            offset
        } else {
            self.offset(e.line(), e.col()).max(offset)
        };
        Span {
            line: u32::try_from(s.line()).unwrap_or(u32::MAX),
            col: u32::try_from(s.col() + 1).unwrap_or(u32::MAX),
            offset,
            len: end - offset,
        }
    }
}

/// A list or mapping being read. Its children wait on one shared stack until it ends, and are
/// then moved into a vector of exactly their number: a tree of ten thousand small mappings
/// built in growing vectors held several times the memory it needed.
struct Frame {
    span: Span,
    anchor: usize,
    map: bool,
    /// Where its children start on the shared stack.
    first: usize,
}

/// Parses one YAML document into a [`Node`] tree.
#[expect(
    clippy::too_many_lines,
    reason = "the tree builder is one loop over the parser's events with one arm per event kind, sharing the stack of open collections"
)]
pub fn parse(text: &str) -> Result<Node, Box<Diagnostic>> {
    let lines = Lines::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut children: Vec<Node> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut alias_nodes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0;
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            let at = Span {
                line: u32::try_from(m.line()).unwrap_or(u32::MAX),
                col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
                offset: lines.offset(m.line(), m.col()),
                len: 1,
            };
            Box::new(
                Diagnostic::new(Code::YamlSyntax, e.info().to_string())
                    .at(at)
                    .hint("check the indentation, brackets and quoting around this place"),
            )
        })?;
        let span = lines.span(span);
        let node = match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Box::new(
                        Diagnostic::new(Code::YamlSyntax, "the file holds more than one YAML document")
                            .at(span)
                            .hint("a playbook is one document: remove the `---` separator and what follows, or split the file"),
                    ));
                }
                continue;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let node = Node {
                    span,
                    value: scalar(&value, style, forced_str),
                };
                remember(&mut anchors, anchor, &node);
                node
            }
            Event::Alias(id) => {
                let Some((node, size)) = anchors.get(&id) else {
                    return Err(Box::new(
                        Diagnostic::new(Code::YamlSyntax, "an alias to an unknown anchor").at(span),
                    ));
                };
                alias_nodes += size;
                if alias_nodes > MAX_ALIAS_NODES {
                    return Err(Box::new(
                        Diagnostic::new(Code::YamlLimits, "aliases expand to more than firedrill reads")
                            .at(span)
                            .label("the expansion crosses the limit here")
                            .hint(format!(
                                "aliases may expand to at most {MAX_ALIAS_NODES} values in one file; a playbook never needs \
                                 that many, and nested aliases like these are how 'billion laughs' bombs are built"
                            )),
                    ));
                }
                Node {
                    span,
                    value: node.value.clone(),
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Box::new(
                        Diagnostic::new(
                            Code::YamlLimits,
                            format!("lists and mappings are nested more than {MAX_DEPTH} deep"),
                        )
                        .at(span)
                        .hint("a playbook never nests this deep; flatten the structure"),
                    ));
                }
                stack.push(Frame {
                    span,
                    anchor,
                    map: matches!(event, Event::MappingStart(..)),
                    first: children.len(),
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else { continue };
                let items = children.split_off(frame.first);
                let (span, value) = if frame.map {
                    let mut entries = Vec::with_capacity(items.len() / 2);
                    let mut items = items.into_iter();
                    while let (Some(k), Some(v)) = (items.next(), items.next()) {
                        entries.push((k, v));
                    }
                    let span = match entries.first() {
                        Some((k, _)) if frame.span.len == 0 => k.span,
                        _ => frame.span,
                    };
                    (span, Value::Map(entries))
                } else {
                    let span = match items.first() {
                        Some(n) if frame.span.len == 0 => Span { len: 1, ..n.span },
                        _ => frame.span,
                    };
                    (span, Value::Seq(items))
                };
                let node = Node { span, value };
                remember(&mut anchors, frame.anchor, &node);
                node
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => continue,
        };
        if stack.is_empty() {
            root = Some(node);
        } else {
            children.push(node);
        }
    }
    Ok(root.unwrap_or(Node {
        span: Span {
            line: 1,
            col: 1,
            offset: 0,
            len: 0,
        },
        value: Value::Null,
    }))
}

fn remember(anchors: &mut HashMap<usize, (Node, usize)>, anchor: usize, node: &Node) {
    if anchor > 0 {
        anchors.insert(anchor, (node.clone(), node.size()));
    }
}

impl Node {
    /// How many nodes this subtree has.
    pub fn size(&self) -> usize {
        1 + match &self.value {
            Value::Seq(items) => items.iter().map(Node::size).sum(),
            Value::Map(entries) => entries.iter().map(|(k, v)| k.size() + v.size()).sum(),
            _ => 0,
        }
    }
}

/// Types a scalar by the YAML 1.2 core schema; quoted and block scalars are strings.
fn scalar(text: &str, style: ScalarStyle, forced_str: bool) -> Value {
    if style != ScalarStyle::Plain || forced_str {
        return Value::Str(text.into());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Leading zeros keep the text: `012345678901` is an id, not a number.
        if digits.len() > 1 && digits.starts_with('0') {
            return Value::Str(text.into());
        }
        return text
            .parse()
            .map_or_else(|_| Value::Str(text.into()), Value::Int);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Value::Int(i);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Value::Int(i);
    }
    if is_float(digits) {
        return text
            .parse()
            .map_or_else(|_| Value::Str(text.into()), Value::Float);
    }
    Value::Str(text.into())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float without sign.
fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa
        .split_once('.')
        .map_or((mantissa, None), |(a, b)| (a, Some(b)));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        Some(frac) => all_digits(int) && all_digits(frac) && (!int.is_empty() || !frac.is_empty()),
        None => !int.is_empty() && all_digits(int),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok && (frac.is_some() || exponent.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_places_duplicates_and_strings() {
        let node = parse("a: 1\nb: [yes, 012]\na: x\n").expect("parses");
        let map = node.as_map().expect("a mapping");
        assert_eq!(map.len(), 3);
        assert_eq!(map[2].0.span.line, 3);
        let Value::Seq(items) = &map[1].1.value else {
            panic!("a list")
        };
        assert_eq!(items[0].value, Value::Str("yes".into()));
        assert_eq!(items[1].value, Value::Str("012".into()));
        assert_eq!(items[1].span.col, 10);
        assert_eq!(items[1].span.offset, 14);
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let d = parse("a: [1, 2\nb: c\n").expect_err("invalid");
        assert_eq!(d.code, Code::YamlSyntax);
        assert_eq!(d.span.map(|s| s.line), Some(2));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g"])
        {
            let refs = vec![format!("*{prev}"); 10].join(", ");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let d = parse(&text).expect_err("a bomb");
        assert_eq!(d.code, Code::YamlLimits);
        let deep = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(parse(&deep).expect_err("too deep").code, Code::YamlLimits);
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = parse(
            "[1, -2, 0x1f, 1.5, 2e3, .inf, true, ~, yes, 1_000, \"3\", !!str 4, 1.2.3, 0.5e, Y]",
        )
        .expect("yaml");
        let Value::Seq(items) = node.value else {
            panic!("a list")
        };
        let values: Vec<Value> = items.into_iter().map(|n| n.value).collect();
        assert_eq!(
            values,
            [
                Value::Int(1),
                Value::Int(-2),
                Value::Int(31),
                Value::Float(1.5),
                Value::Float(2000.0),
                Value::Float(f64::INFINITY),
                Value::Bool(true),
                Value::Null,
                Value::Str("yes".into()),
                Value::Str("1_000".into()),
                Value::Str("3".into()),
                Value::Str("4".into()),
                Value::Str("1.2.3".into()),
                Value::Str("0.5e".into()),
                Value::Str("Y".into()),
            ]
        );
    }

    #[test]
    fn non_ascii_places_are_byte_offsets_and_long_lines_stay_fast() {
        let text = "{a: \"é\", b: [ü, x]}";
        let node = parse(text).expect("yaml");
        let Value::Map(entries) = &node.value else {
            panic!("a mapping")
        };
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("a list: {entries:?}")
        };
        assert_eq!(&text[items[1].span.range()], "x");
        // A one-line flow document of 200,000 values with a non-ASCII character: linear time.
        let long = format!("{{k: [é, {}]}}", vec!["v"; 200_000].join(", "));
        let began = std::time::Instant::now();
        parse(&long).expect("yaml");
        assert!(
            began.elapsed() < std::time::Duration::from_secs(20),
            "{:?}",
            began.elapsed()
        );
    }

    #[test]
    fn one_document_per_file() {
        assert_eq!(
            parse("a: 1\n---\nb: 2\n").expect_err("two").code,
            Code::YamlSyntax
        );
    }
}
