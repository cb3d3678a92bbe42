//! What the realism layer knows about resource lifecycles: which calls create, modify or
//! delete which kind of resource, how long that takes in AWS, and how describe responses show
//! a resource that is not ready yet.
//!
//! The durations are round, typical figures for small resources in one region, from AWS
//! documentation where it gives one and from commonly reported timings where it does not:
//! - Route53: changes reach all authoritative servers "within 60 seconds" (Route53 developer
//!   guide, `GetChange`): 60 s PENDING.
//! - RDS: a restore of a small instance from a snapshot typically takes 10 to 20 minutes,
//!   point in time a little longer (the RDS user guide gives no figure; it depends on size):
//!   15 min and 20 min. Deleting an instance without a final snapshot: about 5 min.
//! - Aurora: a cluster restores in about 5 to 10 minutes, each instance in 5 to 10 more.
//! - EC2: an instance is `running` within about 30 s; an EBS volume from a snapshot is
//!   `available` in seconds (data loads lazily); an incremental snapshot completes in minutes;
//!   an AMI is `available` in about 5 minutes.
//! - CloudFormation: a small network stack (VPC, subnets, groups) takes about 2 to 3 minutes.
//!
//! Every duration is multiplied by the sandbox's time scale (0.01 turns the 15-minute RDS
//! restore into 9 s) and varied by up to ±20% by the seed, so that parallel restores do not
//! finish in lockstep.

use std::time::Duration;

/// The kinds of resource whose lifecycle is emulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An RDS DB instance.
    RdsInstance,
    /// An Aurora DB cluster.
    RdsCluster,
    /// An RDS DB snapshot.
    RdsSnapshot,
    /// An Aurora DB cluster snapshot.
    RdsClusterSnapshot,
    /// An EC2 instance.
    Ec2Instance,
    /// An EBS volume.
    Ec2Volume,
    /// An EBS snapshot.
    Ec2Snapshot,
    /// An AMI.
    Ec2Image,
    /// A CloudFormation stack.
    CfnStack,
    /// A Route53 change batch.
    Route53Change,
}

/// What a call does to a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// It is being created.
    Create,
    /// It is being modified.
    Modify,
    /// It is being deleted.
    Delete,
}

/// How a kind shows in describe responses.
#[derive(Debug)]
pub struct Shape {
    /// The kind.
    pub kind: Kind,
    /// The describe actions whose responses list it.
    pub describe: &'static [&'static str],
    /// Child paths of a member element that hold its identifier (any of them matches).
    pub id_paths: &'static [&'static [&'static str]],
    /// The child path of the status.
    pub status_path: &'static [&'static str],
    /// The child path of a numeric state code (EC2 instances), if any.
    pub code_path: Option<&'static [&'static str]>,
    /// The status while creating, when ready, while modifying, while deleting.
    pub creating: &'static str,
    /// The status when ready.
    pub ready: &'static str,
    /// The status while modifying.
    pub modifying: &'static str,
    /// The status while deleting.
    pub deleting: &'static str,
    /// Status values that moto reports for a deleted resource it keeps listing.
    pub deleted: &'static [&'static str],
    /// Child paths of creation times, rewritten for seeded resources of a given age.
    pub time_paths: &'static [&'static [&'static str]],
    /// Whether moto forgets a deleted resource at once (then the layer keeps showing it as
    /// deleting from a copy taken just before the delete).
    pub vanishes: bool,
}

