# syntax=docker/dockerfile:1
# ecs-operator image: a release binary on distroless (glibc, CA certificates, no shell), non-root.
#   docker build -t ecs-operator:0.1.0 .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/ecs-operator:0.1.0 --push .

# Debian 12 (bookworm) builder: its glibc matches the distroless cc-debian12 runtime.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
# e2e/ is a workspace member, so its manifest and sources must be present for cargo to load the
# workspace; only the operator binary is built.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY e2e/Cargo.toml ./e2e/Cargo.toml
COPY e2e/src ./e2e/src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package ecs-operator --bin ecs-operator \
    && install -D -m 0755 target/release/ecs-operator /out/ecs-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/ecs-operator /usr/local/bin/ecs-operator
# 65532 = distroless "nonroot"; the chart runs the pod with the same UID.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ecs-operator"]
CMD ["run"]
