//! EC2 kinds: `ec2.launch` and `ec2.restore-volume`.
//!
//! The language side (this file) never imports AWS, store or engine code; the calls are in [`action`].

pub mod action;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::template::Template;
use crate::steps::common::Selector;
use crate::steps::kind::{CheckCx, Kind, minutes};

/// What `ec2.launch` waits for.
#[derive(Clone, Copy, Debug, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LaunchWait {
    /// The instance state is `running` (default).
    #[default]
    Running,
    /// Running, and both EC2 status checks are `ok`.
    StatusOk,
}

/// Launch an EC2 instance from an image.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    /// An image id (`ami-...`) or `{latest_tagged: {key: value}}`.
    pub image: Selector,
    /// The instance type (default `t3.micro`).
    #[serde(default = "default_type")]
    pub instance_type: Template,
    /// The subnet to launch into.
    pub subnet: Option<Template>,
    /// Security group ids.
    #[serde(default)]
    pub security_groups: Vec<Template>,
    /// User data (a cloud-init script), passed as is.
    pub user_data: Option<Template>,
    /// The name or ARN of an instance profile.
    pub instance_profile: Option<Template>,
    /// What to wait for before the step succeeds.
    #[serde(default)]
    pub wait_for: LaunchWait,
}

fn default_type() -> Template {
    Template::literal("t3.micro")
}

impl Kind for Launch {
    const NAME: &'static str = "ec2.launch";
    const SUMMARY: &'static str = "Launch an EC2 instance from an image id or the latest tagged image; waits until running (or status ok).";
    const DEFAULT_ESTIMATE: Duration = minutes(2);
    const OUTPUTS: &'static [&'static str] = &[
        "id",
        "private_ip",
        "private_dns",
        "image_id",
        "availability_zone",
    ];

    fn describe(&self) -> String {
        let image = match &self.image {
            Selector::Id(id) => format!("image `{id}`"),
            other => format!("{} image", other.describe()),
        };
        let wait = match self.wait_for {
            LaunchWait::Running => "running",
            LaunchWait::StatusOk => "its status checks pass",
        };
        format!(
            "launch a {} instance from {image} and wait until {wait}",
            self.instance_type
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.image == Selector::Latest {
            cx.error(
                &["image"],
                "`latest` does not say which image",
                "write an image id (`ami-...`) or `{ latest_tagged: { role: app } }`",
            );
        }
    }

    fn estimate(&self) -> Option<Duration> {
        (self.wait_for == LaunchWait::StatusOk).then_some(minutes(5))
    }
}

/// Where to attach a restored volume.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attach {
    /// The instance id, usually `${steps.app.outputs.id}`.
    pub instance: Template,
    /// The device name, like `/dev/sdf`.
    pub device: String,
}

/// Create an EBS volume from a snapshot, optionally attached to an instance.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreVolume {
    /// A snapshot id (`snap-...`), `{latest_tagged: {...}}`, or `latest` with `source_volume`.
    pub snapshot: Selector,
    /// With `snapshot: latest`: the volume whose newest snapshot is used.
    pub source_volume: Option<Template>,
    /// The availability zone (default: the attached instance's).
    pub availability_zone: Option<Template>,
    /// The volume type (default `gp3`).
    #[serde(default = "gp3")]
    pub volume_type: String,
    /// Size in GiB (default: the snapshot's).
    pub size_gib: Option<u32>,
    /// Attach the volume to an instance once it is available.
    pub attach: Option<Attach>,
}

fn gp3() -> String {
    "gp3".to_string()
}

const VOLUME_TYPES: &[&str] = &["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"];

impl Kind for RestoreVolume {
    const NAME: &'static str = "ec2.restore-volume";
    const SUMMARY: &'static str = "Create an EBS volume from a snapshot (by id or latest tagged), optionally attached to an instance from another step.";
    const DEFAULT_ESTIMATE: Duration = minutes(2);
    const OUTPUTS: &'static [&'static str] = &[
        "id",
        "snapshot_id",
        "snapshot_time",
        "rpo_secs",
        "availability_zone",
    ];

    const LITERAL_FIELDS: &'static [&'static str] = &["volume_type", "attach.device"];

    fn describe(&self) -> String {
        let mut s = format!(
            "create a {} volume from {} snapshot",
            self.volume_type,
            self.snapshot.describe()
        );
        if let Some(v) = &self.source_volume {
            s.push_str(&format!(" of `{v}`"));
        }
        if let Some(a) = &self.attach {
            s.push_str(&format!(
                " and attach it to `{}` as {}",
                a.instance, a.device
            ));
        }
        s
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        if self.snapshot == Selector::Latest && self.source_volume.is_none() {
            cx.error(
                &["snapshot"],
                "`latest` needs a `source_volume` to search",
                "add `source_volume: vol-...` or give a snapshot id",
            );
        }
        if self.availability_zone.is_none() && self.attach.is_none() {
            cx.error(
                &[],
                "the volume needs an availability zone",
                "add `availability_zone:`, or `attach:` to take the instance's",
            );
        }
        if !VOLUME_TYPES.contains(&self.volume_type.as_str()) && !self.volume_type.contains("${") {
            cx.error(
                &["volume_type"],
                format!("`{}` is not an EBS volume type", self.volume_type),
                crate::language::suggest::hint(
                    &self.volume_type,
                    "volume types",
                    VOLUME_TYPES.iter().copied(),
                ),
            );
        }
        if let Some(attach) = &self.attach
            && !(attach.device.starts_with("/dev/sd") || attach.device.starts_with("/dev/xvd"))
        {
            cx.error(
                &["attach", "device"],
                format!("`{}` is not a device name", attach.device),
                "write a device like `/dev/sdf`",
            );
        }
    }

    fn measures_rpo(&self) -> bool {
        true
    }
}
