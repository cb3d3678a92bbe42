//! The drill engine behind `firedrill run` and `firedrill teardown`.
//!
//! - [`dispatch`]: the one loop that owns a run's state and starts steps as their
//!   dependencies succeed; it ends in a named state, then applies the teardown policy.
//! - [`step`]: what a running step sees (resolved references, clients, the journal) and the
//!   action interface's one way to create: intent journaled first, id after.
//! - [`builtin`], [`ec2`], [`rds`], [`cloudformation`], [`route53`], [`backups`]: the step
//!   kinds of AWS resources, [`probe`] and [`sql`]: the probes;
//!   [`poll`]: the shared pollers they wait through.
//! - [`resource`]: the kinds of resource a run creates, and how teardown finds, checks and
//!   deletes each; [`teardown`]: teardown itself.
//! - [`recorder`]: the thread that writes the journal; [`event`]: what happens, on the run's
//!   monotonic clock; [`progress`]: bars and log lines; [`report`]: the JSON run report.

pub mod backups;
pub mod builtin;
pub mod cloudformation;
pub mod dispatch;
pub mod ec2;
pub mod event;
pub mod poll;
pub mod probe;
pub mod progress;
pub mod rds;
pub mod recorder;
pub mod report;
pub mod resource;
pub mod route53;
pub mod sql;
pub mod step;
pub mod teardown;

use crate::kinds::Action;
use step::{Outputs, StepCx, StepError};

/// Whether steps of `action`'s kind call AWS (and so need clients and the account guard).
pub fn needs_aws(action: &Action) -> bool {
    match action {
        Action::Run(_)
        | Action::Wait(_)
        | Action::Manual(_)
        | Action::ProbeHttp(_)
        | Action::ProbeTcp(_)
        | Action::ProbeSql(_)
        | Action::ProbeCommand(_) => false,
        Action::ProbeDns(with) => with.via == crate::kinds::probe::DnsVia::Route53,
        _ => true,
    }
}

/// Makes attempt `attempt` of a step: start, await completion, give the outputs.
pub async fn perform(action: &Action, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    if cx.cancel.is_cancelled() {
        return Err(StepError::Cancelled);
    }
    match action {
        Action::Run(with) => builtin::run(with, cx).await,
        Action::Wait(with) => builtin::wait(with, cx).await,
        Action::Manual(with) => builtin::manual(with, cx).await,
        Action::Ec2Launch(with) => ec2::launch(with, cx, attempt).await,
        Action::Ec2RestoreVolume(with) => ec2::restore_volume(with, cx, attempt).await,
        Action::RdsRestoreSnapshot(with) => rds::restore_snapshot(with, cx, attempt).await,
        Action::RdsRestorePitr(with) => rds::restore_pitr(with, cx, attempt).await,
        Action::RdsRestoreCluster(with) => rds::restore_cluster(with, cx, attempt).await,
        Action::CloudFormationStack(with) => cloudformation::create(with, cx, attempt).await,
        Action::Route53Record(with) => route53::upsert(with, cx, attempt).await,
        Action::CheckBackups(with) => backups::check(with, cx).await,
        Action::ProbeHttp(with) => probe::http(with, cx, attempt).await,
        Action::ProbeDns(with) => probe::dns(with, cx, attempt).await,
        Action::ProbeTcp(with) => probe::tcp(with, cx, attempt).await,
        Action::ProbeCommand(with) => probe::command(with, cx, attempt).await,
        Action::ProbeSql(with) => sql::sql(with, cx, attempt).await,
    }
}
