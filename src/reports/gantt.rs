//! The run's timeline as an SVG Gantt chart, for the HTML report: a bar per step from its
//! start for its duration, coloured by how it ended; the critical path outlined; a marker for
//! each milestone reached; the RTO target (and other milestone targets) as vertical lines; the
//! teardown as a last bar with a tick for each resource deleted. No script and no external
//! asset: tooltips are SVG `<title>`s.
//!
//! The time axis covers the run. A target far beyond it (a 30-minute RTO target of a drill that
//! took 15 seconds) would squash every bar into the left edge, so such a target is shown as an
//! arrow at the right edge, with its value, instead of a line.

use std::fmt::Write as _;

use super::parts::{escape, offset, state_text, teardown_rows};
use crate::engine::board::StepState;
use crate::engine::report::{Report, StepReport, state_name};
use crate::language::duration::human;
use crate::playbook::model::RECOVERED;

/// The chart's width in user units (it scales to its container).
pub const WIDTH: f64 = 1100.0;
const LABEL_W: f64 = 180.0;
const RIGHT_PAD: f64 = 24.0;
const TOP: f64 = 64.0;
const ROW_H: f64 = 30.0;
const BAR_H: f64 = 16.0;
const LEGEND_H: f64 = 44.0;
/// A target further than this many times the run's length is drawn off the scale.
const OFF_SCALE: f64 = 2.0;

/// The fill of a bar of a step in `state`.
pub fn colour(state: &StepState) -> &'static str {
    match state {
        StepState::Succeeded => "#22a06b",
        StepState::Failed { .. } => "#e5484d",
        StepState::TimedOut => "#f59e0b",
        _ => "#94a3b8",
    }
}

/// The step between ticks: the smallest round step that gives at most eight ticks.
fn tick_step(end: f64) -> f64 {
    const STEPS: [f64; 22] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
        3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0, 172_800.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| end / s <= 8.0)
        .unwrap_or(end / 8.0)
}

struct Axis {
    end: f64,
    step: f64,
}

impl Axis {
    fn x(&self, secs: f64) -> f64 {
        LABEL_W + secs.clamp(0.0, self.end) / self.end * (WIDTH - LABEL_W - RIGHT_PAD)
    }
}

fn end_of(s: &StepReport) -> Option<f64> {
    Some(s.start_secs? + s.duration_secs.unwrap_or(0.0))
}

