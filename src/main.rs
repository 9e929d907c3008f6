//! `conductor-http-worker`: parses the command line, loads the configuration (exit 64 listing every problem),
//! sets up logging and runs the daemon or a subcommand. Only this file reads the process environment.

use std::collections::HashMap;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use conductor_http_worker::app::{self, RunEnd};
use conductor_http_worker::cli::{Cli, Command};
use conductor_http_worker::condition::process::child;
use conductor_http_worker::config::{self, LoadInputs, Loaded};
use conductor_http_worker::http_poll::invoker::build_invoker;
use conductor_http_worker::{eval, logging, shutdown};

fn main() -> ExitCode {
    // A condition evaluator process (started by the worker itself): no configuration, no logging setup.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(child::SUBCOMMAND) {
        return match child::ChildArgs::parse(&args[2..]) {
            Some(child_args) => child::run(child_args),
            None => {
                eprintln!("{} is started by the worker itself, with its limits as arguments", child::SUBCOMMAND);
                ExitCode::from(eval::EXIT_USAGE as u8)
            }
        };
    }
    let cli = Cli::parse();
    // What needs no configuration.
    match &cli.command {
        Some(Command::CheckConfig { print_defaults: true, .. }) => {
            print!("{}", conductor_http_worker::cli::DEFAULT_CONFIG);
            return ExitCode::SUCCESS;
        }
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(*shell, &mut command, "conductor-http-worker", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            return match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let loaded = match load_config(&cli) {
        Ok(loaded) => loaded,
        Err(message) => {
            eprint!("{message}");
            return ExitCode::from(eval::EXIT_USAGE as u8);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Completions { .. } | Command::Man) => ExitCode::SUCCESS,
        Some(Command::CheckConfig { skip_files, .. }) => {
            // Reads what the configuration names (secret files, certificates), as the daemon does at start.
            let metrics = conductor_http_worker::metrics::CredentialMetrics::detached();
            let built = match skip_files {
                true => Ok(()),
                false => runtime.block_on(async { build_invoker(&loaded.config, Vec::new(), metrics).map(drop) }),
            };
            match built {
                Ok(()) => {
                    print_effective(&loaded);
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("invalid configuration: {error:#}");
                    ExitCode::from(eval::EXIT_USAGE as u8)
                }
            }
        }
        Some(Command::Tasks(args)) => {
            let code =
                runtime.block_on(conductor_http_worker::tasks_cmd::run(&args, &loaded.config, &mut std::io::stdout()));
            ExitCode::from(code as u8)
        }
        Some(Command::Eval(args)) => {
            let code = runtime.block_on(eval::run(&args, &loaded.config, &mut std::io::stdout()));
            ExitCode::from(code as u8)
        }
        Some(Command::Run) | None => {
            logging::init(loaded.config.log_format);
            if let Err(error) = shutdown::exit_on_second_signal() {
                tracing::warn!(error = %error, "A second SIGTERM will not force an exit.");
            }
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            let signal = async {
                let name = shutdown::signal().await;
                tracing::info!(signal = name, "Signal received.");
            };
            match runtime.block_on(app::run(loaded.config, signal)) {
                Ok(RunEnd::Drained) => ExitCode::SUCCESS,
                Ok(RunEnd::GraceExpired) => ExitCode::FAILURE,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "Worker failed to start.");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load_config(cli: &Cli) -> Result<Loaded, String> {
    let file = match &cli.config {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!("invalid configuration (1 problem):\n  - {}: cannot read: {e}\n", path.display())
            })?;
            Some((path.display().to_string(), text))
        }
    };
    let inputs = LoadInputs {
        file,
        env: std::env::vars().collect::<HashMap<_, _>>(),
        cli: cli.overrides(),
        default_worker_id: format!("{}-{}", gethostname::gethostname().to_string_lossy(), std::process::id()),
    };
    config::load(&inputs).map_err(|e| e.to_string())
}

fn print_effective(loaded: &Loaded) {
    println!("Configuration is valid. Effective values (flag > environment > file > default):");
    let width = loaded.settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for setting in &loaded.settings {
        println!("  {:width$} = {:<28} ({})", setting.key, setting.value, setting.source);
    }
    for warning in &loaded.warnings {
        println!("warning: {warning}");
    }
}
