//! Tests on a production-shaped cluster: PostgreSQL and two conductor-server nodes sharing it (`scripts/cluster.sh`;
//! run the tests with `scripts/test-cluster.sh`, which starts and stops it), and three worker replicas spread over
//! the nodes, which each test starts itself (`tests/common/fleet.rs`) and stops at its end. They run one at a time
//! (`--test-threads=1`): each test owns the whole cluster, heals it (both nodes up), starts its fresh replicas
//! (nothing paused) and uses its own workflow names and its own example API.
//!
//! - a: 500 tutorial-pattern workflows complete; every poll task is executed by one replica at a time; one
//!   invocation each.
//! - b: park mode moves a task between replicas, shown by its `workerId` changing at each park.
//! - c: a replica SIGKILLed and a node stopped mid-run: everything completes, duplicates stay in the crash window.
//! - d: rolling restart of every replica (SIGTERM, exit 0, start again): zero failed workflows.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod a_scale;
mod b_park;
mod c_faults;
mod d_rolling;
mod support;
