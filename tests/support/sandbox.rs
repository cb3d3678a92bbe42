//! A local sandbox for one test: its own moto process and realism layer on free loopback
//! ports, stopped when dropped, so tests run in parallel without sharing state.

use firedrill::aws::{AwsOptions, Clients, RetrySettings};
use firedrill::language::diag::SourceFile;
use firedrill::sandbox::{LocalSandbox, ProxyConfig, SandboxOptions, Stats, local, seed};

/// Stops the background sandbox of a state directory (`firedrill sandbox stop`) when dropped,
/// so that a failing test leaves no sandbox behind (one would hold the test's pipes and locks).
pub struct StopSandbox(pub std::path::PathBuf);

impl Drop for StopSandbox {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_firedrill"))
            .arg("--state-dir")
            .arg(&self.0)
            .args(["sandbox", "stop"])
            .output();
    }
}

/// Nothing listens on the name server's address any more: a TCP connection is refused, and a
/// UDP datagram comes back as "port unreachable" (on loopback the kernel says so at once).
/// Binding the port would not prove it: another test's connection may hold the same number.
pub fn assert_nothing_answers(dns: std::net::SocketAddr) {
    let tcp = std::net::TcpStream::connect(dns).map(|_| ());
    assert_eq!(
        tcp.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionRefused),
        "nothing listens for TCP at {dns}"
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("a client socket");
    udp.connect(dns).expect("connect");
    udp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    udp.send(&[0; 12]).expect("send a header");
    let answer = udp.recv(&mut [0; 512]).map_err(|e| e.kind());
    assert_eq!(
        answer,
        Err(std::io::ErrorKind::ConnectionRefused),
        "nothing answers UDP at {dns}"
    );
}

/// The processes whose command line names `dir` (a sandbox's PostgreSQL runs with its data
/// directory under the sandbox's state): their pids.
pub fn processes_under(dir: &std::path::Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&needle))
        })
        .filter(|pid| local::alive(*pid))
        .collect()
}

/// `pids` and every live process whose parent is one of them (a PostgreSQL server's workers
/// rename themselves, so only their parent names the directory).
pub fn with_children(pids: &[u32]) -> Vec<u32> {
    let mut all = pids.to_vec();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            });
        if parent.is_some_and(|p: u32| pids.contains(&p)) {
            all.push(pid);
        }
    }
    all
}

/// The quickstart drill, seeded from its seed file, run by `firedrill` (a `Test` of a state
/// directory whose sandbox runs) with its playbook and report in `dir`: what it printed and
/// its JSON report.
pub fn run_quickstart(
    firedrill: super::Test,
    dir: &std::path::Path,
) -> (super::Output, serde_json::Value) {
    let quickstart =
        std::fs::read_to_string(super::root().join("examples/quickstart/playbook.yaml"))
            .expect("quickstart");
    let seed = super::root().join("examples/quickstart/seed.yaml");
    firedrill
        .args(["--sandbox", "local", "--seed"])
        .args([seed.to_str().expect("utf-8")])
        .drill(dir, &quickstart)
}

/// A running sandbox and the directory of its logs.
pub struct TestSandbox {
    pub sandbox: LocalSandbox,
    pub endpoint: String,
    /// The region its clients use: us-east-1, or the region of the last seed file.
    region: std::sync::Mutex<String>,
    _dir: tempfile::TempDir,
}

