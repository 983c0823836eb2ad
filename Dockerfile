# syntax=docker/dockerfile:1.7
# eip-operator: a static (musl) binary on distroless/static, running as UID 65532.
#
#   docker buildx build --platform linux/amd64,linux/arm64 -t ghcr.io/eip-operator/eip-operator:0.1.0 .
#
# Each platform builds natively on rust:alpine (musl targets link statically by default); the
# final image has no shell, no package manager, CA certificates only (for the cloud APIs' TLS).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS builder
# C toolchain and musl headers for ring (TLS crypto).
RUN apk add --no-cache musl-dev gcc make binutils
WORKDIR /src
# Everything cargo needs to resolve the workspace (tests/ and examples/ are declared or discovered
# targets; only the binary is built).
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY src ./src
COPY tests ./tests
COPY examples ./examples
# Build with cached registry and target dirs; fail if the binary is not static; smoke-test it.
RUN --mount=type=cache,id=eip-operator-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=eip-operator-target,target=/src/target \
    cargo build --release --locked --bin eip-operator \
 && install -D -m 0755 target/release/eip-operator /out/eip-operator \
 && if readelf -l /out/eip-operator | grep -q 'Requesting program interpreter'; then echo "eip-operator is dynamically linked" >&2; exit 1; fi \
 && /out/eip-operator --version

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="eip-operator" \
      org.opencontainers.image.description="Manages cloud Elastic IP addresses as Kubernetes custom resources" \
      org.opencontainers.image.source="https://github.com/eip-operator/eip-operator" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/eip-operator /eip-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/eip-operator"]
CMD ["run"]
