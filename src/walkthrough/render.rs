//! Renderings of a walkthrough, each a pure function of one document: the printed runbook
//! (`firedrill walkthrough --print`: every step's screen as a Markdown section, with blanks
//! for the team's notes) from a [`Walk`] and its [`Record`]; and the record itself as
//! Markdown (to paste into a wiki or a retro), HTML (the plan's timeline with the team's
//! estimates beside the predicted durations) and JSON (`firedrill report WALKTHROUGH`).

use std::fmt::Write as _;

use crate::language::duration::human;
use crate::reports::markdown::code;
use crate::reports::parts::escape;
use crate::walkthrough::record::{Concern, Record};
use crate::walkthrough::screen::readiness_text;
use crate::walkthrough::view::Walk;

fn concern_line(c: &Concern) -> String {
    let owner = c
        .owner
        .as_ref()
        .map_or(String::new(), |o| format!(" (owner: {o})"));
    format!(
        "{}{owner}, raised {}",
        c.text,
        c.raised_at.get(..10).unwrap_or(&c.raised_at)
    )
}

/// The runbook `--print` writes: the walkthrough on paper.
pub fn runbook(walk: &Walk, record: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Walkthrough: {}\n", walk.name);
    if let Some(d) = &walk.description {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(out, "- Playbook: `{}`", walk.file);
    let targets = match (walk.rto_target, walk.rpo_target) {
        (Some(rto), Some(rpo)) => format!("RTO {rto}, RPO {rpo}"),
        (Some(rto), None) => format!("RTO {rto}"),
        (None, Some(rpo)) => format!("RPO {rpo}"),
        (None, None) => "none".to_owned(),
    };
    let _ = writeln!(out, "- Targets: {targets}");
    let _ = writeln!(
        out,
        "- Predicted RTO: {} ({} steps{})",
        walk.predicted_rto,
        walk.steps.len(),
        if walk.history_runs > 0 {
            format!(", durations learned from {} past runs", walk.history_runs)
        } else {
            String::new()
        }
    );
    if record.checked_at.is_some() {
        let blocking = record.not_ready();
        let _ = writeln!(
            out,
            "- Readiness: {}",
            if blocking == 0 {
                "the plan could start now".to_owned()
            } else {
                format!("{blocking} step(s) could NOT start now")
            }
        );
    }
    let _ = writeln!(
        out,
        "- Date: ________  Facilitator: ________  Team: ________"
    );
    let open = record.open_concerns().count();
    if open > 0 {
        let _ = writeln!(out, "\n## Open concerns ({open})\n");
        for c in record.open_concerns() {
            let _ = writeln!(out, "- **{}**: {}", c.step, concern_line(c));
        }
    }
    for (n, v) in walk.steps.iter().enumerate() {
        let rec = &record.steps[n];
        let _ = writeln!(out, "\n## {}. `{}` ({})\n", n + 1, v.id, v.uses);
        if let Some(d) = &v.description {
            let _ = writeln!(out, "{d}\n");
        }
        let _ = writeln!(out, "- Does: {}", v.does);
        let _ = writeln!(
            out,
            "- Waits for: {}",
            if v.needs.is_empty() {
                "nothing: it starts at once".to_owned()
            } else {
                v.needs.join(", ")
            }
        );
        if !v.needed_by.is_empty() {
            let _ = writeln!(out, "- Needed by: {}", v.needed_by.join(", "));
        }
        let _ = writeln!(out, "- Expected: {} ({})", v.expected, v.basis_note);
        let _ = writeln!(
            out,
            "- RTO clock: {}{}",
            walk.clock(v),
            if v.critical { " · critical path" } else { "" }
        );
        if let Some(m) = &v.milestone {
            let _ = writeln!(out, "- Milestone: `{m}`");
        }
        if let Some(t) = v.timeout {
            let _ = writeln!(out, "- Timeout: {t}");
        }
        if let Some(r) = &v.retry {
            let _ = writeln!(out, "- Retry: {r}");
        }
        if let Some(r) = &rec.readiness {
            let _ = writeln!(out, "- Readiness: {}", readiness_text(r));
        }
        for c in record.open_concerns_at(&v.id) {
            let _ = writeln!(out, "- Open concern: {}", concern_line(c));
        }
        out.push_str("- Team estimate: ________\n- [ ] Rehearsed\n\nNotes:\n\n");
        out.push_str("________________________________________________________________\n\n");
        out.push_str("________________________________________________________________\n");
    }
    out
}

/// A walkthrough record as Markdown.
pub fn markdown(r: &Record) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Walkthrough of `{}`: {}\n", r.playbook, r.id);
    let _ = writeln!(out, "- Playbook: `{}` (hash `{}`)", r.file, r.file_hash);
    let _ = writeln!(out, "- Facilitator: {}", r.facilitator);
    if !r.participants.is_empty() {
        let _ = writeln!(out, "- With: {}", r.participants.join(", "));
    }
    let _ = writeln!(
        out,
        "- Started {}, {}",
        r.started_at,
        r.finished_at
            .as_ref()
            .map_or_else(|| "not finished".to_owned(), |f| format!("ended {f}"))
    );
    let _ = writeln!(out, "- State: {}", r.state.name());
    let _ = writeln!(
        out,
        "- Rehearsed: {} of {} steps",
        r.rehearsed(),
        r.steps.len()
    );
    let team_rto = team_rto(r);
    let _ = writeln!(
        out,
        "- Predicted RTO: {}{}{}",
        human(r.predicted_rto_secs),
        if (team_rto - r.predicted_rto_secs).abs() > 0.0005 {
            format!("; with the team's estimates: {}", human(team_rto))
        } else {
            String::new()
        },
        r.rto_target_secs
            .map_or(String::new(), |t| format!(" (target {})", human(t)))
    );
    out.push_str("\n| # | Step | Kind | Predicted | Team estimate | Time spent | Rehearsed | Notes | Open concerns |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for (n, s) in r.steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            n + 1,
            code(&s.id),
            s.uses,
            human(s.predicted_secs),
            s.estimate.as_ref().map_or("", |e| e.as_written.as_str()),
            human(s.time_spent_secs),
            if s.rehearsed_at.is_some() { "yes" } else { "" },
            s.notes.len(),
            r.open_concerns_at(&s.id).count(),
        );
    }
    let noted: Vec<_> = r.steps.iter().filter(|s| !s.notes.is_empty()).collect();
    if !noted.is_empty() {
        out.push_str("\n## Notes\n");
        for s in noted {
            let _ = writeln!(out, "\n### `{}`\n", s.id);
            for note in &s.notes {
                let _ = writeln!(out, "- {}: {}", note.at, note.text);
            }
        }
    }
    if !r.concerns.is_empty() {
        out.push_str("\n## Concerns\n\n");
        for c in &r.concerns {
            let status = match &c.closed_at {
                Some(at) => format!("closed {at}"),
                None => "OPEN".to_owned(),
            };
            let _ = writeln!(out, "- [{status}] **{}**: {}", c.step, concern_line(c));
        }
    }
    out
}

