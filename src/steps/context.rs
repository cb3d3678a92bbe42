//! What a step sees while it runs: its references resolved (at dispatch time, from the outputs
//! of the steps it depends on), the AWS clients, the journal, its cancel token, and the one way
//! to create a resource: [`StepCx::create`], which writes the intent to the journal before the
//! create call and the resource id after.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::engine::event::What;
use crate::language::template::{Ref, SecretSource, Template};
use crate::steps::kind::Kind;
use crate::steps::resource::ResourceKind;
use crate::store::recorder::Recorder;

/// How many rounds in a row a describe may leave out a resource the step just created
/// (eventual consistency) before the step fails.
pub const MISSING_ROUNDS: u32 = 5;

/// How many polling rounds in a row may fail before a step waiting on them fails.
pub const MAX_DESCRIBE_ERRORS: u32 = 5;

/// The SSM parameters a run read before its steps: name to value, or why it could not be read.
pub type SsmValues = BTreeMap<String, Result<String, String>>;

/// A step's outputs: output name to value.
pub type Outputs = BTreeMap<String, String>;

/// What a step kind does when it runs: the runtime side of [`Kind`], implemented in each
/// kind's `action.rs`.
pub trait Perform: Kind {
    /// Whether steps of this kind call AWS (and so need clients and the account guard).
    fn needs_aws(&self) -> bool;

    /// Makes attempt `attempt` (from 1) of a step: start, await completion, and give exactly
    /// the outputs the kind declares (`tests/outputs_contract.rs` holds every kind to that).
    fn perform(
        &self,
        cx: &StepCx,
        attempt: u32,
    ) -> impl std::future::Future<Output = Result<Outputs, StepError>> + Send;

    /// Whether a step of this kind could start now, from read-only calls only (no create,
    /// no change: `firedrill walkthrough --check` proves it with the sandbox's call counts).
    /// A kind that needs nothing that could be missing keeps this default.
    fn ready(&self, cx: &ReadyCx<'_>) -> impl std::future::Future<Output = Readiness> + Send {
        let _ = cx;
        async { Readiness::Nothing }
    }
}

/// What a readiness check sees: the clients, the playbook's vars, its RPO target, the time.
pub struct ReadyCx<'a> {
    /// The AWS clients.
    pub clients: &'a Clients,
    /// The playbook's vars.
    pub vars: &'a BTreeMap<String, Template>,
    /// The playbook's directory.
    pub base_dir: &'a std::path::Path,
    /// `targets.rpo`: how old a recovery point may be.
    pub rpo_target: Option<Duration>,
    /// When the check runs.
    pub now: chrono::DateTime<chrono::Utc>,
}

impl ReadyCx<'_> {
    /// `template` rendered from what is known before a run (vars, the environment); a value
    /// known only at run time (another step's output, the run id, a secret) leaves the step
    /// unchecked, with the reason.
    pub fn render(&self, template: &Template) -> Result<String, Readiness> {
        self.render_at(template, 0)
    }

    fn render_at(&self, template: &Template, depth: u32) -> Result<String, Readiness> {
        let unchecked = |why: String| Readiness::Unchecked { why };
        template.render(|r| match r {
            Ref::Var(name) => match self.vars.get(name) {
                Some(v) if depth < 16 => self.render_at(v, depth + 1),
                _ => Err(unchecked(format!("`${{vars.{name}}}` has no value"))),
            },
            Ref::Output { step, key } => Err(unchecked(format!(
                "it uses `{step}.{key}`, known only once `{step}` has run"
            ))),
            Ref::Env(name) => std::env::var(name).map_err(|_| {
                unchecked(format!(
                    "it uses the environment variable `{name}`, not set here"
                ))
            }),
            Ref::Run(field) => Err(unchecked(format!(
                "it uses `run.{field}`, known only in a run"
            ))),
            Ref::Secret { .. } => Err(unchecked("it uses a secret, read only in a run".to_owned())),
        })
    }

    /// How old something made at `at` is, for people: to the minute from an hour up (a
    /// snapshot is `6h old`, not `6h1s`), to the second below.
    pub fn age(&self, at: chrono::DateTime<chrono::Utc>) -> String {
        let secs = (self.now - at).num_seconds().max(0).unsigned_abs();
        let secs = if secs >= 3600 {
            (secs + 30) / 60 * 60
        } else {
            secs
        };
        format!(
            "{} old",
            crate::language::duration::Duration::from_secs(secs)
        )
    }

    /// Whether a recovery point made at `at` is too old for the RPO target: why, if it is.
    pub fn too_old(&self, what: &str, at: chrono::DateTime<chrono::Utc>) -> Option<Readiness> {
        let target = self.rpo_target?;
        let age = (self.now - at).to_std().unwrap_or_default();
        (age > target).then(|| Readiness::NotReady {
            reason: format!(
                "{what} is {}, older than the RPO target {}",
                self.age(at),
                crate::language::duration::Duration(target)
            ),
        })
    }
}

