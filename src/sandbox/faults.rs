//! Fault injection: throttling, server errors and latency at configured rates, decided from a
//! seed so that a failing run repeats exactly.
//!
//! The decision for a call depends only on the seed, the service, the action and how many
//! calls of that action came before it, never on wall time or on the interleaving with other
//! actions. The errors have the shapes AWS gives each protocol, so that the SDK classifies and
//! retries them as it would in AWS.

pub use crate::util::{hash, mix, unit};
use serde::{Deserialize, Serialize};

/// Rates of injected faults, each from 0 to 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Throttling errors (`Throttling`, `RequestLimitExceeded`, `ThrottlingException`).
    pub throttle: f64,
    /// HTTP 500 `InternalFailure`.
    pub server_error: f64,
    /// HTTP 503 `ServiceUnavailable`.
    pub unavailable: f64,
    /// Calls that get extra latency.
    pub latency: f64,
    /// The extra latency, in milliseconds.
    pub latency_ms: u64,
}

/// What happens to one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Nothing: forwarded.
    None,
    /// Answered with a throttling error.
    Throttle,
    /// Answered with HTTP 500.
    ServerError,
    /// Answered with HTTP 503.
    Unavailable,
}

/// The decision for one call: the fault and whether it is delayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The fault.
    pub fault: Fault,
    /// Whether the call is delayed by the configured latency.
    pub delayed: bool,
}

impl FaultConfig {
    /// Whether any fault is configured.
    pub fn is_quiet(&self) -> bool {
        self.throttle + self.server_error + self.unavailable + self.latency <= 0.0
    }

    /// The decision for the `n`-th call (from 0) of `action` on `service`.
    pub fn decide(&self, seed: u64, service: &str, action: &str, n: u64) -> Decision {
        if self.is_quiet() {
            return Decision {
                fault: Fault::None,
                delayed: false,
            };
        }
        let n = n.to_string();
        let roll = unit(hash(seed, &[service, action, &n, "fault"]));
        let fault = if roll < self.throttle {
            Fault::Throttle
        } else if roll < self.throttle + self.server_error {
            Fault::ServerError
        } else if roll < self.throttle + self.server_error + self.unavailable {
            Fault::Unavailable
        } else {
            Fault::None
        };
        let delayed = unit(hash(seed, &[service, action, &n, "latency"])) < self.latency;
        Decision { fault, delayed }
    }
}

/// The wire protocol of a service, which decides the error shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's query protocol (`<Response><Errors>`).
    Ec2,
    /// The AWS query protocol (RDS, CloudFormation, STS, IAM).
    Query,
    /// REST-XML (Route53, S3).
    RestXml,
    /// JSON 1.1 (SSM).
    Json,
}

impl Protocol {
    /// The protocol of a service, by its signing name.
    pub fn of(service: &str) -> Self {
        match service {
            "ec2" => Protocol::Ec2,
            "route53" | "s3" => Protocol::RestXml,
            "ssm" | "secretsmanager" | "backup" => Protocol::Json,
            _ => Protocol::Query,
        }
    }
}

/// The HTTP status, content type and body AWS sends for `fault` on `service`.
pub fn error_response(
    fault: Fault,
    service: &str,
    request_id: &str,
) -> (u16, &'static str, String) {
    let protocol = Protocol::of(service);
    let (status, code, message) = match (fault, protocol) {
        (Fault::Throttle, Protocol::Ec2) => {
            (503, "RequestLimitExceeded", "Request limit exceeded.")
        }
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Rate exceeded"),
        (Fault::Throttle, _) => (400, "Throttling", "Rate exceeded"),
        (Fault::ServerError, Protocol::Ec2) => {
            (500, "InternalError", "An internal error has occurred")
        }
        (Fault::ServerError, _) => (
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
        ),
        (Fault::Unavailable, Protocol::Ec2) => (
            503,
            "Unavailable",
            "The server is overloaded and can't handle the request.",
        ),
        (Fault::Unavailable, _) => (503, "ServiceUnavailable", "Service is unavailable"),
        (Fault::None, _) => (200, "", ""),
    };
    match protocol {
        Protocol::Ec2 => (
            status,
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::Json => (
            status,
            "application/x-amz-json-1.1",
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
        Protocol::Query | Protocol::RestXml => {
            let kind = if status >= 500 { "Receiver" } else { "Sender" };
            (
                status,
                "text/xml",
                format!(
                    "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_depend_on_the_seed_and_the_call_only() {
        let config = FaultConfig {
            throttle: 0.3,
            server_error: 0.1,
            unavailable: 0.1,
            latency: 0.2,
            latency_ms: 5,
        };
        let run = |seed| {
            (0..200)
                .map(|n| config.decide(seed, "rds", "DescribeDBInstances", n))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let throttled = run(7).iter().filter(|d| d.fault == Fault::Throttle).count();
        assert!(
            (40..=80).contains(&throttled),
            "about 30% of 200: {throttled}"
        );
    }

    #[test]
    fn quiet_configs_never_fault() {
        let d = FaultConfig::default().decide(1, "ec2", "RunInstances", 0);
        assert_eq!(
            d,
            Decision {
                fault: Fault::None,
                delayed: false
            }
        );
    }
}
