//! Attempts of one step: its `retry` policy (attempts, interval, backoff, until) and its
//! `timeout`, around whatever one attempt does. The drill engine runs every step through
//! [`run`]; it knows nothing of what an attempt is, so its timing rules are tested on tokio's
//! paused clock.
//!
//! Rules: the first attempt starts at once; after a failed attempt, the next starts after
//! `interval × backoff^(n−1)`, with up to ±20% jitter from the seed, as long as fewer than
//! `attempts` were made and `until` (counted from the first attempt) has not passed; `timeout`
//! bounds the whole step, attempts and pauses included, and cancels the attempt in flight.
//! Without `retry`, a step makes one attempt.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::playbook::Retry;
use crate::util::{hash, unit};

/// How many failure reasons a step keeps for its report (the last ones).
pub const KEPT_REASONS: usize = 5;

/// Why a step did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Whether the step ran out of time (rather than out of attempts).
    pub timed_out: bool,
    /// Whether the run stopped it (no further attempt was made).
    pub cancelled: bool,
    /// How many attempts were made.
    pub attempts: u32,
    /// The last reasons, oldest first.
    pub reasons: Vec<String>,
}

/// A step that succeeded: its value, and how many attempts it took.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Success<T> {
    /// What the last attempt gave.
    pub value: T,
    /// How many attempts were made.
    pub attempts: u32,
}

/// The pause before attempt `n + 1` (after `n` failed attempts, `n >= 1`).
pub fn pause(retry: &Retry, n: u32, seed: u64) -> Duration {
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let base = retry.interval.as_secs_f64() * retry.backoff.powi(exponent);
    let jitter = 0.8 + 0.4 * unit(hash(seed, &["retry", &n.to_string()]));
    Duration::try_from_secs_f64(base * jitter).unwrap_or(Duration::MAX)
}

/// Runs `attempt` under `retry` and `timeout`. `attempt(n)` makes attempt `n` (from 1) and
/// says why it failed; `failed(n, reason)` is told of every failed attempt (for the journal and
/// the progress line). Once `cancel` fires, no new attempt starts and a pause ends at once;
/// the attempt in flight is left to stop at its own safe point.
pub async fn run<T, F, Fut>(
    retry: Option<&Retry>,
    timeout: Option<Duration>,
    seed: u64,
    cancel: &CancellationToken,
    mut attempt: F,
    mut failed: impl FnMut(u32, &str),
) -> Result<Success<T>, Failure>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let started = Instant::now();
    let deadline = timeout.map(|t| started + t);
    let mut reasons: Vec<String> = Vec::new();
    let mut n: u32 = 0;
    let give_up = |n: u32, reasons: Vec<String>, timed_out: bool| Failure {
        timed_out,
        cancelled: false,
        attempts: n,
        reasons,
    };
    let cancelled = |n: u32, reasons: Vec<String>| Failure {
        timed_out: false,
        cancelled: true,
        attempts: n,
        reasons,
    };
    loop {
        n += 1;
        let outcome = match deadline {
            Some(d) => {
                let Ok(outcome) = tokio::time::timeout_at(d, attempt(n)).await else {
                    let took = crate::language::duration::Duration(d - started);
                    keep(&mut reasons, format!("timed out after {took}"));
                    return Err(give_up(n, reasons, true));
                };
                outcome
            }
            None => attempt(n).await,
        };
        let reason = match outcome {
            Ok(value) => return Ok(Success { value, attempts: n }),
            Err(reason) => reason,
        };
        if cancel.is_cancelled() {
            keep(&mut reasons, reason);
            return Err(cancelled(n, reasons));
        }
        failed(n, &reason);
        keep(&mut reasons, reason);
        let Some(retry) = retry else {
            return Err(give_up(n, reasons, false));
        };
        if retry.attempts.is_some_and(|max| n >= max) {
            return Err(give_up(n, reasons, false));
        }
        let next = Instant::now() + pause(retry, n, seed);
        if retry.until.is_some_and(|until| next > started + until.0) {
            return Err(give_up(n, reasons, false));
        }
        if deadline.is_some_and(|d| next >= d) {
            // The next attempt could not start before the step's time is up.
            tokio::select! {
                () = tokio::time::sleep_until(deadline.unwrap_or(next)) => {}
                () = cancel.cancelled() => return Err(cancelled(n, reasons)),
            }
            keep(
                &mut reasons,
                format!(
                    "timed out after {}",
                    crate::language::duration::Duration(Instant::now() - started)
                ),
            );
            return Err(give_up(n, reasons, true));
        }
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = cancel.cancelled() => return Err(cancelled(n, reasons)),
        }
    }
}

