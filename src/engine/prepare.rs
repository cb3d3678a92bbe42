//! Makes a drill ready to run from a compiled playbook and what the command line asked: the
//! AWS clients, the run's lock and journal row, the account guard, the tags, the pollers, the
//! SSM values and the scratch directory, in the order the safety rules ask — the journal row
//! before the guard, the guard before any mutating call (no step has run when this returns).
//!
//! [`reconnect`] does the same for `firedrill teardown`: the clients of a journaled run's
//! account, and the guard again.
//!
//! Knows no terminal and no emulator: the command line starts the local sandbox and says where
//! it is ([`Account::Local`]), and passes the prompter a terminal gives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::aws::poll::Pollers;
use crate::aws::{AwsOptions, Clients, guard};
use crate::engine::command::{self, Controller};
use crate::engine::event::rfc3339;
use crate::engine::exit;
use crate::engine::state::{self, Drill};
use crate::engine::teardown;
use crate::playbook::Playbook;
use crate::steps::builtin::gate::Gates;
use crate::steps::builtin::prompter::Prompter;
use crate::steps::context::{Shared, SsmValues};
use crate::steps::probe::names::Names;
use crate::steps::resource::{TAG_EXPIRES, TAG_PLAYBOOK, TAG_RUN};
use crate::store::journal::{Journal, NewRun, RunRecord};
use crate::store::lock;
use crate::store::recorder::Recorder;

/// Where the drill's AWS calls go.
#[derive(Clone, Debug)]
pub enum Account {
    /// The local sandbox, already running at `endpoint`.
    Local {
        /// Its endpoint.
        endpoint: String,
        /// The region to use when neither `--region` nor the playbook names one.
        region: String,
        /// How the journal names it (so that `firedrill teardown` finds it again).
        identity: String,
        /// Its time scale (what learned durations are kept apart by).
        time_scale: f64,
        /// Its name server (Route53's zones over DNS), where probes look names up first.
        dns: Option<std::net::SocketAddr>,
        /// Its certificate authority (a PEM file), which probes trust for its databases' TLS.
        ca: Option<std::path::PathBuf>,
    },
    /// The account of the caller's credentials (or the playbook's `sandbox.endpoint`).
    Configured {
        /// The shared profile to take them from (`--profile`, `AWS_PROFILE`).
        profile: Option<String>,
    },
}

impl Account {
    /// What a run of `playbook` on this account runs against, for learning durations only from
    /// runs like it.
    pub fn learning_target(&self, playbook: &Playbook) -> crate::playbook::learned::Target {
        use crate::playbook::learned::Target;
        match self {
            Account::Local { time_scale, .. } => Target::LocalSandbox {
                time_scale: *time_scale,
            },
            Account::Configured { .. } if playbook.sandbox.endpoint.is_some() => Target::Endpoint,
            Account::Configured { .. } => Target::Aws,
        }
    }

    /// Where a run on this account is pointed, for advice that fits it.
    pub fn target(&self) -> guard::Target {
        match self {
            Account::Local { .. } => guard::Target::LocalSandbox,
            Account::Configured { .. } => guard::Target::Aws,
        }
    }
}

/// What the command line asks for.
pub struct Request {
    /// The compiled playbook.
    pub playbook: Arc<Playbook>,
    /// The run id (the playbook lock is held under it).
    pub run_id: String,
    /// The state directory (journal, run directories).
    pub state_dir: PathBuf,
    /// The SSM parameters the playbook's text refers to.
    pub ssm: Vec<String>,
    /// Where the AWS calls go.
    pub account: Account,
    /// `--region`.
    pub region: Option<String>,
    /// Let manual gates pass without asking.
    pub auto_approve: bool,
    /// Where manual gates ask, when a person is at a terminal.
    pub prompter: Option<Prompter>,
    /// Whether commands from outside may answer manual gates (a facilitated run).
    pub gates_from_outside: bool,
    /// `--parallel`.
    pub parallel: Option<usize>,
    /// `--deadline`.
    pub deadline: Option<Duration>,
    /// `--teardown-timeout`.
    pub teardown_timeout: Duration,
    /// `--disaster-time`.
    pub disaster_at: Option<DateTime<Utc>>,
    /// How often a live display is refreshed (none: no display).
    pub tick: Option<Duration>,
    /// The playbook's last walkthrough, for the report.
    pub rehearsal: Option<crate::engine::report::Rehearsal>,
}

