# unobin-state-server: build stage compiles TypeScript; the runtime stage has
# production dependencies only, runs as the unprivileged `node` user, keeps
# state on the /data volume, and gets SIGTERM as PID 1 (graceful shutdown).
# test/image-recipe.test.ts runs this file's install and start commands
# outside Docker (production install, read-only app dir, non-root user).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    UNOBIN_STATE_DATA_DIR=/data \
    UNOBIN_STATE_LISTEN=127.0.0.1:8080 \
    UNOBIN_STATE_ENCRYPTION=env-key
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY openapi.yaml ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 CMD ["node", "dist/src/tools/healthcheck.js"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/server.js"]
