# The two commands a newcomer needs: `make dev` and `make test`.
.PHONY: dev test tools crds

# Local control plane + simulator + operator + samples. Ctrl-C stops everything.
dev:
	bash tools/build.sh >/dev/null
	cargo build --bin eip-operator
	cargo run --example dev

# Every test: formatting, lints, unit, integration and end-to-end (real kube-apiserver + etcd).
test:
	./test.sh

# The pinned kube-apiserver, etcd, kubectl, helm and kstatus binaries (cached).
tools:
	bash tools/build.sh

# Regenerates the checked-in CRDs.
crds:
	cargo run -q -- crd > crds/eip-operator.dev.yaml
	cp crds/eip-operator.dev.yaml config/crd/eip-operator.dev.yaml
	cp crds/eip-operator.dev.yaml charts/eip-operator/crds/eip-operator.dev.yaml
