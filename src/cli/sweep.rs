//! `firedrill sweep [PLAYBOOK...]`: lists what firedrill made and nobody is tearing down, in the
//! playbooks' regions or the `--region`s given, and with `--delete` removes it as teardown
//! does. The judging and the verified deletion are `engine::sweep`'s; here: the arguments, the
//! clients of each region, the journal's word on each run (and the run's lock, held while its
//! resources are deleted), the account guard before any deletion, and the printing.
//!
//! Listing makes read-only calls only. Deleting needs the accounts it may act in, from the
//! playbooks' `sandbox.accounts` or `--account`, and the guard's yes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::out::{eprint, error, print};
use super::run::{ProfileArg, SandboxChoice};
use super::sandbox::runtime;
use crate::aws::guard::{self, Target};
use crate::aws::poll::Pollers;
use crate::aws::{AwsOptions, Clients};
use crate::engine::exit;
use crate::engine::sweep::{self, Found, RunInfo, Verdict};
use crate::engine::teardown::{Book, Settled};
use crate::language::duration::{Duration, human};
use crate::steps::resource::ResourceKind;
use crate::store::journal::{Journal, ResourceStatus};
use crate::store::recorder::Recorder;

/// `firedrill sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Playbooks whose regions, accounts and endpoint to sweep.
    pub playbooks: Vec<PathBuf>,
    /// A region to sweep (repeatable; default: the playbooks' regions, else the default one).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// An account that deletions may happen in, besides the playbooks' `sandbox.accounts`
    /// (repeatable).
    #[arg(long = "account", value_name = "ID")]
    pub accounts: Vec<String>,
    /// Delete the orphans, each verified as teardown verifies; without it, only list them.
    #[arg(long)]
    pub delete: bool,
    /// How recently a run unknown to the journal may have begun and still be taken for another
    /// machine's run in progress (spared).
    #[arg(long, default_value = "1h")]
    pub grace: Duration,
    /// Sweep the local sandbox.
    #[arg(long, value_enum)]
    pub sandbox: Option<SandboxChoice>,
    #[command(flatten)]
    pub aws: ProfileArg,
}

/// What the playbooks and the arguments say to sweep.
struct Scope {
    regions: Vec<String>,
    allowed: Vec<String>,
    endpoint: Option<String>,
    role_arn: Option<String>,
    local: Option<(String, String)>,
}

/// Runs `firedrill sweep`.
pub fn run(args: &SweepArgs, state_dir: &Path, color: bool) -> u8 {
    let scope = match scope(args, state_dir, color) {
        Ok(s) => s,
        Err(code) => return code,
    };
    runtime().block_on(sweep_in(args, state_dir, scope))
}

fn scope(args: &SweepArgs, state_dir: &Path, color: bool) -> Result<Scope, u8> {
    let mut regions: Vec<String> = args.regions.clone();
    let mut allowed = args.accounts.clone();
    let mut endpoints: Vec<String> = Vec::new();
    let mut roles: Vec<String> = Vec::new();
    for path in &args.playbooks {
        let (file, loaded) = crate::playbook::load(path);
        let loaded = match loaded {
            Ok(l) => l,
            Err(diags) => {
                eprint(&crate::language::diag::render(&file, &diags, color));
                return Err(exit::INVALID);
            }
        };
        let sb = &loaded.playbook.sandbox;
        regions.extend(sb.region.clone());
        allowed.extend(sb.accounts.iter().cloned());
        endpoints.extend(sb.endpoint.clone());
        roles.extend(sb.role_arn.clone());
    }
    for (what, list) in [
        ("sandbox.endpoint", &mut endpoints),
        ("sandbox.role_arn", &mut roles),
    ] {
        list.sort();
        list.dedup();
        if list.len() > 1 {
            error(
                &format!("the playbooks name different `{what}`s"),
                &["sweep one account, through one endpoint and role, at a time".to_owned()],
            );
            return Err(exit::INVALID);
        }
    }
    let local = if let Some(SandboxChoice::Local) = args.sandbox {
        let Some(r) = super::sandbox::running(state_dir) else {
            print("no local sandbox is running: what drills made in it went with it\n");
            return Err(exit::OK);
        };
        allowed.push(r.account.clone());
        if regions.is_empty() {
            regions.push(r.region.clone());
        }
        Some((r.endpoint, r.region))
    } else {
        None
    };
    regions.sort();
    regions.dedup();
    allowed.sort();
    allowed.dedup();
    Ok(Scope {
        regions,
        allowed,
        endpoint: endpoints.pop(),
        role_arn: roles.pop(),
        local,
    })
}

