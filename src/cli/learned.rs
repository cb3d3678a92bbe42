//! What the journal teaches `plan` and `walkthrough` about a playbook's step durations, from
//! the runs against the same kind of target as the one planned for.

use super::out::eprint;
use super::run::SandboxChoice;
use crate::playbook;
use crate::playbook::learned::Target;

/// What a plan of `playbook` is for: the local sandbox (at the time scale of the one running, or
/// the default one `run --sandbox local` starts), the playbook's `sandbox.endpoint`, or AWS.
pub(super) fn target(
    playbook: &playbook::Playbook,
    sandbox: Option<SandboxChoice>,
    state_dir: &std::path::Path,
) -> Target {
    match sandbox {
        Some(SandboxChoice::Local) => Target::LocalSandbox {
            time_scale: super::sandbox::running(state_dir)
                .map_or(super::sandbox::DEFAULT_TIME_SCALE, |r| r.config.time_scale),
        },
        None if playbook.sandbox.endpoint.is_some() => Target::Endpoint,
        None => Target::Aws,
    }
}

/// What the journal in `state_dir` teaches about the steps of `playbook`, from its most recent
/// runs against `target`, read in one query whatever the number of steps; nothing (and no file created) when there is no journal, a warning when
/// it cannot be read.
pub(super) fn learned_durations(
    state_dir: &std::path::Path,
    playbook: &playbook::Playbook,
    target: Target,
) -> crate::playbook::learned::LearnedDurations {
    use crate::playbook::learned::{self, LearnedDurations, Learner};
    let mut learner = Learner::new(playbook.steps.iter().map(|s| (s.id.as_str(), s.uses())));
    // Opened for writing only to migrate a journal of an older firedrill (its durations table).
    let runs = crate::store::journal::Journal::open_existing(state_dir).and_then(|j| match j {
        Some(j) => j.each_step_duration(
            &playbook.name,
            &target.key(),
            learned::RUNS,
            |id, uses, secs| learner.add(id, uses, secs),
        ),
        None => Ok(0),
    });
    match runs {
        Ok(runs) => learner.finish(runs, target),
        Err(e) => {
            eprint(&format!("warning: planning without history: {e}\n"));
            LearnedDurations::default()
        }
    }
}
