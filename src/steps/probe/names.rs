//! How probes find a host by name: the system's resolver, or, in a run on the local sandbox,
//! the sandbox's name server first (the one that answers its Route53 zones), so that a probe
//! sees a cut-over the way a client in the VPC sees it in AWS.
//!
//! Rules:
//! - An IP address is never looked up.
//! - With the sandbox's name server: a name it answers for resolves there, and only there (a
//!   name in one of its zones without the record does not resolve, as in AWS); a name in none
//!   of its zones (it says `REFUSED`) goes to the system's resolver (`localhost`, real hosts).
//! - One query per lookup, no cache, no search domains: the step's `retry` does the retrying.
//!
//! It knows DNS, nothing of the sandbox beyond its name server's address, nothing of steps.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::RecordType;

/// Why a host has no address.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The system's resolver found none.
    #[error("{host} does not resolve: {source}")]
    System {
        /// The host.
        host: String,
        /// What the resolver said.
        source: std::io::Error,
    },
    /// The sandbox's name server answers for the name, without an address.
    #[error("{host} has no A or AAAA record at the local sandbox's name server {server}")]
    NoAddress {
        /// The host.
        host: String,
        /// The name server.
        server: SocketAddr,
    },
    /// The sandbox's name server did not answer.
    #[error("{host} does not resolve at {server}: {}", reason(source))]
    Server {
        /// The host.
        host: String,
        /// The name server.
        server: SocketAddr,
        /// What went wrong.
        source: NetError,
    },
}

/// Where a run's probes look names up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Names {
    /// The system's resolver.
    #[default]
    System,
    /// The local sandbox's name server, then the system's resolver.
    Sandbox(SocketAddr),
}

impl Names {
    /// The addresses `host` has: an IP address as it is, else as the rules say.
    pub async fn addresses(self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        if let Some(found) = self.sandbox_addresses(host).await? {
            return Ok(found);
        }
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match tokio::net::lookup_host((bare, 0)).await {
            Ok(addrs) => Ok(addrs.map(|a| a.ip()).collect()),
            Err(source) => Err(LookupError::System {
                host: host.to_owned(),
                source,
            }),
        }
    }

    /// The addresses the sandbox's name server gives `host`; none when there is no sandbox's
    /// name server, `host` is an address, or it is in none of the sandbox's zones.
    pub async fn sandbox_addresses(self, host: &str) -> Result<Option<Vec<IpAddr>>, LookupError> {
        let Names::Sandbox(server) = self else {
            return Ok(None);
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if bare.parse::<IpAddr>().is_ok() {
            return Ok(None);
        }
        let mut found = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            match query(server, bare, record_type).await {
                Ok(values) => found.extend(values.iter().filter_map(|v| v.parse::<IpAddr>().ok())),
                Err(e) if refused(&e) => return Ok(None),
                Err(e) if e.is_no_records_found() => {}
                Err(source) => {
                    return Err(LookupError::Server {
                        host: host.to_owned(),
                        server,
                        source,
                    });
                }
            }
        }
        if found.is_empty() {
            return Err(LookupError::NoAddress {
                host: host.to_owned(),
                server,
            });
        }
        Ok(Some(found))
    }
}

/// What a failed query means, in words (hickory's own text shows the query's debug form).
pub fn reason(e: &NetError) -> String {
    match e {
        _ if e.is_nx_domain() => "no such name (NXDOMAIN)".to_owned(),
        _ if e.is_no_records_found() => "the name has no record of that type".to_owned(),
        _ if refused(e) => "the server refused to answer (the name is not in its zones)".to_owned(),
        NetError::Dns(DnsError::ResponseCode(code)) => format!("the server answered {code}"),
        other => other.to_string(),
    }
}

/// Whether the server said the name is not its to answer.
pub fn refused(e: &NetError) -> bool {
    matches!(
        e,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused))
    )
}

/// The values (as text) of `name`'s `record_type` records as the name server at `server`
/// answers: one query over UDP (TCP when the answer is truncated).
pub async fn query(
    server: SocketAddr,
    name: &str,
    record_type: RecordType,
) -> Result<Vec<String>, NetError> {
    use hickory_resolver::config::{NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let mut ns = NameServerConfig::udp_and_tcp(server.ip());
    for connection in &mut ns.connections {
        connection.port = server.port();
    }
    let mut builder = hickory_resolver::Resolver::builder_with_config(
        ResolverConfig::from_name_servers(vec![ns]),
        TokioRuntimeProvider::default(),
    );
    let options = builder.options_mut();
    options.cache_size = 0;
    options.attempts = 1;
    options.ndots = 0;
    options.timeout = Duration::from_secs(5);
    let resolver = builder.build()?;
    let lookup = resolver.lookup(name, record_type).await?;
    Ok(lookup
        .answers()
        .iter()
        .filter(|r| r.record_type() == record_type)
        .map(|r| r.data.to_string())
        .collect())
}
