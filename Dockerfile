# syntax=docker/dockerfile:1
# Node 24 LTS, the version engines in package.json asks for (DEPENDENCIES.md).
# Build: compile TypeScript and install the native better-sqlite3 binding (its install runs node-gyp,
# which needs python3, make and g++; npm_config_nodedir: the image's own C headers, none downloaded).
FROM node:24-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Run: the compiled program, its production dependencies and the migrations, as a non-root user.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
USER node
ENTRYPOINT ["node", "/app/bin/ctp-etl.js"]
CMD ["--help"]
