# One image for the API and the workers (the command picks the role). Three stages:
#   deps    production node_modules only (better-sqlite3 is native, so it is built here with the toolchain)
#   build   every dependency + TypeScript, compiles to dist/ (npm run build)
#   runtime node, the production node_modules and dist/: no compiler, no toolchain, no sources, tests,
#           simulator, demo or benchmarks; runs as the unprivileged `node` user
FROM node:20-bookworm-slim AS toolchain
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./

FROM toolchain AS deps
# npm keeps typescript even with --omit=dev: valibot (under @bull-board/api) names it an optional peer
# (the lockfile marks it devOptional). Nothing loads it at run time, so the compiler is removed here.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/typescript node_modules/.bin/tsc node_modules/.bin/tsserver

FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY config ./config
COPY src ./src
COPY workers ./workers
# The simulator is compiled for `npm run sim` on a workstation; production never loads it (the demo is not compiled).
RUN npm run build && rm -rf dist/src/simulator

FROM node:20-bookworm-slim AS runtime
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The `lantoa` CLI (e.g. `docker compose exec api node bin/lantoa.js tokens rotate-key`): it runs dist/src/cli.
COPY bin/lantoa.js bin/build.js ./bin/
# Code stays root-owned and read-only to the service; only data/ (the default SQLite location) is writable.
RUN mkdir -p data && chown node:node data
USER node
# V8 heap settings of every service process (config/node-flags.ts says why); override NODE_OPTIONS to raise them.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=8"
EXPOSE 3000
# Exec form: node is PID 1 and gets SIGTERM itself (no npm or shell in between); both entry points handle it
# (close-with-grace: stop accepting, finish or release in-flight jobs, exit 0).
CMD ["node", "dist/src/main.js", "--role=api"]
