//! The readiness check (`firedrill walkthrough --check`): could the plan start now? The
//! account guard, then each step's own check ([`crate::steps::Action::ready`]): recovery
//! points found and young enough for the RPO target, images, zones, templates. Read-only:
//! no create, no change, no journal row (the local sandbox's call counts prove it in
//! `tests/walkthrough.rs`).

use chrono::{DateTime, Utc};

use crate::aws::guard;
use crate::engine::prepare::{Account, PrepareError, clients_for};
use crate::playbook::Playbook;
use crate::steps::context::{Readiness, ReadyCx};

/// What the check found.
#[derive(Clone, Debug)]
pub struct Check {
    /// The account the guard found, or why it refused.
    pub guard: Result<String, String>,
    /// Each step's readiness, in file order.
    pub steps: Vec<Readiness>,
}

/// Checks whether `playbook` could start now in `account`.
pub async fn check(
    playbook: &Playbook,
    account: &Account,
    region: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Check, PrepareError> {
    let needs_aws = playbook.steps.iter().any(|s| s.action.needs_aws());
    let (clients, _, _) = clients_for(playbook, account, region, needs_aws).await?;
    let Some(clients) = clients else {
        return Ok(Check {
            guard: Ok("no AWS step: nothing to check".to_owned()),
            steps: vec![Readiness::Nothing; playbook.steps.len()],
        });
    };
    let guard = match guard::check(&clients, &playbook.sandbox.accounts).await {
        Ok(id) => Ok(id.account),
        Err(refusal) => {
            return Ok(Check {
                guard: Err(refusal.to_string()),
                steps: Vec::new(),
            });
        }
    };
    let base_dir = playbook.base_dir();
    let cx = ReadyCx {
        clients: &clients,
        vars: &playbook.vars,
        base_dir: &base_dir,
        rpo_target: playbook.targets.rpo.map(|d| d.0),
        now,
    };
    let mut steps = Vec::with_capacity(playbook.steps.len());
    // One step at a time: a check is a handful of describes, and the order keeps the calls
    // readable in the sandbox's log.
    for s in &playbook.steps {
        steps.push(s.action.ready(&cx).await);
    }
    Ok(Check { guard, steps })
}
