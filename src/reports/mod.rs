//! Renderings of a run's report for people and for other programs, each a pure function of
//! the [`Report`] (so `firedrill report RUN` renders a stored run exactly as `firedrill run`
//! did):
//!
//! - JSON: the report itself, the stable machine format (versioned);
//! - [`junit`]: JUnit XML for CI systems, a test case per step, per target and for the teardown;
//! - [`markdown`]: for a wiki page or a ticket;
//! - [`html`]: one self-contained page with an SVG timeline ([`gantt`]) of the steps.
//!
//! What several renderings share lives here: the formats, the targets with their margins, and
//! the teardown record (when each resource was created and deleted).

pub mod progress;
pub mod summary;
pub mod webhook;

pub mod gantt;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod paint;
pub mod parts;

use std::path::{Path, PathBuf};

use crate::engine::report::Report;

/// A rendering of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, clap::ValueEnum)]
pub enum Format {
    /// The JSON report (versioned; the stable machine format).
    Json,
    /// JUnit XML: a test case per step and per target, for CI systems.
    Junit,
    /// Markdown, for a wiki page or a ticket.
    Markdown,
    /// One self-contained HTML page with an SVG timeline.
    Html,
}

/// Every format, in the order they are written.
pub const FORMATS: [Format; 4] = [Format::Json, Format::Junit, Format::Markdown, Format::Html];

/// Why a list of formats does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FormatError {
    /// A name that is no format.
    #[error("`{0}` is not a report format (json, junit, markdown, html)")]
    Unknown(String),
}

impl Format {
    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// The name of its file in a report directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Junit => "report.junit.xml",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
        }
    }

    /// Its file in `dir`.
    pub fn path_in(self, dir: &Path) -> PathBuf {
        dir.join(self.file_name())
    }

    /// A format by name (`md` and `xml` are accepted too).
    pub fn parse(name: &str) -> Result<Self, FormatError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "junit" | "xml" => Ok(Format::Junit),
            "markdown" | "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            _ => Err(FormatError::Unknown(name.trim().to_owned())),
        }
    }

    /// A comma-separated list of formats (`json,junit,html`), without repeats, in
    /// [`FORMATS`] order.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, FormatError> {
        let mut out = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// Renders `report` as `format`.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Json => {
            let mut json = report.to_json();
            json.push('\n');
            json
        }
        Format::Junit => junit::render(report),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::parts::{Target, offset, signed};

    #[test]
    fn format_lists_parse_sorted_without_repeats_and_name_the_unknown() {
        assert_eq!(
            Format::parse_list("html, json,md,json"),
            Ok(vec![Format::Json, Format::Markdown, Format::Html])
        );
        assert_eq!(
            Format::parse_list("json,pdf"),
            Err(FormatError::Unknown("pdf".into()))
        );
    }

    #[test]
    fn margins_and_offsets_read_well() {
        assert_eq!(signed(1789.1), "+29m49s");
        assert_eq!(signed(-180.2), "\u{2212}3m");
        assert_eq!(offset(9.44), "+9.44s");
        assert_eq!(offset(3723.4), "+1h2m3s");
    }

    #[test]
    fn a_missed_target_says_by_how_much() {
        let t = Target {
            name: "RTO".into(),
            what: String::new(),
            target_secs: Some(1800.0),
            measured_secs: Some(1980.25),
            met: Some(false),
        };
        assert_eq!(t.margin_secs(), Some(-180.25));
        assert_eq!(
            t.failure().as_deref(),
            Some("RTO 33m missed its target 30m by 3m")
        );
    }
}
