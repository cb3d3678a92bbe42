//! `ec2.launch`: launch an instance from an image id or the newest image with given tags, and
//! wait until it runs (or passes its status checks). The instance's idempotency token
//! (`ClientToken`) and its `firedrill:token` tag come from the run id, so a crash between the
//! call and its answer leaves an instance that teardown can find.

use aws_sdk_ec2::types::{
    Filter, IamInstanceProfileSpecification, Instance, InstanceStateName, InstanceStatus,
    ResourceType, SummaryStatus, Tag, TagSpecification, Volume, VolumeState,
};

use crate::aws::poll::{Found, Pollers, Watch};

use crate::aws::Clients;
use crate::aws::{sdk_code, sdk_error};
use crate::steps::common::Selector;
use crate::steps::context::{Outputs, Perform, Readiness, ReadyCx, StepCx, StepError};
use crate::steps::ec2::{Launch, LaunchWait, RestoreVolume};
use crate::steps::resource::{Owner, ResourceKind, TAG_TOKEN, Tagged};

/// How many identifiers one EC2 describe filters on.
pub const BATCH: usize = 200;

fn filter(name: &str, values: Vec<String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values))
        .build()
}

/// What one describe call gives for a batch of EC2 instances.
pub struct Instances;

impl Watch for Instances {
    type Item = Instance;
    const BATCH: usize = BATCH;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let ec2 = clients.ec2();
        async move {
            let out = ec2
                .describe_instances()
                .filters(filter("instance-id", ids))
                .send()
                .await
                .map_err(|e| format!("DescribeInstances: {}", sdk_error(&e)))?;
            Ok(out
                .reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .filter_map(|i| Some((i.instance_id()?.to_owned(), i.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// What one describe call gives for a batch of instance status checks (`DescribeInstanceStatus` names the instances;
/// they are this run's, so they exist).
pub struct InstanceStatuses;

impl Watch for InstanceStatuses {
    type Item = InstanceStatus;
    const BATCH: usize = 100;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let ec2 = clients.ec2();
        async move {
            let out = ec2
                .describe_instance_status()
                .set_instance_ids(Some(ids))
                .include_all_instances(true)
                .send()
                .await
                .map_err(|e| format!("DescribeInstanceStatus: {}", sdk_error(&e)))?;
            Ok(out
                .instance_statuses()
                .iter()
                .filter_map(|s| Some((s.instance_id()?.to_owned(), s.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// What one describe call gives for a batch of EBS volumes.
pub struct Volumes;

impl Watch for Volumes {
    type Item = Volume;
    const BATCH: usize = BATCH;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let ec2 = clients.ec2();
        async move {
            let out = ec2
                .describe_volumes()
                .filters(filter("volume-id", ids))
                .send()
                .await
                .map_err(|e| format!("DescribeVolumes: {}", sdk_error(&e)))?;
            Ok(out
                .volumes()
                .iter()
                .filter_map(|v| Some((v.volume_id()?.to_owned(), v.clone())))
                .collect::<Found<_>>())
        }
    }
}

/// The newest available image of this account carrying every tag of `tags`, and its
/// creation date.
async fn newest_tagged(
    ec2: &aws_sdk_ec2::Client,
    tags: &crate::steps::common::Tags,
) -> Result<Option<(String, Option<String>)>, String> {
    let mut request = ec2
        .describe_images()
        .owners("self")
        .filters(Filter::builder().name("state").values("available").build());
    for (k, v) in tags {
        request = request.filters(
            Filter::builder()
                .name(format!("tag:{k}"))
                .values(v.0.as_str())
                .build(),
        );
    }
    let images = request
        .send()
        .await
        .map_err(|e| format!("DescribeImages: {}", sdk_error(&e)))?;
    Ok(images
        .images()
        .iter()
        .filter(|i| i.image_id().is_some())
        .max_by(|a, b| a.creation_date().cmp(&b.creation_date()))
        .and_then(|i| {
            i.image_id()
                .map(|id| (id.to_owned(), i.creation_date().map(str::to_owned)))
        }))
}

fn no_tagged_image(with: &Launch) -> String {
    format!(
        "no available image of this account is tagged {}",
        with.image
            .describe()
            .trim_start_matches("the latest tagged ")
    )
}

/// The image a launch uses: the one named, or the newest available image of this account with
/// the tags asked for.
async fn image_to_launch(
    with: &Launch,
    cx: &StepCx,
    ec2: &aws_sdk_ec2::Client,
) -> Result<String, StepError> {
    Ok(match &with.image {
        Selector::Id(id) => cx.render(id)?,
        Selector::LatestTagged(tags) => newest_tagged(ec2, tags)
            .await?
            .map(|(id, _)| id)
            .ok_or_else(|| StepError::failed(no_tagged_image(with)))?,
        Selector::Latest => return Err(StepError::failed("`latest` does not say which image")),
    })
}

/// Whether a launch could start now: its image exists and is available.
async fn image_ready(cx: &ReadyCx<'_>, with: &Launch) -> Readiness {
    let ec2 = cx.clients.ec2();
    match &with.image {
        Selector::Id(id) => {
            let id = match cx.render(id) {
                Ok(id) => id,
                Err(r) => return r,
            };
            match ec2.describe_images().image_ids(&id).send().await {
                Ok(out)
                    if out
                        .images()
                        .iter()
                        .any(|i| i.state() == Some(&aws_sdk_ec2::types::ImageState::Available)) =>
                {
                    Readiness::Ready {
                        detail: format!("image `{id}` is available"),
                    }
                }
                Ok(_) => Readiness::NotReady {
                    reason: format!("no available image `{id}` in {}", cx.clients.region),
                },
                Err(e) => Readiness::NotReady {
                    reason: format!("DescribeImages {id}: {}", sdk_error(&e)),
                },
            }
        }
        Selector::LatestTagged(tags) => match newest_tagged(&ec2, tags).await {
            Ok(Some((id, created))) => Readiness::Ready {
                detail: match created {
                    Some(at) => format!("image `{id}`, created {at}"),
                    None => format!("image `{id}`"),
                },
            },
            Ok(None) => Readiness::NotReady {
                reason: no_tagged_image(with),
            },
            Err(reason) => Readiness::NotReady { reason },
        },
        Selector::Latest => Readiness::NotReady {
            reason: "`latest` does not say which image".to_owned(),
        },
    }
}

/// Runs attempt `attempt` of an `ec2.launch` step.
pub async fn launch(with: &Launch, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let ec2 = cx.clients()?.ec2();
    let image = image_to_launch(with, cx, &ec2).await?;
    let instance_type = cx.render(&with.instance_type)?;
    let subnet = with.subnet.as_ref().map(|s| cx.render(s)).transpose()?;
    let groups = with
        .security_groups
        .iter()
        .map(|g| cx.render(g))
        .collect::<Result<Vec<_>, _>>()?;
    let user_data = with.user_data.as_ref().map(|u| cx.render(u)).transpose()?;
    let profile = with
        .instance_profile
        .as_ref()
        .map(|p| cx.render(p))
        .transpose()?;

    let token = cx.token(attempt);
    let id = cx
        .create(ResourceKind::Ec2Instance, &token, || async {
            let mut request = ec2
                .run_instances()
                .image_id(&image)
                .instance_type(instance_type.as_str().into())
                .min_count(1)
                .max_count(1)
                .client_token(&token)
                .tag_specifications(tag_spec(cx, &token, ResourceType::Instance))
                .tag_specifications(tag_spec(cx, &token, ResourceType::Volume))
                .set_subnet_id(subnet)
                .set_security_group_ids((!groups.is_empty()).then_some(groups));
            if let Some(data) = user_data {
                request = request.user_data(base64(data.as_bytes()));
            }
            if let Some(p) = profile {
                let spec = if p.starts_with("arn:") {
                    IamInstanceProfileSpecification::builder().arn(p)
                } else {
                    IamInstanceProfileSpecification::builder().name(p)
                };
                request = request.iam_instance_profile(spec.build());
            }
            let out = request
                .send()
                .await
                .map_err(|e| StepError::failed(format!("RunInstances: {}", sdk_error(&e))))?;
            out.instances()
                .first()
                .and_then(|i| i.instance_id())
                .map(str::to_owned)
                .ok_or_else(|| StepError::failed("RunInstances gave no instance"))
        })
        .await?;

    // Await, through the run's shared instance poller.
    let poller = cx.pollers().get::<Instances>()?;
    let instance = cx
        .wait_listed(&poller, &id, ("instance", "DescribeInstances"), |i| match i
            .state()
            .and_then(|s| s.name())
        {
            Some(InstanceStateName::Running) => Some(Ok(i.clone())),
            Some(
                s @ (InstanceStateName::Terminated
                | InstanceStateName::ShuttingDown
                | InstanceStateName::Stopped
                | InstanceStateName::Stopping),
            ) => Some(Err(StepError::failed(format!(
                "instance {id} is {} instead of running",
                s.as_str()
            )))),
            _ => None,
        })
        .await?;
    if with.wait_for == LaunchWait::StatusOk {
        let poller = cx.pollers().get::<InstanceStatuses>()?;
        cx.wait_for(&poller, &id, |status| {
            let ok = status.is_some_and(|s| {
                s.instance_status().and_then(|x| x.status()) == Some(&SummaryStatus::Ok)
                    && s.system_status().and_then(|x| x.status()) == Some(&SummaryStatus::Ok)
            });
            ok.then_some(Ok(()))
        })
        .await?;
    }
    let mut outputs = Outputs::new();
    outputs.insert("id".into(), id.clone());
    outputs.insert(
        "private_ip".into(),
        instance.private_ip_address().unwrap_or_default().to_owned(),
    );
    outputs.insert(
        "private_dns".into(),
        instance.private_dns_name().unwrap_or_default().to_owned(),
    );
    outputs.insert("image_id".into(), image);
    outputs.insert(
        "availability_zone".into(),
        instance
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_owned(),
    );
    Ok(outputs)
}

/// The instance created with `token`, if one exists.
pub async fn find_instance(clients: &Clients, token: &str) -> Result<Option<String>, String> {
    let out = clients
        .ec2()
        .describe_instances()
        .filters(
            Filter::builder()
                .name(format!("tag:{TAG_TOKEN}"))
                .values(token)
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("DescribeInstances: {}", sdk_error(&e)))?;
    Ok(out
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .filter(|i| i.state().and_then(|s| s.name()) != Some(&InstanceStateName::Terminated))
        .find_map(|i| i.instance_id().map(str::to_owned)))
}

/// Who owns instance `id`, from what the instance poller sees.
pub async fn instance_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(match pollers.get::<Instances>()?.look(id).await? {
        None => Owner::Gone,
        Some(i) if i.state().and_then(|s| s.name()) == Some(&InstanceStateName::Terminated) => {
            Owner::Gone
        }
        Some(i) => ec2_owner(i.tags()),
    })
}

/// The instances (not terminated) and volumes that carry firedrill's run tag.
pub async fn tagged(clients: &Clients, kind: ResourceKind) -> Result<Vec<Tagged>, String> {
    let ec2 = clients.ec2();
    let tag_key = aws_sdk_ec2::types::Filter::builder()
        .name("tag-key")
        .values(crate::steps::resource::TAG_RUN)
        .build();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let next = if kind == ResourceKind::Ec2Volume {
            let page = ec2
                .describe_volumes()
                .filters(tag_key.clone())
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| format!("DescribeVolumes: {}", sdk_error(&e)))?;
            for v in page.volumes() {
                if v.state() != Some(&VolumeState::Deleted) {
                    out.extend(Tagged::of(
                        kind,
                        v.volume_id().unwrap_or_default(),
                        v.tags().iter().map(|t| (t.key(), t.value())),
                    ));
                }
            }
            page.next_token().map(str::to_owned)
        } else {
            let page = ec2
                .describe_instances()
                .filters(tag_key.clone())
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| format!("DescribeInstances: {}", sdk_error(&e)))?;
            for i in page
                .reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
            {
                if i.state().and_then(|s| s.name()) != Some(&InstanceStateName::Terminated) {
                    out.extend(Tagged::of(
                        kind,
                        i.instance_id().unwrap_or_default(),
                        i.tags().iter().map(|t| (t.key(), t.value())),
                    ));
                }
            }
            page.next_token().map(str::to_owned)
        };
        match next {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// Asks for the termination of instance `id`.
pub async fn terminate_instance(clients: &Clients, id: &str) -> Result<(), String> {
    match clients
        .ec2()
        .terminate_instances()
        .instance_ids(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if sdk_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => Ok(()),
        Err(e) => Err(format!("TerminateInstances: {}", sdk_error(&e))),
    }
}

fn tag_spec(cx: &StepCx, token: &str, kind: ResourceType) -> TagSpecification {
    let tags: Vec<Tag> = cx
        .tags(token)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(tags))
        .build()
}

/// A chosen EBS snapshot.
struct SnapshotPoint {
    id: String,
    created: chrono::DateTime<chrono::Utc>,
}

/// Which EBS snapshot a restore asks for, its references resolved.
enum Wanted<'a> {
    /// This one.
    Id(String),
    /// The newest of this volume.
    OfVolume(String),
    /// The newest with these tags.
    Tagged(&'a crate::steps::common::Tags),
}

/// The EBS snapshot `with.snapshot` picks, its references resolved by `render` (the step's
/// context in a run, the readiness check's before one).
async fn volume_snapshot<E: From<String>>(
    clients: &Clients,
    with: &RestoreVolume,
    render: impl Fn(&crate::language::template::Template) -> Result<String, E>,
) -> Result<Result<SnapshotPoint, String>, E> {
    let wanted = match &with.snapshot {
        Selector::Id(id) => Wanted::Id(render(id)?),
        Selector::Latest => {
            let volume = with
                .source_volume
                .as_ref()
                .ok_or_else(|| E::from("`snapshot: latest` needs a `source_volume`".to_owned()))?;
            Wanted::OfVolume(render(volume)?)
        }
        Selector::LatestTagged(tags) => Wanted::Tagged(tags),
    };
    Ok(find_volume_snapshot(clients, &wanted).await)
}

async fn find_volume_snapshot(
    clients: &Clients,
    wanted: &Wanted<'_>,
) -> Result<SnapshotPoint, String> {
    let mut request = clients.ec2().describe_snapshots();
    let looked_for = match wanted {
        Wanted::Id(id) => {
            request = request.snapshot_ids(id);
            format!("snapshot `{id}`")
        }
        Wanted::OfVolume(volume) => {
            request = request
                .owner_ids("self")
                .filters(filter("volume-id", vec![volume.clone()]));
            format!("a completed snapshot of volume `{volume}` owned by this account")
        }
        Wanted::Tagged(tags) => {
            request = request.owner_ids("self");
            for (k, v) in *tags {
                request = request.filters(filter(&format!("tag:{k}"), vec![v.0.clone()]));
            }
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
            format!(
                "a completed snapshot owned by this account tagged {}",
                tags.join(", ")
            )
        }
    };
    let missing = || {
        format!(
            "no snapshot found: looked for {looked_for} in {}",
            clients.region
        )
    };
    let snapshots = match request.send().await {
        Ok(out) => out.snapshots().to_vec(),
        Err(e) if sdk_code(&e).is_some_and(|c| c.starts_with("InvalidSnapshot")) => {
            return Err(missing());
        }
        Err(e) => {
            return Err(format!("DescribeSnapshots: {}", sdk_error(&e)));
        }
    };
    snapshots
        .iter()
        .filter(|s| s.state() == Some(&aws_sdk_ec2::types::SnapshotState::Completed))
        .filter_map(|s| {
            Some(SnapshotPoint {
                id: s.snapshot_id()?.to_owned(),
                created: crate::steps::rds::action::to_chrono(s.start_time()?)?,
            })
        })
        .max_by_key(|p| p.created)
        .ok_or_else(missing)
}

/// Runs attempt `attempt` of an `ec2.restore-volume` step: the volume, available, then
/// attached when asked.
pub async fn restore_volume(
    with: &RestoreVolume,
    cx: &StepCx,
    attempt: u32,
) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let ec2 = clients.ec2();
    let point = volume_snapshot(clients, with, |t| cx.render(t)).await??;
    let attach_to = with
        .attach
        .as_ref()
        .map(|a| cx.render(&a.instance).map(|i| (i, a.device.clone())))
        .transpose()?;
    let zone = match (&with.availability_zone, &attach_to) {
        (Some(z), _) => cx.render(z)?,
        (None, Some((instance, _))) => {
            let out = ec2
                .describe_instances()
                .filters(filter("instance-id", vec![instance.clone()]))
                .send()
                .await
                .map_err(|e| StepError::failed(format!("DescribeInstances: {}", sdk_error(&e))))?;
            out.reservations()
                .iter()
                .flat_map(aws_sdk_ec2::types::Reservation::instances)
                .find_map(|i| i.placement()?.availability_zone().map(str::to_owned))
                .ok_or_else(|| {
                    StepError::failed(format!(
                        "instance `{instance}` to attach to is not found in {}",
                        clients.region
                    ))
                })?
        }
        (None, None) => return Err(StepError::failed("the volume needs an availability zone")),
    };
    let token = cx.token(attempt);
    let id = cx
        .create(ResourceKind::Ec2Volume, &token, || async {
            let out = ec2
                .create_volume()
                .snapshot_id(&point.id)
                .availability_zone(&zone)
                .volume_type(with.volume_type.as_str().into())
                .set_size(with.size_gib.and_then(|s| i32::try_from(s).ok()))
                .client_token(&token)
                .tag_specifications(tag_spec(cx, &token, ResourceType::Volume))
                .send()
                .await
                .map_err(|e| {
                    StepError::failed(format!(
                        "CreateVolume from {} in {zone}: {}",
                        point.id,
                        sdk_error(&e)
                    ))
                })?;
            out.volume_id()
                .map(str::to_owned)
                .ok_or_else(|| StepError::failed("CreateVolume gave no volume id"))
        })
        .await?;
    let poller = cx.pollers().get::<Volumes>()?;
    cx.wait_listed(&poller, &id, ("volume", "DescribeVolumes"), |v| {
        match v.state() {
            Some(VolumeState::Available) => Some(Ok(())),
            Some(s @ (VolumeState::Error | VolumeState::Deleting | VolumeState::Deleted)) => {
                Some(Err(StepError::failed(format!(
                    "volume {id} is {} instead of available",
                    s.as_str()
                ))))
            }
            _ => None,
        }
    })
    .await?;
    if let Some((instance, device)) = &attach_to {
        ec2.attach_volume()
            .volume_id(&id)
            .instance_id(instance)
            .device(device)
            .send()
            .await
            .map_err(|e| {
                StepError::failed(format!(
                    "AttachVolume {id} to {instance} as {device}: {}",
                    sdk_error(&e)
                ))
            })?;
        cx.wait_for(&poller, &id, |v| {
            let attached = v?.attachments().iter().any(|a| {
                a.instance_id() == Some(instance.as_str())
                    && a.state() == Some(&aws_sdk_ec2::types::VolumeAttachmentState::Attached)
            });
            attached.then_some(Ok(()))
        })
        .await?;
    }
    let mut out = Outputs::new();
    out.insert("id".into(), id);
    out.insert("snapshot_id".into(), point.id);
    out.insert(
        "snapshot_time".into(),
        crate::engine::event::rfc3339(point.created),
    );
    out.insert("rpo_secs".into(), cx.rpo_secs(point.created));
    out.insert("availability_zone".into(), zone);
    Ok(out)
}

/// The volume created with `token`, if one exists.
pub async fn find_volume(clients: &Clients, token: &str) -> Result<Option<String>, String> {
    let out = clients
        .ec2()
        .describe_volumes()
        .filters(filter(&format!("tag:{TAG_TOKEN}"), vec![token.to_owned()]))
        .send()
        .await
        .map_err(|e| format!("DescribeVolumes: {}", sdk_error(&e)))?;
    Ok(out
        .volumes()
        .iter()
        .filter(|v| v.state() != Some(&VolumeState::Deleted))
        .find_map(|v| v.volume_id().map(str::to_owned)))
}

fn ec2_owner(tags: &[Tag]) -> Owner {
    Owner::from_tags(tags.iter().map(|t| (t.key(), t.value())))
}

/// Who owns volume `id`, from what the volume poller sees.
pub async fn volume_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(match pollers.get::<Volumes>()?.look(id).await? {
        None => Owner::Gone,
        Some(v) if v.state() == Some(&VolumeState::Deleted) => Owner::Gone,
        Some(v) => ec2_owner(v.tags()),
    })
}

/// Deletes volume `id`; an attached volume is detached (forced: the instance is a drill's
/// too) and the delete is retried once it is free.
pub async fn delete_volume(clients: &Clients, id: &str) -> Result<(), String> {
    let ec2 = clients.ec2();
    match ec2.delete_volume().volume_id(id).send().await {
        Ok(_) => Ok(()),
        Err(e) if sdk_code(&e).is_some_and(|c| c.starts_with("InvalidVolume.NotFound")) => Ok(()),
        Err(e) if sdk_code(&e) == Some("VolumeInUse") => {
            let out = ec2
                .describe_volumes()
                .volume_ids(id)
                .send()
                .await
                .map_err(|e| format!("DescribeVolumes: {}", sdk_error(&e)))?;
            let attachments = out
                .volumes()
                .iter()
                .flat_map(|v| v.attachments().iter().cloned())
                .collect::<Vec<_>>();
            for a in attachments {
                ec2.detach_volume()
                    .volume_id(id)
                    .set_instance_id(a.instance_id().map(str::to_owned))
                    .set_device(a.device().map(str::to_owned))
                    .force(true)
                    .send()
                    .await
                    .map_err(|e| format!("DetachVolume: {}", sdk_error(&e)))?;
            }
            Err(format!(
                "volume {id} was attached: detached it, deleting once it is free"
            ))
        }
        Err(e) => Err(format!("DeleteVolume: {}", sdk_error(&e))),
    }
}

fn base64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes)
}

impl Perform for Launch {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        image_ready(cx, self).await
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        launch(self, cx, attempt).await
    }
}

impl Perform for RestoreVolume {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        match volume_snapshot(cx.clients, self, |t| cx.render(t)).await {
            Err(unresolved) => unresolved,
            Ok(Err(reason)) => Readiness::NotReady { reason },
            Ok(Ok(p)) => cx
                .too_old(&format!("EBS snapshot `{}`", p.id), p.created)
                .unwrap_or_else(|| Readiness::Ready {
                    detail: format!("EBS snapshot `{}`, {}", p.id, cx.age(p.created)),
                }),
        }
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        restore_volume(self, cx, attempt).await
    }
}
