//! `firedrill run PLAYBOOK` and `firedrill teardown [RUN]`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use tokio::sync::mpsc;

use super::again;
use super::out::{eprint, error, print};
use super::sandbox::{self, runtime};
use crate::aws::guard::Target;
use crate::engine::dispatch::{self, Sink};
use crate::engine::event::{Clock, Event, What};
use crate::engine::exit;
use crate::engine::prepare::{
    Account, PrepareError, Prepared, Request, poll_interval, prepare, reconnect,
};
use crate::engine::report::{Report, TeardownState};
use crate::engine::teardown;
use crate::language::diag;
use crate::language::duration::Duration;
use crate::playbook;
use crate::reports::Format;
use crate::reports::paint::Paint;
use crate::reports::progress::{BarsSink, LogFormat, LogSink, Silent, log_line};
use crate::reports::webhook::Webhook;
use crate::steps::builtin::prompter::Prompter;
use crate::steps::builtin::reaper;
use crate::store::journal::{self, Journal, ResourceStatus, RunRecord};
use crate::store::lock::{self, LockError};
use crate::store::recorder::Recorder;

/// Where a drill runs.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SandboxChoice {
    /// The local sandbox (`firedrill sandbox start`).
    Local,
}

/// The shared AWS profile, on every command that talks to AWS (as the aws CLI takes it).
#[derive(Args, Debug, Clone)]
pub struct ProfileArg {
    /// The AWS profile to take credentials (and a region) from.
    #[arg(long, value_name = "NAME", env = "AWS_PROFILE")]
    pub profile: Option<String>,
}

/// `firedrill run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The playbook file.
    pub playbook: PathBuf,
    /// Run against the local sandbox (started if none is running) instead of the AWS account
    /// of your credentials.
    #[arg(long, value_enum)]
    pub sandbox: Option<SandboxChoice>,
    /// With `--sandbox local`: seed the sandbox's production side from this file first
    /// (once per sandbox).
    #[arg(long, requires = "sandbox")]
    pub seed: Option<PathBuf>,
    /// The AWS region (default: the playbook's `sandbox.region`, then AWS_REGION).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub aws: ProfileArg,
    /// At most this many steps at once [default: no cap].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: Option<u32>,
    /// Stop dispatching this long after the start (then tear down), e.g. `2h`.
    #[arg(long)]
    pub deadline: Option<Duration>,
    /// How long teardown may take before it reports what it still waits on.
    #[arg(long, default_value = "30m")]
    pub teardown_timeout: Duration,
    /// Let `manual` gates pass without asking (unattended runs).
    #[arg(long)]
    pub auto_approve: bool,
    /// Event lines as text or JSON (live bars replace text lines on a terminal).
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    /// The declared disaster time (RFC 3339, e.g. `2026-11-26T03:00:00Z`): RPOs are measured
    /// from it instead of from the drill's start (data newer than it is not a loss).
    #[arg(long, value_parser = parse_disaster_time)]
    pub disaster_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Reports to write at the end: a list of formats (`json,junit,markdown,html`), written
    /// into `--report-dir`; or a file (a path with a `/` or a `.`) to write the JSON report to.
    /// Repeatable. The JSON report is always kept in the state directory too.
    #[arg(long, value_name = "FORMATS|FILE", value_parser = parse_report)]
    pub report: Vec<ReportRequest>,
    /// Where `--report FORMATS` writes its files (`report.json`, `report.junit.xml`,
    /// `report.md`, `report.html`) [default: the run's directory in the state directory].
    /// Alone, it writes the JSON report there.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Print nothing when the drill passes; only the summary and errors when it does not
    /// (cron mails only on trouble).
    #[arg(long, short)]
    pub quiet: bool,
    /// POST a Slack-compatible JSON message (`{"text": ...}`) with the outcome to this
    /// http(s) URL when the run ends; a failure to deliver it is a warning.
    #[arg(long, env = "FIREDRILL_WEBHOOK", hide_env_values = true)]
    pub webhook: Option<String>,
}

