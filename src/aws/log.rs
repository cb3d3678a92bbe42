//! The log line of every AWS request: an SDK interceptor on every client that writes, at
//! debug level under the target `firedrill::aws`, each attempt's service, operation, attempt
//! number, HTTP status (or the error that kept it from one) and latency.
//!
//! Rules: it reads the operation's metadata, the attempt count and the response's status
//! only; never a header, a body, a credential or a signature. It costs one clock read per
//! attempt when debug logging is off. It knows nothing of steps or runs.

use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// The target of the request lines (`FIREDRILL_LOG=firedrill::aws=debug` shows them alone).
pub const TARGET: &str = "firedrill::aws";

/// The interceptor every client carries.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLog;

/// When the current attempt was sent.
#[derive(Debug, Clone, Copy)]
struct Sent(Instant);

impl Storable for Sent {
    type Storer = StoreReplace<Self>;
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "firedrill-request-log"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
            cfg.interceptor_state().store_put(Sent(Instant::now()));
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("?", "?"), |m| (m.service(), m.name()));
        let attempt = cfg
            .load::<RequestAttempts>()
            .map_or(1, RequestAttempts::attempts);
        let latency_ms = cfg.load::<Sent>().map_or(0, |s| s.0.elapsed().as_millis());
        if let Some(response) = context.response() {
            tracing::debug!(
                target: TARGET,
                service,
                operation,
                attempt,
                status = response.status().as_u16(),
                latency_ms,
                "aws request"
            );
        } else {
            tracing::debug!(
                target: TARGET,
                service,
                operation,
                attempt,
                latency_ms,
                "aws request: no response (connection or timeout)"
            );
        }
        Ok(())
    }
}
