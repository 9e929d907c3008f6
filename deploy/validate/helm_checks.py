#!/usr/bin/env python3
"""Checks of the Helm chart's rendered output (`helm template --output-dir`), run by scripts/validate-deploy.sh.

kubernetes-validate checks each object against its schema; `helm lint` the chart's form. What is checked here is
what neither sees: the same workload checks as the Kustomize manifests (checks.check_workload: probes, pod security,
the shutdown grace, references, selectors), and what only the chart has: the config checksum, at most one autoscaler,
KEDA triggers for every task type, the NetworkPolicy, and the credential profiles' Secret mounts. `parity` compares
the chart, rendered like deploy/kubernetes, with those manifests, so that the two stay one deployment.

Same conventions as checks.py: one "FAIL: ..." line per problem, exit 1 if any. Needs Python 3.11+ and PyYAML.
"""

from __future__ import annotations

import copy
import re
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

from checks import (_matches, by_kind, check, check_workload, config_toml, fail, finish, load_objects,
                    load_yaml_docs)


def rendered_files(render_dir: str) -> list[Path]:
    files = sorted(Path(render_dir).rglob("*.yaml"))
    check(bool(files), f"{render_dir}: no rendered manifests")
    return files


def _file_refs(table: object, path: str = "") -> list[tuple[str, str]]:
    """(values path, file) of every `file = ...` / `*_file = ...` in a profile."""
    out = []
    if isinstance(table, dict):
        for k, v in table.items():
            if isinstance(v, str) and v and (k == "file" or k.endswith("_file")):
                out.append((f"{path}.{k}", v))
            else:
                out += _file_refs(v, f"{path}.{k}")
    elif isinstance(table, list):
        for i, v in enumerate(table):
            out += _file_refs(v, f"{path}[{i}]")
    return out


def check_profiles(objs: dict, dep: dict, cfg: dict) -> int:
    """Every file a [targets.*] profile names lies in a mounted volume; chart-made Secrets hold the named keys."""
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = [(m["mountPath"].rstrip("/"), volumes.get(m["name"], {})) for m in c.get("volumeMounts", [])]
    refs = 0
    for name, profile in (cfg.get("targets") or {}).items():
        for where, path in _file_refs(profile, f"targets.{name}"):
            refs += 1
            if not check(path.startswith("/"), f"worker.toml {where} = {path!r}: not an absolute path"):
                continue
            holders = [(m, v) for m, v in mounts if path.startswith(m + "/")]
            if not check(bool(holders), f"worker.toml {where} = {path!r}: no volume is mounted there"):
                continue
            mount, vol = max(holders, key=lambda h: len(h[0]))
            if "secret" in vol:
                secret = objs.get(("Secret", vol["secret"]["secretName"]))
                key = path[len(mount) + 1:]
                if secret is not None:
                    check(key in secret.get("data", {}) | secret.get("stringData", {}),
                          f"worker.toml {where}: Secret {secret['metadata']['name']} has no key {key!r}")
    return refs


def check_autoscaling(objs: dict, dep: dict, cfg: dict) -> None:
    sos, hpas = by_kind(objs, "ScaledObject"), by_kind(objs, "HorizontalPodAutoscaler")
    check(len(sos) + len(hpas) <= 1, "at most one autoscaler: a KEDA ScaledObject creates and owns an HPA of its own")
    if sos or hpas:
        check("replicas" not in dep["spec"],
              "Deployment: with an autoscaler, spec.replicas must be left out (an upgrade would reset the count)")
    for hpa in hpas:
        s = hpa["spec"]
        check(s.get("scaleTargetRef", {}).get("name") == dep["metadata"]["name"], "HPA scaleTargetRef must name the Deployment")
        check(1 <= s.get("minReplicas", 1) <= s.get("maxReplicas", 0), "HPA: need 1 <= minReplicas <= maxReplicas")
        check(bool(s.get("metrics")), "HPA: no metrics")
    for so in sos:
        queried = set()
        for t in so["spec"].get("triggers", []):
            m = re.search(r'task_queue_depth\{[^}]*taskType="([^"]+)"', t.get("metadata", {}).get("query", ""))
            if m:
                queried.add(m.group(1))
        served = set((cfg.get("task_types") or {"HTTP_POLL": {}}).keys())
        check(served <= queried, f"ScaledObject: no trigger for the task type(s) {sorted(served - queried)}")


