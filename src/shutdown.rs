//! Shutdown: the tokens that stop polling and holding, the tracker of in-flight executions, the drain with a
//! deadline, and the process signals that start it (installed by `main` only; library code takes a future).
//!
//! One deadline, `shutdown.grace_secs` after the signal, covers every phase:
//! 1. [`Shutdown::begin`]: pollers stop taking work (an in-flight poll still completes and its tasks are handed
//!    back), held polls park at once (IN_PROGRESS + `callbackAfterSeconds` = the time left, state saved);
//! 2. in-flight requests run on until [`reporting_reserve`] before the deadline; then they are abandoned
//!    ([`Shutdown::stop_executing`]): a poll parks to be made again, a single call fails retryably;
//! 3. results are reported, and the outbox is flushed, until the deadline ([`Shutdown::abandon`] ends reports
//!    still in flight); what is left is counted lost, and the process exits.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shutdown tokens and the execution tracker; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Cancelled when polling must stop.
    pub stop_polling: CancellationToken,
    /// Cancelled when held tasks must park instead of waiting here.
    pub stop_holding: CancellationToken,
    /// Cancelled near the deadline: requests in flight are abandoned.
    pub stop_executing: CancellationToken,
    /// Cancelled at the deadline: reports in flight give up (their results go to the outbox, counted lost).
    pub abandon: CancellationToken,
    /// Every execution (and hand-back) in flight.
    pub executions: TaskTracker,
}

/// Time kept at the end of the grace period for reporting the results of abandoned requests: a fifth of it, at
/// most 2 s.
pub fn reporting_reserve(grace: Duration) -> Duration {
    (grace / 5).min(Duration::from_secs(2))
}

impl Shutdown {
    /// Stops polling and parks held tasks.
    pub fn begin(&self) {
        self.stop_polling.cancel();
        self.stop_holding.cancel();
    }

    /// Waits until `deadline` for in-flight executions to report; true if all did.
    pub async fn drain_until(&self, deadline: tokio::time::Instant) -> bool {
        self.executions.close();
        tokio::time::timeout_at(deadline, self.executions.wait()).await.is_ok()
    }
}

/// Makes a second SIGTERM or SIGINT end the process at once (exit code 1), while the first starts the graceful
/// shutdown. Call once from `main`, before the runtime installs its own handlers.
pub fn exit_on_second_signal() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    let received = Arc::new(AtomicBool::new(false));
    for signal in [SIGTERM, SIGINT] {
        // Order matters: the conditional exit checks the flag before this signal's own registration sets it.
        signal_hook::flag::register_conditional_shutdown(signal, 1, received.clone())?;
        signal_hook::flag::register(signal, received.clone())?;
    }
    Ok(())
}

/// Resolves on SIGTERM or SIGINT, with the signal's name.
pub async fn signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::error!("Could not install signal handlers; stop the process with SIGKILL.");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
