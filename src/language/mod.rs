//! The playbook language below the playbook: the YAML tree with places ([`yaml`]), serde over
//! that tree ([`de`]), diagnostics with carets and hints ([`diag`]), human durations
//! ([`duration`]), files a person named ([`files`]), `${...}` templates ([`template`]) and "did you mean" ([`suggest`]).
//!
//! Nothing here knows about step kinds, AWS, the store or the engine: it is the vocabulary the
//! rest of the crate writes playbooks and errors in.

pub mod de;
pub mod diag;
pub mod duration;
pub mod files;
pub mod shapes;
pub mod suggest;
pub mod template;
pub mod yaml;
