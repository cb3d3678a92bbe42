//! `route53.record`: the DNS cut-over.
//!
//! The language side (this file) never imports AWS, store or engine code; the calls are in [`action`].

pub mod action;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::language::duration::Duration;
use crate::language::shapes::OneOrMany;
use crate::language::template::Template;
use crate::steps::kind::{CheckCx, Kind, minutes};

/// DNS record types a cut-over uses.
#[derive(Clone, Copy, Debug, Deserialize, JsonSchema, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    #[allow(clippy::upper_case_acronyms)]
    AAAA,
    /// Canonical name.
    #[allow(clippy::upper_case_acronyms)]
    CNAME,
    /// Text.
    #[allow(clippy::upper_case_acronyms)]
    TXT,
    /// Mail exchange.
    MX,
    /// Service locator.
    #[allow(clippy::upper_case_acronyms)]
    SRV,
}

/// Upsert a record in a hosted zone; teardown restores what was there before.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The hosted zone by name (`drill.example.internal.`); give this or `zone_id`.
    pub zone: Option<Template>,
    /// The hosted zone by id (`Z0123456789ABC`); give this or `zone`.
    pub zone_id: Option<Template>,
    /// The record name, relative to the zone (`checkout`) or fully qualified (`checkout.example.com.`).
    pub name: Template,
    /// The record type.
    #[serde(rename = "type")]
    pub record_type: RecordType,
    /// The value, or values: usually an output of another step.
    pub value: OneOrMany<Template>,
    /// The TTL in seconds (default 60).
    #[serde(default = "sixty")]
    pub ttl: u32,
}

fn sixty() -> u32 {
    60
}

impl Kind for Record {
    const NAME: &'static str = "route53.record";
    const SUMMARY: &'static str = "Upsert a Route53 record to a value (usually another step's output); waits until INSYNC; teardown restores the previous record set.";
    const DEFAULT_ESTIMATE: Duration = minutes(1);
    const OUTPUTS: &'static [&'static str] = &["fqdn", "zone_id", "change_id"];

    fn describe(&self) -> String {
        let zone = self
            .zone
            .as_ref()
            .or(self.zone_id.as_ref())
            .map_or("?", Template::raw);
        let values: Vec<&str> = self.value.0.iter().map(Template::raw).collect();
        format!(
            "point {:?} record `{}` in zone `{zone}` at {}",
            self.record_type,
            self.name,
            values.join(", ")
        )
    }

    fn check(&self, cx: &mut CheckCx<'_>) {
        match (&self.zone, &self.zone_id) {
            (None, None) => cx.error(
                &[],
                "no hosted zone is named",
                "add `zone: example.internal.` or `zone_id: Z...`",
            ),
            (Some(_), Some(_)) => cx.error(
                &["zone_id"],
                "both `zone` and `zone_id` are given",
                "keep one of them",
            ),
            _ => {}
        }
        if self.record_type == RecordType::CNAME && self.value.0.len() > 1 {
            cx.error(
                &["value"],
                "a CNAME record has exactly one value",
                "keep one value",
            );
        }
        if self.value.0.is_empty() {
            cx.error(&["value"], "the record has no value", "give a value");
        }
    }
}
