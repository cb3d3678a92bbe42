//! The completion webhook of `firedrill run --webhook URL`: a Slack-compatible JSON POST
//! (`{"text": ...}`, which Slack, Mattermost, Rocket.Chat and Teams' incoming webhooks show)
//! with the run's outcome, plus the same facts as structured fields under `firedrill`.

use std::time::Duration;

use crate::engine::report::Report;
use crate::steps::context::StepError;

/// How long the webhook may take to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a webhook could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The URL does not parse.
    #[error("`{url}` is not a URL: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why.
        source: http::uri::InvalidUri,
    },
    /// Not http or https.
    #[error("`{url}` is not an http:// or https:// URL")]
    Scheme {
        /// The URL as given.
        url: String,
    },
    /// The HTTPS client cannot be set up.
    #[error("cannot set up the HTTPS client: {0}")]
    Client(StepError),
    /// The request failed before an answer.
    #[error("{url}: {reason}")]
    Request {
        /// The URL (without its path, which often holds a secret token).
        url: String,
        /// Why, with its causes.
        reason: String,
    },
    /// No answer in time.
    #[error("{url} did not answer within {}s", TIMEOUT.as_secs())]
    Timeout {
        /// The URL (without its path).
        url: String,
    },
    /// It answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The URL (without its path).
        url: String,
        /// The status.
        status: u16,
        /// The start of the body.
        body: String,
    },
}

/// A webhook URL, checked.
#[derive(Clone, Debug)]
pub struct Webhook {
    uri: http::Uri,
}

impl Webhook {
    /// Checks `url`: it must be an absolute http:// or https:// URL.
    pub fn parse(url: &str) -> Result<Self, WebhookError> {
        let uri: http::Uri = url.parse().map_err(|source| WebhookError::Url {
            url: url.to_owned(),
            source,
        })?;
        match (uri.scheme_str(), uri.host()) {
            (Some("http" | "https"), Some(_)) => Ok(Self { uri }),
            _ => Err(WebhookError::Scheme {
                url: url.to_owned(),
            }),
        }
    }

    /// Where it goes, without its path and query (Slack's hold the secret token): for messages.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}",
            self.uri.scheme_str().unwrap_or("http"),
            self.uri
                .authority()
                .map_or("", http::uri::Authority::as_str)
        )
    }

    /// Posts `body` as JSON; the answer's status when it is a success.
    pub async fn post(&self, body: &serde_json::Value) -> Result<u16, WebhookError> {
        let shown = self.shown();
        let client = crate::steps::probe::action::http_client(
            crate::steps::probe::names::Names::System,
            true,
            None,
        )
        .map_err(WebhookError::Client)?;
        let request = http::Request::post(self.uri.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("firedrill/", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Full::new(bytes::Bytes::from(
                body.to_string(),
            )))
            .map_err(|e| WebhookError::Request {
                url: shown.clone(),
                reason: e.to_string(),
            })?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| WebhookError::Request {
                    url: shown.clone(),
                    reason: crate::language::diag::error_chain(&e),
                })?;
            let status = response.status().as_u16();
            let body = http_body_util::BodyExt::collect(response.into_body())
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            if (200..300).contains(&status) {
                Ok(status)
            } else {
                Err(WebhookError::Status {
                    url: shown.clone(),
                    status,
                    body: String::from_utf8_lossy(&body).chars().take(200).collect(),
                })
            }
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(WebhookError::Timeout { url: shown.clone() }))
    }
}

/// The message for a finished run: `text` (the run's summary) for chat, and the facts as
/// fields under `firedrill` for programs.
pub fn message(report: &Report, report_path: &str) -> serde_json::Value {
    let summary = crate::reports::summary::render_summary(
        report,
        crate::reports::paint::Paint::PLAIN,
        &crate::reports::summary::teardown_command(&report.run_id),
    );
    let text = summary.trim_end();
    serde_json::json!({
        "text": text,
        "firedrill": {
            "run_id": report.run_id,
            "playbook": report.playbook.name,
            "file": report.playbook.file,
            "state": report.state,
            "exit_code": report.exit_code,
            "rto": report.rto,
            "rpo": report.rpo,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "report": report_path,
        }
    })
}

/// The message for a run that ended before its drill started (an invalid playbook, a run of
/// the playbook already in progress, the account guard's refusal, ...): the exit code says
/// why; the details are in the run's standard error.
pub fn not_run_message(playbook: &str, run_id: Option<&str>, code: u8) -> serde_json::Value {
    let (name, meaning) = crate::engine::exit::ALL
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(("unknown", "unknown"), |(_, name, meaning)| {
            (*name, *meaning)
        });
    let run = run_id.map_or_else(String::new, |id| format!(" {id}"));
    serde_json::json!({
        "text": format!(
            "drill{run} of `{playbook}` did not run: {meaning} (exit {code}, {name}); its error output says why"
        ),
        "firedrill": {
            "run_id": run_id,
            "playbook": playbook,
            "state": "not-run",
            "exit_code": code,
            "reason": name,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_the_whole_summary_even_for_a_step_named_report() {
        let fixture = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/report-failed.json"
        ))
        .expect("fixture")
        .replace("\"id\": \"probe\"", "\"id\": \"report\"");
        let report = Report::from_json(&fixture).expect("a report");
        let message = message(&report, "/tmp/report.json");
        let text = message["text"].as_str().expect("text");
        assert_eq!(
            text,
            crate::reports::summary::render_summary(
                &report,
                crate::reports::paint::Paint::PLAIN,
                &crate::reports::summary::teardown_command(&report.run_id),
            )
            .trim_end()
        );
        assert!(text.contains("\n    report: failed"), "{text}");
    }

    #[test]
    fn only_absolute_http_urls() {
        assert!(Webhook::parse("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(Webhook::parse("http://127.0.0.1:8080/hook").is_ok());
        assert!(matches!(
            Webhook::parse("ftp://example.com/x"),
            Err(WebhookError::Scheme { .. })
        ));
        assert!(matches!(
            Webhook::parse("/just/a/path"),
            Err(WebhookError::Scheme { .. })
        ));
        assert!(matches!(
            Webhook::parse("http://exa mple.com"),
            Err(WebhookError::Url { .. })
        ));
        assert_eq!(
            Webhook::parse("https://hooks.slack.com/services/T/B/secret")
                .expect("ok")
                .shown(),
            "https://hooks.slack.com"
        );
    }
}
