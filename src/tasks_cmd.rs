//! The `tasks` command: asks a running worker's control endpoint (`GET /tasks`, with its bearer token) which tasks
//! it is running or holding, and prints them as a table (or the JSON with `--json`). It answers "what is this
//! worker doing right now, and when does each held task poll next?".
//!
//! Exit codes: 0 listed, 1 the worker could not be asked, 64 bad arguments or no control endpoint configured.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::cli::TasksArgs;
use crate::clock::epoch_ms;
use crate::config::{Config, ControlToken};
use crate::eval::EXIT_USAGE;

/// Runs the command, writing to `out`; returns the exit code.
pub async fn run(args: &TasksArgs, config: &Config, out: &mut dyn Write) -> i32 {
    let target = match where_to_ask(args, config) {
        Ok(target) => target,
        Err(message) => {
            let _ = writeln!(out, "error: {message}");
            return EXIT_USAGE;
        }
    };
    match fetch(&target).await {
        Ok(listing) if args.json => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&listing).unwrap_or_default());
            0
        }
        Ok(listing) => {
            let _ = write!(out, "{}", table(&listing, epoch_ms()));
            0
        }
        Err(message) => {
            let _ = writeln!(out, "error: {message}");
            1
        }
    }
}

struct Target {
    url: String,
    token: String,
}

fn where_to_ask(args: &TasksArgs, config: &Config) -> Result<Target, String> {
    let base = match (&args.control_url, config.admin.control_addr) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(addr)) => format!("http://{addr}"),
        (None, None) => {
            return Err("no control endpoint: set admin.control_addr and a token, or pass --control-url".into());
        }
    };
    let token = match (&args.token, &config.admin.control_token) {
        (Some(token), _) => token.clone(),
        (None, Some(ControlToken::Value(token))) => token.clone(),
        (None, Some(ControlToken::File(path))) => std::fs::read_to_string(path)
            .map(|t| t.trim().to_owned())
            .map_err(|e| format!("admin.control_token_file {}: {e}", path.display()))?,
        (None, None) => return Err("no control token: set admin.control_token(_file) or pass --token".into()),
    };
    Ok(Target { url: format!("{base}/tasks"), token })
}

async fn fetch(target: &Target) -> Result<Value, String> {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build();
    let client = client.map_err(|e| e.to_string())?;
    let response = client.get(&target.url).bearer_auth(&target.token).send().await;
    let response = response.map_err(|e| format!("{}: {}", target.url, e.without_url()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{} answered {status}: {}", target.url, body.trim()));
    }
    serde_json::from_str(&body).map_err(|e| format!("{} answered something that is not JSON: {e}", target.url))
}

/// The listing as a table, times relative to `now_ms`.
fn table(listing: &Value, now_ms: u64) -> String {
    let tasks = listing.as_array().cloned().unwrap_or_default();
    if tasks.is_empty() {
        return "No task is running or holding here.\n".into();
    }
    let text = |task: &Value, key: &str| match &task[key] {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let ago = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    let header = ["TASK ID", "WORKFLOW ID", "TASK TYPE", "STATE", "POLLS", "LAST STATUS", "NEXT POLL IN", "HELD FOR"];
    let mut rows: Vec<[String; 8]> = vec![header.map(str::to_owned)];
    for task in &tasks {
        let next = task["nextPollAtMs"].as_u64().map_or_else(|| "-".into(), |at| ago(at.saturating_sub(now_ms)));
        let since = task["heldSinceMs"].as_u64().map_or_else(|| "-".into(), |at| ago(now_ms.saturating_sub(at)));
        rows.push([
            text(task, "taskId"),
            text(task, "workflowId"),
            text(task, "taskType"),
            text(task, "state"),
            text(task, "polls"),
            text(task, "lastStatus"),
            next,
            since,
        ]);
    }
    let widths: Vec<usize> = (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_listing_prints_as_an_aligned_table() {
        let listing = json!([
            {"taskId": "t-1", "workflowId": "wf-1", "taskType": "HTTP_POLL", "state": "holding", "polls": 3,
             "lastStatus": 200, "nextPollAtMs": 12_500, "heldSinceMs": 1_000},
            {"taskId": "t-22", "workflowId": "wf-2", "taskType": "invoke", "state": "running", "polls": 0,
             "heldSinceMs": 9_000}
        ]);
        let printed = table(&listing, 10_000);
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.len(), 3, "{printed}");
        assert!(lines[0].starts_with("TASK ID  WORKFLOW ID  TASK TYPE  STATE    POLLS  LAST STATUS"), "{printed}");
        assert!(lines[1].starts_with("t-1      wf-1         HTTP_POLL  holding  3      200"), "{printed}");
        assert!(lines[1].ends_with("2.5 s         9.0 s"), "{printed}");
        assert!(lines[2].contains("running") && lines[2].ends_with("-             1.0 s"), "{printed}");
        assert_eq!(table(&json!([]), 0), "No task is running or holding here.\n");
    }
}
