//! `check.backups`, language side: what the step looks at and its rules (read-only: it only
//! lists recovery points). The calls are in [`action`]; this side never imports AWS, store or
//! engine code.

pub mod action;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::shapes::is_account_id;
use crate::language::template::Template;
use crate::steps::kind::{CheckCx, Kind, seconds};
use crate::steps::rds::{check_region, one_u32};

/// What `check.backups` looks at.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupTarget {
    /// The kind of resource.
    #[serde(rename = "type")]
    pub kind: BackupResource,
    /// Its identifier (DB instance or cluster identifier, volume id).
    pub id: Template,
}

/// Resources whose recovery points `check.backups` knows how to find.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BackupResource {
    /// RDS DB instance snapshots.
    RdsInstance,
    /// Aurora DB cluster snapshots.
    RdsCluster,
    /// EBS volume snapshots.
    EbsVolume,
}

/// Where a copy of the backups must exist.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyRequirement {
    /// A copy must exist in this region.
    pub region: Option<String>,
    /// A copy must exist in this account (shared with, or copied to, it).
    pub account: Option<String>,
}

/// Check that backups exist, are recent, and are isolated (read-only).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBackups {
    /// The resources whose recovery points are checked.
    pub resources: Vec<BackupTarget>,
    /// The newest recovery point must be younger than this (default: `targets.rpo`).
    pub max_age: Option<Duration>,
    /// Require a copy in another region or account.
    pub copy: Option<CopyRequirement>,
    /// At least this many recovery points must exist (default 1).
    #[serde(default = "one_u32")]
    pub min_points: u32,
}

impl Kind for CheckBackups {
    const NAME: &'static str = "check.backups";
    const SUMMARY: &'static str = "Check (read-only) that recent recovery points exist and, when asked, that copies exist in another region or account.";
    const DEFAULT_ESTIMATE: Duration = seconds(10);
    const OUTPUTS: &'static [&'static str] = &["newest_recovery_point_time", "rpo_secs"];

    const LITERAL_FIELDS: &'static [&'static str] = &["copy.region", "copy.account"];

    fn describe(&self) -> String {
        let names: Vec<String> = self
            .resources
            .iter()
            .map(|r| format!("`{}`", r.id))
            .collect();
        let mut s = format!("check the recovery points of {}", names.join(", "));
        if let Some(copy) = &self.copy {
            if let Some(region) = &copy.region {
                s.push_str(&format!(", with a copy in {region}"));
            }
            if let Some(account) = &copy.account {
                s.push_str(&format!(", with a copy in account {account}"));
            }
        }
        s
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.resources.is_empty() {
            cx.error(
                &["resources"],
                "there is nothing to check",
                "list at least one resource: `- { type: rds-instance, id: my-db }`",
            );
        }
        if let Some(copy) = &self.copy {
            check_region(cx, "copy", copy.region.as_deref());
            if let Some(account) = &copy.account
                && !is_account_id(account)
            {
                cx.error(
                    &["copy", "account"],
                    format!("`{account}` is not a 12-digit account id"),
                    "quote it: account: \"111122223333\"",
                );
            }
            if copy.region.is_none() && copy.account.is_none() {
                cx.error(
                    &["copy"],
                    "`copy` names neither a region nor an account",
                    "add `region:` or `account:`",
                );
            }
        }
        if self.max_age.is_some_and(Duration::is_zero) {
            cx.error(
                &["max_age"],
                "`max_age: 0s` can never pass",
                "write the age the newest backup may have, like 24h",
            );
        }
    }

    fn measures_rpo(&self) -> bool {
        true
    }
}
