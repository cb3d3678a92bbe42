//! `ec2.launch`: launch an instance from an image id or the newest image with given tags, and
//! wait until it runs (or passes its status checks). The instance's idempotency token
//! (`ClientToken`) and its `firedrill:token` tag come from the run id, so a crash between the
//! call and its answer leaves an instance that teardown can find.

use aws_sdk_ec2::types::{
    Filter, IamInstanceProfileSpecification, InstanceStateName, ResourceType, SummaryStatus, Tag,
    TagSpecification,
};

use super::resource::{Owner, ResourceKind, TAG_RUN, TAG_TOKEN, sdk_code, sdk_error};
use super::step::{Outputs, StepCx, StepError};
use crate::aws::Clients;
use crate::kinds::common::Selector;
use crate::kinds::ec2::{Launch, LaunchWait};

/// Runs attempt `attempt` of an `ec2.launch` step.
pub async fn launch(with: &Launch, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let ec2 = cx.clients()?.ec2();
    let image = match &with.image {
        Selector::Id(id) => cx.render(id)?,
        Selector::LatestTagged(tags) => {
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
                .map_err(|e| StepError::failed(format!("DescribeImages: {}", sdk_error(&e))))?;
            images
                .images()
                .iter()
                .filter(|i| i.image_id().is_some())
                .max_by(|a, b| a.creation_date().cmp(&b.creation_date()))
                .and_then(|i| i.image_id().map(str::to_owned))
                .ok_or_else(|| {
                    StepError::failed(format!(
                        "no available image of this account is tagged {}",
                        with.image
                            .describe()
                            .trim_start_matches("the latest tagged ")
                    ))
                })?
        }
        Selector::Latest => return Err(StepError::failed("`latest` does not say which image")),
    };
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
    let tags: Vec<Tag> = cx
        .tags(&token)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let tag_spec = |kind: ResourceType| {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags.clone()))
            .build()
    };
    let id = cx
        .create(ResourceKind::Ec2Instance, &token, || async {
            let mut request = ec2
                .run_instances()
                .image_id(&image)
                .instance_type(instance_type.as_str().into())
                .min_count(1)
                .max_count(1)
                .client_token(&token)
                .tag_specifications(tag_spec(ResourceType::Instance))
                .tag_specifications(tag_spec(ResourceType::Volume))
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

    // Await: poll until running (one DescribeInstances per poll).
    let instance = loop {
        let out = match ec2.describe_instances().instance_ids(&id).send().await {
            Ok(out) => out,
            // Eventual consistency: a new instance can be unknown to describes for a moment.
            Err(e) if sdk_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => {
                cx.pause().await?;
                continue;
            }
            Err(e) => {
                return Err(StepError::failed(format!(
                    "DescribeInstances: {}",
                    sdk_error(&e)
                )));
            }
        };
        let instance = out
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .find(|i| i.instance_id() == Some(id.as_str()))
            .cloned();
        let state = instance
            .as_ref()
            .and_then(|i| i.state())
            .and_then(|s| s.name())
            .cloned();
        match state {
            Some(InstanceStateName::Running) => break instance.expect("a state has an instance"),
            Some(
                s @ (InstanceStateName::Terminated
                | InstanceStateName::ShuttingDown
                | InstanceStateName::Stopped
                | InstanceStateName::Stopping),
            ) => {
                return Err(StepError::failed(format!(
                    "instance {id} is {} instead of running",
                    s.as_str()
                )));
            }
            _ => cx.pause().await?,
        }
    };
    if with.wait_for == LaunchWait::StatusOk {
        loop {
            let out = ec2
                .describe_instance_status()
                .instance_ids(&id)
                .send()
                .await
                .map_err(|e| {
                    StepError::failed(format!("DescribeInstanceStatus: {}", sdk_error(&e)))
                })?;
            let ok = out.instance_statuses().iter().any(|s| {
                s.instance_status().and_then(|x| x.status()) == Some(&SummaryStatus::Ok)
                    && s.system_status().and_then(|x| x.status()) == Some(&SummaryStatus::Ok)
            });
            if ok {
                break;
            }
            cx.pause().await?;
        }
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

/// Who owns instance `id`.
pub async fn instance_owner(clients: &Clients, id: &str) -> Result<Owner, String> {
    let out = match clients
        .ec2()
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) if sdk_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => {
            return Ok(Owner::Gone);
        }
        Err(e) => return Err(format!("DescribeInstances: {}", sdk_error(&e))),
    };
    let Some(instance) = out
        .reservations()
        .iter()
        .flat_map(aws_sdk_ec2::types::Reservation::instances)
        .find(|i| i.instance_id() == Some(id))
    else {
        return Ok(Owner::Gone);
    };
    if instance.state().and_then(|s| s.name()) == Some(&InstanceStateName::Terminated) {
        return Ok(Owner::Gone);
    }
    Ok(instance
        .tags()
        .iter()
        .find(|t| t.key() == Some(TAG_RUN))
        .and_then(|t| t.value())
        .map_or(Owner::Untagged, |v| Owner::Run(v.to_owned())))
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

fn base64(bytes: &[u8]) -> String {
    aws_smithy_types::base64::encode(bytes)
}
