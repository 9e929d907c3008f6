"""Peer worker on the official Python SDK (conductor-python): one worker per task type, run by the SDK's
TaskHandler (a process per worker), whose function does the task's HTTP call with httpx.

Two runners, both the SDK's own: by default a plain function, which the SDK runs on its thread-pool TaskRunner
(thread_count threads, update-v2), with one shared httpx.Client; with BENCH_PY_RUNNER=async an `async def`
function, which the SDK runs on its AsyncTaskRunner (asyncio) with one shared httpx.AsyncClient. The thread-pool
runner was 3.3x faster on S1 here (213 vs 64 tasks/s), so it is the default peer.

Environment: CONDUCTOR_SERVER_URL, BENCH_TASK_TYPES (comma-separated), BENCH_CONCURRENCY (thread_count: tasks
in flight per worker), BENCH_MODE (hold: an HTTP_POLL task sleeps between polls inside the function; park: one
poll per delivery, then TaskInProgress with callback_after_seconds = the interval rounded up). The termination
condition is evaluated natively.
"""

import asyncio
import math
import os
import signal

import httpx

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.context.task_context import TaskInProgress, get_task_context
from conductor.client.worker.worker import Worker

PARK = os.environ.get("BENCH_MODE") == "park"
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "100"))

_client = None


def client():
    # Created lazily inside the worker process's event loop (the TaskHandler forks one process per worker).
    global _client
    if _client is None:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        _client = httpx.AsyncClient(limits=limits, timeout=10.0)
    return _client


async def call(uri):
    response = await client().get(uri)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def done(body):
    return isinstance(body, dict) and body.get("state") == "DONE"


async def bench_http(http_request: dict):
    uri = http_request["uri"]
    if "terminationCondition" not in http_request:
        status, body = await call(uri)
        return {"response": {"statusCode": status, "body": body}}
    interval = float(http_request.get("pollingInterval", 60))
    if PARK:
        status, body = await call(uri)
        polls = get_task_context().get_poll_count()
        if done(body):
            return {"response": {"statusCode": status, "body": body}, "pollCount": polls}
        return TaskInProgress(callback_after_seconds=math.ceil(interval), output={"pollCount": polls})
    polls = 0
    while True:
        polls += 1
        status, body = await call(uri)
        if done(body):
            return {"response": {"statusCode": status, "body": body}, "pollCount": polls}
        await asyncio.sleep(interval)


_sync_client = None


def sync_call(uri):
    global _sync_client
    if _sync_client is None:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        _sync_client = httpx.Client(limits=limits, timeout=10.0)
    response = _sync_client.get(uri)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def bench_http_sync(http_request: dict):
    """The same work as bench_http for the SDK's thread-pool TaskRunner (BENCH_PY_RUNNER=sync)."""
    import time
    uri = http_request["uri"]
    if "terminationCondition" not in http_request:
        status, body = sync_call(uri)
        return {"response": {"statusCode": status, "body": body}}
    interval = float(http_request.get("pollingInterval", 60))
    if PARK:
        status, body = sync_call(uri)
        polls = get_task_context().get_poll_count()
        if done(body):
            return {"response": {"statusCode": status, "body": body}, "pollCount": polls}
        return TaskInProgress(callback_after_seconds=math.ceil(interval), output={"pollCount": polls})
    polls = 0
    while True:
        polls += 1
        status, body = sync_call(uri)
        if done(body):
            return {"response": {"statusCode": status, "body": body}, "pollCount": polls}
        time.sleep(interval)


def main():
    configuration = Configuration(server_api_url=os.environ.get("CONDUCTOR_SERVER_URL", "http://127.0.0.1:8080/api"))
    workers = [
        Worker(
            task_definition_name=task_type,
            execute_function=bench_http if os.environ.get("BENCH_PY_RUNNER") == "async" else bench_http_sync,
            poll_interval=1,  # ms: the cap of the SDK's adaptive 1, 2, 4 ... ms empty-poll backoff
            thread_count=CONCURRENCY,
        )
        for task_type in os.environ.get("BENCH_TASK_TYPES", "bench_http").split(",")
    ]
    handler = TaskHandler(workers=workers, configuration=configuration, scan_for_annotated_workers=False)
    handler.start_processes()

    def stop(*_):
        handler.stop_processes()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    handler.join_processes()


if __name__ == "__main__":
    main()
