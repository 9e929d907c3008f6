//! The `eval` command: evaluates a `terminationCondition` against a response from a file (or fetched once with the
//! task's own request fields) and prints the `$` it built, the result, and what the worker would do with it. It
//! answers the tutorial's "workflow gets stuck on polling: check the response format". With `--task-id` it reads a
//! live task from the configured server: its input, and the last response stored in its output (or a fresh one
//! with `--fetch`), which answers "why is this task still polling?".
//!
//! Exit codes: 0 the condition ran (whatever it decided), 1 the condition failed (syntax, throw, bad result),
//! 64 bad arguments or input files.

use std::io::Write;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::cli::EvalArgs;
use crate::condition::dollar::{Dollar, PollView, join};
use crate::condition::{Condition, ConditionEvaluator, EvaluatorOptions, Limits, Verdict};
use crate::config::Config;
use crate::http_poll::response::{Body, HttpResponse};
use crate::http_poll::spec::{self, SpecDefaults};
use crate::http_poll::status::StatusFilter;
use crate::http_poll::termination::{Decision, Observation, decide_poll, observe};

/// Exit code for usage and input errors (EX_USAGE).
pub const EXIT_USAGE: i32 = 64;

/// Runs the command, writing its report to `out`; returns the exit code.
pub async fn run(args: &EvalArgs, config: &Config, out: &mut dyn Write) -> i32 {
    match evaluate(args, config, out).await {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(out, "error: {message}");
            EXIT_USAGE
        }
    }
}

async fn evaluate(args: &EvalArgs, config: &Config, out: &mut dyn Write) -> Result<i32, String> {
    let (input, stored_response) = match &args.task_id {
        Some(task_id) => live_task(task_id, config, out).await?,
        None => match &args.input {
            Some(path) => (read_json(path)?, None),
            None => (Value::Object(Map::new()), None),
        },
    };
    let request = input.get("http_request").filter(|v| v.is_object()).unwrap_or(&input);
    let condition = args
        .condition
        .clone()
        .or_else(|| request.get("terminationCondition").and_then(Value::as_str).map(str::to_owned))
        .ok_or("no condition: pass --condition or an --input with a terminationCondition")?;
    let defaults = SpecDefaults {
        connect_timeout: config.http.connect_timeout,
        read_timeout: config.http.read_timeout,
        max_polling_interval: config.polling.max_delay,
        retries: config.http.retries,
    };
    let (response, accepted) = if args.fetch {
        let mut input = input.clone();
        if let Some(url) = &args.url {
            let target = match input.get_mut("http_request") {
                Some(request @ Value::Object(_)) => request,
                _ => &mut input,
            };
            if let Value::Object(fields) = target {
                fields.insert("uri".into(), Value::String(url.clone()));
            }
        }
        let spec = spec::parse(&input, &defaults).map_err(|e| e.to_string())?;
        let invoker =
            crate::http_poll::invoker::build_invoker(config, Vec::new(), crate::metrics::CredentialMetrics::detached())
                .map_err(|e| format!("{e:#}"))?;
        let response = invoker.send(&spec.request, "eval").await.map_err(|e| format!("the request failed: {e}"))?;
        (response, spec.request.accepted)
    } else if let Some(path) = &args.response {
        (response_from_json(&read_json(path)?)?, accepted_from(request)?)
    } else if let Some(path) = &args.body {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let body = Body::from_bytes(bytes);
        (
            HttpResponse {
                status: args.status,
                reason: String::new(),
                headers: Map::new(),
                body,
                elapsed: Duration::ZERO,
            },
            accepted_from(request)?,
        )
    } else if let Some(stored) = &stored_response {
        (response_from_json(stored)?, accepted_from(request)?)
    } else if args.task_id.is_some() {
        return Err("the task's output holds no response yet (a held task stores its last response when it parks or \
                    ends): add --fetch to send its request once now"
            .into());
    } else {
        return Err("no response: pass --response FILE, --body FILE, --input FILE --fetch, or --task-id ID".into());
    };

    let input_text = serde_json::value::to_raw_value(&input).map_err(|e| e.to_string())?;
    let dollar = Dollar { input: &input_text, output: PollView { response: response.view(), poll_count: 1 } };
    let output = serde_json::to_value(dollar.output).map_err(|e| e.to_string())?;
    let pretty = serde_json::to_string_pretty(&join(input.clone(), output)).unwrap_or_default();
    let _ = writeln!(out, "$ (what the condition sees):\n{pretty}\n\nterminationCondition:\n  {condition}\n");

    let observation = observe(Ok((response.status, &response.reason)), &accepted, "the response");
    let observation = if matches!(observation, Observation::Accepted(_)) {
        let conditions = &config.conditions;
        let limits = Limits {
            loop_iterations: conditions.max_loop_iterations,
            recursion: conditions.max_recursion,
            timeout: conditions.timeout,
        };
        let mut options = EvaluatorOptions::for_current_binary(1, limits, conditions.evaluator_memory_bytes)
            .map_err(|e| format!("cannot find this program to run the condition evaluator: {e}"))?;
        if let Some(program) = &conditions.evaluator_program {
            options.program = program.clone();
        }
        let evaluator = ConditionEvaluator::start(options).map_err(|e| e.to_string())?;
        let condition = Condition::new(&condition);
        Observation::Accepted(Some(evaluator.evaluate(&condition, &dollar).await.0))
    } else {
        observation
    };
    let result = match &observation {
        Observation::Accepted(Some(Ok(Verdict::Holds))) => "true".to_owned(),
        Observation::Accepted(Some(Ok(Verdict::NotYet))) => "false".to_owned(),
        Observation::Accepted(Some(Ok(Verdict::Fails))) => "-1".to_owned(),
        Observation::Accepted(Some(Err(error))) => format!("error: {error}"),
        Observation::Rejected { description, .. } => format!("not evaluated: {description}"),
        _ => String::new(),
    };
    let next = match decide_poll(&observation, 1, NonZeroU32::MAX) {
        Decision::Complete => "the task COMPLETES with this response".to_owned(),
        Decision::PollAgain => "the worker polls again after the pollingInterval".to_owned(),
        Decision::Fail { reason, kind } if kind.is_terminal() => {
            format!("the task fails terminally (FAILED_WITH_TERMINAL_ERROR): {reason}")
        }
        Decision::Fail { reason, .. } => {
            format!("the task fails (FAILED, retried per its TaskDef): {reason}")
        }
    };
    let _ = writeln!(out, "result: {result}\n=> {next}");
    Ok(if matches!(observation, Observation::Accepted(Some(Err(_)))) { 1 } else { 0 })
}

