//! `cloudformation.stack`: create a stack from a template file and parameters, wait for it,
//! and give its outputs; a stack that fails says why from its events. Teardown deletes the
//! stack and waits until it is `DELETE_COMPLETE`. The stack's name is the step's token, and
//! the token is also its `ClientRequestToken`.

use aws_sdk_cloudformation::types::{
    Capability, Parameter, ResourceStatus, Stack, StackStatus, Tag,
};

use crate::aws::Clients;
use crate::aws::poll::{Found, Pollers, Watch};
use crate::aws::{sdk_code, sdk_error};
use crate::steps::cloudformation::{Capability as Cap, Stack as StackStep};
use crate::steps::context::{Outputs, Perform, Readiness, ReadyCx, StepCx, StepError};
use crate::steps::resource::{Owner, ResourceKind, TAG_TOKEN, Tagged};

/// What one describe call gives for a batch of stacks. `DescribeStacks` names one stack per call, so each round makes
/// one call per stack in flight (still one shared cadence, with backoff).
pub struct Stacks;

impl Watch for Stacks {
    type Item = Stack;
    const BATCH: usize = 1;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let cfn = clients.cloudformation();
        async move {
            let mut found = Found::new();
            for id in ids {
                match cfn.describe_stacks().stack_name(&id).send().await {
                    Ok(out) => {
                        if let Some(stack) = out.stacks().first() {
                            found.insert(id, stack.clone());
                        }
                    }
                    Err(e) if sdk_error(&e).contains("does not exist") => {}
                    Err(e) => return Err(format!("DescribeStacks: {}", sdk_error(&e))),
                }
            }
            Ok(found)
        }
    }
}

fn is_failure(status: &StackStatus) -> bool {
    let s = status.as_str();
    s.ends_with("_FAILED") || s.contains("ROLLBACK") || s.starts_with("DELETE")
}

/// Why stack `id` failed, from its events: each failed resource with its reason, oldest first.
async fn failure_reason(clients: &Clients, id: &str, stack: &Stack) -> String {
    let status = stack.stack_status().map_or("?", StackStatus::as_str);
    let mut reasons = Vec::new();
    if let Ok(out) = clients
        .cloudformation()
        .describe_stack_events()
        .stack_name(id)
        .send()
        .await
    {
        for event in out.stack_events().iter().rev() {
            let failed = matches!(
                event.resource_status(),
                Some(ResourceStatus::CreateFailed | ResourceStatus::UpdateFailed)
            );
            if failed && let Some(reason) = event.resource_status_reason() {
                reasons.push(format!(
                    "{} ({}): {reason}",
                    event.logical_resource_id().unwrap_or("?"),
                    event.resource_type().unwrap_or("?")
                ));
            }
        }
    }
    if reasons.is_empty()
        && let Some(reason) = stack.stack_status_reason()
    {
        reasons.push(reason.to_owned());
    }
    if reasons.is_empty() {
        format!("stack is {status}")
    } else {
        format!("stack is {status}: {}", reasons.join("; "))
    }
}

