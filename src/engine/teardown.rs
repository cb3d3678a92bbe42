//! Teardown: delete what a run created, from its journal, in reverse dependency order,
//! independent resources in parallel, each deletion retried, under a deadline that reports
//! what it still waits on. Used at the end of `firedrill run` and by `firedrill teardown`,
//! which resumes a crashed or interrupted run; running it twice is harmless.
//!
//! A resource is deleted only when the journal says this run created it and its tags confirm
//! it (`firedrill:run-id`). A resource whose create call was made but never confirmed (a
//! crash) is looked up by the token it was created with: found, it is deleted; not found, it
//! is proved absent and recorded so.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::aws::poll::Pollers;
use crate::engine::attempts;
use crate::engine::event::What;
use crate::engine::report::TeardownState;
use crate::playbook::Retry;
use crate::steps::resource::{Owner, ResourceKind};
use crate::store::journal::{ResourceRecord, ResourceStatus};
use crate::store::recorder::Recorder;

/// Each step's dependencies, by id.
pub type Graph = BTreeMap<String, Vec<String>>;

/// A graph in which each step that created resources depends on the one that created
/// resources before it: teardown then goes in reverse creation order, one step at a time.
pub fn creation_chain(resources: &[ResourceRecord]) -> Graph {
    let mut graph = Graph::new();
    let mut previous: Option<&str> = None;
    for r in resources {
        if graph.contains_key(&r.step) {
            continue;
        }
        graph.insert(
            r.step.clone(),
            previous.map(|p| vec![p.to_owned()]).unwrap_or_default(),
        );
        previous = Some(&r.step);
    }
    graph
}

/// The dependencies of `playbook`'s steps, by id (what the journal keeps for a later teardown).
pub fn graph_of(playbook: &crate::playbook::Playbook) -> Graph {
    playbook
        .steps
        .iter()
        .map(|s| {
            let deps = s.deps.iter().map(|&d| playbook.steps[d].id.clone());
            (s.id.clone(), deps.collect())
        })
        .collect()
}

/// How teardown behaves.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long teardown may take in all.
    pub deadline: Duration,
    /// How often to ask whether a deleted resource is gone.
    pub poll: Duration,
    /// Whether a first signal came already (then the next one stops waiting).
    pub signalled: bool,
}

/// A resource teardown could not delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    /// The journal row.
    pub resource: ResourceRecord,
    /// Why.
    pub reason: String,
}

/// What a teardown did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// How it ended.
    pub state: TeardownState,
    /// Whether a signal arrived while it ran.
    pub interrupted: bool,
    /// How many resources it settled (deleted, already gone, never created).
    pub settled: usize,
    /// What is left behind.
    pub left: Vec<Left>,
}

/// How deletion calls are retried (on top of the SDK's own retries of throttling and 5xx).
const DELETE_RETRY: Retry = Retry {
    attempts: Some(5),
    interval: crate::language::duration::Duration(Duration::from_secs(2)),
    backoff: 2.0,
    until: None,
};

/// How many failed "is it gone?" calls in a row end the wait on one resource.
const MAX_POLL_ERRORS: u32 = 5;

/// How a deletion ended.
pub enum Settled {
    /// The resource is gone: how (`deleted`, `already gone`, `restored (A 10.0.1.10, TTL 300)`).
    Gone(String),
    /// It is left behind: why.
    Left(String),
}

