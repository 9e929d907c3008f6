//! The infrastructure `scripts/cluster.sh` runs (PostgreSQL, Redis for 3.21.x, two conductor-server nodes), as its
//! env file describes it, and the script's commands for it (`node stop|start K`, `heal`). The replicas and the
//! example API are not the script's: [`super::fleet`] starts them. Used by `tests/cluster` and the fleet example.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::Conductor;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cluster, read from `scripts/cluster.sh`'s env file.
#[derive(Debug, Clone)]
pub struct Cluster {
    vars: HashMap<String, String>,
}

impl Cluster {
    /// The env file of `scripts/cluster.sh up`: `$CLUSTER_ENV`, else `target/cluster/cluster.env`.
    pub fn env_path() -> PathBuf {
        std::env::var("CLUSTER_ENV").map(PathBuf::from).unwrap_or_else(|_| repo().join("target/cluster/cluster.env"))
    }

    /// Reads [`Self::env_path`]; the suite refuses to run without a cluster rather than skipping.
    pub fn load() -> Self {
        Self::from_file(&Self::env_path())
    }

    /// Reads an env file of `scripts/cluster.sh`.
    pub fn from_file(path: &Path) -> Self {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: start the cluster with scripts/cluster.sh up (scripts/test-cluster.sh does)",
                path.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Self { vars }
    }

    /// A value of the env file.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_else(|| panic!("{key} missing from the cluster env file"))
    }

    /// The conductor server version the nodes run.
    pub fn version(&self) -> &str {
        self.var("CLUSTER_VERSION")
    }

    /// The cluster's temp dir: every process of the cluster runs in it, so `scripts/cluster.sh down` finds any
    /// left behind.
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.var("CLUSTER_DATA"))
    }

    /// The API root of node 1 or 2.
    pub fn node_url(&self, node: usize) -> String {
        self.var(&format!("NODE{node}_URL")).to_owned()
    }

    /// A client for node 1 or 2.
    pub fn node(&self, node: usize) -> Conductor {
        Conductor::at(&self.node_url(node))
    }
}

/// Runs `scripts/cluster.sh ARGS` off the async runtime; returns its exit code (its output goes to the test's).
pub async fn cluster_sh(args: &[&str]) -> Result<i32, String> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(repo().join("scripts/cluster.sh"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("scripts/cluster.sh {args:?}: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&output.stdout));
        output.status.code().ok_or_else(|| format!("scripts/cluster.sh {args:?} was killed"))
    })
    .await
    .expect("the blocking task")
}
