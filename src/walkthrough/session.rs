//! The walkthrough as a state machine: which step is shown, what the facilitator is typing,
//! and the record it builds. It takes one key at a time with the wall time it was pressed,
//! changes the [`Record`], and says what the caller should do (store the record, quit).
//!
//! Knows no terminal and no journal: keys arrive as [`Key`]s (the command line maps the
//! terminal's), the time is given, the record is stored by the caller. So every behaviour is
//! a unit test, and the screen ([`super::screen`]) is a pure function of a session.

use chrono::{DateTime, Utc};

use crate::engine::event::rfc3339;
use crate::language::duration::Duration;
use crate::walkthrough::record::{Concern, Note, Record, StepRecord, TeamEstimate};
use crate::walkthrough::view::Walk;

/// A key, as the session understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Home.
    Home,
    /// End.
    End,
}

/// What the facilitator is typing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prompt {
    /// A note on the current step.
    Note,
    /// A concern's text.
    Concern,
    /// The owner of the concern just typed (empty: none).
    Owner,
    /// The team's estimate (a duration).
    Estimate,
    /// A step to jump to (id, prefix or number).
    Jump,
    /// Which of the current step's open concerns to close (its number).
    Close,
}

impl Prompt {
    /// The label in front of the input.
    pub fn label(self) -> &'static str {
        match self {
            Prompt::Note => "note",
            Prompt::Concern => "concern",
            Prompt::Owner => "owner (Enter: none)",
            Prompt::Estimate => "team estimate (e.g. 25m)",
            Prompt::Jump => "go to step (id or number)",
            Prompt::Close => "close concern number",
        }
    }
}

/// What the screen is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Showing a step.
    Browse,
    /// Reading a line of input.
    Input {
        /// What for.
        prompt: Prompt,
        /// What is typed so far.
        text: String,
    },
    /// The key help.
    Help,
    /// Asking whether to save before quitting.
    ConfirmQuit,
}

/// What the caller should do after a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing to store (the screen may still have changed).
    None,
    /// The record changed: store it.
    Changed,
    /// Quit; store the record as saved (`true`) or drop it (`false`).
    Quit {
        /// Whether to keep it.
        save: bool,
    },
}

/// A walkthrough in progress.
#[derive(Clone, Debug)]
pub struct Session {
    /// The playbook as shown.
    pub walk: Walk,
    /// What is recorded.
    pub record: Record,
    /// The step shown (a position in `walk.steps`).
    pub current: usize,
    /// What the screen is doing.
    pub mode: Mode,
    /// A one-line message about the last action (`note added`, or what was wrong).
    pub message: Option<String>,
    /// When the walkthrough started.
    pub started: DateTime<Utc>,
    /// When the current step was shown.
    entered: DateTime<Utc>,
    /// A concern typed and waiting for its owner.
    pending_concern: Option<String>,
}

impl Session {
    /// A walkthrough of `walk`, recorded in `record` (whose steps are `walk`'s), starting now.
    pub fn new(walk: Walk, record: Record, now: DateTime<Utc>) -> Self {
        Self {
            walk,
            record,
            current: 0,
            mode: Mode::Browse,
            message: None,
            started: now,
            entered: now,
            pending_concern: None,
        }
    }

    /// The record of the step shown.
    pub fn step_record(&self) -> &StepRecord {
        &self.record.steps[self.current]
    }

    /// The open concerns of the step at `position`.
    pub fn open_concerns(&self, position: usize) -> impl Iterator<Item = &Concern> {
        self.record.open_concerns_at(&self.walk.steps[position].id)
    }

    /// How many steps are marked rehearsed.
    pub fn rehearsed(&self) -> usize {
        self.record.rehearsed()
    }

    /// Adds the time spent on the step shown up to `now` to its record (before the record is
    /// stored for good, or another step is shown).
    pub fn settle(&mut self, now: DateTime<Utc>) {
        let spent = (now - self.entered).num_milliseconds().max(0);
        // A walkthrough lasts hours, not the 2^52 ms a double holds exactly.
        #[allow(clippy::cast_precision_loss)]
        let secs = spent as f64 / 1000.0;
        let step = &mut self.record.steps[self.current];
        step.time_spent_secs = ((step.time_spent_secs + secs) * 1000.0).round() / 1000.0;
        self.entered = now;
    }