/// Tears down run `run_id`: every resource of its journal not yet deleted. `signals` delivers
/// Ctrl-C: when `options.signalled` (a first one came already) the next stops waiting (what is
/// unfinished stays in the journal); otherwise the first is noted and teardown goes on.
#[expect(
    clippy::too_many_lines,
    reason = "one loop owns the teardown as the dispatcher owns the run: the pending set, its blockers, signals and the deadline; deleting and settling one resource are the functions below"
)]
pub async fn run(
    clients: Option<&Clients>,
    recorder: &Recorder,
    run_id: &str,
    graph: &Graph,
    options: Options,
    signals: &mut mpsc::UnboundedReceiver<()>,
    emit: &mut dyn FnMut(What),
) -> Outcome {
    let signalled_before = options.signalled;
    let mut interrupted = options.signalled;
    let rid = run_id.to_owned();
    let resources = match recorder.call(move |j| j.resources(&rid)).await {
        Ok(all) => all
            .into_iter()
            .filter(|r| r.status != ResourceStatus::Deleted)
            .collect::<Vec<_>>(),
        Err(e) => {
            return Outcome {
                state: TeardownState::Incomplete,
                interrupted: false,
                settled: 0,
                left: vec![Left {
                    resource: placeholder(run_id),
                    reason: format!("cannot read the journal: {e}"),
                }],
            };
        }
    };
    emit(What::TeardownStarted {
        resources: resources.len(),
    });
    let blockers = blockers(&resources, graph);
    let mut pending: Vec<usize> = (0..resources.len()).collect();
    let mut finished = vec![false; resources.len()];
    let mut set: JoinSet<(usize, Settled)> = JoinSet::new();
    let mut tasks: std::collections::HashMap<tokio::task::Id, usize> =
        std::collections::HashMap::new();
    let mut in_flight: BTreeSet<usize> = BTreeSet::new();
    let mut settled = 0;
    let mut left = Vec::new();
    let stop = CancellationToken::new();
    let deadline = Instant::now() + options.deadline;
    let mut state = TeardownState::Done;
    // Deletions wait through shared pollers, like the run's creations.
    let pollers = Arc::new(Pollers::new(clients.cloned(), options.poll));
    loop {
        // Start every deletion whose dependents' resources are all finished.
        pending.retain(|&r| {
            if blockers[r].iter().all(|&b| finished[b]) {
                let resource = resources[r].clone();
                let (pollers, recorder, run_id) =
                    (pollers.clone(), recorder.clone(), run_id.to_owned());
                let stop = stop.clone();
                let handle = set.spawn(async move {
                    let how =
                        settle(&pollers, &recorder, &run_id, &resource, options.poll, &stop).await;
                    (r, how)
                });
                tasks.insert(handle.id(), r);
                in_flight.insert(r);
                false
            } else {
                true
            }
        });
        if set.is_empty() {
            break;
        }
        tokio::select! {
            joined = set.join_next() => {
                let Some(joined) = joined else { continue };
                let (r, how) = match joined {
                    Ok(done) => done,
                    Err(e) => match tasks.get(&e.id()) {
                        Some(&r) => (r, Settled::Left(format!("its deletion failed: {e}"))),
                        None => continue,
                    },
                };
                in_flight.remove(&r);
                finished[r] = true;
                let res = &resources[r];
                let id = crate::steps::resource::label(res);
                match how {
                    Settled::Gone(how) => {
                        settled += 1;
                        emit(What::ResourceDeleted { step: res.step.clone(), kind: res.kind.clone(), id, how });
                    }
                    Settled::Left(reason) => {
                        emit(What::ResourceLeft { step: res.step.clone(), kind: res.kind.clone(), id, reason: reason.clone() });
                        left.push(Left { resource: res.clone(), reason });
                    }
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let on: Vec<String> = in_flight.iter().map(|&r| describe(&resources[r])).collect();
                emit(What::TeardownWaiting { on });
                stop.cancel();
                set.abort_all();
                for &r in in_flight.iter().chain(pending.iter()) {
                    left.push(Left {
                        resource: resources[r].clone(),
                        reason: format!("the teardown deadline ({}) passed before it was gone", crate::language::duration::Duration(options.deadline)),
                    });
                }
                state = TeardownState::Incomplete;
                break;
            }
            Some(()) = signals.recv() => {
                if !interrupted {
                    interrupted = true;
                    emit(What::Stopping {
                        reason: "interrupted during teardown: teardown goes on; signal again to stop waiting".into(),
                    });
                    continue;
                }
                stop.cancel();
                set.abort_all();
                state = TeardownState::Abandoned;
                for &r in in_flight.iter().chain(pending.iter()) {
                    left.push(Left { resource: resources[r].clone(), reason: "teardown was stopped by a second signal".into() });
                }
                break;
            }
        }
    }
    if state == TeardownState::Done {
        // Resources that never got their turn (the graph they wait on is circular): name them.
        for &r in &pending {
            left.push(Left {
                resource: resources[r].clone(),
                reason: "teardown could not order it (the recorded step graph is circular)".into(),
            });
        }
        if !left.is_empty() {
            state = TeardownState::Incomplete;
        }
    }
    emit(What::TeardownFinished {
        state: state.name().into(),
    });
    Outcome {
        state,
        interrupted: interrupted && !signalled_before,
        settled,
        left,
    }
}

fn describe(r: &ResourceRecord) -> String {
    format!(
        "{} {} (step `{}`)",
        r.kind,
        crate::steps::resource::label(r),
        r.step
    )
}

fn placeholder(run_id: &str) -> ResourceRecord {
    ResourceRecord {
        id: 0,
        run_id: run_id.to_owned(),
        step: String::new(),
        kind: "journal".into(),
        token: String::new(),
        region: String::new(),
        resource_id: None,
        status: ResourceStatus::Failed,
        detail: String::new(),
        intended_at: None,
        updated_at: None,
    }
}

/// For each resource, the resources that must be finished before it is deleted: those of the
/// steps that depend on its step (directly or not), and those its own step created after it.
fn blockers(resources: &[ResourceRecord], graph: &Graph) -> Vec<Vec<usize>> {
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (step, deps) in graph {
        for d in deps {
            dependents
                .entry(d.as_str())
                .or_default()
                .push(step.as_str());
        }
    }
    let downstream = |step: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![step.to_owned()];
        while let Some(s) = stack.pop() {
            for d in dependents.get(s.as_str()).into_iter().flatten() {
                if seen.insert((*d).to_owned()) {
                    stack.push((*d).to_owned());
                }
            }
        }
        seen
    };
    resources
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let below = downstream(&r.step);
            resources
                .iter()
                .enumerate()
                .filter(|(j, other)| {
                    *j != i
                        && (below.contains(&other.step)
                            || (other.step == r.step && other.id > r.id))
                })
                .map(|(j, _)| j)
                .collect()
        })
        .collect()
}

