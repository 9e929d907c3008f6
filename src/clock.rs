//! Wall-clock time for state that crosses processes (park state, log timestamps). In-process waits use
//! `tokio::time` instead, so that they follow the runtime's clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (0 if the system clock is before it).
pub fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
