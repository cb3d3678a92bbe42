//! Seeds a journal with a series of finished runs and their reports, through the journal's
//! public API, for the tests of `firedrill history` and of plans that learn from it.

use std::path::Path;

use firedrill::store::journal::{Journal, NewRun};

/// A run to seed.
pub struct SeedRun<'a> {
    /// The run id (seeded runs are listed in the order they are seeded).
    pub id: &'a str,
    /// The playbook's name.
    pub playbook: &'a str,
    /// When it started (RFC 3339), as its report says.
    pub started_at: &'a str,
    /// How it ended (`passed`, `target-missed`, `failed`).
    pub state: &'a str,
    /// The measured RTO and its target, in seconds.
    pub rto: (Option<f64>, Option<f64>),
    /// The measured RPO and its target, in seconds.
    pub rpo: (Option<f64>, Option<f64>),
    /// Its steps: id, kind, state, duration in seconds.
    pub steps: &'a [(&'a str, &'a str, &'a str, Option<f64>)],
}

fn measure((measured, target): (Option<f64>, Option<f64>)) -> serde_json::Value {
    serde_json::json!({
        "target_secs": target,
        "measured_secs": measured,
        "met": match (measured, target) {
            (Some(m), Some(t)) => Some(m <= t),
            _ => None,
        },
    })
}

/// Writes `runs`, in order, into the journal in `state_dir`, each with a report in the
/// format `firedrill run` stores.
pub fn seed(state_dir: &Path, runs: &[SeedRun<'_>]) {
    let journal = Journal::open(state_dir).expect("journal");
    for r in runs {
        let file = format!("playbooks/{}.yaml", r.playbook);
        journal
            .begin_run(&NewRun {
                id: r.id,
                playbook: r.playbook,
                playbook_path: &file,
                ..NewRun::default()
            })
            .expect("begin");
        let steps: Vec<serde_json::Value> = r
            .steps
            .iter()
            .map(|(id, uses, state, d)| {
                serde_json::json!({
                    "id": id, "uses": uses, "state": state, "milestone": null, "attempts": 1,
                    "start_secs": 0.0, "duration_secs": d, "started_at": r.started_at,
                    "finished_at": r.started_at, "failures": [], "outputs": {},
                })
            })
            .collect();
        let report = serde_json::json!({
            "format_version": 1,
            "run_id": r.id,
            "playbook": { "name": r.playbook, "file": file, "owner": null },
            "account": null,
            "region": null,
            "started_at": r.started_at,
            "finished_at": r.started_at,
            "duration_secs": r.rto.0.unwrap_or(1.0),
            "state": r.state,
            "exit_code": 0,
            "stop_reason": null,
            "rto": measure(r.rto),
            "rpo": measure(r.rpo),
            "milestones": [],
            "steps": steps,
            "resources": [],
            "teardown": { "policy": "always", "state": "not-needed", "kept": null, "left": [] },
        });
        journal
            .finish_run(r.id, r.state, &report.to_string())
            .expect("finish");
    }
}
