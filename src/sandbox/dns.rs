//! The sandbox's name server: the Route53 hosted zones that moto holds, answered over DNS (UDP
//! and TCP) on a loopback port, the way Route53's authoritative servers answer them, so that a
//! drill's cut-over is seen by a DNS query and undone when the teardown puts the record back.
//!
//! Rules:
//! - Every query reads the zone from moto afresh (two calls: the zones, then the best zone's
//!   record sets): an answer is never staler than moto. Route53 says a change reaches all its
//!   servers within 60 s; the sandbox's is there at once, while `GetChange` still says
//!   `PENDING` for the scaled minute (the realism layer).
//! - The zone that answers is the longest one whose name ends the query's; of two zones with
//!   that name a private one answers (a drill's probes stand where its apps do, in the VPC).
//!   A name in no zone is refused (`REFUSED`, as any authoritative server does); a name in a
//!   zone without records is `NXDOMAIN` with the zone's SOA.
//! - Routing policies answer as Route53's do when every health check passes (the sandbox has
//!   none): failover gives the primary; weighted picks by weight (the query id is the dice);
//!   multivalue gives all; latency gives the sandbox's region's, else the first; geolocation
//!   gives the default (`*`), else the first. Alias records answer with their target's
//!   records when the target is in one of the sandbox's zones (followed up to 8 hops); an alias
//!   to anything else (a load balancer, a CDN) has nothing to answer with and is left out.
//! - What hickory's catalog does for a zone it holds (CNAME chains inside the zone, wildcards,
//!   SOA in the authority section, EDNS, truncation and TCP) is hickory's, not rewritten here.
//!
//! It knows moto's Route53 API and DNS; nothing of drills, the journal or the realism layer.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_route53::types::{
    HostedZone, HostedZoneConfig, ResourceRecordSet, ResourceRecordSetFailover, RrType,
};
use hickory_server::net::runtime::{Time, TokioRuntimeProvider};
use hickory_server::proto::op::{Header, HeaderCounts, Metadata, ResponseCode};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordSet, RecordType, RrKey};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, MessageResponseBuilder, ZoneType};

/// How many alias hops are followed before an alias is taken to lead nowhere.
const MAX_ALIAS_HOPS: usize = 8;

/// The SOA of a zone whose own does not parse: Route53's, with its serial 1.
const DEFAULT_SOA: &str =
    "ns-2048.awsdns-64.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400";

/// The TTL of an alias record's answer (Route53 gives the target's; 60 s is its common one).
const ALIAS_TTL: u32 = 60;

/// The running name server; it stops when dropped.
pub struct RunningDns {
    /// Where it answers, UDP and TCP.
    pub addr: SocketAddr,
    _server: hickory_server::Server<Route53Zones>,
}

/// Starts the name server on `127.0.0.1:port` (0: a free port, the same for UDP and TCP),
/// answering from the Route53 zones of the moto server at `moto`; `region` is the sandbox's
/// (for latency records).
pub async fn start(port: u16, moto: SocketAddr, region: &str) -> std::io::Result<RunningDns> {
    let clients = crate::aws::Clients::for_sandbox(&format!("http://{moto}"), region).await;
    let zones = Route53Zones {
        route53: clients.route53(),
        region: region.to_owned(),
    };
    let (udp, tcp) = bind_both(port).await?;
    let addr = udp.local_addr()?;
    let mut server = hickory_server::Server::new(zones);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
    Ok(RunningDns {
        addr,
        _server: server,
    })
}

/// A UDP socket and a TCP listener on the same loopback port: `port`, or a free one (a free
/// UDP port may be taken for TCP; then another is tried).
async fn bind_both(port: u16) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    let mut last = None;
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let bound = udp.local_addr()?.port();
        match tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, bound)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) if port == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port for DNS")))
}

/// The request handler: the zones read from moto for each query.
pub struct Route53Zones {
    route53: aws_sdk_route53::Client,
    region: String,
}

#[async_trait::async_trait]
impl RequestHandler for Route53Zones {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let name = request.queries.queries().first().map(|q| q.name().clone());
        let catalog = match name {
            Some(name) => self.catalog_for(&name, request.metadata.id).await,
            None => Ok(Catalog::new()),
        };
        match catalog {
            Ok(catalog) => {
                catalog
                    .handle_request::<R, T>(request, response_handle)
                    .await
            }
            Err(e) => {
                tracing::warn!("the sandbox's name server cannot read Route53 from moto: {e}");
                let response = MessageResponseBuilder::from_message_request(request)
                    .error_msg(&request.metadata, ResponseCode::ServFail);
                response_handle
                    .send_response(response)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!("the sandbox's name server cannot answer: {e}");
                        let mut metadata = Metadata::response_from_request(&request.metadata);
                        metadata.response_code = ResponseCode::ServFail;
                        Header {
                            metadata,
                            counts: HeaderCounts::default(),
                        }
                        .into()
                    })
            }
        }
    }
}

