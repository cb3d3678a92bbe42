//! Seeding the "production" side of the local sandbox: what drills restore from and must
//! never change. A seed file (YAML) lists RDS instances with snapshots of given ages, Aurora
//! clusters with cluster snapshots, tagged AMIs and EBS snapshots, hosted zones with records,
//! S3 buckets, and SSM parameters; a database's data (tables with generated rows, or a SQL file)
//! goes to the sandbox's data plane, copied for each snapshot as it was then. Everything is tagged `environment=production` and
//! `firedrill-sandbox:side=production`; the realism layer shows each recovery point with the
//! age the file gives it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, ResourceType, Tag as Ec2Tag, TagSpecification,
};
use aws_sdk_rds::types::Tag as RdsTag;
use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::apps::ImageApp;
use super::data::{SeedData, Table};
use crate::aws::Clients;
use crate::language::de::{self, Ctx};
use crate::language::diag::{Diagnostic, SourceFile};
use crate::language::duration::Duration;
use crate::language::shapes::Scalar;
use crate::language::yaml;

/// A seed file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    /// The region everything is created in (default `us-east-1`).
    #[serde(default = "default_region")]
    pub region: String,
    /// RDS DB instances.
    #[serde(default)]
    pub rds_instances: Vec<SeedDb>,
    /// Aurora DB clusters.
    #[serde(default)]
    pub aurora_clusters: Vec<SeedCluster>,
    /// AMIs.
    #[serde(default)]
    pub images: Vec<SeedImage>,
    /// EBS volumes with snapshots.
    #[serde(default)]
    pub ebs_snapshots: Vec<SeedEbs>,
    /// Hosted zones with records.
    #[serde(default)]
    pub hosted_zones: Vec<SeedZone>,
    /// S3 buckets.
    #[serde(default)]
    pub s3_buckets: Vec<SeedBucket>,
    /// SSM parameters (what `${secret:ssm:/path}` reads).
    #[serde(default)]
    pub ssm_parameters: Vec<SeedParameter>,
    /// The directory of the seed file, which `sql` paths are relative to.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The data of a production database: what its snapshots hold, as it was at their times.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDatabase {
    /// The master user, as drills connect (default `postgres`).
    #[serde(default = "postgres")]
    pub user: String,
    /// Its password (what the drill's secret holds).
    pub password: String,
    /// Tables, with generated rows.
    #[serde(default)]
    pub tables: Vec<SeedTable>,
    /// A SQL file to run after the tables are made (relative to the seed file). Its rows are
    /// cut at a snapshot's time only in tables listed with a `timestamp`.
    pub sql: Option<PathBuf>,
}

/// A table of a seeded database.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTable {
    /// Its name.
    pub name: String,
    /// Its columns as `name type` (`id bigint`, `item text`); none: the `sql` file makes it.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The column that says when a row was written (a `timestamptz`, added when not listed):
    /// a snapshot holds the rows written before its time, a point-in-time restore those
    /// before the restore time.
    pub timestamp: Option<String>,
    /// Generated rows: one `every` so long, over the last `for`, the newest at seeding time.
    pub rows: Option<SeedRows>,
}

/// How often and for how long rows were written.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRows {
    /// The time between two rows.
    pub every: Duration,
    /// How far back the rows go.
    #[serde(rename = "for")]
    pub span: Duration,
}

/// An SSM parameter.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedParameter {
    /// Its name (`/shop/db/password`).
    pub name: String,
    /// Its value.
    pub value: String,
    /// Whether it is a `SecureString` (default true).
    #[serde(default = "yes")]
    pub secure: bool,
}

fn yes() -> bool {
    true
}

fn default_region() -> String {
    "us-east-1".to_owned()
}

