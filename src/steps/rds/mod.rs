//! The RDS kinds, language side: `rds.restore-snapshot`, `rds.restore-pitr` and
//! `rds.restore-cluster` (their fields, outputs and rules). The calls are in [`action`]; this
//! side never imports AWS, store or engine code.

pub mod action;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::shapes::is_region;
use crate::language::template::Template;
use crate::steps::common::Selector;
use crate::steps::kind::{CheckCx, Kind, minutes};

/// Restore an RDS DB instance from a snapshot of a source instance.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreSnapshot {
    /// The source DB instance identifier whose snapshots are searched (required unless
    /// `snapshot` is an explicit identifier).
    pub source: Option<Template>,
    /// `latest` (default), a snapshot identifier or ARN, or `{latest_tagged: {key: value}}`.
    #[serde(default = "latest")]
    pub snapshot: Selector,
    /// Look for the snapshot copy in this region (a cross-region backup copy).
    pub source_region: Option<String>,
    /// The instance class of the restored instance (default: the snapshot's).
    pub instance_class: Option<Template>,
    /// The DB subnet group to restore into.
    pub subnet_group: Option<Template>,
    /// VPC security group ids.
    #[serde(default)]
    pub security_groups: Vec<Template>,
    /// The DB parameter group.
    pub parameter_group: Option<Template>,
    /// Whether the restored instance is publicly accessible (default false).
    #[serde(default)]
    pub publicly_accessible: bool,
    /// Whether the restored instance is Multi-AZ (default false: a drill needs one AZ).
    #[serde(default)]
    pub multi_az: bool,
}

fn latest() -> Selector {
    Selector::Latest
}

fn check_selector_source(
    cx: &mut CheckCx<'_>,
    snapshot: &Selector,
    source: Option<&Template>,
    what: &str,
) {
    if source.is_none() && !matches!(snapshot, Selector::Id(_)) {
        cx.error(
            &[],
            format!(
                "`snapshot: {}` needs a `source` {what} to search",
                snapshot.as_written()
            ),
            format!(
                "add `source: <{what} identifier>`, or give `snapshot:` an explicit identifier"
            ),
        );
    }
}

pub(crate) fn check_region(cx: &mut CheckCx<'_>, field: &str, region: Option<&str>) {
    if let Some(region) = region
        && !is_region(region)
    {
        cx.error(
            &[field],
            format!("`{region}` is not an AWS region"),
            "write a region like `eu-west-1`",
        );
    }
}

impl Kind for RestoreSnapshot {
    const NAME: &'static str = "rds.restore-snapshot";
    const SUMMARY: &'static str =
        "Restore an RDS DB instance from a snapshot of a source instance; waits until available.";
    const DEFAULT_ESTIMATE: Duration = minutes(20);
    const OUTPUTS: &'static [&'static str] = &[
        "id",
        "arn",
        "endpoint",
        "port",
        "snapshot_id",
        "snapshot_time",
        "rpo_secs",
    ];

    const LITERAL_FIELDS: &'static [&'static str] = &["source_region"];

    fn describe(&self) -> String {
        let source = self
            .source
            .as_ref()
            .map_or(String::new(), |s| format!(" of `{s}`"));
        let region = self
            .source_region
            .as_ref()
            .map_or(String::new(), |r| format!(" (copy in {r})"));
        format!(
            "restore a DB instance from {} snapshot{source}{region}",
            self.snapshot.describe()
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        check_selector_source(cx, &self.snapshot, self.source.as_ref(), "DB instance");
        check_region(cx, "source_region", self.source_region.as_deref());
    }

    fn measures_rpo(&self) -> bool {
        true
    }
}

/// Restore an RDS DB instance to a point in time.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestorePitr {
    /// The source DB instance identifier.
    pub source: Template,
    /// `latest` (the latest restorable time, default), an RFC 3339 time like
    /// `2026-11-24T23:00:00Z`, or a reference to one (`${env.DISASTER_TIME}`).
    #[serde(default = "latest_time")]
    pub restore_time: Template,
    /// The instance class of the restored instance (default: the source's).
    pub instance_class: Option<Template>,
    /// The DB subnet group to restore into.
    pub subnet_group: Option<Template>,
    /// VPC security group ids.
    #[serde(default)]
    pub security_groups: Vec<Template>,
    /// The DB parameter group.
    pub parameter_group: Option<Template>,
    /// Whether the restored instance is publicly accessible (default false).
    #[serde(default)]
    pub publicly_accessible: bool,
    /// Whether the restored instance is Multi-AZ (default false).
    #[serde(default)]
    pub multi_az: bool,
}