    /// Takes one key pressed at `now`.
    pub fn key(&mut self, key: Key, now: DateTime<Utc>) -> Effect {
        match self.mode.clone() {
            Mode::Browse => self.browse(key, now),
            Mode::Input { prompt, text } => self.input(prompt, text, key, now),
            Mode::Help => {
                self.mode = Mode::Browse;
                Effect::None
            }
            Mode::ConfirmQuit => match key {
                Key::Char('y' | 'Y') | Key::Enter => {
                    self.settle(now);
                    Effect::Quit { save: true }
                }
                Key::Char('n' | 'N') => Effect::Quit { save: false },
                _ => {
                    self.mode = Mode::Browse;
                    self.message = Some("still walking through".into());
                    Effect::None
                }
            },
        }
    }

    fn browse(&mut self, key: Key, now: DateTime<Utc>) -> Effect {
        self.message = None;
        let last = self.walk.steps.len() - 1;
        match key {
            Key::Right | Key::Down | Key::Enter | Key::Char('n' | 'j' | ' ') => {
                if self.current == last {
                    self.message = Some("this is the last step: q to quit and save".into());
                    Effect::None
                } else {
                    self.show(self.current + 1, now)
                }
            }
            Key::Left | Key::Up | Key::Char('p' | 'k') => {
                if self.current == 0 {
                    self.message = Some("this is the first step".into());
                    Effect::None
                } else {
                    self.show(self.current - 1, now)
                }
            }
            Key::Home => self.show(0, now),
            Key::End => self.show(last, now),
            Key::Char('a') => self.ask(Prompt::Note),
            Key::Char('c') => self.ask(Prompt::Concern),
            Key::Char('e') => self.ask(Prompt::Estimate),
            Key::Char('g') => self.ask(Prompt::Jump),
            Key::Char('x') => {
                if self.open_concerns(self.current).next().is_none() {
                    self.message = Some("this step has no open concern to close".into());
                    Effect::None
                } else {
                    self.ask(Prompt::Close)
                }
            }
            Key::Char('r') => {
                let step = &mut self.record.steps[self.current];
                step.rehearsed_at = match step.rehearsed_at {
                    Some(_) => None,
                    None => Some(rfc3339(now)),
                };
                self.message = Some(
                    if step.rehearsed_at.is_some() {
                        "marked rehearsed"
                    } else {
                        "no longer marked rehearsed"
                    }
                    .into(),
                );
                Effect::Changed
            }
            Key::Char('?' | 'h') => {
                self.mode = Mode::Help;
                Effect::None
            }
            Key::Char('q') | Key::Esc => {
                self.mode = Mode::ConfirmQuit;
                Effect::None
            }
            Key::Char(other) => {
                self.message = Some(format!("`{other}` does nothing here: ? shows the keys"));
                Effect::None
            }
            Key::Backspace => Effect::None,
        }
    }

    fn ask(&mut self, prompt: Prompt) -> Effect {
        self.mode = Mode::Input {
            prompt,
            text: String::new(),
        };
        Effect::None
    }

    fn show(&mut self, position: usize, now: DateTime<Utc>) -> Effect {
        self.settle(now);
        self.current = position;
        // The time spent is stored with the next change, or when the walkthrough ends however
        // it ends: a move costs no write (only a SIGKILL loses the time since the last one).
        Effect::None
    }

    fn input(&mut self, prompt: Prompt, mut text: String, key: Key, now: DateTime<Utc>) -> Effect {
        match key {
            Key::Char(c) if !c.is_control() => {
                text.push(c);
                self.mode = Mode::Input { prompt, text };
                Effect::None
            }
            Key::Backspace => {
                text.pop();
                self.mode = Mode::Input { prompt, text };
                Effect::None
            }
            Key::Esc => {
                self.mode = Mode::Browse;
                self.pending_concern = None;
                self.message = Some("cancelled".into());
                Effect::None
            }
            Key::Enter => {
                self.mode = Mode::Browse;
                self.submit(prompt, text.trim(), now)
            }
            Key::Char(_) | Key::Up | Key::Down | Key::Left | Key::Right | Key::Home | Key::End => {
                self.mode = Mode::Input { prompt, text };
                Effect::None
            }
        }
    }

