#!/usr/bin/env bash
# The demo: the Orkes long-running-API tutorial on a local conductor-oss server, with no AWS.
#
# Starts a real conductor-oss server (fetched from Maven Central on first run), the example API (the tutorial's
# Lambda + DynamoDB + API Gateway stand-in) and conductor-http-worker; registers the tutorial's
# LongRunningAPIWorkflow with only its URIs changed; runs it; shows progress; prints the final output; cleans up.
#
#   scripts/demo.sh                 the tutorial's timings: the job takes 27 s, polled every 5 s
#   DEMO_JOB_MS=8000 scripts/demo.sh   a shorter job
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
job_ms=${DEMO_JOB_MS:-27000}
request_id=${DEMO_REQUEST_ID:-demo-$(date +%s)}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

say "Building conductor-http-worker and the example API"
cargo build --workspace --locked --bins

work=$(mktemp -d "${TMPDIR:-/tmp}/conductor-demo.XXXXXX")
pids=()
cleanup() {
  say "Cleaning up"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  scripts/conductor-server.sh stop "$work/server"
  rm -rf "$work"
  echo "stopped the worker, the example API and the server; removed $work"
}
trap cleanup EXIT

say "Starting conductor-oss (SQLite, loopback)"
server=$(scripts/conductor-server.sh start "$work/server")
echo "server API: $server"

say "Starting the example API (jobs take $((job_ms / 1000)) s)"
api_port=$(free_port)
target/debug/example-api --listen "127.0.0.1:$api_port" --delay-ms "$job_ms" >"$work/example-api.log" 2>&1 &
pids+=($!)
api="http://127.0.0.1:$api_port"
until curl -sf "$api/healthz" >/dev/null; do sleep 0.2; done
echo "example API: $api"

say "Starting conductor-http-worker (serves the HTTP_POLL queue)"
admin_port=$(free_port)
# The example API listens on loopback, which tasks may reach only with security.allow_loopback.
CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK=true \
  target/debug/conductor-http-worker --server-url "$server" --admin-addr "127.0.0.1:$admin_port" \
  >"$work/worker.log" 2>&1 &
pids+=($!)
until curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null; do sleep 0.2; done
echo "worker ready: $(curl -s "http://127.0.0.1:$admin_port/readyz")"

say "Registering the tutorial's workflow (URIs pointed at the example API)"
curl -sf -X POST -H 'Content-Type: application/json' "$server/metadata/taskdefs" -d '[{
  "name": "http_poll", "ownerEmail": "demo@example.com", "retryCount": 0,
  "timeoutSeconds": 600, "responseTimeoutSeconds": 300, "timeoutPolicy": "TIME_OUT_WF"}]'
sed "s#https://<your-api-gateway-id>.execute-api.<your-region>.amazonaws.com/<stage>#$api#" \
  examples/long-running-api-workflow.json | python3 -c 'import json,sys; print(json.dumps([json.load(sys.stdin)]))' \
  | curl -sf -X PUT -H 'Content-Type: application/json' "$server/metadata/workflow" -d @- >/dev/null
echo "LongRunningAPIWorkflow registered"

say "Running it with {\"requestId\": \"$request_id\"}"
workflow_id=$(curl -sf -X POST -H 'Content-Type: application/json' "$server/workflow/LongRunningAPIWorkflow" \
  -d "{\"requestId\": \"$request_id\"}")
echo "workflow id: $workflow_id"
deadline=$((SECONDS + job_ms / 1000 + 60))
while :; do
  wf=$(curl -sf "$server/workflow/$workflow_id")
  status=$(echo "$wf" | json 'print(d["status"])')
  tasks=$(echo "$wf" | json 'print(", ".join(t["referenceTaskName"] + "=" + t["status"] for t in d["tasks"]))')
  polls=$(curl -sf "$api/_stats/$request_id" | json 'print(d["polls"])')
  printf '  %3ds  workflow %-9s  tasks: %s  (status polls seen by the API: %s)\n' "$SECONDS" "$status" "$tasks" "$polls"
  [ "$status" = RUNNING ] || break
  if [ $SECONDS -ge $deadline ]; then echo "the workflow did not finish in time" >&2; exit 1; fi
  sleep 2
done

say "Final workflow output"
echo "$wf" | json 'print(json.dumps(d["output"], indent=2))'
say "Execution log of the http_poll task (written by the worker)"
poll_task=$(echo "$wf" | json 'print([t["taskId"] for t in d["tasks"] if t["referenceTaskName"] == "http_poll_ref"][0])')
curl -sf "$server/tasks/$poll_task/log" | json 'print("\n".join("  " + l["log"] for l in d))'
say "Example API: invocations and polls for $request_id"
curl -sf "$api/_stats/$request_id" | json 'print("  invocations:", d["invocations"], " polls:", d["polls"])'
[ "$status" = COMPLETED ] || exit 1

say "Second workflow: the webhook method (asyncComplete; the API completes the task itself)"
sed -e "s#<example-api>#$api#" -e "s#<conductor-api>#$server#" examples/webhook-workflow.json \
  | python3 -c 'import json,sys; print(json.dumps([json.load(sys.stdin)]))' \
  | curl -sf -X PUT -H 'Content-Type: application/json' "$server/metadata/workflow" -d @- >/dev/null
hook_id="$request_id-webhook"
workflow_id=$(curl -sf -X POST -H 'Content-Type: application/json' \
  "$server/workflow/LongRunningAPIWebhookWorkflow" -d "{\"requestId\": \"$hook_id\"}")
echo "workflow id: $workflow_id"
deadline=$((SECONDS + job_ms / 1000 + 60))
while :; do
  wf=$(curl -sf "$server/workflow/$workflow_id")
  status=$(echo "$wf" | json 'print(d["status"])')
  tasks=$(echo "$wf" | json 'print(", ".join(t["referenceTaskName"] + "=" + t["status"] for t in d["tasks"]))')
  printf '  %3ds  workflow %-9s  tasks: %s\n' "$SECONDS" "$status" "$tasks"
  [ "$status" = RUNNING ] || break
  if [ $SECONDS -ge $deadline ]; then echo "the webhook workflow did not finish in time" >&2; exit 1; fi
  sleep 2
done
echo "$wf" | json 'print(json.dumps(d["output"], indent=2))'
curl -sf "$api/_stats/$hook_id" \
  | json 'print("  invocations:", d["invocations"], " webhook calls (HTTP status):", d["callbacks"])'
[ "$status" = COMPLETED ]
