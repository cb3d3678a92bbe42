//! `route53.record`: the DNS cut-over. The step reads the record set that is there now, journals
//! it with the one it is about to write (before the change is made), upserts, and waits until
//! the change is `INSYNC`. Teardown puts back exactly what was there before, or deletes the
//! record when there was none — and only while the record still holds what the drill wrote:
//! a record someone changed since is reported, never overwritten.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};
use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::aws::poll::{Found, Watch};
use crate::aws::sdk_error;
use crate::steps::context::{Outputs, Perform, Readiness, ReadyCx, StepCx, StepError};
use crate::steps::resource::{Owner, ResourceKind};
use crate::steps::route53::{Record, RecordType};

/// What one describe call gives for a batch of change statuses (`GetChange` names one change per call).
pub struct Changes;

impl Watch for Changes {
    type Item = String;
    const BATCH: usize = 1;

    fn describe(
        clients: &Clients,
        ids: Vec<String>,
    ) -> impl Future<Output = Result<Found<Self::Item>, String>> + Send + 'static + use<> {
        let r53 = clients.route53();
        async move {
            let mut found = Found::new();
            for id in ids {
                let out = r53
                    .get_change()
                    .id(&id)
                    .send()
                    .await
                    .map_err(|e| format!("GetChange: {}", sdk_error(&e)))?;
                if let Some(info) = out.change_info() {
                    found.insert(id, info.status().as_str().to_owned());
                }
            }
            Ok(found)
        }
    }
}

/// A record set's contents, as the journal keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contents {
    /// The TTL (absent for alias records).
    pub ttl: Option<i64>,
    /// The values, sorted.
    pub values: Vec<String>,
    /// An alias target: hosted zone id, DNS name, evaluate target health.
    pub alias: Option<(String, String, bool)>,
}

/// What the journal holds for a changed record: everything teardown needs, written before the
/// change is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutover {
    /// The run that made the change.
    pub run: String,
    /// The hosted zone id.
    pub zone_id: String,
    /// The fully qualified name, with the final dot.
    pub name: String,
    /// The record type.
    #[serde(rename = "type")]
    pub record_type: String,
    /// What the drill wrote.
    pub ours: Contents,
    /// What was there before (none: no record).
    pub previous: Option<Contents>,
}

fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::AAAA => RrType::Aaaa,
        RecordType::CNAME => RrType::Cname,
        RecordType::TXT => RrType::Txt,
        RecordType::MX => RrType::Mx,
        RecordType::SRV => RrType::Srv,
    }
}

fn dotted(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

fn bare_zone_id(id: &str) -> String {
    id.trim_start_matches("/hostedzone/").to_owned()
}

/// The zone's id and name.
async fn zone(
    cx: &StepCx,
    clients: &Clients,
    with: &Record,
) -> Result<(String, String), StepError> {
    let r53 = clients.route53();
    if let Some(id) = &with.zone_id {
        let id = cx.render(id)?;
        let out = r53.get_hosted_zone().id(&id).send().await.map_err(|e| {
            StepError::failed(format!("no hosted zone with id `{id}`: {}", sdk_error(&e)))
        })?;
        let name = out
            .hosted_zone()
            .map(|z| z.name().to_owned())
            .unwrap_or_default();
        return Ok((bare_zone_id(&id), dotted(&name)));
    }
    let wanted = cx.render(
        with.zone
            .as_ref()
            .ok_or("no hosted zone is named".to_owned())?,
    )?;
    zone_by_name(clients, &wanted).await
}

/// The id and name of the one hosted zone named `name`.
async fn zone_by_name(clients: &Clients, name: &str) -> Result<(String, String), StepError> {
    let wanted = dotted(name);
    let out = clients
        .route53()
        .list_hosted_zones_by_name()
        .dns_name(&wanted)
        .send()
        .await
        .map_err(|e| StepError::failed(format!("ListHostedZonesByName: {}", sdk_error(&e))))?;
    let zones = out.hosted_zones();
    let matching: Vec<_> = zones
        .iter()
        .filter(|z| dotted(z.name()).eq_ignore_ascii_case(&wanted))
        .collect();
    match matching.as_slice() {
        [one] => Ok((bare_zone_id(one.id()), wanted)),
        [] => {
            let known: Vec<&str> = zones
                .iter()
                .map(aws_sdk_route53::types::HostedZone::name)
                .collect();
            Err(StepError::failed(format!(
                "no hosted zone named `{wanted}`{}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!(" (zones near it: {})", known.join(", "))
                }
            )))
        }
        many => Err(StepError::failed(format!(
            "{} hosted zones are named `{wanted}`: give `zone_id:` instead",
            many.len()
        ))),
    }
}

fn contents_of(set: &ResourceRecordSet) -> Contents {
    let mut values: Vec<String> = set
        .resource_records()
        .iter()
        .map(|r| r.value().to_owned())
        .collect();
    values.sort();
    Contents {
        ttl: set.ttl(),
        values,
        alias: set.alias_target().map(|a| {
            (
                a.hosted_zone_id().to_owned(),
                a.dns_name().to_owned(),
                a.evaluate_target_health(),
            )
        }),
    }
}

