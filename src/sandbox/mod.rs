//! The local sandbox: an emulated AWS account on loopback, for trying, developing and testing
//! firedrill without an AWS account.
//!
//! It is moto's server ([`local`] installs and runs it) behind firedrill's realism layer
//! ([`proxy`]): lifecycle delays ([`lifecycle`]), seeded faults ([`faults`]), call counts, and
//! Aurora's automated backups as AWS keeps them ([`backups`]). Its Route53 zones answer DNS
//! ([`dns`]). Its restored RDS instances answer SQL with their recovery point's data
//! ([`data`]: one PostgreSQL server on loopback), and instances launched from an image that
//! serves an app run it on an address of their own ([`apps`]).
//! [`seed`] creates the "production" side that drills restore from.

pub mod apps;
pub mod authority;
pub mod backups;
pub mod data;
pub mod dns;
pub mod faults;
pub mod lifecycle;
pub mod local;
pub mod proxy;
pub mod seed;
pub mod venv;
pub mod xml;

pub use local::{LocalSandbox, SandboxOptions, SandboxRecord};
pub use proxy::{ProxyConfig, Stats};
