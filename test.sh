#!/usr/bin/env bash
# Runs every test: formatting, lints, unit and integration tests, and the end-to-end suite on a
# real kube-apiserver + etcd built from pinned Go modules (tools/build.sh, cached).
set -euo pipefail
cd "$(dirname "$0")"
die() { echo "test.sh: ERROR: $*" >&2; exit 1; }
command -v cargo >/dev/null || die "cargo is required (rustup)"
command -v go >/dev/null || die "go is required to build the test control plane (tools/)"
command -v openssl >/dev/null || die "openssl is required by the end-to-end harness (service-account key)"

echo "== tools (kube-apiserver, etcd, kubectl, helm, kstatus)" >&2
EIP_TOOLS_BIN="$(bash tools/build.sh | tail -n1)" || die "tools/build.sh failed"
export EIP_TOOLS_BIN

echo "== cargo fmt, clippy" >&2
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The binary without the simulator feature (the feature is on by default).
cargo clippy -p eip-operator --no-default-features -- -D warnings

echo "== SDK venv (official SDKs, moto for the end-to-end AWS scenario)" >&2
EIP_SDK_VENV="${EIP_SDK_VENV:-$PWD/target/sdk-venv}"
export EIP_SDK_VENV
bash tests/sdk/run.sh --install-only

echo "== cargo test (unit, integration, end-to-end)" >&2
# Not --all-targets: that would run the benchmark too (it takes minutes; `cargo bench` runs it).
cargo test --workspace --lib --bins --tests --examples

echo "== official SDKs against the simulator (tests/sdk)" >&2
cargo build --quiet --bin eip-operator
bash tests/sdk/run.sh