/// A recovery point of a given age.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSnapshot {
    /// Its identifier (default: derived from the source and the age).
    pub id: Option<String>,
    /// How old it is.
    pub age: Duration,
    /// Extra tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// Regions that hold a copy of it (an RDS snapshot's cross-region copies, as
    /// `check.backups` with `copy: { region }` looks for), under the same identifier.
    #[serde(default)]
    pub copies: Vec<String>,
}

/// An RDS DB instance.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDb {
    /// The DB instance identifier.
    pub id: String,
    /// The engine (default `postgres`).
    #[serde(default = "postgres")]
    pub engine: String,
    /// The instance class (default `db.t3.micro`).
    #[serde(default = "micro")]
    pub instance_class: String,
    /// Extra tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// Its snapshots.
    #[serde(default)]
    pub snapshots: Vec<SeedSnapshot>,
    /// Its data, which restored instances answer SQL with on the local sandbox.
    pub database: Option<SeedDatabase>,
}

fn postgres() -> String {
    "postgres".to_owned()
}

fn micro() -> String {
    "db.t3.micro".to_owned()
}

/// An Aurora DB cluster.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCluster {
    /// The DB cluster identifier.
    pub id: String,
    /// The engine (default `aurora-postgresql`).
    #[serde(default = "aurora")]
    pub engine: String,
    /// Extra tags.
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// Its cluster snapshots.
    #[serde(default)]
    pub snapshots: Vec<SeedSnapshot>,
    /// Its data, which restored clusters answer SQL with on the local sandbox.
    pub database: Option<SeedDatabase>,
}

fn aurora() -> String {
    "aurora-postgresql".to_owned()
}

/// An AMI.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedImage {
    /// The image name.
    pub name: String,
    /// Its tags (what `latest_tagged` selects on).
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// How old it is.
    pub age: Duration,
    /// What instances launched from it serve, on the local sandbox.
    pub serves: Option<SeedServes>,
}

/// An app that instances of an image run: a command (relative paths are the seed file's),
/// started for each instance with its address, port and user data in its environment.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedServes {
    /// The program and its arguments (`[python3, app.py]`).
    pub command: Vec<String>,
    /// The port it listens on at its instance's address.
    pub port: u16,
}

/// An EBS volume and its snapshots.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedEbs {
    /// The volume's size in GiB (default 8).
    #[serde(default = "eight")]
    pub size_gib: i32,
    /// Tags of the volume and its snapshots.
    #[serde(default)]
    pub tags: BTreeMap<String, Scalar>,
    /// Its snapshots.
    pub snapshots: Vec<SeedSnapshot>,
}

fn eight() -> i32 {
    8
}

/// A DNS record.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedRecord {
    /// The name, relative to the zone or fully qualified.
    pub name: String,
    /// The type (A, CNAME, ...).
    #[serde(rename = "type")]
    pub record_type: String,
    /// The values.
    pub values: Vec<String>,
    /// The TTL (default 300).
    #[serde(default = "ttl")]
    pub ttl: i64,
}

fn ttl() -> i64 {
    300
}

/// A hosted zone.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedZone {
    /// The zone name (`shop.internal.`).
    pub name: String,
    /// Its records.
    #[serde(default)]
    pub records: Vec<SeedRecord>,
}

/// An S3 bucket.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedBucket {
    /// The bucket name.
    pub name: String,
}

/// What a seed created.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Seeded {
    /// `kind id` of everything created, in order.
    pub created: Vec<String>,
    /// Recovery point identifiers and their creation times (RFC 3339).
    pub recovery_points: BTreeMap<String, String>,
    /// What the data plane made of each database's data (or why it made nothing).
    pub data: Vec<String>,
}

/// Reads a seed file; errors are diagnostics with places, like a playbook's.
pub fn parse(file: &SourceFile) -> Result<SeedFile, Vec<Diagnostic>> {
    let root = yaml::parse(&file.text).map_err(|d| vec![*d])?;
    let ctx = Ctx::default();
    let result = de::from_node::<SeedFile>(&root, &ctx);
    let mut diags = ctx.take();
    match result {
        Ok(mut seed) if diags.is_empty() => {
            seed.dir = std::path::Path::new(&file.name)
                .parent()
                .map(std::path::Path::to_path_buf)
                .unwrap_or_default();
            Ok(seed)
        }
        Ok(_) => Err(diags),
        Err(e) => {
            diags.push(e.into_diagnostic(&[]));
            Err(diags)
        }
    }
}

