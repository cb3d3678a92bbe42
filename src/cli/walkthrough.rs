//! `firedrill walkthrough PLAYBOOK`: the tabletop walkthrough on a terminal (raw mode, the
//! alternate screen, keys mapped to [`Key`]s, the record stored after every change), or with
//! `--print` the runbook as Markdown; `--check` adds the readiness of every step, from
//! read-only AWS calls.
//!
//! The session and the screen are pure ([`crate::walkthrough`]); this file owns the terminal,
//! the signals and the journal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;
use clap::Args;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    BeginSynchronizedUpdate, EndSynchronizedUpdate, EnterAlternateScreen, LeaveAlternateScreen,
    disable_raw_mode, enable_raw_mode,
};

use super::again;
use super::out::{eprint, error, print};
use super::run::SandboxChoice;
use super::sandbox::{self, runtime};
use crate::engine::event::rfc3339;
use crate::engine::exit;
use crate::engine::prepare::Account;
use crate::engine::readiness;
use crate::language::diag;
use crate::playbook::plan::Plan;
use crate::playbook::{self, Playbook};
use crate::store::journal::Journal;
use crate::store::walkthroughs::WalkthroughRow;
use crate::walkthrough::carry;
use crate::walkthrough::record::{Concern, Record, WalkState};
use crate::walkthrough::render;
use crate::walkthrough::session::{self, Effect, Key, Session};
use crate::walkthrough::view::Walk;

/// `firedrill walkthrough`.
#[derive(Args, Debug)]
pub struct WalkthroughArgs {
    /// The playbook file.
    pub playbook: PathBuf,
    /// Who leads the walkthrough [default: $USER].
    #[arg(long, value_name = "NAME")]
    pub facilitator: Option<String>,
    /// Who takes part, comma-separated: `--with ana,ben`.
    #[arg(long = "with", value_name = "NAMES", value_delimiter = ',')]
    pub participants: Vec<String>,
    /// Write the walkthrough as a Markdown runbook to standard output (for a wiki or a
    /// printed tabletop) instead of opening the screen; needs no terminal.
    #[arg(long)]
    pub print: bool,
    /// Check with read-only AWS calls that the plan could start now (the account guard,
    /// recovery points and their age, images, zones, templates); exits 7 when it could not.
    #[arg(long)]
    pub check: bool,
    /// With `--check`: check against the local sandbox.
    #[arg(long, value_enum, requires = "check")]
    pub sandbox: Option<SandboxChoice>,
    /// With `--check`: the AWS region (default: the playbook's `sandbox.region`).
    #[arg(long, requires = "check")]
    pub region: Option<String>,
    #[command(flatten)]
    pub aws: super::run::ProfileArg,
    /// Plan from the playbook's own figures only, not from durations learned from past runs.
    #[arg(long)]
    pub no_history: bool,
}

/// Runs `firedrill walkthrough`.
pub fn run(args: &WalkthroughArgs, state_dir: &Path, color: bool) -> u8 {
    let (file, loaded) = playbook::load(&args.playbook);
    let loaded = match loaded {
        Ok(l) => l,
        Err(diags) => {
            eprint(&diag::render(&file, &diags, color));
            eprint(&format!("invalid: {}: not walking through it\n", file.name));
            return exit::INVALID;
        }
    };
    let terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !args.print && !terminal {
        eprint(
            "error: `firedrill walkthrough` needs a terminal: standard input and output are not one\n  \
             = hint: `firedrill walkthrough --print PLAYBOOK` writes the walkthrough as a Markdown runbook \
             (add `--check` for each step's readiness)\n",
        );
        return exit::INVALID;
    }
    eprint(&diag::render(&file, &loaded.warnings, color));
    let pb = loaded.playbook;
    let learned = if args.no_history {
        crate::playbook::learned::LearnedDurations::default()
    } else {
        let target = super::learned::target(&pb, args.sandbox, state_dir);
        super::learned::learned_durations(state_dir, &pb, target)
    };
    let plan = Plan::learning(&pb, &learned);
    let walk = Walk::new(&plan);
    let journal = if args.print {
        Journal::open_existing(state_dir)
    } else {
        Journal::open(state_dir).map(Some)
    };
    let journal = match journal {
        Ok(j) => j,
        Err(e) => {
            eprint(&format!("error: {e}\n"));
            return exit::INTERNAL;
        }
    };
    let carried: Vec<Concern> = match journal.as_ref().map(|j| carry::latest(j, &pb.name)) {
        Some(Ok(Some(last))) => last.concerns.into_iter().filter(Concern::is_open).collect(),
        Some(Err(e)) => {
            eprint(&format!("warning: {e}; open concerns are not carried\n"));
            Vec::new()
        }
        Some(Ok(None)) | None => Vec::new(),
    };
    let facilitator = args
        .facilitator
        .clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "facilitator".to_owned());
    let participants: Vec<String> = args
        .participants
        .iter()
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    let hash = format!("{:016x}", crate::util::hash(0, &[&file.text]));
    let mut record =
        session::new_record(&walk, hash, facilitator, participants, carried, Utc::now());
    if args.check
        && let Err(code) = check(args, state_dir, &pb, &mut record)
    {
        return code;
    }
    let blocked = record.not_ready() > 0;
    if args.print {
        print(&render::runbook(&walk, &record));
        return if blocked { exit::NOT_READY } else { exit::OK };
    }
    let Some(journal) = journal else {
        return exit::INTERNAL;
    };
    interactive(Session::new(walk, record, Utc::now()), &journal, state_dir)
}