fn latest_time() -> Template {
    Template::literal("latest")
}

impl Kind for RestorePitr {
    const NAME: &'static str = "rds.restore-pitr";
    const SUMMARY: &'static str = "Restore an RDS DB instance to the latest restorable time or a given time; waits until available.";
    const DEFAULT_ESTIMATE: Duration = minutes(25);
    const OUTPUTS: &'static [&'static str] =
        &["id", "arn", "endpoint", "port", "restore_time", "rpo_secs"];

    fn describe(&self) -> String {
        let when = if self.restore_time.raw() == "latest" {
            "its latest restorable time".to_string()
        } else {
            self.restore_time.raw().to_owned()
        };
        format!("restore DB instance `{}` to {when}", self.source)
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        // A reference (`${env.DISASTER_TIME}`) is checked when it is resolved.
        if let Some(time) = self.restore_time.as_literal()
            && time != "latest"
            && chrono::DateTime::parse_from_rfc3339(&time).is_err()
        {
            cx.error(
                &["restore_time"],
                format!("`{time}` is neither `latest` nor an RFC 3339 time"),
                "write `latest`, a time like `2026-11-24T23:00:00Z`, or a reference to one",
            );
        }
    }

    fn measures_rpo(&self) -> bool {
        true
    }
}

/// Restore an Aurora DB cluster from a cluster snapshot, with its instances.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreCluster {
    /// The source DB cluster identifier whose snapshots are searched (required unless
    /// `snapshot` is an explicit identifier).
    pub source: Option<Template>,
    /// `latest` (default), a cluster snapshot identifier or ARN, or `{latest_tagged: {...}}`.
    #[serde(default = "latest")]
    pub snapshot: Selector,
    /// The engine (default: the snapshot's), e.g. `aurora-postgresql`.
    pub engine: Option<String>,
    /// The instance class of the cluster's instances.
    #[serde(default = "default_cluster_class")]
    pub instance_class: Template,
    /// How many instances to create: the first is the writer, the others readers.
    #[serde(default = "one")]
    pub instances: u8,
    /// The DB subnet group to restore into.
    pub subnet_group: Option<Template>,
    /// VPC security group ids.
    #[serde(default)]
    pub security_groups: Vec<Template>,
    /// The DB cluster parameter group.
    pub cluster_parameter_group: Option<Template>,
}

fn default_cluster_class() -> Template {
    Template::literal("db.r6g.large")
}

fn one() -> u8 {
    1
}

pub(crate) fn one_u32() -> u32 {
    1
}

impl Kind for RestoreCluster {
    const NAME: &'static str = "rds.restore-cluster";
    const SUMMARY: &'static str = "Restore an Aurora DB cluster from a cluster snapshot, plus its instances; waits until available.";
    const DEFAULT_ESTIMATE: Duration = minutes(30);
    const OUTPUTS: &'static [&'static str] = &[
        "id",
        "arn",
        "endpoint",
        "reader_endpoint",
        "port",
        "instance_ids",
        "snapshot_id",
        "snapshot_time",
        "rpo_secs",
    ];

    const LITERAL_FIELDS: &'static [&'static str] = &["engine"];

    fn describe(&self) -> String {
        let source = self
            .source
            .as_ref()
            .map_or(String::new(), |s| format!(" of `{s}`"));
        format!(
            "restore an Aurora cluster from {} cluster snapshot{source}, with {} instance(s)",
            self.snapshot.describe(),
            self.instances
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        check_selector_source(cx, &self.snapshot, self.source.as_ref(), "DB cluster");
        if !(1..=16).contains(&self.instances) {
            cx.error(
                &["instances"],
                "an Aurora cluster has 1 to 16 instances",
                "write a number from 1 to 16",
            );
        }
    }

    fn measures_rpo(&self) -> bool {
        true
    }
}