    fn submit(&mut self, prompt: Prompt, text: &str, now: DateTime<Utc>) -> Effect {
        let at = rfc3339(now);
        match prompt {
            Prompt::Note | Prompt::Concern | Prompt::Estimate | Prompt::Jump | Prompt::Close
                if text.is_empty() =>
            {
                self.message = Some("nothing typed: nothing recorded".into());
                Effect::None
            }
            Prompt::Note => {
                self.record.steps[self.current].notes.push(Note {
                    at,
                    text: text.to_owned(),
                });
                self.message = Some("note added".into());
                Effect::Changed
            }
            Prompt::Concern => {
                self.pending_concern = Some(text.to_owned());
                self.ask(Prompt::Owner)
            }
            Prompt::Owner => {
                let Some(concern) = self.pending_concern.take() else {
                    return Effect::None;
                };
                self.record.concerns.push(Concern {
                    step: self.walk.steps[self.current].id.clone(),
                    text: concern,
                    owner: (!text.is_empty()).then(|| text.to_owned()),
                    raised_at: at,
                    raised_in: self.record.id.clone(),
                    closed_at: None,
                    closed_in: None,
                });
                self.message = Some("concern raised".into());
                Effect::Changed
            }
            Prompt::Estimate => match text.parse::<Duration>() {
                Ok(d) => {
                    self.record.steps[self.current].estimate = Some(TeamEstimate {
                        at,
                        secs: d.as_secs_f64(),
                        as_written: d.to_string(),
                    });
                    self.message = Some(format!("team estimate {d}"));
                    Effect::Changed
                }
                Err(e) => {
                    self.message = Some(format!("`{text}` is not a duration: {e}"));
                    Effect::None
                }
            },
            Prompt::Jump => match self.find(text) {
                Ok(position) => self.show(position, now),
                Err(why) => {
                    self.message = Some(why);
                    Effect::None
                }
            },
            Prompt::Close => self.close(text, at),
        }
    }

