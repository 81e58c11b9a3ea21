# syntax=docker/dockerfile:1
# Union Ledger service image: build with dev dependencies, ship only production ones.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# redis-memory-server would download a Redis binary on install; the service never needs it.
ENV REDISMS_DISABLE_POSTINSTALL=1
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies and compiled code only ----
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    REDISMS_DISABLE_POSTINSTALL=1 \
    PORT=3000 \
    HOST=0.0.0.0
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Files stay owned by root and read-only to the process; the service runs unprivileged.
USER node
EXPOSE 3000
CMD ["node", "dist/src/main.js"]