def check_network_policy(objs: dict, dep: dict) -> None:
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    env_cms = [o for o in by_kind(objs, "ConfigMap") if "CONDUCTOR_SERVER_URL" in o.get("data", {})]
    url = urlsplit(env_cms[0]["data"]["CONDUCTOR_SERVER_URL"]) if env_cms else None
    for np in by_kind(objs, "NetworkPolicy"):
        s = np["spec"]
        check(_matches(s.get("podSelector", {}).get("matchLabels", {}), pod_labels),
              "NetworkPolicy podSelector does not match the pods")
        check("Egress" in s.get("policyTypes", []), "NetworkPolicy: policyTypes must include Egress")
        egress = s.get("egress", [])
        for i, rule in enumerate(egress):
            check(bool(rule.get("to")), f"NetworkPolicy egress[{i}] has no `to`: it would allow every destination")
        ports = [(p.get("port"), p.get("protocol", "TCP")) for r in egress for p in r.get("ports", [])]
        check((53, "UDP") in ports, "NetworkPolicy: no egress to DNS (port 53/UDP): the worker resolves every target")
        if url is not None:
            port = url.port or (443 if url.scheme == "https" else 80)
            check((port, "TCP") in ports or any(not r.get("ports") for r in egress),
                  f"NetworkPolicy: no egress rule for the Conductor server's port {port}")
        if "Ingress" in s.get("policyTypes", []):
            for i, rule in enumerate(s.get("ingress", [])):
                check(bool(rule.get("from")), f"NetworkPolicy ingress[{i}] has no `from`: it would allow every source")


def cmd_render(render_dir: str, worker_toml: str, dockerfile: str) -> int:
    objs = load_objects(rendered_files(render_dir))
    checked = check_workload(objs, Path(worker_toml), Path(dockerfile), external_refs=True)
    if checked is None:
        return finish("")
    dep, cfg = checked
    annotations = dep["spec"]["template"]["metadata"].get("annotations") or {}
    check(re.fullmatch(r"[0-9a-f]{64}", str(annotations.get("checksum/config", ""))) is not None,
          "Deployment: the pod template needs a checksum/config annotation (a sha256), so config changes roll the pods")
    check_autoscaling(objs, dep, cfg)
    check_network_policy(objs, dep)
    refs = check_profiles(objs, dep, cfg)
    kinds = sorted({k for k, _ in objs})
    return finish(f"chart render {Path(render_dir).name}: {len(objs)} objects ({', '.join(kinds)}), "
                  f"{len(cfg.get('targets') or {})} profile(s) with {refs} file reference(s): ok")


# === parity with deploy/kubernetes =============================================================================

def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _effective(toml_text: str, defaults: dict) -> dict:
    """A worker.toml as the worker sees it: every key, with config/worker.toml's defaults where unset."""
    cfg = _deep_merge(defaults, tomllib.loads(toml_text))
    types = cfg.pop("task_types", None) or {"HTTP_POLL": {}}
    per_type = cfg.pop("defaults", {})
    cfg["task_types"] = {t: _deep_merge(per_type, v or {}) for t, v in types.items()}
    return cfg


def _strip_selection(o: object) -> object:
    """Drops what the chart labels differently by design: labels, annotations, label selectors."""
    if isinstance(o, dict):
        return {k: _strip_selection(v) for k, v in o.items()
                if k not in ("labels", "annotations", "selector", "labelSelector", "matchLabels")}
    if isinstance(o, list):
        return [_strip_selection(v) for v in o]
    return o