/// What one `--report` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportRequest {
    /// These formats, into the report directory.
    Formats(Vec<Format>),
    /// The JSON report, to this file.
    File(PathBuf),
}

/// `--report json,html` is a list of formats; `--report out/report.json` a file.
fn parse_report(value: &str) -> Result<ReportRequest, String> {
    match Format::parse_list(value) {
        Ok(formats) if !formats.is_empty() => Ok(ReportRequest::Formats(formats)),
        _ if value.contains(['/', '.']) => Ok(ReportRequest::File(PathBuf::from(value))),
        Ok(_) => Err("name at least one format: json, junit, markdown, html".into()),
        Err(e) => Err(format!(
            "{e}; to write the JSON report to a file, give a path with a `/` or a `.`"
        )),
    }
}

impl RunArgs {
    /// The formats `--report` and `--report-dir` ask for, in [`crate::reports::FORMATS`] order.
    fn report_formats(&self) -> Vec<Format> {
        let mut formats: Vec<Format> = self
            .report
            .iter()
            .filter_map(|r| match r {
                ReportRequest::Formats(f) => Some(f.iter().copied()),
                ReportRequest::File(_) => None,
            })
            .flatten()
            .collect();
        if formats.is_empty() && self.report_dir.is_some() {
            formats.push(Format::Json);
        }
        formats.sort_unstable();
        formats.dedup();
        formats
    }
}

/// `--disaster-time`: an RFC 3339 time, not in the future.
fn parse_disaster_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("{e}: write an RFC 3339 time, like 2026-11-26T03:00:00Z"))?
        .to_utc();
    if at > chrono::Utc::now() {
        return Err("the disaster time is in the future: the RPO is measured back from it".into());
    }
    Ok(at)
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LogFormatArg {
    /// One line per event, for people and cron logs.
    Text,
    /// One JSON object per event.
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(f: LogFormatArg) -> Self {
        match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

/// `firedrill teardown`.
#[derive(Args, Debug)]
pub struct TeardownArgs {
    /// The run id (default: every run with unfinished teardown whose `keep_for` has passed).
    pub run: Option<String>,
    /// How long teardown may take.
    #[arg(long, default_value = "30m")]
    pub teardown_timeout: Duration,
    /// Event lines as text or JSON.
    #[arg(long, value_enum, default_value_t = LogFormatArg::Text)]
    pub log_format: LogFormatArg,
    #[command(flatten)]
    pub aws: ProfileArg,
}

/// Forwards Ctrl-C and SIGTERM: the first two to the run (which says what happens next), the
/// third exits at once, with `code_now()` (6 when resources may be left behind, else 130).
fn signals(
    resume: String,
    code_now: impl Fn() -> u8 + Send + 'static,
) -> mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        let mut n = 0;
        loop {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            n += 1;
            // The first is said by the run's `stopping` event, with what happens next.
            match n {
                1 => {}
                // The resume command comes once, when the run or teardown ends.
                2 => eprint(
                    "\nno longer waiting: what is unfinished stays in the journal. Signal again to exit at once.\n",
                ),
                _ => {
                    eprint(&format!(
                        "\nexiting now; resume the teardown with:\n  {resume}\n"
                    ));
                    std::process::exit(i32::from(code_now()));
                }
            }
            let _ = tx.send(());
        }
    });
    rx
}

/// Starts the reaper of run `run_id` (`firedrill __reap RUN`): it waits until its standard
/// input closes, which happens when this process ends however it ends, then kills the run's
/// processes that are left. In its own process group, so that a terminal's Ctrl-C does not end
/// it first. None (said with `-v`) when it cannot start: the run goes on without it.
fn reaper(run_id: &str) -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe().ok()?;
    match std::process::Command::new(exe)
        .args(["__reap", run_id])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
    {
        Ok(child) => Some(child),
        Err(e) => {
            tracing::info!("no reaper for the run's processes: {e}");
            None
        }
    }
}