/// The tag every seeded resource carries.
pub const SIDE_TAG: (&str, &str) = ("firedrill-sandbox:side", "production");

fn tags(extra: &BTreeMap<String, Scalar>) -> Vec<(String, String)> {
    let mut tags = vec![
        ("environment".to_owned(), "production".to_owned()),
        (SIDE_TAG.0.to_owned(), SIDE_TAG.1.to_owned()),
    ];
    tags.extend(extra.iter().map(|(k, v)| (k.clone(), v.0.clone())));
    tags
}

fn rds_tags(extra: &BTreeMap<String, Scalar>) -> Vec<RdsTag> {
    tags(extra)
        .into_iter()
        .map(|(k, v)| RdsTag::builder().key(k).value(v).build())
        .collect()
}

fn ec2_tags(resource: ResourceType, extra: &BTreeMap<String, Scalar>) -> TagSpecification {
    let tags: Vec<Ec2Tag> = tags(extra)
        .into_iter()
        .map(|(k, v)| Ec2Tag::builder().key(k).value(v).build())
        .collect();
    TagSpecification::builder()
        .resource_type(resource)
        .set_tags(Some(tags))
        .build()
}

/// The oldest recovery point a seed may describe.
pub const MAX_AGE: Duration = Duration(std::time::Duration::from_hours(100 * 365 * 24));

