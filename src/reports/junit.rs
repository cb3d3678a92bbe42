//! The report as JUnit XML, the format CI systems (GitLab, Jenkins, GitHub test reporters)
//! read: one `<testsuite>` per run, and in it a `<testcase>` per step (classname
//! `PLAYBOOK.steps`), per target (`PLAYBOOK.targets`: the RTO, the RPO, each milestone with a
//! target) and for the teardown (`PLAYBOOK.teardown`).
//!
//! A failed or timed-out step, a missed target and a teardown that left resources behind are
//! `<failure>`s with the reason; a step that never ran (skipped, not started) or was cancelled
//! by the run's stop, and a teardown that kept its resources, are `<skipped>` with the reason.
//! Times are in seconds. Every string is escaped, and characters XML cannot carry (terminal
//! control codes in a process's output) are replaced.

use std::fmt::Write as _;
use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::parts::{Target, state_text, targets};
use crate::engine::board::StepState;
use crate::engine::report::{Report, StepReport, TeardownState};
use crate::language::duration::human;

/// What a test case came to.
enum Outcome {
    Passed,
    Failure {
        kind: &'static str,
        message: String,
        text: String,
    },
    Skipped(String),
}

struct Case {
    classname: String,
    name: String,
    time: f64,
    outcome: Outcome,
    out: String,
}

/// Characters XML 1.0 cannot hold (control codes other than tab and newlines) become U+FFFD.
pub fn xml_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c < ' ' && !matches!(c, '\t' | '\n' | '\r') || matches!(c, '\u{FFFE}' | '\u{FFFF}') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn time(secs: f64) -> String {
    format!("{:.3}", secs.max(0.0))
}

fn step_case(r: &Report, s: &StepReport) -> Case {
    let failures = s.failures.join("\n");
    let outcome = match &s.state {
        StepState::Succeeded => Outcome::Passed,
        StepState::Failed { reason } => Outcome::Failure {
            kind: "failed",
            message: reason.clone(),
            text: failures,
        },
        StepState::TimedOut => Outcome::Failure {
            kind: "timed-out",
            message: format!(
                "timed out{}",
                s.failures
                    .last()
                    .map_or_else(String::new, |f| format!(": {f}"))
            ),
            text: failures,
        },
        StepState::Cancelled => Outcome::Skipped(format!(
            "cancelled: {}",
            r.stop_reason.as_deref().unwrap_or("the run stopped")
        )),
        StepState::Waiting | StepState::Ready | StepState::Running => {
            Outcome::Skipped("did not finish".into())
        }
        other => Outcome::Skipped(state_text(other)),
    };
    let mut out = String::new();
    for (k, v) in &s.outputs {
        let _ = writeln!(out, "{k}={v}");
    }
    Case {
        classname: format!("{}.steps", r.playbook.name),
        name: s.id.clone(),
        time: s.duration_secs.unwrap_or(0.0),
        outcome,
        out,
    }
}

fn target_case(r: &Report, t: &Target) -> Case {
    let outcome = match t.failure() {
        Some(message) => Outcome::Failure {
            kind: "target-missed",
            text: message.clone(),
            message,
        },
        None if t.met == Some(true) => Outcome::Passed,
        None => Outcome::Skipped(format!("{}: {}", t.name, t.verdict())),
    };
    let mut out = format!("{}: {}\n", t.name, t.what);
    if let Some(target) = t.target_secs {
        let _ = writeln!(out, "target: {}", human(target));
    }
    if let Some(m) = t.measured_secs {
        let _ = writeln!(out, "measured: {}", human(m));
    }
    if let Some(margin) = t.margin_secs() {
        let _ = writeln!(out, "margin: {}", super::parts::signed(margin));
    }
    Case {
        classname: format!("{}.targets", r.playbook.name),
        name: t.name.clone(),
        // A check, not work: its measurement is in the text, not in the suite's total time.
        time: 0.0,
        outcome,
        out,
    }
}

fn teardown_case(r: &Report) -> Case {
    let t = &r.teardown;
    let outcome = match t.state {
        TeardownState::Done | TeardownState::NotNeeded => Outcome::Passed,
        TeardownState::Kept => Outcome::Skipped(format!(
            "kept: {}",
            t.kept.as_deref().unwrap_or("by policy")
        )),
        other @ (TeardownState::Incomplete | TeardownState::Abandoned) => Outcome::Failure {
            kind: "teardown-incomplete",
            message: format!(
                "teardown {other}: {} resource{} left behind",
                t.left.len(),
                if t.left.len() == 1 { "" } else { "s" }
            ),
            text: t
                .left
                .iter()
                .map(|l| format!("{} {} (step `{}`): {}", l.kind, l.id, l.step, l.reason))
                .collect::<Vec<_>>()
                .join("\n"),
        },
    };
    let mut out = format!("policy: {}\nstate: {}\n", t.policy, t.state);
    for row in super::parts::teardown_rows(r) {
        let _ = writeln!(
            out,
            "{} {} (step `{}`): {}",
            row.resource.kind, row.label, row.resource.step, row.status
        );
    }
    Case {
        classname: format!("{}.teardown", r.playbook.name),
        name: "teardown".into(),
        time: t.duration_secs.unwrap_or(0.0),
        outcome,
        out,
    }
}

