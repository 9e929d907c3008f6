#!/usr/bin/env python3
"""Offline structural checks of the deploy/ files, run by scripts/validate-deploy.sh.

The external tools (hadolint, promtool, kubernetes-validate) check each file against its own format. What they
cannot see is checked here: cross-references between files (selectors, ports, service names, config keys),
the CRD kinds that have no offline schema (ServiceMonitor, ScaledObject), the compose file when no
`docker compose` is installed, the dashboard's structure, and whether the metric names used in PromQL exist in
a real /metrics scrape.

Each subcommand prints one line per problem ("FAIL: ...") and exits 1 if there was any, else prints a short
summary and exits 0. Needs Python 3.11+ (tomllib) and PyYAML.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

PROBLEMS: list[str] = []


def fail(msg: str) -> None:
    PROBLEMS.append(msg)
    print(f"FAIL: {msg}")


def check(cond: bool, msg: str) -> bool:
    if not cond:
        fail(msg)
    return cond


def finish(summary: str) -> int:
    if PROBLEMS:
        print(f"{len(PROBLEMS)} problem(s)")
        return 1
    print(summary)
    return 0


def load_yaml_docs(path: Path) -> list[dict]:
    with path.open() as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# === PromQL ====================================================================================================

# Words that can stand where a metric name could, but are not one.
PROMQL_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
    "atan2", "inf", "nan", "start", "end",
}
# Series that Prometheus itself creates, which no /metrics page contains.
SYNTHETIC_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
                    "scrape_series_added", "ALERTS", "ALERTS_FOR_STATE"}


def _strip_promql(expr: str) -> str:
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", " ", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", " ", s)  # range and subquery windows
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)  # label lists
    s = re.sub(r"\boffset\s+-?[\w$]+", " ", s)
    return s


def promql_metric_names(expr: str) -> set[str]:
    """Metric names an expression selects (identifiers that are not functions, keywords or label names)."""
    names = set()
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*(\()?", _strip_promql(expr)):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def promql_selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(metric, label keys) of every `metric{...}` selector in an expression."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    out = []
    for m in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", s):
        keys = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)", m.group(2)))
        out.append((m.group(1), keys))
    return out


def grafana_to_promql(expr: str) -> str:
    """Substitutes Grafana's variables so that promtool can parse a dashboard query."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        if name.startswith("__"):
            return "1h" if "range" in name else "1m"
        return ".*"  # template variables are only used inside =~ matchers in this dashboard
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def dashboard_queries(dash: dict, rule_names: bool = False) -> list[tuple[str, str]]:
    """(where, expr) for every panel target, rows' nested panels included; `where` is a metric-name-safe
    `panel_<id>_<refId>` when rule_names is set."""
    out = []

    def walk(panels: list[dict]) -> None:
        for p in panels:
            for t in p.get("targets", []):
                if "expr" in t:
                    where = (f"panel_{p.get('id')}_{t.get('refId')}" if rule_names
                             else f"panel {p.get('id')} '{p.get('title')}' target {t.get('refId')}")
                    out.append((where, t["expr"]))
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return out


def dashboard_variable_metrics(dash: dict) -> list[tuple[str, str]]:
    """(where, metric) for label_values(metric, label) template variables."""
    out = []
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query", "") if isinstance(q, dict) else (q or "")
        m = re.match(r"\s*label_values\(\s*([a-zA-Z_:][\w:]*)", q)
        if m:
            out.append((f"variable ${v.get('name')}", m.group(1)))
    return out


def alert_queries(rules_path: Path) -> list[tuple[str, str]]:
    doc = yaml.safe_load(rules_path.read_text())
    return [(f"alert {r.get('alert') or r.get('record')}", r["expr"])
            for g in doc.get("groups", []) for r in g.get("rules", [])]


