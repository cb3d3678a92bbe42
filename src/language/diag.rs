//! Diagnostics: what validation says about a playbook, with a stable code, a place in the file,
//! and a hint; rendered with the source line and a caret, or as JSON for editors and CI.

use std::fmt;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

/// A place in a source file: 1-based line and column (in characters), byte offset and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (0 for a position).
    pub len: usize,
}

impl Span {
    /// The byte range of this span in its source.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The playbook is invalid.
    Error,
    /// The playbook is valid, but probably not what was meant.
    Warning,
}

macro_rules! codes {
    ($( $variant:ident = $id:literal, $name:literal, $doc:literal; )*) => {
        /// Stable diagnostic codes. The identifier (`E010`) and name (`unknown-key`) never change
        /// meaning; new codes are only added.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Code {
            $( #[doc = $doc] $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The stable identifier, e.g. `E010`.
            pub fn id(self) -> &'static str {
                match self { $( Code::$variant => $id, )* }
            }

            /// The stable name, e.g. `unknown-key`.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }

            /// What the code means, one line.
            pub fn doc(self) -> &'static str {
                match self { $( Code::$variant => $doc, )* }
            }
        }
    };
}

codes! {
    Io = "E000", "io", "the playbook file could not be read";
    YamlSyntax = "E001", "yaml-syntax", "the file is not valid YAML";
    YamlLimits = "E002", "yaml-limits", "the YAML exceeds a safety limit (alias expansion bomb, size)";
    WrongRoot = "E003", "not-a-playbook", "the document is not a mapping of playbook keys";
    UnknownKey = "E010", "unknown-key", "a key that the language does not have (a typo?)";
    DuplicateKey = "E011", "duplicate-key", "the same key twice in one mapping";
    MissingField = "E012", "missing-field", "a required key is absent";
    WrongType = "E013", "wrong-type", "a value of the wrong type (a list where a string goes, ...)";
    InvalidValue = "E014", "invalid-value", "a value of the right type that is not allowed";
    BadDuration = "E015", "bad-duration", "a duration that does not parse (`90s`, `40m`, `1h30m`)";
    UnsupportedVersion = "E020", "unsupported-version", "a playbook version this firedrill does not read";
    BadAccount = "E021", "bad-account", "an AWS account id that is not 12 digits";
    BadRoleArn = "E022", "bad-role-arn", "a role ARN that is malformed or outside the allowed accounts";
    DuplicateStep = "E030", "duplicate-step", "two steps with the same id";
    UnknownKind = "E031", "unknown-kind", "a step `uses` a kind that does not exist";
    BadStepId = "E032", "bad-step-id", "a step id with characters that are not allowed";
    NoSteps = "E033", "no-steps", "a playbook without steps";
    UnknownNeed = "E040", "unknown-need", "`needs` names a step that does not exist";
    Cycle = "E041", "cycle", "steps that depend on each other in a circle";
    BadReference = "E050", "bad-reference", "a `${...}` reference that does not parse";
    UnknownVar = "E051", "unknown-var", "a reference to a var that is not defined";
    UnknownStepRef = "E052", "unknown-step-ref", "a reference to the outputs of a step that does not exist";
    UnknownOutput = "E053", "unknown-output", "a reference to an output the step does not have";
    RefNotAllowed = "E054", "reference-not-allowed", "a reference where it cannot be resolved";
    UnknownMilestone = "E060", "unknown-milestone", "a target for a milestone that no step reaches";
    TargetWithoutMilestone = "E061", "target-without-milestone", "`targets.rto` without a step that has `milestone: recovered`";
    BadRetry = "E062", "bad-retry", "a retry policy that cannot work";
    MissingFile = "E070", "missing-file", "a file the playbook names does not exist or cannot be read";
    KindRule = "E080", "kind-rule", "a step's fields break a rule of its kind";
    NothingMeasuresRpo = "W001", "nothing-measures-rpo", "`targets.rpo` is set, but no step measures the RPO";
}

impl Code {
    /// The severity of diagnostics with this code.
    pub fn severity(self) -> Severity {
        if self.id().starts_with('W') {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// One finding about a playbook.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// What kind of finding it is.
    pub code: Code,
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where, when it has a place in the file.
    pub span: Option<Span>,
    /// A short label under the caret.
    pub label: Option<String>,
    /// What to do about it.
    pub hint: Option<String>,
    /// Other places that explain this one ("first defined here").
    pub related: Vec<(Span, String)>,
}

impl Diagnostic {
    /// A diagnostic with a code and a message, and nothing else yet.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            span: None,
            label: None,
            hint: None,
            related: Vec::new(),
        }
    }

