//! firedrill: a disaster-recovery drill orchestrator. The crate is laid out along the path a
//! drill takes (ARCHITECTURE.md at the repository's root is the long form of this map):
//!
//! ```text
//! playbook.yaml ─► language ─► playbook ─► engine::dispatch ─► steps::<kind>::action ─► report
//!                  (yaml, de,   (compile,    (board, attempts,    (journaled create     (reports,
//!                   diag, …)     graph, plan) events, teardown)    through aws::)         store)
//! ```
//!
//! - [`language`]: the YAML tree, serde over it, diagnostics, durations, templates, suggestions.
//! - [`playbook`]: as written → compiled → model; the graph, the plan, the JSON Schema.
//! - [`steps`]: the one table of step kinds, the step context with its journaled create, the
//!   resources a run makes, and one folder per service with its language and runtime sides.
//! - [`engine`]: the dispatcher that owns a run, the board, attempts, events, teardown, the
//!   report model and the exit codes.
//! - [`aws`]: the client factory, SDK error helpers, the account guard and the pollers.
//! - [`store`]: journal, recorder, locks, paths, history.
//! - [`reports`]: summary, progress, renderings (JSON, JUnit, Markdown, HTML) and the webhook.
//! - [`sandbox`]: the local emulated AWS account (moto behind a realism layer); production code
//!   never imports it.
//! - [`schedule`]: crontab lines and Kubernetes CronJobs.
//! - [`cli`]: arguments → engine → rendering, nothing else.
//! - [`walkthrough`]: the tabletop walkthrough: what it shows, records and renders.
//! - [`util`]: the small shared helpers (a stable hash).

pub mod aws;
pub mod cli;
pub mod engine;
pub mod language;
pub mod playbook;
pub mod reports;
pub mod sandbox;
pub mod schedule;
pub mod steps;
pub mod store;
pub mod util;
pub mod walkthrough;
