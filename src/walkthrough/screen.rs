//! The walkthrough's screen: a pure function of a [`Session`] and the time, drawn into a
//! ratatui frame. Title and progress on top; the steps in execution order on the left with
//! the current one marked; the current step on the right (what it does with its values
//! resolved, what it waits for and what waits for it, its expected duration and where that
//! comes from, the RTO clock, readiness, concerns and notes); the keys at the bottom.
//!
//! It fits 80×24 and reflows to any larger size; below [`MIN_WIDTH`]×[`MIN_HEIGHT`] it says
//! so rather than draw garbage. No I/O: the command line owns the terminal.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};

use crate::language::duration::Duration;
use crate::steps::context::Readiness;
use crate::walkthrough::session::{Mode, Session};

/// The narrowest terminal the screen is drawn in.
pub const MIN_WIDTH: u16 = 60;
/// The lowest.
pub const MIN_HEIGHT: u16 = 16;

/// The keys, as the help overlay lists them.
const KEYS: &[(&str, &str)] = &[
    ("→ n Enter", "next step"),
    ("← p", "previous step"),
    ("Home End", "first / last step"),
    ("g", "go to a step (id, prefix or number)"),
    ("a", "add a note to this step"),
    ("c", "raise a concern (then its owner)"),
    ("x", "close one of this step's concerns"),
    ("e", "record the team's estimate (25m)"),
    ("r", "mark this step rehearsed (again: unmark)"),
    ("?", "this help"),
    ("q Esc", "quit (asks whether to save)"),
    ("Ctrl-C", "stop now, keeping what is recorded"),
];

/// Draws the session at `now`.
pub fn draw(frame: &mut Frame<'_>, s: &Session, now: DateTime<Utc>) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [title, body, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(title_line(s, now)), title);
    let list_width = (area.width / 4).clamp(18, 32);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(30)]).areas(body);
    step_list(frame, s, list);
    step_detail(frame, s, detail);
    frame.render_widget(Paragraph::new(status_line(s)), status);
    // The whole list where it fits; the most used keys below 90 columns (`?` lists all).
    let hints = if area.width >= 90 {
        "→/← step  g go to  a note  c concern  x close  e estimate  r rehearsed  ? help  q quit"
    } else {
        "→← step  g go to  a note  c concern  e estimate  r rehearsed  ? keys  q quit"
    };
    frame.render_widget(
        Paragraph::new(Line::from(hints)).style(Style::new().add_modifier(Modifier::DIM)),
        keys,
    );
    match &s.mode {
        Mode::Help => help(frame, area),
        Mode::ConfirmQuit => confirm(frame, area),
        Mode::Browse | Mode::Input { .. } => {}
    }
}

fn too_small(frame: &mut Frame<'_>, area: Rect) {
    let text = format!(
        "This terminal is {}×{}; the walkthrough needs at least {MIN_WIDTH}×{MIN_HEIGHT}. \
         Make it larger, or use `firedrill walkthrough --print`.",
        area.width, area.height
    );
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}

fn title_line(s: &Session, now: DateTime<Utc>) -> Line<'static> {
    let elapsed = (now - s.started).num_seconds().max(0);
    let n = s.walk.steps.len();
    Line::from(vec![
        Span::styled(
            format!(" {} ", s.walk.name),
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        ),
        Span::raw(format!(
            " walkthrough · step {} of {n} · rehearsed {}/{n} · {} · {}",
            s.current + 1,
            s.rehearsed(),
            s.record.facilitator,
            // Whole seconds: a clock, not a measurement.
            Duration::from_secs(elapsed.unsigned_abs()),
        )),
    ])
}

fn step_list(frame: &mut Frame<'_>, s: &Session, area: Rect) {
    let items: Vec<ListItem<'_>> = s
        .walk
        .steps
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let rec = &s.record.steps[i];
            let marks = format!(
                "{}{}{}",
                if i == s.current { '›' } else { ' ' },
                if rec.rehearsed_at.is_some() {
                    '✓'
                } else {
                    ' '
                },
                if s.open_concerns(i).next().is_some() {
                    '!'
                } else if v.critical {
                    '*'
                } else {
                    ' '
                },
            );
            ListItem::new(format!("{marks} {}", v.id))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(s.current));
    let list = List::new(items)
        .block(Block::new().borders(Borders::ALL).title(" steps "))
        .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    frame.render_stateful_widget(list, area, &mut state);
}