/// The exit code of a run that exits at once (a third signal): 6 when the journal holds a
/// resource of it that is not deleted (or cannot be read), else 130.
fn left_behind(state_dir: &Path, run_id: &str) -> impl Fn() -> u8 + Send + 'static {
    let (state_dir, run_id) = (state_dir.to_path_buf(), run_id.to_owned());
    move || {
        let left = crate::store::journal::Journal::open_read_only(&state_dir)
            .ok()
            .flatten()
            .and_then(|j| j.resources(&run_id).ok())
            .is_none_or(|all| all.iter().any(|x| x.status != ResourceStatus::Deleted));
        if left {
            exit::TEARDOWN_INCOMPLETE
        } else {
            exit::INTERRUPTED
        }
    }
}

/// Runs `firedrill run`.
pub fn run(args: &RunArgs, state_dir: &Path, color: bool) -> u8 {
    let webhook = match args
        .webhook
        .as_deref()
        .filter(|u| !u.is_empty())
        .map(Webhook::parse)
    {
        Some(Ok(w)) => Some(w),
        Some(Err(e)) => {
            error(
                &format!("--webhook: {e}"),
                &["give the incoming-webhook URL of your chat, e.g. https://hooks.slack.com/services/...".into()],
            );
            return exit::INVALID;
        }
        None => None,
    };
    let mut ended = Ended::default();
    let code = drill(args, state_dir, color, &mut ended);
    if let Some(webhook) = &webhook {
        notify(webhook, args, &ended, code);
    }
    code
}

/// How a run ended, for the webhook: the playbook and run id once known, and the report and
/// where it is kept when the drill ran.
#[derive(Default)]
struct Ended {
    playbook: Option<String>,
    run_id: Option<String>,
    report: Option<(Report, PathBuf)>,
}

