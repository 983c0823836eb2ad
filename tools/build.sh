#!/usr/bin/env bash
# Builds the pinned test control-plane binaries (kube-apiserver, etcd, kubectl,
# helm, kstatus) into a content-keyed cache and prints the absolute bin dir as
# the LAST line of stdout. Everything else (progress, go output) goes to stderr.
#
#   bin="$(tools/build.sh | tail -n1)"
#
# Cache: ${EIP_TOOLS_CACHE:-$HOME/.cache/eip-operator-tools}/<key>/bin/
# The key covers the pinned versions, the Go toolchain/platform and a hash of
# this script plus every go.mod/go.sum/*.go under tools/. When all binaries are
# already there this is a no-op. EIP_TOOLS_FORCE=1 rebuilds regardless.
set -euo pipefail

K8S_VERSION=v1.37.2
K8S_MAJOR=1
K8S_MINOR=37
ETCD_VERSION=v3.7.0   # what k8s.io/kubernetes v1.37.2's go.mod requires
HELM_VERSION=v3.22.0
BINARIES=(kube-apiserver etcd kubectl helm kstatus)

log() { printf 'tools/build.sh: %s\n' "$*" >&2; }
die() { printf 'tools/build.sh: ERROR: %s\n' "$*" >&2; exit 1; }

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

command -v go >/dev/null 2>&1 \
  || die "'go' not found on PATH. Install Go >= 1.26, put it on PATH and retry."

# Never let go switch/download toolchains or pick up an outer go.work.
export GOTOOLCHAIN=local GOWORK=off
go_version="$(go env GOVERSION 2>/dev/null)" || die "'go env' failed; is the Go installation broken?"
case "$go_version" in
  go1.2[6-9]*|go1.[3-9][0-9]*|go[2-9]*) ;;
  *) die "Go >= 1.26 is required (k8s.io/kubernetes ${K8S_VERSION} needs it); found ${go_version}." ;;
esac
goos="$(go env GOOS)"; goarch="$(go env GOARCH)"

# ---- cache key ---------------------------------------------------------------
command -v sha256sum >/dev/null 2>&1 || die "'sha256sum' not found (coreutils)."
src_hash="$(
  cd "$TOOLS_DIR"
  {
    printf '%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$HELM_VERSION" "$go_version" "$goos/$goarch"
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' -o -name build.sh \) \
      -not -path './.*' -print | LC_ALL=C sort | while IFS= read -r f; do
        printf '%s  %s\n' "$(sha256sum <"$f" | cut -c1-64)" "$f"
      done
  } | sha256sum | cut -c1-16
)"
KEY="k8s-${K8S_VERSION}_helm-${HELM_VERSION}_${goos}-${goarch}_${src_hash}"
CACHE_ROOT="${EIP_TOOLS_CACHE:-${HOME:?HOME is unset; set EIP_TOOLS_CACHE}/.cache/eip-operator-tools}"
mkdir -p "$CACHE_ROOT" || die "cannot create cache dir $CACHE_ROOT"
CACHE_ROOT="$(cd "$CACHE_ROOT" && pwd -P)"
FINAL_DIR="$CACHE_ROOT/$KEY"
BIN_DIR="$FINAL_DIR/bin"

complete() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN_DIR/$b" ]] || return 1; done
}

if [[ "${EIP_TOOLS_FORCE:-0}" != 1 ]] && complete; then
  log "up to date: $BIN_DIR"
  printf '%s\n' "$BIN_DIR"
  exit 0
fi

