//! The renderings of a run's report, from a fixed report (`tests/fixtures/report-failed.json`:
//! a drill whose probe failed, a milestone missed, a resource left behind, and strings that need
//! escaping), so that the snapshots are stable: JSON, JUnit XML, Markdown, HTML. The JUnit XML
//! is parsed back for the structure CI systems read; the HTML's timeline is parsed as SVG.

use std::collections::BTreeMap;

use firedrill::engine::report::Report;
use firedrill::reports::{self, Format};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

fn fixture_text() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/report-failed.json"),
    )
    .expect("the fixture")
}

fn fixture() -> Report {
    Report::from_json(&fixture_text()).expect("the fixture parses")
}

#[test]
fn report_json_round_trips_the_stored_document() {
    let text = fixture_text();
    let again = reports::render(&fixture(), Format::Json);
    let a: serde_json::Value = serde_json::from_str(&text).expect("fixture");
    let b: serde_json::Value = serde_json::from_str(&again).expect("rendered");
    assert_eq!(a, b, "nothing is lost or added in a round trip");
    insta::assert_snapshot!("report-json", again);
}

#[test]
fn report_of_an_older_firedrill_without_the_new_fields_parses_and_renders() {
    let mut v: serde_json::Value = serde_json::from_str(&fixture_text()).expect("fixture");
    let o = v.as_object_mut().expect("object");
    o.remove("critical_path");
    let teardown = o["teardown"].as_object_mut().expect("teardown");
    teardown.remove("started_secs");
    teardown.remove("duration_secs");
    for r in o["resources"].as_array_mut().expect("resources") {
        let r = r.as_object_mut().expect("resource");
        r.remove("intended_at");
        r.remove("updated_at");
    }
    let old = Report::from_json(&v.to_string()).expect("an old report parses");
    assert!(old.critical_path.is_empty());
    assert_eq!(old.teardown.started_secs, None);
    for format in reports::FORMATS {
        assert!(!reports::render(&old, format).is_empty());
    }
    let md = reports::render(&old, Format::Markdown);
    assert!(
        md.contains("| `i-0abc` | ec2-instance | `app` | — | — | left behind |"),
        "{md}"
    );
}

#[test]
fn report_junit_snapshot() {
    insta::assert_snapshot!("report-junit", reports::render(&fixture(), Format::Junit));
}

#[test]
fn report_markdown_snapshot() {
    insta::assert_snapshot!(
        "report-markdown",
        reports::render(&fixture(), Format::Markdown)
    );
}

#[test]
fn report_html_snapshot() {
    insta::assert_snapshot!("report-html", reports::render(&fixture(), Format::Html));
}

/// A test case as a CI system reads it.
#[derive(Debug, Default)]
struct Case {
    classname: String,
    name: String,
    time: f64,
    failure: Option<(String, String, String)>,
    skipped: Option<String>,
}

