//! Run history: the runs in the journal with their RTO and RPO against the targets, the
//! trend, regression warnings (`firedrill history`), and the step durations that
//! `firedrill plan` learns from past runs.
//!
//! History reads the journal's `runs` table and the JSON report each finished run stored in it,
//! through a read-side view of the report ([`stored`]); plans read the journal's
//! `step_durations` table, which `Journal::finish_run` fills from the same reports.

pub mod render;
pub mod stored;
pub mod trend;

use crate::store::journal::{Journal, JournalError};
use stored::{StoredMeasure, StoredReport};

/// A past run of a playbook.
#[derive(Clone, Debug)]
pub struct PastRun {
    /// The run id.
    pub id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The playbook file, as given to `firedrill run`.
    pub file: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// `passed`, `target-missed`, `failed`, `interrupted`, or without a report `running`,
    /// `crashed`, `refused`.
    pub state: String,
    /// The recovery time against its target.
    pub rto: StoredMeasure,
    /// The data loss against its target.
    pub rpo: StoredMeasure,
}

/// The runs of `playbook` (by name; every playbook with `None`), oldest first; with `newest`,
/// only that many of the most recent. One query.
pub fn load(
    journal: &Journal,
    playbook: Option<&str>,
    newest: Option<usize>,
) -> Result<Vec<PastRun>, JournalError> {
    Ok(journal
        .reports(playbook, newest)?
        .into_iter()
        .map(|row| {
            let report = row
                .report
                .as_deref()
                .and_then(StoredReport::parse)
                .unwrap_or_default();
            PastRun {
                started_at: report.started_at.unwrap_or(row.started_at),
                // The journal's state is the run's final word (a crash, a refusal).
                state: row.state,
                id: row.id,
                playbook: row.playbook,
                file: row.playbook_path,
                rto: report.rto,
                rpo: report.rpo,
            }
        })
        .collect())
}
