//! Integration tests against a real conductor-oss server (started by `scripts/test.sh`) and the example API.
//!
//! Each test uses its own task names (and the tutorial test alone serves the `HTTP_POLL` queue), so the tests run
//! in parallel against one server.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod async_complete;
mod bad_input;
mod bounds;
mod cancellation;
mod compression;
mod credentials;
mod drop_in;
mod failures;
mod isolation;
mod leases;
mod location;
mod operations;
mod orkes;
mod park;
mod secrets;
mod security;
mod shutdown;
mod strategies;
mod support;
mod tutorial;
mod visibility;