fn created_at(now: DateTime<Utc>, age: Duration) -> Result<String, SeedError> {
    let too_old = || SeedError {
        what: "a recovery point".into(),
        reason: format!("an age of {age} is over 100 years"),
    };
    if age > MAX_AGE {
        return Err(too_old());
    }
    let age =
        chrono::Duration::milliseconds(i64::try_from(age.as_millis()).map_err(|_| too_old())?);
    let at = now.checked_sub_signed(age).ok_or_else(too_old)?;
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn snapshot_id(source: &str, index: usize, s: &SeedSnapshot) -> String {
    s.id.clone()
        .unwrap_or_else(|| format!("{source}-{}", index + 1))
}

/// Why seeding stopped.
#[derive(Debug, thiserror::Error)]
#[error("seeding {what} failed: {reason}")]
pub struct SeedError {
    /// What was being created.
    pub what: String,
    /// Why it failed.
    pub reason: String,
}

fn fail<E, R>(
    what: impl Into<String>,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> SeedError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let what = what.into();
    move |e| SeedError {
        what,
        reason: crate::aws::sdk_error(&e),
    }
}

/// The resources named in `seed` that the sandbox holds already (`RDS instance `shop-prod``),
/// in the file's order: seeding them again would fail half-way. Buckets and SSM parameters are
/// left out (creating them again changes nothing), and so are EBS volumes (they have no name).
pub async fn existing(seed: &SeedFile, clients: &Clients) -> Result<Vec<String>, SeedError> {
    let mut found = Vec::new();
    let rds = clients.rds();
    for db in &seed.rds_instances {
        match rds
            .describe_db_instances()
            .db_instance_identifier(&db.id)
            .send()
            .await
        {
            Ok(_) => found.push(format!("RDS instance `{}`", db.id)),
            Err(e) if crate::aws::sdk_code(&e) == Some("DBInstanceNotFound") => {}
            Err(e) => return Err(fail(format!("RDS instance {}", db.id))(e)),
        }
    }
    for cluster in &seed.aurora_clusters {
        match rds
            .describe_db_clusters()
            .db_cluster_identifier(&cluster.id)
            .send()
            .await
        {
            Ok(_) => found.push(format!("Aurora cluster `{}`", cluster.id)),
            Err(e) if crate::aws::sdk_code(&e) == Some("DBClusterNotFoundFault") => {}
            Err(e) => return Err(fail(format!("Aurora cluster {}", cluster.id))(e)),
        }
    }
    if !seed.images.is_empty() {
        let images = clients
            .ec2()
            .describe_images()
            .owners("self")
            .send()
            .await
            .map_err(fail("images"))?;
        for image in &seed.images {
            if images
                .images()
                .iter()
                .any(|i| i.name() == Some(image.name.as_str()))
            {
                found.push(format!("image `{}`", image.name));
            }
        }
    }
    if !seed.hosted_zones.is_empty() {
        let zones = clients
            .route53()
            .list_hosted_zones()
            .send()
            .await
            .map_err(fail("hosted zones"))?;
        for z in &seed.hosted_zones {
            let name = format!("{}.", z.name.trim_end_matches('.'));
            if zones.hosted_zones().iter().any(|h| h.name() == name) {
                found.push(format!("hosted zone `{}`", z.name));
            }
        }
    }
    Ok(found)
}

/// Creates everything in `seed` through `clients` (pointed at the sandbox), and tells the
/// realism layer at `endpoint` the age of each recovery point.
pub async fn apply(
    seed: &SeedFile,
    clients: &Clients,
    endpoint: &str,
) -> Result<Seeded, SeedError> {
    let mut out = Seeded::default();
    // One "now" for every age, to the second, as the realism layer shows times.
    let base = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp(), 0)
        .unwrap_or_else(chrono::Utc::now);
    seed_rds(seed, clients, base, &mut out).await?;
    let served = seed_ec2(seed, clients, base, &mut out).await?;
    seed_route53(seed, clients, &mut out).await?;
    for p in &seed.ssm_parameters {
        clients
            .ssm()
            .put_parameter()
            .name(&p.name)
            .value(&p.value)
            .r#type(if p.secure {
                aws_sdk_ssm::types::ParameterType::SecureString
            } else {
                aws_sdk_ssm::types::ParameterType::String
            })
            .overwrite(true)
            .send()
            .await
            .map_err(fail(format!("SSM parameter {}", p.name)))?;
        out.created.push(format!("ssm-parameter {}", p.name));
    }
    for bucket in &seed.s3_buckets {
        create_bucket(endpoint, &seed.region, &bucket.name).await?;
        out.created.push(format!("bucket {}", bucket.name));
    }
    // The production side exists already: its instances, clusters and volumes are ready at
    // once, and its recovery points have their ages.
    let now = created_at(base, Duration(std::time::Duration::ZERO))?;
    let mut settled = out.recovery_points.clone();
    for created in &out.created {
        if let Some((kind, id)) = created.split_once(' ')
            && matches!(kind, "rds-instance" | "rds-cluster" | "volume")
        {
            settled.insert(id.to_owned(), now.clone());
        }
    }
    if !settled.is_empty() {
        let body = serde_json::to_vec(&settled).expect("times serialize");
        super::local::request(
            endpoint,
            http::Method::POST,
            "/__firedrill/created-at",
            Some(body),
        )
        .await
        .map_err(|e| SeedError {
            what: "recovery point ages".into(),
            reason: e.to_string(),
        })?;
    }
    for app in &served {
        let body = serde_json::to_vec(app).expect("an app serializes");
        super::local::request(
            endpoint,
            http::Method::POST,
            "/__firedrill/apps/image",
            Some(body),
        )
        .await
        .map_err(|e| SeedError {
            what: format!("the app of image {}", app.image),
            reason: e.to_string(),
        })?;
        out.data.push(format!(
            "app of image {}: `{}` on port {}",
            app.image,
            app.command.join(" "),
            app.port
        ));
    }
    let instances = seed
        .rds_instances
        .iter()
        .map(|db| (&db.id, &db.snapshots, &db.database, false));
    let clusters = seed
        .aurora_clusters
        .iter()
        .map(|c| (&c.id, &c.snapshots, &c.database, true));
    for (id, snapshots, database, cluster) in instances.chain(clusters) {
        if let Some(database) = database {
            let mut data = seed_data(seed, id, snapshots, database, &now, &out)?;
            data.cluster = cluster;
            data.region.clone_from(&seed.region);
            out.data.push(send_data(endpoint, &data).await?);
        }
    }
    Ok(out)
}

