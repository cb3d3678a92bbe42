//! What a run's facts mean, as pure functions: the drill's state (passed, target missed,
//! failed, interrupted), what the teardown policy decides for it, and the exit code. The
//! dispatcher gathers the facts; nothing here waits, calls or writes.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::event::rfc3339;
use crate::engine::exit;
use crate::engine::report::{RunState, TeardownState};
use crate::engine::state::StepRun;
use crate::playbook::{Playbook, TeardownPolicy};

/// What the dispatcher knows when the last step has ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "four independent facts, each a yes or no; the verdict ranks them"
)]
pub struct Facts {
    /// A signal stopped the run.
    pub interrupted: bool,
    /// A step failed or timed out.
    pub any_failed: bool,
    /// The run's deadline passed.
    pub deadline_passed: bool,
    /// A milestone or the RPO missed its target.
    pub target_missed: bool,
}

/// The drill's state, before teardown.
pub fn verdict(f: Facts) -> RunState {
    if f.interrupted {
        RunState::Interrupted
    } else if f.any_failed || f.deadline_passed {
        RunState::Failed
    } else if f.target_missed {
        RunState::TargetMissed
    } else {
        RunState::Passed
    }
}

/// What happens to what the run created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TeardownDecision {
    /// The run created nothing.
    NotNeeded,
    /// A second signal stopped waiting: the teardown is left for `firedrill teardown`.
    Abandoned,
    /// The policy keeps the resources: why, and until when (`keep_for`).
    Keep {
        /// Why, in a sentence.
        reason: String,
        /// Until when (RFC 3339), for `keep_for`.
        until: Option<String>,
    },
    /// Delete them now.
    TearDown,
}

/// The teardown policy applied to a run that ended in `state` at `now`.
pub fn teardown_decision(
    policy: TeardownPolicy,
    keep_for: Option<Duration>,
    state: RunState,
    abandoned: bool,
    has_resources: bool,
    now: DateTime<Utc>,
) -> TeardownDecision {
    // Nothing journaled is nothing to tear down, however the run ended.
    if !has_resources {
        return TeardownDecision::NotNeeded;
    }
    if abandoned {
        return TeardownDecision::Abandoned;
    }
    let interrupted = state == RunState::Interrupted;
    match (policy, keep_for) {
        (TeardownPolicy::Never, _) => TeardownDecision::Keep {
            reason: "the playbook's teardown policy is `never`".to_owned(),
            until: None,
        },
        (TeardownPolicy::OnSuccess, _) if state != RunState::Passed && !interrupted => {
            TeardownDecision::Keep {
                reason: format!(
                    "the drill {} and the policy is `on-success`: kept for investigation",
                    state.name()
                ),
                until: None,
            }
        }
        (TeardownPolicy::Always | TeardownPolicy::OnSuccess, Some(keep)) if !interrupted => {
            // Bounded: a huge `keep_for` keeps resources for a century, never panics.
            let century = chrono::TimeDelta::days(36_525);
            let keep_delta = chrono::Duration::from_std(keep)
                .unwrap_or(century)
                .min(century);
            let until = rfc3339(now.checked_add_signed(keep_delta).unwrap_or(now));
            TeardownDecision::Keep {
                reason: format!(
                    "kept for {} (`keep_for`), until {until}",
                    crate::language::duration::Duration(keep)
                ),
                until: Some(until),
            }
        }
        (TeardownPolicy::Always | TeardownPolicy::OnSuccess, _) => TeardownDecision::TearDown,
    }
}

/// The exit code of a run: what is left behind first (whatever else happened, cron must see
/// it), then an interrupt, then the drill.
pub fn exit_code(state: RunState, teardown: TeardownState, interrupted_in_teardown: bool) -> u8 {
    match teardown {
        TeardownState::Incomplete | TeardownState::Abandoned => return exit::TEARDOWN_INCOMPLETE,
        TeardownState::Done | TeardownState::Kept | TeardownState::NotNeeded => {}
    }
    if state == RunState::Interrupted || interrupted_in_teardown {
        return exit::INTERRUPTED;
    }
    match state {
        RunState::Failed => exit::STEP_FAILED,
        RunState::TargetMissed => exit::TARGET_MISSED,
        RunState::Passed | RunState::Interrupted => exit::OK,
    }
}

/// The RPO the drill measured: the largest data loss any recovery point it restored from (or
/// checked) implies, from the `rpo_secs` outputs of the steps whose kind measures it.
pub fn measured_rpo(playbook: &Playbook, runs: &[StepRun]) -> Option<Duration> {
    playbook
        .steps
        .iter()
        .zip(runs)
        .filter(|(s, _)| s.action.measures_rpo())
        .filter_map(|(_, r)| r.outputs.get("rpo_secs")?.parse::<u64>().ok())
        .max()
        .map(Duration::from_secs)
}

