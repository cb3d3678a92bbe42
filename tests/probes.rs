//! Probes against real servers the test starts, with no AWS in the drill: `probe.dns` asking
//! a given name server (the local sandbox's, answering the zone the test seeded), and `probe.http` over TLS (a rustls server with a
//! certificate from a certificate authority the test made): verified by default, against a
//! given `ca_file`, or not at all.

mod support;

use std::sync::Arc;

use firedrill::engine::exit;
use support::db::Tls;
use support::sandbox::TestSandbox;
use support::{Test, failures, step};

/// Runs `steps` as a drill; returns the JSON report.
fn drill(steps: &str, code: u8) -> serde_json::Value {
    let dir = tempfile::tempdir().expect("dir");
    let yaml = format!(
        "version: 1\nname: probes\nsandbox: {{ accounts: [\"123456789012\"] }}\nsteps:\n{steps}"
    );
    Test::new().code(code).drill(dir.path(), &yaml).1
}

#[test]
fn a_dns_probe_asks_the_given_name_server() {
    // The sandbox's own tasks run on this runtime's threads while the drill runs.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sandbox = runtime.block_on(async {
        let sandbox = TestSandbox::start(firedrill::sandbox::ProxyConfig::default()).await;
        sandbox
            .seed(
                r#"region: us-east-1
hosted_zones:
  - name: shop.internal.
    records:
      - { name: www, type: A, values: [10.0.1.10, 10.0.1.11] }
      - { name: api, type: CNAME, values: [www.shop.internal.] }
      - { name: shop.internal., type: TXT, values: ['"v=spf1 -all"'] }
"#,
            )
            .await;
        sandbox
    });
    let server = &sandbox.sandbox.dns_addr().to_string();
    let report = drill(
        &format!(
            r"  both:
    uses: probe.dns
    with: {{ name: www.shop.internal, server: '{server}', expect: [10.0.1.10, 10.0.1.11] }}
  cname:
    uses: probe.dns
    with: {{ name: api.shop.internal., type: CNAME, server: '{server}', expect: www.shop.internal }}
  txt:
    uses: probe.dns
    with: {{ name: shop.internal, type: TXT, server: '{server}', expect: 'v=spf1 -all' }}
  wrong:
    uses: probe.dns
    on_failure: continue
    retry: {{ interval: 10ms, until: 2s }}
    with: {{ name: www.shop.internal, server: '{server}', expect: 10.9.9.9 }}
  unknown:
    uses: probe.dns
    on_failure: continue
    with: {{ name: nowhere.shop.internal, server: '{server}' }}
"
        ),
        exit::STEP_FAILED,
    );
    for id in ["both", "cname", "txt"] {
        assert_eq!(step(&report, id)["state"], "succeeded", "{id}: {report}");
    }
    assert_eq!(
        step(&report, "both")["outputs"]["values"],
        "10.0.1.10,10.0.1.11"
    );
    let wrong = failures(&report, "wrong");
    assert!(
        wrong.contains("www.shop.internal A is 10.0.1.10, 10.0.1.11 instead of 10.9.9.9"),
        "{wrong}"
    );
    assert!(
        step(&report, "wrong")["attempts"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "retried: {report}"
    );
    let unknown = failures(&report, "unknown");
    assert!(
        unknown.contains(&format!(
            "nowhere.shop.internal A does not resolve at {server}: no such name (NXDOMAIN)"
        )),
        "{unknown}"
    );
}

/// Serves `200 ok` over TLS with `tls`'s certificate on a loopback port, for as long as the
/// test runs; returns the port.
fn https_server(tls: &Tls) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = tls.write_server(dir.path());
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
        .expect("certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&key).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    support::serve_loopback(move |socket| {
        let acceptor = acceptor.clone();
        async move {
            // A client that does not trust the certificate ends the handshake.
            let Ok(mut tls) = acceptor.accept(socket).await else {
                return;
            };
            let mut buf = vec![0; 4096];
            let _ = tls.read(&mut buf).await;
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
            let _ = tls.shutdown().await;
        }
    })
}

#[test]
fn an_https_probe_verifies_the_certificate_unless_told_not_to() {
    let tls = Tls::new();
    let port = https_server(&tls);
    let dir = tempfile::tempdir().expect("dir");
    let ca = tls.write_ca(dir.path());
    let report = drill(
        &format!(
            r"  trusted:
    uses: probe.http
    with: {{ url: 'https://localhost:{port}/health', ca_file: '{ca}', expect: {{ body_contains: ok }} }}
  unverified:
    uses: probe.http
    with: {{ url: 'https://127.0.0.1:{port}/health', tls_verify: false }}
  system-roots:
    uses: probe.http
    on_failure: continue
    with: {{ url: 'https://localhost:{port}/health' }}
",
            ca = ca.display()
        ),
        exit::STEP_FAILED,
    );
    assert_eq!(step(&report, "trusted")["state"], "succeeded", "{report}");
    assert_eq!(
        step(&report, "unverified")["state"],
        "succeeded",
        "{report}"
    );
    assert_eq!(step(&report, "system-roots")["state"], "failed", "{report}");
    let f = failures(&report, "system-roots");
    assert!(f.contains("certificate"), "{f}");
}
