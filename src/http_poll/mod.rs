//! The lifecycle of one HTTP or HTTP_POLL task.
//!
//! ```text
//! delivered task ──spec::parse──▶ invalid ─────────────────────────────▶ FAILED_WITH_TERMINAL_ERROR (names the field)
//!        │
//!        ├─ no terminationCondition: send once ─▶ 2xx/accepted ─▶ COMPLETED {response}
//!        │                                    └▶ otherwise ────▶ FAILED {response?}
//!        │
//!        └─ terminationCondition: compile ─▶ syntax error ─────▶ FAILED_WITH_TERMINAL_ERROR
//!             │ restore state (park) or start at poll 1
//!             ▼
//!           poll n ─▶ accepted response ─▶ condition: true/1 ─▶ COMPLETED {response, pollCount}
//!             ▲                                        −1/error ─▶ FAILED_WITH_TERMINAL_ERROR
//!             │                                        false/0 ─┐
//!             │       transient (no response, 408/425/429/5xx) ─┤  n = maxPollCount ─▶ FAILED
//!             │       other status ─▶ FAILED                    ▼
//!             └──── hold (sleep here) ◀── wait::choose ──▶ park: IN_PROGRESS + callbackAfterSeconds + state
//! ```
//!
//! Pure modules decide; [`executor`] and [`request`] do the IO ([`invoker`] builds the client, [`target`] and
//! [`server_view`] are the seams tests replace):
//! [`spec`] (input → validated spec), [`strategy`] (delay after n polls), [`termination`] (what a response and a
//! verdict mean), [`wait`] (hold or park), [`state`] (what a parked task carries), [`outcome`] (→ TaskResult),
//! [`step`] (the state and next action around one poll), [`response`] (the output shape of a response), [`retry`] (retries of a single call), [`retry_after`] (a target's `Retry-After`), [`status`] (accepted and transient statuses), [`url_encoding`] (the `encode` flag and form bodies).

pub mod executor;
pub mod invoker;
pub mod location;
pub mod outcome;
pub mod progress;
pub mod request;
pub mod response;
pub mod retry;
pub mod retry_after;
pub mod server_view;
pub mod spec;
pub mod state;
pub mod status;
pub mod step;
pub mod strategy;
pub mod target;
pub mod termination;
pub mod url_encoding;
pub mod wait;

pub use executor::{Delivery, Executor, ExecutorSettings};
pub use outcome::{Outcome, OutcomeKind};