/// The clients of each region swept.
async fn clients(args: &SweepArgs, scope: &Scope) -> Result<Vec<Clients>, String> {
    let base = match &scope.local {
        Some((endpoint, region)) => Clients::for_sandbox(endpoint, region).await,
        None => Clients::new(&AwsOptions {
            region: scope.regions.first().cloned(),
            profile: args.aws.profile.clone(),
            endpoint: scope.endpoint.clone(),
            sandbox_credentials: scope
                .endpoint
                .as_deref()
                .is_some_and(crate::engine::prepare::is_loopback),
            role_arn: scope.role_arn.clone(),
            session_name: Some("firedrill-sweep".into()),
            ..AwsOptions::default()
        })
        .await
        .map_err(|e| e.to_string())?,
    };
    if scope.regions.is_empty() {
        return Ok(vec![base]);
    }
    Ok(scope.regions.iter().map(|r| base.in_region(r)).collect())
}

/// The clients of each region and the account they act in, checked by the guard when the
/// accounts it may act in are known (always before a deletion); `Err`: the exit code, said.
async fn connect(args: &SweepArgs, scope: &Scope) -> Result<(Vec<Clients>, String), u8> {
    let target = if scope.local.is_some() {
        Target::LocalSandbox
    } else {
        Target::Aws
    };
    if scope.allowed.is_empty() && args.delete {
        error(
            "`sweep --delete` deletes only in accounts it is told it may",
            &["give the playbooks (their `sandbox.accounts`) or `--account ID`".to_owned()],
        );
        return Err(exit::REFUSED);
    }
    let regional = clients(args, scope).await.map_err(|e| {
        error(&e, &[]);
        exit::INTERNAL
    })?;
    if scope.allowed.is_empty() {
        return Ok((
            regional,
            "account not checked (no playbook or `--account` names one)".to_owned(),
        ));
    }
    match guard::check(&regional[0], &scope.allowed).await {
        Ok(id) => Ok((regional, format!("account {} ({})", id.account, id.arn))),
        Err(e) => {
            error(&e.to_string(), &e.hints(target));
            Err(exit::REFUSED)
        }
    }
}

