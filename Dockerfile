# duet in a container: `docker build -t duet .`, then
#   docker run -p 8080:8080 -v duet-data:/data \
#     -e DUET_JWT_SECRET=$(openssl rand -hex 32) -e DUET_API_KEY=$(openssl rand -hex 32) duet
# compose.yaml runs two of these on Redis behind nginx.

# Build stage: dev dependencies, the TypeScript build, then only the runtime dependencies.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The SDK's workspace (packages/client) is in the lock file: npm ci needs its manifest.
COPY packages/client/package.json ./packages/client/
# better-sqlite3 installs a prebuilt binary for this platform (its install script may fetch it).
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev

# Runtime stage: what the server needs, run as the image's unprivileged `node` user.
FROM node:20-slim
ENV NODE_ENV=production \
    DUET_HOST=0.0.0.0 \
    DUET_PORT=8080 \
    DUET_STORE=sqlite:/data/duet.db
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# Ready = the store answers (GET /readyz); the slim image has no curl, node's fetch does it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.DUET_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself (duet answers it by closing connections
# cleanly); no shell in between to swallow it. compose.yaml adds `init: true` for a reaper too.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/duet.js"]