/// Where a deletion's progress is written: a journal row, or nowhere (`firedrill sweep` of a
/// resource whose run the journal does not know).
#[derive(Clone, Copy)]
pub struct Book<'a>(Option<(&'a Recorder, i64)>);

impl<'a> Book<'a> {
    /// Progress goes to row `row` of the journal.
    pub fn row(recorder: &'a Recorder, row: i64) -> Self {
        Self(Some((recorder, row)))
    }

    /// Progress goes nowhere.
    pub fn none() -> Self {
        Self(None)
    }
}

async fn mark(book: Book<'_>, status: ResourceStatus, detail: &str) {
    let Some((recorder, row)) = book.0 else {
        return;
    };
    let detail = detail.to_owned();
    let _ = recorder
        .call(move |j| j.set_status(row, status, &detail))
        .await;
}

/// How many times, a second apart, a resource must look absent before teardown believes it.
const ABSENT_CHECKS: u32 = 3;

/// Asks `look` until it answers something other than absent (`absent`), an error, or it has
/// answered absent [`ABSENT_CHECKS`] times.
async fn confirmed_absent<T, F, Fut>(mut look: F, absent: impl Fn(&T) -> bool) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let mut n = 1;
    loop {
        let answer = look().await?;
        if !absent(&answer) || n >= ABSENT_CHECKS {
            return Ok(answer);
        }
        n += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Deletes one resource, or says why it cannot.
async fn settle(
    pollers: &Pollers,
    recorder: &Recorder,
    run_id: &str,
    r: &ResourceRecord,
    poll: Duration,
    stop: &CancellationToken,
) -> Settled {
    let Some(kind) = ResourceKind::parse(&r.kind) else {
        let why = format!(
            "this firedrill does not know resources of kind `{}`",
            r.kind
        );
        mark(Book::row(recorder, r.id), ResourceStatus::Failed, &why).await;
        return Settled::Left(why);
    };
    if pollers.clients().is_err() {
        return Settled::Left("no AWS clients to delete it with".into());
    }
    let id = match &r.resource_id {
        Some(id) => id.clone(),
        None => match confirmed_absent(|| kind.find(pollers, &r.token), Option::is_none).await {
            Ok(Some(id)) => {
                let (row, found) = (r.id, id.clone());
                let _ = recorder.call(move |j| j.created(row, &found)).await;
                id
            }
            Ok(None) => {
                mark(
                    Book::row(recorder, r.id),
                    ResourceStatus::Deleted,
                    "never created: nothing carries its token",
                )
                .await;
                return Settled::Gone("never created".into());
            }
            Err(e) => {
                return Settled::Left(format!(
                    "cannot look for it by its token `{}`: {e}",
                    r.token
                ));
            }
        },
    };
    let how = Deletion {
        kind,
        id: &id,
        run_id,
        asked_before: r.status == ResourceStatus::Deleting,
        retry_seed: u64::try_from(r.id).unwrap_or(0),
        poll,
    };
    how.run(pollers, Book::row(recorder, r.id), stop).await
}

/// One verified deletion: the resource's tags must name `run_id` (a resource of another run,
/// without firedrill's tag, or changed since, is refused); then the delete call, retried; then
/// waiting until it is gone; then what AWS keeps of it (retained backups). Teardown and
/// `firedrill sweep` both delete through it.
pub struct Deletion<'a> {
    /// What it is.
    pub kind: ResourceKind,
    /// Its id.
    pub id: &'a str,
    /// The run its tags must name.
    pub run_id: &'a str,
    /// Whether its deletion was asked for before (then "gone" is believed at once).
    pub asked_before: bool,
    /// The seed of the retries' jitter.
    pub retry_seed: u64,
    /// How often to ask whether it is gone.
    pub poll: Duration,
}

