# syntax=docker/dockerfile:1
#
# conductor-http-worker and example-api (the demo target API) in one slim, non-root image.
#
#   docker build -t conductor-http-worker:local .
#   docker run --rm -e CONDUCTOR_SERVER_URL=http://conductor-server:8080/api -p 9191:9191 conductor-http-worker:local
#   docker run --rm --entrypoint example-api -p 8090:8090 conductor-http-worker:local --listen 0.0.0.0:8090
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts. deploy/compose/ builds and runs it
# with a conductor-oss server, Prometheus and Grafana; deploy/kubernetes/ deploys it.

ARG RUST_VERSION=1.95
# Builder and runtime must be the same Debian release: the binaries link the builder's glibc dynamically.
ARG DEBIAN_RELEASE=bookworm

# --- build -----------------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder

WORKDIR /src
# -D warnings: a warning fails the image build just as it fails CI. No incremental state in a release build.
ENV RUSTFLAGS="-D warnings" \
    CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never

# .dockerignore keeps target/, .git/ and the deploy files out of the context, so only the workspace is copied.
COPY . .

# The cargo registry and target/ live in cache mounts, so a rebuild recompiles only what changed. A cache mount is
# not part of the image, hence the binaries are copied out of it in the same step.
RUN --mount=type=cache,id=chw-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=chw-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=chw-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p conductor-http-worker -p example-api \
 && mkdir -p /out \
 && cp target/release/conductor-http-worker target/release/example-api /out/

# --- runtime ---------------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

ARG DEBIAN_RELEASE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="conductor-http-worker" \
      org.opencontainers.image.description="Conductor task worker for HTTP and HTTP_POLL tasks (plus the example-api demo target)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:${DEBIAN_RELEASE}-slim"

# ca-certificates only: reqwest uses rustls with the OS trust store, so HTTPS targets need the system roots.
# Not version-pinned on purpose: bookworm-slim tracks Debian security updates, and a pinned Debian revision stops
# building as soon as the archive moves on.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 conductor \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin conductor

COPY --from=builder /out/conductor-http-worker /out/example-api /usr/local/bin/

# Containers: admin endpoints (/metrics, /healthz, /readyz) on all interfaces, logs as JSON lines. The runtime-
# control endpoints (admin.control_addr, 127.0.0.1:9192) deliberately stay on loopback and are not exposed.
ENV CONDUCTOR_HTTP_WORKER_ADMIN_ADDR=0.0.0.0:9191 \
    CONDUCTOR_HTTP_WORKER_LOG_FORMAT=json

# Numeric uid:gid so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 9191
# On SIGTERM the worker parks held polls and drains in-flight work within shutdown.grace_secs (30 s), then exits 0:
# give it a stop timeout above that (compose stop_grace_period, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# Exec form, so the worker is PID 1 and receives SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/conductor-http-worker"]
