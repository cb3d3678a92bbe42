//! The report as Markdown, for a wiki page or a ticket: a summary, the targets with their
//! margins, the steps (the critical path marked), and the teardown record. GitHub-flavoured
//! tables; every string from the playbook or the run is escaped so that it cannot break a
//! table or inject markup.

use std::fmt::Write as _;

use super::parts::{offset, signed, state_text, targets, teardown_rows};
use crate::engine::board::StepState;
use crate::engine::report::Report;
use crate::language::duration::human;

/// Text in a table cell: no line breaks, pipes and Markdown punctuation escaped, HTML inert.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("<br>"),
            '\r' => {}
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A name in code style, inside a table or not: `` `db` ``. Backticks and pipes cannot be
/// escaped inside a code span, so a name with them is written as escaped text.
pub fn code(s: &str) -> String {
    if s.is_empty() || s.contains(['`', '|', '\n', '\r', '<', '>', '&']) {
        cell(s)
    } else {
        format!("`{s}`")
    }
}

fn opt(v: Option<f64>, f: fn(f64) -> String) -> String {
    v.map_or_else(|| "—".into(), f)
}

/// The report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let w = &mut out;
    header(w, r);
    targets_section(w, r);
    steps_section(w, r);
    rehearsal_section(w, r);
    teardown_section(w, r);
    out
}

/// The last walkthrough's estimates beside what was measured, and its open concerns.
fn rehearsal_section(w: &mut String, r: &Report) {
    let Some(rh) = &r.rehearsal else { return };
    let _ = writeln!(w, "\n## Against the walkthrough\n");
    let _ = writeln!(
        w,
        "The last walkthrough of this playbook was {} ({}).\n",
        code(&rh.walkthrough),
        rh.at.get(..10).unwrap_or(&rh.at)
    );
    let compared = rh.compare(&r.steps);
    if !compared.is_empty() {
        let _ = writeln!(w, "| Step | Team estimate against measured |\n|---|---|");
        for (id, v) in compared {
            let _ = writeln!(w, "| {} | {} |", code(id), cell(&v));
        }
    }
    if !rh.concerns.is_empty() {
        let _ = writeln!(w, "\nOpen concerns:\n");
        for c in &rh.concerns {
            let _ = writeln!(w, "- {}: {}", code(&c.step), cell(&c.line()));
        }
    }
}

/// The title and the table of what ran where.
fn header(w: &mut String, r: &Report) {
    let _ = writeln!(
        w,
        "# Drill {}: {}\n",
        code(&r.playbook.name),
        r.state.name().to_uppercase()
    );
    let _ = writeln!(w, "| | |\n| --- | --- |");
    let _ = writeln!(w, "| run | {} |", code(&r.run_id));
    let _ = writeln!(w, "| playbook | {} |", code(&r.playbook.file));
    if let Some(owner) = &r.playbook.owner {
        let _ = writeln!(w, "| owner | {} |", cell(owner));
    }
    if let Some(a) = &r.account {
        let _ = writeln!(w, "| account | {} |", code(a));
    }
    if let Some(a) = &r.region {
        let _ = writeln!(w, "| region | {} |", code(a));
    }
    let _ = writeln!(w, "| started | {} |", cell(&r.started_at));
    let _ = writeln!(w, "| finished | {} |", cell(&r.finished_at));
    let _ = writeln!(
        w,
        "| duration | {} (teardown included) |",
        human(r.duration_secs)
    );
    let _ = writeln!(w, "| exit code | {} |", r.exit_code);
    if let Some(reason) = &r.stop_reason {
        let _ = writeln!(w, "| stopped | {} |", cell(reason));
    }
}

/// The targets with their margins.
fn targets_section(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## Targets\n");
    let ts = targets(r);
    if ts.is_empty() {
        let _ = writeln!(w, "The playbook sets no targets, and nothing was measured.");
    } else {
        let _ = writeln!(
            w,
            "| target | measures | target | measured | margin | result |\n| --- | --- | ---: | ---: | ---: | --- |"
        );
        for t in &ts {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&t.name),
                cell(&t.what),
                opt(t.target_secs, human),
                opt(t.measured_secs, human),
                opt(t.margin_secs(), signed),
                if t.met == Some(false) {
                    format!("**{}**", t.verdict())
                } else {
                    t.verdict().to_owned()
                }
            );
        }
        let _ = writeln!(
            w,
            "\nMargin is target minus measured: + is time to spare, − is by how much it was missed."
        );
    }
}