/// Whether a milestone missed its target (or was never reached), or the RPO missed its.
pub fn targets_missed<S: BuildHasher>(
    playbook: &Playbook,
    reached: &HashMap<String, Duration, S>,
    runs: &[StepRun],
) -> bool {
    let milestone_missed = playbook.milestones().keys().any(|m| {
        playbook
            .targets
            .for_milestone(m)
            .is_some_and(|t| reached.get(*m).is_none_or(|after| *after > t.0))
    });
    let rpo_missed = playbook
        .targets
        .rpo
        .zip(measured_rpo(playbook, runs))
        .is_some_and(|(target, measured)| measured > target.0);
    milestone_missed || rpo_missed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupt_outranks_a_failure_which_outranks_a_missed_target() {
        let all = Facts {
            interrupted: true,
            any_failed: true,
            deadline_passed: true,
            target_missed: true,
        };
        assert_eq!(verdict(all), RunState::Interrupted);
        let failed = Facts {
            interrupted: false,
            deadline_passed: false,
            ..all
        };
        assert_eq!(verdict(failed), RunState::Failed);
        let late = Facts {
            deadline_passed: true,
            ..Facts::default()
        };
        assert_eq!(verdict(late), RunState::Failed);
        let missed = Facts {
            target_missed: true,
            ..Facts::default()
        };
        assert_eq!(verdict(missed), RunState::TargetMissed);
        assert_eq!(verdict(Facts::default()), RunState::Passed);
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-02T03:00:00Z")
            .expect("a time")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_policy_decides_what_is_kept() {
        use TeardownPolicy::{Always, Never, OnSuccess};
        let d = |policy, keep, state, abandoned, has| {
            teardown_decision(policy, keep, state, abandoned, has, now())
        };
        assert_eq!(
            d(Always, None, RunState::Failed, true, true),
            TeardownDecision::Abandoned
        );
        assert_eq!(
            d(Never, None, RunState::Passed, false, false),
            TeardownDecision::NotNeeded
        );
        assert_eq!(
            d(Always, None, RunState::Interrupted, true, false),
            TeardownDecision::NotNeeded,
            "a run stopped before it created anything has nothing to abandon"
        );
        assert_eq!(
            d(Always, None, RunState::Failed, false, true),
            TeardownDecision::TearDown
        );
        assert!(matches!(
            d(Never, None, RunState::Interrupted, false, true),
            TeardownDecision::Keep { until: None, .. }
        ));
        // On success: a failed drill is kept for investigation; an interrupted one is not.
        assert_eq!(
            d(OnSuccess, None, RunState::TargetMissed, false, true),
            TeardownDecision::Keep {
                reason:
                    "the drill target-missed and the policy is `on-success`: kept for investigation"
                        .into(),
                until: None,
            }
        );
        assert_eq!(
            d(OnSuccess, None, RunState::Interrupted, false, true),
            TeardownDecision::TearDown
        );
        assert_eq!(
            d(OnSuccess, None, RunState::Passed, false, true),
            TeardownDecision::TearDown
        );
        // keep_for keeps until a time; never after an interrupt.
        let two_hours = Some(Duration::from_hours(2));
        assert_eq!(
            d(Always, two_hours, RunState::Passed, false, true),
            TeardownDecision::Keep {
                reason: "kept for 2h (`keep_for`), until 2026-12-02T05:00:00.000Z".into(),
                until: Some("2026-12-02T05:00:00.000Z".into()),
            }
        );
        assert_eq!(
            d(Always, two_hours, RunState::Interrupted, false, true),
            TeardownDecision::TearDown
        );
        // A keep_for past the calendar is bounded, not a panic.
        assert!(matches!(
            d(Always, Some(Duration::MAX), RunState::Passed, false, true),
            TeardownDecision::Keep { until: Some(_), .. }
        ));
    }

    #[test]
    fn exit_codes_rank_leftovers_then_interrupts_then_the_drill() {
        use TeardownState::{Abandoned, Done, Incomplete, Kept, NotNeeded};
        for state in [
            RunState::Passed,
            RunState::TargetMissed,
            RunState::Failed,
            RunState::Interrupted,
        ] {
            for signal in [false, true] {
                // Whatever else happened, resources left behind are exit 6.
                for left in [Incomplete, Abandoned] {
                    assert_eq!(exit_code(state, left, signal), exit::TEARDOWN_INCOMPLETE);
                }
                for clean in [Done, Kept, NotNeeded] {
                    let expected = match (state, signal) {
                        (RunState::Interrupted, _) | (_, true) => exit::INTERRUPTED,
                        (RunState::Failed, false) => exit::STEP_FAILED,
                        (RunState::TargetMissed, false) => exit::TARGET_MISSED,
                        (RunState::Passed, false) => exit::OK,
                    };
                    assert_eq!(
                        exit_code(state, clean, signal),
                        expected,
                        "{state:?} {clean:?} {signal}"
                    );
                }
            }
        }
    }
}