/// Every kind's shape.
pub const SHAPES: &[Shape] = &[
    Shape {
        kind: Kind::RdsInstance,
        describe: &["DescribeDBInstances"],
        id_paths: &[&["DBInstanceIdentifier"]],
        status_path: &["DBInstanceStatus"],
        code_path: None,
        creating: "creating",
        ready: "available",
        modifying: "modifying",
        deleting: "deleting",
        deleted: &[],
        time_paths: &[],
        vanishes: true,
    },
    Shape {
        kind: Kind::RdsCluster,
        describe: &["DescribeDBClusters"],
        id_paths: &[&["DBClusterIdentifier"]],
        status_path: &["Status"],
        code_path: None,
        creating: "creating",
        ready: "available",
        modifying: "modifying",
        deleting: "deleting",
        deleted: &[],
        time_paths: &[],
        vanishes: true,
    },
    Shape {
        kind: Kind::RdsSnapshot,
        describe: &["DescribeDBSnapshots"],
        id_paths: &[&["DBSnapshotIdentifier"]],
        status_path: &["Status"],
        code_path: None,
        creating: "creating",
        ready: "available",
        modifying: "modifying",
        deleting: "deleting",
        deleted: &[],
        time_paths: &[&["SnapshotCreateTime"], &["OriginalSnapshotCreateTime"]],
        vanishes: false,
    },
    Shape {
        kind: Kind::RdsClusterSnapshot,
        describe: &["DescribeDBClusterSnapshots"],
        id_paths: &[&["DBClusterSnapshotIdentifier"]],
        status_path: &["Status"],
        code_path: None,
        creating: "creating",
        ready: "available",
        modifying: "modifying",
        deleting: "deleting",
        deleted: &[],
        time_paths: &[&["SnapshotCreateTime"]],
        vanishes: false,
    },
    Shape {
        kind: Kind::Ec2Instance,
        describe: &["DescribeInstances"],
        id_paths: &[&["instanceId"]],
        status_path: &["instanceState", "name"],
        code_path: Some(&["instanceState", "code"]),
        creating: "pending",
        ready: "running",
        modifying: "stopping",
        deleting: "shutting-down",
        deleted: &["terminated"],
        time_paths: &[],
        vanishes: false,
    },
    Shape {
        kind: Kind::Ec2Volume,
        describe: &["DescribeVolumes"],
        id_paths: &[&["volumeId"]],
        status_path: &["status"],
        code_path: None,
        creating: "creating",
        ready: "available",
        modifying: "available",
        deleting: "deleting",
        deleted: &[],
        time_paths: &[],
        vanishes: true,
    },
    Shape {
        kind: Kind::Ec2Snapshot,
        describe: &["DescribeSnapshots"],
        id_paths: &[&["snapshotId"]],
        status_path: &["status"],
        code_path: None,
        creating: "pending",
        ready: "completed",
        modifying: "completed",
        deleting: "completed",
        deleted: &[],
        time_paths: &[&["startTime"]],
        vanishes: false,
    },
    Shape {
        kind: Kind::Ec2Image,
        describe: &["DescribeImages"],
        id_paths: &[&["imageId"]],
        status_path: &["imageState"],
        code_path: None,
        creating: "pending",
        ready: "available",
        modifying: "available",
        deleting: "deregistered",
        deleted: &[],
        time_paths: &[&["creationDate"]],
        vanishes: false,
    },
    Shape {
        kind: Kind::CfnStack,
        describe: &["DescribeStacks"],
        id_paths: &[&["StackId"], &["StackName"]],
        status_path: &["StackStatus"],
        code_path: None,
        creating: "CREATE_IN_PROGRESS",
        ready: "CREATE_COMPLETE",
        modifying: "UPDATE_IN_PROGRESS",
        deleting: "DELETE_IN_PROGRESS",
        deleted: &["DELETE_COMPLETE"],
        time_paths: &[],
        vanishes: true,
    },
    Shape {
        kind: Kind::Route53Change,
        describe: &["GetChange"],
        id_paths: &[&["Id"]],
        status_path: &["Status"],
        code_path: None,
        creating: "PENDING",
        ready: "INSYNC",
        modifying: "PENDING",
        deleting: "PENDING",
        deleted: &[],
        time_paths: &[],
        vanishes: false,
    },
];

/// The shape of `kind`.
pub fn shape(kind: Kind) -> &'static Shape {
    SHAPES
        .iter()
        .find(|s| s.kind == kind)
        .expect("every kind has a shape")
}

/// A call that starts a lifecycle, and where its response names the resource.
#[derive(Debug)]
pub struct Transition {
    /// The action.
    pub action: &'static str,
    /// The resource kind.
    pub kind: Kind,
    /// What happens.
    pub phase: Phase,
    /// How long it takes in AWS, before scaling.
    pub duration: Duration,
    /// The request parameters naming the resource (for deletes and modifications).
    pub request_ids: &'static [&'static str],
}

const fn t(
    action: &'static str,
    kind: Kind,
    phase: Phase,
    secs: u64,
    request_ids: &'static [&'static str],
) -> Transition {
    Transition {
        action,
        kind,
        phase,
        duration: Duration::from_secs(secs),
        request_ids,
    }
}