impl TestSandbox {
    /// Starts a sandbox with `config`.
    pub async fn start(config: ProxyConfig) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let sandbox = LocalSandbox::start(
            &SandboxOptions {
                proxy: config,
                ..SandboxOptions::default()
            },
            dir.path(),
        )
        .await
        .unwrap_or_else(|e| panic!("the local sandbox starts: {e}"));
        let endpoint = sandbox.endpoint();
        Self {
            sandbox,
            endpoint,
            region: std::sync::Mutex::new("us-east-1".to_owned()),
            _dir: dir,
        }
    }

    /// A sandbox at time scale 0.01 with the quickstart's production side.
    pub async fn quickstart() -> Self {
        let sandbox = Self::start(ProxyConfig {
            time_scale: 0.01,
            ..ProxyConfig::default()
        })
        .await;
        sandbox
            .seed_file(&super::root().join("examples/quickstart/seed.yaml"))
            .await;
        sandbox
    }

    /// Creates the production side the seed file at `path` describes (its relative paths,
    /// such as an app's, are its directory's).
    pub async fn seed_file(&self, path: &std::path::Path) -> seed::Seeded {
        let text = std::fs::read_to_string(path).expect("seed file");
        self.seed_named(&path.to_string_lossy(), &text).await
    }

    /// Clients for it, with the standard retry policy.
    pub async fn clients(&self) -> Clients {
        let region = self.region.lock().expect("region").clone();
        Clients::for_sandbox(&self.endpoint, &region).await
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
        self.seed_named("seed.yaml", text).await
    }

    async fn seed_named(&self, name: &str, text: &str) -> seed::Seeded {
        let file = SourceFile {
            name: name.into(),
            text: text.into(),
        };
        let seed_file = seed::parse(&file).expect("a valid seed");
        seed_file
            .region
            .clone_into(&mut self.region.lock().expect("region"));
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

    /// Everything on the production side, as text that changes when any of it changes: the
    /// seeded DB instances, clusters, snapshots, images, EBS snapshots and every record of
    /// every hosted zone.
    #[expect(
        clippy::too_many_lines,
        reason = "one listing of every production resource kind, so that a change to any shows in one diff"
    )]
    pub async fn production(&self) -> String {
        let c = self.clients().await;
        let (rds, ec2, r53) = (c.rds(), c.ec2(), c.route53());
        let prod = |tags: Vec<(Option<&str>, Option<&str>)>| {
            tags.iter()
                .any(|(k, v)| *k == Some(seed::SIDE_TAG.0) && *v == Some(seed::SIDE_TAG.1))
        };
        let mut out = Vec::new();
        for d in rds
            .describe_db_instances()
            .send()
            .await
            .expect("dbs")
            .db_instances()
        {
            if prod(d.tag_list().iter().map(|t| (t.key(), t.value())).collect()) {
                out.push(format!(
                    "db {:?} {:?} {:?} {:?}",
                    d.db_instance_identifier(),
                    d.db_instance_status(),
                    d.db_instance_class(),
                    d.tag_list()
                ));
            }
        }
        for d in rds
            .describe_db_clusters()
            .send()
            .await
            .expect("clusters")
            .db_clusters()
        {
            if prod(d.tag_list().iter().map(|t| (t.key(), t.value())).collect()) {
                out.push(format!(
                    "cluster {:?} {:?}",
                    d.db_cluster_identifier(),
                    d.status()
                ));
            }
        }
        // Snapshots of drill copies (moto takes one when a cluster is made) are not production's.
        let drill = |id: Option<&str>| id.is_some_and(|i| i.contains("fd-"));
        for s in rds
            .describe_db_snapshots()
            .send()
            .await
            .expect("snaps")
            .db_snapshots()
        {
            if drill(s.db_snapshot_identifier()) {
                continue;
            }
            out.push(format!(
                "db-snapshot {:?} {:?} {:?}",
                s.db_snapshot_identifier(),
                s.status(),
                s.snapshot_create_time()
            ));
        }
        for s in rds
            .describe_db_cluster_snapshots()
            .send()
            .await
            .expect("cluster snaps")
            .db_cluster_snapshots()
        {
            if drill(s.db_cluster_snapshot_identifier()) {
                continue;
            }
            out.push(format!(
                "cluster-snapshot {:?} {:?}",
                s.db_cluster_snapshot_identifier(),
                s.status()
            ));
        }
        for i in ec2
            .describe_images()
            .owners("self")
            .send()
            .await
            .expect("images")
            .images()
        {
            out.push(format!(
                "image {:?} {:?} {:?}",
                i.image_id(),
                i.state(),
                i.tags()
            ));
        }
        for s in ec2
            .describe_snapshots()
            .owner_ids("self")
            .send()
            .await
            .expect("snapshots")
            .snapshots()
        {
            if prod(s.tags().iter().map(|t| (t.key(), t.value())).collect()) {
                out.push(format!(
                    "ebs-snapshot {:?} {:?} {:?}",
                    s.snapshot_id(),
                    s.state(),
                    s.tags()
                ));
            }
        }
        for z in r53
            .list_hosted_zones()
            .send()
            .await
            .expect("zones")
            .hosted_zones()
        {
            let sets = r53
                .list_resource_record_sets()
                .hosted_zone_id(z.id())
                .send()
                .await
                .expect("records");
            for r in sets.resource_record_sets() {
                out.push(format!(
                    "record {} {} {:?} {:?}",
                    r.name(),
                    r.r#type().as_str(),
                    r.ttl(),
                    r.resource_records()
                ));
            }
        }
        out.sort();
        out.join("\n")
    }

    /// Asserts that the production side is still `before` (from [`Self::production`]),
    /// naming the lines that changed.
    pub async fn assert_production_unchanged(&self, before: &str) {
        let after = self.production().await;
        let (b, a): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
        let gone: Vec<&&str> = b.iter().filter(|l| !a.contains(l)).collect();
        let new: Vec<&&str> = a.iter().filter(|l| !b.contains(l)).collect();
        assert!(
            gone.is_empty() && new.is_empty(),
            "the production side changed:\n  before: {gone:#?}\n  after: {new:#?}"
        );
    }

    /// Everything a drill may have created that still exists: DB instances and clusters,
    /// running instances, volumes and live stacks that carry a firedrill run tag.
    /// Every RDS backup the account holds, automated and manual, of drills and of production:
    /// DB snapshots, cluster snapshots, and instances' and clusters' automated backups.
    pub async fn backups(&self) -> Vec<String> {
        let rds = self.clients().await.rds();
        let mut out = Vec::new();
        for s in rds
            .describe_db_snapshots()
            .send()
            .await
            .expect("snapshots")
            .db_snapshots()
        {
            out.push(format!(
                "db-snapshot {:?} {:?} of {:?}",
                s.db_snapshot_identifier(),
                s.snapshot_type(),
                s.db_instance_identifier()
            ));
        }
        for s in rds
            .describe_db_cluster_snapshots()
            .send()
            .await
            .expect("cluster snapshots")
            .db_cluster_snapshots()
        {
            out.push(format!(
                "cluster-snapshot {:?} {:?} of {:?}",
                s.db_cluster_snapshot_identifier(),
                s.snapshot_type(),
                s.db_cluster_identifier()
            ));
        }
        for b in rds
            .describe_db_instance_automated_backups()
            .send()
            .await
            .expect("instance automated backups")
            .db_instance_automated_backups()
        {
            out.push(format!(
                "instance-backup of {:?} {:?}",
                b.db_instance_identifier(),
                b.status()
            ));
        }
        for b in rds
            .describe_db_cluster_automated_backups()
            .send()
            .await
            .expect("cluster automated backups")
            .db_cluster_automated_backups()
        {
            out.push(format!(
                "cluster-backup of {:?} {:?}",
                b.db_cluster_identifier(),
                b.status()
            ));
        }
        out.sort();
        out
    }

    pub async fn drill_leftovers(&self) -> Vec<String> {
        const RUN_TAG: &str = "firedrill:run-id";
        let c = self.clients().await;
        let mut left = Vec::new();
        for d in c
            .rds()
            .describe_db_instances()
            .send()
            .await
            .expect("dbs")
            .db_instances()
        {
            if d.tag_list().iter().any(|t| t.key() == Some(RUN_TAG)) {
                left.push(format!("db {:?}", d.db_instance_identifier()));
            }
        }
        for d in c
            .rds()
            .describe_db_clusters()
            .send()
            .await
            .expect("clusters")
            .db_clusters()
        {
            if d.tag_list().iter().any(|t| t.key() == Some(RUN_TAG)) {
                left.push(format!("cluster {:?}", d.db_cluster_identifier()));
            }
        }
        let ec2 = c.ec2();
        for i in ec2
            .describe_instances()
            .send()
            .await
            .expect("instances")
            .reservations()
            .iter()
            .flat_map(aws_sdk_ec2::types::Reservation::instances)
        {
            let live = i.state().and_then(|s| s.name())
                != Some(&aws_sdk_ec2::types::InstanceStateName::Terminated);
            if live && i.tags().iter().any(|t| t.key() == Some(RUN_TAG)) {
                left.push(format!("instance {:?}", i.instance_id()));
            }
        }
        for v in ec2
            .describe_volumes()
            .send()
            .await
            .expect("volumes")
            .volumes()
        {
            if v.tags().iter().any(|t| t.key() == Some(RUN_TAG)) {
                left.push(format!("volume {:?}", v.volume_id()));
            }
        }
        for s in c
            .cloudformation()
            .describe_stacks()
            .send()
            .await
            .expect("stacks")
            .stacks()
        {
            let live = s.stack_status()
                != Some(&aws_sdk_cloudformation::types::StackStatus::DeleteComplete);
            if live && s.tags().iter().any(|t| t.key() == Some(RUN_TAG)) {
                left.push(format!("stack {:?}", s.stack_name()));
            }
        }
        left
    }
}
