#!/usr/bin/env python3
"""Runs the benchmark scenarios and prints one table. Called by bench/run.sh after everything is built/fetched.

Every measured run starts a fresh fake Conductor server and target API (bench/harness), one worker, waits for the
measurement window, reads the fake's summary, and stops all three. Pairs are measured in alternating rounds
(the order rotates every round), so a load spike on the shared machine hits every worker alike; the table shows
medians over the rounds and the ratio ours/peer is the median of the per-round ratios. Load (/proc/loadavg) is
recorded with every run. Uses the Python standard library only.
"""

import argparse
import json
import math
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
WORK = os.environ.get("BENCH_WORK", os.path.join(BENCH, ".work"))
RESULTS = os.path.join(BENCH, "results")
HARNESS = os.path.join(BENCH, "target", "release")
OURS = os.environ.get("BENCH_OURS_BIN", os.path.join(REPO, "target", "release", "conductor-http-worker"))
JAVA = os.environ.get("BENCH_JAVA", "java")
CLK_TCK = os.sysconf("SC_CLK_TCK")

WORKERS = ["ours", "rust-sdk", "java-sdk", "python-sdk"]
ALL_KINDS = WORKERS + ["python-sdk-async", "ours-alt", "ours-warnlog"]


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def http(method, url, body=None, timeout=30, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
        return r.status, raw


def get_json(url, timeout=30):
    return json.loads(http("GET", url, timeout=timeout)[1] or b"null")


# ---------------------------------------------------------------- process helpers

def tree_pids(root):
    """root and all its descendants."""
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_secs(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def rss_kib(pids, key="VmRSS"):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Proc:
    """A started process (own session), its CPU time over its tree, and its peak tree RSS (sampled)."""

    def __init__(self, name, cmd, env=None, log_path=None):
        self.name = name
        self.log_path = log_path or os.path.join(WORK, f"{name}.log")
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(cmd, env=full_env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
        self.peak_rss = 0
        self.cpu_at_mark = 0.0

    def pids(self):
        return tree_pids(self.p.pid)

    def sample(self):
        self.peak_rss = max(self.peak_rss, rss_kib(self.pids()))

    def cpu(self):
        return cpu_secs(self.pids())

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=8)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        self.log.close()


def wait_port(path, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read())
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited; see {proc.log_path}")
        time.sleep(0.05)
    raise RuntimeError(f"{proc.name} did not report its port")


def start_fake(task_type, tasks, input_json, expect="", release_per_s=0):
    port_file = os.path.join(WORK, "fake.port")
    if os.path.exists(port_file):
        os.remove(port_file)
    proc = Proc("fake", [os.path.join(HARNESS, "fake_conductor"), "--port-file", port_file, "--task-type", task_type,
                         "--tasks", str(tasks), "--input", input_json, "--expect", expect,
                         "--release-per-s", str(release_per_s)])
    return proc, wait_port(port_file, proc)


def start_target():
    port_file = os.path.join(WORK, "target.port")
    if os.path.exists(port_file):
        os.remove(port_file)
    proc = Proc("target", [os.path.join(HARNESS, "bench_target"), "--port-file", port_file])
    return proc, wait_port(port_file, proc)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def worker_cmd(kind, api, task_types, concurrency, mode, extra_env=None):
    """Command and environment of one worker under test."""
    env = {"CONDUCTOR_SERVER_URL": api, "BENCH_TASK_TYPES": ",".join(task_types),
           "BENCH_CONCURRENCY": str(concurrency), "BENCH_MODE": mode}
    if kind in ("ours", "ours-alt", "ours-warnlog"):
        # ours-alt: another build (BENCH_OURS_ALT_BIN, e.g. a scratch copy with a proposed change) for A/B runs;
        # ours-warnlog: our build with RUST_LOG=warn (what per-task info logging costs).
        binary = os.environ["BENCH_OURS_ALT_BIN"] if kind == "ours-alt" else OURS
        if kind == "ours-warnlog":
            env["RUST_LOG"] = "warn"
        admin = free_port()
        cmd = [binary, "--server-url", api, "--concurrency", str(concurrency), "--admin-addr", f"127.0.0.1:{admin}"]
        for t in task_types:
            cmd += ["--task-type", t]
        env.update({"CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR": "off",
                    "CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK": "true"})
        if mode == "park":
            env["CONDUCTOR_WORKER_ALL_PARK_THRESHOLD_SECS"] = "0"
        env["BENCH_ADMIN_PORT"] = str(admin)
    elif kind == "rust-sdk":
        cmd = [os.path.join(HARNESS, "rust-sdk-peer")]
    elif kind == "floor":
        # Not a worker: the two HTTP exchanges per task that every worker makes, with nothing else (bench_floor.rs).
        cmd = [os.path.join(HARNESS, "bench_floor")]
    elif kind == "java-sdk":
        jdir = os.path.join(BENCH, "peers", "java", "target")
        cmd = [JAVA, "-DtaskUpdateV2=true", "-cp", f"{jdir}/classes:{jdir}/dependency/*", "BenchWorker"]
    elif kind in ("python-sdk", "python-sdk-async"):
        env["BENCH_PY_RUNNER"] = "async" if kind == "python-sdk-async" else "sync"
        cmd = [os.path.join(BENCH, ".venv", "bin", "python"), os.path.join(BENCH, "peers", "python", "bench_worker.py")]
    else:
        raise ValueError(kind)
    env.update(extra_env or {})
    return cmd, env


# ---------------------------------------------------------------- throughput scenarios (S1, S2, S3)

def throughput_run(kind, scenario, cfg, args):
    target, tport = start_target()
    uri = f"http://127.0.0.1:{tport}"
    if scenario == "S1":
        request = {"uri": f"{uri}/fixed", "method": "GET"}
    else:
        request = {"uri": f"{uri}/status/{{{{ID}}}}?k=2&interval_ms={int(cfg['interval'] * 1000)}", "method": "GET",
                   "terminationCondition": "$.output.response.body.state == 'DONE'",
                   "pollingInterval": str(cfg["interval"])}
    fake, fport = start_fake("bench_http", cfg["tasks"], json.dumps({"http_request": request}), expect="DONE")
    api = f"http://127.0.0.1:{fport}/api"
    cmd, env = worker_cmd(kind, api, ["bench_http"], args.concurrency, cfg["mode"])
    load0 = loadavg()
    t_start = time.time()
    worker = Proc(f"worker-{kind}", cmd, env)
    need = (cfg["warmup"] + cfg["window"]) * 1000
    cpu_mark = None
    fake_cpu_mark = None
    stats = {}
    try:
        while True:
            time.sleep(0.25)
            worker.sample()
            if not worker.alive():
                raise RuntimeError(f"worker {kind} exited; see {worker.log_path}")
            stats = get_json(f"http://127.0.0.1:{fport}/bench/stats")
            first = stats.get("first_delivery_ms")
            if first is not None and cpu_mark is None:
                cpu_mark = (time.time(), worker.cpu())
                fake_cpu_mark = fake.cpu() + target.cpu()
            if first is not None and (stats["uptime_ms"] - first >= need or stats["done"] >= stats["tasks"]):
                break
            if time.time() - t_start > cfg["timeout"]:
                log(f"{scenario} {kind}: timeout with {stats.get('done')} done")
                break
        t_end = time.time()
        worker_cpu = worker.cpu() - (cpu_mark[1] if cpu_mark else 0)
        harness_cpu = fake.cpu() + target.cpu() - (fake_cpu_mark or 0)
        summary = get_json(f"http://127.0.0.1:{fport}/bench/summary?warmup_ms={cfg['warmup'] * 1000}"
                           f"&window_ms={cfg['window'] * 1000}")
        target_stats = get_json(f"{uri}/bench/lateness")
    finally:
        worker.stop()
        fake.stop()
        target.stop()
    elapsed = t_end - (cpu_mark[0] if cpu_mark else t_start)
    st = summary["stats"]
    done = st["done"]
    row = {
        "worker": kind, "scenario": scenario,
        "tasks_per_s": summary["tasks_per_s"], "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
        "e2e_p50_ms": summary["e2e_p50_ms"], "e2e_p99_ms": summary["e2e_p99_ms"],
        "finished_in_window": summary["finished_in_window"], "window_s": summary["window_s"],
        "done": done, "valid": st["valid"], "failed": st["failed"], "duplicates": st["duplicates"],
        "polls": st["polls"], "updates": st["updates"], "updates_v2": st["updates_v2"],
        "worker_cpu_s": worker_cpu, "worker_cpu_pct": 100 * worker_cpu / elapsed if elapsed > 0 else None,
        "cpu_us_per_task": 1e6 * worker_cpu / done if done else None,
        "harness_cpu_pct": 100 * harness_cpu / elapsed if elapsed > 0 else None,
        "target_requests": target_stats["fixed_requests"] + target_stats["status_requests"],
        "peak_rss_mib": worker.peak_rss / 1024, "load_start": load0, "load_end": loadavg(),
    }
    if done and st["valid"] < done:
        log(f"{scenario} {kind}: only {st['valid']} of {done} terminal updates were valid COMPLETED results")
    return row


def alternating(scenario, cfg, args, kinds):
    rows = []
    for rnd in range(args.rounds):
        order = kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]
        for kind in order:
            log(f"{scenario} round {rnd + 1}/{args.rounds}: {kind} (load {loadavg():.2f})")
            try:
                row = throughput_run(kind, scenario, cfg, args)
            except Exception as e:  # a peer that fails is reported, not fatal
                log(f"{scenario} {kind} failed: {e}")
                row = {"worker": kind, "scenario": scenario, "error": str(e)}
            row["round"] = rnd + 1
            rows.append(row)
            if "error" not in row:
                log(f"  {kind}: {row['tasks_per_s']:.0f} tasks/s, p50 {row['p50_ms']:.2f} ms, p99 {row['p99_ms']:.2f} ms,"
                    f" cpu {row['cpu_us_per_task']:.0f} us/task, rss {row['peak_rss_mib']:.0f} MiB,"
                    f" load {row['load_start']:.1f}->{row['load_end']:.1f}")
    return rows


# ---------------------------------------------------------------- S4: 100k held

def metric_value(text, name):
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def s4(args, rate):
    n = args.s4_tasks
    interval = args.s4_interval
    target, tport = start_target()
    request = {"uri": f"http://127.0.0.1:{tport}/status/{{{{ID}}}}?k=1&interval_ms={interval * 1000}", "method": "GET",
               "terminationCondition": "$.output.response.body.state == 'DONE'", "pollingInterval": str(interval)}
    fake, fport = start_fake("bench_poll", n, json.dumps({"http_request": request}), expect="DONE", release_per_s=rate)
    api = f"http://127.0.0.1:{fport}/api"
    cmd, env = worker_cmd("ours", api, ["bench_poll"], n, "hold", {
        "CONDUCTOR_HTTP_WORKER_LIMITS_MAX_CONCURRENT_TASKS": str(n),
        "CONDUCTOR_WORKER_ALL_PARK_THRESHOLD_SECS": str(max(600, interval * 4)),
    })
    admin = env["BENCH_ADMIN_PORT"]
    load0 = loadavg()
    worker = Proc("worker-ours-s4", cmd, env)
    peak_held, held_at, loads = 0, None, []
    t0 = time.time()
    first_all_fetched = None
    try:
        while True:
            time.sleep(1)
            worker.sample()
            loads.append(loadavg())
            if not worker.alive():
                raise RuntimeError(f"worker exited; see {worker.log_path}")
            try:
                text = http("GET", f"http://127.0.0.1:{admin}/metrics", timeout=10)[1].decode()
                held = metric_value(text, "http_poll_held_tasks") or 0
                if held > peak_held:
                    peak_held, held_at = held, time.time() - t0
            except (urllib.error.URLError, OSError):
                pass
            st = get_json(f"http://127.0.0.1:{fport}/bench/stats")
            if first_all_fetched is None and st["fresh_delivered"] >= n:
                first_all_fetched = time.time() - t0
            if st["done"] >= n:
                break
            if time.time() - t0 > args.s4_timeout:
                log(f"S4: timeout with {st['done']} of {n} done")
                break
        hwm = rss_kib(worker.pids(), "VmHWM") / 1024
        lat = get_json(f"http://127.0.0.1:{tport}/bench/lateness")
        st = get_json(f"http://127.0.0.1:{fport}/bench/stats")
    finally:
        worker.stop()
        fake.stop()
        target.stop()
    row = {"worker": "ours", "scenario": "S4", "release_per_s": rate, "tasks": n, "interval_s": interval, "done": st["done"],
           "valid": st["valid"], "peak_held": peak_held, "peak_held_at_s": held_at,
           "all_fetched_at_s": first_all_fetched, "peak_rss_mib": hwm, "sampled_peak_rss_mib": worker.peak_rss / 1024,
           "lateness_p50_ms": lat["p50_ms"], "lateness_p99_ms": lat["p99_ms"], "lateness_max_ms": lat["max_ms"],
           "lateness_samples": lat["samples"], "load_start": load0, "load_max": max(loads or [0]),
           "load_median": statistics.median(loads) if loads else None}
    log(f"S4 (release {rate or 'unlimited'}/s): held peak {peak_held:.0f}, RSS peak {hwm:.0f} MiB, lateness p99 {lat['p99_ms']:.1f} ms")
    return [row]


# ---------------------------------------------------------------- S5: idle cost

def s5(args, kinds):
    rows = []
    types = [f"idle_{i}" for i in range(10)]
    for kind in kinds:
        fake, fport = start_fake("bench_none", 0, "{}")
        api = f"http://127.0.0.1:{fport}/api"
        cmd, env = worker_cmd(kind, api, types, args.concurrency, "hold")
        worker = Proc(f"worker-{kind}-s5", cmd, env)
        try:
            time.sleep(args.s5_warmup)
            polls0 = get_json(f"http://127.0.0.1:{fport}/bench/stats")["polls"]
            load0 = loadavg()
            c0, t0 = worker.cpu(), time.time()
            loads = []
            while time.time() - t0 < args.s5_seconds:
                time.sleep(1)
                loads.append(loadavg())
                worker.sample()
            c1, t1 = worker.cpu(), time.time()
            polls1 = get_json(f"http://127.0.0.1:{fport}/bench/stats")["polls"]
            alive = worker.alive()
        finally:
            worker.stop()
            fake.stop()
        pct = 100 * (c1 - c0) / (t1 - t0)
        row = {"worker": kind, "scenario": "S5", "cpu_pct_one_core": pct, "seconds": t1 - t0,
               "cpu_s": c1 - c0, "polls_per_s": (polls1 - polls0) / (t1 - t0), "peak_rss_mib": worker.peak_rss / 1024,
               "alive": alive, "load_start": load0, "load_median": statistics.median(loads)}
        log(f"S5 {kind}: {pct:.3f} % of one core, {row['polls_per_s']:.1f} polls/s")
        rows.append(row)
    return rows


# ---------------------------------------------------------------- S6: real conductor-oss server

def s6(args):
    server_dir = os.path.join(WORK, "s6-server")
    script = os.path.join(REPO, "scripts", "conductor-server.sh")
    out = subprocess.run([script, "start", server_dir], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"conductor-server.sh start failed: {out.stderr[-2000:]}")
    api = out.stdout.strip().splitlines()[-1]
    server_pid = int(open(os.path.join(server_dir, "server.pid")).read())
    target, tport = start_target()
    rows = []
    try:
        uri = f"http://127.0.0.1:{tport}/fixed"
        http("POST", f"{api}/metadata/taskdefs", [{
            "name": "bench_s6_http", "ownerEmail": "bench@example.com", "retryCount": 0, "timeoutSeconds": 600,
            "responseTimeoutSeconds": 60, "timeoutPolicy": "TIME_OUT_WF"}])
        http_request = {"uri": uri, "method": "GET", "connectionTimeOut": 3000, "readTimeOut": 3000}
        defs = [
            {"name": "bench_s6_system", "version": 1, "schemaVersion": 2, "ownerEmail": "bench@example.com",
             "tasks": [{"name": "http_call", "taskReferenceName": "call", "type": "HTTP",
                        "inputParameters": {"http_request": http_request}}]},
            {"name": "bench_s6_worker", "version": 1, "schemaVersion": 2, "ownerEmail": "bench@example.com",
             "tasks": [{"name": "bench_s6_http", "taskReferenceName": "call", "type": "SIMPLE",
                        "inputParameters": {"http_request": http_request}}]},
        ]
        http("PUT", f"{api}/metadata/workflow", defs)
        # One short warm-up of each path (JIT, connection pools, first-use costs), not measured.
        for rnd in range(args.rounds + 1):
            for path in (["worker", "system"] if rnd % 2 == 0 else ["system", "worker"]):
                m = args.s6_warmup_workflows if rnd == 0 else args.s6_workflows
                row = s6_run(api, path, m, server_pid, f"r{rnd}")
                row["round"] = rnd
                if rnd == 0:
                    log(f"S6 warm-up {path}: {row['workflows_per_s']:.1f} workflows/s")
                    continue
                rows.append(row)
                log(f"S6 round {rnd} {path}: {row['workflows_per_s']:.1f} workflows/s "
                    f"({row['completed']}/{m} completed, load {row['load_start']:.1f})")
    finally:
        target.stop()
        subprocess.run([script, "stop", server_dir], capture_output=True)
    return rows


def s6_run(api, path, m, server_pid, tag):
    wf = f"bench_s6_{path}"
    worker = None
    if path == "worker":
        cmd, env = worker_cmd("ours", api, ["bench_s6_http"], 100, "hold")
        worker = Proc(f"worker-ours-s6-{tag}", cmd, env)
        time.sleep(1.5)
    load0 = loadavg()
    server_cpu0 = cpu_secs([server_pid])
    worker_cpu0 = worker.cpu() if worker else 0
    ids = []
    t0 = time.time()

    def start(_):
        return http("POST", f"{api}/workflow/{wf}", {}, timeout=60)[1].decode().strip()

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(start, range(m)))
    t_started = time.time()
    deadline = t0 + 600
    while time.time() < deadline:
        running = get_json(f"{api}/workflow/running/{wf}?version=1", timeout=60)
        if not running:
            break
        time.sleep(0.2)
    t_done = time.time()
    server_cpu = cpu_secs([server_pid]) - server_cpu0
    worker_cpu = (worker.cpu() - worker_cpu0) if worker else 0
    if worker:
        worker.stop()
    statuses = {}
    with ThreadPoolExecutor(8) as pool:
        for st in pool.map(lambda i: get_json(f"{api}/workflow/{i}?includeTasks=false")["status"], ids):
            statuses[st] = statuses.get(st, 0) + 1
    return {"scenario": "S6", "path": path, "workflows": m, "completed": statuses.get("COMPLETED", 0),
            "statuses": statuses, "workflows_per_s": m / (t_done - t0), "start_phase_s": t_started - t0,
            "completion_lag_s": t_done - t_started,
            "total_s": t_done - t0, "server_cpu_s": server_cpu, "worker_cpu_s": worker_cpu,
            "load_start": load0, "load_end": loadavg()}


