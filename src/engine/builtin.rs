//! The built-in steps: `run` (a process), `wait` (a duration) and `manual` (a person confirms
//! on the terminal; without one, the gate fails unless `--auto-approve`).

use std::io::{BufRead, Write};
use std::sync::Arc;

use super::step::{Outputs, StepCx, StepError};
use crate::kinds::builtin::{Manual, Run, Wait};
use crate::kinds::common::Command;
use crate::process::{self, Program, Spec};

/// Runs a `run` step's process.
pub async fn run(with: &Run, cx: &StepCx) -> Result<Outputs, StepError> {
    let program = match &with.command {
        Command::Shell(s) => Program::Shell(cx.render(s)?),
        Command::Argv(argv) => Program::Argv(
            argv.iter()
                .map(|a| cx.render(a))
                .collect::<Result<_, _>>()?,
        ),
    };
    let env = with
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), cx.render(v)?)))
        .collect::<Result<Vec<_>, StepError>>()?;
    let dir = match &with.dir {
        Some(d) => cx.shared.base_dir.join(cx.render(d)?),
        None => cx.shared.base_dir.clone(),
    };
    let spec = Spec {
        program,
        env,
        dir,
        grace: cx.shared.grace,
    };
    let outcome = process::run(&spec, cx.cancel.cancelled())
        .await
        .map_err(|e| StepError::failed(e.to_string()))?;
    if outcome.cancelled {
        return Err(StepError::Cancelled);
    }
    let stdout = cx.mask(&outcome.stdout);
    if !outcome.success() {
        let stderr = cx.mask(&outcome.stderr);
        let how = match (outcome.exit_code, outcome.signal) {
            (Some(code), _) => format!("exited with {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            (None, None) => "ended abnormally".to_owned(),
        };
        let last = last_line(&stderr).or_else(|| last_line(&stdout));
        return Err(StepError::failed(match last {
            Some(line) => format!("the process {how}: {line}"),
            None => format!("the process {how}"),
        }));
    }
    let mut outputs: Outputs = outcome
        .outputs
        .into_iter()
        .map(|(k, v)| (k, cx.mask(&v)))
        .collect();
    for name in &with.outputs {
        if !outputs.contains_key(name) {
            return Err(StepError::failed(format!(
                "the process succeeded but did not set the output `{name}` (write `{name}=VALUE` to \"$FIREDRILL_OUTPUTS\")"
            )));
        }
    }
    outputs.insert("exit_code".into(), "0".into());
    outputs.insert("stdout".into(), stdout);
    Ok(outputs)
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(200).collect())
}

/// Runs a `wait` step.
pub async fn wait(with: &Wait, cx: &StepCx) -> Result<Outputs, StepError> {
    tokio::select! {
        () = tokio::time::sleep(with.duration.0) => Ok(Outputs::new()),
        () = cx.cancel.cancelled() => Err(StepError::Cancelled),
    }
}

/// Asks a person on the terminal. Only one question is on screen at a time; progress bars
/// are hidden while it is, and the run goes on meanwhile.
#[derive(Clone, Debug)]
pub struct Prompter {
    bars: Option<indicatif::MultiProgress>,
    one_at_a_time: Arc<tokio::sync::Mutex<()>>,
}

impl Prompter {
    /// A prompter for the terminal, hiding `bars` while it asks.
    pub fn new(bars: Option<indicatif::MultiProgress>) -> Self {
        Self {
            bars,
            one_at_a_time: Arc::default(),
        }
    }

    /// Asks `question`; `Ok(true)` when confirmed.
    async fn ask(&self, step: &str, with: &Manual) -> Result<bool, String> {
        let _turn = self.one_at_a_time.lock().await;
        let mut text = format!("\n[{step}] {}\n", with.prompt);
        if let Some(i) = &with.instructions {
            text.push_str(&format!("    {}\n", i.trim()));
        }
        text.push_str("Done? [y = confirm, n = fail the step]: ");
        let bars = self.bars.clone();
        tokio::task::spawn_blocking(move || {
            let ask = || -> Result<bool, String> {
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text.as_bytes());
                let _ = err.flush();
                loop {
                    let mut line = String::new();
                    let n = std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("the terminal closed".into());
                    }
                    match line.trim().to_ascii_lowercase().as_str() {
                        "y" | "yes" => return Ok(true),
                        "n" | "no" => return Ok(false),
                        _ => {
                            let _ = err.write_all(b"Please answer y or n: ");
                            let _ = err.flush();
                        }
                    }
                }
            };
            // Hide the bars while the question is on screen, without holding their lock:
            // the run goes on (other steps finish, the display state updates) meanwhile.
            if let Some(b) = &bars {
                b.set_draw_target(indicatif::ProgressDrawTarget::hidden());
            }
            let answer = ask();
            if let Some(b) = &bars {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            answer
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// Runs a `manual` gate.
pub async fn manual(with: &Manual, cx: &StepCx) -> Result<Outputs, StepError> {
    if cx.shared.auto_approve {
        return Ok(Outputs::from([(
            "approved_by".into(),
            "--auto-approve".into(),
        )]));
    }
    let Some(prompter) = &cx.shared.prompter else {
        return Err(StepError::failed(
            "a manual gate needs a person at a terminal; there is none (pass --auto-approve to let gates pass)",
        ));
    };
    tokio::select! {
        answer = prompter.ask(&cx.step, with) => match answer {
            Ok(true) => Ok(Outputs::from([("approved_by".into(), "terminal".into())])),
            Ok(false) => Err(StepError::failed("the person at the terminal said no")),
            Err(e) => Err(StepError::failed(format!("cannot ask at the terminal: {e}"))),
        },
        () = cx.cancel.cancelled() => Err(StepError::Cancelled),
    }
}
