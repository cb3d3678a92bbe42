//! The built-in steps: `run` (a process), `wait` (a duration) and `manual` (a person confirms
//! on the terminal; without one, the gate fails unless `--auto-approve`).

use crate::engine::event::What;
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
        run_id: cx.scope.run_id.clone(),
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

/// Runs a `manual` gate.
pub async fn manual(with: &Manual, cx: &StepCx) -> Result<Outputs, StepError> {
    if cx.shared.auto_approve {
        return Ok(Outputs::from([(
            "approved_by".into(),
            "--auto-approve".into(),
        )]));
    }
    let prompter = cx.shared.prompter.as_ref();
    // A run that takes commands lets a gate be answered from another terminal too.
    let gate = cx.shared.gates.as_ref().map(|g| g.wait(&cx.step));
    if prompter.is_none() && gate.is_none() {
        return Err(StepError::failed(
            "a manual gate needs a person at a terminal; there is none (pass --auto-approve to let gates pass)",
        ));
    }
    let _ = cx.events.send(What::GateWaiting {
        step: cx.step.clone(),
        prompt: with.prompt.clone(),
    });
    let at_terminal = async {
        match prompter {
            Some(p) => p.ask(&cx.step, with).await,
            None => std::future::pending().await,
        }
    };
    let from_outside = async {
        match gate {
            Some(rx) => rx.await.ok(),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        answer = at_terminal => match answer {
            Ok(true) => Ok(Outputs::from([("approved_by".into(), "terminal".into())])),
            Ok(false) => Err(StepError::failed("the person at the terminal said no")),
            Err(e) => Err(StepError::failed(format!("cannot ask at the terminal: {e}"))),
        },
        Some(answer) = from_outside => if answer.approved {
            Ok(Outputs::from([("approved_by".into(), answer.by)]))
        } else {
            Err(StepError::failed(format!("{} said no", answer.by)))
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
