//! What the journal teaches `plan` and `walkthrough` about a playbook's step durations.

use super::out::eprint;
use crate::playbook;

/// What the journal in `state_dir` teaches about the steps of `playbook`, read in one query
/// of its most recent runs whatever the number of steps; nothing (and no file created) when there is no journal, a warning when
/// it cannot be read.
pub(super) fn learned_durations(
    state_dir: &std::path::Path,
    playbook: &playbook::Playbook,
) -> crate::playbook::learned::LearnedDurations {
    use crate::playbook::learned::{self, LearnedDurations, Learner};
    let mut learner = Learner::new(playbook.steps.iter().map(|s| (s.id.as_str(), s.uses())));
    // Opened for writing only to migrate a journal of an older firedrill (its durations table).
    let runs = crate::store::journal::Journal::open_existing(state_dir).and_then(|j| match j {
        Some(j) => j.each_step_duration(&playbook.name, learned::RUNS, |id, uses, secs| {
            learner.add(id, uses, secs);
        }),
        None => Ok(0),
    });
    match runs {
        Ok(runs) => learner.finish(runs),
        Err(e) => {
            eprint(&format!("warning: planning without history: {e}\n"));
            LearnedDurations::default()
        }
    }
}
