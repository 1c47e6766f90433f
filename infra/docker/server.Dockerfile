# syntax=docker/dockerfile:1.7
#
# The Paypulse server image: the dashboard (WASM) and the server are built in
# the first stage with the same `cargo xtask ui` every developer and CI run;
# the second stage holds only the binary, the built dashboard and a non-root
# user. Build from the repository root:
#
#   docker build -f infra/docker/server.Dockerfile -t paypulse-server .
#
# What is checked without a container engine (server/tests/it/infra.rs): every
# COPY source exists and is not excluded by .dockerignore, ENV names only
# variables the server reads, UI_DIST is where the dashboard is copied, the
# exposed port is PORT, and the HEALTHCHECK command succeeds against a running
# server and fails when nothing answers.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
# npm: wasm-opt comes from npm's binaryen (Debian's is too old and makes a
# dashboard that loads blank). python3-venv and pkg-config: `cargo xtask ui`
# runs the shared set-up, which checks for them (and also installs the
# development database from PyPI, unused here: one set-up path beats a
# second, image-only one).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm python3-venv pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target directories are BuildKit caches, so a rebuild
# compiles only what changed; they are not part of the layer, hence the copy
# of the results to /out inside the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo xtask ui \
    && cargo build --release --locked --package paypulse-server \
    && install -D --mode=0755 target/release/paypulse-server /out/paypulse-server \
    && cp -r ui/dist /out/ui

# Debian slim rather than distroless: the same glibc as the build stage, and
# `sleep` for the Kubernetes preStop hook (infra/k8s/deployment.yaml); the
# health check is the binary's own subcommand and needs no shell. No CA
# bundle: the MongoDB driver trusts the webpki roots compiled into the binary.
FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin paypulse
COPY --from=build /out/paypulse-server /usr/local/bin/paypulse-server
COPY --from=build /out/ui /srv/paypulse/ui
# Listen on every interface of the container; the dashboard is the one built
# above. MONGODB_URI and REDIS_URL come from the deployment.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    UI_DIST=/srv/paypulse/ui \
    RUST_LOG=info
# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8080
# GET /healthz on PORT by the binary itself (`paypulse-server healthcheck`,
# 200 within 2 s or it fails): the image has no curl or wget, and a raw TCP
# connect would call a wedged process healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/paypulse-server", "healthcheck"]
# SIGTERM (Docker's default) starts the server's graceful shutdown.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/paypulse-server"]
CMD ["serve"]
