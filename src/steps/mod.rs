//! The step kinds: the one table of them, and every per-kind dispatch generated from it.
//!
//! A kind lives in its own folder beside this file: `mod.rs` is its language side (the typed
//! `with` struct, which derives `Deserialize` and `JsonSchema` and implements [`Kind`]) and
//! `action.rs` its runtime side (the calls, implementing [`Perform`]). The [`kinds!`] table
//! below lists every kind once; the `Action` enum, parsing, the schema, `needs_aws` and
//! `perform` are generated from it, each an exhaustive match, so a kind that forgets a case
//! does not compile. The resources a run creates are listed once in [`resource`]; their
//! find/owner/delete dispatch is at the end of this file, exhaustive the same way.
//!
//! Adding a step kind (ARCHITECTURE.md has the whole checklist): a folder with `mod.rs`
//! (implement [`Kind`]) and `action.rs` (implement [`Perform`], producing exactly the declared
//! outputs), one line in the table below, an example in the README and in
//! `tests/outputs_contract.rs`.
//!
//! The rest of the crate reaches kinds only through this file: the language side through
//! `Action`, [`parse`], [`info`] and [`schemas`]; the engine through `Action::perform` and
//! `Action::needs_aws`. The kinds themselves never import this file (only [`kind`],
//! [`context`] and [`resource`]), so the table can name them without a cycle.

pub mod backups;
pub mod builtin;
pub mod cloudformation;
pub mod common;
pub mod context;
pub mod ec2;
pub mod kind;
pub mod probe;
pub mod rds;
pub mod resource;
pub mod route53;

pub use kind::{CheckCx, Kind, KindInfo, Outputs};

use crate::aws::Clients;
use crate::aws::poll::Pollers;
use crate::language::de::{self, Ctx};
use crate::language::duration::Duration;
use crate::language::yaml::Node;
use context::{Perform, StepCx, StepError};
use resource::{Owner, ResourceKind};

macro_rules! kinds {
    ($( $variant:ident => $ty:ty, )*) => {
        /// A step's action: its kind and its typed `with` fields.
        #[derive(Clone, Debug)]
        pub enum Action {
            $( #[doc = concat!("`", stringify!($ty), "`")] $variant($ty), )*
        }

        /// Every kind name, in the order of the table.
        pub const NAMES: &[&str] = &[$(<$ty as Kind>::NAME,)*];

        /// Deserializes the `with` of a step of kind `name`; `None` for an unknown kind.
        pub fn parse(name: &str, with: &Node, ctx: &Ctx) -> Option<Result<Action, de::Error>> {
            match name {
                $( <$ty as Kind>::NAME => Some(de::from_node::<$ty>(with, ctx).map(Action::$variant)), )*
                _ => None,
            }
        }

        /// The kind's summary, default estimate and fixed outputs, by name.
        pub fn info(name: &str) -> Option<KindInfo> {
            match name {
                $( <$ty as Kind>::NAME => Some(KindInfo::of::<$ty>()), )*
                _ => None,
            }
        }

        /// Every kind's information, and the schema of its `with`.
        pub fn schemas(generator: &mut schemars::SchemaGenerator) -> Vec<(KindInfo, schemars::Schema)> {
            vec![$( (KindInfo::of::<$ty>(), generator.subschema_for::<$ty>()), )*]
        }

        impl Action {
            /// The `uses:` name.
            pub fn name(&self) -> &'static str {
                match self { $( Action::$variant(_) => <$ty as Kind>::NAME, )* }
            }
            /// What this step would do.
            pub fn describe(&self) -> String {
                match self { $( Action::$variant(k) => k.describe(), )* }
            }
            /// Runs the kind's own rules.
            pub fn check(&self, cx: &mut CheckCx<'_>) {
                match self { $( Action::$variant(k) => k.check(cx), )* }
            }
            /// The planning estimate from the fields, when they give one.
            pub fn estimate(&self) -> Option<Duration> {
                match self { $( Action::$variant(k) => k.estimate(), )* }
            }
            /// Whether the step measures the RPO.
            pub fn measures_rpo(&self) -> bool {
                match self { $( Action::$variant(k) => k.measures_rpo(), )* }
            }
            /// Whether steps of this kind call AWS (and so need clients and the account guard).
            pub fn needs_aws(&self) -> bool {
                match self { $( Action::$variant(k) => k.needs_aws(), )* }
            }
            /// Whether the step could start now, from read-only calls only.
            pub async fn ready(&self, cx: &context::ReadyCx<'_>) -> context::Readiness {
                match self { $( Action::$variant(k) => k.ready(cx).await, )* }
            }
            /// Makes attempt `attempt` of the step: start, await completion, give the outputs.
            pub async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<context::Outputs, StepError> {
                if cx.cancel.is_cancelled() {
                    return Err(StepError::Cancelled);
                }
                match self { $( Action::$variant(k) => k.perform(cx, attempt).await, )* }
            }
        }
    };
}

kinds! {
    RdsRestoreSnapshot => rds::RestoreSnapshot,
    RdsRestorePitr => rds::RestorePitr,
    RdsRestoreCluster => rds::RestoreCluster,
    Ec2Launch => ec2::Launch,
    Ec2RestoreVolume => ec2::RestoreVolume,
    CloudFormationStack => cloudformation::Stack,
    Route53Record => route53::Record,
    CheckBackups => backups::CheckBackups,
    ProbeHttp => probe::Http,
    ProbeTcp => probe::Tcp,
    ProbeDns => probe::Dns,
    ProbeSql => probe::Sql,
    ProbeCommand => probe::Command,
    Run => builtin::Run,
    Wait => builtin::Wait,
    Manual => builtin::Manual,
}

