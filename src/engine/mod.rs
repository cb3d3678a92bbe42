//! The drill engine behind `firedrill run` and `firedrill teardown`: it owns a run from a
//! compiled playbook to its report.
//!
//! - [`prepare`]: a drill made ready from a playbook and options (clients, lock, journal
//!   row, guard, tags, pollers); the command line only parses, calls it and renders.
//! - [`dispatch`]: the one loop that owns a run's state and starts steps as their
//!   dependencies succeed; it ends in a named state, then applies the teardown policy.
//! - [`state`]: what a run knows (each step's run, the milestones) and the ledger that
//!   journals and shows every event.
//! - [`board`]: which steps are ready, running, done; [`attempts`]: one step's tries under its
//!   retry policy and timeout.
//! - [`command`]: what can be asked of a running drill from outside (pause, resume, answer a
//!   gate, note, inject a failure).
//! - `conclude`: after the last step: the teardown its policy decides and the report;
//!   [`verdict`]: the pure decisions (the drill's state, the teardown, the exit code).
//! - [`event`]: what happens, on the run's monotonic clock.
//! - [`teardown`]: deleting what the journal and the tags both say this run made, through the
//!   one verified deletion; [`sweep`]: finding what nobody tears down (`firedrill sweep`).
//! - [`report`]: the JSON run report (the one document every rendering reads).
//! - [`exit`]: the process exit codes, one meaning each.
//!
//! The engine calls step kinds only through `steps::Action` and never imports the sandbox.

pub mod attempts;
pub mod board;
pub mod command;
mod conclude;
pub mod dispatch;
pub mod event;
pub mod exit;
pub mod prepare;
pub mod readiness;
pub mod report;
pub mod state;
pub mod sweep;
pub mod teardown;
pub mod verdict;