async fn sweep_in(args: &SweepArgs, state_dir: &Path, scope: Scope) -> u8 {
    let (regional, account) = match connect(args, &scope).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let journal = match Journal::open_read_only(state_dir) {
        Ok(j) => j,
        // Without the journal's word, every run would look unknown: nothing is judged.
        Err(e) => {
            error(
                &format!("cannot read the journal: {e}"),
                &[
                    "sweep judges each resource by its run's journal; fix or move it first"
                        .to_owned(),
                ],
            );
            return exit::INTERNAL;
        }
    };
    // Each known run's lock: held while its resources are deleted (with `--delete`), so that
    // no teardown of it runs at the same time; only tried, then let go, when listing.
    let mut progress: HashMap<String, bool> = HashMap::new();
    let mut held: Vec<std::fs::File> = Vec::new();
    let mut failed: Option<String> = None;
    let runs = |run_id: &str| -> Option<RunInfo> {
        let record = match journal.as_ref().map(|j| j.run(run_id)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                failed.get_or_insert(e.to_string());
                None
            }
            None => None,
        };
        // A run with a directory here has a lock, journal or not.
        let has_dir = crate::store::lock::run_dir(state_dir, run_id).is_dir();
        let in_progress = (record.is_some() || has_dir)
            && *progress.entry(run_id.to_owned()).or_insert_with(|| {
                match crate::store::lock::lock_run(state_dir, run_id) {
                    Ok(Some(lock)) => {
                        if args.delete {
                            held.push(lock);
                        }
                        false
                    }
                    // Held by a live process, or it cannot be told: in progress.
                    Ok(None) | Err(_) => true,
                }
            });
        let Some(r) = record else {
            return in_progress.then(|| RunInfo {
                state: "running".into(),
                in_progress,
                ..RunInfo::default()
            });
        };
        let recorded = journal
            .as_ref()
            .and_then(|j| j.resources(run_id).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|x| x.resource_id)
            .collect();
        Some(RunInfo {
            state: r.state,
            teardown_state: r.teardown_state,
            keep_until: r.keep_until,
            in_progress,
            recorded,
        })
    };
    let now = chrono::Utc::now();
    let mut found = match sweep::find(&regional, runs, now, args.grace.0).await {
        Ok(f) => f,
        Err(e) => {
            error(&format!("cannot list what firedrill made: {e}"), &[]);
            return exit::INTERNAL;
        }
    };
    if let Some(e) = failed {
        error(
            &format!("cannot read the journal: {e}"),
            &["sweep judges each resource by its run's journal; fix or move it first".to_owned()],
        );
        return exit::INTERNAL;
    }
    found.sort_by_key(|f| {
        (
            order(f.resource.kind),
            f.region.clone(),
            f.resource.id.clone(),
        )
    });
    let regions: Vec<&str> = regional.iter().map(|c| c.region.as_str()).collect();
    print(&render(&found, &account, &regions, now, args.delete));
    if !args.delete {
        return exit::OK;
    }
    let code = delete_orphans(
        &found,
        &regional,
        state_dir,
        scope.local.is_some() || scope.endpoint.is_some(),
    )
    .await;
    drop(held);
    code
}

/// Deletes the orphans in `found`, dependents first; says how each went; the exit code.
async fn delete_orphans(
    found: &[Found],
    regional: &[Clients],
    state_dir: &Path,
    local: bool,
) -> u8 {
    let recorder = Journal::file(state_dir)
        .exists()
        .then(|| Journal::open(state_dir).ok())
        .flatten()
        .map(Recorder::start);
    let stop = tokio_util::sync::CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.cancel();
            }
        });
    }
    let poll = crate::engine::prepare::poll_interval(local);
    let (mut deleted, mut left) = (0, 0);
    for f in found
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Orphan(_)))
    {
        let Some(clients) = regional.iter().find(|c| c.region == f.region) else {
            continue;
        };
        let pollers = Pollers::new(Some(clients.clone()), poll);
        let row = match &recorder {
            Some(rec) => journal_row(rec, f).await,
            None => None,
        };
        let book = match (&recorder, row) {
            (Some(rec), Some(row)) => Book::row(rec, row),
            _ => Book::none(),
        };
        let kind = f.resource.kind.name();
        match sweep::delete(f, &pollers, book, poll, &stop).await {
            Settled::Gone(how) => {
                deleted += 1;
                print(&format!("{kind} {} ({}): {how}\n", f.resource.id, f.region));
            }
            Settled::Left(why) => {
                left += 1;
                print(&format!(
                    "{kind} {} ({}) LEFT BEHIND: {why}\n",
                    f.resource.id, f.region
                ));
            }
        }
    }
    if let Some(rec) = &recorder {
        let _ = rec.flush().await;
    }
    print(&format!("sweep: {deleted} deleted, {left} left behind\n"));
    if left > 0 {
        exit::TEARDOWN_INCOMPLETE
    } else {
        exit::OK
    }
}

/// The journal's row of a found resource, when its run is in the journal and made it.
async fn journal_row(recorder: &Recorder, f: &Found) -> Option<i64> {
    let (run, id) = (f.resource.run().to_owned(), f.resource.id.clone());
    recorder
        .call(move |j| j.resources(&run))
        .await
        .ok()?
        .into_iter()
        .find(|r| {
            r.resource_id.as_deref() == Some(id.as_str()) && r.status != ResourceStatus::Deleted
        })
        .map(|r| r.id)
}