# ---------------------------------------------------------------- capacity of the harness itself

def harness_capacity(args):
    """The fake and the target driven by bench-loadgen: the requests/s they sustain (sharing the machine)."""
    def drive(server, mode, url):
        out = subprocess.run([os.path.join(HARNESS, "bench_loadgen"), mode, url,
                              "--concurrency", "64", "--seconds", str(args.capacity_seconds)],
                             capture_output=True, text=True, check=True)
        r = json.loads(out.stdout)
        r.update({"scenario": "capacity", "server": server, "load": loadavg()})
        return r

    rows = []
    fake, fport = start_fake("bench_http", 3_000_000, '{"http_request":{"uri":"http://x/fixed","method":"GET"}}')
    try:
        rows.append(drive("fake-conductor", "fake", f"http://127.0.0.1:{fport}/api"))
    finally:
        fake.stop()
    target, tport = start_target()
    try:
        rows.append(drive("bench-target", "target", f"http://127.0.0.1:{tport}/fixed"))
    finally:
        target.stop()
    for r in rows:
        log(f"capacity {r['server']}: {r['requests_per_s']:.0f} requests/s (load {r['load']:.1f})")
    return rows


# ---------------------------------------------------------------- report

def med(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else None


def fmt(v, nd=0):
    if v is None:
        return "n/a"
    return f"{v:,.{nd}f}"


def table(results):
    lines = []
    by = {}
    for r in results.get("rows", []):
        by.setdefault(r["scenario"], []).append(r)
    if "capacity" in by:
        lines.append("Harness capacity (bench-loadgen, 64 connections, same machine):")
        for r in by["capacity"]:
            lines.append(f"  {r['server']}: {fmt(r['requests_per_s'])} requests/s")
        lines.append("")
    for sc in ("S1", "S2", "S3"):
        rows = [r for r in by.get(sc, []) if "error" not in r]
        if not rows and not by.get(sc):
            continue
        lines.append(f"{sc} ({results['config'][sc]['title']}), medians of {results['config']['rounds']} alternating rounds")
        lines.append("| worker | tasks/s | p50 ms | p99 ms | e2e p99 ms | worker CPU µs/task | worker CPU % | peak RSS MiB | ours/peer tasks/s | ours/peer CPU/task | load |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        ours = {r["round"]: r for r in rows if r["worker"] == "ours"}
        for kind in ALL_KINDS:
            rs = [r for r in rows if r["worker"] == kind]
            errs = [r for r in by.get(sc, []) if r["worker"] == kind and "error" in r]
            if not rs:
                if errs:
                    lines.append(f"| {kind} | failed: {errs[0]['error'][:60]} |")
                continue
            ratio = ratio_cpu = "—"
            if kind != "ours":
                rr = [ours[r["round"]]["tasks_per_s"] / r["tasks_per_s"] for r in rs
                      if r["round"] in ours and r["tasks_per_s"]]
                rc = [r["cpu_us_per_task"] / ours[r["round"]]["cpu_us_per_task"] for r in rs
                      if r["round"] in ours and r.get("cpu_us_per_task") and ours[r["round"]].get("cpu_us_per_task")]
                ratio = f"{med(rr):.2f}× ({', '.join(f'{x:.2f}' for x in rr)})" if rr else "n/a"
                ratio_cpu = f"{med(rc):.2f}×" if rc else "n/a"
            loads = [r["load_start"] for r in rs]
            lines.append(
                f"| {kind} | {fmt(med([r['tasks_per_s'] for r in rs]))} | {fmt(med([r['p50_ms'] for r in rs]), 2)} | "
                f"{fmt(med([r['p99_ms'] for r in rs]), 2)} | {fmt(med([r['e2e_p99_ms'] for r in rs]), 1)} | "
                f"{fmt(med([r['cpu_us_per_task'] for r in rs]))} | {fmt(med([r['worker_cpu_pct'] for r in rs]))} | "
                f"{fmt(med([r['peak_rss_mib'] for r in rs]))} | {ratio} | {ratio_cpu} | "
                f"{min(loads):.1f}–{max(loads):.1f} |")
        lines.append("")
    if "S4" in by:
        r0 = by["S4"][0]
        lines.append(f"S4 (ours, {r0['tasks']:,} HTTP_POLL tasks held at once, 2 polls {r0['interval_s']} s apart)")
        lines.append("| handed out | all held after s | peak held | peak RSS MiB | lateness p50 ms | lateness p99 ms | lateness max ms | done/valid | load median/max |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for r in by["S4"]:
            rate = f"{r.get('release_per_s')}/s" if r.get("release_per_s") else "all at once"
            lines.append(f"| {rate} | {fmt(r['peak_held_at_s'], 0)} | {fmt(r['peak_held'])} | {fmt(r['peak_rss_mib'])} | "
                         f"{fmt(r['lateness_p50_ms'], 1)} | {fmt(r['lateness_p99_ms'], 1)} | {fmt(r['lateness_max_ms'], 1)} | "
                         f"{r['done']:,}/{r['valid']:,} | {fmt(r['load_median'], 1)}/{fmt(r['load_max'], 1)} |")
        lines.append("")
    if "S5" in by:
        lines.append("S5 (idle: 10 task types, empty queues, long polls)")
        lines.append("| worker | CPU % of one core | polls/s | RSS MiB | load |")
        lines.append("|---|---|---|---|---|")
        for r in by["S5"]:
            lines.append(f"| {r['worker']} | {r['cpu_pct_one_core']:.3f} | {r['polls_per_s']:.1f} | "
                         f"{fmt(r['peak_rss_mib'])} | {r['load_median']:.1f} |")
        lines.append("")
    if "S6" in by:
        rows = by["S6"]
        lines.append("S6 (real conductor-oss server, one HTTP step per workflow)")
        lines.append("| path | workflows/s (median) | per round | completed | start phase s (median) | last completion after last start, s | server CPU s | worker CPU s | ratio worker/system |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        sysr = {r["round"]: r for r in rows if r["path"] == "system"}
        for path in ("worker", "system"):
            rs = [r for r in rows if r["path"] == path]
            ratio = "—"
            if path == "worker":
                rr = [r["workflows_per_s"] / sysr[r["round"]]["workflows_per_s"] for r in rs if r["round"] in sysr]
                ratio = f"{med(rr):.2f}×" if rr else "n/a"
            lines.append(f"| {path} | {fmt(med([r['workflows_per_s'] for r in rs]), 1)} | "
                         f"{', '.join(fmt(r['workflows_per_s'], 1) for r in rs)} | "
                         f"{sum(r['completed'] for r in rs)}/{sum(r['workflows'] for r in rs)} | "
                         f"{fmt(med([r['start_phase_s'] for r in rs]), 1)} | "
                         f"{', '.join(fmt(r.get('completion_lag_s'), 1) for r in rs)} | "
                         f"{fmt(med([r['server_cpu_s'] for r in rs]), 1)} | {fmt(med([r['worker_cpu_s'] for r in rs]), 1)} | {ratio} |")
        lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenarios", nargs="*", default=["capacity", "S1", "S2", "S3", "S4", "S4burst", "S5", "S6"])
    ap.add_argument("--workers", default=",".join(WORKERS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--interval", type=float, default=0.01, help="S2/S3 pollingInterval, seconds")
    ap.add_argument("--s4-tasks", type=int, default=100_000)
    ap.add_argument("--s4-interval", type=int, default=60)
    ap.add_argument("--s4-rate", type=int, default=2000,
                    help="S4: tasks handed out per second (their timers fire at the same rate); S4burst: unlimited")
    ap.add_argument("--s4-timeout", type=int, default=900)
    ap.add_argument("--s5-seconds", type=int, default=60)
    ap.add_argument("--s5-warmup", type=int, default=5)
    ap.add_argument("--s5-workers", default="ours")
    ap.add_argument("--s6-workflows", type=int, default=300)
    ap.add_argument("--s6-warmup-workflows", type=int, default=50)
    ap.add_argument("--capacity-seconds", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    os.makedirs(WORK, exist_ok=True)
    os.makedirs(RESULTS, exist_ok=True)
    kinds = [k for k in args.workers.split(",") if k]
    config = {
        "rounds": args.rounds, "concurrency": args.concurrency, "warmup_s": args.warmup, "window_s": args.window,
        "S1": {"title": "single-call HTTP tasks", "mode": "hold", "interval": 0, "tasks": 2_000_000,
               "warmup": args.warmup, "window": args.window, "timeout": args.warmup + args.window + 90},
        "S2": {"title": f"HTTP_POLL, 3 polls, {args.interval} s interval, hold", "mode": "hold",
               "interval": args.interval, "tasks": 1_000_000, "warmup": args.warmup, "window": args.window,
               "timeout": args.warmup + args.window + 90},
        "S3": {"title": f"HTTP_POLL, 3 polls, {args.interval} s interval, park (callbackAfterSeconds "
                        f"{math.ceil(args.interval)})", "mode": "park", "interval": args.interval, "tasks": 1_000_000,
               "warmup": args.warmup + 5, "window": args.window, "timeout": args.warmup + args.window + 120},
    }
    machine = {"nproc": os.cpu_count(), "uname": os.uname().release, "ours_rev": os.environ.get("BENCH_OURS_REV", "?"),
               "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")}
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config": config, "machine": machine,
               "load_start": open("/proc/loadavg").read().strip(), "rows": []}
    out = args.out or os.path.join(RESULTS, time.strftime("run-%Y%m%d-%H%M%S.json"))

    def save():
        results["load_end"] = open("/proc/loadavg").read().strip()
        with open(out, "w") as f:
            json.dump(results, f, indent=1)

    for sc in args.scenarios:
        log(f"=== {sc} (load {loadavg():.2f})")
        try:
            if sc == "capacity":
                results["rows"] += harness_capacity(args)
            elif sc in ("S1", "S2", "S3"):
                results["rows"] += alternating(sc, config[sc], args, kinds)
            elif sc == "S4":
                results["rows"] += s4(args, args.s4_rate)
            elif sc == "S4burst":
                results["rows"] += s4(args, 0)
            elif sc == "S5":
                results["rows"] += s5(args, [k for k in args.s5_workers.split(",") if k])
            elif sc == "S6":
                results["rows"] += s6(args)
            else:
                log(f"unknown scenario {sc}")
        except Exception as e:
            log(f"{sc} failed: {e}")
            results.setdefault("errors", []).append({"scenario": sc, "error": str(e)})
        save()
    report = table(results)
    with open(out.replace(".json", ".md"), "w") as f:
        f.write(report + "\n")
    print(report)
    log(f"results: {out}")


if __name__ == "__main__":
    main()
