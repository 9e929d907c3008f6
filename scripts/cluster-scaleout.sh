#!/usr/bin/env bash
# Scale-out benchmark on the two-node PostgreSQL cluster (scripts/cluster.sh): workflows/s completed with 1, 2 and 3
# worker replicas on the same workload, with a CPU profile per process group and PostgreSQL's activity, to name the
# bottleneck. Results go to stdout and to target/cluster-bench/results-<time>.md (BENCHMARKS.md quotes them).
# The replicas and the example API of each round are the fleet example's (examples/cluster_fleet.rs, the harness
# the cluster tests use): one fleet of N replicas per round, started in the cluster's dir and stopped (SIGTERM)
# after the round. A short run: --workflows 30 --replicas "1 2".
#
#   scripts/cluster-scaleout.sh [--version V] [--workflows N] [--replicas "1 2 3"] [--concurrency C] [--release]
#                               [--job-ms MS] [--interval SECS]
#
# Workload, per replica count: N tutorial-pattern workflows (invoke step + poll step, both run by the replicas; the
# example API's job completes MS after the invoke, polled every SECS, held in the worker between polls). The
# workflows are started while every replica is paused, so the invoke tasks wait in the queue; then the replicas of
# this round are resumed (the others are stopped) and the time until the last workflow ends is measured:
# throughput = N / (last endTime - resume time). Starting is timed separately (it is server work only).
# During the drain the script samples CPU seconds per process group (/proc/PID/stat, grouped by the working
# directory in the cluster's dir: nodeK, pg, replica-I, and api for the fleet process, which serves the example
# API), whole-machine CPU (/proc/stat), and pg_stat_activity once a second.
#
# --concurrency caps the tasks each replica holds per task type (CONDUCTOR_WORKER_ALL_CONCURRENCY; default 100).
# The benchmark uses its own cluster state dir (target/cluster-bench) and tears its cluster down at the end. Run it
# on an otherwise idle machine: anything else running skews the numbers.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
version=${CONDUCTOR_SERVER_VERSION:-3.32.3}
workflows=300
replica_counts="1 2 3"
concurrency=""
release=0
job_ms=500
interval=0.5
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --workflows) workflows=$2; shift 2 ;;
    --replicas) replica_counts=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --release) release=1; shift ;;
    --job-ms) job_ms=$2; shift 2 ;;
    --interval) interval=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
export CLUSTER_STATE=$repo/target/cluster-bench
fleet_pid=""
stop_fleet() {
  if [ -n "$fleet_pid" ]; then
    kill -TERM "$fleet_pid" 2>/dev/null || true
    wait "$fleet_pid" || echo "the fleet exited with $? (a replica did not exit 0 on SIGTERM)" >&2
    fleet_pid=""
  fi
}
trap 'stop_fleet; scripts/cluster.sh down' EXIT

profile=()
if [ "$release" = 1 ]; then profile=(--release); fi
cargo build --locked "${profile[@]}" --bin conductor-http-worker --example cluster_fleet
fleet_bin=$repo/target/$([ "$release" = 1 ] && echo release || echo debug)/examples/cluster_fleet
scripts/cluster.sh up --version "$version"
data=$(sed -n 's/^CLUSTER_DATA=//p' "$CLUSTER_STATE/cluster.env")

results=$CLUSTER_STATE/results-$(date -u +%Y%m%dT%H%M%SZ).md
{
  echo "## conductor-server $version, $workflows workflows per round, job ${job_ms} ms polled every ${interval} s, concurrency per replica ${concurrency:-100 (default)}, $([ "$release" = 1 ] && echo release || echo debug) build"
  echo
  echo "$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo
} >"$results"

for n in $replica_counts; do
  # Exactly n replicas (1..n) and the example API; the driver pauses every task type on them first.
  fleet_args=(--cluster-env "$CLUSTER_STATE/cluster.env" --replicas "$n" --api-delay-ms "$job_ms"
    --out "$CLUSTER_STATE/fleet.env")
  if [ -n "$concurrency" ]; then fleet_args+=(--concurrency "$concurrency"); fi
  rm -f "$CLUSTER_STATE/fleet.env"
  mkdir -p "$data/api"
  (cd "$data/api" && exec "$fleet_bin" "${fleet_args[@]}") &
  fleet_pid=$!
  until [ -s "$CLUSTER_STATE/fleet.env" ]; do
    kill -0 "$fleet_pid" 2>/dev/null || { fleet_pid=""; echo "the fleet did not start" >&2; exit 1; }
    sleep 0.2
  done
  python3 - "$CLUSTER_STATE/cluster.env" "$CLUSTER_STATE/fleet.env" "$n" "$workflows" "$interval" "$results" <<'PY'
import json, os, subprocess, sys, threading, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

env_paths, n, count, interval, results = sys.argv[1:3], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
env = dict(l.strip().split("=", 1) for path in env_paths for l in open(path) if "=" in l)
nodes = [env["NODE1_URL"], env["NODE2_URL"]]
data, api = env["CLUSTER_DATA"], env["API_URL"]
controls = [env[f"WORKER_CONTROL_{i}"] for i in range(1, n + 1)]
task_types = env["TASK_TYPES"].split(",")

def call(method, url, body=None, timeout=60, headers={}):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read().decode()
        return json.loads(text) if text[:1] in "[{" else text

def set_paused(paused):
    for c in controls:
        for t in task_types:
            call("POST", f"{c}/task-types/{t}/{'pause' if paused else 'resume'}",
                 headers={"Authorization": f"Bearer {env['CONTROL_TOKEN']}"})

