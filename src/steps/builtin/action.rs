//! The built-in steps: `run` (a process), `wait` (a duration) and `manual` (a person confirms
//! on the terminal; without one, the gate fails unless `--auto-approve`).

use std::io::{BufRead, Write};
use std::sync::Arc;

use crate::steps::builtin::process::{self, Program, Spec};
use crate::steps::builtin::{Manual, Run, Wait};
use crate::steps::common::Command;
use crate::steps::context::{Outputs, Perform, StepCx, StepError};

/// The process a `run` step or a `probe.command` runs, with its references resolved.
pub fn spec(
    cx: &StepCx,
    command: &Command,
    env: &std::collections::BTreeMap<String, crate::language::template::Template>,
    dir: Option<&crate::language::template::Template>,
) -> Result<Spec, StepError> {
    let program = match command {
        Command::Shell(s) => Program::Shell(cx.render(s)?),
        Command::Argv(argv) => Program::Argv(cx.render_all(argv)?),
    };
    let env = env
        .iter()
        .map(|(k, v)| Ok((k.clone(), cx.render(v)?)))
        .collect::<Result<Vec<_>, StepError>>()?;
    let dir = match dir {
        Some(d) => cx.path(d)?,
        None => cx.shared.base_dir.clone(),
    };
    Ok(Spec {
        program,
        env,
        dir,
        scratch: cx.shared.scratch.path().to_path_buf(),
        grace: cx.shared.grace,
    })
}

/// How a process that did not succeed ended, with the last line it wrote.
pub fn how_it_ended(outcome: &process::Outcome, cx: &StepCx) -> String {
    let (stdout, stderr) = (cx.mask(&outcome.stdout), cx.mask(&outcome.stderr));
    let how = match (outcome.exit_code, outcome.signal) {
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        (None, None) => "ended abnormally".to_owned(),
    };
    match last_line(&stderr).or_else(|| last_line(&stdout)) {
        Some(line) => format!("the process {how}: {line}"),
        None => format!("the process {how}"),
    }
}

/// Runs a `run` step's process.
pub async fn run(with: &Run, cx: &StepCx) -> Result<Outputs, StepError> {
    let spec = spec(cx, &with.command, &with.env, with.dir.as_ref())?;
    let outcome = process::run(&spec, cx.cancel.cancelled())
        .await
        .map_err(|e| StepError::failed(e.to_string()))?;
    if outcome.cancelled {
        return Err(StepError::Cancelled);
    }
    if !outcome.success() {
        return Err(StepError::failed(how_it_ended(&outcome, cx)));
    }
    let stdout = cx.mask(&outcome.stdout);
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
    async fn ask(&self, step: &str, with: &Manual) -> Result<bool, String> {
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

impl Perform for Run {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, _attempt: u32) -> Result<Outputs, StepError> {
        run(self, cx).await
    }
}

impl Perform for Wait {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, _attempt: u32) -> Result<Outputs, StepError> {
        wait(self, cx).await
    }
}

impl Perform for Manual {
    fn needs_aws(&self) -> bool {
        false
    }

    async fn perform(&self, cx: &StepCx, _attempt: u32) -> Result<Outputs, StepError> {
        manual(self, cx).await
    }
}
