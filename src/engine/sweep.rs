//! `firedrill sweep`: what firedrill made and nobody is tearing down. Every resource that
//! carries firedrill's run tag, in the regions asked, is judged against the journal: its run
//! ended (or crashed) and it is still here, its `keep_for` passed, or its run is unknown to the
//! journal (a journal lost with its disk or pod). Those are orphans; deleting them goes through
//! teardown's verified deletion ([`teardown::Deletion`]).
//!
//! Rules, whatever else the tags say: a resource tagged as production is never touched; one
//! whose run is in progress (its process holds the run's lock) is never touched; one whose run
//! the journal does not know is an orphan only once its run began longer ago than the grace (a
//! run another machine has just begun is not taken for an orphan). Judging is a pure function
//! ([`judge`]); listing makes read-only calls only. Knows nothing of the command line.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::aws::Clients;
use crate::aws::poll::Pollers;
use crate::engine::teardown::{self, Book, Settled};
use crate::steps::resource::{ResourceKind, TAG_EXPIRES, Tagged};

/// What the journal says of a resource's run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunInfo {
    /// Its state (`running`, `passed`, `failed`, `crashed`, ...).
    pub state: String,
    /// How its teardown ended (`done`, `kept`, `incomplete`, ...), if it did.
    pub teardown_state: Option<String>,
    /// Until when `keep_for` keeps its resources (RFC 3339).
    pub keep_until: Option<String>,
    /// Whether a process holds its lock: it is in progress.
    pub in_progress: bool,
    /// The ids of the resources its journal records (whatever their status).
    pub recorded: Vec<String>,
}

/// What sweep makes of a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody is tearing it down: why.
    Orphan(String),
    /// Left alone: why.
    Spared(String),
}

/// A resource sweep found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// It, with its tags.
    pub resource: Tagged,
    /// Its region.
    pub region: String,
    /// When its run began (from the run id), if it can be read.
    pub run_started: Option<DateTime<Utc>>,
    /// What sweep makes of it.
    pub verdict: Verdict,
}