/// What the sandbox's data plane is told of `db`'s data.
fn seed_data(
    seed: &SeedFile,
    id: &str,
    snapshots: &[SeedSnapshot],
    database: &SeedDatabase,
    now: &str,
    out: &Seeded,
) -> Result<SeedData, SeedError> {
    let what = || format!("the data of {id}");
    let sql = match &database.sql {
        Some(path) => {
            let path = seed.dir.join(path);
            Some(std::fs::read_to_string(&path).map_err(|e| SeedError {
                what: what(),
                reason: format!("cannot read {}: {e}", path.display()),
            })?)
        }
        None => None,
    };
    let mut tables = Vec::new();
    for t in &database.tables {
        let mut columns = Vec::new();
        for c in &t.columns {
            let Some((name, ty)) = c.trim().split_once(char::is_whitespace) else {
                return Err(SeedError {
                    what: what(),
                    reason: format!(
                        "column `{c}` of table `{}` is not `name type` (say `{c} text`)",
                        t.name
                    ),
                });
            };
            columns.push((name.to_owned(), ty.trim().to_owned()));
        }
        let rows = t.rows.map(|r| {
            let every = r.every.as_secs_f64().max(0.001);
            // Whole rows only: the newest at now, the oldest no further back than `for`.
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a non-negative count of rows, floored"
            )]
            let count = (r.span.as_secs_f64() / every).floor() as u64 + 1;
            (every, count)
        });
        tables.push(Table {
            name: t.name.clone(),
            columns,
            timestamp: t.timestamp.clone(),
            rows,
        });
    }
    let copies = snapshots
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            let snapshot = snapshot_id(id, i, s);
            s.copies.iter().map(move |r| (snapshot.clone(), r.clone()))
        })
        .collect();
    let snapshots = snapshots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let snapshot = snapshot_id(id, i, s);
            let at = out
                .recovery_points
                .get(&snapshot)
                .cloned()
                .unwrap_or_default();
            (snapshot, at)
        })
        .collect();
    Ok(SeedData {
        instance: id.to_owned(),
        cluster: false,
        region: String::new(),
        user: database.user.clone(),
        password: database.password.clone(),
        tables,
        sql,
        now: now.to_owned(),
        snapshots,
        copies,
    })
}

/// Sends one instance's data to the sandbox: what it says of it.
async fn send_data(endpoint: &str, data: &SeedData) -> Result<String, SeedError> {
    let body = serde_json::to_vec(data).expect("seed data serializes");
    let answer = super::local::request(
        endpoint,
        http::Method::POST,
        "/__firedrill/data/seed",
        Some(body),
    )
    .await;
    let rows: u64 = data.tables.iter().filter_map(|t| t.rows.map(|r| r.1)).sum();
    match answer {
        Ok(_) => Ok(format!(
            "database of {}: {} table(s), {rows} generated row(s), {} snapshot copy(ies)",
            data.instance,
            data.tables.len(),
            data.snapshots.len()
        )),
        Err(super::local::SandboxError::Control { reason, .. })
            if reason.contains("data plane is off") =>
        {
            Ok(format!("no data for {}: {reason}", data.instance))
        }
        // The data plane refused the data: its reason is the whole story.
        Err(super::local::SandboxError::Control { reason, .. }) if reason.starts_with("422 ") => {
            Err(SeedError {
                what: format!("the data of {}", data.instance),
                reason: reason
                    .split_once(": ")
                    .map_or(reason.as_str(), |(_, r)| r)
                    .to_owned(),
            })
        }
        Err(e) => Err(SeedError {
            what: format!("the data of {}", data.instance),
            reason: e.to_string(),
        }),
    }
}