def keda_queries(k8s_dir: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(k8s_dir.glob("*.yaml")):
        for d in load_yaml_docs(path):
            if d.get("kind") == "ScaledObject":
                for t in d.get("spec", {}).get("triggers", []):
                    if t.get("type") == "prometheus" and "query" in t.get("metadata", {}):
                        out.append((f"ScaledObject {d['metadata']['name']} trigger", t["metadata"]["query"]))
    return out


# === Dockerfile ================================================================================================

def cmd_dockerfile(path: str) -> int:
    text = Path(path).read_text()
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    entry = [l for l in lines if l.startswith("ENTRYPOINT")]
    check(len(entry) == 1 and entry[0].split(None, 1)[1].startswith("["),
          f"{path}: ENTRYPOINT must be exec form (JSON array) so the worker is PID 1 and gets SIGTERM")
    check("STOPSIGNAL SIGTERM" in lines, f"{path}: STOPSIGNAL SIGTERM missing")
    check("EXPOSE 9191" in lines, f"{path}: EXPOSE 9191 missing")
    users = [l.split(None, 1)[1] for l in lines if l.startswith("USER ")]
    check(bool(users) and re.fullmatch(r"[1-9]\d*:[1-9]\d*", users[-1]) is not None,
          f"{path}: the final USER must be a numeric non-root uid:gid (Kubernetes runAsNonRoot checks it)")
    for var in ("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR=0.0.0.0:9191", "CONDUCTOR_HTTP_WORKER_LOG_FORMAT=json"):
        check(var in text, f"{path}: ENV {var} missing")
    froms = [l for l in lines if l.startswith("FROM ")]
    check(len(froms) >= 2, f"{path}: expected a multi-stage build")
    check("--locked" in text and "-D warnings" in text, f"{path}: build must use --locked and RUSTFLAGS=-D warnings")
    return finish("Dockerfile: exec-form entrypoint, SIGTERM, numeric non-root user, container env: ok")


# === compose ===================================================================================================

def _duration_secs(value: str) -> float:
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", str(value)):
        total += float(num) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    return total


def cmd_compose(compose_path: str, prometheus_path: str) -> int:
    path = Path(compose_path)
    base = path.parent
    doc = yaml.safe_load(path.read_text())
    services: dict = doc.get("services") or {}
    check(bool(services), f"{path}: no services")
    declared_volumes = set((doc.get("volumes") or {}).keys())
    for name, svc in services.items():
        where = f"{path}: service {name}"
        check("image" in svc or "build" in svc, f"{where}: needs image or build")
        build = svc.get("build")
        if build is not None:
            build = {"context": build} if isinstance(build, str) else build
            ctx = (base / build.get("context", ".")).resolve()
            if check(ctx.is_dir(), f"{where}: build context {ctx} does not exist"):
                dockerfile = ctx / build.get("dockerfile", "Dockerfile")
                check(dockerfile.is_file(), f"{where}: Dockerfile {dockerfile} does not exist")
        deps = svc.get("depends_on") or []
        for dep in (deps if isinstance(deps, list) else deps.keys()):
            check(dep in services, f"{where}: depends_on unknown service {dep}")
            if isinstance(deps, dict) and deps[dep].get("condition") == "service_healthy":
                check("healthcheck" in services.get(dep, {}),
                      f"{where}: waits for {dep} to be healthy, but {dep} has no healthcheck")
        for vol in svc.get("volumes") or []:
            source = vol.split(":", 1)[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith((".", "/")):
                check((base / source).exists(), f"{where}: bind-mount source {source} does not exist")
            else:
                check(source in declared_volumes, f"{where}: named volume {source} is not declared")
        for port in svc.get("ports") or []:
            check(str(port).startswith("127.0.0.1:"),
                  f"{where}: port {port} must be published on 127.0.0.1 only (a local demo without auth)")
        hc = svc.get("healthcheck")
        if hc is not None:
            test = hc.get("test")
            check(isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE"),
                  f"{where}: healthcheck.test must be a list starting with CMD or CMD-SHELL")

    worker = services.get("worker", {})
    env = worker.get("environment") or {}
    grace = float(env.get("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", 30))
    stop = _duration_secs(worker.get("stop_grace_period", "10s"))
    check(stop > grace, f"{path}: worker stop_grace_period ({stop:.0f} s) must exceed its shutdown grace "
                        f"({grace:.0f} s), or Docker SIGKILLs it mid-drain")
    url = env.get("CONDUCTOR_SERVER_URL", "")
    host = re.sub(r"^https?://([^:/]+).*$", r"\1", url)
    check(host in services, f"{path}: worker CONDUCTOR_SERVER_URL host {host!r} is not a compose service")

    prom = yaml.safe_load(Path(prometheus_path).read_text())
    for job in prom.get("scrape_configs", []):
        for sc in job.get("static_configs", []):
            for target in sc.get("targets", []):
                check(target.split(":")[0] in services,
                      f"{prometheus_path}: scrape target {target} is not a compose service")
    return finish(f"compose: {len(services)} services, build contexts, mounts, dependencies and scrape targets: ok")


# === Kubernetes ================================================================================================

def _documented_keys(worker_toml: Path) -> set[str]:
    """Every key config/worker.toml documents, set or commented out, as dotted paths (task_types.* excluded)."""
    keys, section = set(), ""
    for raw in worker_toml.read_text().splitlines():
        line = raw.strip()
        if m := re.fullmatch(r"\[([\w.\-\"]+)\]", line):
            section = m.group(1)
            continue
        if m := re.match(r"#?\s*\"?([a-z_][\w\-:.]*)\"?\s*=", line):
            if section:
                keys.add(f"{section}.{m.group(1)}")
    return keys


def _flatten(table: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in table.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict):
            out |= _flatten(v, path + ".") if v else {path + "."}
        else:
            out.add(path)
    return out


def _matches(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def load_objects(paths: list[Path]) -> dict[tuple[str, str], dict]:
    """(kind, name) -> object of every document in the given files."""
    objs: dict[tuple[str, str], dict] = {}
    for path in paths:
        for o in load_yaml_docs(path):
            if check({"apiVersion", "kind", "metadata"} <= o.keys(), f"{path.name}: apiVersion/kind/metadata missing"):
                key = (o["kind"], o["metadata"]["name"])
                check(key not in objs, f"{path.name}: {key[0]} {key[1]} is defined twice")
                objs[key] = o
    return objs


def by_kind(objs: dict[tuple[str, str], dict], kind: str) -> list[dict]:
    return [o for (k, _), o in objs.items() if k == kind]


def config_toml(objs: dict[tuple[str, str], dict], dep: dict) -> str | None:
    """The worker.toml the Deployment's container reads (CONDUCTOR_HTTP_WORKER_CONFIG in a mounted ConfigMap)."""
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    config_path = env.get("CONDUCTOR_HTTP_WORKER_CONFIG", "")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    for vol in pod.get("volumes", []):
        cm = objs.get(("ConfigMap", vol["configMap"]["name"])) if "configMap" in vol else None
        for key, value in (cm or {}).get("data", {}).items():
            if config_path == f"{mounts.get(vol['name'], '')}/{key}":
                return value
    return None


def check_workload(objs: dict[tuple[str, str], dict], worker_toml: Path, dockerfile: Path,
                   external_refs: bool) -> tuple[dict, dict] | None:
    """What every way of deploying the worker must get right, in one set of objects: the Deployment's pod (probes,
    security, resources, the shutdown grace), the ConfigMaps and Secrets it references, its worker.toml, and the
    selectors and ports of the Service, PodDisruptionBudget, ServiceMonitor and ScaledObject. external_refs: Secrets
    and ConfigMaps that are not among the objects may be referenced (they exist in the cluster beforehand).
    Returns (Deployment, parsed worker.toml), or None when there is no single Deployment to check."""
    deps = by_kind(objs, "Deployment")
    if not check(len(deps) == 1, "expected exactly one Deployment"):
        return None
    dep = deps[0]
    name = dep["metadata"]["name"]
    spec, pod = dep["spec"], dep["spec"]["template"]["spec"]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    check(_matches(spec["selector"]["matchLabels"], pod_labels), "Deployment selector does not match its pod labels")
    check(pod.get("enableServiceLinks") is False,
          "Deployment: enableServiceLinks must be false (service env vars land in the worker's CONDUCTOR_* namespace)")
    check(pod.get("automountServiceAccountToken") is False, "Deployment: automountServiceAccountToken must be false")
    for t in pod.get("topologySpreadConstraints", []):
        check(_matches(t.get("labelSelector", {}).get("matchLabels", {}), pod_labels),
              "Deployment: a topologySpreadConstraint's labelSelector does not match the pods")
    containers = pod["containers"]
    check(len(containers) == 1, "Deployment: expected one container")
    c = containers[0]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("admin") == 9191, "Deployment: container port 'admin' must be 9191")
    probes = {k: c.get(k, {}).get("httpGet", {}) for k in ("livenessProbe", "readinessProbe")}
    check(probes["livenessProbe"].get("path") == "/healthz", "Deployment: liveness must probe /healthz")
    check(probes["readinessProbe"].get("path") == "/readyz", "Deployment: readiness must probe /readyz")
    for k, p in probes.items():
        check(p.get("port") in ("admin", 9191), f"Deployment: {k} must probe the admin port")
    sc, psc = c.get("securityContext", {}), pod.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, "Deployment: readOnlyRootFilesystem must be true")
    check(sc.get("allowPrivilegeEscalation") is False, "Deployment: allowPrivilegeEscalation must be false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], "Deployment: capabilities must drop ALL")
    check(sc.get("runAsNonRoot") or psc.get("runAsNonRoot"), "Deployment: runAsNonRoot must be true")
    check((sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
          "Deployment: seccompProfile must be RuntimeDefault")
    check(not sc.get("privileged"), "Deployment: the container must not be privileged")
    check(bool(c.get("resources", {}).get("requests")) and bool(c.get("resources", {}).get("limits")),
          "Deployment: resources.requests and limits must be set")
    user = re.findall(r"^USER\s+(\d+):(\d+)", dockerfile.read_text(), re.M)
    if user:
        check(str(psc.get("runAsUser")) == user[-1][0],
              f"Deployment runAsUser {psc.get('runAsUser')} differs from the image's USER {user[-1][0]}")

    # Referenced ConfigMaps and Secrets exist (or may exist beforehand).
    def referenced(kind: str, ref: str, where: str) -> None:
        check(external_refs or (kind, ref) in objs, f"Deployment {where}: {kind} {ref} not defined")
    for ef in c.get("envFrom", []):
        if "configMapRef" in ef:
            check(("ConfigMap", ef["configMapRef"]["name"]) in objs,
                  f"Deployment envFrom: ConfigMap {ef['configMapRef']['name']} not defined")
        if "secretRef" in ef:
            referenced("Secret", ef["secretRef"]["name"], "envFrom")
    for e in c.get("env", []):
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            referenced("Secret", ref["name"], f"env {e['name']}")
            s = objs.get(("Secret", ref["name"]))
            if s is not None:
                check(ref["key"] in s.get("stringData", {}) | s.get("data", {}),
                      f"Deployment env {e['name']}: Secret {ref['name']} has no key {ref['key']}")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        check(m["name"] in volumes, f"Deployment: volumeMount {m['name']} has no volume")
        vol = volumes.get(m["name"], {})
        if "secret" in vol:
            referenced("Secret", vol["secret"]["secretName"], f"volume {m['name']}")
            check(m.get("readOnly") is True, f"Deployment: Secret volume {m['name']} must be mounted readOnly")
            check("subPath" not in m and "subPathExpr" not in m,
                  f"Deployment: Secret volume {m['name']} is mounted with a subPath, which the kubelet never updates "
                  "(a rotated Secret would not reach the worker)")

    toml_text = config_toml(objs, dep)
    cfg: dict = {}
    if check(toml_text is not None, "Deployment: CONDUCTOR_HTTP_WORKER_CONFIG is no key of a mounted ConfigMap"):
        try:
            cfg = tomllib.loads(toml_text)
        except tomllib.TOMLDecodeError as e:
            fail(f"ConfigMap worker.toml does not parse: {e}")
        documented = _documented_keys(worker_toml)
        for key in sorted(_flatten({k: v for k, v in cfg.items() if k not in ("task_types", "targets")})):
            if key.endswith("."):
                continue  # an empty table such as [limits.hosts]
            check(key in documented or key.startswith("limits.hosts."),
                  f"ConfigMap worker.toml: {key} is not documented in {worker_toml} (the worker exits 64 on unknown keys)")
        check(cfg.get("admin", {}).get("addr") == "0.0.0.0:9191", "ConfigMap worker.toml: admin.addr must be 0.0.0.0:9191")
        check(cfg.get("log", {}).get("format") == "json", "ConfigMap worker.toml: log.format must be json")
        check(not {"url", "auth_key", "auth_secret"} & cfg.get("server", {}).keys(),
              "ConfigMap worker.toml: server.url and the Orkes key belong in the env ConfigMap and a Secret")
        grace = cfg.get("shutdown", {}).get("grace_secs", 30)
        tgp = pod.get("terminationGracePeriodSeconds", 30)
        check(tgp >= grace + 5, f"Deployment terminationGracePeriodSeconds ({tgp}) must be at least shutdown.grace_secs "
                                f"({grace}) + 5: the worker exits within grace + 1 s, the rest covers a slow node")

    for s in by_kind(objs, "Secret"):
        data = s.get("stringData", {}) | s.get("data", {})
        if "CONDUCTOR_AUTH_KEY" in data or "CONDUCTOR_AUTH_SECRET" in data:
            check(set(data) == {"CONDUCTOR_AUTH_KEY", "CONDUCTOR_AUTH_SECRET"},
                  f"Secret {s['metadata']['name']}: keys must be CONDUCTOR_AUTH_KEY and CONDUCTOR_AUTH_SECRET")
            check(bool(data.get("CONDUCTOR_AUTH_KEY")) == bool(data.get("CONDUCTOR_AUTH_SECRET")),
                  f"Secret {s['metadata']['name']}: set both auth values or neither")

    svcs = by_kind(objs, "Service")
    check(len(svcs) == 1, "expected one Service")
    for svc in svcs:
        check(_matches(svc["spec"].get("selector", {}), pod_labels), "Service selector does not match the pods")
        for p in svc["spec"]["ports"]:
            check(p.get("targetPort") in ports or p.get("targetPort") in ports.values(),
                  f"Service port {p.get('name')}: targetPort {p.get('targetPort')} is no container port")
    for pdb in by_kind(objs, "PodDisruptionBudget"):
        check(_matches(pdb["spec"]["selector"]["matchLabels"], pod_labels), "PodDisruptionBudget selector does not match the pods")

    # CRD kinds: no schema offline, so the fields the operators require and the references they resolve.
    for sm in by_kind(objs, "ServiceMonitor"):
        check(sm["apiVersion"] == "monitoring.coreos.com/v1", "ServiceMonitor apiVersion must be monitoring.coreos.com/v1")
        sel = sm.get("spec", {}).get("selector", {}).get("matchLabels", {})
        targets = [s for s in svcs if _matches(sel, s["metadata"].get("labels", {}))]
        check(bool(targets), "ServiceMonitor spec.selector.matchLabels matches no Service")
        endpoints = sm.get("spec", {}).get("endpoints", [])
        check(bool(endpoints), "ServiceMonitor spec.endpoints is empty")
        svc_ports = {p.get("name") for s in targets for p in s["spec"]["ports"]}
        for ep in endpoints:
            check(ep.get("port") in svc_ports, f"ServiceMonitor endpoint port {ep.get('port')!r} is no Service port name {sorted(svc_ports)}")
            check(ep.get("path", "/metrics") == "/metrics", "ServiceMonitor endpoint path must be /metrics")
        job_label = sm.get("spec", {}).get("jobLabel")
        for s in targets:
            job = s["metadata"].get("labels", {}).get(job_label) if job_label else s["metadata"]["name"]
            check(job == "conductor-http-worker", f"ServiceMonitor: the scraped job would be {job!r}, but "
                                                  "deploy/prometheus/alerts.yml selects job=\"conductor-http-worker\"")
    for so in by_kind(objs, "ScaledObject"):
        s = so.get("spec", {})
        check(so["apiVersion"] == "keda.sh/v1alpha1", "ScaledObject apiVersion must be keda.sh/v1alpha1")
        ref = s.get("scaleTargetRef", {})
        check(ref.get("name") == name and ref.get("kind", "Deployment") == "Deployment",
              "ScaledObject scaleTargetRef must name the Deployment")
        lo, hi = s.get("minReplicaCount", 0), s.get("maxReplicaCount", 100)
        check(isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi, "ScaledObject: need 0 <= minReplicaCount <= maxReplicaCount")
        triggers = s.get("triggers", [])
        check(bool(triggers), "ScaledObject: no triggers")
        for t in triggers:
            if not check(t.get("type") == "prometheus", f"ScaledObject: unexpected trigger type {t.get('type')}"):
                continue
            md = t.get("metadata", {})
            for key in ("serverAddress", "query", "threshold"):
                check(isinstance(md.get(key), str) and md[key] != "", f"ScaledObject prometheus trigger: metadata.{key} must be a non-empty string")
            check(re.fullmatch(r"\d+(\.\d+)?", str(md.get("threshold", ""))) is not None, "ScaledObject: threshold must be a number in a string")
            q = md.get("query", "")
            check(re.search(r'task_queue_depth\{[^}]*taskType="[^"]+"', q) is not None,
                  f"ScaledObject query must read task_queue_depth of one taskType: {q}")
            check(not re.match(r"\s*sum\b", q),
                  "ScaledObject query must not sum task_queue_depth: every replica reports the same server queue size, "
                  "so a sum grows with the replica count (use max)")
    return dep, cfg


def cmd_kubernetes(k8s_dir: str, worker_toml: str, dockerfile: str) -> int:
    d = Path(k8s_dir)
    kust = yaml.safe_load((d / "kustomization.yaml").read_text())
    resources = kust.get("resources", [])
    files = sorted(p.name for p in d.glob("*.yaml") if p.name != "kustomization.yaml")
    check(sorted(resources) == files, f"{d}/kustomization.yaml resources {sorted(resources)} != manifests {files}")
    objs = load_objects([d / f for f in files])
    checked = check_workload(objs, Path(worker_toml), Path(dockerfile), external_refs=False)
    if checked is None:
        return finish("")
    dep, _ = checked
    check(dep["spec"].get("replicas") == 3, "Deployment replicas must be 3")
    check(len(by_kind(objs, "ServiceMonitor")) == 1, f"{d}: expected one ServiceMonitor")
    sos = by_kind(objs, "ScaledObject")
    check(len(sos) == 1, f"{d}: expected one ScaledObject")
    for so in sos:
        for t in so.get("spec", {}).get("triggers", []):
            check(re.search(r'task_queue_depth\{[^}]*taskType="HTTP_POLL"', t.get("metadata", {}).get("query", "")) is not None,
                  "ScaledObject query must read task_queue_depth{taskType=\"HTTP_POLL\"} (the ConfigMap's task type)")
    return finish(f"kubernetes: {len(objs)} objects, selectors, ports, probes, config keys and CRD fields: ok")


def cmd_worker_config(k8s_dir: str, out_toml: str, out_env: str) -> int:
    """Writes the ConfigMaps' worker.toml and env (KEY=VALUE lines) for `conductor-http-worker check-config`."""
    toml_text, env = None, {}
    for path in sorted(Path(k8s_dir).glob("*.yaml")):
        for o in load_yaml_docs(path):
            if o.get("kind") == "ConfigMap":
                for k, v in o.get("data", {}).items():
                    if k.endswith(".toml"):
                        toml_text = v
                    elif re.fullmatch(r"[A-Z_][A-Z0-9_]*", k):
                        env[k] = v
    if not check(toml_text is not None, f"{k8s_dir}: no ConfigMap with a .toml key"):
        return finish("")
    Path(out_toml).write_text(toml_text)
    Path(out_env).write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return 0


# === dashboard =================================================================================================

def cmd_dashboard(path: str) -> int:
    try:
        dash = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON: {e}")
        return finish("")
    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("DS_PROMETHEUS")
    check(ds is not None and ds.get("type") == "datasource" and ds.get("query") == "prometheus",
          f"{path}: needs a datasource variable DS_PROMETHEUS of type prometheus")
    check("taskType" in variables, f"{path}: needs a taskType variable")
    check(bool(dash.get("uid")) and bool(dash.get("title")), f"{path}: uid and title must be set")
    ids, grid = set(), []

    def walk(panels: list[dict]) -> None:
        for p in panels:
            pid = p.get("id")
            check(pid not in ids, f"{path}: duplicate panel id {pid}")
            ids.add(pid)
            gp = p.get("gridPos", {})
            check({"h", "w", "x", "y"} <= gp.keys() and gp["x"] + gp["w"] <= 24,
                  f"{path}: panel {pid} '{p.get('title')}' has a bad gridPos {gp}")
            if p.get("type") != "row":
                grid.append(p)
                uid = (p.get("datasource") or {}).get("uid")
                check(uid == "${DS_PROMETHEUS}", f"{path}: panel {pid} datasource must be ${{DS_PROMETHEUS}}, not {uid}")
                check(bool(p.get("targets")), f"{path}: panel {pid} '{p.get('title')}' has no query")
                for t in p.get("targets", []):
                    check(bool(t.get("expr", "").strip()), f"{path}: panel {pid} target {t.get('refId')} has no expr")
            walk(p.get("panels", []))

    walk(dash.get("panels", []))
    return finish(f"dashboard: {len(grid)} panels, {len(dashboard_queries(dash))} queries, variables: ok")


def cmd_promql_rules(dashboard: str, k8s_dir: str, out: str) -> int:
    """Writes the dashboard's and the KEDA trigger's queries as recording rules, for `promtool check rules`."""
    dash = json.loads(Path(dashboard).read_text())
    # Rule names say where a query lives, so that promtool's parse errors point at the panel.
    queries = dashboard_queries(dash, rule_names=True) + [(f"keda_{i}", q) for i, (_, q) in
                                                          enumerate(keda_queries(Path(k8s_dir)))]
    rules = [{"record": f"validate:{where}", "expr": grafana_to_promql(expr)} for where, expr in queries]
    Path(out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard-and-keda-queries", "rules": rules}]},
                                        sort_keys=False, width=1000))
    print(f"{len(rules)} queries written to {out}")
    return 0


# === metrics scrape ============================================================================================

def parse_exposition(path: str) -> tuple[set[str], dict[str, str], dict[str, set[str]]]:
    """(sample names, TYPE per family, label keys seen per sample name) of a text-format scrape."""
    samples, types, labels = set(), {}, {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                types[parts[2]] = parts[3]
        elif line and not line.startswith("#"):
            m = re.match(r"([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s", line)
            if m:
                samples.add(m.group(1))
                keys = set(re.findall(r'([a-zA-Z_]\w*)="', m.group(3) or ""))
                labels.setdefault(m.group(1), set()).update(keys)
    return samples, types, labels


def _family(name: str, types: dict[str, str]) -> str | None:
    """The TYPE'd family a (possibly suffixed) name belongs to."""
    if name in types:
        return name
    for suffix in ("_bucket", "_count", "_sum", "_total", "_created"):
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return None


def cmd_metric_refs(metrics: str, dashboard: str, rules: str, k8s_dir: str) -> int:
    samples, types, labels = parse_exposition(metrics)
    check(bool(samples) or bool(types), f"{metrics}: no metrics found (is it a /metrics scrape?)")
    dash = json.loads(Path(dashboard).read_text())
    queries = dashboard_queries(dash) + alert_queries(Path(rules)) + keda_queries(Path(k8s_dir))
    refs: dict[str, list[str]] = {}
    for where, expr in queries:
        for name in promql_metric_names(expr):
            refs.setdefault(name, []).append(where)
    for where, name in dashboard_variable_metrics(dash):
        refs.setdefault(name, []).append(where)

    missing = 0
    for name in sorted(refs):
        if name in SYNTHETIC_SERIES:
            continue
        if name not in samples and _family(name, types) is None:
            missing += 1
            fail(f"metric {name} is not in {metrics} (neither a sample nor a # TYPE line); used by: "
                 + "; ".join(sorted(set(refs[name]))[:3]) + (" ..." if len(set(refs[name])) > 3 else ""))

    # Label keys in selectors must exist on the metric (checked only where the scrape has samples for it).
    target_labels = {"job", "instance", "namespace", "pod", "service", "container", "endpoint"}
    for where, expr in queries:
        for name, keys in promql_selector_labels(expr):
            seen = labels.get(name)
            if not seen or name in SYNTHETIC_SERIES:
                continue
            unknown = keys - seen - target_labels - {"__name__"}
            check(not unknown, f"{where}: {name} has no label(s) {sorted(unknown)} in {metrics} (it has {sorted(seen)})")
    return finish(f"metric references: all {len(refs)} metric names used by the dashboard, the alert rules and the "
                  f"KEDA query are exported ({len(set(refs) & SYNTHETIC_SERIES)} Prometheus-generated)")


# Label keys the Conductor SDKs' canonical metrics use (docs/sdk-anchors.md), kept verbatim so existing Conductor
# dashboards work; promtool's linter wants snake_case label names and flags them.
SDK_CAMELCASE_LABELS = {"taskType", "statusClass"}


def cmd_metrics_lint(metrics: str, promtool_output: str, strict: str) -> int:
    """Judges `promtool check metrics` output: only the camelCase lint for the SDK label keys may be tolerated."""
    out = [l for l in Path(promtool_output).read_text().splitlines() if l.strip()]
    camel = [l for l in out if "label names should be written in 'snake_case' not 'camelCase'" in l]
    other = [l for l in out if l not in camel]
    for l in other:
        fail(f"promtool check metrics: {l}")
    _, _, labels = parse_exposition(metrics)
    camel_keys = {k for ks in labels.values() for k in ks if re.search(r"[a-z][A-Z]", k)}
    if camel:
        if strict == "strict":
            for l in camel:
                fail(f"promtool check metrics: {l}")
        else:
            extra = camel_keys - SDK_CAMELCASE_LABELS
            check(not extra, f"promtool check metrics: camelCase label names {sorted(extra)} beyond the SDKs' "
                             f"{sorted(SDK_CAMELCASE_LABELS)}")
            if not extra:
                print(f"NOTE: tolerated {len(camel)} camelCase-label lint line(s) for the SDK label keys "
                      f"{sorted(camel_keys)} (--strict-metrics-lint makes them fatal)")
    return finish("promtool check metrics: clean" if not camel else "promtool check metrics: clean apart from the SDK label keys")


COMMANDS = {
    "dockerfile": (cmd_dockerfile, "DOCKERFILE"),
    "compose": (cmd_compose, "COMPOSE_YML PROMETHEUS_YML"),
    "kubernetes": (cmd_kubernetes, "K8S_DIR CONFIG_WORKER_TOML DOCKERFILE"),
    "worker-config": (cmd_worker_config, "K8S_DIR OUT_TOML OUT_ENV"),
    "dashboard": (cmd_dashboard, "DASHBOARD_JSON"),
    "promql-rules": (cmd_promql_rules, "DASHBOARD_JSON K8S_DIR OUT_RULES_YML"),
    "metric-refs": (cmd_metric_refs, "METRICS_FILE DASHBOARD_JSON ALERTS_YML K8S_DIR"),
    "metrics-lint": (cmd_metrics_lint, "METRICS_FILE PROMTOOL_OUTPUT strict|lenient"),
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print("usage: checks.py COMMAND ARGS\n" + "\n".join(f"  {c} {a}" for c, (_, a) in COMMANDS.items()))
        return 64
    func, args = COMMANDS[argv[1]]
    if len(argv) - 2 != len(args.split()):
        print(f"usage: checks.py {argv[1]} {args}")
        return 64
    return func(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