/// What a readiness check (`firedrill walkthrough --check`) found for one step: whether it
/// could start now, from read-only calls only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Readiness {
    /// What it needs is there.
    Ready {
        /// What was found (`snapshot rds:shop-prod-1 of 2h ago`).
        detail: String,
    },
    /// It could not start now.
    NotReady {
        /// Why.
        reason: String,
    },
    /// What it needs is known only at run time (another step's output).
    Unchecked {
        /// Why.
        why: String,
    },
    /// Its kind needs nothing that could be missing.
    Nothing,
}

/// A reason, as a readiness (a field that cannot be used at all stops the step).
impl From<String> for Readiness {
    fn from(reason: String) -> Self {
        Readiness::NotReady { reason }
    }
}

impl Readiness {
    /// Whether it stops the plan from starting.
    pub fn blocks(&self) -> bool {
        match self {
            Readiness::NotReady { .. } => true,
            Readiness::Ready { .. } | Readiness::Unchecked { .. } | Readiness::Nothing => false,
        }
    }
}

/// Why an attempt of a step failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// It failed; another attempt may succeed.
    Failed(String),
    /// The run stopped (a signal, a sibling's failure, the deadline) and the step stopped at a
    /// safe point.
    Cancelled,
}

impl StepError {
    /// A failure with this reason.
    pub fn failed(reason: impl Into<String>) -> Self {
        StepError::Failed(reason.into())
    }
}

/// A failure with a reason from a lower layer (a poller, a describe call).
impl From<String> for StepError {
    fn from(reason: String) -> Self {
        StepError::Failed(reason)
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Failed(reason) => f.write_str(reason),
            StepError::Cancelled => f.write_str("cancelled"),
        }
    }
}

