//! IO: what the worker does with a held poll's progress ([`Progress`]): records it on the task type's [`Board`]
//! (the held-task listing), logs it at debug level, and, when [`should_log`] says so, sends the poll's line to the
//! task's execution log on the server (`POST /tasks/{taskId}/log`) in a task of its own. The poll never waits for
//! that call, and at most [`MAX_SENDING`] are in flight per task type: beyond that a line is not sent live and goes
//! with the task's next update instead.
//!
//! Owns: the live progress of one task type. Does not own: when a line is worth sending
//! ([`crate::http_poll::progress`]) or the listing's shape ([`super::board`]).

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::board::Board;
use crate::clock::epoch_ms;
use crate::conductor::ConductorApi;
use crate::http_poll::progress::{LogPolicy, PollProgress, Progress, should_log};

/// Execution-log calls in flight at once, per task type.
const MAX_SENDING: usize = 32;

/// The daemon's [`Progress`] for one task type.
pub struct LiveProgress<C> {
    board: Arc<Board>,
    api: Arc<C>,
    policy: LogPolicy,
    sending: Arc<Semaphore>,
}

impl<C> std::fmt::Debug for LiveProgress<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveProgress").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl<C: ConductorApi> LiveProgress<C> {
    /// Progress recorded on `board`, and sent to `api` per `policy`.
    pub fn new(board: Arc<Board>, api: Arc<C>, policy: LogPolicy) -> Self {
        Self { board, api, policy, sending: Arc::new(Semaphore::new(MAX_SENDING)) }
    }
}

impl<C: ConductorApi> Progress for LiveProgress<C> {
    fn polled(&self, task_id: &str, progress: &PollProgress<'_>) -> bool {
        let now = Instant::now();
        let next_in_ms = progress.next_poll_in.as_millis() as u64;
        tracing::debug!(
            poll = progress.poll,
            status = ?progress.status,
            verdict = progress.verdict,
            next_poll_in_ms = next_in_ms,
            holds = progress.holds,
            "Poll made; another follows."
        );
        let Ok(permit) = self.sending.clone().try_acquire_owned() else {
            // Too many lines in flight: this one goes with the next update.
            self.board.polled(task_id, progress.poll, progress.status, epoch_ms() + next_in_ms, |_| false);
            return false;
        };
        let log = self.board.polled(task_id, progress.poll, progress.status, epoch_ms() + next_in_ms, |last| {
            should_log(self.policy, progress, last, now)
        });
        if !log {
            return false;
        }
        let (api, task_id, line) = (self.api.clone(), task_id.to_owned(), progress.line.to_owned());
        tokio::spawn(async move {
            if let Err(error) = api.add_task_log(&task_id, &line).await {
                tracing::debug!(task_id, error = %error, "An execution log line was not delivered.");
            }
            drop(permit);
        });
        true
    }
}
