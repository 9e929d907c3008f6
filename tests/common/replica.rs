//! A worker replica: a slot that the worker binary runs in, stopped and started again as often as a test likes.
//! The slot owns what stays across restarts: its admin port (and control port, when it has runtime control), its
//! directory with the log `worker.log` (appended, a header per start) and the count of its starts; and what
//! changes: the process and the worker id `NAME.gG` (G = that count, kept in the directory, so ids never repeat
//! within one directory). It waits for `/readyz` after each start, reports exits as a shell does (137 after
//! SIGKILL), and reads the replica's endpoints: `/metrics` and the runtime control (pause and resume a task type).
//! Used by `tests/faults` (one replica) and [`super::fleet`] (the cluster's).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::worker_process::{WorkerProcess, WorkerSpec, shell_code};

/// How long a start may take until `/readyz` answers, and an exit after a signal.
const PATIENCE: Duration = Duration::from_secs(60);

/// A free loopback port (free now; the replica binds it at its start).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// One replica slot; see the module docs. Dropped while running, it gets SIGTERM (held polls are parked for others)
/// and is SIGKILLed if it has not exited 30 s later.
pub struct Replica {
    name: String,
    dir: PathBuf,
    spec: WorkerSpec,
    admin_port: u16,
    /// Port and bearer token of the runtime control, when on.
    control: Option<(u16, String)>,
    generation: u32,
    process: Option<WorkerProcess>,
    /// SIGTERM was sent to the process (a second one would end it at once).
    terminating: bool,
}

impl Replica {
    /// A slot named `name` (the worker id's stem) keeping its state in `dir`, whose worker runs `spec` (plus its
    /// ports and worker id) there; runtime control is off. Nothing is started yet.
    pub fn new(name: &str, dir: &Path, spec: WorkerSpec) -> Self {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let generation =
            std::fs::read_to_string(dir.join("generation")).ok().and_then(|text| text.trim().parse().ok()).unwrap_or(0);
        let spec = spec.in_dir(dir).env("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR", "off");
        Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
            spec,
            admin_port: free_port(),
            control: None,
            generation,
            process: None,
            terminating: false,
        }
    }

    /// Turns the runtime control on, on a port of its own, with `token`.
    pub fn with_control(mut self, token: &str) -> Self {
        self.control = Some((free_port(), token.to_owned()));
        self
    }

    /// The worker id of the current (or last) process.
    pub fn worker_id(&self) -> String {
        format!("{}.g{}", self.name, self.generation)
    }

    /// `http://127.0.0.1:PORT` of `/metrics`, `/healthz` and `/readyz`.
    pub fn admin(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// `http://127.0.0.1:PORT` of the runtime control.
    pub fn control(&self) -> String {
        let (port, _) = self.control.as_ref().expect("a replica with runtime control");
        format!("http://127.0.0.1:{port}")
    }

    /// The bearer token of the runtime control.
    pub fn control_token(&self) -> &str {
        &self.control.as_ref().expect("a replica with runtime control").1
    }

    /// The process id, while one runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(WorkerProcess::pid)
    }

    /// The log every process of this slot appended to.
    pub fn log(&self) -> PathBuf {
        self.dir.join("worker.log")
    }

    /// Starts the next generation (nothing when one runs) and waits until `/readyz` answers 200.
    pub async fn start(&mut self) {
        if self.process.as_mut().is_some_and(|process| process.exited().is_none()) {
            return;
        }
        self.generation += 1;
        std::fs::write(self.dir.join("generation"), self.generation.to_string()).expect("write the generation");
        let mut spec = self
            .spec
            .clone()
            .env("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR", format!("127.0.0.1:{}", self.admin_port))
            .env("CONDUCTOR_WORKER_ALL_WORKER_ID", self.worker_id());
        if let Some((port, token)) = &self.control {
            spec = spec
                .env("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR", format!("127.0.0.1:{port}"))
                .env("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", token.as_str());
        }
        let mut log = OpenOptions::new().create(true).append(true).open(self.log()).expect("open the replica log");
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let server = spec.var("CONDUCTOR_SERVER_URL").unwrap_or_default().to_owned();
        writeln!(log, "=== start generation {} (epoch {now} s) against {server}", self.generation).expect("log");
        self.process = Some(WorkerProcess::spawn(&spec, Stdio::from(log)));
        self.terminating = false;
        self.wait_ready().await;
        eprintln!("[replica] {}: pid {}, admin {}", self.worker_id(), self.pid().unwrap_or(0), self.admin());
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
        let url = format!("{}/readyz", self.admin());
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return;
            }
            if let Some(exit) = self.process.as_mut().and_then(WorkerProcess::exited) {
                panic!("{} exited during start-up ({}): {}", self.worker_id(), shell_code(exit), self.log_tail(20));
            }
            assert!(
                Instant::now() < deadline,
                "{} not ready within {PATIENCE:?}: {}",
                self.worker_id(),
                self.log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM (a graceful stop), waits for the exit; returns its code (0 when everything was reported or handed back).
    pub async fn stop(&mut self) -> i32 {
        self.signal(false).await
    }

    /// SIGKILL: no shutdown, no final update; returns 137.
    pub async fn kill(&mut self) -> i32 {
        self.signal(true).await
    }

    async fn signal(&mut self, kill: bool) -> i32 {
        let Some(mut process) = self.process.take() else { panic!("{} is not running", self.worker_id()) };
        if kill {
            process.send_kill();
        } else if !self.terminating {
            // Once only: a second SIGTERM ends the worker at once.
            assert!(process.send_term(), "kill -TERM {} failed", process.pid());
        }
        let (exit, _) = process.wait_exit(PATIENCE).await;
        let code = shell_code(exit);
        let signal = if kill { "SIGKILL" } else { "SIGTERM" };
        eprintln!("[replica] {} (pid {}) exited after {signal} with exit code {code}", self.worker_id(), process.pid());
        code
    }

    /// Its `/metrics`, or `None` when it does not answer.
    pub async fn scrape(&self) -> Option<Metrics> {
        let response = reqwest::get(format!("{}/metrics", self.admin())).await.ok()?;
        Some(Metrics(response.text().await.ok()?))
    }

    /// Its `/metrics`; panics when it does not answer.
    pub async fn metrics(&self) -> Metrics {
        self.scrape().await.unwrap_or_else(|| panic!("{}/metrics did not answer", self.admin()))
    }

    /// Pauses or resumes polling of one task type (runtime control).
    pub async fn set_paused(&self, task_type: &str, paused: bool) {
        let action = if paused { "pause" } else { "resume" };
        let url = format!("{}/task-types/{task_type}/{action}", self.control());
        let request = reqwest::Client::new().post(&url).bearer_auth(self.control_token());
        let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(response.status().is_success(), "{url}: {}", response.status());
    }

    /// Sends SIGTERM without waiting, once (a fleet stops all its replicas at once).
    pub fn send_term(&mut self) {
        if let Some(process) = self.process.as_mut()
            && !self.terminating
            && process.exited().is_none()
        {
            self.terminating = process.send_term();
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        format!("last lines of {}:\n{}", self.log().display(), all[all.len().saturating_sub(lines)..].join("\n"))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.send_term();
        if let Some(mut process) = self.process.take() {
            process.wait_or_kill(Duration::from_secs(30));
        }
    }
}

/// A Prometheus text scrape.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The sum of every sample of `name` whose labels include all of `labels` (`key="value"` pairs).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
                if metric != name {
                    return None;
                }
                let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
                all.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }
}
