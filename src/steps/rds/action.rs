//! RDS restores: `rds.restore-snapshot`, `rds.restore-pitr` and `rds.restore-cluster`, and
//! what teardown asks of DB instances and clusters.
//!
//! The restored identifier is the step's token (from the run id), so a crash between the
//! restore call and its answer leaves an instance teardown finds by name. Waiting goes through
//! the run's shared pollers: one `DescribeDBInstances` (or `DescribeDBClusters`) per round for
//! every restore in flight.

use aws_sdk_rds::types::{DbCluster, DbInstance, DbSnapshot, Filter, Tag};
use chrono::{DateTime, Utc};

use crate::aws::Clients;
use crate::aws::poll::{Found, Pollers, Watch};
use crate::aws::{sdk_code, sdk_error};
use crate::language::template::Template;
use crate::steps::common::Selector;
use crate::steps::context::{Outputs, Perform, Readiness, ReadyCx, StepCx, StepError};
use crate::steps::rds::{RestoreCluster, RestorePitr, RestoreSnapshot};
use crate::steps::resource::{Owner, ResourceKind, Tagged};

/// How many identifiers one RDS describe may filter on.
pub const BATCH: usize = 100;

/// DB instance states that will not become `available` without someone's help.
const INSTANCE_DEAD_ENDS: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-parameters",
    "incompatible-network",
    "incompatible-option-group",
    "storage-full",
    "inaccessible-encryption-credentials",
    "deleting",
];

/// What one describe call gives for a batch of DB instances.
pub struct DbInstances;