    fn close(&mut self, text: &str, at: String) -> Effect {
        let id = self.walk.steps[self.current].id.clone();
        let open: Vec<usize> = self
            .record
            .concerns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.step == id && c.is_open())
            .map(|(i, _)| i)
            .collect();
        match text.parse::<usize>() {
            Ok(n) if (1..=open.len()).contains(&n) => {
                let c = &mut self.record.concerns[open[n - 1]];
                c.closed_at = Some(at);
                c.closed_in = Some(self.record.id.clone());
                self.message = Some(format!("concern {n} closed"));
                Effect::Changed
            }
            _ => {
                self.message = Some(format!(
                    "`{text}` is not one of this step's open concerns: give 1 to {}",
                    open.len()
                ));
                Effect::None
            }
        }
    }

    /// The position of the step `text` names: its id, a unique prefix of one, or its number.
    fn find(&self, text: &str) -> Result<usize, String> {
        if let Some(p) = self.walk.position(text) {
            return Ok(p);
        }
        if let Ok(n) = text.parse::<usize>() {
            return if (1..=self.walk.steps.len()).contains(&n) {
                Ok(n - 1)
            } else {
                Err(format!(
                    "there is no step {n}: give 1 to {}",
                    self.walk.steps.len()
                ))
            };
        }
        let matching: Vec<usize> = (0..self.walk.steps.len())
            .filter(|&i| self.walk.steps[i].id.starts_with(text))
            .collect();
        match matching.as_slice() {
            [one] => Ok(*one),
            [] => Err(crate::language::suggest::hint(
                text,
                "step",
                self.walk.steps.iter().map(|s| s.id.as_str()),
            )),
            many => Err(format!(
                "`{text}` starts {} step ids: {}",
                many.len(),
                many.iter()
                    .take(5)
                    .map(|&i| self.walk.steps[i].id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// A new record of a walkthrough of `walk`, carrying the playbook's open `concerns`.
pub fn new_record(
    walk: &Walk,
    file_hash: String,
    facilitator: String,
    participants: Vec<String>,
    concerns: Vec<Concern>,
    now: DateTime<Utc>,
) -> Record {
    Record {
        format_version: crate::walkthrough::record::FORMAT_VERSION,
        id: crate::walkthrough::record::new_id(),
        playbook: walk.name.clone(),
        file: walk.file.clone(),
        file_hash,
        facilitator,
        participants,
        started_at: rfc3339(now),
        finished_at: None,
        state: crate::walkthrough::record::WalkState::InProgress,
        predicted_rto_secs: walk.predicted_rto.as_secs_f64(),
        rto_target_secs: walk.rto_target.map(Duration::as_secs_f64),
        steps: walk
            .steps
            .iter()
            .map(|s| StepRecord {
                id: s.id.clone(),
                uses: s.uses.to_owned(),
                needs: s.needs.clone(),
                predicted_start_secs: s.start.as_secs_f64(),
                predicted_secs: s.expected.as_secs_f64(),
                basis: basis_name(s.basis).to_owned(),
                critical: s.critical,
                milestone: s.milestone.clone(),
                notes: Vec::new(),
                estimate: None,
                rehearsed_at: None,
                time_spent_secs: 0.0,
                readiness: None,
            })
            .collect(),
        concerns: concerns
            .into_iter()
            .filter(|c| walk.position(&c.step).is_some())
            .collect(),
        checked_at: None,
    }
}

fn basis_name(b: crate::playbook::plan::Basis) -> &'static str {
    use crate::playbook::plan::Basis;
    match b {
        Basis::Learned => "learned",
        Basis::Playbook => "playbook",
        Basis::Fields => "fields",
        Basis::KindDefault => "kind-default",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::diag::SourceFile;
    use crate::playbook::plan::Plan;

    const PLAYBOOK: &str = "version: 1
name: shop
sandbox: { accounts: [\"123456789012\"] }
targets: { rto: 10m }
vars: { db: shop-prod }
steps:
  restore-db:
    uses: wait
    description: Restore ${vars.db}.
    with: { duration: 5m }
  restore-app:
    uses: wait
    with: { duration: 2m }
  check:
    uses: run
    needs: [restore-db, restore-app]
    with: { command: \"true\" }
    milestone: recovered
";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("a time")
    }

    fn session() -> Session {
        let file = SourceFile {
            name: "shop.yaml".into(),
            text: PLAYBOOK.into(),
        };
        let pb = crate::playbook::compile(&file, std::path::Path::new("shop.yaml"))
            .expect("valid")
            .playbook;
        let walk = Walk::new(&Plan::new(&pb));
        let record = new_record(&walk, "h".into(), "sam".into(), vec![], vec![], at(0));
        Session::new(walk, record, at(0))
    }

    fn typed(s: &mut Session, text: &str, now: DateTime<Utc>) -> Effect {
        for c in text.chars() {
            assert_eq!(s.key(Key::Char(c), now), Effect::None);
        }
        s.key(Key::Enter, now)
    }

    #[test]
    fn steps_come_in_execution_order_with_values_resolved() {
        let s = session();
        let ids: Vec<&str> = s.walk.steps.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["restore-db", "restore-app", "check"]);
        assert_eq!(
            s.walk.steps[0].description.as_deref(),
            Some("Restore shop-prod.")
        );
        assert_eq!(s.walk.steps[2].needs, ["restore-db", "restore-app"]);
        assert_eq!(s.walk.steps[0].needed_by, ["check"]);
        assert_eq!(
            s.walk.clock(&s.walk.steps[2]),
            "T+5m → T+5m30s, 4m30s before the RTO target 10m"
        );
    }

    #[test]
    fn moving_stops_at_either_end_and_counts_the_time_spent() {
        let mut s = session();
        assert_eq!(s.key(Key::Left, at(1)), Effect::None);
        assert_eq!(s.message.as_deref(), Some("this is the first step"));
        assert_eq!(s.key(Key::Right, at(30)), Effect::None);
        assert_eq!(s.key(Key::End, at(40)), Effect::None);
        assert_eq!(s.key(Key::Char('n'), at(41)), Effect::None);
        assert_eq!(s.current, 2);
        assert_eq!(s.key(Key::Home, at(45)), Effect::None);
        s.settle(at(50));
        let spent: Vec<f64> = s.record.steps.iter().map(|r| r.time_spent_secs).collect();
        assert_eq!(spent, [35.0, 10.0, 5.0]);
    }

    #[test]
    fn jump_takes_an_id_a_prefix_or_a_number_and_suggests_a_near_miss() {
        let mut s = session();
        s.key(Key::Char('g'), at(1));
        assert_eq!(typed(&mut s, "check", at(2)), Effect::None);
        assert_eq!(s.current, 2);
        s.key(Key::Char('g'), at(3));
        assert_eq!(typed(&mut s, "1", at(4)), Effect::None);
        assert_eq!(s.current, 0);
        s.key(Key::Char('g'), at(5));
        assert_eq!(typed(&mut s, "restore-a", at(6)), Effect::None);
        assert_eq!(s.current, 1);
        s.key(Key::Char('g'), at(7));
        assert_eq!(typed(&mut s, "restore", at(8)), Effect::None);
        assert_eq!(
            s.message.as_deref(),
            Some("`restore` starts 2 step ids: restore-db, restore-app")
        );
        s.key(Key::Char('g'), at(9));
        assert_eq!(typed(&mut s, "chek", at(10)), Effect::None);
        assert!(
            s.message.as_deref().is_some_and(|m| m.contains("`check`")),
            "{:?}",
            s.message
        );
        s.key(Key::Char('g'), at(11));
        assert_eq!(typed(&mut s, "9", at(12)), Effect::None);
        assert_eq!(
            s.message.as_deref(),
            Some("there is no step 9: give 1 to 3")
        );
    }

    #[test]
    fn notes_concerns_and_estimates_are_stamped_and_bad_ones_refused() {
        let mut s = session();
        s.key(Key::Char('a'), at(1));
        assert_eq!(
            typed(&mut s, "  who has the runbook?  ", at(2)),
            Effect::Changed
        );
        let note = &s.record.steps[0].notes[0];
        assert_eq!(
            (note.text.as_str(), note.at.as_str()),
            ("who has the runbook?", "2027-01-15T08:00:02.000Z")
        );
        s.key(Key::Char('e'), at(3));
        assert_eq!(typed(&mut s, "25 minutes", at(4)), Effect::None);
        assert!(
            s.message
                .as_deref()
                .is_some_and(|m| m.starts_with("`25 minutes` is not a duration")),
            "{:?}",
            s.message
        );
        assert!(s.record.steps[0].estimate.is_none());
        s.key(Key::Char('e'), at(5));
        assert_eq!(typed(&mut s, "1h30m", at(6)), Effect::Changed);
        assert_eq!(
            s.record.steps[0].estimate.as_ref().map(|e| e.secs),
            Some(5400.0)
        );
        s.key(Key::Char('c'), at(7));
        assert_eq!(typed(&mut s, "no restore role", at(8)), Effect::None);
        assert_eq!(typed(&mut s, "", at(9)), Effect::Changed);
        let c = &s.record.concerns[0];
        assert_eq!((c.step.as_str(), c.owner.as_deref()), ("restore-db", None));
        // Escape drops what was typed; an empty note records nothing.
        s.key(Key::Char('a'), at(10));
        s.key(Key::Char('x'), at(10));
        assert_eq!(s.key(Key::Esc, at(11)), Effect::None);
        s.key(Key::Char('a'), at(12));
        assert_eq!(s.key(Key::Enter, at(13)), Effect::None);
        assert_eq!(s.record.steps[0].notes.len(), 1);
    }

    #[test]
    fn a_concern_is_closed_by_its_number_and_carried_ones_stay_until_then() {
        let mut s = session();
        s.record.concerns.push(Concern {
            step: "restore-db".into(),
            text: "carried".into(),
            owner: Some("ana".into()),
            raised_at: "2026-01-01T00:00:00.000Z".into(),
            raised_in: "wt-old".into(),
            closed_at: None,
            closed_in: None,
        });
        s.key(Key::Right, at(1));
        assert_eq!(s.key(Key::Char('x'), at(2)), Effect::None);
        assert_eq!(
            s.message.as_deref(),
            Some("this step has no open concern to close")
        );
        s.key(Key::Left, at(3));
        s.key(Key::Char('x'), at(4));
        assert_eq!(typed(&mut s, "2", at(5)), Effect::None);
        assert_eq!(s.open_concerns(0).count(), 1);
        s.key(Key::Char('x'), at(6));
        assert_eq!(typed(&mut s, "1", at(7)), Effect::Changed);
        assert_eq!(s.open_concerns(0).count(), 0);
        assert_eq!(
            s.record.concerns[0].closed_in.as_deref(),
            Some(s.record.id.as_str())
        );
    }

    #[test]
    fn rehearsed_toggles_and_quit_asks_first() {
        let mut s = session();
        assert_eq!(s.key(Key::Char('r'), at(1)), Effect::Changed);
        assert_eq!(s.rehearsed(), 1);
        assert_eq!(s.key(Key::Char('r'), at(2)), Effect::Changed);
        assert_eq!(s.rehearsed(), 0);
        assert_eq!(s.key(Key::Char('q'), at(3)), Effect::None);
        assert_eq!(s.mode, Mode::ConfirmQuit);
        assert_eq!(s.key(Key::Char('z'), at(4)), Effect::None);
        assert_eq!(s.mode, Mode::Browse);
        s.key(Key::Esc, at(5));
        assert_eq!(s.key(Key::Char('n'), at(6)), Effect::Quit { save: false });
        s.mode = Mode::ConfirmQuit;
        assert_eq!(s.key(Key::Char('y'), at(7)), Effect::Quit { save: true });
        s.key(Key::Char('?'), at(8));
        s.mode = Mode::Help;
        assert_eq!(s.key(Key::Char('j'), at(9)), Effect::None);
        assert_eq!(s.mode, Mode::Browse, "any key closes the help");
    }
}
