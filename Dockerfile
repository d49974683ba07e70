# One image for the service nodes and the simulators; the command picks which.
# Build stage: the strict type check and the compile must pass, or the image is not built.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.json --noEmit && npm run build

# Runtime: compiled JavaScript and production dependencies only (tsx's loader would add about
# 30 MB of RSS per node and slow the start).
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production KAFKAJS_NO_PARTITIONER_WARNING=1
# V8 sizes the old generation by its own heuristics: under full load the heap grew to ~140 MB
# between major collections and a node's RSS settled at ~260 MB, for a live heap of 45–60 MB.
# Capped at 128 MB the same soak settled at 177 MB, same throughput (bench/README.md). Raise it
# with the container's memory limit: NODE_OPTIONS=--max-old-space-size=<MB>.
ENV NODE_OPTIONS=--max-old-space-size=128
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000 3030
CMD ["node", "dist/index.js"]
