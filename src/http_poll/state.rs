//! Pure: the state a parked task carries in its `outputData` between deliveries, so any replica can resume it.
//!
//! Conductor stores the `outputData` of an IN_PROGRESS update (replacing, not merging) and hands it back with the
//! re-delivered task. The state lives under [`STATE_KEY`] next to the last `response` and `pollCount`, so the
//! workflow UI shows progress while the task is parked. `pollsMade > 0` records that the first request (the
//! invocation) already happened: a resumed task continues with the next poll and never repeats it.
//!
//! State written for another task id is ignored: older servers copy `outputData` into a retried task (new id),
//! and a retry must start over.
//!
//! A delivery can carry older state than the server holds: conductor-oss enqueues a parked task before it stores
//! the park's `outputData`, and 3.21.x's SQLite queue hands out tasks up to a second before they are due, so a
//! task parked for one second can reach a waiting poll with the state of the park before. The state records the
//! server's `pollCount` of the delivery that saved it; [`may_be_stale`] says when a delivery skipped one, and the
//! worker then reads the stored output again ([`fresher_state`] picks what to resume from).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Key of the state object in `outputData`.
pub const STATE_KEY: &str = "httpPollState";
/// Layout version; state of another version is ignored (the task starts over).
pub const STATE_VERSION: u32 = 1;

/// Progress of a polling task across deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PollState {
    /// Layout version, [`STATE_VERSION`].
    pub version: u32,
    /// The task id the state was written for.
    pub task_id: String,
    /// Polls made so far (≥ 1 once the first request was sent).
    pub polls_made: u32,
    /// When the first poll was made, epoch milliseconds.
    pub first_poll_at_ms: u64,
    /// When the next poll is due, epoch milliseconds.
    pub next_poll_at_ms: u64,
    /// The server's `pollCount` of the delivery that saved this state (absent in state of older builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_at_delivery: Option<u32>,
    /// Where the polls go instead of the input's `uri`: the `Location` of a `202 Accepted` (`pollLocation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_uri: Option<String>,
}

impl PollState {
    /// Reads the state from a delivered task's `outputData`, if it was written for `task_id` in this layout.
    pub fn restore(task_id: &str, output: &Value) -> Option<Self> {
        let state: PollState = serde_json::from_value(output.get(STATE_KEY)?.clone()).ok()?;
        (state.version == STATE_VERSION && state.task_id == task_id && state.polls_made > 0).then_some(state)
    }

    /// Adds the state to an output map.
    pub fn store(&self, output: &mut Map<String, Value>) {
        if let Ok(value) = serde_json::to_value(self) {
            output.insert(STATE_KEY.to_owned(), value);
        }
    }
}

/// Whether the delivered task (its id, `outputData` and `pollCount`) may carry older state than the server stores:
/// its state was saved by a delivery before the previous one, or it has no state although it was delivered
/// before. Either also happens when a delivery was lost (a worker died holding it), so this only says "look again".
pub fn may_be_stale(task_id: &str, output: &Value, delivered_poll_count: u32) -> bool {
    match PollState::restore(task_id, output) {
        Some(state) => state.saved_at_delivery.is_some_and(|saved| delivered_poll_count > saved.saturating_add(1)),
        None => delivered_poll_count > 1 && output.get(STATE_KEY).is_none(),
    }
}

/// Whether `stored` (the output read from the server after the delivery) holds state further along than the
/// delivered output: then the task resumes from `stored`.
pub fn fresher_state(task_id: &str, delivered: &Value, stored: &Value) -> bool {
    let polls = |output: &Value| PollState::restore(task_id, output).map_or(0, |state| state.polls_made);
    polls(stored) > polls(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> PollState {
        PollState {
            version: STATE_VERSION,
            task_id: "t1".into(),
            polls_made: 3,
            first_poll_at_ms: 10,
            next_poll_at_ms: 20,
            saved_at_delivery: Some(4),
            status_uri: None,
        }
    }

    fn with_state(state: &PollState) -> Value {
        let mut output = Map::new();
        state.store(&mut output);
        Value::Object(output)
    }

    #[test]
    fn a_delivery_that_skipped_one_may_carry_stale_state() {
        let saved_at_4 = with_state(&state());
        let unversioned = with_state(&PollState { saved_at_delivery: None, ..state() });
        let cases = [
            (&saved_at_4, 5, false, "the delivery right after the park"),
            (&saved_at_4, 6, true, "one delivery in between: its state may not be stored yet"),
            (&saved_at_4, 4, false, "not later than the saving delivery"),
            (&unversioned, 9, false, "state of an older build: nothing to compare"),
            (&json!({}), 1, false, "first delivery"),
            (&json!({}), 2, true, "delivered before, no state: the first park may not be stored yet"),
            (&json!(null), 2, true, "no output at all"),
            (&json!({STATE_KEY: "garbage"}), 2, false, "state that cannot be resumed is not looked up"),
        ];
        for (output, poll_count, stale, why) in cases {
            assert_eq!(may_be_stale("t1", output, poll_count), stale, "{why}");
        }
    }

    #[test]
    fn resumes_from_the_state_that_is_further_along() {
        let at = |polls_made| with_state(&PollState { polls_made, ..state() });
        assert!(fresher_state("t1", &at(2), &at(3)));
        assert!(fresher_state("t1", &json!({}), &at(1)));
        assert!(!fresher_state("t1", &at(3), &at(3)), "same state: keep the delivered one");
        assert!(!fresher_state("t1", &at(3), &at(2)), "never go back");
        assert!(!fresher_state("t1", &at(2), &json!({})), "stored output without state");
        assert!(!fresher_state("other", &json!({}), &at(2)), "state of another task id");
    }

    #[test]
    fn round_trips_through_output_data() {
        let mut output = Map::new();
        output.insert("response".into(), json!({"statusCode": 200}));
        state().store(&mut output);
        assert_eq!(output[STATE_KEY]["pollsMade"], 3);
        assert_eq!(PollState::restore("t1", &Value::Object(output)), Some(state()));
    }

    #[test]
    fn ignores_state_it_must_not_resume() {
        let stored = |value: Value| json!({ STATE_KEY: value });
        let cases = [
            json!({}),
            json!(null),
            stored(json!("garbage")),
            stored(json!({"version": 1, "taskId": "other", "pollsMade": 3, "firstPollAtMs": 1, "nextPollAtMs": 2})),
            stored(json!({"version": 2, "taskId": "t1", "pollsMade": 3, "firstPollAtMs": 1, "nextPollAtMs": 2})),
            stored(json!({"version": 1, "taskId": "t1", "pollsMade": 0, "firstPollAtMs": 1, "nextPollAtMs": 2})),
            stored(json!({"version": 1, "taskId": "t1", "pollsMade": -1, "firstPollAtMs": 1, "nextPollAtMs": 2})),
        ];
        for output in cases {
            assert_eq!(PollState::restore("t1", &output), None, "{output}");
        }
    }
}
