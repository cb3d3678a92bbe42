//! `check.backups` (read-only): for each named resource, enough recovery points exist, the
//! newest is younger than the step's `max_age` (or `targets.rpo`), and, when asked, a copy
//! exists in another region or is shared with another account. Every problem of every
//! resource is reported at once.

use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::aws::sdk_error;
use crate::steps::backups::{BackupResource, CheckBackups};
use crate::steps::context::{Outputs, Perform, Readiness, ReadyCx, StepCx, StepError};
use crate::steps::rds::action::{list_snapshots, to_chrono};

/// The recovery points of one resource: (identifier, created), newest first.
type Points = Vec<(String, DateTime<Utc>)>;

async fn points(clients: &Clients, kind: BackupResource, id: &str) -> Result<Points, String> {
    let mut points: Points = match kind {
        BackupResource::RdsInstance | BackupResource::RdsCluster => {
            let cluster = kind == BackupResource::RdsCluster;
            list_snapshots(clients, cluster, None, Some(id))
                .await?
                .into_iter()
                .filter(|l| l.available)
                .map(|l| (l.point.id, l.point.created))
                .collect()
        }
        BackupResource::EbsVolume => clients
            .ec2()
            .describe_snapshots()
            .owner_ids("self")
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("volume-id")
                    .values(id)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("DescribeSnapshots: {}", sdk_error(&e)))?
            .snapshots()
            .iter()
            .filter(|s| s.state() == Some(&aws_sdk_ec2::types::SnapshotState::Completed))
            .filter_map(|s| Some((s.snapshot_id()?.to_owned(), to_chrono(s.start_time()?)?)))
            .collect(),
    };
    points.sort_by_key(|p| std::cmp::Reverse(p.1));
    Ok(points)
}

/// Whether snapshot `snapshot` is shared with (restorable by) `account`.
async fn shared_with(
    clients: &Clients,
    kind: BackupResource,
    snapshot: &str,
    account: &str,
) -> Result<bool, String> {
    let accounts: Vec<String> = match kind {
        BackupResource::RdsInstance => clients
            .rds()
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| format!("DescribeDBSnapshotAttributes: {}", sdk_error(&e)))?
            .db_snapshot_attributes_result()
            .map(|r| {
                r.db_snapshot_attributes()
                    .iter()
                    .filter(|a| a.attribute_name() == Some("restore"))
                    .flat_map(|a| a.attribute_values().to_vec())
                    .collect()
            })
            .unwrap_or_default(),
        BackupResource::RdsCluster => clients
            .rds()
            .describe_db_cluster_snapshot_attributes()
            .db_cluster_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| format!("DescribeDBClusterSnapshotAttributes: {}", sdk_error(&e)))?
            .db_cluster_snapshot_attributes_result()
            .map(|r| {
                r.db_cluster_snapshot_attributes()
                    .iter()
                    .filter(|a| a.attribute_name() == Some("restore"))
                    .flat_map(|a| a.attribute_values().to_vec())
                    .collect()
            })
            .unwrap_or_default(),
        BackupResource::EbsVolume => clients
            .ec2()
            .describe_snapshot_attribute()
            .snapshot_id(snapshot)
            .attribute(aws_sdk_ec2::types::SnapshotAttributeName::CreateVolumePermission)
            .send()
            .await
            .map_err(|e| format!("DescribeSnapshotAttribute: {}", sdk_error(&e)))?
            .create_volume_permissions()
            .iter()
            .filter_map(|p| {
                p.user_id()
                    .map(str::to_owned)
                    .or_else(|| p.group().map(|g| g.as_str().to_owned()))
            })
            .collect(),
    };
    Ok(accounts.iter().any(|a| a == account || a == "all"))
}

fn kind_name(kind: BackupResource) -> &'static str {
    match kind {
        BackupResource::RdsInstance => "DB instance",
        BackupResource::RdsCluster => "DB cluster",
        BackupResource::EbsVolume => "EBS volume",
    }
}

fn age(d: chrono::Duration) -> String {
    crate::language::duration::Duration(d.to_std().unwrap_or_default()).to_string()
}

/// Runs a `check.backups` step.
pub async fn check(with: &CheckBackups, cx: &StepCx) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let now = Utc::now();
    let max_age = with
        .max_age
        .map(|d| d.0)
        .or(cx.scope.rpo_target)
        .ok_or_else(|| {
            StepError::failed("no `max_age` and no `targets.rpo` to hold the backups to")
        })?;
    let max_age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let mut problems = Vec::new();
    let mut oldest_newest: Option<DateTime<Utc>> = None;
    for target in &with.resources {
        let id = cx.render(&target.id)?;
        let what = format!("{} `{id}`", kind_name(target.kind));
        let found = points(clients, target.kind, &id).await?;
        let Some((newest_id, newest)) = found.first().cloned() else {
            problems.push(format!(
                "{what} has no completed recovery point in {}",
                clients.region
            ));
            continue;
        };
        oldest_newest = Some(oldest_newest.map_or(newest, |o| o.min(newest)));
        if found.len() < with.min_points as usize {
            problems.push(format!(
                "{what} has {} recovery point(s), fewer than the {} required",
                found.len(),
                with.min_points
            ));
        }
        if now - newest > max_age {
            problems.push(format!(
                "{what}: the newest recovery point ({newest_id}) is {} old, older than {}",
                age(now - newest),
                age(max_age)
            ));
        }
        if let Some(copy) = &with.copy {
            if let Some(region) = &copy.region {
                let there = points(&clients.in_region(region), target.kind, &id).await?;
                if there.is_empty() {
                    problems.push(format!(
                        "{what} has no copy of its backups in {region}: a regional outage would \
                         take the backups with the data"
                    ));
                }
            }
            if let Some(account) = &copy.account
                && !shared_with(clients, target.kind, &newest_id, account).await?
            {
                problems.push(format!(
                    "{what}: the newest recovery point ({newest_id}) is not shared with account \
                     {account}: backups in the same account as the data go with it"
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(StepError::failed(problems.join("; ")));
    }
    let mut out = Outputs::new();
    if let Some(t) = oldest_newest {
        out.insert(
            "newest_recovery_point_time".into(),
            crate::engine::event::rfc3339(t),
        );
        out.insert("rpo_secs".into(), cx.rpo_secs(t));
    }
    Ok(out)
}

impl Perform for CheckBackups {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        let _ = cx;
        Readiness::Unchecked {
            why: "the step is itself a check of the recovery points: it runs in the drill".into(),
        }
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, _attempt: u32) -> Result<Outputs, StepError> {
        check(self, cx).await
    }
}