/// What references resolve to for one step, fixed when the step is dispatched.
#[derive(Debug, Default)]
pub struct Scope {
    /// The run id.
    pub run_id: String,
    /// The playbook's name.
    pub playbook: String,
    /// The playbook's vars, as written: resolved when a step uses them, so that a secret in
    /// a var is masked like any other and a var that cannot be resolved fails the step.
    pub vars: Arc<BTreeMap<String, Template>>,
    /// The outputs of the steps this one depends on.
    pub outputs: BTreeMap<String, Outputs>,
    /// When the drill started (wall clock): what RPOs are measured from.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The playbook's `targets.rpo`: what `check.backups` holds backups to by default.
    pub rpo_target: Option<Duration>,
    /// The declared disaster time (`--disaster-time`): when given, RPOs are measured from it
    /// rather than from the drill's start.
    pub disaster_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Settings every step of a run shares.
#[derive(Clone, Debug)]
pub struct Shared {
    /// The AWS clients, when the playbook has AWS steps.
    pub clients: Option<Clients>,
    /// The journal.
    pub recorder: Recorder,
    /// The directory of the playbook (relative paths and the default working directory).
    pub base_dir: PathBuf,
    /// How often to poll a resource that is not ready yet.
    pub poll: Duration,
    /// How long a cancelled process has between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Tags for everything a run creates (the firedrill tags and the playbook's).
    pub tags: Vec<(String, String)>,
    /// Whether manual gates pass without asking.
    pub auto_approve: bool,
    /// Where manual gates ask, when a person is there.
    pub prompter: Option<crate::steps::builtin::prompter::Prompter>,
    /// The run's manual gates that commands from outside may answer (none: the run takes no
    /// commands).
    pub gates: Option<Arc<crate::steps::builtin::gate::Gates>>,
    /// The pollers every step waits through.
    pub pollers: Arc<crate::aws::poll::Pollers>,
    /// The SSM parameters the playbook refers to, read once before the steps.
    pub ssm: Arc<SsmValues>,
    /// The run's scratch directory (process outputs files), removed when the run ends.
    pub scratch: Arc<tempfile::TempDir>,
    /// Where probes look host names up.
    pub names: crate::steps::probe::names::Names,
    /// The local sandbox's certificate authority (a PEM file): what `probe.sql` trusts when the
    /// step names no `ca_file` (none: not on the local sandbox).
    pub sandbox_ca: Option<std::path::PathBuf>,
}

/// The context of one step.
#[derive(Clone)]
pub struct StepCx {
    /// The step id.
    pub step: String,
    /// What references resolve to.
    pub scope: Arc<Scope>,
    /// What the run shares.
    pub shared: Arc<Shared>,
    /// Cancelled when the run stops.
    pub cancel: CancellationToken,
    /// Events for the dispatcher (resources intended and created).
    pub events: mpsc::UnboundedSender<What>,
    /// When the step started: what a probe's time to healthy is measured from.
    pub started: tokio::time::Instant,
    /// Secret values this step resolved: masked in whatever it reports.
    secrets: Arc<Mutex<Vec<String>>>,
}

impl StepCx {
    /// A context for `step`.
    pub fn new(
        step: String,
        scope: Arc<Scope>,
        shared: Arc<Shared>,
        cancel: CancellationToken,
        events: mpsc::UnboundedSender<What>,
    ) -> Self {
        Self {
            step,
            scope,
            shared,
            cancel,
            events,
            started: tokio::time::Instant::now(),
            secrets: Arc::default(),
        }
    }

    /// `template` with its references resolved.
    pub fn render(&self, template: &Template) -> Result<String, StepError> {
        template.render(|r| self.resolve(r, 0))
    }

    /// A path the playbook gives, rendered, relative to the playbook's directory.
    pub fn path(&self, template: &Template) -> Result<PathBuf, StepError> {
        Ok(self.shared.base_dir.join(self.render(template)?))
    }

    /// The value of one reference (`depth`: how many vars deep we are).
    fn resolve(&self, r: &Ref, depth: u32) -> Result<String, StepError> {
        match r {
            Ref::Var(name) => {
                let var =
                    self.scope.vars.get(name).ok_or_else(|| {
                        StepError::failed(format!("`${{vars.{name}}}` has no value"))
                    })?;
                if depth > 16 {
                    return Err(StepError::failed(format!(
                        "`${{vars.{name}}}` refers to vars too deeply"
                    )));
                }
                var.render(|inner| self.resolve(inner, depth + 1))
                    .map_err(|e| match e {
                        StepError::Failed(why) => {
                            StepError::Failed(format!("in `${{vars.{name}}}`: {why}"))
                        }
                        other @ StepError::Cancelled => other,
                    })
            }
            Ref::Output { step, key } => self
                .scope
                .outputs
                .get(step)
                .and_then(|o| o.get(key))
                .cloned()
                .ok_or_else(|| {
                    StepError::failed(format!(
                        "`${{steps.{step}.outputs.{key}}}`: step `{step}` did not set `{key}`"
                    ))
                }),
            Ref::Env(name) => std::env::var(name).map_err(|_| {
                StepError::failed(format!(
                    "`${{env.{name}}}`: the environment variable `{name}` is not set"
                ))
            }),
            Ref::Run(field) => match field.as_str() {
                "id" => Ok(self.scope.run_id.clone()),
                "playbook" => Ok(self.scope.playbook.clone()),
                other => Err(StepError::failed(format!(
                    "`${{run.{other}}}` is not known"
                ))),
            },
            Ref::Secret {
                source: SecretSource::Env,
                key,
            } => {
                let value = std::env::var(key).map_err(|_| {
                    StepError::failed(format!(
                        "`${{secret:env:{key}}}`: the environment variable `{key}` is not set"
                    ))
                })?;
                if !value.is_empty() {
                    self.secrets
                        .lock()
                        .expect("the secrets lock")
                        .push(value.clone());
                }
                Ok(value)
            }
            Ref::Secret {
                source: SecretSource::Ssm,
                key,
            } => match self.shared.ssm.get(key) {
                Some(Ok(value)) => {
                    if !value.is_empty() {
                        self.secrets
                            .lock()
                            .expect("the secrets lock")
                            .push(value.clone());
                    }
                    Ok(value.clone())
                }
                Some(Err(why)) => Err(StepError::failed(format!(
                    "`${{secret:ssm:{key}}}`: cannot read the parameter: {why}"
                ))),
                None => Err(StepError::failed(format!(
                    "`${{secret:ssm:{key}}}`: the parameter was not read before the run"
                ))),
            },
        }
    }