/// Posts the completion message (or, for a run that never started its drill, what stopped
/// it); a failure is a warning, even with `--quiet`.
fn notify(webhook: &Webhook, args: &RunArgs, ended: &Ended, code: u8) {
    let message = match &ended.report {
        Some((report, kept)) => {
            crate::reports::webhook::message(report, &kept.display().to_string())
        }
        None => crate::reports::webhook::not_run_message(
            ended
                .playbook
                .as_deref()
                .unwrap_or(&args.playbook.display().to_string()),
            ended.run_id.as_deref(),
            code,
        ),
    };
    let rt = runtime();
    if let Err(e) = rt.block_on(webhook.post(&message)) {
        eprint(&format!(
            "warning: the webhook was not delivered: {e} (the run's outcome is unchanged)\n"
        ));
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
}

/// Validates, locks and runs the drill; fills `ended` as it learns.
fn drill(args: &RunArgs, state_dir: &Path, color: bool, ended: &mut Ended) -> u8 {
    let (file, loaded) = playbook::load(&args.playbook);
    let loaded = match loaded {
        Ok(l) => l,
        Err(diags) => {
            eprint(&diag::render(&file, &diags, color));
            eprint(&format!("invalid: {}: not running it\n", file.name));
            return exit::INVALID;
        }
    };
    if !args.quiet {
        eprint(&diag::render(&file, &loaded.warnings, color));
    }
    let playbook = Arc::new(loaded.playbook);
    ended.playbook = Some(playbook.name.clone());

    // Refuse up front what this version cannot execute, rather than fail mid-drill.
    let ssm = ssm_parameters(&file.text);
    // A report directory that cannot be made is found out before the drill, not after it.
    if let Some(dir) = &args.report_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprint(&format!(
            "error: cannot create the report directory {}: {e}\n",
            dir.display()
        ));
        return exit::INVALID;
    }

    // One run of a playbook at a time: held until this function returns.
    let run_id = journal::new_run_id();
    let _lock = match lock::acquire(state_dir, &playbook.name, &run_id) {
        Ok(lock) => {
            ended.run_id = Some(run_id.clone());
            lock
        }
        Err(e @ LockError::Held { .. }) => {
            error(
                &e.to_string(),
                &["wait for it to end; a run that died released its lock with its process".into()],
            );
            return exit::REFUSED;
        }
        Err(e) => {
            eprint(&format!("error: {e}\n"));
            return exit::INTERNAL;
        }
    };

    // The last walkthrough's open concerns and estimates, for the log and the report.
    let rehearsal = match Journal::open_existing(state_dir)
        .ok()
        .flatten()
        .map(|j| crate::walkthrough::carry::latest(&j, &playbook.name))
    {
        Some(Ok(last)) => last.as_ref().map(crate::walkthrough::carry::rehearsal),
        Some(Err(e)) => {
            eprint(&format!("warning: {e}; the report will not compare it\n"));
            None
        }
        None => None,
    };
    if let Some(rh) = rehearsal.as_ref().filter(|_| !args.quiet) {
        for c in &rh.concerns {
            eprint(&format!(
                "open concern at `{}` (walkthrough {}): {}\n",
                c.step,
                rh.walkthrough,
                c.line()
            ));
        }
    }
    let rt = runtime();
    let started = Started {
        run_id,
        ssm,
        rehearsal,
    };
    let code = rt.block_on(run_async(args, state_dir, color, playbook, started, ended));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

/// What `run` settled before the drill's runtime starts.
struct Started {
    run_id: String,
    ssm: Vec<String>,
    rehearsal: Option<crate::engine::report::Rehearsal>,
}

/// The SSM parameters a playbook's text refers to (`${secret:ssm:/path}`, not `$${...}`).
fn ssm_parameters(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .match_indices("${secret:ssm:")
        .filter(|(at, _)| !text[..*at].ends_with('$'))
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            rest.find('}').map(|end| rest[..end].trim().to_owned())
        })
        .filter(|name| !name.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

async fn run_async(
    args: &RunArgs,
    state_dir: &Path,
    color: bool,
    playbook: Arc<playbook::Playbook>,
    started: Started,
    ended: &mut Ended,
) -> u8 {
    let Started {
        run_id,
        ssm,
        rehearsal,
    } = started;
    let playbook_name = playbook.name.clone();
    let account = if let Some(SandboxChoice::Local) = args.sandbox {
        let record = match sandbox::ensure_running(state_dir, args.quiet) {
            Ok(r) => r,
            Err(code) => return code,
        };
        if let Some(seed) = &args.seed {
            let code = sandbox::seed_once(seed, state_dir, color, args.quiet).await;
            if code != exit::OK {
                return code;
            }
        }
        Account::Local {
            endpoint: record.endpoint.clone(),
            region: record.region.clone(),
            identity: record.identity(),
            time_scale: record.config.time_scale,
            dns: record.dns,
            ca: record.ca.clone(),
        }
    } else {
        Account::Configured {
            profile: args.aws.profile.clone(),
        }
    };
    let target = account.target();
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let bars =
        !args.quiet && args.log_format == LogFormatArg::Text && std::io::stderr().is_terminal();
    let mut bars_sink = bars.then(|| BarsSink::new(Paint::new(color)));
    let prompter = interactive.then(|| Prompter::new(bars_sink.as_ref().map(BarsSink::multi)));
    let request = Request {
        playbook,
        run_id: run_id.clone(),
        state_dir: state_dir.to_path_buf(),
        ssm,
        account,
        region: args.region.clone(),
        auto_approve: args.auto_approve,
        prompter,
        gates_from_outside: false,
        parallel: args
            .parallel
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        deadline: args.deadline.map(|d| d.0),
        teardown_timeout: args.teardown_timeout.0,
        disaster_at: args.disaster_time,
        tick: bars.then(|| std::time::Duration::from_millis(100)),
        rehearsal,
    };
    let Prepared {
        drill,
        recorder,
        controller,
        lock,
    } = match prepare(request).await {
        Ok(p) => p,
        Err(e) => {
            let mut hints = e.hints(target);
            if matches!(e, PrepareError::Refused(_)) {
                hints.push(format!(
                    "the journal keeps run {run_id} as refused: `{}` lists it",
                    again::firedrill(state_dir, &format!("history {playbook_name}"))
                ));
            }
            error(&e.to_string(), &hints);
            return e.exit_code();
        }
    };
    // `run` takes no commands from outside (the game day does).
    drop(controller);
    let resume = again::resume(state_dir, &run_id);
    let mut signals = signals(resume.clone(), left_behind(state_dir, &run_id));
    // Lives until this function returns; if firedrill dies first, it kills the run's processes.
    let _reaper = reaper(&run_id);
    let format = args.log_format.into();
    let outcome = if let Some(b) = bars_sink.as_mut() {
        let out = dispatch::run(drill, &mut signals, b as &mut dyn Sink).await;
        b.finish();
        out
    } else if args.quiet {
        dispatch::run(drill, &mut signals, &mut Silent).await
    } else {
        let mut sink = LogSink::new(std::io::stdout(), format);
        dispatch::run(drill, &mut signals, &mut sink).await
    };
    let _ = recorder.flush().await;
    let quiet = args.quiet && outcome.exit_code == exit::OK;
    let paint = Paint::new(color && std::io::stdout().is_terminal());
    let kept = finish(args, state_dir, &outcome.report, format, quiet, paint);
    if outcome.teardown_abandoned {
        eprint(&format!(
            "teardown did not finish; resume it with:\n  {resume}\n"
        ));
    } else if outcome.report.teardown.state == TeardownState::Incomplete {
        eprint(&format!(
            "teardown is INCOMPLETE: resources are left behind (listed above). Retry with:\n  {resume}\n"
        ));
    }
    drop(lock);
    let code = outcome.exit_code;
    ended.report = Some((outcome.report, kept));
    code
}

/// Keeps the report and prints the summary (unless `quiet`); returns where the report is kept.
fn finish(
    args: &RunArgs,
    state_dir: &Path,
    report: &Report,
    format: LogFormat,
    quiet: bool,
    paint: Paint,
) -> PathBuf {
    let json = report.to_json();
    let dir = lock::run_dir(state_dir, &report.run_id);
    let kept = dir.join("report.json");
    if let Err(e) = std::fs::write(&kept, &json) {
        eprint(&format!("warning: cannot write {}: {e}\n", kept.display()));
    }
    let mut written = Vec::new();
    for request in &args.report {
        if let ReportRequest::File(path) = request {
            match std::fs::write(path, &json) {
                Ok(()) => written.push(path.clone()),
                Err(e) => eprint(&format!(
                    "error: cannot write the report to {}: {e}\n",
                    path.display()
                )),
            }
        }
    }
    let report_dir = args.report_dir.clone().unwrap_or_else(|| dir.clone());
    for format in args.report_formats() {
        let path = format.path_in(&report_dir);
        if path == kept {
            continue;
        }
        match std::fs::write(&path, crate::reports::render(report, format)) {
            Ok(()) => written.push(path),
            Err(e) => eprint(&format!(
                "error: cannot write the {} report to {}: {e}\n",
                format.name(),
                path.display()
            )),
        }
    }
    let mut summary = format!(
        "{}  report: {}\n",
        crate::reports::summary::render_summary(
            report,
            paint,
            &super::again::firedrill(state_dir, &format!("teardown {}", report.run_id)),
        ),
        kept.display()
    );
    for path in written {
        summary.push_str(&format!("  report: {}\n", path.display()));
    }
    match (quiet, format) {
        (true, _) => {}
        (false, LogFormat::Json) => eprint(&summary),
        (false, LogFormat::Text) => print(&summary),
    }
    kept
}

/// Runs `firedrill teardown`.
pub fn teardown_cmd(args: &TeardownArgs, state_dir: &Path) -> u8 {
    let rt = runtime();
    let code = rt.block_on(teardown_async(args, state_dir));
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

async fn teardown_async(args: &TeardownArgs, state_dir: &Path) -> u8 {
    if !Journal::file(state_dir).exists() {
        if let Some(run) = &args.run {
            eprint(&format!(
                "error: there is no journal in {}, so no run `{run}`\n",
                state_dir.display()
            ));
            return exit::INVALID;
        }
        print("nothing to tear down: no run has left anything behind\n");
        return exit::OK;
    }
    let journal = match Journal::open(state_dir) {
        Ok(j) => j,
        Err(e) => {
            eprint(&format!("error: {e}\n"));
            return exit::INTERNAL;
        }
    };
    let runs = if let Some(run) = &args.run {
        match journal.run(run) {
            Ok(Some(r)) => vec![r],
            Ok(None) => {
                let known: Vec<String> = journal
                    .runs()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.id)
                    .collect();
                error(
                    &format!("the journal has no run `{run}`"),
                    &[crate::language::suggest::hint(
                        run,
                        "runs",
                        known.iter().map(String::as_str),
                    )],
                );
                return exit::INVALID;
            }
            Err(e) => {
                eprint(&format!("error: {e}\n"));
                return exit::INTERNAL;
            }
        }
    } else {
        let ids = match journal.unfinished_teardowns() {
            Ok(ids) => ids,
            Err(e) => {
                eprint(&format!("error: {e}\n"));
                return exit::INTERNAL;
            }
        };
        let now = chrono::Utc::now();
        let mut runs = Vec::new();
        for id in ids {
            let Ok(Some(r)) = journal.run(&id) else {
                continue;
            };
            if let Some(until) = r
                .keep_until
                .as_deref()
                .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok())
                && until > now
            {
                print(&format!(
                    "run {id}: kept until {until} (`keep_for`); `{}` deletes it now\n",
                    again::firedrill(state_dir, &format!("teardown {id}"))
                ));
                continue;
            }
            runs.push(r);
        }
        runs
    };
    let recorder = Recorder::start(journal);
    let format = args.log_format.into();
    // A third signal stops a teardown that has something left to delete.
    let mut signals = signals(again::firedrill(state_dir, "teardown"), || {
        exit::TEARDOWN_INCOMPLETE
    });
    let mut code = exit::OK;
    let mut any = false;
    for r in runs {
        let Some(lock) = lock::lock_run(state_dir, &r.id).ok().flatten() else {
            eprint(&format!(
                "run {}: still running in another process; stop it (Ctrl-C tears it down) or wait\n",
                r.id
            ));
            code = code.max(exit::REFUSED);
            continue;
        };
        any = true;
        let (c, stopped) = teardown_run(&r, state_dir, &recorder, args, format, &mut signals).await;
        // Under the run's lock: a run still marked running here is one that crashed.
        let rid = r.id.clone();
        let _ = recorder.call(move |j| j.mark_crashed(&rid)).await;
        drop(lock);
        code = code.max(c);
        if stopped {
            break; // a signal stopped this teardown: do not go on to the next run
        }
    }
    if !any && code == exit::OK {
        print("nothing to tear down: every run's resources are deleted\n");
    }
    code
}

