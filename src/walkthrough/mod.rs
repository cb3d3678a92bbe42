//! The tabletop walkthrough (`firedrill walkthrough`): a team rehearses its recovery plan one
//! step at a time around one screen, before anything is restored, and firedrill records what
//! it said. Nothing is created; by default no AWS call is made.
//!
//! - [`view`]: what a walkthrough shows of a plan (values resolved, durations, the RTO clock).
//! - [`record`]: what it keeps (notes, concerns, estimates, time spent), the journal's document.
//! - [`session`]: the state machine that takes keys and changes the record.
//! - [`screen`]: the terminal screen, a pure function of a session.
//! - [`carry`]: what the newest walkthrough carries into the next one and the next run.
//! - [`render`]: a record as Markdown, HTML and JSON (`firedrill report`), and the printed
//!   runbook (`--print`).
//!
//! No terminal and no journal here: `cli/walkthrough.rs` owns both.

pub mod carry;
pub mod record;
pub mod render;
pub mod screen;
pub mod session;
pub mod view;