    /// `text` with every secret this step resolved replaced by `***`.
    pub fn mask(&self, text: &str) -> String {
        let secrets = self.secrets.lock().expect("the secrets lock");
        let mut out = text.to_owned();
        for s in secrets.iter() {
            out = out.replace(s.as_str(), "***");
        }
        out
    }

    /// The AWS clients; a step kind that needs them only runs when the run made them.
    pub fn clients(&self) -> Result<&Clients, StepError> {
        self.shared
            .clients
            .as_ref()
            .ok_or_else(|| StepError::failed("no AWS clients were made for this run"))
    }

    /// The name or idempotency token of the resource that attempt `attempt` of this step
    /// creates: derived from the run id, so that after a crash it can be found or proved
    /// absent. At most 64 characters of `[a-z0-9-]`, starting with a letter.
    pub fn token(&self, attempt: u32) -> String {
        let step: String = self
            .step
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let run: String = self
            .scope
            .run_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        // A hash of the whole id keeps two steps apart when their ids differ only in case,
        // punctuation or beyond the part that fits.
        let hash = crate::util::hash(0, &[&self.step]) & 0xff_ffff;
        let suffix = format!("-{hash:06x}-{attempt}");
        let room = 64usize.saturating_sub(3 + run.len() + 1 + suffix.len());
        let step: String = step.chars().take(room).collect();
        let mut token = format!("fd-{run}-{}{suffix}", step.trim_matches('-'));
        while token.contains("--") {
            token = token.replace("--", "-");
        }
        token
    }

    /// The tags for a resource created with `token`.
    pub fn tags(&self, token: &str) -> Vec<(String, String)> {
        let mut tags = self.shared.tags.clone();
        tags.push((crate::steps::resource::TAG_STEP.into(), self.step.clone()));
        tags.push((crate::steps::resource::TAG_TOKEN.into(), token.to_owned()));
        if !tags.iter().any(|(k, _)| k == "Name") {
            tags.push(("Name".into(), token.to_owned()));
        }
        tags
    }

    /// Creates a resource: writes the intent (kind and token) to the journal and waits until
    /// it is on disk, makes the create `call`, then records the id it gives. A failed call
    /// leaves the intent: the resource may exist, and teardown finds it by its token or
    /// proves it absent.
    pub async fn create<F, Fut>(
        &self,
        kind: ResourceKind,
        token: &str,
        call: F,
    ) -> Result<String, StepError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, StepError>>,
    {
        let row = self
            .journal_intent(kind, token, None)
            .await
            .map_err(|e| StepError::failed(format!("cannot journal the intent: {e}")))?;
        let _ = self.events.send(What::ResourceIntended {
            step: self.step.clone(),
            kind: kind.name().into(),
            token: token.to_owned(),
        });
        let id = call().await?;
        let id_owned = id.clone();
        self.shared
            .recorder
            .call(move |j| j.created(row, &id_owned))
            .await
            .map_err(|e| StepError::failed(format!("cannot journal the created {id}: {e}")))?;
        let _ = self.events.send(What::ResourceCreated {
            step: self.step.clone(),
            kind: kind.name().into(),
            id: id.clone(),
        });
        Ok(id)
    }

    /// `templates`, each with its references resolved.
    pub fn render_all(&self, templates: &[Template]) -> Result<Vec<String>, StepError> {
        templates.iter().map(|t| self.render(t)).collect()
    }