/// A task on the configured server: its input, and the `response` stored in its output (if any). Prints which task
/// it is and its state.
async fn live_task(task_id: &str, config: &Config, out: &mut dyn Write) -> Result<(Value, Option<Value>), String> {
    use crate::conductor::auth::{Credentials, TokenCache};
    use crate::conductor::client::HttpConductor;
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::register(&mut registry, Vec::new()));
    let health = std::sync::Arc::new(crate::health::Health::new(metrics.clone(), crate::health::LOOP_FRESHNESS));
    let client = reqwest::Client::builder().no_proxy().build().map_err(|e| e.to_string())?;
    let credentials = config.server.auth.clone().map(|(key_id, key_secret)| Credentials { key_id, key_secret });
    let auth = TokenCache::new(credentials, config.server.token_ttl);
    let api =
        HttpConductor::new(client, config.server.url.clone(), config.server.request_timeout, auth, metrics, health);
    let server = crate::redact::url_of(&config.server.url);
    let mut task = api
        .task(task_id)
        .await
        .map_err(|e| format!("reading task {task_id} from {server}: {e}"))?
        .ok_or_else(|| format!("{server} has no task {task_id}"))?;
    let field = |task: &Value, key: &str| task.get(key).map(|v| v.to_string()).unwrap_or_else(|| "?".into());
    let _ = writeln!(
        out,
        "task {task_id} of workflow {}: status {}, type {}, delivered {} times, polls made {}\n",
        field(&task, "workflowInstanceId"),
        field(&task, "status"),
        field(&task, "taskType"),
        field(&task, "pollCount"),
        task["outputData"].get("pollCount").map_or_else(|| "0".into(), Value::to_string),
    );
    let response = task["outputData"].get_mut("response").map(Value::take).filter(|r| !r.is_null());
    Ok((task["inputData"].take(), response))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

fn accepted_from(request: &Value) -> Result<StatusFilter, String> {
    match request.get("acceptedStatusCodes") {
        None | Some(Value::Null) => Ok(StatusFilter::default()),
        Some(value) => StatusFilter::parse(value).map_err(|e| format!("acceptedStatusCodes: {e}")),
    }
}

/// `{"statusCode", "reasonPhrase"?, "headers"?, "body"?}` as copied from a task's `output.response`.
fn response_from_json(value: &Value) -> Result<HttpResponse, String> {
    let status = value
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .ok_or("--response must be an object with a numeric statusCode (use --body for a raw response body)")?;
    let headers = value.get("headers").and_then(Value::as_object).cloned().unwrap_or_default();
    let reason = value.get("reasonPhrase").and_then(Value::as_str).unwrap_or_default().to_owned();
    let body = match value.get("body") {
        None | Some(Value::Null) => Body::Null,
        Some(Value::String(text)) => Body::Text(text.clone()),
        Some(json) => Body::Json(serde_json::value::to_raw_value(json).map_err(|e| e.to_string())?),
    };
    Ok(HttpResponse { status, reason, headers, body, elapsed: Duration::ZERO })
}
