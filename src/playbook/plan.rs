//! `firedrill plan`: the dry run. No AWS call: execution waves, the critical path, and the
//! predicted time to each milestone against its target, from each step's duration learned
//! from past runs (the median of the runs in which it succeeded), else its `estimate`, its own
//! fields (a `wait`), or its kind's default duration.
//!
//! Rendering is by pure functions of the plan: text, JSON, Graphviz DOT and Mermaid.

use std::fmt::Write as _;

use serde::Serialize;

use crate::language::duration::{Duration, human};
use crate::playbook::Playbook;
use crate::playbook::graph::Schedule;
use crate::playbook::learned::{Learned, LearnedDurations, Target};
use crate::playbook::model::{EstimateSource, RECOVERED};
use crate::playbook::resolve::resolve;

/// The plan of a validated playbook.
pub struct Plan<'a> {
    /// The playbook.
    pub playbook: &'a Playbook,
    /// Each step's planned duration and where it comes from.
    pub durations: Vec<(Duration, Basis)>,
    /// What past runs taught about each step (the median is its planned duration).
    pub learned: Vec<Option<Learned>>,
    /// How many past runs the plan consulted.
    pub history_runs: usize,
    /// What those runs ran against (only runs against the target planned for are consulted).
    pub history_target: Target,
    /// Start and finish times with unlimited parallelism.
    pub schedule: Schedule,
    /// The execution waves.
    pub waves: Vec<Vec<usize>>,
    /// The critical path of the whole drill.
    pub critical_path: Vec<usize>,
    /// Each milestone's prediction.
    pub milestones: Vec<MilestonePlan>,
}

/// The prediction for one milestone.
#[derive(Clone, Debug, PartialEq)]
pub struct MilestonePlan {
    /// Its name.
    pub name: String,
    /// The steps that reach it.
    pub steps: Vec<usize>,
    /// When it is predicted to be reached: when the last of its steps finishes.
    pub predicted: Duration,
    /// Its target.
    pub target: Option<Duration>,
    /// The chain of steps that decides when it is reached.
    pub path: Vec<usize>,
}

impl MilestonePlan {
    /// Whether the prediction misses the target.
    pub fn missed(&self) -> bool {
        self.target.is_some_and(|t| self.predicted > t)
    }
}

/// Where a step's planned duration comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The median of its durations in past runs of the playbook.
    Learned,
    /// The step's `estimate`.
    Playbook,
    /// The step's own fields (a `wait`'s duration).
    Fields,
    /// The kind's default.
    KindDefault,
}

impl From<EstimateSource> for Basis {
    fn from(s: EstimateSource) -> Self {
        match s {
            EstimateSource::Playbook => Basis::Playbook,
            EstimateSource::Fields => Basis::Fields,
            EstimateSource::KindDefault => Basis::KindDefault,
        }
    }
}

/// What the plan predicts against the targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every milestone with a target is predicted to reach it in time.
    WithinTargets,
    /// Some milestone is predicted to miss its target.
    TargetMissed,
    /// The playbook sets no recovery time target.
    NoTargets,
}

impl<'a> Plan<'a> {
    /// Plans `playbook` from its own figures.
    pub fn new(playbook: &'a Playbook) -> Self {
        Self::learning(playbook, &LearnedDurations::default())
    }

    /// Plans `playbook`, each step taking the median of its past durations where `learned`
    /// knows it (a measurement beats a guess), else its own figure.
    pub fn learning(playbook: &'a Playbook, learned: &LearnedDurations) -> Self {
        let learned_steps: Vec<Option<Learned>> = if learned.is_empty() {
            vec![None; playbook.steps.len()]
        } else {
            playbook
                .steps
                .iter()
                .map(|s| learned.get(&s.id, s.uses()))
                .collect()
        };
        let durations: Vec<(Duration, Basis)> = playbook
            .steps
            .iter()
            .zip(&learned_steps)
            .map(|(s, l)| {
                if let Some(l) = l {
                    (
                        crate::language::duration::Duration::rounded(l.median_secs),
                        Basis::Learned,
                    )
                } else {
                    let (d, source) = s.planned_duration();
                    (d, source.into())
                }
            })
            .collect();
        let ms: Vec<u64> = durations.iter().map(|(d, _)| d.as_millis()).collect();
        let schedule = playbook.dag.schedule(&ms);
        let waves = playbook.dag.waves();
        let critical_path = schedule.critical_path();
        let milestones = playbook
            .milestones()
            .into_iter()
            .map(|(name, steps)| {
                let last = steps.iter().copied().fold(steps[0], |b, i| {
                    if schedule.finish[i] > schedule.finish[b] {
                        i
                    } else {
                        b
                    }
                });
                MilestonePlan {
                    name: name.to_owned(),
                    predicted: Duration::from_millis(schedule.finish[last]),
                    target: playbook.targets.for_milestone(name),
                    path: schedule.path_to(last),
                    steps,
                }
            })
            .collect();
        Self {
            playbook,
            durations,
            learned: learned_steps,
            history_runs: learned.runs,
            history_target: learned.target,
            schedule,
            waves,
            critical_path,
            milestones,
        }
    }