fn attrs(e: &BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            (
                a.key.as_ref().to_owned(),
                a.normalized_value(XmlVersion::Implicit1_0)
                    .expect("escaped correctly")
                    .into_owned(),
            )
        })
        .collect()
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "walks the whole JUnit document as a CI system reads it, element by element"
)]
fn report_junit_parses_back_with_the_structure_ci_systems_read() {
    let xml = reports::render(&fixture(), Format::Junit);
    let mut reader = Reader::from_str(&xml);
    let mut path: Vec<String> = Vec::new();
    let (mut suites, mut suite) = (BTreeMap::new(), BTreeMap::new());
    let mut cases: Vec<Case> = Vec::new();
    let mut properties = BTreeMap::new();
    let mut failure_text = String::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = e.name().as_ref().to_owned();
            let a = attrs(&e);
            let parent = path.last().map(String::as_str);
            match (parent, name.as_str()) {
                (None, "testsuites") => suites = a,
                (Some("testsuites"), "testsuite") => suite = a,
                (Some("properties"), "property") => {
                    properties.insert(a["name"].clone(), a["value"].clone());
                }
                (Some("testsuite"), "testcase") => cases.push(Case {
                    classname: a["classname"].clone(),
                    name: a["name"].clone(),
                    time: a["time"].parse().expect("time in seconds"),
                    ..Case::default()
                }),
                (Some("testcase"), "failure") => {
                    cases.last_mut().expect("in a testcase").failure =
                        Some((a["message"].clone(), a["type"].clone(), String::new()));
                }
                (Some("testcase"), "skipped") => {
                    cases.last_mut().expect("in a testcase").skipped = Some(a["message"].clone());
                }
                (Some("testsuite"), "properties") | (Some("testcase"), "system-out") => {}
                (p, n) => panic!("unexpected <{n}> in {p:?}"),
            }
            if !empty {
                path.push(name);
            }
        }
        match event {
            Event::Text(t) if path.last().map(String::as_str) == Some("failure") => {
                failure_text.push_str(&t.xml_content(XmlVersion::Implicit1_0));
            }
            Event::GeneralRef(r) if path.last().map(String::as_str) == Some("failure") => {
                let entity: &str = &r;
                failure_text.push_str(
                    quick_xml::escape::resolve_xml_entity(entity).expect("a known entity"),
                );
            }
            Event::End(_) => {
                let closed = path.pop();
                if closed.as_deref() == Some("failure") {
                    let f = cases.last_mut().and_then(|c| c.failure.as_mut());
                    f.expect("a failure").2 = std::mem::take(&mut failure_text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "every element closed: {path:?}");

    // 7 steps, 3 targets (RTO, RPO, milestone data), the teardown.
    let names: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c.classname.as_str(), c.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("checkout.steps", "network"),
            ("checkout.steps", "db"),
            ("checkout.steps", "app"),
            ("checkout.steps", "dns"),
            ("checkout.steps", "probe"),
            ("checkout.steps", "notify"),
            ("checkout.steps", "smoke"),
            ("checkout.targets", "RTO"),
            ("checkout.targets", "RPO"),
            ("checkout.targets", "milestone data"),
            ("checkout.teardown", "teardown"),
        ]
    );
    let failed: Vec<&str> = cases
        .iter()
        .filter(|c| c.failure.is_some())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["probe", "RTO", "milestone data", "teardown"]);
    let skipped: Vec<&str> = cases
        .iter()
        .filter(|c| c.skipped.is_some())
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(skipped, ["notify", "smoke"]);
    for counts in [&suites, &suite] {
        assert_eq!(counts["tests"], cases.len().to_string());
        assert_eq!(counts["failures"], failed.len().to_string());
        assert_eq!(counts["skipped"], skipped.len().to_string());
        assert_eq!(counts["errors"], "0");
        assert_eq!(counts["time"], "1733.000");
    }
    assert_eq!(suite["name"], "firedrill.checkout");
    assert_eq!(suite["timestamp"], "2026-11-25T10:15:00.000Z");
    assert_eq!(properties["state"], "failed");
    assert_eq!(
        properties["playbook_file"],
        "playbooks/checkout & <co>.yaml"
    );

    // Reasons come back exactly, escaping undone; control codes replaced.
    let probe = &cases[4];
    let (message, kind, text) = probe.failure.as_ref().expect("probe failed");
    assert_eq!(
        message,
        "expected status 200, got 503: <h1>Service & \"Unavailable\"</h1>"
    );
    assert_eq!(kind, "failed");
    assert_eq!(
        text,
        "connection refused\n\u{FFFD}[31mexpected status 200, got 502\u{FFFD}[0m\nexpected status 200, got 503: <h1>Service & \"Unavailable\"</h1>"
    );
    assert!((probe.time - 7.8).abs() < 1e-9);
    assert_eq!(cases[6].skipped.as_deref(), Some("skipped: `probe` failed"));
    assert_eq!(
        cases[5].skipped.as_deref(),
        Some("cancelled: `probe` failed and aborts the run")
    );
    let data = cases[9].failure.as_ref().expect("data missed");
    assert_eq!(
        data.0,
        "milestone data 21m13s missed its target 20m by 1m13s"
    );
    assert_eq!(data.1, "target-missed");
    let teardown = cases[10].failure.as_ref().expect("teardown incomplete");
    assert_eq!(teardown.1, "teardown-incomplete");
    assert!(teardown.2.contains("i-0abc"), "{}", teardown.2);
}

