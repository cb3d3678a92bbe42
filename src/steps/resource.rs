//! The kinds of resource a drill creates (the one list of them), the tags that mark them, and
//! who owns one. What teardown asks of each kind (find it by the token it was created with
//! after a crash between intent and confirmation, say who owns it, delete it, say whether it
//! is gone) is dispatched in `steps/mod.rs`, one exhaustive match per question, to the
//! service folder that knows the calls.
//!
//! Teardown deletes a resource only when the journal says this run created it *and* its tags
//! confirm it: a journal row that points at anything else (a pre-existing resource, another
//! run's) is refused and reported, never deleted.

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

/// A resource found by firedrill's run tag, with all its tags (what `firedrill sweep` lists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tagged {
    /// What it is.
    pub kind: ResourceKind,
    /// Its id.
    pub id: String,
    /// Its tags.
    pub tags: std::collections::BTreeMap<String, String>,
}

impl Tagged {
    /// A resource of `kind` with these tags, when one of them is firedrill's run tag.
    pub fn of<'t>(
        kind: ResourceKind,
        id: &str,
        tags: impl Iterator<Item = (Option<&'t str>, Option<&'t str>)>,
    ) -> Option<Self> {
        let tags: std::collections::BTreeMap<String, String> = tags
            .filter_map(|(k, v)| Some((k?.to_owned(), v.unwrap_or_default().to_owned())))
            .collect();
        tags.contains_key(TAG_RUN).then(|| Self {
            kind,
            id: id.to_owned(),
            tags,
        })
    }

    /// The run its tag names.
    pub fn run(&self) -> &str {
        self.tags.get(TAG_RUN).map_or("", String::as_str)
    }
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
}

/// How a journaled resource reads in messages: its id (a changed record: its name, type and
/// zone), or the token it was intended with when it has no id yet.
pub fn label(r: &crate::store::journal::ResourceRecord) -> String {
    match (&r.resource_id, ResourceKind::parse(&r.kind)) {
        (Some(id), Some(kind)) => kind.label(id),
        (Some(id), None) => id.clone(),
        (None, _) => r.token.clone(),
    }
}