/// Every step, the critical path and the milestones reached.
fn steps_section(w: &mut String, r: &Report) {
    let _ = writeln!(w, "\n## Steps\n");
    if !r.critical_path.is_empty() {
        let path: Vec<String> = r.critical_path.iter().map(|s| code(s)).collect();
        let _ = writeln!(w, "Critical path (★): {}\n", path.join(" → "));
    }
    let _ = writeln!(
        w,
        "| step | kind | state | start | duration | attempts | milestone | notes |\n| --- | --- | --- | ---: | ---: | ---: | --- | --- |"
    );
    let on_path = super::parts::critical(r);
    for s in &r.steps {
        let star = if on_path.contains(s.id.as_str()) {
            " ★"
        } else {
            ""
        };
        let notes = match &s.state {
            StepState::Succeeded if s.failures.is_empty() => String::new(),
            StepState::Succeeded => format!("after failures: {}", s.failures.join("; ")),
            StepState::Failed { .. } => s
                .failures
                .iter()
                .rev()
                .skip(1)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("; "),
            StepState::TimedOut => s.failures.join("; "),
            _ => String::new(),
        };
        let state = match &s.state {
            StepState::Succeeded => "succeeded".to_owned(),
            other => {
                let name = crate::engine::report::state_name(other);
                let text = state_text(other);
                match text.strip_prefix(name).and_then(|t| t.strip_prefix(": ")) {
                    Some(reason) => format!("**{name}**: {}", cell(reason)),
                    None => format!("**{}**", cell(&text)),
                }
            }
        };
        let _ = writeln!(
            w,
            "| {}{star} | {} | {} | {} | {} | {} | {} | {} |",
            code(&s.id),
            code(&s.uses),
            state,
            opt(s.start_secs, offset),
            opt(s.duration_secs, human),
            s.attempts,
            s.milestone.as_deref().map_or_else(String::new, code),
            cell(&notes)
        );
    }
    let reached: Vec<String> = r
        .milestones
        .iter()
        .filter_map(|m| {
            m.reached_secs
                .map(|t| format!("{} at {}", code(&m.name), offset(t)))
        })
        .collect();
    if !reached.is_empty() {
        let _ = writeln!(w, "\nMilestones reached: {}.", reached.join(", "));
    }
}

/// The teardown: its policy and state, and every resource.
fn teardown_section(w: &mut String, r: &Report) {
    let t = &r.teardown;
    let _ = writeln!(w, "\n## Teardown\n");
    let took = match (t.started_secs, t.duration_secs) {
        (Some(start), Some(d)) => format!(", from {} for {}", offset(start), human(d)),
        _ => String::new(),
    };
    let _ = writeln!(
        w,
        "Policy {}: **{}**{took}.",
        code(&t.policy),
        cell(t.state.name())
    );
    if let Some(kept) = &t.kept {
        let _ = writeln!(
            w,
            "\nKept: {}. `firedrill teardown {}` deletes them.",
            cell(kept),
            cell(&r.run_id)
        );
    }
    let rows = teardown_rows(r);
    if rows.is_empty() {
        let _ = writeln!(w, "\nThe run created nothing.");
    } else {
        let _ = writeln!(
            w,
            "\n| resource | kind | step | created | deleted | status | notes |\n| --- | --- | --- | ---: | ---: | --- | --- |"
        );
        for row in &rows {
            let x = row.resource;
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} | {} |",
                code(&row.label),
                cell(&x.kind),
                code(&x.step),
                opt(row.created_secs, offset),
                opt(row.deleted_secs, offset),
                row.status,
                cell(&x.detail)
            );
        }
        let _ = writeln!(w, "\nTimes are since the drill started.");
    }
    if !t.left.is_empty() {
        let _ = writeln!(w, "\n**Left behind:**\n");
        for l in &t.left {
            let _ = writeln!(
                w,
                "- {} {} (step {}): {}",
                cell(&l.kind),
                code(&l.id),
                code(&l.step),
                cell(&l.reason)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_a_table_or_inject_markup() {
        assert_eq!(cell("a|b\n<script>*x*"), "a\\|b<br>&lt;script&gt;\\*x\\*");
        assert_eq!(code("db"), "`db`");
        assert_eq!(code("a`b|c"), "a\\`b\\|c");
    }
}