/// The RDS instances and Aurora clusters of `seed`, with their snapshots.
async fn seed_rds(
    seed: &SeedFile,
    clients: &Clients,
    now: DateTime<Utc>,
    out: &mut Seeded,
) -> Result<(), SeedError> {
    let rds = clients.rds();
    for db in &seed.rds_instances {
        rds.create_db_instance()
            .db_instance_identifier(&db.id)
            .engine(&db.engine)
            .db_instance_class(&db.instance_class)
            .allocated_storage(20)
            .master_username("seed")
            .master_user_password("seed-password-not-secret")
            .set_tags(Some(rds_tags(&db.tags)))
            .send()
            .await
            .map_err(fail(format!("RDS instance {}", db.id)))?;
        out.created.push(format!("rds-instance {}", db.id));
        // moto takes an automated snapshot at creation, dated now; production has the ones
        // the seed file lists, so it goes.
        let automated = rds
            .describe_db_snapshots()
            .db_instance_identifier(&db.id)
            .snapshot_type("automated")
            .send()
            .await
            .map_err(fail(format!("automated snapshots of {}", db.id)))?;
        for snap in automated.db_snapshots() {
            if let Some(id) = snap.db_snapshot_identifier() {
                rds.delete_db_snapshot()
                    .db_snapshot_identifier(id)
                    .send()
                    .await
                    .map_err(fail(format!("automated snapshot {id}")))?;
            }
        }
        for (i, s) in db.snapshots.iter().enumerate() {
            let id = snapshot_id(&db.id, i, s);
            let made = rds
                .create_db_snapshot()
                .db_instance_identifier(&db.id)
                .db_snapshot_identifier(&id)
                .set_tags(Some(rds_tags(&s.tags)))
                .send()
                .await
                .map_err(fail(format!("RDS snapshot {id}")))?;
            out.created.push(format!("rds-snapshot {id}"));
            let arn = made
                .db_snapshot()
                .and_then(|d| d.db_snapshot_arn())
                .unwrap_or_default();
            for region in &s.copies {
                clients
                    .in_region(region)
                    .rds()
                    .copy_db_snapshot()
                    .source_db_snapshot_identifier(arn)
                    .target_db_snapshot_identifier(&id)
                    .copy_tags(true)
                    .send()
                    .await
                    .map_err(fail(format!("the copy of RDS snapshot {id} in {region}")))?;
                out.created
                    .push(format!("rds-snapshot {id} (copy in {region})"));
            }
            out.recovery_points.insert(id, created_at(now, s.age)?);
        }
    }
    for cluster in &seed.aurora_clusters {
        rds.create_db_cluster()
            .db_cluster_identifier(&cluster.id)
            .engine(&cluster.engine)
            .master_username("seed")
            .master_user_password("seed-password-not-secret")
            .set_tags(Some(rds_tags(&cluster.tags)))
            .send()
            .await
            .map_err(fail(format!("Aurora cluster {}", cluster.id)))?;
        out.created.push(format!("rds-cluster {}", cluster.id));
        // Likewise for a cluster: only the file's recovery points.
        let automated = rds
            .describe_db_cluster_snapshots()
            .db_cluster_identifier(&cluster.id)
            .snapshot_type("automated")
            .send()
            .await
            .map_err(fail(format!("automated snapshots of {}", cluster.id)))?;
        for snap in automated.db_cluster_snapshots() {
            if let Some(id) = snap.db_cluster_snapshot_identifier() {
                rds.delete_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(id)
                    .send()
                    .await
                    .map_err(fail(format!("automated cluster snapshot {id}")))?;
            }
        }
        for (i, s) in cluster.snapshots.iter().enumerate() {
            let id = snapshot_id(&cluster.id, i, s);
            rds.create_db_cluster_snapshot()
                .db_cluster_identifier(&cluster.id)
                .db_cluster_snapshot_identifier(&id)
                .set_tags(Some(rds_tags(&s.tags)))
                .send()
                .await
                .map_err(fail(format!("cluster snapshot {id}")))?;
            out.created.push(format!("rds-cluster-snapshot {id}"));
            out.recovery_points.insert(id, created_at(now, s.age)?);
        }
    }
    Ok(())
}