impl Deletion<'_> {
    /// Deletes it, writing progress to `book`; stops at `stop`.
    pub async fn run(
        &self,
        pollers: &Pollers,
        book: Book<'_>,
        stop: &CancellationToken,
    ) -> Settled {
        let (kind, id, run_id) = (self.kind, self.id, self.run_id);
        // AWS is eventually consistent: a resource created a moment ago can be invisible for a
        // moment. "Gone" before any deletion was asked for is believed only when it holds.
        let owner = if self.asked_before {
            kind.owner(pollers, id).await
        } else {
            confirmed_absent(|| kind.owner(pollers, id), |o| *o == Owner::Gone).await
        };
        match owner {
            Ok(Owner::Gone) => {
                return gone(pollers, book, kind, id, "already gone".into()).await;
            }
            Ok(Owner::Run(owner)) if owner == run_id => {}
            Ok(Owner::Run(owner)) => {
                let why =
                    format!("its tags say run `{owner}` created it, not this run: not deleting it");
                mark(book, ResourceStatus::Failed, &why).await;
                return Settled::Left(why);
            }
            Ok(Owner::Changed(why)) => {
                let why = format!("{why}: not touching it");
                mark(book, ResourceStatus::Failed, &why).await;
                return Settled::Left(why);
            }
            Ok(Owner::Untagged) => {
                let why =
                    "it carries no firedrill run tag, so firedrill did not create it: not deleting it"
                        .to_owned();
                mark(book, ResourceStatus::Failed, &why).await;
                return Settled::Left(why);
            }
            Err(e) => return Settled::Left(format!("cannot check its tags: {e}")),
        }
        mark(book, ResourceStatus::Deleting, "").await;
        let deleted = attempts::run(
            Some(&DELETE_RETRY),
            None,
            self.retry_seed,
            stop,
            |_| kind.delete(pollers, id),
            |_, _| {},
        )
        .await;
        if let Err(failure) = deleted {
            let why = format!(
                "deleting it failed {} times: {}",
                failure.attempts,
                failure.reasons.last().cloned().unwrap_or_default()
            );
            mark(book, ResourceStatus::Failed, &why).await;
            return Settled::Left(why);
        }
        let mut errors = 0;
        loop {
            match kind.is_gone(pollers, id).await {
                Ok(true) => return gone(pollers, book, kind, id, kind.undone(id)).await,
                Ok(false) => errors = 0,
                Err(e) => {
                    errors += 1;
                    if errors >= MAX_POLL_ERRORS {
                        return Settled::Left(format!("cannot tell whether it is gone: {e}"));
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.poll) => {}
                () = stop.cancelled() => return Settled::Left("teardown stopped".into()),
            }
        }
    }
}

