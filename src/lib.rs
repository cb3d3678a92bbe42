//! firedrill: a disaster-recovery drill orchestrator.
//!
//! A YAML playbook describes a restore as a dependency graph of steps. This crate parses and
//! validates playbooks ([`playbook`]), builds their dependency graph ([`graph`]), plans them
//! ([`plan`]) and exposes the JSON Schema of the language ([`schema`]). AWS clients are made in
//! one place ([`aws`]); the account guard ([`guard`]) proves where a run is before it changes
//! anything; the local sandbox ([`sandbox`]) emulates an AWS account on loopback. The drill
//! engine's parts so far: the durable [`journal`], the [`process`] runner of `run` steps, the
//! run [`board`], and a step's [`attempts`] under its retry policy and timeout. A run's report is rendered as
//! JSON, JUnit XML, Markdown or HTML by [`reports`]. Unattended use: the run [`history`] (trend, warnings, learned step durations), the [`schedule`] (cron
//! and Kubernetes), the playbook [`lock`] and the completion [`webhook`]. The command line
//! lives in [`cli`]; its exit codes in [`exit`].

pub mod attempts;
pub mod aws;
pub mod board;
pub mod cli;
pub mod de;
pub mod diag;
pub mod duration;
pub mod engine;
pub mod exit;
pub mod graph;
pub mod guard;
pub mod history;
pub mod journal;
pub mod kinds;
pub mod lock;
pub mod paths;
pub mod plan;
pub mod playbook;
pub mod process;
pub mod reports;
pub mod sandbox;
pub mod schedule;
pub mod schema;
pub mod suggest;
pub mod template;
pub mod webhook;
pub mod yaml;
