//! The local sandbox's name server: its Route53 zones answered over DNS as Route53's servers
//! answer them, every query read from moto afresh, asked through a real DNS client over UDP;
//! and a drill on the sandbox whose `probe.dns` sees its own cut-over, with the old value back
//! after the teardown.

mod support;

use std::net::SocketAddr;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HostedZoneConfig, ResourceRecord,
    ResourceRecordSet, ResourceRecordSetFailover, RrType, Vpc, VpcRegion,
};
use firedrill::sandbox::ProxyConfig;
use firedrill::sandbox::SandboxRecord;
use firedrill::steps::probe::names;
use hickory_resolver::proto::rr::RecordType;
use support::sandbox::{StopSandbox, TestSandbox};
use support::{Test, step};

/// An answer as [`ask`] gives it: the values, or why there are none.
type Answer = Result<Vec<String>, String>;

/// What the name server at `server` answers for `name`: its values, sorted, or the failure.
async fn ask(server: SocketAddr, name: &str, record_type: RecordType) -> Answer {
    match names::query(server, name, record_type).await {
        Ok(mut values) => {
            values.sort();
            Ok(values)
        }
        Err(e) if names::refused(&e) => Err("REFUSED".into()),
        Err(e) if e.is_nx_domain() => Err("NXDOMAIN".into()),
        Err(e) if e.is_no_records_found() => Err("NODATA".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// A successful answer of `v`, to compare with what [`ask`] gives.
#[expect(clippy::unnecessary_wraps, reason = "compared with `ask`'s result")]
fn values(v: &[&str]) -> Answer {
    Ok(v.iter().map(|s| (*s).to_owned()).collect())
}

/// A record set `name` of `rtype` with `value`, shaped by `more`.
fn set(
    name: &str,
    rtype: RrType,
    value: &str,
    more: impl FnOnce(
        aws_sdk_route53::types::builders::ResourceRecordSetBuilder,
    ) -> aws_sdk_route53::types::builders::ResourceRecordSetBuilder,
) -> ResourceRecordSet {
    more(
        ResourceRecordSet::builder()
            .name(name)
            .r#type(rtype)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value(value)
                    .build()
                    .expect("record"),
            ),
    )
    .build()
    .expect("record set")
}

async fn change(
    route53: &aws_sdk_route53::Client,
    zone: &str,
    action: ChangeAction,
    sets: Vec<ResourceRecordSet>,
) {
    let changes = sets
        .into_iter()
        .map(|s| {
            Change::builder()
                .action(action.clone())
                .resource_record_set(s)
                .build()
                .expect("change")
        })
        .collect();
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("the change is accepted");
}

async fn zone_id(route53: &aws_sdk_route53::Client, name: &str) -> String {
    let zones = route53.list_hosted_zones().send().await.expect("zones");
    zones
        .hosted_zones()
        .iter()
        .find(|z| z.name() == name && !z.config().is_some_and(HostedZoneConfig::private_zone))
        .map(|z| z.id().to_owned())
        .expect("the seeded zone")
}

/// A sandbox seeded with the shop's zone and another.
struct Zones {
    sandbox: TestSandbox,
    /// Where its name server answers.
    dns: SocketAddr,
    /// A Route53 client of it.
    route53: aws_sdk_route53::Client,
    /// The id of the shop's zone.
    shop: String,
}

async fn zones() -> Zones {
    let sandbox = TestSandbox::start(ProxyConfig::default()).await;
    sandbox
        .seed(
            "region: us-east-1
hosted_zones:
  - name: shop.internal.
    records:
      - { name: www, type: A, values: [10.0.1.10, 10.0.1.11], ttl: 300 }
      - { name: api, type: CNAME, values: [www.shop.internal.] }
      - { name: shop.internal., type: TXT, values: ['\"v=spf1 -all\"'] }
      - { name: shop.internal., type: MX, values: ['10 mail.shop.internal.'] }
      - { name: '*.eu', type: A, values: [10.0.9.9] }
  - name: other.test.
    records:
      - { name: app, type: A, values: [10.0.2.20] }
",
        )
        .await;
    let dns = sandbox.sandbox.dns_addr();
    assert!(dns.ip().is_loopback(), "{dns}");
    let route53 = sandbox.clients().await.route53();
    let shop = zone_id(&route53, "shop.internal.").await;
    Zones {
        sandbox,
        dns,
        route53,
        shop,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_name_server_answers_the_zones_records_as_route53_does() {
    // Named, not `..`: the sandbox must live to the end of the test.
    let Zones {
        sandbox: _sandbox,
        dns,
        ..
    } = zones().await;
    let (a, nothing) = (RecordType::A, |why: &str| Err(why.to_owned()));
    let cases: [(&str, RecordType, Answer); 10] = [
        ("www.shop.internal.", a, values(&["10.0.1.10", "10.0.1.11"])),
        (
            "api.shop.internal.",
            RecordType::CNAME,
            values(&["www.shop.internal."]),
        ),
        // A CNAME inside the zone is followed to its addresses, in the same answer.
        ("api.shop.internal.", a, values(&["10.0.1.10", "10.0.1.11"])),
        ("shop.internal.", RecordType::TXT, values(&["v=spf1 -all"])),
        (
            "shop.internal.",
            RecordType::MX,
            values(&["10 mail.shop.internal."]),
        ),
        ("shop.eu.shop.internal.", a, values(&["10.0.9.9"])), // the wildcard
        ("app.other.test.", a, values(&["10.0.2.20"])),
        ("nowhere.shop.internal.", a, nothing("NXDOMAIN")),
        ("www.shop.internal.", RecordType::AAAA, nothing("NODATA")),
        ("example.com.", a, nothing("REFUSED")), // not its zone
    ];
    for (name, record_type, want) in cases {
        assert_eq!(
            ask(dns, name, record_type).await,
            want,
            "{name} {record_type}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_are_answered_at_once_and_routing_policies_as_with_healthy_checks() {
    let Zones {
        sandbox: _sandbox,
        dns,
        route53,
        shop: zone,
    } = zones().await;
    let route53 = &route53;
    let a = RecordType::A;
    // Read from moto with every query.
    change(
        route53,
        &zone,
        ChangeAction::Upsert,
        vec![set("www.shop.internal.", RrType::A, "10.0.7.7", |b| b)],
    )
    .await;
    assert_eq!(
        ask(dns, "www.shop.internal.", a).await,
        values(&["10.0.7.7"])
    );

    // Routing policies, as when every health check passes.
    change(
        route53,
        &zone,
        ChangeAction::Create,
        vec![
            set("pay.shop.internal.", RrType::A, "10.0.3.1", |b| {
                b.set_identifier("blue")
                    .failover(ResourceRecordSetFailover::Secondary)
            }),
            set("pay.shop.internal.", RrType::A, "10.0.3.2", |b| {
                b.set_identifier("green")
                    .failover(ResourceRecordSetFailover::Primary)
            }),
            set("cart.shop.internal.", RrType::A, "10.0.4.1", |b| {
                b.set_identifier("old").weight(0)
            }),
            set("cart.shop.internal.", RrType::A, "10.0.4.2", |b| {
                b.set_identifier("new").weight(100)
            }),
        ],
    )
    .await;
    assert_eq!(
        ask(dns, "pay.shop.internal.", a).await,
        values(&["10.0.3.2"]),
        "primary"
    );
    for _ in 0..5 {
        assert_eq!(
            ask(dns, "cart.shop.internal.", a).await,
            values(&["10.0.4.2"]),
            "weight 0 never answers"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_answers_with_its_targets_records_and_a_private_zone_before_a_public_one() {
    let Zones {
        sandbox,
        dns,
        route53,
        shop: zone,
    } = zones().await;
    let route53 = &route53;
    let a = RecordType::A;
    // In this zone or another of the sandbox's.
    let other = zone_id(route53, "other.test.").await;
    change(
        route53,
        &zone,
        ChangeAction::Create,
        vec![
            ResourceRecordSet::builder()
                .name("shop.internal.")
                .r#type(RrType::A)
                .alias_target(
                    AliasTarget::builder()
                        .hosted_zone_id(&zone)
                        .dns_name("www.shop.internal.")
                        .evaluate_target_health(false)
                        .build()
                        .expect("alias"),
                )
                .build()
                .expect("apex alias"),
            ResourceRecordSet::builder()
                .name("away.shop.internal.")
                .r#type(RrType::A)
                .alias_target(
                    AliasTarget::builder()
                        .hosted_zone_id(&other)
                        .dns_name("app.other.test.")
                        .evaluate_target_health(false)
                        .build()
                        .expect("alias"),
                )
                .build()
                .expect("alias to another zone"),
        ],
    )
    .await;
    assert_eq!(
        ask(dns, "shop.internal.", a).await,
        values(&["10.0.1.10", "10.0.1.11"]),
        "apex alias"
    );
    assert_eq!(
        ask(dns, "away.shop.internal.", a).await,
        values(&["10.0.2.20"])
    );

    // Of a public and a private zone of one name, the private one answers (the VPC's view).
    let vpcs = sandbox
        .clients()
        .await
        .ec2()
        .describe_vpcs()
        .send()
        .await
        .expect("vpcs");
    let vpc = vpcs.vpcs()[0].vpc_id().expect("the default VPC").to_owned();
    let private = route53
        .create_hosted_zone()
        .name("shop.internal.")
        .caller_reference("private-shop")
        .vpc(
            Vpc::builder()
                .vpc_id(vpc)
                .vpc_region(VpcRegion::UsEast1)
                .build(),
        )
        .hosted_zone_config(HostedZoneConfig::builder().private_zone(true).build())
        .send()
        .await
        .expect("private zone");
    let private = private.hosted_zone().expect("zone").id().to_owned();
    change(
        route53,
        &private,
        ChangeAction::Create,
        vec![set("www.shop.internal.", RrType::A, "172.16.0.5", |b| b)],
    )
    .await;
    assert_eq!(
        ask(dns, "www.shop.internal.", a).await,
        values(&["172.16.0.5"])
    );
}

/// The quickstart, whose last step checks the cut-over by a DNS query: `probe.dns` with no
/// `server` asks the sandbox's name server in a run on the sandbox.
#[test]
fn a_drill_on_the_sandbox_sees_its_cut_over_by_dns_and_the_old_value_after_teardown() {
    let state = tempfile::tempdir().expect("state");
    let state_dir = state.path().to_str().expect("utf-8");
    let firedrill = || Test::new().env("FIREDRILL_STATE_DIR", state_dir);
    firedrill()
        .args(["sandbox", "start", "--time-scale", "0"])
        .run();
    let stop = StopSandbox(state.path().to_path_buf());
    let record = SandboxRecord::load(state.path()).expect("a running sandbox");
    let dns = record
        .dns
        .expect("the sandbox says where its name server is");
    let (_, report) = support::sandbox::run_quickstart(firedrill(), state.path());
    let ip = step(&report, "app")["outputs"]["private_ip"]
        .as_str()
        .expect("an app address")
        .to_owned();
    assert_ne!(ip, "10.0.1.10");
    assert_eq!(
        step(&report, "www")["outputs"]["values"],
        ip.as_str(),
        "{report}"
    );
    assert_eq!(report["state"], "passed", "{report}");

    let after = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(ask(dns, "www.shop.internal.", RecordType::A));
    assert_eq!(
        after,
        values(&["10.0.1.10"]),
        "the teardown put the record back"
    );
    drop(stop);
    assert!(SandboxRecord::load(state.path()).is_none(), "stopped");
    support::sandbox::assert_nothing_answers(dns);
}

/// `probe.http` and `probe.tcp` in a run on the sandbox reach a host by a name of its zones
/// (the drill points `svc` at loopback itself), other names through the system, and a name of
/// its zones without an address fails with where it was asked.
#[test]
fn probes_on_the_sandbox_reach_hosts_by_the_names_of_its_zones() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let port = support::serve_loopback(|mut stream| async move {
        let mut request = [0_u8; 1024];
        let _ = stream.read(&mut request).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
            .await;
    });
    let state = tempfile::tempdir().expect("state");
    let state_dir = state.path().to_str().expect("utf-8");
    let firedrill = || Test::new().env("FIREDRILL_STATE_DIR", state_dir);
    firedrill()
        .args(["sandbox", "start", "--time-scale", "0"])
        .run();
    let _stop = StopSandbox(state.path().to_path_buf());
    let seed = support::root().join("examples/quickstart/seed.yaml");
    let (_, report) = firedrill()
        .args(["--sandbox", "local", "--seed"])
        .args([seed.to_str().expect("utf-8")])
        .code(firedrill::engine::exit::STEP_FAILED)
        .drill(
            state.path(),
            &format!(
                r#"version: 1
name: names
sandbox: {{ accounts: ["123456789012"] }}
steps:
  svc:
    uses: route53.record
    with: {{ zone: shop.internal., name: svc, type: A, value: 127.0.0.1, ttl: 60 }}
  http:
    uses: probe.http
    needs: [svc]
    with: {{ url: "http://svc.shop.internal:{port}/", expect: {{ body_contains: ok }} }}
  tcp:
    uses: probe.tcp
    needs: [svc]
    with: {{ host: svc.shop.internal, port: {port} }}
  local:
    uses: probe.tcp
    with: {{ host: localhost, port: {port} }}
  missing:
    uses: probe.tcp
    on_failure: continue
    with: {{ host: nothing.shop.internal, port: {port} }}
"#
            ),
        );
    for id in ["svc", "http", "tcp", "local"] {
        assert_eq!(step(&report, id)["state"], "succeeded", "{id}: {report}");
    }
    let missing = support::failures(&report, "missing");
    assert!(
        missing.contains("nothing.shop.internal has no A or AAAA record at the local sandbox's name server 127.0.0.1:"),
        "{missing}"
    );
}
