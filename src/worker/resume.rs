//! IO: makes sure a re-delivered polling task resumes from the newest state the server stores, not from an older
//! copy the delivery carried (see [`crate::http_poll::state`] for when a delivery can be stale). When the delivery
//! looks stale, the stored `outputData` is read a few times, briefly apart (the server may still be storing the
//! last park); the task continues from it when it is further along. Anything else keeps the delivered task.

use std::time::Duration;

use crate::conductor::{ConductorApi, Task};
use crate::http_poll::state::{fresher_state, may_be_stale};

/// Reads of the stored output before giving up on a fresher state.
const READS: u32 = 3;
/// Pause between reads.
const READ_PAUSE: Duration = Duration::from_millis(50);

/// Whether the delivered task may carry older state than the server stores (then [`freshen`] it).
pub fn needs_a_look(task: &Task) -> bool {
    may_be_stale(&task.task_id, &task.output_data, task.poll_count)
}

/// Replaces the delivered task's `outputData` with the one the server stores when that is further along.
pub async fn freshen<C: ConductorApi>(api: &C, task: &mut Task) {
    if !needs_a_look(task) {
        return;
    }
    for read in 0..READS {
        if read > 0 {
            tokio::time::sleep(READ_PAUSE).await;
        }
        match api.task_output(&task.task_id).await {
            Ok(Some(stored)) if fresher_state(&task.task_id, &task.output_data, &stored) => {
                tracing::info!(
                    poll_count = task.poll_count,
                    "The delivered task carried an older state than the server stores; resuming from the stored one."
                );
                task.output_data = stored;
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(error = %error, "Could not read the task's stored output; resuming from the delivery.");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::{Value, json};

    use super::*;
    use crate::http_poll::state::{PollState, STATE_VERSION};
    use crate::test_support::FakeConductor;

    fn output(polls_made: u32, saved_at_delivery: u32) -> Value {
        let mut output = serde_json::Map::new();
        output.insert("pollCount".into(), json!(polls_made));
        let state = PollState {
            version: STATE_VERSION,
            task_id: "t1".into(),
            polls_made,
            first_poll_at_ms: 1,
            next_poll_at_ms: 2,
            saved_at_delivery: Some(saved_at_delivery),
            status_uri: None,
        };
        state.store(&mut output);
        Value::Object(output)
    }

    fn delivered(output_data: Value, poll_count: u32) -> Task {
        Task { task_id: "t1".into(), output_data, poll_count, ..Task::default() }
    }

    #[tokio::test]
    async fn a_stale_delivery_resumes_from_the_stored_state_once_it_is_there() {
        let api = FakeConductor::default();
        // The first read still sees the old state (the park is being stored), the second the new one.
        api.stored_outputs.lock().unwrap().extend([output(1, 1), output(2, 2)]);
        let mut task = delivered(output(1, 1), 3);
        freshen(&api, &mut task).await;
        assert_eq!(task.output_data, output(2, 2));
        assert_eq!(api.output_reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_delivery_that_looks_stale_but_is_not_keeps_its_state() {
        let api = FakeConductor::default();
        api.stored_outputs.lock().unwrap().push_back(output(1, 1)); // a delivery was lost, nothing newer exists
        let mut task = delivered(output(1, 1), 3);
        freshen(&api, &mut task).await;
        assert_eq!(task.output_data, output(1, 1));
        assert_eq!(api.output_reads.load(Ordering::SeqCst), READS);
    }

    #[tokio::test]
    async fn a_regular_delivery_is_not_looked_up() {
        let api = FakeConductor::default();
        for (output_data, poll_count) in [(output(2, 4), 5), (json!({}), 1)] {
            let mut task = delivered(output_data.clone(), poll_count);
            freshen(&api, &mut task).await;
            assert_eq!(task.output_data, output_data);
        }
        assert_eq!(api.output_reads.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn an_unknown_task_keeps_the_delivery() {
        let api = FakeConductor::default(); // no stored output: the server does not know the task
        let mut task = delivered(json!({}), 2);
        freshen(&api, &mut task).await;
        assert_eq!(task.output_data, json!({}));
    }
}