/// A drill ready to run, and what the caller keeps while it runs.
pub struct Prepared {
    /// The drill, for [`crate::engine::dispatch::run`].
    pub drill: Drill,
    /// The journal's writer.
    pub recorder: Recorder,
    /// Sends commands to the drill while it runs.
    pub controller: Controller,
    /// The run's lock, held until dropped.
    pub lock: std::fs::File,
}

/// Why a drill could not be made ready; each says which exit code it means.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The AWS clients could not be made (no region, bad profile, ...).
    #[error("{0}")]
    Clients(String),
    /// The run's directory could not be locked.
    #[error("cannot lock the run's directory in {0}")]
    Lock(String),
    /// The journal could not be opened or written.
    #[error("{0}")]
    Journal(String),
    /// The account guard refused.
    #[error("{0}")]
    Refused(guard::Refusal),
    /// The clients of a journaled run's account could not be made again (for its teardown).
    #[error("{0}")]
    Reconnect(String),
    /// The scratch directory could not be made.
    #[error("cannot create a scratch directory: {0}")]
    Scratch(std::io::Error),
}

impl PrepareError {
    /// The exit code this means.
    pub fn exit_code(&self) -> u8 {
        match self {
            PrepareError::Clients(_) => exit::INVALID,
            PrepareError::Lock(_)
            | PrepareError::Journal(_)
            | PrepareError::Scratch(_)
            | PrepareError::Reconnect(_) => exit::INTERNAL,
            PrepareError::Refused(_) => exit::REFUSED,
        }
    }

    /// What the operator can do about it, for a run pointed at `target`.
    pub fn hints(&self, target: guard::Target) -> Vec<String> {
        match self {
            PrepareError::Refused(refusal) => refusal.hints(target),
            PrepareError::Clients(_)
            | PrepareError::Lock(_)
            | PrepareError::Journal(_)
            | PrepareError::Reconnect(_)
            | PrepareError::Scratch(_) => Vec::new(),
        }
    }
}

/// How often a resource that is not ready yet is looked at: often against a local sandbox or
/// another endpoint of the playbook's, every 5 s against AWS.
pub fn poll_interval(local: bool) -> Duration {
    if local {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(5)
    }
}

/// Whether `endpoint` is on this machine (a local sandbox, which takes any credentials).
pub fn is_loopback(endpoint: &str) -> bool {
    let host = endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host.starts_with("127.") || endpoint.contains("://[::1]")
}

/// The clients, the endpoint and the journal's name of the local sandbox, as `account` says.
async fn clients(
    request: &Request,
) -> Result<(Option<Clients>, Option<String>, Option<String>), PrepareError> {
    let needs_aws =
        !request.ssm.is_empty() || request.playbook.steps.iter().any(|s| s.action.needs_aws());
    clients_for(
        &request.playbook,
        &request.account,
        request.region.as_deref(),
        needs_aws,
    )
    .await
}

/// The clients of `account` for `playbook` (none when `needs_aws` is false and the account is
/// the configured one), its endpoint, and the journal's name of the local sandbox.
pub async fn clients_for(
    playbook: &Playbook,
    account: &Account,
    region: Option<&str>,
    needs_aws: bool,
) -> Result<(Option<Clients>, Option<String>, Option<String>), PrepareError> {
    match account {
        Account::Local {
            endpoint,
            region: sandbox_region,
            identity,
            ..
        } => {
            let region = region
                .map(str::to_owned)
                .or_else(|| playbook.sandbox.region.clone())
                .unwrap_or_else(|| sandbox_region.clone());
            Ok((
                Some(Clients::for_sandbox(endpoint, &region).await),
                Some(endpoint.clone()),
                Some(identity.clone()),
            ))
        }
        Account::Configured { profile } => {
            let endpoint = playbook.sandbox.endpoint.clone();
            if !needs_aws {
                return Ok((None, endpoint, None));
            }
            let options = AwsOptions {
                region: region.map(str::to_owned),
                profile: profile.clone(),
                playbook_region: playbook.sandbox.region.clone(),
                endpoint: endpoint.clone(),
                role_arn: playbook.sandbox.role_arn.clone(),
                session_name: Some("firedrill".into()),
                sandbox_credentials: endpoint.as_deref().is_some_and(is_loopback),
                retry: None,
            };
            let clients = Clients::new(&options)
                .await
                .map_err(|e| PrepareError::Clients(e.to_string()))?;
            tracing::info!(
                region = %clients.region,
                endpoint = endpoint.as_deref().unwrap_or("AWS"),
                profile = profile.as_deref().unwrap_or("(default chain)"),
                role = playbook.sandbox.role_arn.as_deref().unwrap_or("-"),
                "AWS clients"
            );
            Ok((Some(clients), endpoint, None))
        }
    }
}

