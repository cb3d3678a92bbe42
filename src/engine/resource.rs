//! The kinds of resource a drill creates, and what teardown asks of each: find it by the token
//! it was created with (after a crash between intent and confirmation), say who owns it (its
//! tags), delete it, and say whether it is gone.
//!
//! Teardown deletes a resource only when the journal says this run created it *and* its tags
//! confirm it: a journal row that points at anything else (a pre-existing resource, another
//! run's) is refused and reported, never deleted.

use super::poll::Pollers;
use super::{cloudformation, ec2, rds, route53};

/// The tag holding the id of the run that created a resource.
pub const TAG_RUN: &str = "firedrill:run-id";
/// The tag holding the playbook's name.
pub const TAG_PLAYBOOK: &str = "firedrill:playbook";
/// The tag holding the step that created a resource.
pub const TAG_STEP: &str = "firedrill:step";
/// The tag holding the name or idempotency token a resource was created with.
pub const TAG_TOKEN: &str = "firedrill:token";
/// The tag holding when a resource may be considered abandoned (RFC 3339): the end of the
/// run's `keep_for`, or a day after the run started.
pub const TAG_EXPIRES: &str = "firedrill:expires-at";

/// A kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// An EC2 instance (`ec2.launch`).
    Ec2Instance,
    /// An EBS volume (`ec2.restore-volume`).
    Ec2Volume,
    /// An RDS DB instance (`rds.restore-snapshot`, `rds.restore-pitr`, and an Aurora
    /// cluster's instances).
    RdsInstance,
    /// An Aurora DB cluster (`rds.restore-cluster`).
    RdsCluster,
    /// A DB snapshot copied from another region (`rds.restore-snapshot` with `source_region`).
    RdsSnapshot,
    /// A CloudFormation stack (`cloudformation.stack`).
    CfnStack,
    /// A Route53 record set a drill changed (`route53.record`): "deleting" it puts back what
    /// was there before.
    Route53Record,
}

/// Who a resource belongs to, by its tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The resource does not exist (any more).
    Gone,
    /// Tagged with this run id.
    Run(String),
    /// No firedrill run tag: not created by firedrill.
    Untagged,
    /// It is no longer what the run made it (a record someone changed since): the reason.
    Changed(String),
}

impl Owner {
    /// The owner a resource's tags (key, value) name: the run in `firedrill:run-id`, or
    /// nobody firedrill knows.
    pub fn from_tags<'t>(
        mut tags: impl Iterator<Item = (Option<&'t str>, Option<&'t str>)>,
    ) -> Self {
        tags.find(|(k, _)| *k == Some(TAG_RUN))
            .and_then(|(_, v)| v)
            .map_or(Owner::Untagged, |v| Owner::Run(v.to_owned()))
    }
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: &'static [ResourceKind] = &[
        ResourceKind::Ec2Instance,
        ResourceKind::Ec2Volume,
        ResourceKind::RdsInstance,
        ResourceKind::RdsCluster,
        ResourceKind::RdsSnapshot,
        ResourceKind::CfnStack,
        ResourceKind::Route53Record,
    ];

    /// The name in the journal.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Ec2Instance => "ec2-instance",
            ResourceKind::Ec2Volume => "ec2-volume",
            ResourceKind::RdsInstance => "rds-instance",
            ResourceKind::RdsCluster => "rds-cluster",
            ResourceKind::RdsSnapshot => "rds-snapshot",
            ResourceKind::CfnStack => "cloudformation-stack",
            ResourceKind::Route53Record => "route53-record",
        }
    }

    /// The kind with journal name `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// How resource `id` reads in messages (a changed record: its name, type and zone).
    pub fn label(self, id: &str) -> String {
        match self {
            ResourceKind::Route53Record => route53::label(id),
            _ => id.to_owned(),
        }
    }

    /// The id of the resource created with `token`, if one exists.
    pub async fn find(self, pollers: &Pollers, token: &str) -> Result<Option<String>, String> {
        let clients = pollers.clients()?;
        match self {
            ResourceKind::Ec2Instance => ec2::find_instance(clients, token).await,
            ResourceKind::Ec2Volume => ec2::find_volume(clients, token).await,
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
            ResourceKind::Ec2Instance => ec2::instance_owner(pollers, id).await,
            ResourceKind::Ec2Volume => ec2::volume_owner(pollers, id).await,
            ResourceKind::RdsInstance => rds::instance_owner(pollers, id).await,
            ResourceKind::RdsCluster => rds::cluster_owner(pollers, id).await,
            ResourceKind::RdsSnapshot => rds::snapshot_owner(pollers, id).await,
            ResourceKind::CfnStack => cloudformation::stack_owner(pollers, id).await,
            ResourceKind::Route53Record => route53::record_owner(pollers.clients()?, id).await,
        }
    }

    /// Asks for the deletion of resource `id`.
    pub async fn delete(self, pollers: &Pollers, id: &str) -> Result<(), String> {
        let clients = pollers.clients()?;
        match self {
            ResourceKind::Ec2Instance => ec2::terminate_instance(clients, id).await,
            ResourceKind::Ec2Volume => ec2::delete_volume(clients, id).await,
            ResourceKind::RdsInstance => rds::delete_instance(clients, id).await,
            ResourceKind::RdsCluster => rds::delete_cluster(clients, id).await,
            ResourceKind::RdsSnapshot => rds::delete_snapshot(clients, id).await,
            ResourceKind::CfnStack => cloudformation::delete_stack(clients, id).await,
            ResourceKind::Route53Record => route53::restore_record(clients, id).await,
        }
    }

    /// Whether resource `id` is gone.
    pub async fn is_gone(self, pollers: &Pollers, id: &str) -> Result<bool, String> {
        Ok(self.owner(pollers, id).await? == Owner::Gone)
    }
}

/// How a journaled resource reads in messages: its id (a changed record: its name, type and
/// zone), or the token it was intended with when it has no id yet.
pub fn label(r: &crate::journal::ResourceRecord) -> String {
    match (&r.resource_id, ResourceKind::parse(&r.kind)) {
        (Some(id), Some(kind)) => kind.label(id),
        (Some(id), None) => id.clone(),
        (None, _) => r.token.clone(),
    }
}

/// An AWS SDK error as one line: the service's code and message when it gave them.
pub fn sdk_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => crate::diag::error_chain(e),
    }
}

/// The AWS error code of an SDK error, if it has one.
pub fn sdk_code<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    e.code()
}