async fn teardown_run(
    r: &RunRecord,
    state_dir: &Path,
    recorder: &Recorder,
    args: &TeardownArgs,
    format: LogFormat,
    signals: &mut mpsc::UnboundedReceiver<()>,
) -> (u8, bool) {
    let clock = Clock::start();
    let rid = r.id.clone();
    let mut say = move |what: What| {
        let event = Event::now(&clock, what);
        event.journal(recorder, &rid);
        match format {
            LogFormat::Text => print(&format!("{}\n", log_line(&event))),
            LogFormat::Json => print(&format!("{}\n", event.to_json())),
        }
    };
    let stopped = reaper::kill_marked(&r.id);
    if stopped > 0 {
        print(&format!(
            "run {}: stopped {stopped} process(es) of its steps that were still running\n",
            r.id
        ));
    }
    let rid = r.id.clone();
    let unfinished = recorder
        .call(move |j| j.resources(&rid))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.status != ResourceStatus::Deleted)
        .count();
    if unfinished == 0 {
        print(&format!("run {}: nothing left to tear down\n", r.id));
        return (exit::OK, false);
    }
    print(&format!(
        "run {} ({}): tearing down {unfinished} resource(s)\n",
        r.id, r.playbook
    ));
    // Where the run's resources live.
    let local = match local_sandbox_of(r, state_dir, recorder).await {
        Ok(local) => local,
        Err(code) => return (code, false),
    };
    let target = if local.is_some() {
        Target::LocalSandbox
    } else {
        Target::Aws
    };
    let clients = match reconnect(
        r,
        local.as_ref().map(|(e, g)| (e.as_str(), g.as_str())),
        // The profile the run used, unless another is named now.
        args.aws.profile.as_deref().or(r.profile.as_deref()),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => {
            error(&format!("run {}: {e}", r.id), &e.hints(target));
            return (e.exit_code(), false);
        }
    };
    let graph = journal_graph(r, recorder).await;
    let outcome = teardown::run(
        Some(&clients),
        recorder,
        &r.id,
        &graph,
        teardown::Options {
            deadline: args.teardown_timeout.0,
            poll: poll_interval(r.local_sandbox.is_some() || r.endpoint.is_some()),
            signalled: false,
        },
        signals,
        &mut say,
    )
    .await;
    let rid = r.id.clone();
    let state = outcome.state.name();
    let _ = recorder
        .call(move |j| j.set_teardown_state(&rid, state, None))
        .await;
    (
        report_teardown(r, &outcome),
        outcome.state == TeardownState::Abandoned,
    )
}

