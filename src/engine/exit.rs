//! Exit codes: part of firedrill's interface for cron, CI and scripts. One meaning each.

use std::process::ExitCode;

/// The drill passed every target, or the command did what was asked.
pub const OK: u8 = 0;
/// firedrill itself could not do its work (an I/O error, an unreachable service, a bug).
pub const INTERNAL: u8 = 1;
/// The playbook is invalid, or the command line is wrong (clap uses 2 for usage errors too).
pub const INVALID: u8 = 2;
/// The drill ran, but a recovery target (RTO or RPO) was missed, or `plan` predicts a miss.
pub const TARGET_MISSED: u8 = 3;
/// `sandbox status`: the local sandbox is not running. The same number as [`TARGET_MISSED`],
/// after systemctl's `status` (3: not running), for the one command that has no drill to miss.
pub const NOT_RUNNING: u8 = 3;
/// A step of the drill failed.
pub const STEP_FAILED: u8 = 4;
/// A safety guard refused to act (wrong account, root credentials, another run of the same
/// playbook in progress, ...).
pub const REFUSED: u8 = 5;
/// Teardown could not delete everything the run created; resources are left behind.
pub const TEARDOWN_INCOMPLETE: u8 = 6;
/// The readiness check (`firedrill walkthrough --check`) found a step that could not start
/// now (a missing snapshot, image, zone or template, or a recovery point too old).
pub const NOT_READY: u8 = 7;
/// The run was interrupted by a signal (128 + SIGINT, the shell convention).
pub const INTERRUPTED: u8 = 130;

/// Every exit code with its one-line meaning, in the order the README documents them.
pub const ALL: &[(u8, &str, &str)] = &[
    (
        OK,
        "ok",
        "the drill passed every target, or the command did what was asked",
    ),
    (
        INTERNAL,
        "internal",
        "firedrill could not do its work (I/O error, unreachable service, bug)",
    ),
    (INVALID, "invalid", "invalid playbook or command line"),
    (
        TARGET_MISSED,
        "target-missed",
        "a recovery target was missed (or `plan` predicts a miss; `sandbox status`: not running)",
    ),
    (STEP_FAILED, "step-failed", "a step of the drill failed"),
    (
        REFUSED,
        "refused",
        "a safety guard refused to act (wrong account, root credentials, another run of the playbook in progress)",
    ),
    (
        TEARDOWN_INCOMPLETE,
        "teardown-incomplete",
        "resources the run created are left behind",
    ),
    (
        NOT_READY,
        "not-ready",
        "`walkthrough --check`: a step could not start now",
    ),
    (
        INTERRUPTED,
        "interrupted",
        "the run was interrupted by a signal",
    ),
];

/// Converts one of the constants above into a process exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
