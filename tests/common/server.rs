//! A conductor-oss server of a suite's own, for a suite that kills and restarts it (`tests/faults`). Starting goes
//! through `scripts/conductor-server.sh start DIR` (it fetches the boot jar, runs the version named by
//! `CONDUCTOR_SERVER_VERSION` with its SQLite file and log in DIR, keeps DIR's port across restarts and waits for
//! `/health`); this owns the directory, the SIGKILL, the restart on the same port and data, and the stop when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running server; stopped when dropped.
pub struct ServerProcess {
    dir: PathBuf,
    /// Its API root, `http://127.0.0.1:PORT/api`.
    pub url: String,
}

impl ServerProcess {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/conductor-server.sh")
    }

    /// Starts a server with its data in `dir`; returns once it is healthy.
    pub async fn start(dir: PathBuf) -> Self {
        let url = Self::run_start(&dir).await;
        Self { dir, url }
    }

    async fn run_start(dir: &Path) -> String {
        let (script, dir) = (Self::script(), dir.to_owned());
        let output = tokio::task::spawn_blocking(move || {
            Command::new(script).arg("start").arg(dir).stderr(Stdio::inherit()).output().expect("run the script")
        })
        .await
        .expect("the blocking task");
        assert!(output.status.success(), "the server did not start");
        String::from_utf8(output.stdout).expect("a URL").trim().to_owned()
    }

    /// SIGKILL: the server ends mid-work, its SQLite file as the kill left it.
    pub fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.join("server.pid")).expect("the server's pid file");
        let status = Command::new("kill").args(["-9", pid.trim()]).status().expect("run kill");
        assert!(status.success(), "kill -9 {pid} failed");
        std::thread::sleep(Duration::from_millis(500));
    }

    /// Starts it again on the same port and data (after [`Self::kill`]); returns its API root.
    pub async fn restart(&self) -> String {
        Self::run_start(&self.dir).await
    }

    /// Stops it (SIGTERM, SIGKILL after 15 s).
    pub fn stop(&self) {
        let _ = Command::new(Self::script()).arg("stop").arg(&self.dir).status();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