/// Settles a resource that is gone: what AWS keeps of it afterwards (retained automated
/// backups) goes too, or the resource stays in the journal as left behind, to be retried.
async fn gone(
    pollers: &Pollers,
    book: Book<'_>,
    kind: ResourceKind,
    id: &str,
    how: String,
) -> Settled {
    match kind.delete_leftovers(pollers, id).await {
        Ok(0) => {
            mark(book, ResourceStatus::Deleted, &how).await;
            Settled::Gone(how)
        }
        Ok(n) => {
            let how = format!(
                "{how}, and {n} automated backup{} AWS kept of it",
                if n == 1 { "" } else { "s" }
            );
            mark(book, ResourceStatus::Deleted, &how).await;
            Settled::Gone(how)
        }
        Err(e) => {
            let why = format!("it is deleted, but what AWS keeps of it is not: {e}");
            mark(book, ResourceStatus::Failed, &why).await;
            Settled::Left(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(id: i64, step: &str) -> ResourceRecord {
        ResourceRecord {
            id,
            run_id: "r".into(),
            step: step.into(),
            kind: "ec2-instance".into(),
            token: format!("t{id}"),
            region: "us-east-1".into(),
            resource_id: None,
            status: ResourceStatus::Created,
            detail: String::new(),
            intended_at: None,
            updated_at: None,
        }
    }

    #[tokio::test]
    async fn resources_that_cannot_be_ordered_are_reported_not_forgotten() {
        let dir = tempfile::tempdir().expect("state");
        let recorder =
            Recorder::start(crate::store::journal::Journal::open(dir.path()).expect("open"));
        recorder
            .call(|j| {
                j.begin_run(&crate::store::journal::NewRun {
                    id: "r",
                    ..crate::store::journal::NewRun::default()
                })?;
                j.intend("r", "a", "ec2-instance", "ta", "us-east-1")?;
                j.intend("r", "b", "ec2-instance", "tb", "us-east-1")
            })
            .await
            .expect("journaled");
        // A corrupt journal: a and b depend on each other.
        let graph: Graph = [
            ("a".to_string(), vec!["b".to_string()]),
            ("b".to_string(), vec!["a".to_string()]),
        ]
        .into();
        let (_keep, mut signals) = mpsc::unbounded_channel();
        let out = run(
            None,
            &recorder,
            "r",
            &graph,
            Options {
                deadline: Duration::from_secs(5),
                poll: Duration::from_millis(10),
                signalled: false,
            },
            &mut signals,
            &mut |_| {},
        )
        .await;
        assert_eq!(out.state, TeardownState::Incomplete);
        assert_eq!(out.left.len(), 2, "{:?}", out.left);
    }

    #[test]
    fn dependents_go_first_and_a_step_deletes_its_newest_first() {
        // network <- db <- app ; cache independent
        let graph: Graph = [
            ("network".to_string(), vec![]),
            ("db".to_string(), vec!["network".to_string()]),
            ("app".to_string(), vec!["db".to_string()]),
            ("cache".to_string(), vec![]),
        ]
        .into();
        let resources = [
            res(1, "network"),
            res(2, "db"),
            res(3, "db"),
            res(4, "app"),
            res(5, "cache"),
        ];
        let b = blockers(&resources, &graph);
        // Without a graph, the chain of creation gives the same order here, one step at a time.
        let chained = blockers(&resources, &creation_chain(&resources));
        assert_eq!(chained[0], vec![1, 2, 3, 4]);
        assert_eq!(chained[3], vec![4], "app waits for cache, created after it");
        assert!(chained[4].is_empty());
        assert_eq!(b[0], vec![1, 2, 3], "the network waits for db and app");
        assert_eq!(
            b[1],
            vec![2, 3],
            "db's first waits for its second and for app"
        );
        assert_eq!(b[2], vec![3]);
        assert!(
            b[3].is_empty() && b[4].is_empty(),
            "app and cache go at once"
        );
    }
}
