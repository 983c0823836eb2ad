# The two commands a newcomer needs: `make dev` and `make test`.
.PHONY: dev test tools crds dist

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

# The release archive: the operator binary and the same binary as the kubectl plugin
# `kubectl-eip`, with the krew manifest (plugins/eip.yaml) filled in for it, in target/dist/.
# DIST_URL is where the archive will be published (the manifest's uri).
PROFILE ?= release
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
DIST_URL ?= https://example.invalid/eip-operator/releases/v$(VERSION)
ARCHIVE := kubectl-eip_$(VERSION)_linux_amd64.tar.gz
dist:
	cargo build --profile $(PROFILE) --bin eip-operator
	rm -rf target/dist && mkdir -p target/dist/stage
	cp target/$(if $(filter dev,$(PROFILE)),debug,$(PROFILE))/eip-operator target/dist/stage/eip-operator
	cp target/dist/stage/eip-operator target/dist/stage/kubectl-eip
	tar -C target/dist/stage -czf target/dist/$(ARCHIVE) eip-operator kubectl-eip
	sed -e 's|@VERSION@|$(VERSION)|' -e 's|@URI@|$(DIST_URL)/$(ARCHIVE)|' \
	    -e "s|@SHA256@|$$(sha256sum target/dist/$(ARCHIVE) | cut -c1-64)|" plugins/eip.yaml > target/dist/eip.yaml
	rm -rf target/dist/stage
	@echo "target/dist/$(ARCHIVE), target/dist/eip.yaml"