/// Opens the journal and writes the run's row, before anything else touches the cloud.
async fn begin(
    request: &Request,
    clients: Option<&Clients>,
    endpoint: Option<&str>,
    local_sandbox: Option<&str>,
) -> Result<Recorder, PrepareError> {
    let journal =
        Journal::open(&request.state_dir).map_err(|e| PrepareError::Journal(e.to_string()))?;
    let recorder = Recorder::start(journal);
    let playbook = &request.playbook;
    let graph = serde_json::to_string(&teardown::graph_of(playbook)).expect("a graph serializes");
    let row = (
        request.run_id.clone(),
        playbook.name.clone(),
        playbook.file.display().to_string(),
        clients.map(|c| c.region.clone()),
        playbook.sandbox.teardown.name(),
        endpoint.map(str::to_owned),
        playbook.sandbox.role_arn.clone(),
        local_sandbox.map(str::to_owned),
        graph,
        request.account.learning_target(playbook).key(),
        match &request.account {
            Account::Configured { profile } => profile.clone(),
            Account::Local { .. } => None,
        },
    );
    recorder
        .call(move |j| {
            j.begin_run(&NewRun {
                id: &row.0,
                playbook: &row.1,
                playbook_path: &row.2,
                region: row.3.as_deref(),
                teardown: row.4,
                endpoint: row.5.as_deref(),
                role_arn: row.6.as_deref(),
                local_sandbox: row.7.as_deref(),
                graph: &row.8,
                target: &row.9,
                profile: row.10.as_deref(),
            })
        })
        .await
        .map_err(|e| PrepareError::Journal(e.to_string()))?;
    Ok(recorder)
}

/// The guard: before the first mutating call, prove where the run is. A refusal is journaled.
async fn guard(
    request: &Request,
    clients: Option<&Clients>,
    recorder: &Recorder,
) -> Result<Option<guard::Identity>, PrepareError> {
    let Some(c) = clients else {
        return Ok(None);
    };
    let rid = request.run_id.clone();
    match guard::check(c, &request.playbook.sandbox.accounts).await {
        Ok(id) => {
            tracing::info!(account = %id.account, arn = %id.arn, "the account guard passed");
            let account = id.account.clone();
            let _ = recorder.call(move |j| j.set_account(&rid, &account)).await;
            Ok(Some(id))
        }
        Err(refusal) => {
            let _ = recorder
                .call(move |j| j.finish_run(&rid, "refused", ""))
                .await;
            Err(PrepareError::Refused(refusal))
        }
    }
}

/// The tags of everything the run creates: the firedrill tags, then the playbook's. A janitor
/// may call what the run leaves abandoned at the end of `keep_for` (plus the deadline, if
/// any), else after a day.
fn tags(request: &Request) -> Vec<(String, String)> {
    let playbook = &request.playbook;
    let lifetime = playbook
        .sandbox
        .keep_for
        .map_or(Duration::from_hours(24), |d| d.0)
        + request.deadline.unwrap_or(Duration::ZERO);
    let expires =
        Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(36_500));
    let mut tags = vec![
        (TAG_RUN.to_owned(), request.run_id.clone()),
        (TAG_PLAYBOOK.to_owned(), playbook.name.clone()),
        (TAG_EXPIRES.to_owned(), rfc3339(expires)),
    ];
    tags.extend(
        playbook
            .sandbox
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    tags
}

/// Reads the SSM parameters the playbook uses (decrypted), once, before any step runs; a
/// parameter that cannot be read fails the steps that use it, with the reason.
async fn read_ssm(clients: &Clients, names: &[String]) -> SsmValues {
    let ssm = clients.ssm();
    let mut values = SsmValues::new();
    for name in names {
        let value = match ssm
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(out) => out
                .parameter()
                .and_then(|p| p.value())
                .map(str::to_owned)
                .ok_or_else(|| "the parameter has no value".to_owned()),
            Err(e) => Err(crate::aws::sdk_error(&e)),
        };
        values.insert(name.clone(), value);
    }
    values
}

