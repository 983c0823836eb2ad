#!/usr/bin/env bash
# Starts a throw-away etcd + kube-apiserver on 127.0.0.1 (no kubelet, scheduler
# or controller-manager), the same way controller-runtime's envtest does, and
# keeps them running until this script gets SIGINT/SIGTERM (or stdin closes
# with --until-stdin-eof). Reference for the Rust test harness; also handy by hand.
#
#   tools/start-control-plane.sh [--dir DIR] [--until-stdin-eof]
#
# Binaries: $EIP_TOOLS_BIN, else the output of tools/build.sh.
# On readiness it prints (stdout), ending with the line "ready":
#   KUBECONFIG=<dir>/kubeconfig
#   SERVER=https://127.0.0.1:<port>
#   TOKEN=<admin bearer token, user "admin" in group system:masters>
#   ETCD=http://127.0.0.1:<port>
#   ready
# Logs: <dir>/etcd.log, <dir>/kube-apiserver.log. The dir is removed on exit
# unless --dir was given.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
log() { printf 'start-control-plane: %s\n' "$*" >&2; }
die() { printf 'start-control-plane: ERROR: %s\n' "$*" >&2; exit 1; }

DIR="" KEEP_DIR=0 UNTIL_EOF=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) DIR="$2"; KEEP_DIR=1; shift 2 ;;
    --until-stdin-eof) UNTIL_EOF=1; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

BIN="${EIP_TOOLS_BIN:-}"
if [[ -z "$BIN" ]]; then
  BIN="$("$TOOLS_DIR/build.sh" | tail -n1)" || die "tools/build.sh failed"
fi
for b in etcd kube-apiserver kubectl; do [[ -x "$BIN/$b" ]] || die "missing $BIN/$b"; done
command -v openssl >/dev/null 2>&1 || die "openssl is needed to generate the service-account key"

if [[ -z "$DIR" ]]; then DIR="$(mktemp -d "${TMPDIR:-/tmp}/eip-cp.XXXXXX")"; fi
mkdir -p "$DIR"; DIR="$(cd "$DIR" && pwd -P)"

ETCD_PID="" APISERVER_PID=""
stop() {
  local pid
  for pid in $APISERVER_PID $ETCD_PID; do
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $KEEP_DIR == 0 ]]; then rm -rf "$DIR"; fi
}
trap stop EXIT
trap 'exit 0' INT TERM

# A free loopback port: probe random ports until one refuses connections.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# ---- etcd ----------------------------------------------------------------------
"$BIN/etcd" --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:0" --listen-peer-urls "http://127.0.0.1:0" \
  --unsafe-no-fsync --log-level warn >"$DIR/etcd.out" 2>"$DIR/etcd.log" &
ETCD_PID=$!
ETCD_URL=""
for _ in $(seq 300); do
  ETCD_URL="$(sed -n 's/^etcd ready client=\([^ ]*\) .*/\1/p' "$DIR/etcd.out")"
  [[ -n "$ETCD_URL" ]] && break
  kill -0 "$ETCD_PID" 2>/dev/null || die "etcd exited: $(tail -n 20 "$DIR/etcd.log")"
  sleep 0.1
done
[[ -n "$ETCD_URL" ]] || die "etcd not ready after 30s: $(tail -n 20 "$DIR/etcd.log")"
log "etcd ready at $ETCD_URL"

# ---- kube-apiserver --------------------------------------------------------------
openssl genrsa -out "$DIR/sa.key" 2048 2>/dev/null
TOKEN="$(openssl rand -hex 16)"
# token,user,uid,"group1,group2"
printf '%s,admin,admin,"system:masters"\n' "$TOKEN" >"$DIR/tokens.csv"
PORT="$(free_port)"
SERVER="https://127.0.0.1:$PORT"

"$BIN/kube-apiserver" \
  --etcd-servers="$ETCD_URL" \
  --cert-dir="$DIR/pki" \
  --secure-port="$PORT" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --service-cluster-ip-range=10.0.0.0/24 \
  --authorization-mode=RBAC \
  --token-auth-file="$DIR/tokens.csv" \
  --disable-admission-plugins=ServiceAccount \
  --service-account-issuer="$SERVER/" \
  --service-account-key-file="$DIR/sa.key" \
  --service-account-signing-key-file="$DIR/sa.key" \
  --allow-privileged=true \
  --v=0 >"$DIR/kube-apiserver.log" 2>&1 &
APISERVER_PID=$!

for _ in $(seq 1200); do
  kill -0 "$APISERVER_PID" 2>/dev/null || die "kube-apiserver exited: $(tail -n 30 "$DIR/kube-apiserver.log")"
  if [[ -s "$DIR/pki/apiserver.crt" ]] \
     && "$BIN/kubectl" --server "$SERVER" --certificate-authority "$DIR/pki/apiserver.crt" \
          --token "$TOKEN" get --raw /readyz >/dev/null 2>&1; then
    READY=1; break
  fi
  sleep 0.1
done
[[ "${READY:-0}" == 1 ]] || die "kube-apiserver not ready after 120s: $(tail -n 30 "$DIR/kube-apiserver.log")"
log "kube-apiserver ready at $SERVER"

# ---- kubeconfig (CA = the apiserver's self-signed cert in --cert-dir) ----------
export KUBECONFIG="$DIR/kubeconfig"
"$BIN/kubectl" config set-cluster test --server "$SERVER" \
  --certificate-authority "$DIR/pki/apiserver.crt" --embed-certs=true >/dev/null
"$BIN/kubectl" config set-credentials admin --token "$TOKEN" >/dev/null
"$BIN/kubectl" config set-context test --cluster test --user admin >/dev/null
"$BIN/kubectl" config use-context test >/dev/null

printf 'KUBECONFIG=%s\nSERVER=%s\nTOKEN=%s\nETCD=%s\nready\n' "$KUBECONFIG" "$SERVER" "$TOKEN" "$ETCD_URL"

# Background + wait, so SIGTERM/SIGINT are handled immediately.
if [[ $UNTIL_EOF == 1 ]]; then
  cat >/dev/null & wait $! || true
  exit 0
fi
while kill -0 "$APISERVER_PID" 2>/dev/null && kill -0 "$ETCD_PID" 2>/dev/null; do
  sleep 1 & wait $!
done
log "a control-plane process exited unexpectedly; last log lines:"
tail -n 20 "$DIR/etcd.log" "$DIR/kube-apiserver.log" >&2 || true
exit 1