impl Watch for DbInstances {
    type Item = DbInstance;
    const BATCH: usize = BATCH;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let rds = clients.rds();
        async move {
            let out = rds
                .describe_db_instances()
                .filters(
                    Filter::builder()
                        .name("db-instance-id")
                        .set_values(Some(ids))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| format!("DescribeDBInstances: {}", sdk_error(&e)))?;
            Ok(out
                .db_instances()
                .iter()
                .filter_map(|d| Some((d.db_instance_identifier()?.to_owned(), d.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// What one describe call gives for a batch of DB clusters.
pub struct DbClusters;

impl Watch for DbClusters {
    type Item = DbCluster;
    const BATCH: usize = BATCH;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let rds = clients.rds();
        async move {
            let out = rds
                .describe_db_clusters()
                .filters(
                    Filter::builder()
                        .name("db-cluster-id")
                        .set_values(Some(ids))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| format!("DescribeDBClusters: {}", sdk_error(&e)))?;
            Ok(out
                .db_clusters()
                .iter()
                .filter_map(|c| Some((c.db_cluster_identifier()?.to_owned(), c.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// A recovery point: a DB or cluster snapshot.
#[derive(Clone, Debug)]
pub struct Point {
    /// The snapshot identifier.
    pub id: String,
    /// Its ARN.
    pub arn: Option<String>,
    /// When the data in it was taken (for a copy, the original's time).
    pub created: DateTime<Utc>,
    /// The engine of the database it holds.
    pub engine: Option<String>,
}

/// A snapshot a describe listed.
pub struct Listed {
    /// What it holds.
    pub point: Point,
    /// Whether its status is `available`.
    pub available: bool,
    /// Its tags.
    pub tags: Vec<Tag>,
}

/// An AWS timestamp as a chrono time.
pub fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

fn rds_tags(cx: &StepCx, token: &str) -> Vec<Tag> {
    cx.tags(token)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn has_tags(tags: &[Tag], want: &crate::steps::common::Tags) -> bool {
    want.iter().all(|(k, v)| {
        tags.iter()
            .any(|t| t.key() == Some(k.as_str()) && t.value() == Some(v.0.as_str()))
    })
}

/// Where a step looked for a recovery point, for the message when it found none.
fn looked_for(
    selector: &Selector,
    id: Option<&str>,
    source: Option<&str>,
    what: &str,
    region: &str,
) -> String {
    let of = source.map_or(String::new(), |s| format!(" of {what} `{s}`"));
    match selector {
        Selector::Id(written) => {
            format!("snapshot `{}`{of} in {region}", id.unwrap_or(written.raw()))
        }
        Selector::Latest => format!("an available snapshot{of} in {region}"),
        Selector::LatestTagged(tags) => {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
            format!(
                "an available snapshot{of} tagged {} in {region}",
                tags.join(", ")
            )
        }
    }
}

/// The DB snapshots (`cluster`: the DB cluster snapshots) named `id`, or else those of
/// instance (cluster) `source`; none when the named one does not exist.
pub async fn list_snapshots(
    clients: &Clients,
    cluster: bool,
    id: Option<&str>,
    source: Option<&str>,
) -> Result<Vec<Listed>, String> {
    let rds = clients.rds();
    if cluster {
        let request = rds
            .describe_db_cluster_snapshots()
            .set_db_cluster_snapshot_identifier(id.map(str::to_owned))
            .set_db_cluster_identifier(id.is_none().then(|| source.map(str::to_owned)).flatten());
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if sdk_code(&e) == Some("DBClusterSnapshotNotFoundFault") => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(format!("DescribeDBClusterSnapshots: {}", sdk_error(&e))),
        };
        return Ok(out
            .db_cluster_snapshots()
            .iter()
            .filter_map(|s| {
                Some(Listed {
                    point: Point {
                        id: s.db_cluster_snapshot_identifier()?.to_owned(),
                        arn: s.db_cluster_snapshot_arn().map(str::to_owned),
                        created: to_chrono(s.snapshot_create_time()?)?,
                        engine: s.engine().map(str::to_owned),
                    },
                    available: s.status() == Some("available"),
                    tags: s.tag_list().to_vec(),
                })
            })
            .collect());
    }
    let request = rds
        .describe_db_snapshots()
        .set_db_snapshot_identifier(id.map(str::to_owned))
        .set_db_instance_identifier(id.is_none().then(|| source.map(str::to_owned)).flatten());
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) if sdk_code(&e) == Some("DBSnapshotNotFound") => return Ok(Vec::new()),
        Err(e) => return Err(format!("DescribeDBSnapshots: {}", sdk_error(&e))),
    };
    Ok(out
        .db_snapshots()
        .iter()
        .filter_map(|s| {
            Some(Listed {
                point: Point {
                    id: s.db_snapshot_identifier()?.to_owned(),
                    arn: s.db_snapshot_arn().map(str::to_owned),
                    created: to_chrono(
                        s.original_snapshot_create_time()
                            .or(s.snapshot_create_time())?,
                    )?,
                    engine: s.engine().map(str::to_owned),
                },
                available: s.status() == Some("available"),
                tags: s.tag_list().to_vec(),
            })
        })
        .collect())
}

/// The snapshot (`cluster`: cluster snapshot) `selector` picks among those of `source`: the
/// newest available one that matches.
async fn pick_snapshot(
    cx: &StepCx,
    clients: &Clients,
    cluster: bool,
    selector: &Selector,
    source: Option<&str>,
) -> Result<Point, StepError> {
    let wanted_id = match selector {
        Selector::Id(id) => Some(cx.render(id)?),
        _ => None,
    };
    let listed = list_snapshots(clients, cluster, wanted_id.as_deref(), source).await?;
    newest(listed, selector).ok_or_else(|| {
        let (noun, what) = if cluster {
            ("cluster snapshot", "DB cluster")
        } else {
            ("snapshot", "DB instance")
        };
        StepError::failed(format!(
            "no {noun} found: looked for {}",
            looked_for(
                selector,
                wanted_id.as_deref(),
                source,
                what,
                &clients.region
            )
        ))
    })
}

/// The newest available snapshot of `listed` that `selector` picks.
fn newest(listed: Vec<Listed>, selector: &Selector) -> Option<Point> {
    listed
        .into_iter()
        .filter(|l| l.available)
        .filter(|l| match selector {
            Selector::LatestTagged(tags) => has_tags(&l.tags, tags),
            Selector::Latest | Selector::Id(_) => true,
        })
        .map(|l| l.point)
        .max_by_key(|p| p.created)
}

/// Whether a snapshot restore could start now: the snapshot `selector` picks exists, is
/// available, and is young enough for the RPO target.
async fn snapshot_ready(
    cx: &ReadyCx<'_>,
    cluster: bool,
    selector: &Selector,
    source: Option<&Template>,
) -> Readiness {
    let source = match source.map(|s| cx.render(s)).transpose() {
        Ok(s) => s,
        Err(r) => return r,
    };
    let wanted = match selector {
        Selector::Id(id) => match cx.render(id) {
            Ok(id) => Some(id),
            Err(r) => return r,
        },
        Selector::Latest | Selector::LatestTagged(_) => None,
    };
    let listed =
        match list_snapshots(cx.clients, cluster, wanted.as_deref(), source.as_deref()).await {
            Ok(l) => l,
            Err(reason) => return Readiness::NotReady { reason },
        };
    let (noun, what) = if cluster {
        ("cluster snapshot", "DB cluster")
    } else {
        ("snapshot", "DB instance")
    };
    match newest(listed, selector) {
        None => Readiness::NotReady {
            reason: format!(
                "no {noun} found: looked for {}",
                looked_for(
                    selector,
                    wanted.as_deref(),
                    source.as_deref(),
                    what,
                    &cx.clients.region
                )
            ),
        },
        Some(p) => cx
            .too_old(&format!("{noun} `{}`", p.id), p.created)
            .unwrap_or_else(|| Readiness::Ready {
                detail: format!("{noun} `{}`, {}", p.id, cx.age(p.created)),
            }),
    }
}

/// DB instance `source` (none when there is no such instance).
async fn describe_source(clients: &Clients, source: &str) -> Result<Option<DbInstance>, String> {
    match clients
        .rds()
        .describe_db_instances()
        .db_instance_identifier(source)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_instances().first().cloned()),
        Err(e) if sdk_code(&e) == Some("DBInstanceNotFound") => Ok(None),
        Err(e) => Err(format!("DescribeDBInstances {source}: {}", sdk_error(&e))),
    }
}

/// Whether a point-in-time restore could start now: the source instance exists and its
/// latest restorable time is young enough for the RPO target.
async fn pitr_ready(cx: &ReadyCx<'_>, with: &RestorePitr) -> Readiness {
    let source = match cx.render(&with.source) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let db = match describe_source(cx.clients, &source).await {
        Ok(db) => db,
        Err(reason) => return Readiness::NotReady { reason },
    };
    let Some(db) = db else {
        return Readiness::NotReady {
            reason: format!(
                "no DB instance `{source}` in {} to restore from",
                cx.clients.region
            ),
        };
    };
    match db.latest_restorable_time().and_then(to_chrono) {
        None => Readiness::NotReady {
            reason: format!(
                "DB instance `{source}` has no restorable time (no automated backups?)"
            ),
        },
        Some(at) => {
            let latest = with.restore_time.raw() == "latest";
            latest
                .then(|| cx.too_old(&format!("the latest restorable time of `{source}`"), at))
                .flatten()
                .unwrap_or_else(|| Readiness::Ready {
                    detail: format!(
                        "`{source}` restorable up to {} ({})",
                        crate::engine::event::rfc3339(at),
                        cx.age(at)
                    ),
                })
        }
    }
}

/// Waits until DB instance `id` is available.
async fn instance_available(cx: &StepCx, id: &str) -> Result<DbInstance, StepError> {
    let poller = cx.pollers().get::<DbInstances>()?;
    cx.wait_listed(
        &poller,
        id,
        ("DB instance", "DescribeDBInstances"),
        |db| match db.db_instance_status() {
            Some("available") => Some(Ok(db.clone())),
            Some(s) if INSTANCE_DEAD_ENDS.contains(&s) => Some(Err(StepError::failed(format!(
                "DB instance {id} is `{s}` instead of becoming available"
            )))),
            _ => None,
        },
    )
    .await
}

/// Waits until DB cluster `id` is available.
async fn cluster_available(cx: &StepCx, id: &str) -> Result<DbCluster, StepError> {
    let poller = cx.pollers().get::<DbClusters>()?;
    cx.wait_listed(
        &poller,
        id,
        ("DB cluster", "DescribeDBClusters"),
        |c| match c.status() {
            Some("available") => Some(Ok(c.clone())),
            Some(s) if INSTANCE_DEAD_ENDS.contains(&s) || s.starts_with("inaccessible") => {
                Some(Err(StepError::failed(format!(
                    "DB cluster {id} is `{s}` instead of becoming available"
                ))))
            }
            _ => None,
        },
    )
    .await
}

/// The outputs every restored instance gives.
fn instance_outputs(db: &DbInstance) -> Outputs {
    let mut out = Outputs::new();
    out.insert(
        "id".into(),
        db.db_instance_identifier().unwrap_or_default().to_owned(),
    );
    out.insert(
        "arn".into(),
        db.db_instance_arn().unwrap_or_default().to_owned(),
    );
    let endpoint = db.endpoint();
    out.insert(
        "endpoint".into(),
        endpoint
            .and_then(|e| e.address())
            .unwrap_or_default()
            .to_owned(),
    );
    out.insert(
        "port".into(),
        endpoint
            .and_then(aws_sdk_rds::types::Endpoint::port)
            .map_or(String::new(), |p| p.to_string()),
    );
    out
}

fn rpo_outputs(out: &mut Outputs, cx: &StepCx, point: DateTime<Utc>, time_key: &str) {
    out.insert(time_key.into(), crate::engine::event::rfc3339(point));
    out.insert("rpo_secs".into(), cx.rpo_secs(point));
}

/// Whether an RDS create failed because the identifier is taken: by this very attempt, when
/// the SDK retried a call whose answer was lost.
fn already_exists<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    sdk_code(e).is_some_and(|c| c.ends_with("AlreadyExists") || c.ends_with("AlreadyExistsFault"))
}

/// Runs attempt `attempt` of an `rds.restore-snapshot` step.
pub async fn restore_snapshot(
    with: &RestoreSnapshot,
    cx: &StepCx,
    attempt: u32,
) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let source = with.source.as_ref().map(|s| cx.render(s)).transpose()?;
    let point = match &with.source_region {
        Some(region) if *region != clients.region => {
            let there = clients.in_region(region);
            let found = pick_snapshot(cx, &there, false, &with.snapshot, source.as_deref()).await?;
            copy_here(cx, clients, region, &found, attempt).await?
        }
        _ => pick_snapshot(cx, clients, false, &with.snapshot, source.as_deref()).await?,
    };
    let class = with
        .instance_class
        .as_ref()
        .map(|c| cx.render(c))
        .transpose()?;
    let subnet = with
        .subnet_group
        .as_ref()
        .map(|s| cx.render(s))
        .transpose()?;
    let groups = cx.render_all(&with.security_groups)?;
    let params = with
        .parameter_group
        .as_ref()
        .map(|p| cx.render(p))
        .transpose()?;
    let token = cx.token(attempt);
    let tags = rds_tags(cx, &token);
    let rds = clients.rds();
    let id = cx
        .create(ResourceKind::RdsInstance, &token, || async {
            match rds
                .restore_db_instance_from_db_snapshot()
                .db_instance_identifier(&token)
                .db_snapshot_identifier(&point.id)
                .set_db_instance_class(class)
                .set_db_subnet_group_name(subnet)
                .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
                .set_db_parameter_group_name(params)
                .publicly_accessible(with.publicly_accessible)
                .multi_az(with.multi_az)
                .set_tags(Some(tags))
                .send()
                .await
            {
                Ok(_) => Ok(token.clone()),
                Err(e) if already_exists(&e) => Ok(token.clone()),
                Err(e) => Err(StepError::failed(format!(
                    "RestoreDBInstanceFromDBSnapshot from {}: {}",
                    point.id,
                    sdk_error(&e)
                ))),
            }
        })
        .await?;
    let db = instance_available(cx, &id).await?;
    let mut out = instance_outputs(&db);
    out.insert("snapshot_id".into(), point.id.clone());
    rpo_outputs(&mut out, cx, point.created, "snapshot_time");
    Ok(out)
}

/// Copies snapshot `found` from `region` into the run's region (a resource of the run, deleted
/// by teardown) and waits until the copy is available; the copy keeps the original's time.
async fn copy_here(
    cx: &StepCx,
    clients: &Clients,
    region: &str,
    found: &Point,
    attempt: u32,
) -> Result<Point, StepError> {
    let arn = found.arn.clone().ok_or_else(|| {
        StepError::failed(format!("snapshot {} in {region} has no ARN", found.id))
    })?;
    let token = format!("{}-copy", cx.token(attempt));
    let rds = clients.rds();
    let id = cx
        .create(ResourceKind::RdsSnapshot, &token, || async {
            match rds
                .copy_db_snapshot()
                .source_db_snapshot_identifier(&arn)
                .target_db_snapshot_identifier(&token)
                .set_tags(Some(rds_tags(cx, &token)))
                .send()
                .await
            {
                Ok(_) => Ok(token.clone()),
                Err(e) if already_exists(&e) => Ok(token.clone()),
                Err(e) => Err(StepError::failed(format!(
                    "CopyDBSnapshot of {} from {region}: {}",
                    found.id,
                    sdk_error(&e)
                ))),
            }
        })
        .await?;
    let poller = cx.pollers().get::<DbSnapshots>()?;
    cx.wait_listed(
        &poller,
        &id,
        ("snapshot copy", "DescribeDBSnapshots"),
        |s| match s.status() {
            Some("available") => Some(Ok(())),
            Some(st @ ("failed" | "deleting")) => Some(Err(StepError::failed(format!(
                "snapshot copy {id} is `{st}` instead of becoming available"
            )))),
            _ => None,
        },
    )
    .await?;
    Ok(Point {
        id,
        arn: None,
        created: found.created,
        engine: found.engine.clone(),
    })
}

/// What one describe call gives for a batch of DB snapshots.
pub struct DbSnapshots;

impl Watch for DbSnapshots {
    type Item = DbSnapshot;
    const BATCH: usize = BATCH;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let rds = clients.rds();
        async move {
            let out = rds
                .describe_db_snapshots()
                .filters(
                    Filter::builder()
                        .name("db-snapshot-id")
                        .set_values(Some(ids))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| format!("DescribeDBSnapshots: {}", sdk_error(&e)))?;
            Ok(out
                .db_snapshots()
                .iter()
                .filter_map(|d| Some((d.db_snapshot_identifier()?.to_owned(), d.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// Who owns DB snapshot `id`, from what the snapshot poller sees.
pub async fn snapshot_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(pollers
        .get::<DbSnapshots>()?
        .look(id)
        .await?
        .map_or(Owner::Gone, |s| tag_owner(s.tag_list())))
}

/// Deletes DB snapshot `id` (a copy a drill made).
pub async fn delete_snapshot(clients: &Clients, id: &str) -> Result<(), String> {
    match clients
        .rds()
        .delete_db_snapshot()
        .db_snapshot_identifier(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if sdk_code(&e) == Some("DBSnapshotNotFound") => Ok(()),
        Err(e) => Err(format!("DeleteDBSnapshot: {}", sdk_error(&e))),
    }
}

/// Runs attempt `attempt` of an `rds.restore-pitr` step.
pub async fn restore_pitr(
    with: &RestorePitr,
    cx: &StepCx,
    attempt: u32,
) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let source = cx.render(&with.source)?;
    let when = cx.render(&with.restore_time)?;
    let rds = clients.rds();
    // The source, and the time the restore goes back to.
    let db = describe_source(clients, &source).await?.ok_or_else(|| {
        StepError::failed(format!(
            "no DB instance `{source}` in {} to restore to a point in time",
            clients.region
        ))
    })?;
    let latest = db.latest_restorable_time().and_then(to_chrono);
    let target = if when == "latest" {
        latest.ok_or_else(|| {
            StepError::failed(format!(
                "DB instance `{source}` has no latest restorable time: are automated backups on?"
            ))
        })?
    } else {
        let t = DateTime::parse_from_rfc3339(&when)
            .map_err(|_| {
                StepError::failed(format!(
                    "restore_time `{when}` is neither `latest` nor an RFC 3339 time"
                ))
            })?
            .with_timezone(&Utc);
        if let Some(latest) = latest
            && t > latest
        {
            return Err(StepError::failed(format!(
                "restore_time {when} is after the latest restorable time of `{source}` ({})",
                crate::engine::event::rfc3339(latest)
            )));
        }
        t
    };
    let class = with
        .instance_class
        .as_ref()
        .map(|c| cx.render(c))
        .transpose()?;
    let subnet = with
        .subnet_group
        .as_ref()
        .map(|s| cx.render(s))
        .transpose()?;
    let groups = cx.render_all(&with.security_groups)?;
    let params = with
        .parameter_group
        .as_ref()
        .map(|p| cx.render(p))
        .transpose()?;
    let token = cx.token(attempt);
    let tags = rds_tags(cx, &token);
    let id = cx
        .create(ResourceKind::RdsInstance, &token, || async {
            let mut request = rds
                .restore_db_instance_to_point_in_time()
                .source_db_instance_identifier(&source)
                .target_db_instance_identifier(&token)
                .set_db_instance_class(class)
                .set_db_subnet_group_name(subnet)
                .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
                .set_db_parameter_group_name(params)
                .publicly_accessible(with.publicly_accessible)
                .multi_az(with.multi_az)
                .set_tags(Some(tags));
            request = if when == "latest" {
                request.use_latest_restorable_time(true)
            } else {
                request.restore_time(aws_smithy_types::DateTime::from_secs(target.timestamp()))
            };
            match request.send().await {
                Ok(_) => Ok(token.clone()),
                Err(e) if already_exists(&e) => Ok(token.clone()),
                Err(e) => Err(StepError::failed(format!(
                    "RestoreDBInstanceToPointInTime from {source}: {}",
                    sdk_error(&e)
                ))),
            }
        })
        .await?;
    let db = instance_available(cx, &id).await?;
    let mut out = instance_outputs(&db);
    rpo_outputs(&mut out, cx, target, "restore_time");
    Ok(out)
}

/// Runs attempt `attempt` of an `rds.restore-cluster` step: the cluster, then its instances
/// (the first the writer), all waited on together.
pub async fn restore_cluster(
    with: &RestoreCluster,
    cx: &StepCx,
    attempt: u32,
) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let source = with.source.as_ref().map(|s| cx.render(s)).transpose()?;
    let point = pick_snapshot(cx, clients, true, &with.snapshot, source.as_deref()).await?;
    let engine = with
        .engine
        .clone()
        .or_else(|| point.engine.clone())
        .unwrap_or_else(|| "aurora-postgresql".to_owned());
    let class = cx.render(&with.instance_class)?;
    let subnet = with
        .subnet_group
        .as_ref()
        .map(|s| cx.render(s))
        .transpose()?;
    let groups = cx.render_all(&with.security_groups)?;
    let params = with
        .cluster_parameter_group
        .as_ref()
        .map(|p| cx.render(p))
        .transpose()?;
    let token = cx.token(attempt);
    let rds = clients.rds();
    let cluster_id = cx
        .create(ResourceKind::RdsCluster, &token, || async {
            match rds
                .restore_db_cluster_from_snapshot()
                .db_cluster_identifier(&token)
                .snapshot_identifier(&point.id)
                .engine(&engine)
                .set_db_subnet_group_name(subnet.clone())
                .set_vpc_security_group_ids((!groups.is_empty()).then_some(groups))
                .set_db_cluster_parameter_group_name(params)
                .set_tags(Some(rds_tags(cx, &token)))
                .send()
                .await
            {
                Ok(_) => Ok(token.clone()),
                Err(e) if already_exists(&e) => Ok(token.clone()),
                Err(e) => Err(StepError::failed(format!(
                    "RestoreDBClusterFromSnapshot from {}: {}",
                    point.id,
                    sdk_error(&e)
                ))),
            }
        })
        .await?;
    // Instances can be added while the cluster is still creating.
    let mut instance_ids = Vec::new();
    for n in 1..=with.instances {
        let name = instance_name(&token, n);
        let id = cx
            .create(ResourceKind::RdsInstance, &name, || async {
                match rds
                    .create_db_instance()
                    .db_instance_identifier(&name)
                    .db_cluster_identifier(&cluster_id)
                    .engine(&engine)
                    .db_instance_class(&class)
                    .set_db_subnet_group_name(subnet.clone())
                    .set_tags(Some(rds_tags(cx, &name)))
                    .send()
                    .await
                {
                    Ok(_) => Ok(name.clone()),
                    Err(e) if already_exists(&e) => Ok(name.clone()),
                    Err(e) => Err(StepError::failed(format!(
                        "CreateDBInstance {name} in cluster {cluster_id}: {}",
                        sdk_error(&e)
                    ))),
                }
            })
            .await?;
        instance_ids.push(id);
    }
    let cluster = cluster_available(cx, &cluster_id).await?;
    for id in &instance_ids {
        instance_available(cx, id).await?;
    }
    let mut out = Outputs::new();
    out.insert("id".into(), cluster_id.clone());
    out.insert(
        "arn".into(),
        cluster.db_cluster_arn().unwrap_or_default().to_owned(),
    );
    out.insert(
        "endpoint".into(),
        cluster.endpoint().unwrap_or_default().to_owned(),
    );
    out.insert(
        "reader_endpoint".into(),
        cluster.reader_endpoint().unwrap_or_default().to_owned(),
    );
    out.insert(
        "port".into(),
        cluster.port().map_or(String::new(), |p| p.to_string()),
    );
    out.insert("instance_ids".into(), instance_ids.join(","));
    out.insert("snapshot_id".into(), point.id.clone());
    rpo_outputs(&mut out, cx, point.created, "snapshot_time");
    Ok(out)
}

/// The identifier of a cluster's `n`th instance: the cluster's with `-<n>`, within RDS's 63
/// characters.
fn instance_name(cluster: &str, n: u8) -> String {
    let suffix = format!("-i{n}");
    let keep = 63usize.saturating_sub(suffix.len());
    format!(
        "{}{suffix}",
        cluster[..cluster.len().min(keep)].trim_end_matches('-')
    )
}

fn tag_owner(tags: &[Tag]) -> Owner {
    Owner::from_tags(tags.iter().map(|t| (t.key(), t.value())))
}

/// Who owns DB instance `id`, from what the instance poller sees.
pub async fn instance_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(pollers
        .get::<DbInstances>()?
        .look(id)
        .await?
        .map_or(Owner::Gone, |d| tag_owner(d.tag_list())))
}

/// Who owns DB cluster `id`, from what the cluster poller sees.
pub async fn cluster_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(pollers
        .get::<DbClusters>()?
        .look(id)
        .await?
        .map_or(Owner::Gone, |c| tag_owner(c.tag_list())))
}

/// The DB instances, clusters or manual DB snapshots (by `kind`) that carry firedrill's run tag.
pub async fn tagged(clients: &Clients, kind: ResourceKind) -> Result<Vec<Tagged>, String> {
    let rds = clients.rds();
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let next = match kind {
            ResourceKind::RdsCluster => {
                let page = rds
                    .describe_db_clusters()
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| format!("DescribeDBClusters: {}", sdk_error(&e)))?;
                for c in page.db_clusters() {
                    out.extend(Tagged::of(
                        kind,
                        c.db_cluster_identifier().unwrap_or_default(),
                        c.tag_list().iter().map(|t| (t.key(), t.value())),
                    ));
                }
                page.marker().map(str::to_owned)
            }
            ResourceKind::RdsSnapshot => {
                let page = rds
                    .describe_db_snapshots()
                    .snapshot_type("manual")
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| format!("DescribeDBSnapshots: {}", sdk_error(&e)))?;
                for s in page.db_snapshots() {
                    out.extend(Tagged::of(
                        kind,
                        s.db_snapshot_identifier().unwrap_or_default(),
                        s.tag_list().iter().map(|t| (t.key(), t.value())),
                    ));
                }
                page.marker().map(str::to_owned)
            }
            _ => {
                let page = rds
                    .describe_db_instances()
                    .set_marker(marker.clone())
                    .send()
                    .await
                    .map_err(|e| format!("DescribeDBInstances: {}", sdk_error(&e)))?;
                for d in page.db_instances() {
                    out.extend(Tagged::of(
                        ResourceKind::RdsInstance,
                        d.db_instance_identifier().unwrap_or_default(),
                        d.tag_list().iter().map(|t| (t.key(), t.value())),
                    ));
                }
                page.marker().map(str::to_owned)
            }
        };
        match next {
            Some(m) if !m.is_empty() => marker = Some(m),
            _ => return Ok(out),
        }
    }
}

/// Deletes DB instance `id`, without a final snapshot (it is a drill's copy).
pub async fn delete_instance(clients: &Clients, id: &str) -> Result<(), String> {
    match clients
        .rds()
        .delete_db_instance()
        .db_instance_identifier(id)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if sdk_code(&e) == Some("DBInstanceNotFound") => Ok(()),
        // Already being deleted.
        Err(e)
            if sdk_code(&e) == Some("InvalidDBInstanceState")
                && sdk_error(&e).contains("deleting") =>
        {
            Ok(())
        }
        Err(e) => Err(format!("DeleteDBInstance: {}", sdk_error(&e))),
    }
}

/// Deletes DB cluster `id`, without a final snapshot, asking for its automated backups to go
/// too (AWS keeps them when a backup plan retains them: [`delete_cluster_backups`] checks).
pub async fn delete_cluster(clients: &Clients, id: &str) -> Result<(), String> {
    match clients
        .rds()
        .delete_db_cluster()
        .db_cluster_identifier(id)
        .skip_final_snapshot(true)
        .delete_automated_backups(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if sdk_code(&e) == Some("DBClusterNotFoundFault") => Ok(()),
        Err(e) => Err(format!("DeleteDBCluster: {}", sdk_error(&e))),
    }
}

/// Deletes the automated backups that outlived deleted DB instance `id` (AWS Backup may
/// retain them whatever the delete call asked); returns how many. Only backups of this
/// identifier, a drill's own, are touched.
pub async fn delete_instance_backups(clients: &Clients, id: &str) -> Result<usize, String> {
    let rds = clients.rds();
    let found = match rds
        .describe_db_instance_automated_backups()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(found) => found,
        Err(e) if sdk_code(&e) == Some("DBInstanceAutomatedBackupNotFound") => return Ok(0),
        Err(e) => {
            return Err(format!(
                "DescribeDBInstanceAutomatedBackups: {}",
                sdk_error(&e)
            ));
        }
    };
    let mut deleted = 0;
    for b in found.db_instance_automated_backups() {
        if b.db_instance_identifier() != Some(id) || b.status() == Some("deleting") {
            continue;
        }
        let call = rds.delete_db_instance_automated_backup();
        let call = match (b.dbi_resource_id(), b.db_instance_automated_backups_arn()) {
            (Some(resource), _) => call.dbi_resource_id(resource),
            (None, Some(arn)) => call.db_instance_automated_backups_arn(arn),
            (None, None) => {
                return Err(format!(
                    "an automated backup of {id} remains, and AWS gave neither its resource id nor its ARN"
                ));
            }
        };
        match call.send().await {
            Ok(_) => deleted += 1,
            Err(e) if sdk_code(&e) == Some("DBInstanceAutomatedBackupNotFound") => {}
            Err(e) => {
                return Err(format!(
                    "DeleteDBInstanceAutomatedBackup: {}",
                    sdk_error(&e)
                ));
            }
        }
    }
    Ok(deleted)
}

/// Deletes the automated backups that outlived deleted DB cluster `id`; returns how many.
pub async fn delete_cluster_backups(clients: &Clients, id: &str) -> Result<usize, String> {
    let rds = clients.rds();
    let found = match rds
        .describe_db_cluster_automated_backups()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(found) => found,
        Err(e) if sdk_code(&e) == Some("DBClusterAutomatedBackupNotFoundFault") => return Ok(0),
        Err(e) => {
            return Err(format!(
                "DescribeDBClusterAutomatedBackups: {}",
                sdk_error(&e)
            ));
        }
    };
    let mut deleted = 0;
    for b in found.db_cluster_automated_backups() {
        if b.db_cluster_identifier() != Some(id) || b.status() == Some("deleting") {
            continue;
        }
        let Some(resource) = b.db_cluster_resource_id() else {
            return Err(format!(
                "an automated backup of {id} remains, and AWS gave no resource id to delete it by"
            ));
        };
        match rds
            .delete_db_cluster_automated_backup()
            .db_cluster_resource_id(resource)
            .send()
            .await
        {
            Ok(_) => deleted += 1,
            Err(e) if sdk_code(&e) == Some("DBClusterAutomatedBackupNotFoundFault") => {}
            Err(e) => return Err(format!("DeleteDBClusterAutomatedBackup: {}", sdk_error(&e))),
        }
    }
    Ok(deleted)
}

impl Perform for RestoreSnapshot {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        snapshot_ready(cx, false, &self.snapshot, self.source.as_ref()).await
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        restore_snapshot(self, cx, attempt).await
    }
}

impl Perform for RestorePitr {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        pitr_ready(cx, self).await
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        restore_pitr(self, cx, attempt).await
    }
}

impl Perform for RestoreCluster {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        snapshot_ready(cx, true, &self.snapshot, self.source.as_ref()).await
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        restore_cluster(self, cx, attempt).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_instance_names_fit_rds_limits() {
        let long = format!("fd-{}", "a".repeat(60));
        let n = instance_name(&long, 12);
        assert!(n.len() <= 63 && n.ends_with("-i12"), "{n}");
        assert_eq!(instance_name("fd-r-db-1", 1), "fd-r-db-1-i1");
    }
}
