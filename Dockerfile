# syntax=docker/dockerfile:1
#
# clawprobe container image: a static-ish Rust binary (rustls, bundled SQLite; needs only
# glibc) on distroless, running as non-root with no shell.
#
#   docker build -t clawprobe:dev .
#   docker run --rm -p 127.0.0.1:9847:9847 --read-only --tmpfs /tmp \
#     -v ~/.openclaw:/openclaw:ro --user "$(id -u):$(id -g)" clawprobe:dev
#
# /tmp must be writable (SQLite auth stores are read through a private copy there).
#
# Health checks: there is deliberately no HEALTHCHECK instruction. The runtime image has no
# shell and no curl, and clawprobe has no self-check subcommand, so a HEALTHCHECK could only
# be a false one. Probe GET /healthz (liveness) and GET /readyz (readiness) on port 9847
# from the orchestrator instead (Kubernetes probes, compose healthcheck from another
# container, systemd watchdog-free restart policy); see docs/deploy.md.

# Builder and runtime are both Debian 12 (bookworm), so the glibc the binary links against
# is the glibc it runs on.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
# Build metadata for clawprobe_build_info and --version (build.rs). The context has no .git,
# so pass them, or both are "unknown":
#   docker build --build-arg CLAWPROBE_BUILD_REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" -t clawprobe:dev .
ARG CLAWPROBE_BUILD_REVISION=""
ARG SOURCE_DATE_EPOCH=""
WORKDIR /src
COPY . .
# The build command lives in scripts/build-release.sh, shared with CI. The cache mounts keep
# the crates.io download and compiled dependencies between builds (BuildKit); the binary is
# copied out of the cached target dir in the same step, since a cache mount is not part of
# the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    ./scripts/build-release.sh \
    && install -D -m 0755 target/release/clawprobe /out/clawprobe \
    && install -d -m 1777 /out/state \
    && /out/clawprobe --version

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="clawprobe" \
      org.opencontainers.image.description="Prometheus exporter and budgeted synthetic monitor for OpenClaw model routes" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/clawprobe /clawprobe
# Where clawprobe looks for the OpenClaw state dir: mount it here read-only. Override with
# -e OPENCLAW_STATE_DIR=... to mount it elsewhere (e.g. at the gateway's own path).
ENV OPENCLAW_STATE_DIR=/openclaw
# clawprobe's own state (the day's budget books, so daily caps hold across restarts): mount a
# volume here (-v clawprobe-state:/var/lib/clawprobe). Sticky and writable by any uid, since
# the container runs as whichever uid owns the OpenClaw dir (--user); the books are written
# 0600 and hold no key or URL. Without a writable volume under --read-only the books stay in
# memory and the error is logged once.
COPY --from=build /out/state /var/lib/clawprobe
ENV CLAWPROBE_STATE_DIR=/var/lib/clawprobe
VOLUME /var/lib/clawprobe
# distroless "nonroot" (65532). OpenClaw keeps its auth stores mode 0600, so run the
# container as the uid that owns the OpenClaw dir (docker --user, Kubernetes runAsUser).
USER 65532:65532
EXPOSE 9847
ENTRYPOINT ["/clawprobe"]
CMD ["serve"]
