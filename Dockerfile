# syntax=docker/dockerfile:1
# One image for every processor: `docker run <image> run <processor>` (webhook, admin, router,
# accumulator, changenow, chain, settlement); any other CLI command works the same way
# (`prepare`, `reconcile`, ...). Never built on the project's machines (no Docker engine there):
# what the runtime stage holds — `npm ci --omit=dev` plus dist/ — is exactly what
# build/runtime-install.e2e.test.ts installs and runs. See docs/deploy.md.

# Build stage: every dependency (TypeScript, tsx) to emit dist/. Compose also runs the local EVM
# from this stage (it needs Hardhat, a devDependency).
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Runtime stage: production dependencies and dist/ only, as the unprivileged `node` user.
FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    LISTEN_HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["node", "dist/cli/healthcheck.js"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run", "webhook"]
