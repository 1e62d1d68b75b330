# unobin-state-server: build stage compiles TypeScript and bundles the console
# page (dist/ui, served at /ui/); the runtime stage has
# production dependencies only, runs as the unprivileged `node` user, keeps
# state on the /data volume, and gets SIGTERM as PID 1 (graceful shutdown).
# test/image-recipe.test.ts runs this file's install and start commands
# outside Docker (production install, read-only app dir, non-root user).

# Node 24 is the maintained LTS line; the tag is pinned to an exact release
# (bump it deliberately, and add @sha256:<digest> when your registry allows).
FROM node:24.11.1-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
COPY scripts/bundle-server.mjs ./scripts/
RUN npm run build

FROM node:24.11.1-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="unobin-state-server" \
      org.opencontainers.image.description="HTTP state server for unobin, Terraform and OpenTofu: versioned, encrypted, locked state per factory/stack" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="docker.io/library/node:24.11.1-bookworm-slim"
ENV NODE_ENV=production \
    UNOBIN_STATE_DATA_DIR=/data \
    UNOBIN_STATE_LISTEN=127.0.0.1:8080 \
    UNOBIN_STATE_ENCRYPTION=env-key
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/ui ./dist/ui
COPY openapi.yaml ./
RUN mkdir -p /data && chown node:node /data
# The `node` user by its uid and gid: a numeric USER lets Kubernetes check
# runAsNonRoot without a runAsUser in the pod spec.
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["node", "dist/src/tools/healthcheck.js"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/server.js"]