/// Why a zone could not be read from moto (logged; the query is answered `SERVFAIL`).
#[derive(Debug, thiserror::Error)]
enum ReadError {
    /// A Route53 call to moto failed.
    #[error("moto did not answer: {0}")]
    Moto(String),
    /// A name moto gave is not a DNS name.
    #[error("{name:?} is not a DNS name: {reason}")]
    Name {
        /// The name as moto gave it.
        name: String,
        /// Why.
        reason: hickory_server::proto::ProtoError,
    },
    /// hickory refused the zone.
    #[error("zone {zone}: {reason}")]
    Zone {
        /// The zone.
        zone: String,
        /// What hickory said.
        reason: String,
    },
}

/// A name moto gave, as a DNS name.
fn moto_name(text: &str) -> Result<Name, ReadError> {
    route53_name(text).map_err(|reason| ReadError::Name {
        name: text.to_owned(),
        reason,
    })
}

impl Route53Zones {
    /// A catalog holding the one zone that answers for `name` (none: the name is refused).
    async fn catalog_for(&self, name: &Name, dice: u16) -> Result<Catalog, ReadError> {
        let zones = self.zones().await?;
        let mut catalog = Catalog::new();
        let Some(zone) = best_zone(&zones, name) else {
            return Ok(catalog);
        };
        let origin = zone_name(zone)?;
        let sets = self.record_sets(zone.id()).await?;
        let mut records = BTreeMap::new();
        for ((owner, rtype), group) in group_sets(&sets) {
            let chosen = choose(&group, &self.region, dice);
            let mut set = RecordSet::new(owner.clone(), rtype, 0);
            for rrset in chosen {
                for record in self
                    .records_of(rrset, &owner, rtype, &zones, &sets, dice)
                    .await?
                {
                    set.insert(record, 0);
                }
            }
            if !set.is_empty() {
                records.insert(RrKey::new(LowerName::new(&owner), rtype), set);
            }
        }
        // Every zone has its SOA; one that does not parse is put back as Route53 writes it.
        records
            .entry(RrKey::new(LowerName::new(&origin), RecordType::SOA))
            .or_insert_with(|| {
                let mut set = RecordSet::new(origin.clone(), RecordType::SOA, 0);
                let soa = RData::try_from_str(RecordType::SOA, DEFAULT_SOA)
                    .expect("the default SOA parses");
                set.insert(Record::from_rdata(origin.clone(), 900, soa), 0);
                set
            });
        let handler = InMemoryZoneHandler::<TokioRuntimeProvider>::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
        )
        .map_err(|reason| ReadError::Zone {
            zone: origin.to_string(),
            reason,
        })?;
        catalog.upsert(LowerName::new(&origin), vec![Arc::new(handler)]);
        Ok(catalog)
    }

    /// Every hosted zone.
    async fn zones(&self) -> Result<Vec<HostedZone>, ReadError> {
        let mut zones = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .route53
                .list_hosted_zones()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| ReadError::Moto(crate::aws::sdk_error(&e)))?;
            zones.extend(page.hosted_zones().iter().cloned());
            match page.next_marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => return Ok(zones),
            }
        }
    }

    /// Every record set of zone `id`.
    async fn record_sets(&self, id: &str) -> Result<Vec<ResourceRecordSet>, ReadError> {
        let mut sets = Vec::new();
        let mut next: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut call = self.route53.list_resource_record_sets().hosted_zone_id(id);
            if let Some((name, rtype, identifier)) = next.take() {
                call = call
                    .start_record_name(name)
                    .start_record_type(rtype)
                    .set_start_record_identifier(identifier);
            }
            let page = call
                .send()
                .await
                .map_err(|e| ReadError::Moto(crate::aws::sdk_error(&e)))?;
            sets.extend(page.resource_record_sets().iter().cloned());
            match (
                page.is_truncated(),
                page.next_record_name(),
                page.next_record_type(),
            ) {
                (true, Some(name), Some(rtype)) => {
                    next = Some((
                        name.to_owned(),
                        rtype.clone(),
                        page.next_record_identifier().map(str::to_owned),
                    ));
                }
                _ => return Ok(sets),
            }
        }
    }

    /// The DNS records of one chosen record set, named `owner`: its values, or for an alias its
    /// target's records of the same type.
    async fn records_of(
        &self,
        rrset: &ResourceRecordSet,
        owner: &Name,
        rtype: RecordType,
        zones: &[HostedZone],
        sets: &[ResourceRecordSet],
        dice: u16,
    ) -> Result<Vec<Record>, ReadError> {
        let Some(alias) = rrset.alias_target() else {
            let ttl = rrset
                .ttl()
                .and_then(|t| u32::try_from(t).ok())
                .unwrap_or(300);
            return Ok(values(rrset, rtype)
                .into_iter()
                .map(|data| Record::from_rdata(owner.clone(), ttl, data))
                .collect());
        };
        let mut target = moto_name(alias.dns_name())?;
        for _ in 0..MAX_ALIAS_HOPS {
            let other_zone_sets;
            let in_zone = sets.iter().any(|s| same_name(s.name(), &target));
            let pool: &[ResourceRecordSet] = if in_zone {
                sets
            } else {
                let Some(zone) = best_zone(zones, &target) else {
                    return Ok(Vec::new());
                };
                other_zone_sets = self.record_sets(zone.id()).await?;
                &other_zone_sets
            };
            let group: Vec<&ResourceRecordSet> = pool
                .iter()
                .filter(|s| same_name(s.name(), &target) && record_type(s.r#type()) == Some(rtype))
                .collect();
            let chosen = choose(&group, &self.region, dice);
            if let Some(next) = chosen.iter().find_map(|s| s.alias_target()) {
                target = moto_name(next.dns_name())?;
                continue;
            }
            return Ok(chosen
                .iter()
                .flat_map(|s| values(s, rtype))
                .map(|data| Record::from_rdata(owner.clone(), ALIAS_TTL, data))
                .collect());
        }
        Ok(Vec::new())
    }
}

/// The zone that answers for `name`: the longest whose name ends it, a private one before a
/// public one of the same name.
fn best_zone<'z>(zones: &'z [HostedZone], name: &Name) -> Option<&'z HostedZone> {
    zones
        .iter()
        .filter_map(|z| {
            let origin = zone_name(z).ok()?;
            origin
                .zone_of(name)
                .then_some((origin.num_labels(), private(z), z))
        })
        .max_by_key(|(labels, private, _)| (*labels, *private))
        .map(|(_, _, z)| z)
}

