//! A local sandbox for one test: its own moto process and realism layer on free loopback
//! ports, stopped when dropped, so tests run in parallel without sharing state.

use firedrill::aws::{AwsOptions, Clients, RetrySettings};
use firedrill::diag::SourceFile;
use firedrill::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, Stats, local, seed};

/// A running sandbox and the directory of its logs.
pub struct TestSandbox {
    pub sandbox: LocalSandbox,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl TestSandbox {
    /// Starts a sandbox with `config`.
    pub async fn start(config: ProxyConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sandbox = LocalSandbox::start(
            &SandboxOptions {
                proxy: config,
                port: 0,
            },
            dir.path(),
        )
        .await
        .unwrap_or_else(|e| panic!("the local sandbox starts: {e}"));
        let endpoint = sandbox.endpoint();
        Self {
            sandbox,
            endpoint,
            _dir: dir,
        }
    }

    /// Clients for it, with the standard retry policy.
    pub async fn clients(&self) -> Clients {
        Clients::for_sandbox(&self.endpoint, "us-east-1").await
    }

    /// Clients for it with a given retry policy.
    pub async fn clients_with_retry(&self, retry: RetrySettings) -> Clients {
        let options = AwsOptions {
            region: Some("us-east-1".into()),
            endpoint: Some(self.endpoint.clone()),
            sandbox_credentials: true,
            retry: Some(retry),
            ..AwsOptions::default()
        };
        Clients::new(&options).await.expect("clients")
    }

    /// Creates the production side described by seed-file `text`.
    pub async fn seed(&self, text: &str) -> seed::Seeded {
        let file = SourceFile {
            name: "seed.yaml".into(),
            text: text.into(),
        };
        let seed_file = seed::parse(&file).expect("a valid seed");
        seed::apply(&seed_file, &self.clients().await, &self.endpoint)
            .await
            .expect("seeded")
    }

    /// The state of EC2 instance `id` (`running`, `terminated`, ...), empty when unknown.
    pub async fn instance_state(&self, id: &str) -> String {
        self.clients()
            .await
            .ec2()
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .expect("describe")
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
            .find_map(|i| {
                i.state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_owned())
            })
            .unwrap_or_default()
    }

    /// The layer's call counts.
    pub async fn stats(&self) -> Stats {
        local::stats(&self.endpoint).await.expect("stats")
    }
}
