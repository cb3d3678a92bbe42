//! The run board: which steps of a run are waiting, ready, running or done, and what a
//! success or a failure does to the others. The dispatcher of `firedrill run` owns one and asks
//! it what to start next; it knows nothing of time, processes or AWS, so every rule of
//! dispatch is tested here on its own.
//!
//! Rules: a step is ready the moment all its dependencies have succeeded. When a step fails
//! (or times out) with `on_failure: continue`, every step that depends on it, directly or not,
//! is skipped with the reason; independent branches go on. With `on_failure: abort` (the
//! default), nothing new starts, and the steps that never started are skipped because of the
//! abort; the dispatcher cancels those running. A run also stops dispatching when it is
//! interrupted or its deadline passes.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::playbook::{OnFailure, Playbook};

/// Where a step is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum StepState {
    /// Waiting for dependencies.
    Waiting,
    /// All dependencies succeeded; not started yet.
    Ready,
    /// Started.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Finished with a failure.
    Failed {
        /// Why.
        reason: String,
    },
    /// Ran out of time.
    TimedOut,
    /// Never started, because a step it depends on failed.
    Skipped {
        /// The step that failed.
        because: String,
    },
    /// Never started, because the run stopped (abort, interrupt, deadline).
    NotStarted {
        /// Why the run stopped.
        reason: String,
    },
    /// Started, then cancelled because the run stopped.
    Cancelled,
}

impl StepState {
    /// Whether the step will not change any more.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            StepState::Waiting | StepState::Ready | StepState::Running
        )
    }

    /// Whether the step ended badly.
    pub fn is_failure(&self) -> bool {
        matches!(self, StepState::Failed { .. } | StepState::TimedOut)
    }
}

/// The board of one run.
#[derive(Debug)]
pub struct Board {
    ids: Vec<String>,
    dependents: Vec<Vec<usize>>,
    on_failure: Vec<OnFailure>,
    waiting_on: Vec<usize>,
    states: Vec<StepState>,
    ready: VecDeque<usize>,
    stopped: Option<String>,
}

impl Board {
    /// A board with every step of `playbook` waiting, and those without dependencies ready.
    pub fn new(playbook: &Playbook) -> Self {
        let n = playbook.steps.len();
        let mut board = Self {
            ids: playbook.steps.iter().map(|s| s.id.clone()).collect(),
            dependents: (0..n)
                .map(|i| playbook.dag.dependents(i).to_vec())
                .collect(),
            on_failure: playbook.steps.iter().map(|s| s.on_failure).collect(),
            waiting_on: (0..n).map(|i| playbook.dag.deps(i).len()).collect(),
            states: vec![StepState::Waiting; n],
            ready: VecDeque::new(),
            stopped: None,
        };
        for i in 0..n {
            if board.waiting_on[i] == 0 {
                board.make_ready(i);
            }
        }
        board
    }

    fn make_ready(&mut self, i: usize) {
        self.states[i] = StepState::Ready;
        self.ready.push_back(i);
    }

    /// The state of step `i`.
    pub fn state(&self, i: usize) -> &StepState {
        &self.states[i]
    }

    /// Every step's state, in file order.
    pub fn states(&self) -> &[StepState] {
        &self.states
    }

    /// Takes the next ready step (in the order they became ready) and marks it running; none
    /// once the run has stopped.
    pub fn start_next(&mut self) -> Option<usize> {
        if self.stopped.is_some() {
            return None;
        }
        let i = self.ready.pop_front()?;
        self.states[i] = StepState::Running;
        Some(i)
    }

    /// Whether a step is ready to start (and the run has not stopped).
    pub fn has_ready(&self) -> bool {
        self.stopped.is_none() && !self.ready.is_empty()
    }

    /// Step `i` succeeded: its dependents whose dependencies have all succeeded become ready.
    pub fn succeeded(&mut self, i: usize) {
        self.states[i] = StepState::Succeeded;
        for d in self.dependents[i].clone() {
            self.waiting_on[d] -= 1;
            if self.waiting_on[d] == 0 && self.states[d] == StepState::Waiting {
                self.make_ready(d);
            }
        }
    }

    /// Step `i` failed (`timed_out` for a timeout). Returns whether the run now stops
    /// (`on_failure: abort`).
    pub fn failed(&mut self, i: usize, reason: &str, timed_out: bool) -> bool {
        self.states[i] = if timed_out {
            StepState::TimedOut
        } else {
            StepState::Failed {
                reason: reason.to_owned(),
            }
        };
        let because = self.ids[i].clone();
        let mut stack = self.dependents[i].clone();
        while let Some(d) = stack.pop() {
            if matches!(self.states[d], StepState::Waiting | StepState::Ready) {
                self.states[d] = StepState::Skipped {
                    because: because.clone(),
                };
                self.ready.retain(|&r| r != d);
                stack.extend(self.dependents[d].iter().copied());
            }
        }
        if self.on_failure[i] == OnFailure::Abort {
            self.stop(&format!("`{because}` failed and aborts the run"));
            return true;
        }
        false
    }