fn write_case(w: &mut Writer<Vec<u8>>, c: &Case) -> io::Result<()> {
    let (classname, name) = (xml_safe(&c.classname), xml_safe(&c.name));
    let element = w.create_element("testcase").with_attributes([
        ("classname", classname.as_str()),
        ("name", name.as_str()),
        ("time", time(c.time).as_str()),
    ]);
    element.write_inner_content(|w| {
        match &c.outcome {
            Outcome::Passed => {}
            Outcome::Failure {
                kind,
                message,
                text,
            } => {
                let message = xml_safe(message);
                w.create_element("failure")
                    .with_attributes([("message", message.as_str()), ("type", kind)])
                    .write_text_content(BytesText::new(&xml_safe(text)))?;
            }
            Outcome::Skipped(message) => {
                let message = xml_safe(message);
                w.create_element("skipped")
                    .with_attribute(("message", message.as_str()))
                    .write_empty()?;
            }
        }
        if !c.out.is_empty() {
            w.create_element("system-out")
                .write_text_content(BytesText::new(&xml_safe(&c.out)))?;
        }
        Ok(())
    })?;
    Ok(())
}

fn write(r: &Report) -> io::Result<Vec<u8>> {
    let mut cases: Vec<Case> = r.steps.iter().map(|s| step_case(r, s)).collect();
    cases.extend(
        targets(r)
            .iter()
            .filter(|t| t.target_secs.is_some())
            .map(|t| target_case(r, t)),
    );
    cases.push(teardown_case(r));
    let failures = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Failure { .. }))
        .count()
        .to_string();
    let skipped = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Skipped(_)))
        .count()
        .to_string();
    let tests = cases.len().to_string();
    let duration = time(r.duration_secs);
    let suite = xml_safe(&format!("firedrill.{}", r.playbook.name));
    let timestamp = xml_safe(&r.started_at);
    let id = xml_safe(&r.run_id);

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
        ("time", duration.as_str()),
    ];
    w.create_element("testsuites")
        .with_attribute(("name", "firedrill"))
        .with_attributes(counts)
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes([
                    ("name", suite.as_str()),
                    ("id", id.as_str()),
                    ("timestamp", timestamp.as_str()),
                ])
                .with_attributes(counts)
                .write_inner_content(|w| {
                    w.create_element("properties").write_inner_content(|w| {
                        for (name, value) in properties(r) {
                            let value = xml_safe(&value);
                            w.create_element("property")
                                .with_attributes([("name", name), ("value", value.as_str())])
                                .write_empty()?;
                        }
                        Ok(())
                    })?;
                    for c in &cases {
                        write_case(w, c)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

fn properties(r: &Report) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("run_id", r.run_id.clone()),
        ("playbook", r.playbook.name.clone()),
        ("playbook_file", r.playbook.file.clone()),
        ("state", r.state.name().to_owned()),
        ("exit_code", r.exit_code.to_string()),
        ("started_at", r.started_at.clone()),
        ("finished_at", r.finished_at.clone()),
    ];
    if let Some(a) = &r.account {
        p.push(("account", a.clone()));
    }
    if let Some(a) = &r.region {
        p.push(("region", a.clone()));
    }
    if let Some(s) = &r.stop_reason {
        p.push(("stop_reason", s.clone()));
    }
    if !r.critical_path.is_empty() {
        p.push(("critical_path", r.critical_path.join(" -> ")));
    }
    p
}

/// The report as a JUnit XML document.
pub fn render(r: &Report) -> String {
    // Writing to memory cannot fail, and every string written is valid UTF-8.
    let bytes = write(r).expect("writing XML to memory cannot fail");
    String::from_utf8(bytes).expect("the XML is built from strings")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced_and_the_rest_kept() {
        assert_eq!(
            xml_safe("\u{1b}[31mred\u{1b}[0m\ttab\nline"),
            "\u{FFFD}[31mred\u{FFFD}[0m\ttab\nline"
        );
    }
}
