# syntax=docker/dockerfile:1
# One image for every Ops Control Room process: `ocr api`, `ocr worker`, `ocr sweeper`, `ocr migrate`.
# TypeScript runs through tsx at runtime (a production dependency of @ocr/cli), so there is no compile
# step: the image is the workspace with production node_modules and the built console.
#   docker build -t ocr:dev .
#   docker run --rm -e DATABASE_URL=... -p 8080:8080 ocr:dev                     # the API
#   docker run --rm -e OCR_API_URL=... -e OCR_TOKEN=... ocr:dev node packages/cli/bin/ocr.js worker
ARG NODE_IMAGE=node:22-bookworm-slim

# --- manifests: only package.json files and the lockfile, so dependency layers survive source edits ---
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -type d -empty -delete

# --- deps: production dependencies only (tsx included: @ocr/cli depends on it) ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY --from=manifests /src ./
# Install scripts stay off: nothing the runtime needs builds natively, and the allowlist in package.json
# is for development machines (embedded PostgreSQL), not the image.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# --- console: the static web console, built with dev dependencies, then discarded but for dist/ ---
FROM ${NODE_IMAGE} AS console
WORKDIR /app
COPY --from=manifests /src ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build -w @ocr/console --if-present && mkdir -p packages/console/dist

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: reaps the orphans of shell steps (node does not) and forwards signals to node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
WORKDIR /app
# Code and dependencies belong to root and are read-only to the process user: a compromised process
# cannot rewrite the program it runs.
COPY --from=deps /app ./
COPY . .
COPY --from=console /app/packages/console/dist ./packages/console/dist
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
