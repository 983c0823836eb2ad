#!/usr/bin/env bash
# Cross-checks against the clouds' official Python SDKs: installs them from PyPI into a venv
# (pinned in requirements-*.txt) and runs pytest against `eip-operator simulator`.
# `run.sh --install-only` only creates the venv (EIP_SDK_VENV, default target/sdk-venv).
set -euo pipefail
cd "$(dirname "$0")"
root="$(cd ../.. && pwd)"
die() { echo "tests/sdk/run.sh: ERROR: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required for the SDK cross-checks"

venv="${EIP_SDK_VENV:-$root/target/sdk-venv}"
stamp="$venv/.requirements.sha256"
want="$(cat requirements-*.txt | sha256sum | cut -c1-64)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "tests/sdk: installing the official SDKs into $venv" >&2
  python3 -m venv "$venv" || die "cannot create a venv (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $(printf -- '-r %s ' requirements-*.txt) || die "pip install failed"
  echo "$want" >"$stamp"
fi
# test.sh creates the venv before the end-to-end suite (its moto scenario needs moto_server).
[[ "${1:-}" == "--install-only" ]] && exit 0

export EIP_OPERATOR_BIN="${EIP_OPERATOR_BIN:-$root/target/debug/eip-operator}"
[[ -x "$EIP_OPERATOR_BIN" ]] || (cd "$root" && cargo build --quiet --bin eip-operator) || die "cannot build eip-operator"
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@" .
