use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;

use super::*;
use crate::failure::FailureKind;
use values::{
    ClientErrorKind, ConditionOutcome, ConditionPath, DropReason, EvaluatorLane, HttpPollStatus, PollOutcome, Respawn,
    StatusClass,
};

fn scenario() -> String {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, vec!["api.internal:443".into()]));
    let poll = metrics.task_type("HTTP_POLL");
    poll.poll(Duration::from_millis(3), None);
    poll.poll(Duration::from_millis(7), Some(ClientErrorKind::Transport));
    poll.execution_started();
    poll.execution_ended(Duration::from_millis(20), Some(FailureKind::HttpStatus));
    poll.slots(3, 97);
    poll.poll_iteration(PollOutcome::Continue);
    poll.poll_iteration(PollOutcome::Complete);
    poll.target_request("api.internal:443", StatusClass::Success, Duration::from_millis(12));
    poll.target_request("elsewhere:80", StatusClass::ServerError, Duration::from_millis(30));
    poll.condition(ConditionOutcome::False, true, Duration::from_micros(4));
    poll.held(2);
    poll.held(-1);
    poll.parked();
    poll.update_failed(ClientErrorKind::Status5xx, true);
    poll.update_finished(true, Duration::from_millis(40), 512);
    poll.result_dropped(DropReason::Lost);
    poll.http_poll_finished(HttpPollStatus::Completed, Duration::from_secs(95));
    poll.queue_depth(42);
    metrics.api_call("GET", "/tasks/poll/batch/{taskType}", 200, Duration::from_millis(3));
    metrics.server_up(true);
    metrics.auth(Some(AuthFailure::TokenRequest));
    encode(&registry)
}

#[test]
fn canonical_names_labels_and_buckets() {
    let text = scenario();
    let expected = [
        "# TYPE task_poll_total counter",
        "task_poll_total{taskType=\"HTTP_POLL\"} 2",
        "task_poll_error_total{taskType=\"HTTP_POLL\",exception=\"Transport\"} 1",
        "task_execution_started_total{taskType=\"HTTP_POLL\"} 1",
        "task_execute_error_total{taskType=\"HTTP_POLL\",exception=\"HttpStatus\"} 1",
        "task_update_error_total{taskType=\"HTTP_POLL\",exception=\"Status5xx\"} 1",
        "task_poll_time_seconds_bucket{taskType=\"HTTP_POLL\",status=\"SUCCESS\",le=\"0.005\"} 1",
        "task_poll_time_seconds_bucket{taskType=\"HTTP_POLL\",status=\"FAILURE\",le=\"10\"} 1",
        "task_execute_time_seconds_count{taskType=\"HTTP_POLL\",status=\"FAILURE\"} 1",
        "task_result_size_bytes_bucket{taskType=\"HTTP_POLL\",le=\"1000\"} 1",
        "http_api_client_request_seconds_count{method=\"GET\",uri=\"/tasks/poll/batch/{taskType}\",status=\"200\"} 1",
        "active_workers{taskType=\"HTTP_POLL\"} 3",
    ];
    for line in expected {
        assert!(text.lines().any(|l| l == line), "missing line {line:?} in:\n{text}");
    }
}

#[test]
fn own_metrics_use_closed_label_sets() {
    let text = scenario();
    let expected = [
        "http_poll_iterations_total{taskType=\"HTTP_POLL\",outcome=\"continue\"} 1",
        "http_poll_duration_seconds_bucket{taskType=\"HTTP_POLL\",status=\"COMPLETED\",le=\"120\"} 1",
        "http_poll_duration_seconds_bucket{taskType=\"HTTP_POLL\",status=\"COMPLETED\",le=\"60\"} 0",
        "target_request_seconds_count{taskType=\"HTTP_POLL\",host=\"api.internal:443\",statusClass=\"2xx\"} 1",
        "target_request_seconds_count{taskType=\"HTTP_POLL\",host=\"other\",statusClass=\"5xx\"} 1",
        "condition_evaluations_total{taskType=\"HTTP_POLL\",outcome=\"false\"} 1",
        "worker_slots_used{taskType=\"HTTP_POLL\"} 3",
        "worker_slots_free{taskType=\"HTTP_POLL\"} 97",
        "http_poll_held_tasks{taskType=\"HTTP_POLL\"} 1",
        "http_poll_parks_total{taskType=\"HTTP_POLL\"} 1",
        "task_update_retry_total{taskType=\"HTTP_POLL\"} 1",
        "task_result_dropped_total{taskType=\"HTTP_POLL\",reason=\"lost\"} 1",
        "task_queue_depth{taskType=\"HTTP_POLL\"} 42",
        "conductor_server_up 1",
        "conductor_auth_ok 0",
        "conductor_auth_failures_total{exception=\"TokenRequest\"} 1",
    ];
    for line in expected {
        assert!(text.lines().any(|l| l == line), "missing line {line:?} in:\n{text}");
    }
    assert!(text.contains("conductor_http_worker_build_info{version=\""), "{text}");
    assert!(!text.contains("elsewhere"), "unlisted hosts are labelled other");
}

