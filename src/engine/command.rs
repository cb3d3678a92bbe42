//! Commands from outside a running drill: what a facilitator (or a named approver in another
//! terminal) asks of it while it runs. The dispatcher receives them as events, beside step
//! results and signals, and answers each with an event of its own (journaled like every
//! other), so a command's effect is on the record with its time on the RTO clock.
//!
//! This file is the vocabulary only; the dispatcher carries commands out, and whatever sends
//! them (a screen, another terminal, a test) holds a [`Controller`].

use tokio::sync::mpsc;

/// What can be asked of a running drill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Stop starting steps (running ones go on) until resumed.
    Pause {
        /// Who asks.
        by: String,
    },
    /// Start steps again after a pause.
    Resume {
        /// Who asks.
        by: String,
    },
    /// Confirm a `manual` gate that is waiting.
    Approve {
        /// The gate's step.
        step: String,
        /// Who confirms.
        by: String,
    },
    /// Fail a `manual` gate that is waiting.
    Reject {
        /// The gate's step.
        step: String,
        /// Who refuses.
        by: String,
    },
    /// Put a note on the record, stamped on the RTO clock.
    Note {
        /// Who writes it.
        by: String,
        /// What it says.
        text: String,
    },
    /// Fail a running step now, with `reason` (an injected failure, to rehearse one).
    FailStep {
        /// The step.
        step: String,
        /// The reason it fails with.
        reason: String,
        /// Who injects it.
        by: String,
    },
}

impl Command {
    /// How the command reads in a log line (`approve db`).
    pub fn label(&self) -> String {
        match self {
            Command::Pause { .. } => "pause".to_owned(),
            Command::Resume { .. } => "resume".to_owned(),
            Command::Approve { step, .. } => format!("approve {step}"),
            Command::Reject { step, .. } => format!("reject {step}"),
            Command::Note { .. } => "note".to_owned(),
            Command::FailStep { step, .. } => format!("fail {step}"),
        }
    }
}

/// Sends commands to one running drill. Cloning gives another handle to the same drill.
#[derive(Clone, Debug)]
pub struct Controller(mpsc::UnboundedSender<Command>);

/// Where a drill receives its commands.
pub type Commands = mpsc::UnboundedReceiver<Command>;

impl Controller {
    /// Sends `command`; `false` once the drill has ended (nobody receives it any more).
    pub fn send(&self, command: Command) -> bool {
        self.0.send(command).is_ok()
    }
}

/// A controller and the receiving end its drill takes.
pub fn channel() -> (Controller, Commands) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Controller(tx), rx)
}