/// What teardown asks of each kind of resource, dispatched to the service that knows the calls.
impl ResourceKind {
    /// How resource `id` reads in messages (a changed record: its name, type and zone).
    pub fn label(self, id: &str) -> String {
        match self {
            ResourceKind::Route53Record => route53::action::label(id),
            ResourceKind::Ec2Instance
            | ResourceKind::Ec2Volume
            | ResourceKind::RdsInstance
            | ResourceKind::RdsCluster
            | ResourceKind::RdsSnapshot
            | ResourceKind::CfnStack => id.to_owned(),
        }
    }

    /// The id of the resource created with `token`, if one exists.
    pub async fn find(self, pollers: &Pollers, token: &str) -> Result<Option<String>, String> {
        let clients = pollers.clients()?;
        match self {
            ResourceKind::Ec2Instance => ec2::action::find_instance(clients, token).await,
            ResourceKind::Ec2Volume => ec2::action::find_volume(clients, token).await,
            // RDS identifiers and stack names are the tokens themselves.
            ResourceKind::RdsInstance
            | ResourceKind::RdsCluster
            | ResourceKind::RdsSnapshot
            | ResourceKind::CfnStack => {
                Ok((self.owner(pollers, token).await? != Owner::Gone).then(|| token.to_owned()))
            }
            // The record's journal row holds everything before the change is made.
            ResourceKind::Route53Record => Ok(None),
        }
    }

    /// Who owns resource `id`, by its tags.
    pub async fn owner(self, pollers: &Pollers, id: &str) -> Result<Owner, String> {
        match self {
            ResourceKind::Ec2Instance => ec2::action::instance_owner(pollers, id).await,
            ResourceKind::Ec2Volume => ec2::action::volume_owner(pollers, id).await,
            ResourceKind::RdsInstance => rds::action::instance_owner(pollers, id).await,
            ResourceKind::RdsCluster => rds::action::cluster_owner(pollers, id).await,
            ResourceKind::RdsSnapshot => rds::action::snapshot_owner(pollers, id).await,
            ResourceKind::CfnStack => cloudformation::action::stack_owner(pollers, id).await,
            ResourceKind::Route53Record => {
                route53::action::record_owner(pollers.clients()?, id).await
            }
        }
    }

    /// Asks for the deletion of resource `id`.
    pub async fn delete(self, pollers: &Pollers, id: &str) -> Result<(), String> {
        let clients = pollers.clients()?;
        match self {
            ResourceKind::Ec2Instance => ec2::action::terminate_instance(clients, id).await,
            ResourceKind::Ec2Volume => ec2::action::delete_volume(clients, id).await,
            ResourceKind::RdsInstance => rds::action::delete_instance(clients, id).await,
            ResourceKind::RdsCluster => rds::action::delete_cluster(clients, id).await,
            ResourceKind::RdsSnapshot => rds::action::delete_snapshot(clients, id).await,
            ResourceKind::CfnStack => cloudformation::action::delete_stack(clients, id).await,
            ResourceKind::Route53Record => route53::action::restore_record(clients, id).await,
        }
    }

    /// The resources of this kind that carry firedrill's run tag (a changed record carries no
    /// tag: only the journal knows it).
    pub async fn tagged(self, clients: &Clients) -> Result<Vec<resource::Tagged>, String> {
        match self {
            ResourceKind::Ec2Instance | ResourceKind::Ec2Volume => {
                ec2::action::tagged(clients, self).await
            }
            ResourceKind::RdsInstance | ResourceKind::RdsCluster | ResourceKind::RdsSnapshot => {
                rds::action::tagged(clients, self).await
            }
            ResourceKind::CfnStack => cloudformation::action::tagged(clients).await,
            ResourceKind::Route53Record => Ok(Vec::new()),
        }
    }

    /// Deletes what AWS keeps of resource `id` after it is gone (an RDS instance's or cluster's
    /// retained automated backups); returns how many it deleted.
    pub async fn delete_leftovers(self, pollers: &Pollers, id: &str) -> Result<usize, String> {
        let clients = pollers.clients()?;
        match self {
            ResourceKind::RdsInstance => rds::action::delete_instance_backups(clients, id).await,
            ResourceKind::RdsCluster => rds::action::delete_cluster_backups(clients, id).await,
            ResourceKind::Ec2Instance
            | ResourceKind::Ec2Volume
            | ResourceKind::RdsSnapshot
            | ResourceKind::CfnStack
            | ResourceKind::Route53Record => Ok(0),
        }
    }

    /// What deleting resource `id` did, in words: `deleted`, or for a changed record what was
    /// put back (`restored (A 10.0.1.10, TTL 300)`).
    pub fn undone(self, id: &str) -> String {
        match self {
            ResourceKind::Route53Record => route53::action::undone(id),
            ResourceKind::Ec2Instance
            | ResourceKind::Ec2Volume
            | ResourceKind::RdsInstance
            | ResourceKind::RdsCluster
            | ResourceKind::RdsSnapshot
            | ResourceKind::CfnStack => "deleted".to_owned(),
        }
    }

    /// Whether resource `id` is gone.
    pub async fn is_gone(self, pollers: &Pollers, id: &str) -> Result<bool, String> {
        Ok(self.owner(pollers, id).await? == Owner::Gone)
    }
}
