//! A `manual` gate's question on the terminal, asked while the progress bars are hidden.
//! Knows the gate's fields and the terminal; nothing of the run.

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::steps::builtin::Manual;

/// Asks a person on the terminal. Only one question is on screen at a time; progress bars
/// are hidden while it is, and the run goes on meanwhile. One thread reads the terminal for
/// the whole run, so a question given up (the step timed out, the run stopped) leaves no
/// reader behind to swallow the next answer, and the bars come back whatever happens.
#[derive(Clone, Debug)]
pub struct Prompter {
    bars: Option<indicatif::MultiProgress>,
    lines: Arc<tokio::sync::Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<String>>>>,
}

/// Shows the bars again when dropped.
struct Unhide(Option<indicatif::MultiProgress>);

impl Drop for Unhide {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }
}

impl Prompter {
    /// A prompter for the terminal, hiding `bars` while it asks.
    pub fn new(bars: Option<indicatif::MultiProgress>) -> Self {
        Self {
            bars,
            lines: Arc::default(),
        }
    }

    /// Asks `question`; `Ok(true)` when confirmed.
    pub(crate) async fn ask(&self, step: &str, with: &Manual) -> Result<bool, String> {
        let mut lines = self.lines.lock().await;
        let rx = lines.get_or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            std::thread::spawn(move || {
                for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        });
        // What was typed before the question is not its answer.
        while rx.try_recv().is_ok() {}
        let mut text = format!("\n[{step}] {}\n", with.prompt);
        if let Some(i) = &with.instructions {
            text.push_str(&format!("    {}\n", i.trim()));
        }
        text.push_str("Done? [y = confirm, n = fail the step]: ");
        if let Some(b) = &self.bars {
            b.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let _unhide = Unhide(self.bars.clone());
        let say = |t: &str| {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(t.as_bytes());
            let _ = err.flush();
        };
        say(&text);
        loop {
            let Some(line) = rx.recv().await else {
                return Err("the terminal closed".into());
            };
            match line.trim().to_ascii_lowercase().as_str() {
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => say("Please answer y or n: "),
            }
        }
    }
}