/// Truncates `s` to `n` characters with an ellipsis.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// A swatch of the legend.
enum Legend {
    Fill(&'static str),
    Critical,
    Milestone,
    Target,
    Teardown,
}

/// The timeline of `r` as an `<svg>` element.
pub fn render(r: &Report) -> String {
    let mut order: Vec<&StepReport> = r.steps.iter().collect();
    // By start, then file order (a stable sort); steps that never started last.
    order.sort_by(|a, b| {
        let key = |s: &StepReport| s.start_secs.unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    let teardown_span = r
        .teardown
        .started_secs
        .map(|s| (s, s + r.teardown.duration_secs.unwrap_or(0.0)));
    let run_end = r
        .steps
        .iter()
        .filter_map(end_of)
        .chain(r.milestones.iter().filter_map(|m| m.reached_secs))
        .chain(teardown_span.map(|(_, e)| e))
        .fold(r.duration_secs, f64::max)
        .max(0.001);
    // Targets near enough to be drawn on the scale; the others as arrows at the edge.
    let mut lines: Vec<(String, f64, bool)> = Vec::new();
    if let Some(t) = r.rto.target_secs {
        lines.push((format!("RTO target {}", human(t)), t, true));
    }
    for m in r.milestones.iter().filter(|m| m.name != RECOVERED) {
        if let Some(t) = m.target_secs {
            lines.push((format!("`{}` target {}", m.name, human(t)), t, false));
        }
    }
    let in_scale = |t: f64| t <= run_end * OFF_SCALE;
    let scale_end = lines
        .iter()
        .filter(|(_, t, _)| in_scale(*t))
        .fold(run_end, |e, (_, t, _)| e.max(*t));
    let step = tick_step(scale_end);
    let axis = Axis {
        end: (scale_end / step).ceil() * step,
        step,
    };
    let rows = order.len() + usize::from(teardown_span.is_some());
    #[allow(clippy::cast_precision_loss)]
    let plot_bottom = TOP + rows as f64 * ROW_H;
    let height = plot_bottom + LEGEND_H;

    let mut svg = String::new();
    let out = &mut svg;
    let _ = writeln!(
        out,
        r#"<svg class="gantt" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="Timeline of the drill's steps" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r##"<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#cbd5e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#94a3b8" stroke-width="3"/></pattern></defs>"##
    );
    grid(out, &axis, rows, plot_bottom);
    step_rows(out, &axis, r, &order);
    if let Some(span) = teardown_span {
        teardown_row(out, &axis, r, span, order.len());
    }
    milestones(out, &axis, r, plot_bottom);
    target_lines(out, &axis, &lines, in_scale, plot_bottom);
    legend(out, plot_bottom);
    svg.push_str("</svg>\n");
    svg
}

/// Row bands, the axis and its grid.
fn grid(out: &mut String, axis: &Axis, rows: usize, plot_bottom: f64) {
    for i in 0..rows {
        #[allow(clippy::cast_precision_loss)]
        let y = TOP + i as f64 * ROW_H;
        if i % 2 == 0 {
            let _ = writeln!(
                out,
                r##"<rect x="0" y="{y}" width="{WIDTH}" height="{ROW_H}" fill="#f8fafc"/>"##
            );
        }
    }
    let mut tick = 0.0;
    while tick <= axis.end + 1e-9 {
        let x = axis.x(tick);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{plot_bottom}" stroke="#e2e8f0"/><text x="{x:.1}" y="{ty}" text-anchor="middle" fill="#64748b">{}</text>"##,
            human(tick),
            top = TOP - 4.0,
            ty = TOP - 8.0,
        );
        tick += axis.step;
    }
    let _ = writeln!(
        out,
        r##"<line x1="{LABEL_W}" y1="{plot_bottom}" x2="{}" y2="{plot_bottom}" stroke="#cbd5e1"/>"##,
        WIDTH - RIGHT_PAD
    );
}

/// A row for each step: its id and kind, and its bar with a label.
fn step_rows(out: &mut String, axis: &Axis, r: &Report, order: &[&StepReport]) {
    let on_path = super::parts::critical(r);
    for (i, s) in order.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = TOP + i as f64 * ROW_H;
        let critical = on_path.contains(s.id.as_str());
        let _ = writeln!(
            out,
            r##"<text x="8" y="{:.1}" fill="#0f172a" font-weight="{}">{}</text><text x="8" y="{:.1}" fill="#64748b" font-size="10">{}</text>"##,
            y + 13.0,
            if critical { 700 } else { 500 },
            escape(&clip(&s.id, 24)),
            y + 25.0,
            escape(&clip(&s.uses, 30)),
        );
        let Some(start) = s.start_secs else {
            let _ = writeln!(
                out,
                r##"<text x="{:.1}" y="{:.1}" fill="#64748b" font-style="italic">{}</text>"##,
                LABEL_W + 6.0,
                y + 19.0,
                escape(&clip(&state_text(&s.state), 90))
            );
            continue;
        };
        let duration = s.duration_secs.unwrap_or(0.0);
        let (x0, x1) = (axis.x(start), axis.x(start + duration));
        // Wide enough to show its colour inside a critical path's outline.
        let w = (x1 - x0).max(6.0);
        let by = y + (ROW_H - BAR_H) / 2.0;
        let stroke = if critical {
            r##" stroke="#0f172a" stroke-width="2.5""##
        } else {
            ""
        };
        let tip = format!(
            "{} ({}): {}, from {} for {}{}{}",
            s.id,
            s.uses,
            state_text(&s.state),
            offset(start),
            human(duration),
            if s.attempts > 1 {
                format!(", {} attempts", s.attempts)
            } else {
                String::new()
            },
            if critical {
                "; on the critical path"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            r#"<g class="bar {}"><title>{}</title><rect x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{BAR_H}" rx="3" fill="{}"{stroke}/>"#,
            state_name(&s.state),
            escape(&tip),
            colour(&s.state),
        );
        let mut label = human(duration);
        if s.attempts > 1 {
            label.push_str(&format!(" · {} attempts", s.attempts));
        }
        if !matches!(s.state, StepState::Succeeded) {
            label.push_str(&format!(" · {}", state_name(&s.state)));
        }
        // After the bar, or inside its end when there is no room after it.
        #[allow(clippy::cast_precision_loss)]
        let room = label.chars().count() as f64 * 6.5 + 8.0;
        let (lx, anchor, fill) = if x0 + w + room <= WIDTH - RIGHT_PAD {
            (x0 + w + 5.0, "start", "#334155")
        } else {
            (x0 + w - 5.0, "end", "#ffffff")
        };
        let _ = writeln!(
            out,
            r#"<text x="{lx:.1}" y="{:.1}" fill="{fill}" text-anchor="{anchor}">{}</text></g>"#,
            y + 19.0,
            escape(&label)
        );
    }
}

/// The teardown's row, with a dot for each resource deleted.
fn teardown_row(out: &mut String, axis: &Axis, r: &Report, (start, end): (f64, f64), row: usize) {
    #[allow(clippy::cast_precision_loss)]
    let y = TOP + row as f64 * ROW_H;
    let (x0, x1) = (axis.x(start), axis.x(end));
    let w = (x1 - x0).max(2.0);
    let by = y + (ROW_H - BAR_H) / 2.0;
    let _ = writeln!(
        out,
        r##"<text x="8" y="{:.1}" fill="#0f172a" font-weight="500">teardown</text><text x="8" y="{:.1}" fill="#64748b" font-size="10">{}</text>"##,
        y + 13.0,
        y + 25.0,
        escape(&clip(
            &format!("{} ({})", r.teardown.state, r.teardown.policy),
            30
        )),
    );
    let _ = writeln!(
        out,
        r##"<g class="teardown"><title>teardown {}: from {} for {}</title><rect x="{x0:.1}" y="{by:.1}" width="{w:.1}" height="{BAR_H}" rx="3" fill="url(#hatch)" stroke="#64748b"/></g>"##,
        escape(r.teardown.state.name()),
        offset(start),
        human(end - start)
    );
    for row in teardown_rows(r) {
        if let Some(d) = row.deleted_secs {
            let _ = writeln!(
                out,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#334155" stroke="#ffffff"><title>{} {} (step {}) deleted at {}</title></circle>"##,
                axis.x(d),
                y + ROW_H / 2.0,
                escape(&row.resource.kind),
                escape(&row.label),
                escape(&row.resource.step),
                offset(d)
            );
        }
    }
    let label = format!("{} · {}", human(end - start), r.teardown.state);
    #[allow(clippy::cast_precision_loss)]
    let room = label.chars().count() as f64 * 6.5 + 8.0;
    let (lx, anchor) = if x0 + w + room <= WIDTH - RIGHT_PAD {
        (x0 + w + 5.0, "start")
    } else {
        (x0 - 5.0, "end")
    };
    let _ = writeln!(
        out,
        r##"<text x="{lx:.1}" y="{:.1}" fill="#334155" text-anchor="{anchor}">{}</text>"##,
        y + 19.0,
        escape(&label)
    );
}

/// Milestones reached: a diamond above the chart and a line down through it.
fn milestones(out: &mut String, axis: &Axis, r: &Report, plot_bottom: f64) {
    let mut reached: Vec<_> = r
        .milestones
        .iter()
        .filter_map(|m| Some((m, m.reached_secs?)))
        .collect();
    reached.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (i, (m, at)) in reached.iter().enumerate() {
        let x = axis.x(*at);
        let dy = if i % 2 == 0 { 0.0 } else { 12.0 };
        let tip = format!(
            "milestone `{}` reached at {}{}",
            m.name,
            offset(*at),
            m.target_secs
                .map_or_else(String::new, |t| format!(" (target {})", human(t)))
        );
        let _ = writeln!(
            out,
            r##"<g class="milestone"><title>{}</title><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{plot_bottom}" stroke="#7c3aed" stroke-dasharray="2 3"/><path d="M{x:.1} {:.1} l6 6 l-6 6 l-6 -6 z" fill="#7c3aed"/><text x="{:.1}" y="{:.1}" fill="#7c3aed" font-weight="600">{}</text></g>"##,
            escape(&tip),
            TOP - 30.0 + dy,
            TOP - 36.0 + dy,
            x + 9.0,
            TOP - 26.0 + dy,
            escape(&format!("{} {}", m.name, offset(*at)))
        );
    }
}

/// Targets: lines within the scale, arrows at the edge beyond it.
fn target_lines(
    out: &mut String,
    axis: &Axis,
    lines: &[(String, f64, bool)],
    in_scale: impl Fn(f64) -> bool,
    plot_bottom: f64,
) {
    let mut beyond = 0.0;
    for (label, t, rto) in lines {
        let colour = if *rto { "#dc2626" } else { "#ea580c" };
        if in_scale(*t) {
            let x = axis.x(*t);
            let _ = writeln!(
                out,
                r#"<g class="target"><title>{}</title><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{plot_bottom}" stroke="{colour}" stroke-width="2" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" fill="{colour}" text-anchor="end" font-weight="600">{}</text></g>"#,
                escape(label),
                TOP - 44.0,
                x - 4.0,
                TOP - 46.0,
                escape(label)
            );
        } else {
            let _ = writeln!(
                out,
                r#"<g class="target off-scale"><title>{} (beyond the run's timeline)</title><text x="{:.1}" y="{:.1}" fill="{colour}" text-anchor="end" font-weight="600">{} →</text></g>"#,
                escape(label),
                WIDTH - RIGHT_PAD,
                TOP - 46.0 + beyond,
                escape(label)
            );
            beyond += 13.0;
        }
    }
}

/// The legend below the chart.
fn legend(out: &mut String, plot_bottom: f64) {
    let ly = plot_bottom + 26.0;
    let mut x = 8.0;
    for (shape, label) in [
        (Legend::Fill(colour(&StepState::Succeeded)), "succeeded"),
        (
            Legend::Fill(colour(&StepState::Failed {
                reason: String::new(),
            })),
            "failed",
        ),
        (Legend::Fill(colour(&StepState::TimedOut)), "timed out"),
        (Legend::Fill(colour(&StepState::Cancelled)), "cancelled"),
        (Legend::Critical, "critical path"),
        (Legend::Milestone, "milestone"),
        (Legend::Target, "RTO target"),
        (Legend::Teardown, "teardown (\u{2022} a resource deleted)"),
    ] {
        let y = ly - 9.0;
        let _ = match shape {
            Legend::Fill(fill) => write!(
                out,
                r#"<rect x="{x:.1}" y="{y:.1}" width="14" height="10" rx="2" fill="{fill}"/>"#
            ),
            Legend::Critical => write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="14" height="10" rx="2" fill="#ffffff" stroke="#0f172a" stroke-width="2.5"/>"##
            ),
            Legend::Milestone => write!(
                out,
                r##"<path d="M{:.1} {y:.1} l5 5 l-5 5 l-5 -5 z" fill="#7c3aed"/>"##,
                x + 7.0
            ),
            Legend::Target => write!(
                out,
                r##"<line x1="{x:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#dc2626" stroke-width="2" stroke-dasharray="4 3"/>"##,
                ly - 4.0,
                x + 14.0,
                ly - 4.0
            ),
            Legend::Teardown => write!(
                out,
                r##"<rect x="{x:.1}" y="{y:.1}" width="14" height="10" rx="2" fill="url(#hatch)" stroke="#64748b"/>"##
            ),
        };
        let _ = writeln!(
            out,
            r##"<text x="{:.1}" y="{ly}" fill="#334155">{label}</text>"##,
            x + 20.0
        );
        #[allow(clippy::cast_precision_loss)]
        let w = label.chars().count() as f64 * 6.2 + 36.0;
        x += w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_few() {
        assert!((tick_step(15.3) - 2.0).abs() < 1e-9);
        assert!((tick_step(1800.0) - 300.0).abs() < 1e-9);
    }
}