fn keep(reasons: &mut Vec<String>, reason: String) {
    reasons.push(reason);
    if reasons.len() > KEPT_REASONS {
        reasons.remove(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::duration::Duration as Human;

    fn retry(attempts: Option<u32>, interval_s: u64, backoff: f64, until_s: Option<u64>) -> Retry {
        Retry {
            attempts,
            interval: Human::from_secs(interval_s),
            backoff,
            until: until_s.map(Human::from_secs),
        }
    }

    /// An attempt that fails until attempt `ok_at`, recording when each attempt started.
    fn flaky(
        ok_at: u32,
        log: &std::sync::Mutex<Vec<(u32, Duration)>>,
        t0: Instant,
    ) -> impl FnMut(u32) -> std::future::Ready<Result<u32, String>> + '_ {
        move |n| {
            log.lock().expect("log").push((n, t0.elapsed()));
            std::future::ready(if n >= ok_at {
                Ok(n)
            } else {
                Err(format!("attempt {n} failed"))
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_with_growing_jittered_pauses_until_success() {
        let log = std::sync::Mutex::new(Vec::new());
        let t0 = Instant::now();
        let r = retry(Some(5), 10, 2.0, None);
        let mut failures = Vec::new();
        let out = run(Some(&r), None, 7, &never(), flaky(4, &log, t0), |n, why| {
            failures.push((n, why.to_owned()));
        })
        .await;
        assert_eq!(
            out,
            Ok(Success {
                value: 4,
                attempts: 4
            })
        );
        assert_eq!(failures.len(), 3);
        let starts: Vec<f64> = log
            .lock()
            .expect("log")
            .iter()
            .map(|(_, at)| at.as_secs_f64())
            .collect();
        let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        for (gap, base) in gaps.iter().zip([10.0, 20.0, 40.0]) {
            assert!(
                (base * 0.8..=base * 1.2).contains(gap),
                "gap {gap} for a base pause of {base}"
            );
        }
        // The timer has millisecond resolution.
        assert!(
            (gaps[0] - pause(&r, 1, 7).as_secs_f64()).abs() < 0.002,
            "the jitter comes from the seed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_attempts_or_until() {
        let log = std::sync::Mutex::new(Vec::new());
        let t0 = Instant::now();
        let out = run(
            Some(&retry(Some(3), 1, 1.0, None)),
            None,
            1,
            &never(),
            flaky(99, &log, t0),
            |_, _| {},
        )
        .await;
        assert_eq!(
            out.as_ref().map_err(|f| (f.attempts, f.timed_out)).err(),
            Some((3, false))
        );
        assert_eq!(
            out.expect_err("failed").reasons.last().map(String::as_str),
            Some("attempt 3 failed")
        );

        // A probe: every 10s for 60s, then no attempt after `until`.
        let log = std::sync::Mutex::new(Vec::new());
        let out = run(
            Some(&retry(None, 10, 1.0, Some(60))),
            None,
            1,
            &never(),
            flaky(99, &log, Instant::now()),
            |_, _| {},
        )
        .await;
        let failure = out.expect_err("never healthy");
        assert!(!failure.timed_out);
        assert!(
            (5..=7).contains(&failure.attempts),
            "about 60s / 10s attempts: {}",
            failure.attempts
        );
        assert!(
            log.lock()
                .expect("log")
                .iter()
                .all(|(_, at)| at.as_secs() <= 60)
        );
        assert_eq!(failure.reasons.len(), KEPT_REASONS);
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_bounds_the_whole_step_and_cancels_the_attempt() {
        let t0 = Instant::now();
        let slow = |_n| async {
            tokio::time::sleep(Duration::from_mins(10)).await;
            Ok::<(), String>(())
        };
        let out = run(
            None,
            Some(Duration::from_secs(30)),
            1,
            &never(),
            slow,
            |_, _| {},
        )
        .await;
        let failure = out.expect_err("timed out");
        assert!(failure.timed_out);
        assert_eq!(t0.elapsed(), Duration::from_secs(30));
        assert_eq!(failure.reasons, ["timed out after 30s"]);

        // Retries that cannot fit before the timeout stop at it, not later.
        let t0 = Instant::now();
        let log = std::sync::Mutex::new(Vec::new());
        let out = run(
            Some(&retry(None, 20, 1.0, None)),
            Some(Duration::from_secs(50)),
            3,
            &never(),
            flaky(99, &log, t0),
            |_, _| {},
        )
        .await;
        let failure = out.expect_err("timed out");
        assert!(failure.timed_out);
        assert_eq!(t0.elapsed(), Duration::from_secs(50));
    }

    fn never() -> CancellationToken {
        CancellationToken::new()
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancel_ends_the_pause_and_starts_no_other_attempt() {
        let log = std::sync::Mutex::new(Vec::new());
        let t0 = Instant::now();
        let cancel = CancellationToken::new();
        let stopper = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(15)).await;
            stopper.cancel();
        });
        let out = run(
            Some(&retry(None, 10, 1.0, None)),
            None,
            1,
            &cancel,
            flaky(99, &log, t0),
            |_, _| {},
        )
        .await;
        let failure = out.expect_err("cancelled");
        assert!(failure.cancelled && !failure.timed_out);
        assert_eq!(
            failure.attempts, 2,
            "attempts at 0s and ~10s, none after the cancel"
        );
        assert_eq!(
            t0.elapsed(),
            Duration::from_secs(15),
            "the pause ended at the cancel"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_attempt_without_retry() {
        let log = std::sync::Mutex::new(Vec::new());
        let out = run(
            None,
            None,
            1,
            &never(),
            flaky(2, &log, Instant::now()),
            |_, _| {},
        )
        .await;
        assert_eq!(out.map_err(|f| f.attempts), Err(1));
    }
}