/// The images and EBS volumes of `seed`, with their snapshots.
async fn seed_ec2(
    seed: &SeedFile,
    clients: &Clients,
    now: DateTime<Utc>,
    out: &mut Seeded,
) -> Result<Vec<ImageApp>, SeedError> {
    let ec2 = clients.ec2();
    let mut served = Vec::new();
    for image in &seed.images {
        let out_image = ec2
            .register_image()
            .name(&image.name)
            .root_device_name("/dev/xvda")
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(EbsBlockDevice::builder().volume_size(8).build())
                    .build(),
            )
            .tag_specifications(ec2_tags(ResourceType::Image, &image.tags))
            .send()
            .await
            .map_err(fail(format!("image {}", image.name)))?;
        let id = out_image.image_id().unwrap_or_default().to_owned();
        tag_ec2(&ec2, &id, &image.tags).await?;
        out.created.push(format!("image {id} ({})", image.name));
        if let Some(serves) = &image.serves {
            if serves.command.is_empty() || serves.port == 0 {
                return Err(SeedError {
                    what: format!("the app of image {}", image.name),
                    reason: "`serves` needs a `command` (a program and its arguments) and a \
                             `port` other than 0"
                        .into(),
                });
            }
            served.push(ImageApp {
                image: id.clone(),
                command: serves.command.clone(),
                dir: std::fs::canonicalize(if seed.dir.as_os_str().is_empty() {
                    std::path::Path::new(".")
                } else {
                    &seed.dir
                })
                .unwrap_or_else(|_| seed.dir.clone()),
                port: serves.port,
            });
        }
        out.recovery_points.insert(id, created_at(now, image.age)?);
    }
    let zone = format!("{}a", seed.region);
    for ebs in &seed.ebs_snapshots {
        let volume = ec2
            .create_volume()
            .availability_zone(&zone)
            .size(ebs.size_gib)
            .tag_specifications(ec2_tags(ResourceType::Volume, &ebs.tags))
            .send()
            .await
            .map_err(fail("EBS volume"))?;
        let volume_id = volume.volume_id().unwrap_or_default().to_owned();
        tag_ec2(&ec2, &volume_id, &ebs.tags).await?;
        out.created.push(format!("volume {volume_id}"));
        for s in &ebs.snapshots {
            let mut all = ebs.tags.clone();
            all.extend(s.tags.clone());
            let snap = ec2
                .create_snapshot()
                .volume_id(&volume_id)
                .tag_specifications(ec2_tags(ResourceType::Snapshot, &all))
                .send()
                .await
                .map_err(fail(format!("snapshot of {volume_id}")))?;
            let id = snap.snapshot_id().unwrap_or_default().to_owned();
            tag_ec2(&ec2, &id, &all).await?;
            out.created.push(format!("ebs-snapshot {id}"));
            out.recovery_points.insert(id, created_at(now, s.age)?);
        }
    }
    Ok(served)
}

