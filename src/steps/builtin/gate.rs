//! Manual gates answered from outside the terminal: a waiting `manual` step registers here,
//! and the dispatcher, given an approve or reject command, answers it. A run that takes no
//! commands has no gates (its `manual` steps ask at the terminal, or fail without one).
//! Knows neither the dispatcher nor the terminal.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

/// An answer to a gate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Whether the gate passes.
    pub approved: bool,
    /// Who answered.
    pub by: String,
}

/// The gates of one run that wait for an answer, by step id.
#[derive(Debug, Default)]
pub struct Gates {
    waiting: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
}

impl Gates {
    /// Step `step`'s gate waits: the answer arrives on the receiver.
    pub fn wait(&self, step: &str) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(step.to_owned(), tx);
        rx
    }

    /// Answers step `step`'s gate; `false` when no gate of that step is waiting.
    pub fn answer(&self, step: &str, answer: Answer) -> bool {
        self.lock()
            .remove(step)
            .is_some_and(|tx| tx.send(answer).is_ok())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<Answer>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_gate_gets_its_answer_once_and_others_are_refused() {
        let gates = Gates::default();
        let rx = gates.wait("approve");
        let yes = Answer {
            approved: true,
            by: "ana".into(),
        };
        assert!(!gates.answer("other", yes.clone()), "no such gate waits");
        assert!(gates.answer("approve", yes.clone()));
        assert!(!gates.answer("approve", yes.clone()), "answered already");
        assert_eq!(rx.await, Ok(yes));
        // A gate that stopped waiting (its step ended) is not answered.
        drop(gates.wait("gone"));
        assert!(!gates.answer(
            "gone",
            Answer {
                approved: false,
                by: "bo".into()
            }
        ));
    }
}
