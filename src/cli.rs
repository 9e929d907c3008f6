//! The command line (clap): the daemon's flags and the `check-config` and `eval` subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::CliOverrides;

/// Executes Conductor HTTP and HTTP_POLL tasks: invokes APIs and polls them until a JavaScript condition holds.
#[derive(Debug, Parser)]
#[command(name = "conductor-http-worker", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (see config/worker.toml).
    #[arg(long, env = "CONDUCTOR_HTTP_WORKER_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Conductor API root, e.g. http://localhost:8080/api.
    #[arg(long, global = true, value_name = "URL")]
    pub server_url: Option<String>,
    /// A task type (queue) to serve; repeat for several. Replaces the configured list.
    #[arg(long = "task-type", global = true, value_name = "NAME")]
    pub task_types: Vec<String>,
    /// Tasks of each type held at once.
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<String>,
    /// Admin address for /healthz and /readyz ("off" to disable).
    #[arg(long, global = true, value_name = "ADDR")]
    pub admin_addr: Option<String>,
    /// Log format: pretty or json.
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// What to do (default: run the worker).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the worker (the default).
    Run,
    /// Validate the configuration and print every effective value with its source; exit 64 listing every problem.
    /// The files it names (credential secrets, certificates) are read too, as at start-up.
    CheckConfig {
        /// Check the configuration alone, without reading the files it names (to check a rendering on a machine
        /// that lacks the pod's Secret mounts).
        #[arg(long)]
        skip_files: bool,
    },
    /// Evaluate a terminationCondition against a response, printing the `$` it sees and the result.
    Eval(EvalArgs),
    /// List the tasks a running worker is running or holding (asks its control endpoint).
    Tasks(TasksArgs),
}

/// Arguments of `tasks`.
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// The worker's control endpoint (default: `http://` + the configured admin.control_addr).
    #[arg(long, value_name = "URL")]
    pub control_url: Option<String>,
    /// Its bearer token (default: the configured admin.control_token or admin.control_token_file).
    #[arg(long, env = "CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Print the JSON the endpoint answered instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The condition's JavaScript source (default: the input's terminationCondition).
    #[arg(long, value_name = "JS")]
    pub condition: Option<String>,
    /// Task input JSON file: `{"http_request": {...}}` or the same keys flat (default: `{}`).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// A response as the task output shows it: JSON `{"statusCode", "headers", "body"}`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["body", "fetch"])]
    pub response: Option<PathBuf>,
    /// A live task on the configured server: its input is read from the server, and its condition is evaluated
    /// against the last response in its output (or a fresh one with --fetch).
    #[arg(long, value_name = "ID", conflicts_with_all = ["input", "response", "body"])]
    pub task_id: Option<String>,
    /// A raw response body (what curl prints); parsed as JSON when it is.
    #[arg(long, value_name = "FILE", conflicts_with = "fetch")]
    pub body: Option<PathBuf>,
    /// Status code to pair with --body.
    #[arg(long, default_value_t = 200, requires = "body")]
    pub status: u16,
    /// Send the input's request once and evaluate against the real response.
    #[arg(long)]
    pub fetch: bool,
    /// With --fetch: send the request to this URL instead of the input's uri (same method, headers, body).
    #[arg(long, value_name = "URL", requires = "fetch")]
    pub url: Option<String>,
}

impl Cli {
    /// The flags that override configuration.
    pub fn overrides(&self) -> CliOverrides {
        CliOverrides {
            server_url: self.server_url.clone(),
            task_types: self.task_types.clone(),
            concurrency: self.concurrency.clone(),
            admin_addr: self.admin_addr.clone(),
            log_format: self.log_format.clone(),
        }
    }
}
