//! Renderings of a run's report for people and for other programs, each a pure function of
//! the [`Report`] (so `firedrill report RUN` renders a stored run exactly as `firedrill run`
//! did):
//!
//! - JSON: the report itself, the stable machine format (versioned);
//! - [`junit`]: JUnit XML for CI systems, a test case per step, per target and for the teardown;
//! - [`markdown`]: for a wiki page or a ticket;
//! - [`html`]: one self-contained page with an SVG timeline ([`gantt`]) of the steps.
//!
//! What several renderings share lives here: the formats, the targets with their margins, and
//! the teardown record (when each resource was created and deleted).

pub mod progress;
pub mod webhook;

pub mod gantt;
pub mod html;
pub mod junit;
pub mod markdown;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};

use crate::engine::board::StepState;
use crate::engine::report::{Report, state_name};
use crate::language::duration::human;
use crate::playbook::model::RECOVERED;
use crate::store::journal::{ResourceRecord, ResourceStatus};

/// A rendering of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// The JSON report (versioned; the stable machine format).
    Json,
    /// JUnit XML: a test case per step and per target, for CI systems.
    Junit,
    /// Markdown, for a wiki page or a ticket.
    Markdown,
    /// One self-contained HTML page with an SVG timeline.
    Html,
}

/// Every format, in the order they are written.
pub const FORMATS: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

/// Why a list of formats does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// A name that is no format.
    #[error("`{0}` is not a report format (json, junit, markdown, html)")]
    Unknown(String),
}

impl Format {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// The name of its file in a report directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Junit => "report.junit.xml",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }

    /// Its file in `dir`.
    pub fn path_in(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }

    /// A format by name (`md` and `xml` are accepted too).
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(FormatError::Unknown(name.trim().to_owned())),
        }
    }

    /// A comma-separated list of formats (`json,junit,html`), without repeats, in
    /// [`FORMATS`] order.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, FormatError> {
        let mut out = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Renders `report` as `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let mut json = report.to_json();
            json.push('\n');
            json
        }
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

/// The steps on the run's critical path, for lookups while rendering every step.
pub fn critical(r: &Report) -> HashSet<&str> {
    r.critical_path.iter().map(String::as_str).collect()
}

/// A target and what was measured against it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// `RTO`, `RPO` or `milestone NAME`.
    pub name: String,
    /// What it measures, in a few words.
    pub what: String,
    /// The target, in seconds.
    pub target_secs: Option<f64>,
    /// What was measured, in seconds.
    pub measured_secs: Option<f64>,
    /// Whether it was met (none without a target, or without a measurement where none is
    /// expected, as for the RPO).
    pub met: Option<bool>,
}

impl Target {
    /// Target minus measured: positive is time to spare, negative is by how much it was
    /// missed.
    pub fn margin_secs(&self) -> Option<f64> {
        Some(self.target_secs? - self.measured_secs?)
    }

    /// The result in a word or two: `met`, `MISSED`, `not reached`, `no target`, ...
    pub fn verdict(&self) -> &'static str {
        match (self.met, self.measured_secs, self.target_secs) {
            (Some(true), _, _) => "met",
            (Some(false), Some(_), _) => "MISSED",
            (Some(false), None, _) => "MISSED (not reached)",
            (None, None, Some(_)) => "not measured",
            (None, _, None) => "no target",
            (None, Some(_), Some(_)) => "unknown",
        }
    }

    /// Why it failed, for JUnit and tooltips; none when it did not.
    pub fn failure(&self) -> Option<String> {
        if self.met != Some(false) {
            return None;
        }
        let target = self.target_secs.map_or_else(|| "?".into(), human);
        Some(match (self.measured_secs, self.margin_secs()) {
            (Some(m), Some(margin)) => format!(
                "{} {} missed its target {} by {}",
                self.name,
                human(m),
                target,
                human(-margin)
            ),
            _ => format!("{} was not reached (target {target})", self.name),
        })
    }
}

/// The targets of a run: the RTO, the RPO, then every other milestone, each when it has a
/// target or a measurement.
pub fn targets(r: &Report) -> Vec<Target> {
    let mut out = Vec::new();
    let mut push = |name: String, what: String, t: Option<f64>, m: Option<f64>, met| {
        if t.is_some() || m.is_some() {
            out.push(Target {
                name,
                what,
                target_secs: t,
                measured_secs: m,
                met,
            });
        }
    };
    push(
        "RTO".into(),
        format!("drill start to the {RECOVERED} milestone"),
        r.rto.target_secs,
        r.rto.measured_secs,
        r.rto.met,
    );
    push(
        "RPO".into(),
        r.disaster_at.as_ref().map_or_else(
            || "age of the data restored, at the drill's start".into(),
            |at| format!("age of the data restored, at the declared disaster ({at})"),
        ),
        r.rpo.target_secs,
        r.rpo.measured_secs,
        r.rpo.met,
    );
    for m in r.milestones.iter().filter(|m| m.name != RECOVERED) {
        push(
            format!("milestone {}", m.name),
            format!("drill start to the {} milestone", m.name),
            m.target_secs,
            m.reached_secs,
            m.met,
        );
    }
    out
}

/// A margin with its sign: `+29m49.1s` to spare, `-3m00.2s` missed by.
pub fn signed(secs: f64) -> String {
    if secs < 0.0 {
        format!("\u{2212}{}", human(-secs))
    } else {
        format!("+{}", human(secs))
    }
}

/// A time since the drill started, as `+M:SS.s` (`+1:02:03.4` past an hour).
pub fn offset(secs: f64) -> String {
    // Tenths of a second: the value is non-negative and far below u64::MAX.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let tenths = (secs.max(0.0) * 10.0).round() as u64;
    let (h, m, s, t) = (
        tenths / 36_000,
        tenths / 600 % 60,
        tenths / 10 % 60,
        tenths % 10,
    );
    if h > 0 {
        format!("+{h}:{m:02}:{s:02}.{t}")
    } else {
        format!("+{m}:{s:02}.{t}")
    }
}

/// A step's state with its reason: `failed: disk full`, ``skipped: `db` failed``.
pub fn state_text(state: &StepState) -> String {
    match state {
        StepState::Failed { reason } => format!("failed: {reason}"),
        StepState::Skipped { because } => format!("skipped: `{because}` failed"),
        StepState::NotStarted { reason } => format!("not-started: {reason}"),
        other => state_name(other).to_owned(),
    }
}

/// A resource in the teardown record.
#[derive(Clone, Debug, PartialEq)]
pub struct TeardownRow<'a> {
    /// The journal's record.
    pub resource: &'a ResourceRecord,
    /// Its id, else its token.
    pub label: &'a str,
    /// When its create call was made, in seconds since the drill started.
    pub created_secs: Option<f64>,
    /// When it was found deleted, in seconds since the drill started.
    pub deleted_secs: Option<f64>,
}

fn parse_time(t: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(t).ok()
}

/// Seconds from the drill's start to `at` (RFC 3339); none if either does not parse.
pub fn since_start(r: &Report, at: &str) -> Option<f64> {
    let start = parse_time(&r.started_at)?;
    let at = parse_time(at)?;
    // Milliseconds of a drill fit an f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    Some((at - start).num_milliseconds() as f64 / 1000.0)
}

/// The teardown record: every resource the run created (or meant to), with when it was
/// created and deleted, from the journal's times.
pub fn teardown_rows(r: &Report) -> Vec<TeardownRow<'_>> {
    r.resources
        .iter()
        .map(|x| TeardownRow {
            resource: x,
            label: x.resource_id.as_deref().unwrap_or(&x.token),
            created_secs: x
                .intended_at
                .as_deref()
                .and_then(|t| since_start(r, t))
                .filter(|_| x.resource_id.is_some()),
            deleted_secs: x
                .updated_at
                .as_deref()
                .filter(|_| x.status == ResourceStatus::Deleted)
                .and_then(|t| since_start(r, t)),
        })
        .collect()
}

/// A resource's status in words.
pub fn status_name(s: ResourceStatus) -> &'static str {
    match s {
        ResourceStatus::Intended => "intended",
        ResourceStatus::Created => "created",
        ResourceStatus::Deleting => "deleting",
        ResourceStatus::Deleted => "deleted",
        ResourceStatus::Failed => "left behind",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_lists_parse_sorted_without_repeats_and_name_the_unknown() {
        assert_eq!(
            Format::parse_list("html, json,md,json"),
            Ok(vec![Format::Json, Format::Markdown, Format::Html])
        );
        assert_eq!(
            Format::parse_list("json,pdf"),
            Err(FormatError::Unknown("pdf".into()))
        );
    }

    #[test]
    fn margins_and_offsets_read_well() {
        assert_eq!(signed(1789.1), "+29m49s");
        assert_eq!(signed(-180.2), "\u{2212}3m");
        assert_eq!(offset(9.44), "+0:09.4");
        assert_eq!(offset(3723.4), "+1:02:03.4");
    }

    #[test]
    fn a_missed_target_says_by_how_much() {
        let t = Target {
            name: "RTO".into(),
            what: String::new(),
            target_secs: Some(1800.0),
            measured_secs: Some(1980.25),
            met: Some(false),
        };
        assert_eq!(t.margin_secs(), Some(-180.25));
        assert_eq!(
            t.failure().as_deref(),
            Some("RTO 33m missed its target 30m by 3m")
        );
    }
}