/// Every call the layer gives a lifecycle to.
pub const TRANSITIONS: &[Transition] = &[
    t(
        "RestoreDBInstanceFromDBSnapshot",
        Kind::RdsInstance,
        Phase::Create,
        900,
        &[],
    ),
    t(
        "RestoreDBInstanceToPointInTime",
        Kind::RdsInstance,
        Phase::Create,
        1200,
        &[],
    ),
    t(
        "CreateDBInstance",
        Kind::RdsInstance,
        Phase::Create,
        600,
        &[],
    ),
    t(
        "CreateDBInstanceReadReplica",
        Kind::RdsInstance,
        Phase::Create,
        900,
        &[],
    ),
    t(
        "ModifyDBInstance",
        Kind::RdsInstance,
        Phase::Modify,
        120,
        &["DBInstanceIdentifier"],
    ),
    t(
        "DeleteDBInstance",
        Kind::RdsInstance,
        Phase::Delete,
        300,
        &["DBInstanceIdentifier"],
    ),
    t(
        "RestoreDBClusterFromSnapshot",
        Kind::RdsCluster,
        Phase::Create,
        480,
        &[],
    ),
    t(
        "RestoreDBClusterToPointInTime",
        Kind::RdsCluster,
        Phase::Create,
        600,
        &[],
    ),
    t("CreateDBCluster", Kind::RdsCluster, Phase::Create, 480, &[]),
    t(
        "DeleteDBCluster",
        Kind::RdsCluster,
        Phase::Delete,
        300,
        &["DBClusterIdentifier"],
    ),
    t(
        "CreateDBSnapshot",
        Kind::RdsSnapshot,
        Phase::Create,
        300,
        &[],
    ),
    t("CopyDBSnapshot", Kind::RdsSnapshot, Phase::Create, 600, &[]),
    t(
        "CreateDBClusterSnapshot",
        Kind::RdsClusterSnapshot,
        Phase::Create,
        300,
        &[],
    ),
    t("RunInstances", Kind::Ec2Instance, Phase::Create, 30, &[]),
    t(
        "TerminateInstances",
        Kind::Ec2Instance,
        Phase::Delete,
        45,
        &["InstanceId"],
    ),
    t("CreateVolume", Kind::Ec2Volume, Phase::Create, 20, &[]),
    t(
        "DeleteVolume",
        Kind::Ec2Volume,
        Phase::Delete,
        10,
        &["VolumeId"],
    ),
    t("CreateSnapshot", Kind::Ec2Snapshot, Phase::Create, 300, &[]),
    t("CreateImage", Kind::Ec2Image, Phase::Create, 300, &[]),
    t("RegisterImage", Kind::Ec2Image, Phase::Create, 60, &[]),
    t("CopyImage", Kind::Ec2Image, Phase::Create, 600, &[]),
    t("CreateStack", Kind::CfnStack, Phase::Create, 150, &[]),
    t(
        "DeleteStack",
        Kind::CfnStack,
        Phase::Delete,
        120,
        &["StackName"],
    ),
    t(
        "ChangeResourceRecordSets",
        Kind::Route53Change,
        Phase::Create,
        60,
        &[],
    ),
    t(
        "CreateHostedZone",
        Kind::Route53Change,
        Phase::Create,
        60,
        &[],
    ),
];

impl Transition {
    /// The resources a request names in the parameters of this transition (`InstanceId.1`,
    /// `DBInstanceIdentifier`, ...).
    pub fn named_ids<'p>(
        &self,
        params: &'p [(String, String)],
    ) -> impl Iterator<Item = &'p str> + use<'p, '_> {
        params
            .iter()
            .filter(|(k, _)| {
                self.request_ids
                    .iter()
                    .any(|r| k == r || k.strip_prefix(r).is_some_and(|rest| rest.starts_with('.')))
            })
            .map(|(_, v)| v.as_str())
    }
}

/// The transition an action starts, if any.
pub fn transition(action: &str) -> Option<&'static Transition> {
    TRANSITIONS.iter().find(|t| t.action == action)
}

/// The shapes a describe action shows.
pub fn shapes_for_describe(action: &str) -> impl Iterator<Item = &'static Shape> + '_ {
    SHAPES.iter().filter(move |s| s.describe.contains(&action))
}

/// EC2's numeric instance state codes.
pub fn ec2_state_code(state: &str) -> &'static str {
    match state {
        "pending" => "0",
        "running" => "16",
        "shutting-down" => "32",
        "terminated" => "48",
        "stopping" => "64",
        _ => "80",
    }
}

/// Route53 change ids appear as `/change/C123` and `C123`; both name the same change.
pub fn normalize_id(kind: Kind, id: &str) -> String {
    match kind {
        Kind::Route53Change => id.trim_start_matches("/change/").to_owned(),
        _ => id.to_owned(),
    }
}