fn private(zone: &HostedZone) -> bool {
    zone.config().is_some_and(HostedZoneConfig::private_zone)
}

fn zone_name(zone: &HostedZone) -> Result<Name, ReadError> {
    moto_name(zone.name())
}

fn same_name(route53: &str, name: &Name) -> bool {
    route53_name(route53).is_ok_and(|n| LowerName::new(&n) == LowerName::new(name))
}

/// A name as Route53 writes it (`\052.shop.internal.`: any byte other than a letter, digit,
/// hyphen or underscore as a three-digit octal escape, `*` as `\052`), as a DNS name.
fn route53_name(text: &str) -> Result<Name, hickory_server::proto::ProtoError> {
    let bytes = text.trim_end_matches('.').as_bytes();
    let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        let label = labels.last_mut().expect("one label at least");
        match (octal, bytes[i]) {
            (Some(byte), _) => {
                label.push(byte);
                i += 4;
            }
            (None, b'.') => {
                labels.push(Vec::new());
                i += 1;
            }
            (None, byte) => {
                label.push(byte);
                i += 1;
            }
        }
    }
    if labels == [Vec::<u8>::new()] {
        return Ok(Name::root());
    }
    let mut name = Name::from_labels(labels)?;
    name.set_fqdn(true);
    Ok(name)
}

/// The DNS type of a Route53 record type (none for a type DNS has no text form of here).
fn record_type(rtype: &RrType) -> Option<RecordType> {
    rtype.as_str().parse().ok()
}

/// The record sets grouped by (owner, type): the sets one DNS answer is chosen from.
fn group_sets(sets: &[ResourceRecordSet]) -> BTreeMap<(Name, RecordType), Vec<&ResourceRecordSet>> {
    let mut groups: BTreeMap<(Name, RecordType), Vec<&ResourceRecordSet>> = BTreeMap::new();
    for set in sets {
        let (Ok(owner), Some(rtype)) = (route53_name(set.name()), record_type(set.r#type())) else {
            tracing::warn!(
                "the sandbox's name server skips {} {}",
                set.name(),
                set.r#type()
            );
            continue;
        };
        groups.entry((owner, rtype)).or_default().push(set);
    }
    groups
}

/// Which of the record sets of one name and type answer, as Route53 chooses when every health
/// check passes (see the module's rules).
fn choose<'s>(
    group: &[&'s ResourceRecordSet],
    region: &str,
    dice: u16,
) -> Vec<&'s ResourceRecordSet> {
    let Some(first) = group.first() else {
        return Vec::new();
    };
    if group.len() == 1 || first.set_identifier().is_none() {
        return vec![first];
    }
    if let Some(primary) = group
        .iter()
        .find(|s| s.failover() == Some(&ResourceRecordSetFailover::Primary))
    {
        return vec![primary];
    }
    if group.iter().any(|s| s.multi_value_answer() == Some(true)) {
        return group.to_vec();
    }
    if group.iter().any(|s| s.weight().is_some()) {
        let weights: Vec<u64> = group
            .iter()
            .map(|s| s.weight().and_then(|w| u64::try_from(w).ok()).unwrap_or(0))
            .collect();
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return vec![group[usize::from(dice) % group.len()]];
        }
        let mut roll = u64::from(dice) % total;
        for (set, weight) in group.iter().zip(&weights) {
            if roll < *weight {
                return vec![set];
            }
            roll -= weight;
        }
    }
    if let Some(here) = group
        .iter()
        .find(|s| s.region().is_some_and(|r| r.as_str() == region))
    {
        return vec![here];
    }
    if let Some(default) = group
        .iter()
        .find(|s| s.geo_location().and_then(|g| g.country_code()) == Some("*"))
    {
        return vec![default];
    }
    vec![first]
}