    /// Stops dispatching (abort, interrupt, deadline): steps that never started are marked so
    /// with `reason`; running ones are left for the dispatcher to cancel and report.
    pub fn stop(&mut self, reason: &str) {
        if self.stopped.is_none() {
            self.stopped = Some(reason.to_owned());
        }
        self.ready.clear();
        for s in &mut self.states {
            if matches!(s, StepState::Waiting | StepState::Ready) {
                *s = StepState::NotStarted {
                    reason: reason.to_owned(),
                };
            }
        }
    }

    /// Step `i`, running when the run stopped, was cancelled.
    pub fn cancelled(&mut self, i: usize) {
        self.states[i] = StepState::Cancelled;
    }

    /// Why the run stopped, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// The steps running now.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.states
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == StepState::Running)
            .map(|(i, _)| i)
    }

    /// Whether every step is final.
    pub fn is_done(&self) -> bool {
        self.states.iter().all(StepState::is_final)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::diag::SourceFile;

    fn board(steps: &str) -> Board {
        let text = format!(
            "version: 1\nname: t\nsandbox: {{ accounts: [\"123456789012\"] }}\nsteps:\n{steps}"
        );
        let file = SourceFile {
            name: "t.yaml".into(),
            text,
        };
        let loaded =
            crate::playbook::compile(&file, "t.yaml".as_ref()).unwrap_or_else(|d| panic!("{d:?}"));
        Board::new(&loaded.playbook)
    }

    const DIAMOND: &str = "  a: { uses: wait, with: { duration: 1s } }
  b: { uses: wait, needs: [a], with: { duration: 1s } }
  c: { uses: wait, needs: [a], with: { duration: 1s }, on_failure: continue }
  d: { uses: wait, needs: [b, c], with: { duration: 1s } }
  e: { uses: wait, with: { duration: 1s } }
";

    #[test]
    fn a_step_is_ready_when_all_its_dependencies_succeeded() {
        let mut b = board(DIAMOND);
        assert_eq!(
            (b.start_next(), b.start_next(), b.start_next()),
            (Some(0), Some(4), None)
        );
        b.succeeded(0);
        assert_eq!(
            (b.start_next(), b.start_next(), b.start_next()),
            (Some(1), Some(2), None)
        );
        b.succeeded(1);
        assert_eq!(b.start_next(), None, "d still waits for c");
        b.succeeded(2);
        assert_eq!(b.start_next(), Some(3));
        b.succeeded(3);
        b.succeeded(4);
        assert!(b.is_done());
        assert!(b.states().iter().all(|s| *s == StepState::Succeeded));
    }

    #[test]
    fn continue_skips_dependents_and_lets_independent_branches_go_on() {
        let mut b = board(DIAMOND);
        b.start_next();
        b.start_next();
        b.succeeded(0);
        b.start_next();
        b.start_next();
        assert!(!b.failed(2, "exit 1", false), "c continues");
        assert_eq!(
            b.state(3),
            &StepState::Skipped {
                because: "c".into()
            }
        );
        b.succeeded(1);
        assert_eq!(b.start_next(), None, "d is skipped, not ready");
        b.succeeded(4);
        assert!(b.is_done());
        assert_eq!(
            b.state(2),
            &StepState::Failed {
                reason: "exit 1".into()
            }
        );
    }

    #[test]
    fn abort_stops_dispatching_and_leaves_running_steps_to_cancel() {
        let mut b = board(DIAMOND);
        assert_eq!((b.start_next(), b.start_next()), (Some(0), Some(4)));
        assert!(b.failed(0, "boom", true), "a aborts");
        assert_eq!(b.state(0), &StepState::TimedOut);
        assert_eq!(
            b.state(1),
            &StepState::Skipped {
                because: "a".into()
            }
        );
        assert_eq!(b.start_next(), None);
        assert_eq!(b.running().collect::<Vec<_>>(), [4]);
        assert!(!b.is_done());
        b.cancelled(4);
        assert!(b.is_done());
        assert_eq!(b.stopped(), Some("`a` failed and aborts the run"));
    }

    #[test]
    fn an_interrupt_marks_what_never_started() {
        let mut b = board(DIAMOND);
        b.start_next();
        b.stop("interrupted (Ctrl-C)");
        assert_eq!(
            b.state(4),
            &StepState::NotStarted {
                reason: "interrupted (Ctrl-C)".into()
            }
        );
        assert_eq!(
            b.state(3),
            &StepState::NotStarted {
                reason: "interrupted (Ctrl-C)".into()
            }
        );
        assert_eq!(b.start_next(), None);
    }
}