    /// Sets the place.
    #[must_use]
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Sets the place if there is one.
    #[must_use]
    pub fn at_opt(mut self, span: Option<Span>) -> Self {
        self.span = span;
        self
    }

    /// Sets the label under the caret.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the hint.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the hint if there is one.
    #[must_use]
    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// Adds a related place.
    #[must_use]
    pub fn related(mut self, span: Span, note: impl Into<String>) -> Self {
        self.related.push((span, note.into()));
        self
    }

    /// The severity, from the code.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// Whether this diagnostic makes the playbook invalid.
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// A source file as diagnostics see it: the name to show and the text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as the user gave it.
    pub name: String,
    /// The whole text.
    pub text: String,
}

/// Sorts diagnostics by place in the file (those without a place last), keeping the order of
/// diagnostics at the same place.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| d.span.map_or((usize::MAX, 0), |s| (s.offset, s.len)));
}

/// Renders diagnostics as the terminal shows them: a header with the code, `file:line:col`,
/// the source line with a caret, and the hint.
pub fn render(file: &SourceFile, diags: &[Diagnostic], color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for d in diags {
        out.push_str(&render_one(&renderer, file, d));
        out.push_str("\n\n");
    }
    out
}

fn render_one(renderer: &Renderer, file: &SourceFile, d: &Diagnostic) -> String {
    let level = match d.severity() {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.code.id());
    let mut group = match d.span {
        Some(span) => {
            let text = file.text.as_str();
            let mut snippet = Snippet::source(text).path(file.name.as_str()).fold(true);
            snippet = snippet.annotation(
                AnnotationKind::Primary
                    .span(clamp(text, span))
                    .label(d.label.as_deref().unwrap_or_default()),
            );
            for (rel, note) in &d.related {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(clamp(text, *rel))
                        .label(note.as_str()),
                );
            }
            title.element(snippet)
        }
        None => title.element(annotate_snippets::Origin::path(file.name.as_str())),
    };
    if let Some(hint) = &d.hint {
        group = group.element(Level::HELP.message(hint.as_str()));
    }
    let report: Vec<Group<'_>> = vec![group];
    renderer.render(&report)
}

/// A span that annotate-snippets can draw: inside the text, on char boundaries, one line, at
/// least one character wide where the line has one.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let mut start = span.offset.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let mut end = (start + span.len.max(1)).min(line_end);
    while !text.is_char_boundary(end) {
        end += 1;
    }
    if end <= start && start < line_end {
        end = start + text[start..].chars().next().map_or(0, char::len_utf8);
    }
    start..end.max(start)
}

/// The JSON form of a diagnostic, for `--format json`.
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    /// `E010`.
    pub code: &'static str,
    /// `unknown-key`.
    pub name: &'static str,
    /// `error` or `warning`.
    pub severity: Severity,
    /// The file.
    pub file: &'a str,
    /// 1-based line, when the diagnostic has a place.
    pub line: Option<u32>,
    /// 1-based column, when the diagnostic has a place.
    pub column: Option<u32>,
    /// The message.
    pub message: &'a str,
    /// The hint.
    pub hint: Option<&'a str>,
}

impl<'a> JsonDiagnostic<'a> {
    /// The JSON form of `d`, found in `file`.
    pub fn new(file: &'a str, d: &'a Diagnostic) -> Self {
        Self {
            code: d.code.id(),
            name: d.code.name(),
            severity: d.severity(),
            file,
            line: d.span.map(|s| s.line),
            column: d.span.map(|s| s.col),
            message: &d.message,
            hint: d.hint.as_deref(),
        }
    }
}

/// An error and its causes on one line, `outer: cause: root cause`, for messages that must say
/// what actually went wrong (a connection refused under "error sending request").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut ids: Vec<_> = Code::ALL.iter().map(|c| c.id()).collect();
        let mut names: Vec<_> = Code::ALL.iter().map(|c| c.name()).collect();
        ids.sort_unstable();
        names.sort_unstable();
        ids.dedup();
        names.dedup();
        assert_eq!(ids.len(), Code::ALL.len());
        assert_eq!(names.len(), Code::ALL.len());
    }

    #[test]
    fn clamp_stays_on_one_line_and_char_boundaries() {
        let text = "ab: é\ncd";
        assert_eq!(
            clamp(
                text,
                Span {
                    line: 1,
                    col: 5,
                    offset: 4,
                    len: 10
                }
            ),
            4..6
        );
        assert_eq!(
            clamp(
                text,
                Span {
                    line: 1,
                    col: 1,
                    offset: 0,
                    len: 0
                }
            ),
            0..1
        );
        assert_eq!(
            clamp(
                text,
                Span {
                    line: 3,
                    col: 1,
                    offset: 99,
                    len: 1
                }
            ),
            9..9
        );
    }
}
