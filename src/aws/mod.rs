//! The one place where AWS clients are made.
//!
//! Every AWS call firedrill makes goes through a client from [`Clients`], which is built once:
//! - credentials from aws-config's default chain (environment, shared profile, SSO, container
//!   and instance metadata), or fixed test credentials for the local sandbox;
//! - the region resolved up front: `--region`, then the playbook's `sandbox.region`, then the
//!   environment and profile; without one, firedrill stops before any call;
//! - an optional role assumed through STS (`sandbox.role_arn`), with a session name that
//!   carries the run id;
//! - an optional endpoint for every service (the local sandbox);
//! - explicit timeouts and one retry policy, stated in [`RETRY`] and [`TIMEOUTS`].
//!
//! One HTTP stack serves every client: hyper 1 with rustls on ring; each request is logged at
//! debug level (`log`).

pub mod guard;
pub mod log;
pub mod poll;

/// One method per service: its client from the shared configuration, with the request log.
macro_rules! clients {
    ($($(#[$doc:meta])* $name:ident: $sdk:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&self) -> $sdk::Client {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(&self.config)
                        .interceptor(log::RequestLog)
                        .build(),
                )
            }
        )*
    };
}

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls;

/// The retry policy: the SDK's standard mode (exponential backoff with full jitter, a retry
/// quota per client; throttling, transient and 5xx errors retried).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

/// The retry policy of every client: standard mode, 6 attempts, backoff from 500 ms up to 20 s.
pub const RETRY: RetrySettings = RetrySettings {
    max_attempts: 6,
    initial_backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(20),
};

/// Timeouts of every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To open a connection.
    pub connect: Duration,
    /// Between bytes of a response.
    pub read: Duration,
    /// One attempt of a call.
    pub attempt: Duration,
    /// A call, retries included.
    pub operation: Duration,
}

/// The timeouts of every client: connect 5 s, read 30 s, attempt 60 s, call 5 min.
pub const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    read: Duration::from_secs(30),
    attempt: Duration::from_mins(1),
    operation: Duration::from_mins(5),
};

/// What the clients are made from.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// `--region`.
    pub region: Option<String>,
    /// `--profile` (or `AWS_PROFILE`): the shared profile to take credentials and region from.
    pub profile: Option<String>,
    /// The playbook's `sandbox.region`.
    pub playbook_region: Option<String>,
    /// An endpoint URL for every service.
    pub endpoint: Option<String>,
    /// A role to assume through STS.
    pub role_arn: Option<String>,
    /// The STS session name when a role is assumed.
    pub session_name: Option<String>,
    /// Use fixed test credentials (the local sandbox accepts any).
    pub sandbox_credentials: bool,
    /// The retry policy (default [`RETRY`]).
    pub retry: Option<RetrySettings>,
}

/// Why the clients cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No region from any source.
    #[error(
        "no AWS region: pass --region, set `sandbox.region` in the playbook, or set AWS_REGION \
         (or a region in your AWS profile{})",
        .profile.as_ref().map_or_else(String::new, |p| format!("; profile `{p}` names none, or is not in ~/.aws/config"))
    )]
    NoRegion {
        /// The profile asked for, if any.
        profile: Option<String>,
    },
}

/// Every AWS client firedrill uses, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    config: SdkConfig,
    /// The resolved region.
    pub region: String,
    /// The endpoint override, if any.
    pub endpoint: Option<String>,
    /// The shared profile the credentials come from, when one was named.
    pub profile: Option<String>,
}

impl Clients {
    /// Builds the shared configuration. No AWS call is made, except for a role assumption,
    /// which STS does lazily on the first call.
    pub async fn new(options: &AwsOptions) -> Result<Self, AwsError> {
        let explicit = options
            .region
            .clone()
            .or_else(|| options.playbook_region.clone());
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let retry = options.retry.unwrap_or(RETRY);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client)
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(retry.max_attempts)
                    .with_initial_backoff(retry.initial_backoff)
                    .with_max_backoff(retry.max_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(TIMEOUTS.connect)
                    .read_timeout(TIMEOUTS.read)
                    .operation_attempt_timeout(TIMEOUTS.attempt)
                    .operation_timeout(TIMEOUTS.operation)
                    .build(),
            );
        if let Some(region) = &explicit {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = options
            .profile
            .as_deref()
            .filter(|_| !options.sandbox_credentials)
        {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &options.endpoint {
            loader = loader.endpoint_url(endpoint.clone());
        }
        if options.sandbox_credentials {
            loader = loader.credentials_provider(Credentials::new(
                "AKIAFIREDRILLSANDBOX",
                "firedrill-local-sandbox",
                None,
                None,
                "firedrill-local-sandbox",
            ));
        }
        let mut config = loader.load().await;
        let Some(region) = config.region().map(ToString::to_string) else {
            return Err(AwsError::NoRegion {
                profile: options.profile.clone(),
            });
        };
        if let Some(role) = &options.role_arn {
            let provider = AssumeRoleProvider::builder(role.clone())
                .session_name(
                    options
                        .session_name
                        .clone()
                        .unwrap_or_else(|| "firedrill".to_owned()),
                )
                .configure(&config)
                .build()
                .await;
            config = config
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        Ok(Self {
            config,
            region,
            endpoint: options.endpoint.clone(),
            profile: options
                .profile
                .clone()
                .filter(|_| !options.sandbox_credentials),
        })
    }

    /// Clients for the local sandbox at `endpoint`.
    pub async fn for_sandbox(endpoint: &str, region: &str) -> Self {
        let options = AwsOptions {
            region: Some(region.to_owned()),
            endpoint: Some(endpoint.to_owned()),
            sandbox_credentials: true,
            ..AwsOptions::default()
        };
        Self::new(&options).await.expect("a region is given")
    }

    /// The same clients in another region (a backup copy's), with the same credentials,
    /// endpoint, timeouts and retries.
    #[must_use]
    pub fn in_region(&self, region: &str) -> Self {
        Self {
            config: self
                .config
                .to_builder()
                .region(Region::new(region.to_owned()))
                .build(),
            region: region.to_owned(),
            endpoint: self.endpoint.clone(),
            profile: self.profile.clone(),
        }
    }

    /// The shared configuration.
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    clients! {
        /// An STS client.
        sts: aws_sdk_sts,
        /// An RDS client.
        rds: aws_sdk_rds,
        /// An EC2 client.
        ec2: aws_sdk_ec2,
        /// A CloudFormation client.
        cloudformation: aws_sdk_cloudformation,
        /// An SSM client (parameters: `${secret:ssm:/path}`).
        ssm: aws_sdk_ssm,
        /// A Route53 client.
        route53: aws_sdk_route53,
    }
}

/// An AWS SDK error as one line: the service's code and message when it gave them.
pub fn sdk_error<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => crate::language::diag::error_chain(e),
    }
}

/// The AWS error code of an SDK error, if it has one.
pub fn sdk_code<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> Option<&str>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    e.code()
}