/// The order deletions go in: what depends on others first (an instance before the volume
/// attached to it, a cluster's instances before the cluster).
fn order(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::Ec2Instance => 0,
        ResourceKind::CfnStack => 1,
        ResourceKind::RdsInstance => 2,
        ResourceKind::RdsSnapshot => 3,
        ResourceKind::RdsCluster => 4,
        ResourceKind::Ec2Volume => 5,
        ResourceKind::Route53Record => 6,
    }
}

/// The listing: a line for the account and regions, then one per resource (verdict, kind,
/// id, region, age of its run, run, why), columns sized to content.
fn render(
    found: &[Found],
    account: &str,
    regions: &[&str],
    now: chrono::DateTime<chrono::Utc>,
    deleting: bool,
) -> String {
    let orphans = found
        .iter()
        .filter(|f| matches!(f.verdict, Verdict::Orphan(_)))
        .count();
    let spared = found.len() - orphans;
    let mut out = format!(
        "sweep of {account}, {}: {orphans} orphan{}, {spared} spared\n",
        if regions.is_empty() {
            "the default region".to_owned()
        } else {
            regions.join(", ")
        },
        if orphans == 1 { "" } else { "s" }
    );
    let rows: Vec<[String; 7]> = found
        .iter()
        .map(|f| {
            let (verdict, why) = match &f.verdict {
                Verdict::Orphan(why) => ("orphan", why.as_str()),
                Verdict::Spared(why) => ("spared", why.as_str()),
            };
            let age = f.run_started.map_or_else(
                || "?".to_owned(),
                |s| {
                    #[allow(clippy::cast_precision_loss)]
                    let secs = now.signed_duration_since(s).num_seconds().max(0) as f64;
                    human(secs)
                },
            );
            [
                verdict.to_owned(),
                f.resource.kind.name().to_owned(),
                f.resource.id.clone(),
                f.region.clone(),
                age,
                f.resource.run().to_owned(),
                why.to_owned(),
            ]
        })
        .collect();
    let mut widths = [0usize; 6];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in &rows {
        let mut line = String::from(" ");
        for (w, cell) in widths.iter().zip(row.iter()) {
            line.push_str(&format!(" {cell:<w$}"));
        }
        line.push_str(&format!("  {}\n", row[6]));
        out.push_str(&line);
    }
    if orphans > 0 && !deleting {
        out.push_str(&format!(
            "add `--delete` to delete the {orphans} orphan{} (each verified as teardown verifies)\n",
            if orphans == 1 { "" } else { "s" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::resource::{TAG_RUN, Tagged};

    #[test]
    fn the_listing_has_a_line_per_resource_with_its_verdict_and_why() {
        let tagged = |kind, id: &str, run: &str| {
            Tagged::of(kind, id, [(Some(TAG_RUN), Some(run))].into_iter()).expect("tagged")
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        let found = vec![
            Found {
                resource: tagged(
                    ResourceKind::Ec2Instance,
                    "i-0abc",
                    "20261202-100000-aaaaaaaa",
                ),
                region: "us-east-1".into(),
                run_started: sweep::run_started("20261202-100000-aaaaaaaa"),
                verdict: Verdict::Orphan(
                    "its run is unknown to the journal (lost with its disk or pod?)".into(),
                ),
            },
            Found {
                resource: tagged(ResourceKind::RdsInstance, "shop-prod", "forged"),
                region: "us-east-1".into(),
                run_started: None,
                verdict: Verdict::Spared(
                    "it is tagged as production (environment=production): never touched".into(),
                ),
            },
        ];
        insta::assert_snapshot!(render(&found, "account 123456789012 (arn:aws:sts::123456789012:user/moto)", &["us-east-1"], now, false), @r"
        sweep of account 123456789012 (arn:aws:sts::123456789012:user/moto), us-east-1: 1 orphan, 1 spared
          orphan ec2-instance i-0abc    us-east-1 2h 20261202-100000-aaaaaaaa  its run is unknown to the journal (lost with its disk or pod?)
          spared rds-instance shop-prod us-east-1 ?  forged                    it is tagged as production (environment=production): never touched
        add `--delete` to delete the 1 orphan (each verified as teardown verifies)
        ");
    }
}