# ---- serialize concurrent builds (e.g. parallel test binaries) --------------
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.build.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE_ROOT/.build.lock; waiting..."
    flock 9
  fi
  if [[ "${EIP_TOOLS_FORCE:-0}" != 1 ]] && complete; then
    log "up to date (built by another process): $BIN_DIR"
    printf '%s\n' "$BIN_DIR"
    exit 0
  fi
  # We hold the lock, so no build is running: leftovers of killed builds can go.
  rm -rf "$CACHE_ROOT"/.tmp.* "$CACHE_ROOT"/*.old.* 2>/dev/null || true
fi

# ---- build into a temp dir, then rename into place ---------------------------
TMP_DIR="$(mktemp -d "$CACHE_ROOT/.tmp.${KEY}.XXXXXX")"
CHILD=""
cleanup() {
  if [[ -n "$CHILD" ]]; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  rm -rf "$TMP_DIR"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP
# Run a command in the background and wait for it, so that a signal sent to this
# script alone is handled at once (and stops the build) rather than after it.
run() { "$@" & CHILD=$!; wait "$CHILD"; local rc=$?; CHILD=""; return $rc; }
chmod 755 "$TMP_DIR"
mkdir -p "$TMP_DIR/bin"

# 2 cores: 2 parallel package builds; static binaries; go.sum is committed, so
# the module graph must not change (-mod=readonly).
export CGO_ENABLED=0
export GOFLAGS="-mod=readonly -buildvcs=false"
PAR="${EIP_TOOLS_BUILD_PARALLELISM:-$(nproc 2>/dev/null || echo 2)}"

K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X ${pkg}.gitVersion=${K8S_VERSION}"
  K8S_LDFLAGS+=" -X ${pkg}.gitMajor=${K8S_MAJOR}"
  K8S_LDFLAGS+=" -X ${pkg}.gitMinor=${K8S_MINOR}"
  K8S_LDFLAGS+=" -X ${pkg}.gitTreeState=clean"
done
HELM_LDFLAGS="-s -w"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${K8S_MAJOR}"
HELM_LDFLAGS+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${K8S_MINOR}"

start=$SECONDS
log "building into $FINAL_DIR (cold build: ~8-10 min on 2 cores; ${go_version}, -p ${PAR})"

log "[1/2] kube-apiserver, kubectl, etcd, kstatus (module tools/)"
run go -C "$TOOLS_DIR" build -p "$PAR" -trimpath -ldflags "$K8S_LDFLAGS" -o "$TMP_DIR/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver ./cmd/kubectl ./cmd/etcd ./cmd/kstatus >&2 \
  || die "go build failed for kube-apiserver/kubectl/etcd/kstatus (see the go output above)."

log "[2/2] helm ${HELM_VERSION} (module tools/helm/)"
run go -C "$TOOLS_DIR/helm" build -p "$PAR" -trimpath -ldflags "$HELM_LDFLAGS" -o "$TMP_DIR/bin/helm" \
    helm.sh/helm/v3/cmd/helm >&2 \
  || die "go build failed for helm (see the go output above)."

# ---- sanity-check the version stamps -----------------------------------------
check() { # name, expected substring, command...
  local name=$1 want=$2 out; shift 2
  out="$("$@" 2>&1)" || die "$name failed to run: $out"
  [[ "$out" == *"$want"* ]] || die "$name: expected '$want' in version output, got: $out"
}
check kube-apiserver "Kubernetes ${K8S_VERSION}" "$TMP_DIR/bin/kube-apiserver" --version
check kubectl "${K8S_VERSION}" "$TMP_DIR/bin/kubectl" version --client
check helm "${HELM_VERSION}" "$TMP_DIR/bin/helm" version --short
check kstatus '"status":"Current"' "$TMP_DIR/bin/kstatus" <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'
check etcd "unsafe-no-fsync" "$TMP_DIR/bin/etcd" -h

printf '%s\n' "k8s=${K8S_VERSION} etcd=${ETCD_VERSION} helm=${HELM_VERSION} go=${go_version} key=${KEY}" >"$TMP_DIR/VERSIONS"

# Publish atomically: rename the complete temp dir to its final name.
if [[ -e "$FINAL_DIR" ]]; then
  rm -rf "$FINAL_DIR.old.$$" && mv -T "$FINAL_DIR" "$FINAL_DIR.old.$$" && rm -rf "$FINAL_DIR.old.$$"
fi
mv -T "$TMP_DIR" "$FINAL_DIR" || die "could not move $TMP_DIR to $FINAL_DIR"
trap - EXIT

log "built in $((SECONDS - start))s: $BIN_DIR"
printf '%s\n' "$BIN_DIR"