/// The hosted zones of `seed`, with their records.
async fn seed_route53(
    seed: &SeedFile,
    clients: &Clients,
    out: &mut Seeded,
) -> Result<(), SeedError> {
    let route53 = clients.route53();
    for z in &seed.hosted_zones {
        let created = route53
            .create_hosted_zone()
            .name(&z.name)
            .caller_reference(format!("firedrill-seed-{}", z.name))
            .send()
            .await
            .map_err(fail(format!("hosted zone {}", z.name)))?;
        let zone_id = created
            .hosted_zone()
            .map(|h| h.id().to_owned())
            .unwrap_or_default();
        out.created
            .push(format!("hosted-zone {} ({zone_id})", z.name));
        let mut changes = Vec::new();
        for r in &z.records {
            let name = if r.name.ends_with('.') {
                r.name.clone()
            } else {
                format!("{}.{}", r.name, z.name.trim_end_matches('.'))
            };
            let records: Vec<ResourceRecord> = r
                .values
                .iter()
                .filter_map(|v| ResourceRecord::builder().value(v).build().ok())
                .collect();
            let set = ResourceRecordSet::builder()
                .name(name)
                .r#type(RrType::from(r.record_type.as_str()))
                .ttl(r.ttl)
                .set_resource_records(Some(records))
                .build()
                .map_err(|e| SeedError {
                    what: format!("record {}", r.name),
                    reason: e.to_string(),
                })?;
            changes.push(
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(set)
                    .build()
                    .map_err(|e| SeedError {
                        what: format!("record {}", r.name),
                        reason: e.to_string(),
                    })?,
            );
        }
        if !changes.is_empty() {
            let batch = ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .map_err(|e| SeedError {
                    what: "records".into(),
                    reason: e.to_string(),
                })?;
            route53
                .change_resource_record_sets()
                .hosted_zone_id(&zone_id)
                .change_batch(batch)
                .send()
                .await
                .map_err(fail(format!("records of {}", z.name)))?;
            out.created
                .push(format!("records {} in {}", z.records.len(), z.name));
        }
    }
    Ok(())
}

/// Tags an EC2 resource: moto ignores the tag specifications of some create calls
/// (`RegisterImage`, `CreateSnapshot`), so seeded resources are tagged explicitly.
async fn tag_ec2(
    ec2: &aws_sdk_ec2::Client,
    id: &str,
    extra: &BTreeMap<String, Scalar>,
) -> Result<(), SeedError> {
    let all: Vec<Ec2Tag> = tags(extra)
        .into_iter()
        .map(|(k, v)| Ec2Tag::builder().key(k).value(v).build())
        .collect();
    ec2.create_tags()
        .resources(id)
        .set_tags(Some(all))
        .send()
        .await
        .map_err(fail(format!("tags of {id}")))?;
    Ok(())
}

/// Creates a bucket with a plain request: the sandbox does not check signatures, and firedrill
/// needs no S3 client for anything else.
async fn create_bucket(endpoint: &str, region: &str, name: &str) -> Result<(), SeedError> {
    use http_body_util::{BodyExt, Full};
    let client: hyper_util::client::legacy::Client<_, Full<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let scope = format!(
        "AWS4-HMAC-SHA256 Credential=AKIAFIREDRILLSANDBOX/20260101/{region}/s3/aws4_request, SignedHeaders=host, Signature=0"
    );
    let tagging = format!(
        "<Tagging><TagSet><Tag><Key>environment</Key><Value>production</Value></Tag><Tag><Key>{}</Key><Value>{}</Value></Tag></TagSet></Tagging>",
        SIDE_TAG.0, SIDE_TAG.1
    );
    for (path, body) in [
        (format!("/{name}"), String::new()),
        (format!("/{name}?tagging"), tagging),
    ] {
        let req = http::Request::put(format!("{endpoint}{path}"))
            .header(http::header::AUTHORIZATION, &scope)
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| SeedError {
                what: format!("bucket {name}"),
                reason: e.to_string(),
            })?;
        let resp = client.request(req).await.map_err(|e| SeedError {
            what: format!("bucket {name}"),
            reason: e.to_string(),
        })?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        if !status.is_success() {
            return Err(SeedError {
                what: format!("bucket {name}"),
                reason: format!("{status}: {}", String::from_utf8_lossy(&body)),
            });
        }
    }
    Ok(())
}
