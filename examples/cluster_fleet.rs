//! The cluster's worker replicas and the example API outside the tests, for the scale-out benchmark
//! (`scripts/cluster-scaleout.sh` runs one per round) and for trying the cluster by hand. It starts them against
//! the nodes `scripts/cluster.sh up` runs, through the harness the cluster tests use (`tests/common`: `fleet`,
//! `api`), writes where they listen to an env file, and on SIGTERM or SIGINT stops the replicas (SIGTERM, all at
//! once) and exits 0 when each of them exited 0.
//!
//! ```sh
//! scripts/cluster.sh up
//! cargo run --example cluster_fleet -- --replicas 3        # Ctrl-C stops the replicas
//! ```
//!
//! The env file (`--out`, default `fleet.env` beside the cluster's env file) has `API_URL`, `REPLICAS`,
//! `TASK_TYPES`, `CONTROL_TOKEN` and per replica I: `WORKER_ADMIN_I`, `WORKER_CONTROL_I`, `WORKER_ID_I`,
//! `WORKER_NODE_I`, `WORKER_PID_I`, `WORKER_LOG_I`. It is written once every replica is ready.

#[path = "../tests/common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

use common::api::Api;
use common::cluster::Cluster;
use common::fleet::{CONTROL_TOKEN, Fleet, FleetOptions, TASK_TYPES, node_of};

/// Worker replicas and the example API against the cluster of `scripts/cluster.sh`.
#[derive(Debug, Parser)]
struct Args {
    /// The cluster's env file (default: `$CLUSTER_ENV`, else target/cluster/cluster.env).
    #[arg(long)]
    cluster_env: Option<PathBuf>,
    /// How many replicas (replica I talks to node ((I+1) mod 2) + 1).
    #[arg(long, default_value_t = 3)]
    replicas: usize,
    /// Tasks each replica holds per task type (default: the worker's, 100).
    #[arg(long)]
    concurrency: Option<u32>,
    /// Milliseconds from a job's invocation to its completion in the example API.
    #[arg(long, default_value_t = 2000)]
    api_delay_ms: u64,
    /// Where to write the env file (default: fleet.env beside the cluster's env file).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let env_path = args.cluster_env.clone().unwrap_or_else(Cluster::env_path);
    let cluster = Cluster::from_file(&env_path);
    let out = args.out.clone().unwrap_or_else(|| env_path.with_file_name("fleet.env"));
    // Installed first: a signal during the start-up is kept until the replicas are up, then stops them.
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");

    let api = Api::start(Duration::from_millis(args.api_delay_ms), Duration::ZERO).await;
    let options = FleetOptions { replicas: args.replicas, concurrency: args.concurrency, program: None };
    let mut fleet = Fleet::start(&cluster, &options).await;
    let mut env = format!(
        "API_URL={}\nREPLICAS={}\nTASK_TYPES={}\nCONTROL_TOKEN={CONTROL_TOKEN}\n",
        api.base,
        args.replicas,
        TASK_TYPES.join(",")
    );
    for (n, replica) in fleet.replicas().iter().enumerate() {
        let i = n + 1;
        let _ = write!(
            env,
            "WORKER_ADMIN_{i}={}\nWORKER_CONTROL_{i}={}\nWORKER_ID_{i}={}\nWORKER_NODE_{i}={}\nWORKER_PID_{i}={}\n\
             WORKER_LOG_{i}={}\n",
            replica.admin(),
            replica.control(),
            replica.worker_id(),
            node_of(i),
            replica.pid().unwrap_or(0),
            replica.log().display()
        );
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, env).and_then(|()| std::fs::rename(&tmp, &out)).expect("write the env file");
    eprintln!("[fleet] {} replicas and the example API ({}) ready; env in {}", args.replicas, api.base, out.display());

    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    let _ = std::fs::remove_file(&out);
    let codes = fleet.stop_all().await;
    eprintln!("[fleet] replicas stopped, exit codes {codes:?}");
    std::process::exit(i32::from(codes.iter().any(|code| *code != 0)));
}