/// A record set's values as DNS data (a value that does not parse is left out, with a warning).
fn values(set: &ResourceRecordSet, rtype: RecordType) -> Vec<RData> {
    set.resource_records()
        .iter()
        .filter_map(
            |r| match RData::try_from_str(rtype, moto_value(r.value())) {
                Ok(data) => Some(data),
                Err(e) => {
                    tracing::warn!(
                        "the sandbox's name server skips {} {rtype} {:?}: {e}",
                        set.name(),
                        r.value()
                    );
                    None
                }
            },
        )
        .collect()
}

/// A record's value as moto gives it: moto writes a zone's SOA as the Python text of a
/// dictionary (`{'Value': '...'}`); every other value is as Route53 gives it.
fn moto_value(value: &str) -> &str {
    value
        .strip_prefix("{'Value': '")
        .and_then(|v| v.strip_suffix("'}"))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSetRegion};

    fn set(id: &str) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder {
        ResourceRecordSet::builder()
            .name("www.shop.internal.")
            .r#type(RrType::A)
            .set_identifier(id)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value(format!("10.0.0.{}", id.len()))
                    .build()
                    .expect("valid"),
            )
    }

    fn ids(chosen: &[&ResourceRecordSet]) -> Vec<String> {
        chosen
            .iter()
            .map(|s| s.set_identifier().unwrap_or("").to_owned())
            .collect()
    }

    #[test]
    fn route53_names_lose_their_octal_escapes() {
        assert_eq!(
            route53_name("\\052.shop.internal.")
                .expect("valid")
                .to_string(),
            "*.shop.internal."
        );
        assert_eq!(
            route53_name("www.shop.internal")
                .expect("valid")
                .to_string(),
            "www.shop.internal."
        );
        assert_eq!(
            route53_name("a\\100b.x.").expect("valid").to_string(),
            "a\\@b.x."
        );
        assert_eq!(
            route53_name("a\\056b.x.").expect("valid").num_labels(),
            2,
            "an escaped dot"
        );
    }

    #[test]
    fn failover_answers_with_the_primary_and_weighted_by_weight() {
        let primary = set("p")
            .failover(ResourceRecordSetFailover::Primary)
            .build()
            .expect("valid");
        let secondary = set("s")
            .failover(ResourceRecordSetFailover::Secondary)
            .build()
            .expect("valid");
        assert_eq!(ids(&choose(&[&secondary, &primary], "us-east-1", 0)), ["p"]);

        let heavy = set("heavy").weight(3).build().expect("valid");
        let off = set("off").weight(0).build().expect("valid");
        let light = set("light").weight(1).build().expect("valid");
        let group = [&heavy, &off, &light];
        let picks: Vec<Vec<String>> = (0..4)
            .map(|dice| ids(&choose(&group, "us-east-1", dice)))
            .collect();
        assert_eq!(picks, [["heavy"], ["heavy"], ["heavy"], ["light"]]);
    }

    #[test]
    fn latency_answers_with_the_sandboxs_region_and_multivalue_with_all() {
        let east = set("east")
            .region(ResourceRecordSetRegion::UsEast1)
            .build()
            .expect("valid");
        let west = set("west")
            .region(ResourceRecordSetRegion::UsWest2)
            .build()
            .expect("valid");
        assert_eq!(ids(&choose(&[&east, &west], "us-west-2", 0)), ["west"]);
        assert_eq!(ids(&choose(&[&east, &west], "eu-west-1", 0)), ["east"]);

        let a = set("a").multi_value_answer(true).build().expect("valid");
        let b = set("b").multi_value_answer(true).build().expect("valid");
        assert_eq!(ids(&choose(&[&a, &b], "us-east-1", 9)), ["a", "b"]);
    }
}
