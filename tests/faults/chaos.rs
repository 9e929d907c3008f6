//! The misbehaving target API of the fault suite: a raw HTTP/1.1 server (so it can reset connections and trickle
//! bodies) that starts jobs on `POST /invoke/{scenario}/{id}` and reports them on `GET /status/{scenario}/{id}`,
//! misbehaving per scenario. It counts every request, and which `Idempotency-Key`s it accepted, so the suite can
//! tell repeated requests (deduplicated by key) from duplicate effects (two keys starting the same job).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long a job runs once accepted.
pub const JOB_DURATION: Duration = Duration::from_secs(3);

/// A scenario, its target behaviour and the workflow status it must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Behaves.
    Ok,
    /// The first invoke answers 500 (the task is retried); every other status call answers 503.
    Flaky5xx,
    /// Every third status call answers after 2.5 s (past the 1 s read timeout).
    Slow,
    /// Every third status call closes the connection without an answer.
    Reset,
    /// Every third status call trickles its body for 3 s.
    SlowBody,
    /// Status bodies are 5 MB (past the 1 MiB cap): the task fails, is retried, fails.
    Huge,
    /// Status bodies are plain text.
    NonJson,
    /// The invoke redirects to itself forever.
    RedirectLoop,
    /// The job ends in ERROR: the condition returns -1.
    ConditionFail,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 9] = [
        Scenario::Ok,
        Scenario::Flaky5xx,
        Scenario::Slow,
        Scenario::Reset,
        Scenario::SlowBody,
        Scenario::Huge,
        Scenario::NonJson,
        Scenario::RedirectLoop,
        Scenario::ConditionFail,
    ];

    /// The path segment.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ok => "ok",
            Scenario::Flaky5xx => "flaky5xx",
            Scenario::Slow => "slow",
            Scenario::Reset => "reset",
            Scenario::SlowBody => "slowbody",
            Scenario::Huge => "huge",
            Scenario::NonJson => "nonjson",
            Scenario::RedirectLoop => "redirectloop",
            Scenario::ConditionFail => "conditionfail",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The workflow status this scenario must end with.
    pub fn expected_status(self) -> &'static str {
        match self {
            Scenario::Huge | Scenario::RedirectLoop | Scenario::ConditionFail => "FAILED",
            _ => "COMPLETED",
        }
    }
}

/// What happened to one job.
#[derive(Debug, Clone, Default)]
pub struct JobStats {
    /// Invoke requests received.
    pub invoke_requests: u32,
    /// Distinct idempotency keys whose invoke was accepted: each one started the job (more than one = duplicate
    /// effect).
    pub accepted_keys: HashSet<String>,
    /// Invokes repeated with a key already accepted (answered from the first, no new effect).
    pub repeated_with_same_key: u32,
    /// Status requests received.
    pub status_requests: u32,
    started: Option<Instant>,
}

/// The target's state; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Chaos {
    jobs: Arc<Mutex<HashMap<String, JobStats>>>,
}