def _diff(a: object, b: object, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{path}.{k}: only in deploy/kubernetes ({a[k]!r})")
            elif k not in a:
                out.append(f"{path}.{k}: only in the chart ({b[k]!r})")
            else:
                _diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: deploy/kubernetes {a!r}, chart {b!r}")


# Objects of deploy/kubernetes the chart does not render under ci/kustomize-values.yaml, and why.
KUSTOMIZE_ONLY = {
    ("Secret", "conductor-http-worker-auth"): "the chart is given it as auth.existingSecret (created beforehand)",
}


def cmd_parity(render_dir: str, k8s_dir: str, worker_toml: str) -> int:
    kust = load_objects([p for p in sorted(Path(k8s_dir).glob("*.yaml")) if p.name != "kustomization.yaml"])
    chart = load_objects(rendered_files(render_dir))
    defaults = tomllib.loads(Path(worker_toml).read_text())
    for key in sorted(set(kust) | set(chart)):
        if key in KUSTOMIZE_ONLY and key not in chart:
            continue
        if not check(key in kust and key in chart,
                     f"{key[0]} {key[1]}: only in {'deploy/kubernetes' if key in kust else 'the chart'}"):
            continue
        a, b = copy.deepcopy(kust[key]), copy.deepcopy(chart[key])
        if key[0] == "Deployment":
            # An autoscaled chart leaves replicas to the autoscaler; Kustomize starts at the ScaledObject's minimum.
            sos = by_kind(kust, "ScaledObject")
            if "replicas" not in b["spec"] and sos:
                check(a["spec"].pop("replicas", None) == sos[0]["spec"].get("minReplicaCount"),
                      "deploy/kubernetes Deployment replicas differ from its ScaledObject's minReplicaCount")
        if key[0] == "ConfigMap" and "worker.toml" in a.get("data", {}):
            for o in (a, b):
                o["data"]["worker.toml"] = _effective(o["data"].get("worker.toml", ""), defaults)
        diffs: list[str] = []
        _diff(_strip_selection(a), _strip_selection(b), f"{key[0]} {key[1]}", diffs)
        for d in diffs:
            fail(d)
    for key, why in KUSTOMIZE_ONLY.items():
        print(f"NOTE: {key[0]} {key[1]} is in deploy/kubernetes only: {why}")
    return finish(f"parity: the chart rendered with ci/kustomize-values.yaml equals deploy/kubernetes "
                  f"({len(chart)} objects; labels, selectors and annotations aside)")


def cmd_worker_env(render_dir: str, out_toml: str, out_env: str) -> int:
    """Writes the rendered ConfigMaps' worker.toml and env (KEY=VALUE lines) for `check-config`."""
    objs = load_objects(rendered_files(render_dir))
    deps = by_kind(objs, "Deployment")
    if not check(len(deps) == 1, f"{render_dir}: expected one Deployment"):
        return finish("")
    text = config_toml(objs, deps[0])
    if not check(text is not None, f"{render_dir}: no worker.toml"):
        return finish("")
    env = {}
    for ef in deps[0]["spec"]["template"]["spec"]["containers"][0].get("envFrom", []):
        cm = objs.get(("ConfigMap", (ef.get("configMapRef") or {}).get("name")))
        env.update((cm or {}).get("data", {}))
    for e in deps[0]["spec"]["template"]["spec"]["containers"][0].get("env", []):
        if "value" in e and e["name"] != "CONDUCTOR_HTTP_WORKER_CONFIG":
            env[e["name"]] = e["value"]
        elif "valueFrom" in e:
            # Set in the pod from a Secret or a field: a placeholder here, so the variable counts as set.
            env[e["name"]] = "placeholder-from-" + next(iter(e["valueFrom"]))
    Path(out_toml).write_text(text)
    Path(out_env).write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    return 0


COMMANDS = {
    "render": (cmd_render, "RENDER_DIR CONFIG_WORKER_TOML DOCKERFILE"),
    "parity": (cmd_parity, "RENDER_DIR K8S_DIR CONFIG_WORKER_TOML"),
    "worker-config": (cmd_worker_env, "RENDER_DIR OUT_TOML OUT_ENV"),
}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in COMMANDS:
        print("usage: helm_checks.py COMMAND ARGS\n" + "\n".join(f"  {c} {a}" for c, (_, a) in COMMANDS.items()))
        return 64
    func, args = COMMANDS[argv[1]]
    if len(argv) - 2 != len(args.split()):
        print(f"usage: helm_checks.py {argv[1]} {args}")
        return 64
    return func(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
