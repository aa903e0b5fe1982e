# syntax=docker/dockerfile:1
# Rampart's container image: one image for `rampart server` and `rampart gateway`.
#
# - Built in stages: the console is built with the full (dev) dependency tree, the runtime
#   dependencies are installed apart with `npm ci --omit=dev`, and only what runs is copied into
#   the final stage: bin/, src/ (without tests), playbooks/, console/dist, package.json and the
#   production node_modules (which hold the bundled GeoIP database and the cloud SDKs).
# - The final stage is distroless Node.js 24: no shell, no package manager, user 65532 (nonroot).
#   Node 24 is what Rampart needs, so bin/rampart.js runs it directly (no pinned-runtime re-exec).
# - Runs with a read-only root filesystem: writable paths are /var/lib/rampart (data directory,
#   event spool) and /tmp, given as volumes or tmpfs by docker-compose.yml and the Helm chart.
# - Base images are pinned by tag. Pin them by digest in your registry mirror
#   (image:tag@sha256:…) once you have pulled and scanned them; the digests are not written here
#   because they must come from the registry you trust, not from this file.

ARG NODE_BUILD_IMAGE=node:24-bookworm-slim
ARG NODE_RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot

# The web console, built by Vite (a dev dependency).
FROM ${NODE_BUILD_IMAGE} AS console
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no lifecycle script runs; the console is built explicitly below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY console/ console/
RUN npx vite build console

# The runtime dependencies only.
FROM ${NODE_BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force \
  && mkdir -p /var/lib/rampart/spool /var/lib/rampart/keys \
  && chmod -R 0700 /var/lib/rampart

FROM ${NODE_RUNTIME_IMAGE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY src/ ./src/
COPY playbooks/ ./playbooks/
COPY --from=console /src/console/dist ./console/dist
# The data directory belongs to the runtime user, so a volume mounted there starts out writable.
COPY --from=deps --chown=65532:65532 /var/lib/rampart /var/lib/rampart
USER 65532:65532
# 7600 control plane API and console; 7680 gateway proxy; 7681 gateway metrics.
EXPOSE 7600 7680 7681
# No shell in the image, so the check is node itself. It probes the server's /healthz by default;
# gateways set RAMPART_HEALTH_URL to their metrics listener (the proxy port has no health path).
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch(process.env.RAMPART_HEALTH_URL || 'http://127.0.0.1:7600/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/rampart.js"]
CMD ["server", "-c", "/etc/rampart/server.yaml"]
