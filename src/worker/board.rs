//! The tasks one task type's worker is running or holding between polls, for the control endpoint's listing
//! (`GET /tasks`) and the `tasks` command: an entry from the moment an execution starts until it has reported,
//! updated after each poll.
//!
//! Owns: the entries and their listing. Does not own: when they change (`super::dispatch` adds and removes them,
//! `super::progress` updates them).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use tokio::time::Instant;

/// One task as the listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldTask {
    /// The task's id.
    pub task_id: String,
    /// Its workflow's id.
    pub workflow_id: String,
    /// Its task type.
    pub task_type: String,
    /// `holding` (waiting here for its next poll) or `running` (a request or a condition in progress).
    pub state: &'static str,
    /// Polls made so far (across parks).
    pub polls: u32,
    /// The status code of the last response (absent before the first, or without a response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// When the next poll is due (epoch ms), while holding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_poll_at_ms: Option<u64>,
    /// When this worker received it (epoch ms).
    pub held_since_ms: u64,
}

#[derive(Debug)]
struct Entry {
    shown: HeldTask,
    last_logged: Option<Instant>,
}

/// The entries of one task type.
#[derive(Debug, Default)]
pub struct Board {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Board {
    /// An execution of `task_id` started (`received_ms`: when the poll returned it).
    pub fn add(&self, task_id: &str, workflow_id: &str, task_type: &str, received_ms: u64) {
        let shown = HeldTask {
            task_id: task_id.to_owned(),
            workflow_id: workflow_id.to_owned(),
            task_type: task_type.to_owned(),
            state: "running",
            polls: 0,
            last_status: None,
            next_poll_at_ms: None,
            held_since_ms: received_ms,
        };
        self.lock().insert(task_id.to_owned(), Entry { shown, last_logged: None });
    }

    /// The execution of `task_id` has reported.
    pub fn remove(&self, task_id: &str) {
        self.lock().remove(task_id);
    }

    /// A poll of `task_id` was made and it now waits until `next_poll_at_ms`; `decide_log` is told when its last
    /// line went out live and answers whether this one does (recorded when it does).
    pub fn polled(
        &self,
        task_id: &str,
        polls: u32,
        status: Option<u16>,
        next_poll_at_ms: u64,
        decide_log: impl FnOnce(Option<Instant>) -> bool,
    ) -> bool {
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(task_id) else { return false };
        entry.shown.state = "holding";
        entry.shown.polls = polls;
        entry.shown.last_status = status;
        entry.shown.next_poll_at_ms = Some(next_poll_at_ms);
        let log = decide_log(entry.last_logged);
        if log {
            entry.last_logged = Some(Instant::now());
        }
        log
    }

    /// Every entry at `now_ms` (a task whose next poll is due is running it), oldest first.
    pub fn list(&self, now_ms: u64) -> Vec<HeldTask> {
        let shown = |entry: &Entry| {
            let mut shown = entry.shown.clone();
            if shown.next_poll_at_ms.is_none_or(|at| at <= now_ms) {
                shown.state = "running";
                shown.next_poll_at_ms = None;
            }
            shown
        };
        let mut listed: Vec<HeldTask> = self.lock().values().map(shown).collect();
        listed.sort_by(|a, b| (a.held_since_ms, &a.task_id).cmp(&(b.held_since_ms, &b.task_id)));
        listed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_an_execution_from_start_to_report() {
        let board = Board::default();
        board.add("t2", "w2", "HTTP_POLL", 2000);
        board.add("t1", "w1", "HTTP_POLL", 1000);
        assert!(board.polled("t1", 5, Some(200), 9000, |last| last.is_none()), "first line goes out");
        assert!(!board.polled("t1", 6, Some(202), 9500, |last| last.is_none()), "told that one went out");
        assert!(!board.polled("unknown", 1, None, 0, |_| true), "no entry, no line");
        let listed = board.list(9000);
        assert_eq!(listed.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>(), ["t1", "t2"]);
        assert_eq!((listed[0].state, listed[0].polls, listed[0].last_status), ("holding", 6, Some(202)));
        assert_eq!(listed[0].next_poll_at_ms, Some(9500));
        assert_eq!((listed[1].state, listed[1].polls), ("running", 0));
        assert_eq!(board.list(9500)[0].state, "running", "its next poll is due: running it");
        board.remove("t1");
        board.remove("t2");
        assert!(board.list(0).is_empty());
    }
}