# CPU seconds per process group, grouped by working directory (every process of the cluster runs in its dir).
tick = os.sysconf("SC_CLK_TCK")
def group_of(cwd):
    if not cwd.startswith(data + "/"):
        return None
    part = cwd[len(data) + 1:].split("/")[0]
    return {"node1": "node 1 (java)", "node2": "node 2 (java)", "pg": "PostgreSQL", "api": "example API (fleet)"}.get(
        part, part.replace("replica-", "replica "))
def cpu_by_group():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        g = group_of(cwd)
        if pid == str(os.getpid()):
            g = "benchmark driver"
        if g:
            out[g] = out.get(g, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out
def machine():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = f[3] + f[4]
    return sum(f), idle

# The workflow: invoke + held poll, both on the replicas.
name = f"scaleout_{os.getpid()}_{n}"
call("PUT", f"{nodes[0]}/metadata/workflow", [{
    "name": name, "version": 1, "schemaVersion": 2, "ownerEmail": "bench@example.com",
    "inputParameters": ["requestId"],
    "tasks": [
        {"name": "cluster_invoke", "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
            "uri": f"{api}/invoke-lambda", "method": "POST", "body": {"requestId": "${workflow.input.requestId}"}}}},
        {"name": "cluster_poll", "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
            "uri": f"{api}/" + "${workflow.input.requestId}", "method": "GET",
            "terminationCondition": "$.output.response.body.body.status == 'COMPLETED'",
            "pollingInterval": interval, "pollingStrategy": "FIXED"}}}]}])

set_paused(True)
time.sleep(2)  # in-flight long polls (1 s) end
t_start = time.time()
with ThreadPoolExecutor(8) as pool:
    ids = list(pool.map(lambda i: call("POST", f"{nodes[i % 2]}/workflow/{name}", {"requestId": f"{name}-{i}"}),
                        range(count)))
start_secs = time.time() - t_start

# Drain: resume the replicas, sample PostgreSQL activity, wait until nothing is running.
pg_samples, stop = [], threading.Event()
def sample_pg():
    q = ("select count(*) filter (where state = 'active'), count(*) filter (where wait_event_type = 'Lock'), "
         "count(*) filter (where wait_event_type = 'IO'), count(*) filter (where wait_event_type = 'LWLock'), "
         "count(*) from pg_stat_activity where datname = 'conductor' and pid <> pg_backend_pid()")
    while not stop.is_set():
        try:
            as_pg = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
            row = subprocess.run(as_pg + ["psql", "-h", "127.0.0.1", "-p", env["PG_PORT"], "-U", "conductor",
                                          "-d", "conductor", "-tAc", q], capture_output=True, text=True,
                                 timeout=5).stdout.strip()
            pg_samples.append([int(x) for x in row.split("|")])
        except Exception:
            pass
        stop.wait(1)
cpu0, (m_total0, m_idle0) = cpu_by_group(), machine()
t0 = time.time()
set_paused(False)
sampler = threading.Thread(target=sample_pg)
sampler.start()
while call("GET", f"{nodes[0]}/workflow/running/{name}?version=1"):
    time.sleep(0.25)
t_seen = time.time()
cpu1, (m_total1, m_idle1) = cpu_by_group(), machine()
stop.set()
sampler.join()

with ThreadPoolExecutor(8) as pool:
    wfs = list(pool.map(lambda i: call("GET", f"{nodes[0]}/workflow/{i}?includeTasks=false"), ids))
statuses = {}
for w in wfs:
    statuses[w["status"]] = statuses.get(w["status"], 0) + 1
last_end = max(w["endTime"] for w in wfs) / 1000
drain = last_end - t0
durations = sorted((w["endTime"] - w["startTime"]) / 1000 for w in wfs)
window = t_seen - t0
cpu = {g: (cpu1.get(g, 0) - cpu0.get(g, 0)) / window for g in set(cpu0) | set(cpu1)}
busy = 1 - (m_idle1 - m_idle0) / max(1, m_total1 - m_total0)
ncpu = os.cpu_count()
# Whatever else ran on the machine meanwhile (not the cluster, not this driver): it skews the numbers.
cpu["other processes"] = max(0.0, busy * ncpu - sum(cpu.values()))
pg = [sum(s[k] for s in pg_samples) / max(1, len(pg_samples)) for k in range(5)]

line = (f"| {n} | {count / drain:.1f} | {drain:.1f} | {count / start_secs:.1f} | "
        f"{durations[len(durations) // 2]:.1f} / {durations[int(len(durations) * 0.95)]:.1f} | "
        f"{busy * 100:.0f} % of {ncpu} | "
        + ", ".join(f"{g} {c:.2f}" for g, c in sorted(cpu.items(), key=lambda kv: -kv[1]) if c >= 0.01)
        + f" | {pg[0]:.1f} active of {pg[4]:.0f} (Lock {pg[1]:.1f}, LWLock {pg[3]:.1f}, IO {pg[2]:.1f}) |")
with open(results, "a") as f:
    if "| replicas |" not in open(results).read():
        f.write("| replicas | workflows/s | drain s | starts/s (paused replicas) | duration p50 / p95 s | machine CPU busy | "
                "CPU cores used per group during the drain | PostgreSQL backends (avg) |\n|---|---|---|---|---|---|---|---|\n")
    f.write(line + "\n")
print(f"{n} replica(s): {statuses}; {count / drain:.1f} workflows/s (drain {drain:.1f} s); starts {count / start_secs:.1f}/s;"
      f" machine {busy * 100:.0f} % busy; cores used: "
      + ", ".join(f"{g} {c:.2f}" for g, c in sorted(cpu.items(), key=lambda kv: -kv[1])))
if statuses.get("COMPLETED", 0) != count:
    sys.exit(f"not every workflow completed: {statuses}")
PY
  stop_fleet
done
echo
cat "$results"
echo
echo "results: $results"
