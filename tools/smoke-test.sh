#!/usr/bin/env bash
# Smoke test of the tool chain: build (or reuse) the binaries, start etcd +
# kube-apiserver via start-control-plane.sh, run kubectl/helm/kstatus against
# them, stop everything. Prints "N passed, N failed" at the end.
set -euo pipefail
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
BIN="${EIP_TOOLS_BIN:-$("$TOOLS_DIR/build.sh" | tail -n1)}"
export EIP_TOOLS_BIN="$BIN"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/eip-smoke.XXXXXX")"
CP_PID=""
cleanup() {
  if [[ -n "$CP_PID" ]]; then kill -TERM "$CP_PID" 2>/dev/null || true; wait "$CP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

"$TOOLS_DIR/start-control-plane.sh" --dir "$WORK/cp" >"$WORK/cp.out" 2>"$WORK/cp.err" &
CP_PID=$!
for _ in $(seq 1200); do
  grep -qx ready "$WORK/cp.out" 2>/dev/null && break
  kill -0 "$CP_PID" 2>/dev/null || { cat "$WORK/cp.err" >&2; exit 1; }
  sleep 0.1
done
grep -qx ready "$WORK/cp.out" || { echo "control plane not ready" >&2; cat "$WORK/cp.err" >&2; exit 1; }
eval "$(grep -E '^(KUBECONFIG|SERVER|TOKEN|ETCD)=' "$WORK/cp.out" | sed 's/^/export /')"

pass=0 fail=0
t() { # description, command...; passes when the command succeeds
  local d=$1; shift
  if out="$("$@" 2>&1)"; then pass=$((pass + 1)); echo "ok   $d"
  else fail=$((fail + 1)); echo "FAIL $d"; printf '%s\n' "$out" | sed 's/^/     /'; fi
}
# has WANT CMD...: CMD's output (exit code ignored) contains WANT
has() { local want=$1; shift; local o; o="$("$@" 2>&1)" || true; [[ "$o" == *"$want"* ]] || { echo "$o"; return 1; }; }

t "kubectl --server/--token get ns" has kube-system "$BIN/kubectl" --server "$SERVER" --token "$TOKEN" --insecure-skip-tls-verify get ns
t "kubectl version (client+server v1.37.2)" has "Server Version: v1.37.2" "$BIN/kubectl" version
t "kube-apiserver --version" has "Kubernetes v1.37.2" "$BIN/kube-apiserver" --version
t "helm version v3.22.0" has v3.22.0 "$BIN/helm" version --short
t "RBAC: admin can do everything" has yes "$BIN/kubectl" auth can-i '*' '*'
t "RBAC: a service account cannot list pods" has no "$BIN/kubectl" auth can-i list pods --as=system:serviceaccount:default:nobody
t "bad token is rejected" has Unauthorized "$BIN/kubectl" --token wrong get ns
mkdir -p "$WORK/chart/templates"
printf 'apiVersion: v2\nname: smoke\nversion: 0.1.0\n' >"$WORK/chart/Chart.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: smoke\ndata:\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n' >"$WORK/chart/templates/cm.yaml"
t "helm template assumes Kubernetes 1.37 offline" has 'kube: "v1.37' "$BIN/helm" template s "$WORK/chart"
t "helm install --wait" "$BIN/helm" install s "$WORK/chart" -n default --wait --timeout 60s
t "kstatus of the installed ConfigMap is Current" has '"status":"Current"' sh -c "'$BIN/kubectl' get cm smoke -n default -o yaml | '$BIN/kstatus'"
t "helm uninstall" "$BIN/helm" uninstall s -n default
listeners() { ss -ltnpH | grep -E '"(etcd|kube-apiserver)"' | awk '{print $4}'; }
if command -v ss >/dev/null 2>&1; then
  t "etcd and kube-apiserver listen on 127.0.0.1 only" sh -c "[ -n \"\$1\" ] && ! printf '%s\n' \"\$1\" | grep -v '^127\.0\.0\.1:'" _ "$(listeners)"
fi

echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
