//! Waiting without wasting API calls: one poller per service and resource kind, shared by every
//! step of a run. A step asks the poller to look at a resource; the poller gathers every look
//! asked for while it waits for its next round and answers them all with one describe call
//! (split only where the API caps how many identifiers one call may name). Rounds come at the
//! run's poll interval, and back off (×1.5, up to [`MAX_BACKOFF`] times the interval) while
//! nothing it watches changes.
//!
//! A poller counts its rounds and the looks they answered: the looks are exactly the calls a
//! per-resource waiter polling at the same cadence would have made.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::aws::Clients;

/// How far rounds back off while nothing changes: at most this many poll intervals apart.
pub const MAX_BACKOFF: u32 = 4;

/// What a describe call found: identifier to description; an identifier it did not find is
/// absent.
pub type Found<T> = BTreeMap<String, T>;

/// A boxed describe call for a batch of identifiers.
pub type DescribeFuture<T> = Pin<Box<dyn Future<Output = Result<Found<T>, String>> + Send>>;

/// Describes a batch of identifiers (at most the poller's batch size).
pub type Describe<T> = Arc<dyn Fn(Vec<String>) -> DescribeFuture<T> + Send + Sync>;

/// What a poller has done.
#[derive(Debug, Default)]
pub struct Stats {
    rounds: AtomicU64,
    calls: AtomicU64,
    looks: AtomicU64,
}

impl Stats {
    /// Rounds made.
    pub fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    /// Describe calls made.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Resources looked at, summed over rounds: the calls one waiter per resource would make.
    pub fn looks(&self) -> u64 {
        self.looks.load(Ordering::Relaxed)
    }
}

struct Look<T> {
    id: String,
    reply: oneshot::Sender<Result<Option<T>, String>>,
}

/// A poller for one kind of resource. Cloning gives another handle to the same poller; the
/// poller's task ends when the last handle is dropped.
pub struct Poller<T> {
    tx: mpsc::UnboundedSender<Look<T>>,
    stats: Arc<Stats>,
}

impl<T> Clone for Poller<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<T> std::fmt::Debug for Poller<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + PartialEq + Send + 'static> Poller<T> {
    /// Starts a poller that describes up to `batch` identifiers per call, rounds at least
    /// `interval` apart. Needs a tokio runtime.
    pub fn start<F, Fut>(describe: F, batch: usize, interval: Duration) -> Self
    where
        F: Fn(Vec<String>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Found<T>, String>> + Send + 'static,
    {
        let describe: Describe<T> = Arc::new(move |ids| Box::pin(describe(ids)));
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        tokio::spawn(rounds(rx, describe, batch.max(1), interval, stats.clone()));
        Self { tx, stats }
    }

    /// The description of resource `id` from the poller's next round (`None`: the describe
    /// did not list it).
    pub async fn look(&self, id: &str) -> Result<Option<T>, String> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Look {
                id: id.to_owned(),
                reply,
            })
            .map_err(|_| "the poller has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the poller has stopped".to_owned())?
    }

    /// What the poller has done.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

async fn rounds<T: Clone + PartialEq + Send + 'static>(
    mut rx: mpsc::UnboundedReceiver<Look<T>>,
    describe: Describe<T>,
    batch: usize,
    interval: Duration,
    stats: Arc<Stats>,
) {
    let mut pending: Vec<Look<T>> = Vec::new();
    let mut last_round: Option<Instant> = None;
    let mut gap = interval;
    let mut seen: Found<T> = BTreeMap::new();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(look) => pending.push(look),
                None => return,
            }
        }
        // Gather every look asked for until the round is due.
        let due = last_round.map_or_else(Instant::now, |at| at + gap);
        let mut closed = false;
        loop {
            tokio::select! {
                biased;
                look = rx.recv(), if !closed => match look {
                    Some(look) => pending.push(look),
                    None => closed = true,
                },
                () = tokio::time::sleep_until(due) => break,
            }
        }
        pending.retain(|l| !l.reply.is_closed());
        if pending.is_empty() {
            if closed {
                return;
            }
            continue;
        }
        let ids: Vec<String> = pending
            .iter()
            .map(|l| l.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        stats.rounds.fetch_add(1, Ordering::Relaxed);
        stats.looks.fetch_add(ids.len() as u64, Ordering::Relaxed);
        let mut found: Result<Found<T>, String> = Ok(BTreeMap::new());
        for chunk in ids.chunks(batch) {
            stats.calls.fetch_add(1, Ordering::Relaxed);
            match describe(chunk.to_vec()).await {
                Ok(part) => {
                    if let Ok(all) = found.as_mut() {
                        all.extend(part);
                    }
                }
                Err(e) => found = Err(e),
            }
        }
        last_round = Some(Instant::now());
        let changed = match &found {
            Ok(all) => ids.iter().any(|id| seen.get(id) != all.get(id)),
            Err(_) => false,
        };
        gap = if changed {
            interval
        } else {
            (gap * 3 / 2).min(interval * MAX_BACKOFF)
        };
        if let Ok(all) = &found {
            for id in &ids {
                match all.get(id) {
                    Some(t) => seen.insert(id.clone(), t.clone()),
                    None => seen.remove(id),
                };
            }
        }
        for look in pending.drain(..) {
            let answer = found
                .as_ref()
                .map(|all| all.get(&look.id).cloned())
                .map_err(Clone::clone);
            let _ = look.reply.send(answer);
        }
        if closed {
            return;
        }
    }
}

