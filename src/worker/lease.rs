//! Lease extension: while a task runs here without an update to the server (one long request, a chain of holds
//! between polls, retries of a single call), the server is told every ~80 % of the task's `responseTimeoutSeconds`
//! that the task is still being worked on (`extendLease`), so that it never times out a healthy task. A request
//! longer than the response timeout then works, and a hold need not fit into what is left of it.
//!
//! Owns: how often a task's lease is extended ([`interval`], pure), and running the extensions beside its
//! execution ([`keep_leased`]): a failed extension is tried again with a growing pause (1 s, 2 s, … up to the
//! interval) until one succeeds; a task the server no longer knows (404) is not extended again. Does not own: the
//! update that ends the task ([`super::reporter`]) or the choice between holding and parking ([`crate::http_poll::wait`]).

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::conductor::{ClientError, ConductorApi, LeaseExtension};
use crate::metrics::TaskMetrics;

/// The share of the response timeout after which the lease is extended (the SDKs' 0.8).
pub const LEASE_FACTOR: f64 = 0.8;
/// Shortest interval between extensions: tasks with a response timeout below 2 s are not extended.
const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The first pause after a failed extension; it doubles on each failure, up to the interval.
const FIRST_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// How often the lease of a task with this response timeout is extended; `None` when it has none (the server
/// never times it out for silence) or when extending would be needed more than once a second.
pub fn interval(response_timeout_secs: u64) -> Option<Duration> {
    let every = Duration::from_secs(response_timeout_secs).mul_f64(LEASE_FACTOR);
    (every >= MIN_INTERVAL).then_some(every)
}

/// When to try again after `failures` failed extensions in a row (≥ 1).
fn retry_pause(failures: u32, every: Duration) -> Duration {
    FIRST_RETRY_PAUSE.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(every)
}

/// Runs `execution`, extending the task's lease every `every` after the server last heard of it (`last_contact`,
/// at first the delivery). Returns the execution's output and when the server last heard of the task, from which
/// its deadline for the final update runs.
pub async fn keep_leased<C: ConductorApi, T>(
    execution: impl Future<Output = T>,
    api: &C,
    lease: LeaseExtension<'_>,
    every: Duration,
    mut last_contact: Instant,
    metrics: &TaskMetrics,
) -> (T, Instant) {
    let mut execution = pin!(execution);
    // Boxed: both live as long as the task, which may hold for hours; a pointer each is what it keeps.
    let mut next = Box::pin(sleep_until(last_contact + every));
    let mut extending: Option<std::pin::Pin<Box<dyn Future<Output = Result<(), ClientError>> + Send + '_>>> = None;
    let mut sent_at = last_contact;
    let mut failures = 0u32;
    let mut known = true;
    loop {
        tokio::select! {
            biased;
            output = &mut execution => return (output, last_contact),
            result = async { extending.as_mut().expect("guarded").await }, if extending.is_some() => {
                extending = None;
                metrics.lease_extended(result.is_ok());
                let now = Instant::now();
                match result {
                    Ok(()) => {
                        if failures > 0 {
                            tracing::info!(failures, "Lease extended again after failures.");
                        }
                        failures = 0;
                        last_contact = sent_at;
                        next.as_mut().reset(last_contact + every);
                    }
                    Err(ClientError::Status { code: 404, .. }) => {
                        tracing::warn!("The server no longer knows this task: its lease is not extended again.");
                        known = false;
                    }
                    Err(error) => {
                        failures += 1;
                        let pause = retry_pause(failures, every);
                        if failures == 1 {
                            tracing::warn!(error = %error, "Lease extension failed; trying again with backoff.");
                        }
                        next.as_mut().reset(now + pause);
                    }
                }
            }
            () = next.as_mut(), if extending.is_none() && known => {
                sent_at = Instant::now();
                extending = Some(Box::pin(api.extend_lease(&lease)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_come_at_eight_tenths_of_the_response_timeout() {
        assert_eq!(interval(0), None, "no response timeout: nothing to extend");
        assert_eq!(interval(1), None, "more than once a second: not extended");
        assert_eq!(interval(2), Some(Duration::from_millis(1600)));
        assert_eq!(interval(60), Some(Duration::from_secs(48)));
        assert_eq!(interval(3600), Some(Duration::from_secs(2880)));
    }

    #[test]
    fn failed_extensions_back_off_up_to_the_interval() {
        let every = Duration::from_secs(8);
        let pauses: Vec<u64> = (1..=6).map(|n| retry_pause(n, every).as_secs()).collect();
        assert_eq!(pauses, [1, 2, 4, 8, 8, 8]);
        assert_eq!(retry_pause(u32::MAX, every), every, "no overflow");
    }
}
