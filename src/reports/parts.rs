//! What several renderings share: the critical path's steps, the targets with their margins,
//! offsets and signed margins as text, a step's state in words, the teardown rows (when each
//! resource was created and deleted), and escaping for HTML and XML. Pure functions of the
//! [`Report`]; knows no format.

use std::collections::HashSet;

use chrono::{DateTime, FixedOffset};

use crate::engine::board::StepState;
use crate::engine::report::{Report, state_name};
use crate::language::duration::human;
use crate::playbook::model::RECOVERED;
use crate::store::journal::{ResourceRecord, ResourceStatus};

/// Escapes text for HTML and XML (element content and quoted attributes); control characters
/// other than tab and newlines become U+FFFD.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
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

/// A margin with its sign: `+29m49s` to spare, `−3m` missed by.
pub fn signed(secs: f64) -> String {
    if secs < 0.0 {
        format!("\u{2212}{}", human(-secs))
    } else {
        offset(secs)
    }
}

/// A time since the drill started, on the RTO clock: `+1m2s`, `+9.25s`.
pub fn offset(secs: f64) -> String {
    format!("+{}", human(secs))
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
    /// How it reads: its id (a changed record: its name, type and zone), else its token.
    pub label: String,
    /// Its status in words (`deleted`, a record put back: `restored`, `left behind`).
    pub status: &'static str,
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
            label: crate::steps::resource::label(x),
            status: status_name(x),
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

/// A resource's status in words; a changed record that teardown put back is `restored`.
pub fn status_name(x: &ResourceRecord) -> &'static str {
    match x.status {
        ResourceStatus::Intended => "intended",
        ResourceStatus::Created => "created",
        ResourceStatus::Deleting => "deleting",
        ResourceStatus::Deleted
            if crate::steps::resource::ResourceKind::parse(&x.kind)
                == Some(crate::steps::resource::ResourceKind::Route53Record)
                && x.detail.starts_with("restored") =>
        {
            "restored"
        }
        ResourceStatus::Deleted => "deleted",
        ResourceStatus::Failed => "left behind",
    }
}
