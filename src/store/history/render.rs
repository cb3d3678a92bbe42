//! `firedrill history` output: a table per playbook (oldest run first, so the newest is next
//! to the trend and warnings below it) for a person, or one JSON document for programs.

use std::fmt::Write as _;

use serde::Serialize;

use super::PastRun;
use super::stored::StoredMeasure;
use super::trend::{self, Direction, Trend, Warning};
use crate::language::duration::human;

/// The history of one playbook, ready to render.
#[derive(Clone, Debug, Serialize)]
pub struct PlaybookHistory {
    /// The playbook's name.
    pub name: String,
    /// Its file, as given to the newest run.
    pub file: String,
    /// How many runs the journal holds (not only those shown).
    pub total_runs: usize,
    /// The runs shown, oldest first.
    pub runs: Vec<RunLine>,
    /// The RTO trend over the last runs.
    pub trend: Option<Trend>,
    /// The warnings about the runs shown, oldest first.
    pub warnings: Vec<Warning>,
}

/// One run in the history.
#[derive(Clone, Debug, Serialize)]
pub struct RunLine {
    /// The run id.
    pub run_id: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// How it ended.
    pub state: String,
    /// The recovery time against its target.
    pub rto: StoredMeasure,
    /// The data loss against its target.
    pub rpo: StoredMeasure,
    /// What history warns about it.
    pub warnings: Vec<Warning>,
}

impl PlaybookHistory {
    /// The history of the runs of one playbook (oldest first, all of them: the warnings and
    /// the trend look at runs before those shown), showing the newest `limit`.
    pub fn new(runs: &[PastRun], limit: usize) -> Option<Self> {
        let newest = runs.last()?;
        let mut warnings = trend::warnings(runs);
        let skip = runs.len().saturating_sub(limit);
        let lines: Vec<RunLine> = runs
            .iter()
            .zip(warnings.iter_mut())
            .skip(skip)
            .map(|(r, w)| RunLine {
                run_id: r.id.clone(),
                started_at: r.started_at.clone(),
                state: r.state.clone(),
                rto: r.rto,
                rpo: r.rpo,
                warnings: std::mem::take(w),
            })
            .collect();
        Some(Self {
            name: newest.playbook.clone(),
            file: newest.file.clone(),
            total_runs: runs.len(),
            warnings: lines.iter().flat_map(|l| l.warnings.clone()).collect(),
            runs: lines,
            trend: trend::trend(runs),
        })
    }
}

/// The histories as one JSON document (`format_version` 1).
pub fn json(histories: &[PlaybookHistory]) -> String {
    let doc = serde_json::json!({ "format_version": 1, "playbooks": histories });
    let mut out = serde_json::to_string_pretty(&doc).expect("history serializes");
    out.push('\n');
    out
}

fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339).map_or_else(
        |_| rfc3339.to_owned(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        },
    )
}

fn measured(m: &StoredMeasure) -> (String, String) {
    let value = m.measured_secs.map_or_else(|| "-".to_owned(), human);
    let share = match (m.measured_secs, m.target_secs) {
        (Some(v), Some(t)) if t > 0.0 => format!("{:.0}%", v / t * 100.0),
        _ => "-".to_owned(),
    };
    (value, share)
}

fn target(runs: &[RunLine], pick: fn(&RunLine) -> &StoredMeasure) -> String {
    runs.iter()
        .rev()
        .find_map(|r| pick(r).target_secs)
        .map_or_else(|| "none".to_owned(), human)
}

/// The histories as text.
pub fn text(histories: &[PlaybookHistory]) -> String {
    let mut out = String::new();
    for (n, h) in histories.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let passed = h.runs.iter().filter(|r| r.state == "passed").count();
        let shown = if h.runs.len() < h.total_runs {
            format!("the last {} of {} runs", h.runs.len(), h.total_runs)
        } else {
            format!(
                "{} run{}",
                h.total_runs,
                if h.total_runs == 1 { "" } else { "s" }
            )
        };
        let _ = writeln!(
            out,
            "{} ({}): {shown}, {passed} passed; RTO target {}, RPO target {}",
            h.name,
            h.file,
            target(&h.runs, |r| &r.rto),
            target(&h.runs, |r| &r.rpo),
        );
        let id_width = h
            .runs
            .iter()
            .map(|r| r.run_id.len())
            .max()
            .unwrap_or(0)
            .max(3);
        let _ = writeln!(
            out,
            "    {:19}  {:id_width$}  {:13}  {:>9}  {:>6}  {:>9}  {:>6}",
            "started (UTC)", "run", "state", "RTO", "target", "RPO", "target"
        );
        for r in &h.runs {
            let (rto, of_rto_target) = measured(&r.rto);
            let (rpo, of_rpo_target) = measured(&r.rpo);
            let mark = if r.warnings.is_empty() { ' ' } else { '!' };
            let _ = writeln!(
                out,
                "  {mark} {:19}  {:id_width$}  {:13}  {rto:>9}  {of_rto_target:>6}  {rpo:>9}  {of_rpo_target:>6}",
                when(&r.started_at),
                r.run_id,
                r.state,
            );
        }
        match &h.trend {
            Some(t) => {
                let direction = match (t.direction, t.change_pct) {
                    (Some(Direction::Rising), Some(c)) => {
                        format!(", rising (+{c:.0}% across them): recovery is getting slower")
                    }
                    (Some(Direction::Falling), Some(c)) => {
                        format!(", falling ({c:.0}% across them)")
                    }
                    (Some(Direction::Steady), Some(c)) => format!(", steady ({c:+.0}%)"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  trend: RTO median {} over the last {} run{}{direction}",
                    human(t.rto_median_secs),
                    t.runs,
                    if t.runs == 1 { "" } else { "s" },
                );
            }
            None => {
                let _ = writeln!(out, "  trend: no run has measured an RTO yet");
            }
        }
        if h.warnings.is_empty() {
            let _ = writeln!(out, "  no warnings");
        } else {
            let _ = writeln!(out, "  warnings (!):");
            for w in &h.warnings {
                let _ = writeln!(out, "    {}: {}", w.run_id, w.message);
            }
        }
    }
    out
}