/// Runs attempt `attempt` of a `cloudformation.stack` step.
pub async fn create(with: &StackStep, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let path = cx.shared.base_dir.join(&with.template);
    let body = std::fs::read_to_string(&path).map_err(|e| {
        StepError::failed(format!("cannot read the template {}: {e}", path.display()))
    })?;
    let mut parameters = Vec::new();
    for (key, value) in &with.parameters {
        parameters.push(
            Parameter::builder()
                .parameter_key(key)
                .parameter_value(cx.render(value)?)
                .build(),
        );
    }
    let capabilities: Vec<Capability> = with
        .capabilities
        .iter()
        .map(|c| match c {
            Cap::Iam => Capability::CapabilityIam,
            Cap::NamedIam => Capability::CapabilityNamedIam,
            Cap::AutoExpand => Capability::CapabilityAutoExpand,
        })
        .collect();
    let token = cx.token(attempt);
    let tags: Vec<Tag> = cx
        .tags(&token)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let cfn = clients.cloudformation();
    let id = cx
        .create(ResourceKind::CfnStack, &token, || async {
            let out = cfn
                .create_stack()
                .stack_name(&token)
                .template_body(body)
                .set_parameters(Some(parameters))
                .set_capabilities((!capabilities.is_empty()).then_some(capabilities))
                .set_tags(Some(tags))
                .client_request_token(&token)
                .send()
                .await;
            match out {
                Ok(out) => Ok(out.stack_id().map_or_else(|| token.clone(), str::to_owned)),
                // A retried call whose first answer was lost: the stack is this attempt's.
                Err(e) if sdk_code(&e) == Some("AlreadyExistsException") => {
                    ours(&cfn, &token).await.ok_or_else(|| {
                        StepError::failed(format!(
                            "CreateStack: a stack named {token} exists and is not this run's"
                        ))
                    })
                }
                Err(e) => Err(StepError::failed(format!(
                    "CreateStack from {}: {}",
                    with.template,
                    sdk_error(&e)
                ))),
            }
        })
        .await?;
    let poller = cx.pollers().get::<Stacks>()?;
    let stack = cx
        .wait_listed(&poller, &id, ("stack", "DescribeStacks"), |s| {
            match s.stack_status() {
                Some(StackStatus::CreateComplete) => Some(Ok(Ok(s.clone()))),
                Some(status) if is_failure(status) => Some(Ok(Err(s.clone()))),
                _ => None,
            }
        })
        .await?;
    let stack = match stack {
        Ok(stack) => stack,
        Err(failed) => {
            return Err(StepError::failed(
                failure_reason(clients, &id, &failed).await,
            ));
        }
    };
    let mut out = Outputs::new();
    for o in stack.outputs() {
        if let (Some(k), Some(v)) = (o.output_key(), o.output_value()) {
            out.insert(k.to_owned(), v.to_owned());
        }
    }
    out.insert("stack_id".into(), id);
    out.insert(
        "stack_name".into(),
        stack.stack_name().unwrap_or(&token).to_owned(),
    );
    Ok(out)
}

/// The id of the stack named `token` when it carries the token's tag.
async fn ours(cfn: &aws_sdk_cloudformation::Client, token: &str) -> Option<String> {
    let out = cfn.describe_stacks().stack_name(token).send().await.ok()?;
    out.stacks()
        .iter()
        .find(|s| {
            s.tags()
                .iter()
                .any(|t| t.key() == Some(TAG_TOKEN) && t.value() == Some(token))
        })
        .and_then(|s| s.stack_id().map(str::to_owned))
}

/// The stacks (not deleted) that carry firedrill's run tag.
pub async fn tagged(clients: &Clients) -> Result<Vec<Tagged>, String> {
    let cfn = clients.cloudformation();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cfn
            .describe_stacks()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| format!("DescribeStacks: {}", sdk_error(&e)))?;
        for st in page.stacks() {
            if st.stack_status() != Some(&StackStatus::DeleteComplete) {
                // By its id, as the journal records it.
                out.extend(Tagged::of(
                    ResourceKind::CfnStack,
                    st.stack_id().or(st.stack_name()).unwrap_or_default(),
                    st.tags().iter().map(|t| (t.key(), t.value())),
                ));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// Who owns stack `id` (a stack id or name), from what the stack poller sees.
pub async fn stack_owner(pollers: &Pollers, id: &str) -> Result<Owner, String> {
    Ok(match pollers.get::<Stacks>()?.look(id).await? {
        None => Owner::Gone,
        Some(s) if s.stack_status() == Some(&StackStatus::DeleteComplete) => Owner::Gone,
        Some(s) => Owner::from_tags(s.tags().iter().map(|t| (t.key(), t.value()))),
    })
}

/// Asks for the deletion of stack `id`.
pub async fn delete_stack(clients: &Clients, id: &str) -> Result<(), String> {
    clients
        .cloudformation()
        .delete_stack()
        .stack_name(id)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("DeleteStack: {}", sdk_error(&e)))
}

impl Perform for StackStep {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        let path = cx.base_dir.join(&self.template);
        match std::fs::read_to_string(&path) {
            Ok(body) if !body.trim().is_empty() => Readiness::Ready {
                detail: format!("template {} ({} bytes)", path.display(), body.len()),
            },
            Ok(_) => Readiness::NotReady {
                reason: format!("the template {} is empty", path.display()),
            },
            Err(e) => Readiness::NotReady {
                reason: format!("cannot read the template {}: {e}", path.display()),
            },
        }
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        create(self, cx, attempt).await
    }
}