/// The local sandbox a run's resources live in (endpoint and region), when it ran against one
/// that still runs; none for a run against AWS. `Err`: the exit code, said — the sandbox it ran
/// against was stopped, and its resources with it.
async fn local_sandbox_of(
    r: &RunRecord,
    state_dir: &Path,
    recorder: &Recorder,
) -> Result<Option<(String, String)>, u8> {
    let Some(marker) = &r.local_sandbox else {
        return Ok(None);
    };
    match sandbox::running(state_dir) {
        Some(now) if &now.identity() == marker => Ok(Some((now.endpoint, now.region))),
        _ => {
            // The sandbox that held them was stopped: moto keeps nothing, so they are gone.
            let rid = r.id.clone();
            let _ = recorder
                .call(move |j| {
                    for x in j.resources(&rid)? {
                        if x.status != ResourceStatus::Deleted {
                            j.set_status(
                                x.id,
                                ResourceStatus::Deleted,
                                "the local sandbox that held it was stopped",
                            )?;
                        }
                    }
                    Ok(())
                })
                .await;
            print(&format!(
                "run {}: the local sandbox it ran against was stopped, and its resources with it\n",
                r.id
            ));
            Err(exit::OK)
        }
    }
}

/// The run's step graph from the journal; without it, the safe order is the reverse of creation.
async fn journal_graph(r: &RunRecord, recorder: &Recorder) -> teardown::Graph {
    match serde_json::from_str(&r.graph) {
        Ok(graph) => graph,
        Err(e) => {
            // Without the steps' dependencies, the safe order is the reverse of creation.
            eprint(&format!(
                "run {}: warning: the journal's step graph is unreadable ({e}); deleting in reverse creation order, one at a time\n",
                r.id
            ));
            let rid = r.id.clone();
            let resources = recorder
                .call(move |j| j.resources(&rid))
                .await
                .unwrap_or_default();
            teardown::creation_chain(&resources)
        }
    }
}

/// Says how a resumed teardown ended; returns the exit code.
fn report_teardown(r: &RunRecord, outcome: &teardown::Outcome) -> u8 {
    let state = outcome.state.name();
    match outcome.state {
        // A teardown ends done, incomplete or abandoned; it never keeps.
        TeardownState::Done | TeardownState::Kept | TeardownState::NotNeeded => {
            print(&format!(
                "run {}: teardown done ({} settled)\n",
                r.id, outcome.settled
            ));
            exit::OK
        }
        TeardownState::Incomplete | TeardownState::Abandoned => {
            eprint(&format!(
                "run {}: teardown {}: {} resource(s) LEFT BEHIND:\n",
                r.id,
                state.to_uppercase(),
                outcome.left.len()
            ));
            for l in &outcome.left {
                eprint(&format!(
                    "  {} {} (step `{}`): {}\n",
                    l.resource.kind,
                    crate::steps::resource::label(&l.resource),
                    l.resource.step,
                    l.reason
                ));
            }
            // Stopped by a signal or not, what is left decides.
            exit::TEARDOWN_INCOMPLETE
        }
    }
}