    /// The run's pollers.
    pub fn pollers(&self) -> &crate::aws::poll::Pollers {
        &self.shared.pollers
    }

    /// Asks `poller` about resource `id`, round after round, until `ready` gives an answer
    /// (`ready` sees `None` while the describe does not list the resource), or the run stops.
    pub async fn wait_for<T, R>(
        &self,
        poller: &crate::aws::poll::Poller<T>,
        id: &str,
        mut ready: impl FnMut(Option<&T>) -> Option<Result<R, StepError>>,
    ) -> Result<R, StepError>
    where
        T: Clone + PartialEq + Send + 'static,
    {
        // A describe that fails (after the SDK's own retries) is a round without news; only
        // several in a row fail the step.
        let mut errors = 0;
        loop {
            let seen = tokio::select! {
                seen = poller.look(id) => seen,
                () = self.cancel.cancelled() => return Err(StepError::Cancelled),
            };
            match seen {
                Ok(seen) => {
                    errors = 0;
                    if let Some(answer) = ready(seen.as_ref()) {
                        return answer;
                    }
                }
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_DESCRIBE_ERRORS {
                        return Err(StepError::failed(format!(
                            "{e} ({errors} rounds in a row failed)"
                        )));
                    }
                }
            }
        }
    }

    /// [`Self::wait_for`] for a resource this step created (`what` `id`, described by `call`):
    /// `ready` sees it once listed; a describe that leaves it out is eventual consistency for
    /// up to [`MISSING_ROUNDS`] rounds in a row, then a failure.
    pub async fn wait_listed<T, R>(
        &self,
        poller: &crate::aws::poll::Poller<T>,
        id: &str,
        (what, call): (&str, &str),
        mut ready: impl FnMut(&T) -> Option<Result<R, StepError>>,
    ) -> Result<R, StepError>
    where
        T: Clone + PartialEq + Send + 'static,
    {
        let mut missing = 0;
        self.wait_for(poller, id, |seen| {
            if let Some(seen) = seen {
                missing = 0;
                return ready(seen);
            }
            missing += 1;
            (missing > MISSING_ROUNDS).then(|| {
                Err(StepError::failed(format!(
                    "{what} {id} is not listed by {call}"
                )))
            })
        })
        .await
    }

    /// The RPO a recovery point at `point` implies: the declared disaster time (else the
    /// drill's start) minus `point`, in whole seconds (never negative).
    pub fn rpo_secs(&self, point: chrono::DateTime<chrono::Utc>) -> String {
        (self.scope.disaster_at.unwrap_or(self.scope.started_at) - point)
            .num_seconds()
            .max(0)
            .to_string()
    }

    /// Records a change whose whole description (`id`) is known before it is made, such as a
    /// record set's old and new contents: journaled durably, intent and id together, before
    /// the caller makes the change. Teardown then knows what to undo even if the run dies
    /// between the change and its answer.
    pub async fn create_described(
        &self,
        kind: ResourceKind,
        token: &str,
        id: &str,
    ) -> Result<(), StepError> {
        self.journal_intent(kind, token, Some(id.to_owned()))
            .await
            .map_err(|e| StepError::failed(format!("cannot journal the change: {e}")))?;
        let _ = self.events.send(What::ResourceCreated {
            step: self.step.clone(),
            kind: kind.name().into(),
            id: kind.label(id),
        });
        Ok(())
    }

    /// Journals, durably, that this step creates a resource of `kind` with `token` (and, when
    /// it is known already, its id); gives the journal row.
    async fn journal_intent(
        &self,
        kind: ResourceKind,
        token: &str,
        id: Option<String>,
    ) -> Result<i64, crate::store::journal::JournalError> {
        let region = self
            .shared
            .clients
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_default();
        let (run_id, step, token) = (
            self.scope.run_id.clone(),
            self.step.clone(),
            token.to_owned(),
        );
        self.shared
            .recorder
            .call(move |j| {
                let row = j.intend(&run_id, &step, kind.name(), &token, &region)?;
                if let Some(id) = id {
                    j.created(row, &id)?;
                }
                Ok(row)
            })
            .await
    }

