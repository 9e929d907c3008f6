//! Webhook mode: when a job completes, one `POST` of `{"requestId", "status": "COMPLETED"}` to the URL the invoke
//! named. A minimal HTTP/1.1 client over a TCP stream (plain `http://`, loopback demo), which keeps this crate free
//! of an HTTP client dependency.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ExampleApi;

/// Where a webhook goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// `host:port`.
    authority: String,
    /// Path and query, starting with `/`.
    path: String,
}

impl Target {
    /// An `http://host:port/path` URL; `None` for anything else.
    pub(crate) fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
        let clean = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_control() || c == ' ');
        (clean(authority) && clean(&path) && authority.contains(':'))
            .then(|| Self { authority: authority.to_owned(), path })
    }
}

/// Waits out the job's delay, then calls the webhook once (unless the job was cancelled meanwhile), recording the
/// answer's status in the job's stats.
pub(crate) async fn call_when_done(api: ExampleApi, request_id: String, target: Target, delay: Duration) {
    tokio::time::sleep(delay).await;
    if api.stats(&request_id).cancellations > 0 {
        return;
    }
    let body = serde_json::json!({"requestId": request_id, "status": "COMPLETED"}).to_string();
    let status = post(&target, &body).await.unwrap_or(0);
    if let Some(job) = api.lock().get_mut(&request_id) {
        job.callbacks.push(status);
    }
}

async fn post(target: &Target, body: &str) -> std::io::Result<u16> {
    let mut stream =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&target.authority)).await??;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        target.path,
        target.authority,
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut head)).await??;
    Ok(std::str::from_utf8(&head[9..12]).ok().and_then(|code| code.parse().ok()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_port_are_targets() {
        let target = Target::parse("http://127.0.0.1:8080/api/tasks/wf/ref/COMPLETED").unwrap();
        assert_eq!(
            (target.authority.as_str(), target.path.as_str()),
            ("127.0.0.1:8080", "/api/tasks/wf/ref/COMPLETED")
        );
        for bad in ["https://a:1/x", "http://a/x", "http://a:1/x y", "http://a:1/x\r\nEvil: 1", "ftp://a:1/"] {
            assert!(Target::parse(bad).is_none(), "{bad}");
        }
    }
}