/// The `<svg>` of an HTML report, parsed as XML: every `<g class="...">` with its children's
/// attributes.
fn svg_groups(html: &str) -> Vec<(String, Vec<BTreeMap<String, String>>)> {
    let start = html.find("<svg").expect("an inline SVG");
    let end = html.find("</svg>").expect("closed") + "</svg>".len();
    let mut reader = Reader::from_str(&html[start..end]);
    let mut groups = Vec::new();
    let mut depth_in_group = None;
    let mut depth = 0;
    loop {
        match reader.read_event().expect("the SVG is well-formed XML") {
            Event::Start(e) => {
                depth += 1;
                if e.name().as_ref() == "g" {
                    groups.push((attrs(&e)["class"].clone(), Vec::new()));
                    depth_in_group = Some(depth);
                } else if depth_in_group.is_some() {
                    groups.last_mut().expect("group").1.push(attrs(&e));
                }
            }
            Event::Empty(e) if depth_in_group.is_some() => {
                let mut a = attrs(&e);
                a.insert("element".into(), e.name().as_ref().to_owned());
                groups.last_mut().expect("group").1.push(a);
            }
            Event::End(_) => {
                if depth_in_group == Some(depth) {
                    depth_in_group = None;
                }
                depth -= 1;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    groups
}

#[test]
fn report_html_is_self_contained_escaped_and_draws_the_timeline() {
    let html = reports::render(&fixture(), Format::Html);
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("src="), "no external asset");
    assert!(!html.contains("href=\"http"), "no external link");
    assert!(!html.contains("<h1>Service"), "a reason is escaped");
    assert!(html.contains("&lt;h1&gt;Service &amp; &quot;Unavailable&quot;&lt;/h1&gt;"));
    assert!(!html.contains('\u{1b}'), "control codes replaced");

    let groups = svg_groups(&html);
    let bars: Vec<_> = groups
        .iter()
        .filter(|(c, _)| c.starts_with("bar "))
        .collect();
    // The six steps that started; `smoke` never did.
    assert_eq!(bars.len(), 6, "{groups:?}");
    let outlined: usize = bars
        .iter()
        .filter(|(_, children)| {
            children.iter().any(|a| {
                a.get("element").map(String::as_str) == Some("rect") && a.contains_key("stroke")
            })
        })
        .count();
    assert_eq!(outlined, 4, "the critical path: network, db, dns, probe");
    assert!(bars.iter().any(|(c, _)| c == "bar failed"));
    assert!(bars.iter().any(|(c, _)| c == "bar cancelled"));
    let milestones = groups.iter().filter(|(c, _)| c == "milestone").count();
    assert_eq!(milestones, 1, "only `data` was reached");
    let targets: Vec<&str> = groups
        .iter()
        .filter(|(c, _)| c.starts_with("target"))
        .map(|(c, _)| c.as_str())
        .collect();
    assert_eq!(
        targets,
        ["target", "target"],
        "the RTO and `data` targets are on the scale"
    );
    assert_eq!(groups.iter().filter(|(c, _)| c == "teardown").count(), 1);
    // One dot per resource deleted (three; the instance was left behind).
    assert_eq!(html.matches("<circle").count(), 3);
}

#[test]
fn report_html_draws_a_far_target_at_the_edge_not_on_the_scale() {
    let mut r = fixture();
    r.rto.target_secs = Some(86_400.0);
    let html = reports::render(&r, Format::Html);
    let groups = svg_groups(&html);
    assert!(
        groups.iter().any(|(c, _)| c == "target off-scale"),
        "{groups:?}"
    );
    assert!(html.contains("RTO target 1d →"));
}