fn field(name: &'static str, value: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(
            format!("{name:<11}"),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(value),
    ])
}

/// The lines about step `s.current`, for the screen (and, in the same words, the runbook).
fn detail_lines(s: &Session) -> Vec<Line<'static>> {
    let v = &s.walk.steps[s.current];
    let rec = s.step_record();
    let mut lines = Vec::new();
    if let Some(d) = &v.description {
        lines.push(Line::from(d.clone()));
    }
    lines.push(field("does", v.does.clone()));
    lines.push(field(
        "waits for",
        list_or(&v.needs, "nothing: it starts at once"),
    ));
    lines.push(field("needed by", list_or(&v.needed_by, "nothing")));
    let team = rec
        .estimate
        .as_ref()
        .map_or(String::new(), |e| format!(" · team: {}", e.as_written));
    lines.push(field(
        "expected",
        format!("{} ({}){team}", v.expected, v.basis_note),
    ));
    let mut clock = s.walk.clock(v);
    if v.critical {
        clock.push_str(" · critical path");
    }
    lines.push(field("RTO clock", clock));
    if let Some(m) = &v.milestone {
        lines.push(field("milestone", m.clone()));
    }
    if let Some(r) = &rec.readiness {
        lines.push(field("readiness", readiness_text(r)));
    }
    let open: Vec<_> = s.open_concerns(s.current).collect();
    for (n, c) in open.iter().enumerate() {
        let owner = c
            .owner
            .as_ref()
            .map_or(String::new(), |o| format!(" ({o})"));
        let from = if c.raised_in == s.record.id {
            String::new()
        } else {
            format!(" [from {}]", c.raised_at.get(..10).unwrap_or(&c.raised_at))
        };
        lines.push(field(
            if n == 0 { "concerns" } else { "" },
            format!("{}. {}{owner}{from}", n + 1, c.text),
        ));
    }
    for (n, note) in rec.notes.iter().enumerate() {
        lines.push(field(
            if n == 0 { "notes" } else { "" },
            format!("{} {}", clock_of(&note.at), note.text),
        ));
    }
    if let Some(at) = &rec.rehearsed_at {
        lines.push(field("rehearsed", format!("at {}", clock_of(at))));
    }
    lines
}

/// `HH:MM` of an RFC 3339 time.
fn clock_of(at: &str) -> String {
    at.get(11..16).unwrap_or(at).to_owned()
}

fn list_or(items: &[String], none: &str) -> String {
    if items.is_empty() {
        none.to_owned()
    } else {
        items.join(", ")
    }
}

/// What a readiness check found, in a few words.
pub fn readiness_text(r: &Readiness) -> String {
    match r {
        Readiness::Ready { detail } => format!("ready: {detail}"),
        Readiness::NotReady { reason } => format!("NOT READY: {reason}"),
        Readiness::Unchecked { why } => format!("not checked: {why}"),
        Readiness::Nothing => "nothing to check".to_owned(),
    }
}

fn step_detail(frame: &mut Frame<'_>, s: &Session, area: Rect) {
    let v = &s.walk.steps[s.current];
    let title = format!(" {} · {} ", v.id, v.uses);
    frame.render_widget(
        Paragraph::new(detail_lines(s))
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

fn status_line(s: &Session) -> Line<'static> {
    match &s.mode {
        Mode::Input { prompt, text } => Line::from(vec![
            Span::styled(
                format!("{} › ", prompt.label()),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{text}▏")),
            Span::styled(
                "   Enter: keep · Esc: cancel",
                Style::new().add_modifier(Modifier::DIM),
            ),
        ]),
        Mode::Browse | Mode::Help | Mode::ConfirmQuit => {
            Line::from(s.message.clone().unwrap_or_default())
        }
    }
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(frame: &mut Frame<'_>, area: Rect) {
    let lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:<10}"),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    #[allow(clippy::cast_possible_truncation)]
    let popup = centered(area, 56, KEYS.len() as u16 + 2);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" keys · any key closes "),
        ),
        popup,
    );
}

fn confirm(frame: &mut Frame<'_>, area: Rect) {
    let popup = centered(area, 50, 5);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from("Save this walkthrough to the journal?"),
            Line::from("y: save and quit · n: quit without saving"),
            Line::from("any other key: go on"),
        ])
        .block(Block::new().borders(Borders::ALL).title(" quit ")),
        popup,
    );
}
