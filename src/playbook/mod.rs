//! Playbooks: the language as written ([`doc`]), the validated model ([`model`]), and the
//! compiler between them ([`compile`]), which reports every error of a file in one pass.

pub mod graph;
pub mod learned;
pub mod plan;
pub mod resolve;
pub mod schema;

pub mod compile;
pub mod doc;
pub mod model;

pub use compile::{Loaded, compile, load};
pub use model::{OnFailure, Playbook, Retry, Sandbox, Step, Targets, TeardownPolicy};