/// A kind of resource a poller watches: the one describe call that looks at a batch of them.
/// Each service's `action.rs` declares its own; [`Pollers::get`] starts one poller per type.
pub trait Watch: 'static {
    /// What the describe call gives for one resource.
    type Item: Clone + PartialEq + Send + Sync + 'static;
    /// The most identifiers one call may name.
    const BATCH: usize;

    /// Describes `ids` (at most [`Watch::BATCH`]) through `clients`.
    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<Self>;
}

/// A started poller, kept by the type of what it watches.
struct Started {
    watch: TypeId,
    poller: Box<dyn Any + Send + Sync>,
    stats: Arc<Stats>,
}

/// The pollers of one run (or one teardown), one per [`Watch`] type, started on first use.
pub struct Pollers {
    clients: Option<Clients>,
    interval: Duration,
    started: Mutex<Vec<Started>>,
}

impl std::fmt::Debug for Pollers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pollers")
            .field("interval", &self.interval)
            .field("totals", &self.totals())
            .finish_non_exhaustive()
    }
}

/// The rounds, calls and looks of every poller of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Rounds made.
    pub rounds: u64,
    /// Describe calls made.
    pub calls: u64,
    /// Resources looked at: the calls one waiter per resource would have made.
    pub looks: u64,
}

impl Pollers {
    /// Pollers that describe through `clients`, rounds `interval` apart.
    pub fn new(clients: Option<Clients>, interval: Duration) -> Self {
        Self {
            clients,
            interval,
            started: Mutex::new(Vec::new()),
        }
    }

    /// The clients the pollers describe through.
    pub fn clients(&self) -> Result<&Clients, String> {
        self.clients
            .as_ref()
            .ok_or_else(|| "no AWS clients were made for this run".to_owned())
    }

    /// The run's poller of `W`, started on first use. Needs a tokio runtime.
    pub fn get<W: Watch>(&self) -> Result<Poller<W::Item>, String> {
        let clients = self.clients()?;
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        let watch = TypeId::of::<W>();
        if let Some(p) = started
            .iter()
            .find(|s| s.watch == watch)
            .and_then(|s| s.poller.downcast_ref::<Poller<W::Item>>())
        {
            return Ok(p.clone());
        }
        let clients = clients.clone();
        let poller = Poller::start(
            move |ids| W::describe(&clients, ids),
            W::BATCH,
            self.interval,
        );
        started.push(Started {
            watch,
            poller: Box::new(poller.clone()),
            stats: poller.stats.clone(),
        });
        Ok(poller)
    }

    /// What every poller started so far has done.
    pub fn totals(&self) -> Totals {
        let started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        started.iter().fold(Totals::default(), |t, s| Totals {
            rounds: t.rounds + s.stats.rounds(),
            calls: t.calls + s.stats.calls(),
            looks: t.looks + s.stats.looks(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A describe that records the batches it was asked for and says every resource is
    /// `status`, read from a shared cell.
    fn recording(
        status: Arc<Mutex<String>>,
        calls: Arc<Mutex<Vec<Vec<String>>>>,
    ) -> impl Fn(Vec<String>) -> DescribeFuture<String> + Send + Sync + 'static {
        move |ids: Vec<String>| {
            let (status, calls) = (status.clone(), calls.clone());
            Box::pin(async move {
                calls.lock().expect("lock").push(ids.clone());
                let s = status.lock().expect("lock").clone();
                Ok(ids.into_iter().map(|id| (id, s.clone())).collect())
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_looks_share_one_call_split_by_the_batch_size() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new("creating".to_string()));
        let poller = Poller::start(recording(status, calls.clone()), 2, Duration::from_secs(1));
        let looks = (0..5).map(|i| {
            let p = poller.clone();
            async move { p.look(&format!("db-{i}")).await }
        });
        let answers = futures_join(looks).await;
        assert!(
            answers
                .iter()
                .all(|a| a == &Ok(Some("creating".to_string())))
        );
        let calls = calls.lock().expect("lock").clone();
        assert_eq!(
            calls.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 1],
            "{calls:?}"
        );
        assert_eq!(poller.stats().rounds(), 1);
        assert_eq!(poller.stats().looks(), 5);
        assert_eq!(poller.stats().calls(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn rounds_back_off_while_nothing_changes_and_reset_on_a_change() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new("creating".to_string()));
        let interval = Duration::from_secs(2);
        let poller = Poller::start(recording(status.clone(), calls), 100, interval);
        let start = Instant::now();
        let mut at = Vec::new();
        for round in 0..8 {
            if round == 6 {
                *status.lock().expect("lock") = "available".into();
            }
            poller.look("db").await.expect("answered");
            at.push((Instant::now() - start).as_millis());
        }
        // First at once, then 2 s (the first answer is a change from nothing), then 3, 4.5, 6.75,
        // 8 (the cap: 4 × 2 s), then the change resets to 2 s.
        let gaps: Vec<u128> = at.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(at[0], 0);
        assert_eq!(
            gaps,
            vec![2000, 3000, 4500, 6750, 8000, 8000, 2000],
            "{at:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_absent_resource_is_none_and_errors_reach_every_look() {
        let describe = |ids: Vec<String>| async move {
            if ids.iter().any(|i| i == "broken") {
                Err("AccessDenied: no".to_string())
            } else {
                Ok(BTreeMap::new())
            }
        };
        let poller: Poller<String> = Poller::start(describe, 10, Duration::from_secs(1));
        assert_eq!(poller.look("gone").await, Ok(None));
        let (a, b) = tokio::join!(poller.look("broken"), poller.look("other"));
        assert_eq!(a, Err("AccessDenied: no".to_string()));
        assert_eq!(b, a);
    }

    async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("joined"));
        }
        out
    }
}
