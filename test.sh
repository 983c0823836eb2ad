#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "error: cargo is required (rustup)" >&2; exit 1; }
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets
