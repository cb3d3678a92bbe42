//! firedrill: a disaster-recovery drill orchestrator.
//!
//! A YAML playbook describes a restore as a dependency graph of steps. This crate parses and
//! validates playbooks ([`playbook`]), builds their dependency graph ([`graph`]), plans them
//! ([`plan`]) and exposes the JSON Schema of the language ([`schema`]). The command line lives
//! in [`cli`]; its exit codes in [`exit`].

pub mod cli;
pub mod de;
pub mod diag;
pub mod duration;
pub mod exit;
pub mod graph;
pub mod kinds;
pub mod plan;
pub mod playbook;
pub mod schema;
pub mod suggest;
pub mod template;
pub mod yaml;
