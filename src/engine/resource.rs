//! The kinds of resource a drill creates, and what teardown asks of each: find it by the token
//! it was created with (after a crash between intent and confirmation), say who owns it (its
//! tags), delete it, and say whether it is gone.
//!
//! Teardown deletes a resource only when the journal says this run created it *and* its tags
//! confirm it: a journal row that points at anything else (a pre-existing resource, another
//! run's) is refused and reported, never deleted.

use super::ec2;
use crate::aws::Clients;

/// The tag holding the id of the run that created a resource.
pub const TAG_RUN: &str = "firedrill:run-id";
/// The tag holding the playbook's name.
pub const TAG_PLAYBOOK: &str = "firedrill:playbook";
/// The tag holding the step that created a resource.
pub const TAG_STEP: &str = "firedrill:step";
/// The tag holding the name or idempotency token a resource was created with.
pub const TAG_TOKEN: &str = "firedrill:token";

/// A kind of resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResourceKind {
    /// An EC2 instance (`ec2.launch`).
    Ec2Instance,
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
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: &'static [ResourceKind] = &[ResourceKind::Ec2Instance];

    /// The name in the journal.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::Ec2Instance => "ec2-instance",
        }
    }

    /// The kind with journal name `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// The id of the resource created with `token`, if one exists.
    pub async fn find(self, clients: &Clients, token: &str) -> Result<Option<String>, String> {
        match self {
            ResourceKind::Ec2Instance => ec2::find_instance(clients, token).await,
        }
    }

    /// Who owns resource `id`, by its tags.
    pub async fn owner(self, clients: &Clients, id: &str) -> Result<Owner, String> {
        match self {
            ResourceKind::Ec2Instance => ec2::instance_owner(clients, id).await,
        }
    }

    /// Asks for the deletion of resource `id`.
    pub async fn delete(self, clients: &Clients, id: &str) -> Result<(), String> {
        match self {
            ResourceKind::Ec2Instance => ec2::terminate_instance(clients, id).await,
        }
    }

    /// Whether resource `id` is gone.
    pub async fn is_gone(self, clients: &Clients, id: &str) -> Result<bool, String> {
        match self {
            ResourceKind::Ec2Instance => Ok(ec2::instance_owner(clients, id).await? == Owner::Gone),
        }
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
        _ => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
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