/// The record set of `name` and `record_type` in the zone now, if any.
async fn current(
    clients: &Clients,
    zone_id: &str,
    name: &str,
    record_type: &str,
) -> Result<Option<ResourceRecordSet>, String> {
    let out = clients
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(name)
        .start_record_type(RrType::from(record_type))
        .max_items(1)
        .send()
        .await
        .map_err(|e| format!("ListResourceRecordSets: {}", sdk_error(&e)))?;
    Ok(out
        .resource_record_sets()
        .iter()
        .find(|s| dotted(s.name()).eq_ignore_ascii_case(name) && s.r#type().as_str() == record_type)
        .cloned())
}

fn record_set(
    name: &str,
    record_type: &str,
    contents: &Contents,
) -> Result<ResourceRecordSet, String> {
    let mut set = ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::from(record_type))
        .set_ttl(contents.ttl);
    for v in &contents.values {
        set = set.resource_records(
            ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    if let Some((zone, dns, health)) = &contents.alias {
        set = set.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(dns)
                .evaluate_target_health(*health)
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    set.build().map_err(|e| e.to_string())
}

async fn change(
    clients: &Clients,
    zone_id: &str,
    action: ChangeAction,
    set: ResourceRecordSet,
    comment: &str,
) -> Result<String, String> {
    let batch = ChangeBatch::builder()
        .comment(comment)
        .changes(
            Change::builder()
                .action(action)
                .resource_record_set(set)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .build()
        .map_err(|e| e.to_string())?;
    let out = clients
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(|e| format!("ChangeResourceRecordSets: {}", sdk_error(&e)))?;
    Ok(out
        .change_info()
        .map(|c| c.id().trim_start_matches("/change/").to_owned())
        .unwrap_or_default())
}

/// Runs attempt `attempt` of a `route53.record` step. Each attempt journals its own row: a
/// retry after a change that went through records the drill's value as what was there, and
/// teardown, undoing the newest row first, still ends with the original record.
pub async fn upsert(with: &Record, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
    let clients = cx.clients()?;
    let (zone_id, zone_name) = zone(cx, clients, with).await?;
    let name = cx.render(&with.name)?;
    let fqdn = if name.ends_with('.') {
        name
    } else {
        format!("{name}.{zone_name}")
    };
    let record_type = rr_type(with.record_type).as_str().to_owned();
    let mut values = cx.render_all(&with.value.0)?;
    values.sort();
    let previous = current(clients, &zone_id, &fqdn, &record_type).await?;
    if let Some(p) = &previous
        && (p.set_identifier().is_some() || p.failover().is_some() || p.geo_location().is_some())
    {
        return Err(StepError::failed(format!(
            "`{fqdn}` {record_type} is a routing-policy record set (weighted, failover, latency or \
             geolocation): firedrill cuts over simple records only"
        )));
    }
    let cutover = Cutover {
        run: cx.scope.run_id.clone(),
        zone_id: zone_id.clone(),
        name: fqdn.clone(),
        record_type: record_type.clone(),
        ours: Contents {
            ttl: Some(i64::from(with.ttl)),
            values,
            alias: None,
        },
        previous: previous.as_ref().map(contents_of),
    };
    let journaled =
        serde_json::to_string(&cutover).map_err(|e| StepError::failed(e.to_string()))?;
    let set = record_set(&fqdn, &record_type, &cutover.ours)?;
    // The journal row holds everything teardown needs before the change is made.
    cx.create_described(ResourceKind::Route53Record, &cx.token(attempt), &journaled)
        .await?;
    let change_id = change(
        clients,
        &zone_id,
        ChangeAction::Upsert,
        set,
        &format!("firedrill run {}: step {}", cx.scope.run_id, cx.step),
    )
    .await?;
    let poller = cx.pollers().get::<Changes>()?;
    cx.wait_for(&poller, &change_id, |status| {
        (status.map(String::as_str) == Some(ChangeStatus::Insync.as_str())).then_some(Ok(()))
    })
    .await?;
    let mut out = Outputs::new();
    out.insert("fqdn".into(), fqdn);
    out.insert("zone_id".into(), zone_id);
    out.insert("change_id".into(), change_id);
    Ok(out)
}

/// The values of `name`'s record set of `record_type`, read through the Route53 API, in `zone`
/// (a zone name) or in the hosted zone whose name is the longest suffix of `name`.
pub async fn lookup(
    clients: &Clients,
    name: &str,
    record_type: RecordType,
    zone: Option<&str>,
) -> Result<Vec<String>, StepError> {
    let name = dotted(name);
    let zone_id = if let Some(zone) = zone {
        zone_by_name(clients, zone).await?.0
    } else {
        let zones = clients
            .route53()
            .list_hosted_zones()
            .send()
            .await
            .map_err(|e| StepError::failed(format!("ListHostedZones: {}", sdk_error(&e))))?;
        // The zone whose name is the longest suffix of the name.
        let n = name.to_ascii_lowercase();
        let chosen = zones
            .hosted_zones()
            .iter()
            .filter(|z| {
                let z = dotted(z.name()).to_ascii_lowercase();
                n == z || n.ends_with(&format!(".{z}"))
            })
            .max_by_key(|z| z.name().len())
            .ok_or_else(|| StepError::failed(format!("no hosted zone holds {name}")))?;
        bare_zone_id(chosen.id())
    };
    let record_type = rr_type(record_type).as_str().to_owned();
    let set = current(clients, &zone_id, &name, &record_type).await?;
    Ok(set.map_or_else(Vec::new, |s| {
        let c = contents_of(&s);
        match c.alias {
            Some((_, dns, _)) => vec![dns],
            None => c.values,
        }
    }))
}

/// A journaled change as it reads in messages: `www.shop.internal. A in zone Z123`.
pub fn label(id: &str) -> String {
    parse(id).map_or_else(
        |_| id.to_owned(),
        |c| format!("{} {} in zone {}", c.name, c.record_type, c.zone_id),
    )
}

fn parse(id: &str) -> Result<Cutover, String> {
    serde_json::from_str(id)
        .map_err(|e| format!("the journal's record of the change is unreadable: {e}"))
}

/// What putting a change back did, in words: `restored (A 10.0.1.10, TTL 300)`, or `deleted
/// (there was no record before the drill)`.
pub fn undone(id: &str) -> String {
    let Ok(c) = parse(id) else {
        return "restored".to_owned();
    };
    match &c.previous {
        Some(p) => {
            let what = match &p.alias {
                Some((_, dns, _)) => format!("alias {dns}"),
                None => p.values.join(", "),
            };
            let ttl = p.ttl.map(|t| format!(", TTL {t}")).unwrap_or_default();
            format!("restored ({} {what}{ttl})", c.record_type)
        }
        None => "deleted (there was no record before the drill)".to_owned(),
    }
}

/// Whether the record still holds what the run wrote (its owner), is back as it was (gone),
/// or was changed by someone else since.
pub async fn record_owner(clients: &Clients, id: &str) -> Result<Owner, String> {
    let c = parse(id)?;
    let now = current(clients, &c.zone_id, &c.name, &c.record_type)
        .await?
        .map(|s| contents_of(&s));
    Ok(
        if now.as_ref() == Some(&c.ours) && c.previous.as_ref() != Some(&c.ours) {
            Owner::Run(c.run)
        } else if now == c.previous {
            Owner::Gone
        } else {
            Owner::Changed(format!(
                "{} {} no longer holds what the drill wrote ({:?}): someone changed it since",
                c.name, c.record_type, c.ours.values
            ))
        },
    )
}

/// Puts back the record set that was there before the drill, or deletes the drill's when
/// there was none.
pub async fn restore_record(clients: &Clients, id: &str) -> Result<(), String> {
    let c = parse(id)?;
    let comment = format!("firedrill run {}: restore", c.run);
    if let Some(previous) = &c.previous {
        let set = record_set(&c.name, &c.record_type, previous)?;
        change(clients, &c.zone_id, ChangeAction::Upsert, set, &comment).await?;
    } else {
        let set = record_set(&c.name, &c.record_type, &c.ours)?;
        match change(clients, &c.zone_id, ChangeAction::Delete, set, &comment).await {
            // Already gone.
            Err(e) if !e.contains("not found") => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

impl Perform for Record {
    async fn ready(&self, cx: &ReadyCx<'_>) -> Readiness {
        let found = if let Some(id) = &self.zone_id {
            let id = match cx.render(id) {
                Ok(id) => id,
                Err(r) => return r,
            };
            cx.clients
                .route53()
                .get_hosted_zone()
                .id(&id)
                .send()
                .await
                .map(|out| {
                    let name = out
                        .hosted_zone()
                        .map(|z| z.name().to_owned())
                        .unwrap_or_default();
                    (bare_zone_id(&id), dotted(&name))
                })
                .map_err(|e| format!("no hosted zone with id `{id}`: {}", sdk_error(&e)))
        } else {
            let Some(zone) = &self.zone else {
                return Readiness::NotReady {
                    reason: "no hosted zone is named".to_owned(),
                };
            };
            let name = match cx.render(zone) {
                Ok(n) => n,
                Err(r) => return r,
            };
            zone_by_name(cx.clients, &name)
                .await
                .map_err(|e| e.to_string())
        };
        match found {
            Ok((id, name)) => Readiness::Ready {
                detail: format!("hosted zone `{name}` ({id})"),
            },
            Err(reason) => Readiness::NotReady { reason },
        }
    }

    fn needs_aws(&self) -> bool {
        true
    }

    async fn perform(&self, cx: &StepCx, attempt: u32) -> Result<Outputs, StepError> {
        upsert(self, cx, attempt).await
    }
}
