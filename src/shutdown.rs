//! Shutdown: the tokens that stop polling and holding, the tracker of in-flight executions, the drain with a
//! deadline, and the process signals that start it (installed by `main` only; library code takes a future).
//!
//! Sequence: a signal → [`Shutdown::begin`]: pollers stop taking work (an in-flight poll still completes and its
//! tasks are handed back), held polls park at once (IN_PROGRESS + `callbackAfterSeconds` = the time left, state
//! saved) → [`Shutdown::drain`]: in-flight requests finish and report, within the grace period.

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
    /// Every execution (and hand-back) in flight.
    pub executions: TaskTracker,
}

impl Shutdown {
    /// Stops polling and parks held tasks.
    pub fn begin(&self) {
        self.stop_polling.cancel();
        self.stop_holding.cancel();
    }

    /// Waits up to `grace` for in-flight executions to report; true if all did.
    pub async fn drain(&self, grace: Duration) -> bool {
        self.executions.close();
        tokio::time::timeout(grace, self.executions.wait()).await.is_ok()
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