/// Makes the drill ready: clients, lock, journal row, guard, then what the steps share.
pub async fn prepare(request: Request) -> Result<Prepared, PrepareError> {
    let (clients, endpoint, local_sandbox) = clients(&request).await?;
    let Ok(Some(lock)) = lock::lock_run(&request.state_dir, &request.run_id) else {
        return Err(PrepareError::Lock(request.state_dir.display().to_string()));
    };
    let recorder = begin(
        &request,
        clients.as_ref(),
        endpoint.as_deref(),
        local_sandbox.as_deref(),
    )
    .await?;
    let identity = guard(&request, clients.as_ref(), &recorder).await?;

    let poll =
        poll_interval(matches!(request.account, Account::Local { .. }) || endpoint.is_some());
    let ssm = match &clients {
        Some(c) if !request.ssm.is_empty() => read_ssm(c, &request.ssm).await,
        _ => SsmValues::new(),
    };
    // The run's processes write their outputs files here; it goes when the run ends.
    let scratch = tempfile::Builder::new()
        .prefix("firedrill-")
        .tempdir()
        .map_err(PrepareError::Scratch)?;
    let playbook = request.playbook.clone();
    let shared = Arc::new(Shared {
        pollers: Arc::new(Pollers::new(clients.clone(), poll)),
        clients,
        recorder: recorder.clone(),
        base_dir: playbook.base_dir(),
        poll,
        grace: Duration::from_secs(10),
        tags: tags(&request),
        auto_approve: request.auto_approve,
        prompter: request.prompter,
        gates: request
            .gates_from_outside
            .then(|| Arc::new(Gates::default())),
        ssm: Arc::new(ssm),
        scratch: Arc::new(scratch),
        names: match request.account {
            Account::Local { dns: Some(dns), .. } => Names::Sandbox(dns),
            Account::Local { dns: None, .. } | Account::Configured { .. } => Names::System,
        },
        sandbox_ca: match &request.account {
            Account::Local { ca, .. } => ca.clone(),
            Account::Configured { .. } => None,
        },
    });
    let (controller, commands) = command::channel();
    let drill = Drill {
        playbook,
        options: state::Options {
            parallel: request.parallel,
            deadline: request.deadline,
            teardown: teardown::Options {
                deadline: request.teardown_timeout,
                poll,
                signalled: false,
            },
            seed: crate::util::hash(0, &[&request.run_id]),
            tick: request.tick,
            disaster_at: request.disaster_at,
            rehearsal: request.rehearsal,
        },
        run_id: request.run_id,
        identity,
        shared,
        commands,
    };
    Ok(Prepared {
        drill,
        recorder,
        controller,
        lock,
    })
}

/// The clients of a journaled run's account, for `firedrill teardown`: the local sandbox at
/// `local` (its endpoint and region; the command line finds it), or the AWS account, endpoint
/// and role the journal names (with the credentials of `profile`); then the guard again: the account must be the run's.
pub async fn reconnect(
    r: &RunRecord,
    local: Option<(&str, &str)>,
    profile: Option<&str>,
) -> Result<Clients, PrepareError> {
    let clients = if let Some((endpoint, region)) = local {
        Clients::for_sandbox(endpoint, r.region.as_deref().unwrap_or(region)).await
    } else {
        let options = AwsOptions {
            region: r.region.clone(),
            profile: profile.map(str::to_owned),
            endpoint: r.endpoint.clone(),
            role_arn: r.role_arn.clone(),
            session_name: Some("firedrill-teardown".into()),
            sandbox_credentials: r.endpoint.as_deref().is_some_and(is_loopback),
            ..AwsOptions::default()
        };
        Clients::new(&options)
            .await
            .map_err(|e| PrepareError::Reconnect(e.to_string()))?
    };
    let allowed: Vec<String> = r.account.iter().cloned().collect();
    if !allowed.is_empty() {
        guard::check(&clients, &allowed)
            .await
            .map_err(PrepareError::Refused)?;
    }
    Ok(clients)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_addresses_on_this_machine_are_loopback() {
        assert!(is_loopback("http://127.0.0.1:4566"));
        assert!(is_loopback("http://localhost:4566/"));
        assert!(is_loopback("http://[::1]:4566"));
        assert!(!is_loopback("https://rds.eu-west-1.amazonaws.com"));
        assert!(!is_loopback("http://10.0.0.1:4566"));
    }
}
