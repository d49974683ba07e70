# One image for the service nodes and the simulators; the command picks which.
FROM node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.json --noEmit
ENV NODE_ENV=production KAFKAJS_NO_PARTITIONER_WARNING=1
USER node
EXPOSE 3000 3030
CMD ["node", "--import", "tsx", "index.ts"]