/// The RTO the team's estimates predict: the plan with them in place of the predicted
/// durations, to the `recovered` step (else to the end).
fn team_rto(r: &Record) -> f64 {
    let schedule = r.team_schedule();
    let recovered: Vec<usize> = r
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.milestone.as_deref() == Some(crate::playbook::model::RECOVERED))
        .map(|(i, _)| i)
        .collect();
    let ends = if recovered.is_empty() {
        (0..schedule.len()).collect()
    } else {
        recovered
    };
    ends.iter().map(|&i| schedule[i].1).fold(0.0, f64::max)
}

/// A walkthrough record as one HTML page: the plan's timeline, each step with its predicted
/// bar and, beside it, the team's; then notes and concerns.
pub fn html(r: &Record) -> String {
    let schedule = r.team_schedule();
    let span = r
        .steps
        .iter()
        .map(|s| s.predicted_start_secs + s.predicted_secs)
        .chain(schedule.iter().map(|(_, f)| *f))
        .chain(r.rto_target_secs)
        .fold(1.0, f64::max);
    let pct = |secs: f64| secs / span * 100.0;
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Walkthrough of {name}</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}}\
         table{{border-collapse:collapse;width:100%}}td,th{{padding:.25rem .5rem;text-align:left;vertical-align:top}}\
         .track{{position:relative;height:1.6rem;background:#f3f3f3;min-width:20rem}}\
         .bar{{position:absolute;height:.7rem;border-radius:2px}}\
         .plan{{top:.1rem;background:#6b8fd6}}.team{{top:.85rem;background:#e0a030}}\
         .target{{position:absolute;top:0;bottom:0;border-left:2px dashed #c33}}\
         .open{{color:#b00;font-weight:bold}}.legend span{{display:inline-block;width:1rem;height:.7rem;margin:0 .3rem}}\
         </style></head><body>\n<h1>Walkthrough of <code>{name}</code></h1>\n",
        name = escape(&r.playbook)
    );
    let _ = writeln!(
        out,
        "<p>{id} · {state} · facilitator {fac}{with} · started {start}</p>",
        id = escape(&r.id),
        state = r.state.name(),
        fac = escape(&r.facilitator),
        with = if r.participants.is_empty() {
            String::new()
        } else {
            format!(" with {}", escape(&r.participants.join(", ")))
        },
        start = escape(&r.started_at)
    );
    let _ = writeln!(
        out,
        "<p class=\"legend\"><span style=\"background:#6b8fd6\"></span>predicted {} \
         <span style=\"background:#e0a030\"></span>team's estimates {}{}</p>",
        human(r.predicted_rto_secs),
        human(team_rto(r)),
        r.rto_target_secs.map_or(String::new(), |t| format!(
            " · <span style=\"border-left:2px dashed #c33;width:0\"></span>target {}",
            human(t)
        ))
    );
    out.push_str(
        "<table>\n<tr><th>Step</th><th>Predicted</th><th>Team</th><th>Timeline</th></tr>\n",
    );
    for (s, (team_start, team_end)) in r.steps.iter().zip(&schedule) {
        let target = r.rto_target_secs.map_or(String::new(), |t| {
            format!("<div class=\"target\" style=\"left:{:.2}%\"></div>", pct(t))
        });
        let _ = writeln!(
            out,
            "<tr><td><code>{id}</code> {uses}{crit}</td><td>{plan}</td><td>{team}</td>\
             <td><div class=\"track\">{target}\
             <div class=\"bar plan\" style=\"left:{pl:.2}%;width:{pw:.2}%\"></div>\
             <div class=\"bar team\" style=\"left:{tl:.2}%;width:{tw:.2}%\"></div></div></td></tr>",
            id = escape(&s.id),
            uses = escape(&s.uses),
            crit = if s.critical { " *" } else { "" },
            plan = human(s.predicted_secs),
            team = s
                .estimate
                .as_ref()
                .map_or("—".to_owned(), |e| escape(&e.as_written)),
            pl = pct(s.predicted_start_secs),
            pw = pct(s.predicted_secs).max(0.3),
            tl = pct(*team_start),
            tw = pct(team_end - team_start).max(0.3),
        );
    }
    out.push_str("</table>\n");
    for s in r.steps.iter().filter(|s| !s.notes.is_empty()) {
        let _ = writeln!(out, "<h3>Notes on <code>{}</code></h3><ul>", escape(&s.id));
        for n in &s.notes {
            let _ = writeln!(out, "<li>{}: {}</li>", escape(&n.at), escape(&n.text));
        }
        out.push_str("</ul>\n");
    }
    if !r.concerns.is_empty() {
        out.push_str("<h2>Concerns</h2><ul>\n");
        for c in &r.concerns {
            let status = if c.is_open() {
                "<span class=\"open\">open</span>".to_owned()
            } else {
                "closed".to_owned()
            };
            let _ = writeln!(
                out,
                "<li>{status} <code>{}</code>: {}</li>",
                escape(&c.step),
                escape(&concern_line(c))
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// The walkthroughs `firedrill history` lists beside the runs, newest first.
pub fn history_text(records: &[Record]) -> String {
    let mut out = String::from("Walkthroughs (newest first)\n");
    let id_width = records.iter().map(|r| r.id.len()).max().unwrap_or(0);
    for r in records {
        let _ = writeln!(
            out,
            "  {:id_width$}  {:<12} {}  {}  led by {}: rehearsed {}/{}, {} note(s), {} estimate(s), {} open concern(s)",
            r.id,
            r.state.name(),
            r.started_at.get(..16).unwrap_or(&r.started_at),
            r.playbook,
            r.facilitator,
            r.rehearsed(),
            r.steps.len(),
            r.notes(),
            r.estimates(),
            r.open_concerns().count(),
        );
    }
    out
}

/// The walkthroughs of `firedrill history --format json`.
pub fn history_json(records: &[Record]) -> serde_json::Value {
    serde_json::Value::Array(
        records
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "playbook": r.playbook,
                    "state": r.state.name(),
                    "started_at": r.started_at,
                    "finished_at": r.finished_at,
                    "facilitator": r.facilitator,
                    "participants": r.participants,
                    "steps": r.steps.len(),
                    "rehearsed": r.rehearsed(),
                    "notes": r.notes(),
                    "estimates": r.estimates(),
                    "open_concerns": r.open_concerns().count(),
                })
            })
            .collect(),
    )
}
