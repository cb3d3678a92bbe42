//! The recorder: one thread that owns the journal's connection while a run goes on.
//!
//! The dispatcher hands it events without waiting (they are committed in batches, so a
//! 2,000-step run does not wait on 4,000 disk syncs); a creating action hands it an intent and
//! waits until that intent is committed, so it is on disk before the create call is made.
//! Everything sent before a call is committed before that call's answer.

use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::store::journal::{Journal, JournalError};

/// How many queued writes go into one commit at most.
const BATCH: usize = 512;

type Reply = Box<dyn FnOnce() + Send>;
type Write = dyn FnOnce(&Journal) -> Option<Reply> + Send;

struct Job {
    write: Box<Write>,
    /// Whether someone waits for it to be on disk (an intent, a status).
    durable: bool,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// A handle to the recorder thread. Cloning it is cheap; the thread ends when every handle
/// is dropped, after writing what was queued.
#[derive(Clone, Debug)]
pub struct Recorder {
    tx: mpsc::Sender<Job>,
}

impl Recorder {
    /// Starts the recorder thread over `journal`.
    pub fn start(journal: Journal) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("firedrill-journal".into())
            .spawn(move || {
                // The connection's current setting: changing it is a statement of its own,
                // made only when a batch needs the other one.
                let mut synced = None;
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < BATCH {
                        match rx.try_recv() {
                            Ok(job) => jobs.push(job),
                            Err(_) => break,
                        }
                    }
                    // A batch of events only is committed without a disk sync (WAL with
                    // synchronous NORMAL: safe against a crash of the process, not of the
                    // machine); one that anybody waits for is synced before they hear back.
                    let durable = jobs.iter().any(|job| job.durable);
                    if synced != Some(durable) {
                        journal.set_durable(durable);
                        synced = Some(durable);
                    }
                    let replies = journal.batch(|j| {
                        jobs.into_iter()
                            .filter_map(|job| (job.write)(j))
                            .collect::<Vec<_>>()
                    });
                    // Answers go out only after the commit: an intent is durable when its
                    // caller hears back. A failed commit drops the replies, so callers get
                    // `JournalError::Closed` rather than a false confirmation.
                    if let Ok(replies) = replies {
                        for reply in replies {
                            reply();
                        }
                    }
                }
            })
            .expect("a thread for the journal");
        Self { tx }
    }

    /// Queues a write whose outcome nobody waits for (a step event).
    pub fn send(&self, write: impl FnOnce(&Journal) + Send + 'static) {
        let _ = self.tx.send(Job {
            write: Box::new(move |j| {
                write(j);
                None
            }),
            durable: false,
        });
    }

    /// Runs `f` on the journal and returns its answer once the write is committed.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Journal) -> Result<R, JournalError> + Send + 'static,
    ) -> Result<R, JournalError> {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            write: Box::new(move |j| {
                let out = f(j);
                Some(Box::new(move || {
                    let _ = tx.send(out);
                }) as Reply)
            }),
            durable: true,
        };
        self.tx.send(job).map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), JournalError> {
        self.call(|_| Ok(())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::journal::NewRun;

    #[tokio::test]
    async fn an_answered_intent_is_on_disk_and_events_keep_their_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let recorder = Recorder::start(Journal::open(dir.path()).expect("open"));
        recorder
            .call(|j| {
                j.begin_run(&NewRun {
                    id: "r",
                    ..NewRun::default()
                })
            })
            .await
            .expect("run");
        for n in 0..100 {
            recorder.send(move |j| {
                let _ = j.event("r", None, "tick", &n.to_string());
            });
        }
        let row = recorder
            .call(|j| j.intend("r", "app", "ec2-instance", "fd-r-app-1", "us-east-1"))
            .await
            .expect("intend");
        // Another connection, as a crashed run's `firedrill teardown` would open.
        let other = Journal::open(dir.path()).expect("second connection");
        let resources = other.resources("r").expect("resources");
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0].id, row);
        let details: Vec<String> = other
            .events("r")
            .expect("events")
            .into_iter()
            .map(|e| e.detail)
            .collect();
        assert_eq!(details, (0..100).map(|n| n.to_string()).collect::<Vec<_>>());
    }
}