/// `--check`: the readiness of every step, into the record; the exit code when it could not
/// be checked at all.
fn check(
    args: &WalkthroughArgs,
    state_dir: &Path,
    pb: &Playbook,
    record: &mut Record,
) -> Result<(), u8> {
    let rt = runtime();
    let found = rt.block_on(async {
        let account = match args.sandbox {
            Some(SandboxChoice::Local) => {
                let Some(r) = sandbox::running(state_dir) else {
                    error(
                        "no local sandbox is running",
                        &[format!(
                            "start it with `{}` (and seed it), then check again",
                            again::firedrill(state_dir, "sandbox start")
                        )],
                    );
                    return Err(exit::INVALID);
                };
                Account::Local {
                    endpoint: r.endpoint.clone(),
                    region: r.region.clone(),
                    identity: r.identity(),
                    time_scale: r.config.time_scale,
                    dns: r.dns,
                    ca: r.ca.clone(),
                }
            }
            None => Account::Configured {
                profile: args.aws.profile.clone(),
            },
        };
        readiness::check(pb, &account, args.region.as_deref(), Utc::now())
            .await
            .map_err(|e| {
                eprint(&format!("error: {e}\n"));
                e.exit_code()
            })
    });
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let found = found?;
    if let Err(refusal) = &found.guard {
        eprint(&format!("error: the account guard refused: {refusal}\n"));
        return Err(exit::REFUSED);
    }
    for step in &mut record.steps {
        if let Some(i) = pb.step_index(&step.id) {
            step.readiness = Some(found.steps[i].clone());
        }
    }
    record.checked_at = Some(rfc3339(Utc::now()));
    Ok(())
}

/// Stores `record` as it is now.
fn store(journal: &Journal, record: &Record) -> Result<(), String> {
    journal
        .save_walkthrough(&WalkthroughRow {
            id: &record.id,
            playbook: &record.playbook,
            playbook_path: &record.file,
            file_hash: &record.file_hash,
            facilitator: &record.facilitator,
            started_at: &record.started_at,
            finished_at: record.finished_at.as_deref(),
            state: record.state.name(),
            record: &record.to_json(),
        })
        .map_err(|e| e.to_string())
}

/// How the screen loop ended.
enum End {
    Quit { save: bool },
    Interrupted(&'static str),
    Failed(String),
}

/// The terminal key as a session key; none for keys the walkthrough ignores.
fn key_of(k: event::KeyEvent) -> Option<Key> {
    Some(match k.code {
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        _ => return None,
    })
}

/// The screen until the facilitator quits or the walkthrough is interrupted; the record is
/// stored before the first frame and after every change.
fn interactive(mut s: Session, journal: &Journal, state_dir: &Path) -> u8 {
    if let Err(e) = store(journal, &s.record) {
        eprint(&format!("error: {e}\n"));
        return exit::INTERNAL;
    }
    // A closed terminal (SIGHUP) or a kill (SIGTERM) ends the walkthrough like Ctrl-C: what is
    // recorded is kept. In raw mode Ctrl-C arrives as a key; SIGINT from `kill` still counts.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let end = match open_terminal() {
        Ok(mut terminal) => {
            let end = screen_loop(&mut terminal, &mut s, journal, &stop);
            close_terminal(&mut terminal);
            end
        }
        Err(e) => End::Failed(format!("cannot open the terminal: {e}")),
    };
    let now = Utc::now();
    match end {
        End::Quit { save: false } => {
            if let Err(e) = journal.drop_walkthrough(&s.record.id) {
                eprint(&format!("error: {e}\n"));
                return exit::INTERNAL;
            }
            eprint("walkthrough not saved\n");
            exit::OK
        }
        End::Quit { save: true } => finish(journal, state_dir, &mut s, WalkState::Saved, now, None),
        End::Interrupted(why) => finish(
            journal,
            state_dir,
            &mut s,
            WalkState::Interrupted,
            now,
            Some(why),
        ),
        End::Failed(why) => {
            let _ = finish(
                journal,
                state_dir,
                &mut s,
                WalkState::Interrupted,
                now,
                Some("an error"),
            );
            eprint(&format!("error: {why}\n"));
            exit::INTERNAL
        }
    }
}