impl Chaos {
    /// Starts the target on a free loopback port; returns its base URL.
    pub async fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let chaos = self.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let chaos = chaos.clone();
                tokio::spawn(async move { chaos.serve(stream).await });
            }
        });
        format!("http://{addr}")
    }

    /// Counters of every job.
    pub fn stats(&self) -> HashMap<String, JobStats> {
        self.jobs.lock().unwrap().clone()
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some((method, path, headers)) = read_request(&mut stream).await else { return };
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (kind, scenario, id) = match parts.as_slice() {
            [kind, scenario, id] => (*kind, Scenario::parse(scenario), (*id).to_owned()),
            _ => return respond(&mut stream, 404, "application/json", "{}").await,
        };
        let Some(scenario) = scenario else { return respond(&mut stream, 404, "application/json", "{}").await };
        match (method.as_str(), kind) {
            ("POST", "invoke") => {
                self.invoke(&mut stream, scenario, &id, &path, headers.get("idempotency-key").cloned()).await
            }
            ("GET", "status") => self.status(&mut stream, scenario, &id).await,
            _ => respond(&mut stream, 405, "application/json", "{}").await,
        }
    }

    async fn invoke(&self, stream: &mut TcpStream, scenario: Scenario, id: &str, path: &str, key: Option<String>) {
        let verdict = {
            let mut jobs = self.jobs.lock().unwrap();
            let job = jobs.entry(id.to_owned()).or_default();
            job.invoke_requests += 1;
            match scenario {
                Scenario::RedirectLoop => Err(302),
                Scenario::Flaky5xx if job.invoke_requests == 1 => Err(500),
                _ => {
                    let key = key.unwrap_or_else(|| format!("no-key-{}", job.invoke_requests));
                    if !job.accepted_keys.insert(key) {
                        job.repeated_with_same_key += 1;
                    }
                    job.started.get_or_insert_with(Instant::now);
                    Ok(())
                }
            }
        };
        match verdict {
            Err(302) => {
                let head =
                    format!("HTTP/1.1 302 Found\r\nLocation: {path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = stream.write_all(head.as_bytes()).await;
            }
            Err(code) => respond(stream, code, "application/json", r#"{"error":"try again"}"#).await,
            Ok(()) => {
                respond(stream, 202, "application/json", &format!(r#"{{"id":"{id}","status":"ACCEPTED"}}"#)).await
            }
        }
    }

    async fn status(&self, stream: &mut TcpStream, scenario: Scenario, id: &str) {
        let known = {
            let mut jobs = self.jobs.lock().unwrap();
            jobs.get_mut(id).filter(|j| j.started.is_some()).map(|job| {
                job.status_requests += 1;
                (job.status_requests, job.started.is_some_and(|s| s.elapsed() >= JOB_DURATION))
            })
        };
        let Some((calls, done)) = known else {
            return respond(stream, 404, "application/json", r#"{"status":"UNKNOWN"}"#).await;
        };
        let state = if done { "DONE" } else { "RUNNING" };
        let json = format!(r#"{{"id":"{id}","status":"{state}"}}"#);
        match scenario {
            Scenario::Flaky5xx if calls % 2 == 0 => respond(stream, 503, "application/json", "{}").await,
            Scenario::Slow if calls % 3 == 0 => {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                respond(stream, 200, "application/json", &json).await;
            }
            Scenario::Reset if calls % 3 == 0 => {
                // A zero linger makes the close an RST (and cannot block: there is nothing to flush).
                #[allow(deprecated)]
                let _ = stream.set_linger(Some(Duration::ZERO));
            }
            Scenario::SlowBody if calls % 3 == 0 => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    json.len()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                for byte in json.as_bytes() {
                    let _ = stream.write_all(&[*byte]).await;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            Scenario::Huge => {
                respond(stream, 200, "application/json", &format!(r#"{{"pad":"{}"}}"#, "x".repeat(5_000_000))).await
            }
            Scenario::NonJson => respond(stream, 200, "text/plain", state).await,
            Scenario::ConditionFail => {
                let state = if done { "ERROR" } else { "RUNNING" };
                respond(stream, 200, "application/json", &format!(r#"{{"id":"{id}","status":"{state}"}}"#)).await;
            }
            _ => respond(stream, 200, "application/json", &json).await,
        }
    }
}

async fn respond(stream: &mut TcpStream, code: u16, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
}

/// Method, path and lower-cased headers of one request (its body, if any, is read and ignored).
async fn read_request(stream: &mut TcpStream) -> Option<(String, String, HashMap<String, String>)> {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = stream.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        raw.extend_from_slice(&buffer[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.lines();
    let mut request_line = lines.next()?.split_whitespace();
    let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut have = raw.len() - head_end - 4;
    while have < length {
        let n = stream.read(&mut buffer).await.ok().filter(|n| *n > 0)?;
        have += n;
    }
    Some((method, path, headers))
}
