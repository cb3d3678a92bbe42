//! What outlives a run: the durable [`journal`] (runs, steps, resources, reports) and the
//! [`recorder`] thread that writes it, the playbook [`lock`], where state lives ([`paths`]),
//! the run [`history`] read back from the journal, and the tabletop [`walkthroughs`] it keeps.
//!
//! The store knows the shapes it keeps, not how a drill is run: it never imports the engine,
//! the step kinds or AWS.

pub mod history;
pub mod journal;
pub mod lock;
pub mod paths;
pub mod recorder;
pub mod walkthroughs;
