//! The seam to the server's view of a held task: whether Conductor still has it `IN_PROGRESS`. A held poll asks
//! before its next request (at most once per [`CHECK_EVERY`]), and stops when the workflow was terminated,
//! cancelled or timed out, or the task was timed out or removed; it does not go on calling the target until its
//! response timeout. A task the server shows CANCELED (its workflow was terminated or cancelled) may have a
//! `cancelRequest`, which the executor then sends once.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The shortest time between two checks of one held task: at most one status read per second per held task, so
/// a 10 ms polling interval costs the server nothing extra, and a held poll stops within one polling interval or
/// one second, whichever is longer.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// What the server says of a held task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Still IN_PROGRESS: go on.
    InProgress,
    /// CANCELED: its workflow was terminated or cancelled.
    Cancelled,
    /// Any other status (timed out, completed by someone else, ...), or the server does not know the task.
    Ended,
}

impl ServerState {
    /// The state a task status means.
    pub fn of(status: Option<&str>) -> Self {
        match status {
            Some("IN_PROGRESS") => ServerState::InProgress,
            Some("CANCELED") => ServerState::Cancelled,
            _ => ServerState::Ended,
        }
    }
}

/// A status read in flight: `None` when the server could not tell (then polling goes on).
pub type Checking<'a> = Pin<Box<dyn Future<Output = Option<ServerState>> + Send + 'a>>;

/// Asks the server about a task.
pub trait ServerView: Send + Sync + std::fmt::Debug {
    /// What the server says of `task_id`.
    fn state<'a>(&'a self, task_id: &'a str) -> Checking<'a>;
}