#[test]
fn closed_label_sets_exist_at_zero_before_anything_happens() {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, vec![]));
    let _handles = metrics.task_type("quiet");
    let text = encode(&registry);
    for line in [
        "task_execute_error_total{taskType=\"quiet\",exception=\"MaxPollCount\"} 0",
        "task_update_error_total{taskType=\"quiet\",exception=\"Transport\"} 0",
        "task_result_dropped_total{taskType=\"quiet\",reason=\"lost\"} 0",
        "http_poll_iterations_total{taskType=\"quiet\",outcome=\"complete\"} 0",
        "condition_evaluations_total{taskType=\"quiet\",outcome=\"timeout\"} 0",
        "thread_uncaught_exceptions_total{exception=\"Panic\"} 0",
        "http_poll_duration_seconds_count{taskType=\"quiet\",status=\"FAILED\"} 0",
        "target_request_seconds_count{taskType=\"quiet\",host=\"other\",statusClass=\"2xx\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?}");
    }
}

/// Every value of every closed set has its series at zero from the start (the sets come from `closed_set!`, so
/// a new value is listed by construction).
#[test]
fn every_closed_label_value_has_a_pre_created_series() {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, vec![]));
    let _handles = metrics.task_type("kinds");
    let text = encode(&registry);
    let t = "taskType=\"kinds\"";
    let mut expected = Vec::new();
    for kind in FailureKind::ALL {
        expected.push(format!("task_execute_error_total{{{t},exception=\"{}\"}} 0", kind.label()));
    }
    for kind in ClientErrorKind::ALL {
        expected.push(format!("task_poll_error_total{{{t},exception=\"{}\"}} 0", kind.label()));
        expected.push(format!("task_update_error_total{{{t},exception=\"{}\"}} 0", kind.label()));
    }
    for outcome in PollOutcome::ALL {
        expected.push(format!("http_poll_iterations_total{{{t},outcome=\"{}\"}} 0", outcome.label()));
    }
    for outcome in ConditionOutcome::ALL {
        expected.push(format!("condition_evaluations_total{{{t},outcome=\"{}\"}} 0", outcome.label()));
    }
    for path in ConditionPath::ALL {
        expected.push(format!("condition_evaluation_seconds_count{{{t},path=\"{}\"}} 0", path.label()));
    }
    for status in HttpPollStatus::ALL {
        expected.push(format!("http_poll_duration_seconds_count{{{t},status=\"{}\"}} 0", status.label()));
    }
    for reason in DropReason::ALL {
        expected.push(format!("task_result_dropped_total{{{t},reason=\"{}\"}} 0", reason.label()));
    }
    for lane in EvaluatorLane::ALL {
        expected.push(format!("condition_evaluator_processes{{lane=\"{}\"}} 0", lane.label()));
    }
    for reason in Respawn::ALL {
        expected.push(format!("condition_evaluator_respawns_total{{reason=\"{}\"}} 0", reason.label()));
    }
    for reason in AuthFailure::ALL {
        expected.push(format!("conductor_auth_failures_total{{exception=\"{}\"}} 0", reason.label()));
    }
    for series in expected {
        assert!(text.lines().any(|line| line == series), "missing {series}");
    }
}