    /// The predicted RTO: to the `recovered` milestone, or to the end of the drill without one.
    pub fn predicted_rto(&self) -> Duration {
        self.milestones
            .iter()
            .find(|m| m.name == RECOVERED)
            .map_or_else(
                || Duration::from_millis(self.schedule.makespan()),
                |m| m.predicted,
            )
    }

    /// The verdict against the targets.
    pub fn verdict(&self) -> Verdict {
        if self.milestones.iter().any(MilestonePlan::missed) {
            Verdict::TargetMissed
        } else if self.milestones.iter().any(|m| m.target.is_some()) {
            Verdict::WithinTargets
        } else {
            Verdict::NoTargets
        }
    }

    /// Where step `i`'s planned duration comes from, for people: `learned: median of 5 runs,
    /// p90 6m`, `estimate`, `from its fields`, `kind default`.
    pub fn basis_note(&self, i: usize) -> String {
        source_note(self.durations[i].1, self.learned[i])
    }

    fn id(&self, i: usize) -> &str {
        &self.playbook.steps[i].id
    }

    fn ids(&self, steps: &[usize]) -> Vec<String> {
        steps.iter().map(|&i| self.id(i).to_owned()).collect()
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The JSON document of `firedrill plan --format json` (version 1).
#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    playbook: &'a str,
    file: String,
    steps: Vec<JsonStep<'a>>,
    waves: Vec<Vec<String>>,
    critical_path: Vec<String>,
    critical_path_secs: f64,
    predicted_rto_secs: f64,
    rto_target_secs: Option<f64>,
    rpo_target_secs: Option<f64>,
    milestones: Vec<JsonMilestone>,
    verdict: Verdict,
    history_runs: usize,
    history_target: Target,
    learned_steps: usize,
}

#[derive(Serialize)]
struct JsonStep<'a> {
    id: &'a str,
    uses: &'a str,
    description: String,
    depends_on: Vec<String>,
    wave: usize,
    estimate_secs: f64,
    estimate_source: Basis,
    learned: Option<Learned>,
    start_secs: f64,
    finish_secs: f64,
    critical: bool,
    milestone: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonMilestone {
    name: String,
    steps: Vec<String>,
    predicted_secs: f64,
    target_secs: Option<f64>,
    margin_secs: Option<f64>,
    met: Option<bool>,
    path: Vec<String>,
}

/// The plan as JSON.
pub fn render_json(plan: &Plan<'_>) -> String {
    let pb = plan.playbook;
    let mut wave_of = vec![0; pb.steps.len()];
    for (w, steps) in plan.waves.iter().enumerate() {
        for &i in steps {
            wave_of[i] = w + 1;
        }
    }
    let doc = JsonPlan {
        format_version: 1,
        playbook: &pb.name,
        file: pb.file.display().to_string(),
        steps: pb
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| JsonStep {
                id: &s.id,
                uses: s.uses(),
                description: resolve(
                    pb,
                    &s.description.clone().unwrap_or_else(|| s.action.describe()),
                ),
                depends_on: plan.ids(&s.deps),
                wave: wave_of[i],
                estimate_secs: secs(plan.durations[i].0),
                estimate_source: plan.durations[i].1,
                learned: plan.learned[i],
                start_secs: ms(plan.schedule.start[i]),
                finish_secs: ms(plan.schedule.finish[i]),
                critical: plan.critical_path.contains(&i),
                milestone: s.milestone.as_deref(),
            })
            .collect(),
        waves: plan.waves.iter().map(|w| plan.ids(w)).collect(),
        critical_path: plan.ids(&plan.critical_path),
        critical_path_secs: ms(plan.schedule.makespan()),
        predicted_rto_secs: secs(plan.predicted_rto()),
        rto_target_secs: pb.targets.rto.map(secs),
        rpo_target_secs: pb.targets.rpo.map(secs),
        milestones: plan
            .milestones
            .iter()
            .map(|m| JsonMilestone {
                name: m.name.clone(),
                steps: plan.ids(&m.steps),
                predicted_secs: secs(m.predicted),
                target_secs: m.target.map(secs),
                margin_secs: m.target.map(|t| secs(t) - secs(m.predicted)),
                met: m.target.map(|_| !m.missed()),
                path: plan.ids(&m.path),
            })
            .collect(),
        verdict: plan.verdict(),
        history_runs: plan.history_runs,
        history_target: plan.history_target,
        learned_steps: plan.learned.iter().flatten().count(),
    };
    // Sized for the whole document up front (a step renders to about 420 bytes): grown by
    // doubling, a 10,000-step plan's 4 MB of JSON briefly held 12 MB.
    let mut out = Vec::with_capacity(1024 + 512 * pb.steps.len());
    serde_json::to_writer_pretty(&mut out, &doc).expect("a plan serializes");
    out.push(b'\n');
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

fn source_note(source: Basis, learned: Option<Learned>) -> String {
    match (source, learned) {
        (Basis::Learned, Some(l)) => format!(
            "learned: median of {} run{}, p90 {}",
            l.runs,
            if l.runs == 1 { "" } else { "s" },
            human(l.p90_secs)
        ),
        (Basis::Learned, None) => "learned".to_owned(),
        (Basis::Playbook, _) => "estimate".to_owned(),
        (Basis::Fields, _) => "from its fields".to_owned(),
        (Basis::KindDefault, _) => "kind default".to_owned(),
    }
}

/// What measures the RPO target, if the playbook sets one.
fn rpo_line(pb: &Playbook) -> Option<String> {
    let rpo = pb.targets.rpo?;
    let measured: Vec<&str> = pb
        .steps
        .iter()
        .filter(|s| s.action.measures_rpo())
        .map(|s| s.id.as_str())
        .collect();
    Some(if measured.is_empty() {
        format!(
            "RPO target {rpo}: no step measures it (restores, backup checks and `probe.sql` with `measures: rpo` do)"
        )
    } else {
        format!("RPO target {rpo}: measured by {}", measured.join(", "))
    })
}

/// Milliseconds as seconds.
#[allow(clippy::cast_precision_loss)] // exact far beyond any plan's length
fn ms(v: u64) -> f64 {
    v as f64 / 1000.0
}

/// The plan as text, for a person.
pub fn render_text(plan: &Plan<'_>) -> String {
    let pb = plan.playbook;
    let mut out = String::new();
    let _ = writeln!(out, "Plan for {} ({})", pb.name, pb.file.display());
    if let Some(d) = &pb.description {
        let _ = writeln!(out, "  {d}");
    }
    let _ = writeln!(
        out,
        "  {} steps in {} waves. Nothing is created: plan makes no AWS call.\n",
        pb.steps.len(),
        plan.waves.len()
    );
    let width = pb.steps.iter().map(|s| s.id.len()).max().unwrap_or(0);
    let kind_width = pb.steps.iter().map(|s| s.uses().len()).max().unwrap_or(0);
    let at = |i: usize| format!("+{}", human(ms(plan.schedule.start[i])));
    let at_width = (0..pb.steps.len()).map(|i| at(i).len()).max().unwrap_or(0);
    for (w, steps) in plan.waves.iter().enumerate() {
        let _ = writeln!(out, "Wave {}", w + 1);
        for &i in steps {
            let s = &pb.steps[i];
            let (d, source) = plan.durations[i];
            let mark = if plan.critical_path.contains(&i) {
                '*'
            } else {
                ' '
            };
            let _ = writeln!(
                out,
                "  {mark} {:width$}  {:kind_width$}  at {:at_width$}  takes ~{} ({})",
                s.id,
                s.uses(),
                at(i),
                human(d.as_secs_f64()),
                source_note(source, plan.learned[i]),
            );
            let what = s.description.clone().unwrap_or_else(|| s.action.describe());
            let _ = writeln!(out, "      {}", resolve(pb, &what));
            if !s.deps.is_empty() {
                let _ = writeln!(out, "      waits for: {}", plan.ids(&s.deps).join(", "));
            }
            if let Some(m) = &s.milestone {
                let _ = writeln!(out, "      reaches milestone `{m}`");
            }
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Critical path (*), {}: {}",
        human(ms(plan.schedule.makespan())),
        plan.ids(&plan.critical_path).join(" -> ")
    );
    if plan.milestones.is_empty() {
        let _ = writeln!(
            out,
            "Milestones: none (add `milestone: recovered` to the step that proves recovery)"
        );
    } else {
        let _ = writeln!(out, "Milestones:");
        let mw = plan
            .milestones
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(0);
        let predicted_width = plan
            .milestones
            .iter()
            .map(|m| human(m.predicted.as_secs_f64()).len())
            .max()
            .unwrap_or(0);
        for m in &plan.milestones {
            let verdict = match m.target {
                None => "no target".to_string(),
                Some(t) if m.missed() => {
                    format!(
                        "target {t}: MISSED by {}",
                        human(ms(m.predicted.as_millis() - t.as_millis()))
                    )
                }
                Some(t) => format!(
                    "target {t}: ok, {} to spare",
                    human(ms(t.as_millis() - m.predicted.as_millis()))
                ),
            };
            let _ = writeln!(
                out,
                "  {:mw$}  predicted {:predicted_width$}  {verdict}",
                m.name,
                human(m.predicted.as_secs_f64())
            );
        }
    }
    if let Some(line) = rpo_line(pb) {
        let _ = writeln!(out, "{line}");
    }
    out.push_str(&footnotes(plan));
    out
}

/// Where the plan's durations come from: how many are learned (from which runs, against
/// which target) and how many are kind defaults.
fn footnotes(plan: &Plan<'_>) -> String {
    let pb = plan.playbook;
    let mut out = String::new();
    let learned = plan.learned.iter().flatten().count();
    if learned > 0 {
        let _ = writeln!(
            out,
            "{learned} of {} durations are learned from the last {} run{} of `{}` against {} in the journal (the median of the runs in which the step succeeded).",
            pb.steps.len(),
            plan.history_runs,
            if plan.history_runs == 1 { "" } else { "s" },
            pb.name,
            plan.history_target.describe()
        );
    }
    let defaults = plan
        .durations
        .iter()
        .filter(|(_, s)| *s == Basis::KindDefault)
        .count();
    if defaults > 0 {
        let _ = writeln!(
            out,
            "{defaults} of {} durations are kind defaults; give steps an `estimate:` for a sharper prediction.",
            pb.steps.len()
        );
    }
    out
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The plan as a Graphviz digraph: the critical path in red, milestones double-bordered.
pub fn render_dot(plan: &Plan<'_>) -> String {
    let pb = plan.playbook;
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_escape(&pb.name));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\"];"
    );
    for (i, s) in pb.steps.iter().enumerate() {
        let mut attrs = format!(
            "label=\"{}\\n{}\\n~{}\"",
            dot_escape(&s.id),
            s.uses(),
            plan.durations[i].0
        );
        if plan.critical_path.contains(&i) {
            attrs.push_str(", color=red, penwidth=2");
        }
        if let Some(m) = &s.milestone {
            let _ = write!(attrs, ", peripheries=2, xlabel=\"{}\"", dot_escape(m));
        }
        let _ = writeln!(out, "  \"{}\" [{attrs}];", dot_escape(&s.id));
    }
    let on_path = |a: usize, b: usize| {
        plan.critical_path
            .windows(2)
            .any(|w| w[0] == a && w[1] == b)
    };
    for (i, s) in pb.steps.iter().enumerate() {
        for &d in &s.deps {
            let style = if on_path(d, i) {
                " [color=red, penwidth=2]"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\"{style};",
                dot_escape(&pb.steps[d].id),
                dot_escape(&s.id)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid_escape(s: &str) -> String {
    s.replace('"', "#quot;")
}

/// The plan as a Mermaid flowchart: the critical path highlighted, milestones rounded.
pub fn render_mermaid(plan: &Plan<'_>) -> String {
    let pb = plan.playbook;
    let mut out = String::from("flowchart LR\n");
    for (i, s) in pb.steps.iter().enumerate() {
        let label = format!(
            "{}<br/>{}<br/>~{}",
            mermaid_escape(&s.id),
            s.uses(),
            plan.durations[i].0
        );
        match &s.milestone {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "  s{i}([\"{label}<br/>milestone: {}\"])",
                    mermaid_escape(m)
                );
            }
            None => {
                let _ = writeln!(out, "  s{i}[\"{label}\"]");
            }
        }
    }
    for (i, s) in pb.steps.iter().enumerate() {
        for &d in &s.deps {
            let _ = writeln!(out, "  s{d} --> s{i}");
        }
    }
    if !plan.critical_path.is_empty() {
        out.push_str("  classDef critical stroke:#d33,stroke-width:3px;\n");
        let ids: Vec<String> = plan.critical_path.iter().map(|i| format!("s{i}")).collect();
        let _ = writeln!(out, "  class {} critical;", ids.join(","));
    }
    out
}
