//! Catalogue entries of one task's polling: the waits between polls (`[polling]`) and the evaluator of
//! `terminationCondition`s (`[conditions]`).
//!
//! Owns: those entries' keys, defaults and checks, including the condition limits' defaults as plain numbers (the
//! evaluator's own `condition::Limits::default()` must equal them; a test in `app` checks it). Does not own: the
//! evaluator or its `Limits` type (`condition`).

use super::entry::{Entry, MIB, Unit};

// [polling]
/// `polling.max_delay_secs`.
pub const MAX_DELAY_SECS: Entry<u64> =
    Entry::new("polling.max_delay_secs", || 86_400, Unit::Secs, "longest wait between polls")
        .check(|v| (1..=30 * 86_400).contains(v), "must be from 1 to 2592000 (30 days)");
/// `polling.min_interval_ms`.
pub const MIN_INTERVAL_MS: Entry<u64> =
    Entry::new("polling.min_interval_ms", || 0, Unit::Millis, "shortest wait between polls, whatever tasks ask");
/// `polling.async_complete_recheck_secs`.
pub const ASYNC_COMPLETE_RECHECK_SECS: Entry<u64> = Entry::new(
    "polling.async_complete_recheck_secs",
    || 3600,
    Unit::Secs,
    "callback of an asyncComplete task waiting to be completed through the task API",
)
.check(|v| (1..=86_400).contains(v), "must be from 1 to 86400");
/// `polling.log_first_polls`.
pub const LOG_FIRST_POLLS: Entry<u32> = Entry::new(
    "polling.log_first_polls",
    || 5,
    Unit::Count,
    "first polls of a held task written to its execution log as they happen",
)
.check(|v| *v <= 10_000, "must be at most 10000");
/// `polling.log_interval_secs`.
pub const LOG_INTERVAL_SECS: Entry<u64> = Entry::new(
    "polling.log_interval_secs",
    || 60,
    Unit::Secs,
    "after those, at most one execution log line per this long while the task holds; 0 = none",
)
.check(|v| *v <= 86_400, "must be at most 86400");
/// `polling.jitter_ratio`.
pub const JITTER_RATIO: Entry<f64> =
    Entry::new("polling.jitter_ratio", || 0.0, Unit::Ratio, "random spread of each wait, plus or minus")
        .check(|v| (0.0..=1.0).contains(v), "must be from 0 to 1");

// [conditions]
/// `conditions.evaluators`.
pub const EVALUATORS: Entry<usize> =
    Entry::new("conditions.evaluators", || 2, Unit::Count, "evaluator processes for JavaScript conditions")
        .check(|v| (1..=64).contains(v), "must be from 1 to 64");
/// `conditions.evaluator_memory_bytes`.
pub const EVALUATOR_MEMORY_BYTES: Entry<u64> = Entry::new(
    "conditions.evaluator_memory_bytes",
    || 256 * MIB,
    Unit::Bytes,
    "address space of one evaluator process",
)
.check(
    |v| (128 * MIB..=64 << 30).contains(v),
    "must be from 134217728 (128 MiB: an evaluator process needs ~40 MiB of address space to start) to 68719476736",
);
/// `conditions.evaluator_program`.
pub const EVALUATOR_PROGRAM: Entry<String> =
    Entry::new("conditions.evaluator_program", String::new, Unit::None, "program run as evaluator (default: this one)");
/// `conditions.timeout_ms`.
pub const CONDITION_TIMEOUT_MS: Entry<u64> =
    Entry::new("conditions.timeout_ms", || 50, Unit::Millis, "CPU time one evaluation may use")
        .check(|v| (1..=60_000).contains(v), "must be from 1 to 60000");
/// `conditions.max_loop_iterations`.
pub const MAX_LOOP_ITERATIONS: Entry<u64> =
    Entry::new("conditions.max_loop_iterations", || 1_000_000, Unit::Count, "loop iterations one evaluation may run")
        .check(|v| *v >= 1, "must be at least 1");
/// `conditions.max_recursion`.
pub const MAX_RECURSION: Entry<usize> =
    Entry::new("conditions.max_recursion", || 256, Unit::Count, "call depth one evaluation may reach")
        .check(|v| (1..=10_000).contains(v), "must be from 1 to 10000");
