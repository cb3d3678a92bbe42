//! The report as one self-contained HTML page: inline CSS, an inline SVG timeline
//! ([`super::gantt`]), no script and no external asset, so it can be mailed, attached to a
//! ticket or opened from a CI artifact as it is. It shows the run at a glance (state, RTO and
//! RPO against their targets), the timeline, the targets with their margins, the steps and the
//! teardown record. Every string from the playbook or the run is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::gantt;
use super::parts::{escape, offset, signed, state_text, targets, teardown_rows};
use crate::engine::board::StepState;
use crate::engine::report::{Report, RunState, TeardownState, state_name};
use crate::language::duration::human;

const STYLE: &str = r"
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --ok: #15803d; --bad: #dc2626; --warn: #b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: #f1f5f9; color: var(--ink); font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 20px 24px 40px; }
header h1 { font-size: 22px; margin: 0 0 4px; display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.badge { font-size: 13px; font-weight: 700; letter-spacing: .04em; padding: 3px 10px; border-radius: 999px; color: #fff; }
.badge.passed { background: var(--ok); } .badge.failed, .badge.interrupted { background: var(--bad); } .badge.target-missed { background: var(--warn); }
.meta { color: var(--muted); margin: 0; }
.meta code, td code { font-size: 12.5px; }
.stop { margin: 10px 0 0; padding: 8px 12px; background: #fef2f2; border-left: 4px solid var(--bad); border-radius: 4px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card h3 { margin: 0; font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.card .big { font-size: 22px; font-weight: 700; margin: 2px 0; }
.card .small { color: var(--muted); font-size: 12.5px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; margin: 0 0 16px; }
h2 { font-size: 16px; margin: 0 0 10px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.met { color: var(--ok); font-weight: 600; } .missed { color: var(--bad); font-weight: 700; }
.state { font-weight: 600; } .state.succeeded { color: var(--ok); } .state.failed, .state.timed-out { color: var(--bad); } .state.skipped, .state.not-started, .state.cancelled { color: var(--muted); }
.critical { font-weight: 700; } td.step, td.nw { white-space: nowrap; }
.reason { color: #334155; font-size: 13px; }
.star { color: #0f172a; }
.reasons { margin: 2px 0 0; padding-left: 18px; color: #475569; font-size: 12.5px; }
.note { color: var(--muted); font-size: 12.5px; margin: 8px 0 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; }
@media print { body { background: #fff; } section, .card { break-inside: avoid; } }
";

fn opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map_or_else(|| "—".into(), f)
}

fn card(o: &mut String, title: &str, big: &str, class: &str, small: &str) {
    let _ = writeln!(
        o,
        r#"<div class="card"><h3>{}</h3><div class="big {class}">{}</div><div class="small">{}</div></div>"#,
        escape(title),
        escape(big),
        escape(small)
    );
}

fn verdict_class(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "missed",
        None => "",
    }
}

fn cards(o: &mut String, r: &Report) {
    let _ = writeln!(o, r#"<div class="cards">"#);
    let rto_note = match (r.rto.target_secs, r.rto.measured_secs) {
        (Some(t), Some(m)) => format!("target {}, margin {}", human(t), signed(t - m)),
        (Some(t), None) => format!("target {}: not reached", human(t)),
        (None, _) => "no target".into(),
    };
    card(
        o,
        "RTO",
        &opt(r.rto.measured_secs, human),
        verdict_class(r.rto.met),
        &rto_note,
    );
    let data_loss_note = match (r.rpo.target_secs, r.rpo.measured_secs) {
        (Some(t), Some(m)) => format!("target {}, margin {}", human(t), signed(t - m)),
        (Some(t), None) => format!("target {}: not measured", human(t)),
        (None, Some(_)) => "no target".into(),
        (None, None) => "no target, not measured".into(),
    };
    card(
        o,
        "RPO",
        &opt(r.rpo.measured_secs, human),
        verdict_class(r.rpo.met),
        &data_loss_note,
    );
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &r.steps {
        *counts.entry(state_name(&s.state)).or_default() += 1;
    }
    let ok = counts.get("succeeded").copied().unwrap_or(0);
    let rest: Vec<String> = counts
        .iter()
        .filter(|(k, _)| **k != "succeeded")
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    card(
        o,
        "Steps",
        &format!("{ok} / {}", r.steps.len()),
        if ok == r.steps.len() { "met" } else { "missed" },
        &if rest.is_empty() {
            "all succeeded".to_owned()
        } else {
            rest.join(", ")
        },
    );
    let t = &r.teardown;
    let class = match t.state {
        TeardownState::Done | TeardownState::NotNeeded => "met",
        TeardownState::Kept => "",
        TeardownState::Incomplete | TeardownState::Abandoned => "missed",
    };
    let small = format!(
        "{} resource{}, policy {}{}",
        r.resources.len(),
        if r.resources.len() == 1 { "" } else { "s" },
        t.policy,
        t.duration_secs
            .map_or_else(String::new, |d| format!(", {}", human(d)))
    );
    card(o, "Teardown", t.state.name(), class, &small);
    let _ = writeln!(o, "</div>");
}

fn targets_section(o: &mut String, r: &Report) {
    let _ = writeln!(o, "<section><h2>Targets</h2>");
    let ts = targets(r);
    if ts.is_empty() {
        let _ = writeln!(
            o,
            r#"<p class="note">The playbook sets no targets, and nothing was measured.</p></section>"#
        );
        return;
    }
    let _ = writeln!(
        o,
        r#"<table><thead><tr><th>target</th><th>measures</th><th class="num">target</th><th class="num">measured</th><th class="num">margin</th><th>result</th></tr></thead><tbody>"#
    );
    for t in &ts {
        let margin = t.margin_secs();
        let _ = writeln!(
            o,
            r#"<tr><td><b>{}</b></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num {}">{}</td><td class="{}">{}</td></tr>"#,
            escape(&t.name),
            escape(&t.what),
            opt(t.target_secs, human),
            opt(t.measured_secs, human),
            margin.map_or("", |m| if m < 0.0 { "missed" } else { "met" }),
            opt(margin, signed),
            verdict_class(t.met),
            escape(t.verdict())
        );
    }
    let _ = writeln!(
        o,
        r#"</tbody></table><p class="note">Margin is target minus measured: + is time to spare, − is by how much it was missed.</p></section>"#
    );
}

fn steps_section(o: &mut String, r: &Report) {
    let _ = writeln!(o, "<section><h2>Steps</h2>");
    if !r.critical_path.is_empty() {
        let path: Vec<String> = r
            .critical_path
            .iter()
            .map(|s| format!("<code>{}</code>", escape(s)))
            .collect();
        let _ = writeln!(
            o,
            r#"<p class="note">Critical path (★): {}</p>"#,
            path.join(" → ")
        );
    }
    let _ = writeln!(
        o,
        r#"<table><thead><tr><th>step</th><th>kind</th><th>state</th><th class="num">start</th><th class="num">duration</th><th class="num">attempts</th><th>milestone</th></tr></thead><tbody>"#
    );
    let on_path = super::parts::critical(r);
    for s in &r.steps {
        let critical = on_path.contains(s.id.as_str());
        let text = state_text(&s.state);
        let (reason, earlier): (Option<&str>, &[String]) = match &s.state {
            StepState::Failed { reason } => (
                Some(reason.as_str()),
                s.failures
                    .split_last()
                    .filter(|(last, _)| *last == reason)
                    .map_or(s.failures.as_slice(), |(_, rest)| rest),
            ),
            StepState::Skipped { .. } | StepState::NotStarted { .. } => {
                (text.split_once(": ").map(|(_, r)| r), &[])
            }
            _ => (None, s.failures.as_slice()),
        };
        let mut detail = String::new();
        if let Some(reason) = reason {
            let _ = write!(detail, r#"<div class="reason">{}</div>"#, escape(reason));
        }
        if !earlier.is_empty() {
            let items: Vec<String> = earlier
                .iter()
                .map(|f| format!("<li>{}</li>", escape(f)))
                .collect();
            let _ = write!(
                detail,
                r#"<ul class="reasons" title="failed attempts">{}</ul>"#,
                items.concat()
            );
        }
        let _ = writeln!(
            o,
            r#"<tr><td class="step{}"><code>{}</code>{}</td><td><code>{}</code></td><td><span class="state {}">{}</span>{detail}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            if critical { " critical" } else { "" },
            escape(&s.id),
            if critical {
                r#" <span class="star" title="on the critical path">★</span>"#
            } else {
                ""
            },
            escape(&s.uses),
            state_name(&s.state),
            state_name(&s.state),
            opt(s.start_secs, offset),
            opt(s.duration_secs, human),
            s.attempts,
            s.milestone.as_deref().map_or_else(String::new, escape)
        );
    }
    let _ = writeln!(o, "</tbody></table></section>");
}

fn teardown_section(o: &mut String, r: &Report) {
    let t = &r.teardown;
    let _ = writeln!(o, "<section><h2>Teardown</h2>");
    let took = match (t.started_secs, t.duration_secs) {
        (Some(start), Some(d)) => format!(", from {} for {}", offset(start), human(d)),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        r"<p>Policy <code>{}</code>: <b>{}</b>{}.</p>",
        escape(&t.policy),
        escape(t.state.name()),
        escape(&took)
    );
    if let Some(kept) = &t.kept {
        let _ = writeln!(
            o,
            r"<p>Kept: {}. <code>firedrill teardown {}</code> deletes them.</p>",
            escape(kept),
            escape(&r.run_id)
        );
    }
    let rows = teardown_rows(r);
    if rows.is_empty() {
        let _ = writeln!(o, r#"<p class="note">The run created nothing.</p>"#);
    } else {
        let _ = writeln!(
            o,
            r#"<table><thead><tr><th>resource</th><th>kind</th><th>step</th><th>region</th><th class="num">created</th><th class="num">deleted</th><th>status</th><th>notes</th></tr></thead><tbody>"#
        );
        for row in &rows {
            let res = row.resource;
            let when = |secs: Option<f64>, at: Option<&str>| match (secs, at) {
                (Some(since), Some(at)) => {
                    format!(r#"<span title="{}">{}</span>"#, escape(at), offset(since))
                }
                (Some(since), None) => offset(since),
                _ => "—".into(),
            };
            let deleted_at = res
                .updated_at
                .as_deref()
                .filter(|_| row.deleted_secs.is_some());
            let _ = writeln!(
                o,
                r#"<tr><td><code>{}</code></td><td class="nw">{}</td><td><code>{}</code></td><td class="nw">{}</td><td class="num">{}</td><td class="num">{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
                escape(&row.label),
                escape(&res.kind),
                escape(&res.step),
                escape(&res.region),
                when(row.created_secs, res.intended_at.as_deref()),
                when(row.deleted_secs, deleted_at),
                if res.status == crate::store::journal::ResourceStatus::Deleted {
                    "met"
                } else {
                    "missed"
                },
                row.status,
                escape(&res.detail)
            );
        }
        let _ = writeln!(
            o,
            r#"</tbody></table><p class="note">Times are since the drill started (hover for the time of day). Created: when the create call was made, journaled just before it.</p>"#
        );
    }
    if !t.left.is_empty() {
        let _ = writeln!(o, r#"<p class="missed">Left behind:</p><ul>"#);
        for l in &t.left {
            let _ = writeln!(
                o,
                "<li>{} <code>{}</code> (step <code>{}</code>): {}</li>",
                escape(&l.kind),
                escape(&l.id),
                escape(&l.step),
                escape(&l.reason)
            );
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(o, "</section>");
}

/// The last walkthrough's estimates beside what was measured, and its open concerns.
fn rehearsal_section(o: &mut String, r: &Report) {
    let Some(rh) = &r.rehearsal else { return };
    let _ = writeln!(
        o,
        "<section><h2>Against the walkthrough</h2>\n<p>The last walkthrough of this playbook: <code>{}</code>.</p>",
        escape(&rh.walkthrough)
    );
    let compared = rh.compare(&r.steps);
    if !compared.is_empty() {
        let _ = writeln!(
            o,
            "<table><tr><th>Step</th><th>Team estimate against measured</th></tr>"
        );
        for (id, v) in compared {
            let _ = writeln!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                escape(id),
                escape(&v)
            );
        }
        let _ = writeln!(o, "</table>");
    }
    if !rh.concerns.is_empty() {
        let _ = writeln!(o, "<p>Open concerns:</p><ul>");
        for c in &rh.concerns {
            let _ = writeln!(
                o,
                "<li><code>{}</code>: {}</li>",
                escape(&c.step),
                escape(&c.line())
            );
        }
        let _ = writeln!(o, "</ul>");
    }
    let _ = writeln!(o, "</section>");
}

/// The report as one self-contained HTML page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let state = r.state.name();
    let _ = writeln!(
        o,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="firedrill report, format version {}">
<title>Drill {}: {} ({})</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header>
<h1>Drill <code>{}</code> <span class="badge {state}">{}</span></h1>"#,
        r.format_version,
        escape(&r.playbook.name),
        state.to_uppercase(),
        escape(&r.run_id),
        escape(&r.playbook.name),
        state.to_uppercase(),
    );
    let mut meta = vec![
        format!("run <code>{}</code>", escape(&r.run_id)),
        format!("<code>{}</code>", escape(&r.playbook.file)),
    ];
    if let Some(owner) = &r.playbook.owner {
        meta.push(format!("owner {}", escape(owner)));
    }
    if let Some(a) = &r.account {
        meta.push(format!("account {}", escape(a)));
    }
    if let Some(a) = &r.region {
        meta.push(escape(a));
    }
    meta.push(format!("started {}", escape(&r.started_at)));
    meta.push(format!("took {}", human(r.duration_secs)));
    meta.push(format!("exit code {}", r.exit_code));
    let _ = writeln!(o, r#"<p class="meta">{}</p>"#, meta.join(" · "));
    if let Some(reason) = &r.stop_reason {
        let _ = writeln!(o, r#"<p class="stop">Stopped: {}</p>"#, escape(reason));
    } else if r.state == RunState::TargetMissed {
        let _ = writeln!(
            o,
            r#"<p class="stop">Every step succeeded, but a target was missed.</p>"#
        );
    }
    let _ = writeln!(o, "</header>");
    cards(&mut o, r);
    let _ = writeln!(o, "<section><h2>Timeline</h2>");
    o.push_str(&gantt::render(r));
    let _ = writeln!(o, "</section>");
    targets_section(&mut o, r);
    steps_section(&mut o, r);
    rehearsal_section(&mut o, r);
    teardown_section(&mut o, r);
    let _ = writeln!(
        o,
        "<footer>firedrill run report, format version {} · finished {}</footer>\n</main>\n</body>\n</html>",
        r.format_version,
        escape(&r.finished_at)
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_markup_inert() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('&')">"#),
            "&lt;img src=x onerror=&quot;a(&#39;&amp;&#39;)&quot;&gt;"
        );
        assert_eq!(escape("a\u{1b}b"), "a\u{FFFD}b");
    }
}
