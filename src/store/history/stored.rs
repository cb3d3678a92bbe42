//! The read side of stored run reports: just the fields of the JSON report (format version 1,
//! `engine::report::Report`) that `history` shows. Every field is optional, so that a
//! report of an older or newer firedrill (fields are only added within a version) still reads.

use serde::Deserialize;

/// A stored run report, as far as history needs it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StoredReport {
    /// When the run started (RFC 3339).
    pub started_at: Option<String>,
    /// How it ended.
    pub state: Option<String>,
    /// How long it took, teardown included.
    pub duration_secs: Option<f64>,
    /// The recovery time.
    pub rto: StoredMeasure,
    /// The data loss.
    pub rpo: StoredMeasure,
}

/// A target and what was measured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct StoredMeasure {
    /// The target, in seconds.
    pub target_secs: Option<f64>,
    /// What was measured, in seconds.
    pub measured_secs: Option<f64>,
    /// Whether the target was met.
    pub met: Option<bool>,
}

impl StoredReport {
    /// Reads a report; `None` when it is not a report this firedrill can read.
    pub fn parse(json: &str) -> Option<Self> {
        serde_json::from_str(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_it_needs_and_ignores_the_rest() {
        let r = StoredReport::parse(
            r#"{"format_version":1,"run_id":"r","started_at":"2026-11-01T03:00:00.000Z",
                "state":"passed","rto":{"target_secs":1800.0,"measured_secs":600.5,"met":true},
                "rpo":{"target_secs":null,"measured_secs":null,"met":null},
                "steps":[{"id":"db","uses":"wait","state":"succeeded","duration_secs":2.5,
                          "attempts":1,"outputs":{}},
                         {"id":"app","uses":"run","state":"failed","reason":"exit 1"}],
                "future_field":[1,2]}"#,
        )
        .expect("a report");
        assert_eq!(r.rto.measured_secs, Some(600.5));
        assert_eq!(r.rpo.target_secs, None);
        assert_eq!(r.state.as_deref(), Some("passed"));
        assert!(StoredReport::parse("not json").is_none());
    }
}
