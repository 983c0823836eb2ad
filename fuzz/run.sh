#!/usr/bin/env bash
# Runs every fuzz target for N executions (default 1,000,000) and prints one line per target.
set -euo pipefail
cd "$(dirname "$0")"
runs="${1:-1000000}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(cargo +nightly fuzz list); do
  log="target/fuzz-$target.log"
  mkdir -p target
  start=$(date +%s)
  if cargo +nightly fuzz run "$target" -- -runs="$runs" -max_len=65536 >"$log" 2>&1; then
    echo "$target: $runs runs, no crash ($(( $(date +%s) - start )) s)"
  else
    echo "$target: CRASH, see fuzz/$log" >&2
    exit 1
  fi
done
