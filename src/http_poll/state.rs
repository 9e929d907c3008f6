//! Pure: the state a parked task carries in its `outputData` between deliveries, so any replica can resume it.
//!
//! Conductor stores the `outputData` of an IN_PROGRESS update (replacing, not merging) and hands it back with the
//! re-delivered task. The state lives under [`STATE_KEY`] next to the last `response` and `pollCount`, so the
//! workflow UI shows progress while the task is parked. `pollsMade > 0` records that the first request (the
//! invocation) already happened: a resumed task continues with the next poll and never repeats it.
//!
//! State written for another task id is ignored: older servers copy `outputData` into a retried task (new id),
//! and a retry must start over.

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
        }
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