    /// Sleeps for the poll interval, or returns `Cancelled` when the run stops first.
    pub async fn pause(&self) -> Result<(), StepError> {
        tokio::select! {
            () = tokio::time::sleep(self.shared.poll) => Ok(()),
            () = self.cancel.cancelled() => Err(StepError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx(step: &str, run_id: &str) -> StepCx {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder =
            Recorder::start(crate::store::journal::Journal::open(dir.path()).expect("open"));
        let shared = Shared {
            clients: None,
            recorder,
            base_dir: PathBuf::from("."),
            poll: Duration::from_millis(10),
            grace: Duration::from_secs(1),
            tags: Vec::new(),
            auto_approve: false,
            prompter: None,
            gates: None,
            pollers: Arc::new(crate::aws::poll::Pollers::new(
                None,
                Duration::from_millis(10),
            )),
            ssm: Arc::default(),
            scratch: Arc::new(tempfile::tempdir().expect("tempdir")),
            names: crate::steps::probe::names::Names::System,
            sandbox_ca: None,
        };
        let mut scope = Scope {
            run_id: run_id.into(),
            playbook: "pb".into(),
            ..Scope::default()
        };
        scope.vars = Arc::new(BTreeMap::from([
            ("region".to_string(), Template::literal("eu-west-1")),
            (
                "token".to_string(),
                Template::parse("t=${secret:env:PATH}").expect("valid"),
            ),
        ]));
        scope.outputs.insert(
            "db".into(),
            Outputs::from([("endpoint".to_string(), "db.local".to_string())]),
        );
        StepCx::new(
            step.into(),
            Arc::new(scope),
            Arc::new(shared),
            CancellationToken::new(),
            mpsc::unbounded_channel().0,
        )
    }

    #[test]
    fn tokens_are_short_safe_and_derived_from_the_run() {
        let c = cx("Restore_DB", "20261125-101500-1a2b3c4d");
        let t = c.token(1);
        assert!(
            t.starts_with("fd-202611251015001a2b3c4d-restore-db-"),
            "{t}"
        );
        assert!(
            t.ends_with("-1") && t.len() == "fd-202611251015001a2b3c4d-restore-db-".len() + 8,
            "{t}"
        );
        assert_ne!(cx("db_1", "r").token(1), cx("DB-1", "r").token(1));
        let (a, b) = (
            format!("{}-a", "x".repeat(80)),
            format!("{}-b", "x".repeat(80)),
        );
        assert_ne!(cx(&a, "r").token(1), cx(&b, "r").token(1));
        let long = cx(&"x".repeat(200), "20261125-101500-1a2b3c4d");
        let t = long.token(12);
        assert!(t.len() <= 64, "{t}");
        assert!(t.ends_with("-12"));
        assert!(t.starts_with("fd-202611251015001a2b3c4d-"));
        assert!(!cx("a__b", "r").token(1).contains("--"));
    }

    #[test]
    fn references_resolve_and_secrets_are_masked() {
        let c = cx("app", "run-1");
        let t = Template::parse(
            "${vars.region}/${steps.db.outputs.endpoint}/${run.id}/${run.playbook}",
        )
        .expect("valid");
        assert_eq!(
            c.render(&t).expect("renders"),
            "eu-west-1/db.local/run-1/pb"
        );
        let missing = Template::parse("${steps.db.outputs.port}").expect("valid");
        assert_eq!(
            c.render(&missing),
            Err(StepError::failed(
                "`${steps.db.outputs.port}`: step `db` did not set `port`"
            ))
        );
        let path = std::env::var("PATH").expect("PATH is set");
        let secret = Template::parse("${secret:env:PATH}").expect("valid");
        assert_eq!(c.render(&secret).expect("renders"), path);
        assert_eq!(c.mask(&format!("it was {path}!")), "it was ***!");
        // A secret reached through a var is masked too.
        let through_var = cx("app", "run-1");
        let t = Template::parse("${vars.token}").expect("valid");
        assert_eq!(
            through_var.render(&t).expect("renders"),
            format!("t={path}")
        );
        assert_eq!(through_var.mask(&path), "***");
    }
}
