//! What a walkthrough carries forward: the newest record of a playbook, read back from the
//! journal, gives the next walkthrough its open concerns and the next run its [`Rehearsal`]
//! (the concerns still open and the team's estimates, for the run's report to compare).

use crate::engine::report::{OpenConcern, Rehearsal};
use crate::store::journal::Journal;
use crate::walkthrough::record::Record;

/// The newest walkthrough of `playbook`, if any; why not, when it cannot be read.
pub fn latest(journal: &Journal, playbook: &str) -> Result<Option<Record>, String> {
    let Some(stored) = journal
        .latest_walkthrough(playbook)
        .map_err(|e| format!("cannot read past walkthroughs: {e}"))?
    else {
        return Ok(None);
    };
    Record::from_json(&stored.record)
        .map(Some)
        .map_err(|e| format!("walkthrough {} does not parse ({e})", stored.id))
}

/// What `record` carries into a run.
pub fn rehearsal(record: &Record) -> Rehearsal {
    Rehearsal {
        walkthrough: record.id.clone(),
        at: record.started_at.clone(),
        concerns: record
            .open_concerns()
            .map(|c| OpenConcern {
                step: c.step.clone(),
                text: c.text.clone(),
                owner: c.owner.clone(),
                raised_at: c.raised_at.clone(),
            })
            .collect(),
        estimates: record
            .steps
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.estimate.as_ref()?.secs)))
            .collect(),
    }
}
