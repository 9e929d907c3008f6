//! The worker binary as a child process: what it is started with ([`WorkerSpec`]: its configuration environment,
//! the program, its working directory), starting it with that environment only, SIGTERM and SIGKILL, and reaping
//! its exit. Used by `tests/it` (kill and SIGTERM tests), and through [`super::replica`] by `tests/faults` and the
//! cluster replicas. It owns no ports, worker ids or log files: a replica keeps those across restarts.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

/// The worker binary that child-process workers and every evaluator run: the one named by
/// `CONDUCTOR_IT_WORKER_BIN` (a release build, to measure memory: BENCHMARKS.md), else the one cargo built for this
/// test binary, else `conductor-http-worker` of this program's build profile (the fleet example runs from
/// `target/PROFILE/examples/`).
pub fn worker_program() -> String {
    if let Some(path) = std::env::var("CONDUCTOR_IT_WORKER_BIN").ok().filter(|path| !path.is_empty()) {
        return path;
    }
    if let Some(path) = option_env!("CARGO_BIN_EXE_conductor-http-worker") {
        return path.to_owned();
    }
    let exe = std::env::current_exe().expect("this program's path");
    let profile = exe.parent().and_then(Path::parent).expect("a program under target/PROFILE/examples");
    profile.join("conductor-http-worker").display().to_string()
}

/// An exit as a shell reports it: the exit code, or 128 + the signal that ended the process (137 after SIGKILL).
pub fn shell_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// What a worker is started with. Its environment is its whole configuration: nothing of the test's own
/// environment reaches it but `PATH`.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    program: String,
    env: BTreeMap<String, String>,
    dir: Option<PathBuf>,
}

impl WorkerSpec {
    /// Serving `task_types` against the Conductor API root `server_url`, with what every suite's workers share:
    /// targets on loopback are allowed (the example API and the test targets listen there), and the evaluator
    /// processes run the same binary (in-process workers would otherwise run the test binary as evaluator).
    pub fn new(server_url: &str, task_types: &[&str]) -> Self {
        let spec = Self { program: String::new(), env: BTreeMap::new(), dir: None };
        spec.program(&worker_program())
            .env("CONDUCTOR_SERVER_URL", server_url)
            .env("CONDUCTOR_HTTP_WORKER_TASK_TYPES", task_types.join(","))
            .env("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK", "true")
    }

    /// Runs `program` (and its evaluator processes) instead of [`worker_program`].
    pub fn program(mut self, program: &str) -> Self {
        self.program = program.to_owned();
        self.env("CONDUCTOR_HTTP_WORKER_CONDITIONS_EVALUATOR_PROGRAM", program)
    }

    /// Sets one variable (a later value wins).
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.insert(key.to_owned(), value.into());
        self
    }

    /// Sets several variables, in order.
    pub fn envs<'a>(self, vars: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Self {
        vars.into_iter().fold(self, |spec, (key, value)| spec.env(key, *value))
    }

    /// Runs it in `dir` (the cluster's teardown finds leftover processes by their working directory).
    pub fn in_dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// A variable's value.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.env.get(key).map(String::as_str)
    }

    /// The environment, for a worker started in-process (`config::load`).
    pub fn vars(&self) -> HashMap<String, String> {
        self.env.clone().into_iter().collect()
    }
}

/// A running worker binary. Dropped while running, it is SIGKILLed.
pub struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// Starts the worker `spec` describes, its logs (stderr) going to `stderr`.
    pub fn spawn(spec: &WorkerSpec, stderr: Stdio) -> Self {
        let mut command = Command::new(&spec.program);
        command.env_clear().envs(&spec.env);
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        if let Some(dir) = &spec.dir {
            command.current_dir(dir);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", spec.program));
        Self { child }
    }

    /// The process id (part of the default worker id, `<hostname>-<pid>`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it ended, when it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the worker")
    }

    /// SIGKILL: no shutdown, no final update.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the worker");
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (graceful shutdown) without waiting; false when that failed (it had exited).
    pub fn send_term(&self) -> bool {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        status.is_ok_and(|status| status.success())
    }

    /// Sends SIGKILL without waiting.
    pub fn send_kill(&mut self) {
        self.child.kill().expect("kill the worker");
    }

    /// Waits up to `patience` for the exit; returns how it ended and how long that took. Panics if it is still
    /// running after `patience`.
    pub async fn wait_exit(&mut self, patience: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(exit) = self.exited() {
                return (exit, started.elapsed());
            }
            assert!(started.elapsed() < patience, "the worker did not exit within {patience:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then waits up to `patience` for the exit; returns the exit code (None: killed by a signal) and
    /// how long the exit took. Panics if it is still running after `patience`.
    pub async fn terminate(mut self, patience: Duration) -> (Option<i32>, Duration) {
        assert!(self.send_term(), "kill -TERM {} failed", self.pid());
        let (exit, took) = self.wait_exit(patience).await;
        (exit.code(), took)
    }

    /// Waits without a runtime (in `Drop`) up to `patience`, then SIGKILLs it.
    pub fn wait_or_kill(&mut self, patience: Duration) {
        let step = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        while waited < patience {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(step);
            waited += step;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
