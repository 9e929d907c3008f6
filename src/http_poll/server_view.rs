//! The seam to the server's view of a held task: whether Conductor still has it `IN_PROGRESS`. A held poll asks
//! before its next request (at most once per [`CHECK_EVERY`]), and stops when the workflow was terminated,
//! cancelled or timed out, or the task was timed out or removed; it does not go on calling the target until its
//! response timeout.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// The shortest time between two checks of one held task: at most one status read per second per held task, so
/// a 10 ms polling interval costs the server nothing extra, and a held poll stops within one polling interval or
/// one second, whichever is longer.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// A status read in flight: `Some(true)` still IN_PROGRESS, `Some(false)` not (or unknown to the server), `None`
/// the server could not tell (then polling goes on).
pub type Checking<'a> = Pin<Box<dyn Future<Output = Option<bool>> + Send + 'a>>;

/// Asks the server about a task.
pub trait ServerView: Send + Sync + std::fmt::Debug {
    /// Whether the server still has `task_id` IN_PROGRESS.
    fn in_progress<'a>(&'a self, task_id: &'a str) -> Checking<'a>;
}
