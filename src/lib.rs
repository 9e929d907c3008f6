//! conductor-http-worker: a Conductor task worker that executes HTTP and HTTP_POLL tasks.
//!
//! Data flow, per task type:
//! ```text
//! poller ── acquire slot permits ──▶ batch poll (count = permits) ──▶ dispatch: one execution per task + slot
//!   ▲                                                                      │
//!   └──────────── permit returns when the execution ends ◀── reporter ◀── executor (http_poll)
//! ```
//!
//! Modules:
//! - [`config`]: the settings catalogue; TOML + environment + flags → validated [`config::Config`], with the
//!   source of every value.
//! - [`conductor`]: the [`conductor::ConductorApi`] seam (batch poll, update) and its reqwest implementation.
//! - [`http_poll`]: one task's lifecycle; pure decision modules plus the request and executor IO.
//! - [`outbound`]: what task requests may reach (the host policy), how many per host at once, and the HTTP
//!   clients that send them.
//! - [`credentials`]: credential profiles for target APIs (headers, Basic, OAuth2, client certificates, proxies),
//!   held by the worker and chosen per request host.
//! - [`condition`]: `terminationCondition`s: natively where certain, else boa in evaluator processes.
//! - [`failure`]: why a task failed, and whether that is terminal (the one mapping).
//! - [`worker`]: a worker per task type: slots, the poll loop, dispatch and reporting.
//! - [`metrics`]: every metric family and the closed sets of label values ([`closed_set`] declares them).
//! - [`redact`]: secrets out of printed URLs.
//! - `test_support` (tests only): the in-memory Conductor and target, and the loop harness.
//! - [`app`]: wiring; [`admin`]: `/healthz` and `/readyz`; [`shutdown`]: signals; [`eval`]: the `eval` command;
//!   [`tasks_cmd`]: the `tasks` command.
//!
//! Glossary:
//! - *task*: what Conductor hands out; one `taskId`, delivered once per poll or callback.
//! - *execution*: this process working on one delivery of a task, until it completes, fails or parks.
//! - *poll* (HTTP_POLL): one request to the target followed by one condition evaluation.
//! - *hold* / *park*: wait between polls in this process / on the server (IN_PROGRESS + `callbackAfterSeconds`).
//! - *slot* (permit): capacity for one execution of a task type; held from poll to report.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod closed_set;
pub mod condition;
pub mod conductor;
pub mod config;
pub mod credentials;
pub mod eval;
pub mod failure;
pub mod health;
pub mod http_poll;
pub mod logging;
pub mod metrics;
pub mod outbound;
pub mod redact;
pub mod shutdown;
pub mod tasks_cmd;
#[cfg(test)]
pub mod test_support;
pub mod worker;
