//! The command line (clap): the daemon's flags and the `check-config` and `eval` subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::CliOverrides;

/// Executes Conductor HTTP and HTTP_POLL tasks: invokes APIs and polls them until a JavaScript condition holds.
///
/// Every setting can also come from the environment or the configuration file (precedence: flag, environment,
/// file, default); `check-config --print-defaults` prints the whole file with every default.
#[derive(Debug, Parser)]
#[command(name = "conductor-http-worker", version, about)]
pub struct Cli {
    /// TOML configuration file (see config/worker.toml).
    #[arg(long, env = "CONDUCTOR_HTTP_WORKER_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Conductor API root, including /api [default: http://localhost:8080/api] [env: CONDUCTOR_SERVER_URL,
    /// CONDUCTOR_HTTP_WORKER_SERVER_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub server_url: Option<String>,
    /// A task type (queue) to serve; repeat for several. Replaces the configured list [default: HTTP_POLL] [env:
    /// CONDUCTOR_HTTP_WORKER_TASK_TYPES, comma-separated]
    #[arg(long = "task-type", global = true, value_name = "NAME")]
    pub task_types: Vec<String>,
    /// Tasks of each type held at once [default: 100] [env: CONDUCTOR_WORKER_ALL_CONCURRENCY,
    /// CONDUCTOR_WORKER_<TASKTYPE>_CONCURRENCY, also _THREAD_COUNT]
    #[arg(long, global = true, value_name = "N")]
    pub concurrency: Option<String>,
    /// Where /metrics, /healthz and /readyz are served, or "off" [default: 127.0.0.1:9191] [env:
    /// CONDUCTOR_HTTP_WORKER_ADMIN_ADDR]
    #[arg(long, global = true, value_name = "ADDR")]
    pub admin_addr: Option<String>,
    /// Log format: pretty or json [default: pretty] [env: CONDUCTOR_HTTP_WORKER_LOG_FORMAT]; filter with RUST_LOG
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
        /// Print a complete configuration file with every setting at its default, commented, and exit.
        #[arg(long)]
        print_defaults: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `conductor-http-worker man > conductor-http-worker.1`.
    Man,
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

/// The complete configuration file with every default, commented: `config/worker.toml` as shipped (a test checks
/// that it shows every setting at its default).
pub const DEFAULT_CONFIG: &str = include_str!("../config/worker.toml");

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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::config::catalog::{GLOBAL, PER_TASK_TYPE};

    /// Each flag's help names its setting's default and environment variables, as the catalogue has them.
    #[test]
    fn help_shows_every_flags_default_and_environment_names() {
        let mut command = Cli::command();
        let help = command.render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut checked = 0;
        let globals = GLOBAL.iter().map(|e| (e, true));
        for (entry, global) in globals.chain(PER_TASK_TYPE.iter().map(|e| (e, false))) {
            let Some(flag) = entry.flag() else { continue };
            let at = help.find(&format!("{flag} <")).unwrap_or_else(|| panic!("{flag} missing from --help"));
            let text = &help[at..help[at + 2..].find(" --").map_or(help.len(), |end| at + 2 + end)];
            let default = entry.default_text().trim_matches('"').to_owned();
            assert!(text.contains(&format!("[default: {default}]")), "{flag}: {text}");
            let envs: Vec<String> = if global {
                let derived = format!("CONDUCTOR_HTTP_WORKER_{}", entry.key().to_ascii_uppercase().replace('.', "_"));
                entry.env().iter().map(|e| (*e).to_owned()).chain([derived]).collect()
            } else {
                vec![format!("CONDUCTOR_WORKER_ALL_{}", entry.env()[0])]
            };
            for env in envs {
                assert!(text.contains(&env), "{flag} does not name {env}: {text}");
            }
            checked += 1;
        }
        assert_eq!(checked, 4);
    }
}