/// When run `run_id` began: run ids start with the UTC time (`20261202-173901-…`).
pub fn run_started(run_id: &str) -> Option<DateTime<Utc>> {
    let stamp = run_id.get(..15)?;
    NaiveDateTime::parse_from_str(stamp, "%Y%m%d-%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// The production tag of a resource (`environment=production`, `env=prod`, ...), if it has one.
pub fn production_tag(r: &Tagged) -> Option<(&str, &str)> {
    r.tags
        .iter()
        .find(|(k, v)| {
            matches!(
                k.to_ascii_lowercase().as_str(),
                "environment" | "env" | "stage"
            ) && matches!(v.to_ascii_lowercase().as_str(), "production" | "prod")
        })
        .map(|(k, v)| (k.as_str(), v.as_str()))
}

fn rfc3339(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stack a resource belongs to, when CloudFormation made it (its tags say so).
fn stack_member(r: &Tagged) -> Option<&str> {
    if r.kind == ResourceKind::CfnStack {
        return None;
    }
    r.tags
        .get("aws:cloudformation:stack-name")
        .map(String::as_str)
}

/// How long after its run began a resource's `firedrill:expires-at` is when no `keep_for` set
/// it (`engine/prepare.rs`: a day, plus the deadline; any other expiry, a `keep_for` or a
/// deadline, spares it until then).
const DEFAULT_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// What sweep makes of resource `r`, whose run the journal knows as `run` (or not at all), at
/// `now`, sparing unknown runs younger than `grace`.
pub fn judge(r: &Tagged, run: Option<&RunInfo>, now: DateTime<Utc>, grace: Duration) -> Verdict {
    if let Some((k, v)) = production_tag(r) {
        return Verdict::Spared(format!(
            "it is tagged as production ({k}={v}): never touched"
        ));
    }
    if let Some(stack) = stack_member(r) {
        return Verdict::Spared(format!(
            "CloudFormation made it for stack `{stack}`: it goes with the stack"
        ));
    }
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match run {
        Some(info) if info.in_progress => {
            Verdict::Spared("its run is in progress (its process holds the run's lock)".into())
        }
        Some(info) if !info.recorded.iter().any(|id| id == &r.id) => Verdict::Spared(
            "its run's journal does not record it: AWS made it for a resource the run made (a root volume), and it goes with that".into(),
        ),
        Some(info) if info.teardown_state.as_deref() == Some("kept") => {
            match info.keep_until.as_deref().and_then(rfc3339) {
                Some(until) if until > now => {
                    Verdict::Spared(format!("kept by `keep_for` until {}", stamp(until)))
                }
                Some(until) => Verdict::Orphan(format!(
                    "kept by `keep_for` until {}, which has passed",
                    stamp(until)
                )),
                None => Verdict::Orphan(
                    "kept by its playbook's teardown policy for a later teardown or sweep".into(),
                ),
            }
        }
        Some(info) if info.state == "running" => Verdict::Orphan(
            "its run crashed: the journal says it is running, and no process holds its lock"
                .into(),
        ),
        Some(info) => Verdict::Orphan(format!(
            "its run ended ({}, teardown {}) and it is still here",
            info.state,
            info.teardown_state.as_deref().unwrap_or("not finished")
        )),
        None => unknown(r, now, grace),
    }
}

/// What sweep makes of a resource whose run the journal does not know.
fn unknown(r: &Tagged, now: DateTime<Utc>, grace: Duration) -> Verdict {
    let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let Some(started) = run_started(r.run()) else {
        return Verdict::Spared(format!(
            "its run id `{}` is not one firedrill makes: its age cannot be told",
            r.run()
        ));
    };
    let expires = r.tags.get(TAG_EXPIRES).and_then(|t| rfc3339(t));
    match expires {
        Some(at) if at <= now => {
            return Verdict::Orphan(format!(
                "its run is unknown to the journal, and it expired at {}",
                stamp(at)
            ));
        }
        // An expiry other than the default one is a `keep_for`: another machine keeps it.
        Some(at) if (at - (started + DEFAULT_EXPIRY)).abs() > chrono::TimeDelta::minutes(2) => {
            return Verdict::Spared(format!(
                "its run is unknown to the journal, and its tag keeps it until {} (`keep_for`)",
                stamp(at)
            ));
        }
        _ => {}
    }
    let young = now.signed_duration_since(started)
        < chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    if young {
        Verdict::Spared(format!(
            "its run is unknown to the journal and began under {} ago: it may be another machine's run in progress",
            crate::language::duration::human(grace.as_secs_f64())
        ))
    } else {
        Verdict::Orphan("its run is unknown to the journal (lost with its disk or pod?)".into())
    }
}

/// Every resource with firedrill's run tag that `clients` (one per region) see, judged by
/// `runs` (what the journal says of a run id) at `now`. Read-only calls only.
pub async fn find(
    clients: &[Clients],
    mut runs: impl FnMut(&str) -> Option<RunInfo>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Vec<Found>, String> {
    let mut found = Vec::new();
    for c in clients {
        for &kind in ResourceKind::ALL {
            let tagged = kind
                .tagged(c)
                .await
                .map_err(|e| format!("{}: {e}", c.region))?;
            for resource in tagged {
                let run = runs(resource.run());
                let verdict = judge(&resource, run.as_ref(), now, grace);
                found.push(Found {
                    run_started: run_started(resource.run()),
                    region: c.region.clone(),
                    resource,
                    verdict,
                });
            }
        }
    }
    Ok(found)
}

/// Deletes orphan `f` through teardown's verified deletion (its tags must still name its run),
/// writing progress to `book` (the journal's row of it, when the journal has one).
pub async fn delete(
    f: &Found,
    pollers: &Pollers,
    book: Book<'_>,
    poll: Duration,
    stop: &CancellationToken,
) -> Settled {
    teardown::Deletion {
        kind: f.resource.kind,
        id: &f.resource.id,
        run_id: f.resource.run(),
        asked_before: false,
        retry_seed: crate::util::hash(0, &[&f.resource.id]),
        poll,
    }
    .run(pollers, book, stop)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(run: &str, extra: &[(&str, &str)]) -> Tagged {
        let mut tags: Vec<(Option<&str>, Option<&str>)> =
            vec![(Some(crate::steps::resource::TAG_RUN), Some(run))];
        tags.extend(extra.iter().map(|(k, v)| (Some(*k), Some(*v))));
        Tagged::of(ResourceKind::Ec2Instance, "i-1", tags.into_iter()).expect("tagged")
    }

    fn now() -> DateTime<Utc> {
        rfc3339("2026-12-02T12:00:00Z").expect("time")
    }

    const HOUR: Duration = Duration::from_hours(1);

    #[test]
    fn production_and_runs_in_progress_are_spared_whatever_else() {
        let forged = tagged("20261101-000000-aaaaaaaa", &[("environment", "Production")]);
        assert!(
            matches!(judge(&forged, None, now(), HOUR), Verdict::Spared(why) if why.contains("production"))
        );
        let live = RunInfo {
            state: "running".into(),
            in_progress: true,
            recorded: vec!["i-1".into()],
            ..RunInfo::default()
        };
        let r = tagged("20261202-110000-aaaaaaaa", &[]);
        assert!(
            matches!(judge(&r, Some(&live), now(), HOUR), Verdict::Spared(why) if why.contains("in progress"))
        );
    }

    #[test]
    fn ended_crashed_expired_and_unknown_runs_leave_orphans() {
        let r = tagged("20261202-110000-aaaaaaaa", &[]);
        let ended = RunInfo {
            state: "failed".into(),
            teardown_state: Some("incomplete".into()),
            recorded: vec!["i-1".into()],
            ..RunInfo::default()
        };
        assert_eq!(
            judge(&r, Some(&ended), now(), HOUR),
            Verdict::Orphan(
                "its run ended (failed, teardown incomplete) and it is still here".into()
            )
        );
        let crashed = RunInfo {
            state: "running".into(),
            recorded: vec!["i-1".into()],
            ..RunInfo::default()
        };
        let unrecorded = RunInfo {
            recorded: Vec::new(),
            ..crashed.clone()
        };
        assert!(
            matches!(judge(&r, Some(&unrecorded), now(), HOUR), Verdict::Spared(why) if why.contains("does not record it"))
        );
        assert!(
            matches!(judge(&r, Some(&crashed), now(), HOUR), Verdict::Orphan(why) if why.contains("crashed"))
        );
        let kept = |until: &str| RunInfo {
            state: "passed".into(),
            teardown_state: Some("kept".into()),
            keep_until: Some(until.into()),
            in_progress: false,
            recorded: vec!["i-1".into()],
        };
        assert!(matches!(
            judge(&r, Some(&kept("2026-12-03T00:00:00Z")), now(), HOUR),
            Verdict::Spared(_)
        ));
        assert!(
            matches!(judge(&r, Some(&kept("2026-12-01T00:00:00Z")), now(), HOUR), Verdict::Orphan(why) if why.contains("has passed"))
        );
        // Unknown to the journal: an orphan once older than the grace, or once expired.
        let old = tagged("20261202-100000-aaaaaaaa", &[]);
        assert!(
            matches!(judge(&old, None, now(), HOUR), Verdict::Orphan(why) if why.contains("unknown"))
        );
        let young = tagged("20261202-113000-aaaaaaaa", &[]);
        assert!(
            matches!(judge(&young, None, now(), HOUR), Verdict::Spared(why) if why.contains("another machine"))
        );
        let expired = tagged(
            "20261202-113000-aaaaaaaa",
            &[(TAG_EXPIRES, "2026-12-02T11:45:00Z")],
        );
        assert!(
            matches!(judge(&expired, None, now(), HOUR), Verdict::Orphan(why) if why.contains("expired"))
        );
    }

    #[test]
    fn run_ids_give_their_start() {
        assert_eq!(
            run_started("20261202-173901-c21f1d32"),
            rfc3339("2026-12-02T17:39:01Z")
        );
        assert_eq!(run_started("nope"), None);
    }
}
