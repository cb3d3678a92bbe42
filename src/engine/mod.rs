//! The drill engine behind `firedrill run` and `firedrill teardown`: it owns a run from a
//! compiled playbook to its report.
//!
//! - [`dispatch`]: the one loop that owns a run's state and starts steps as their
//!   dependencies succeed; it ends in a named state, then applies the teardown policy.
//! - [`board`]: which steps are ready, running, done; [`attempts`]: one step's tries under its
//!   retry policy and timeout.
//! - [`event`]: what happens, on the run's monotonic clock.
//! - [`teardown`]: deleting what the journal and the tags both say this run made.
//! - [`report`]: the JSON run report (the one document every rendering reads).
//! - [`exit`]: the process exit codes, one meaning each.
//!
//! The engine calls step kinds only through `steps::Action` and never imports the sandbox.

pub mod attempts;
pub mod board;
pub mod dispatch;
pub mod event;
pub mod exit;
pub mod report;
pub mod teardown;