fn finish(
    journal: &Journal,
    state_dir: &Path,
    s: &mut Session,
    state: WalkState,
    now: chrono::DateTime<Utc>,
    interrupted_by: Option<&str>,
) -> u8 {
    s.settle(now);
    s.record.state = state;
    s.record.finished_at = Some(rfc3339(now));
    if let Err(e) = store(journal, &s.record) {
        eprint(&format!(
            "error: the walkthrough could not be stored: {e}\n"
        ));
        return exit::INTERNAL;
    }
    let r = &s.record;
    let (notes, estimates) = (r.notes(), r.estimates());
    let raised = r.concerns.iter().filter(|c| c.raised_in == r.id).count();
    let open = r.open_concerns().count();
    let what = format!(
        "{notes} note(s), {raised} concern(s) raised ({open} open in all), {estimates} estimate(s), {} of {} steps rehearsed",
        s.rehearsed(),
        r.steps.len()
    );
    match interrupted_by {
        None => {
            eprint(&format!(
                "saved walkthrough {}: {what}\n  render it with: {}\n",
                r.id,
                again::firedrill(state_dir, &format!("report {}", r.id))
            ));
            exit::OK
        }
        Some(why) => {
            eprint(&format!(
                "walkthrough interrupted ({why}); kept what was recorded as {}: {what}\n",
                r.id
            ));
            exit::INTERRUPTED
        }
    }
}

type Term = ratatui::Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>;

fn open_terminal() -> std::io::Result<Term> {
    enable_raw_mode()?;
    let mut out = std::io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen) {
        let _ = disable_raw_mode();
        return Err(e);
    }
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(out))
}

fn close_terminal(terminal: &mut Term) {
    let _ = disable_raw_mode();
    let _ = execute!(terminal.backend_mut(), LeaveAlternateScreen);
    let _ = terminal.show_cursor();
}

fn screen_loop(terminal: &mut Term, s: &mut Session, journal: &Journal, stop: &AtomicBool) -> End {
    // The title's clock ticks once a second; keys and resizes redraw at once.
    let tick = std::time::Duration::from_millis(250);
    loop {
        if stop.load(Ordering::Relaxed) {
            return End::Interrupted("a signal");
        }
        // Each frame is one synchronized update (DEC mode 2026): a terminal that knows it shows
        // the frame whole, never half drawn; the others ignore it (the pty tests wait on it).
        let _ = execute!(terminal.backend_mut(), BeginSynchronizedUpdate);
        let drawn = terminal
            .draw(|f| crate::walkthrough::screen::draw(f, s, Utc::now()))
            .map(|_| ());
        let _ = execute!(terminal.backend_mut(), EndSynchronizedUpdate);
        if drawn.is_err() {
            // The terminal went away (a closed window): keep the record.
            return End::Interrupted("the terminal closed");
        }
        match event::poll(tick) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(_) => return End::Interrupted("the terminal closed"),
        }
        let key = match event::read() {
            Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => k,
            Ok(_) => continue,
            Err(_) => return End::Interrupted("the terminal closed"),
        };
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c' | 'd'))
        {
            return End::Interrupted("Ctrl-C");
        }
        let Some(key) = key_of(key) else { continue };
        match s.key(key, Utc::now()) {
            Effect::None => {}
            Effect::Changed => {
                if let Err(e) = store(journal, &s.record) {
                    return End::Failed(e);
                }
            }
            Effect::Quit { save } => return End::Quit { save },
        }
    }
}
