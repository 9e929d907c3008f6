//! [`HttpConductor`]: the reqwest implementation of [`ConductorApi`] against conductor-oss (and Orkes) REST.
//!
//! One pooled `reqwest::Client` is shared by every worker. Each call has a deadline: the long-poll wait plus
//! `request_timeout` for polls, `request_timeout` for updates. Error bodies are truncated before they are kept.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, StatusCode};
use url::Url;

use super::{ClientError, ConductorApi, PollRequest, PolledTask, TaskResult, decode_poll_batch};

/// Longest error body kept in a [`ClientError::Status`].
const MAX_ERROR_BODY_CHARS: usize = 512;

/// Talks to one Conductor server over HTTP.
#[derive(Debug, Clone)]
pub struct HttpConductor {
    client: Client,
    /// `http(s)://host:port/api`, without a trailing slash.
    base: Url,
    request_timeout: Duration,
}

impl HttpConductor {
    /// A client for the server whose API root is `base` (e.g. `http://localhost:8080/api`).
    pub fn new(client: Client, base: Url, request_timeout: Duration) -> Self {
        Self { client, base, request_timeout }
    }

    /// `base` joined with path segments; each segment is percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

impl ConductorApi for HttpConductor {
    async fn poll_batch(&self, request: PollRequest<'_>) -> Result<Vec<PolledTask>, ClientError> {
        let mut url = self.url(&["tasks", "poll", "batch", request.task_type]);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("workerid", request.worker_id)
                .append_pair("count", &request.count.to_string())
                .append_pair("timeout", &request.timeout.as_millis().to_string());
            if let Some(domain) = request.domain {
                query.append_pair("domain", domain);
            }
        }
        let response = self
            .client
            .get(url)
            .timeout(request.timeout + self.request_timeout)
            .send()
            .await
            .map_err(transport_error)?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        let body = success_body(response).await?;
        decode_poll_batch(&body)
    }

    async fn update_task(&self, result: &TaskResult) -> Result<(), ClientError> {
        let response = self
            .client
            .post(self.url(&["tasks"]))
            .json(result)
            .timeout(self.request_timeout)
            .send()
            .await
            .map_err(transport_error)?;
        success_body(response).await.map(drop)
    }
}

/// The body of a 2xx response, or the status and (truncated) body of any other.
async fn success_body(response: reqwest::Response) -> Result<Bytes, ClientError> {
    let status = response.status();
    let body = response.bytes().await.map_err(transport_error)?;
    if status.is_success() {
        return Ok(body);
    }
    let text: String = String::from_utf8_lossy(&body).chars().take(MAX_ERROR_BODY_CHARS).collect();
    Err(ClientError::Status { code: status.as_u16(), body: text })
}

/// reqwest's error text, without the URL (which can carry query parameters).
fn transport_error(error: reqwest::Error) -> ClientError {
    ClientError::Transport(error.without_url().to_string())
}
