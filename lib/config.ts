// 12-factor configuration: every knob is an environment variable, read once, validated, typed.
// Unset infrastructure URLs select the embedded defaults, so `npm start` needs no servers.

export const ALL_SERVICES = [
  "api",
  "orders",
  "saga",
  "user-proxy",
  "inventory-proxy",
  "kafka-bridge",
] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

export interface Config {
  nodeId?: string;
  /** Moleculer namespace: nodes only see nodes of the same namespace on a shared NATS. */
  namespace: string;
  port: number;
  natsUrl?: string;
  mongoUrl?: string;
  kafkaBrokers?: string[];
  kafkaTopicPrefix: string;
  kafkaConsumerGroup: string;
  jwt: { secret?: string; publicKey?: string; issuer: string; audience: string };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  metricsPort?: number;
  tracingSamplingRate: number;
  jaegerEndpoint?: string;
  services: ServiceName[];
  userServiceUrl?: string;
  inventoryServiceUrl?: string;
  paymentTimeoutMs: number;
  /** How often every node looks for sagas to resume (dead nodes' deadlines, unreleased stock, unsent events). */
  sagaSweepIntervalMs: number;
  storeGaugeIntervalMs: number;
  httpTimeoutMs: number;
  requestTimeoutMs: number;
  rateLimitPerMinute: number;
  /** Time a client has to send a whole request (slow clients are cut off). */
  httpRequestTimeoutMs: number;
  breaker: { threshold: number; minRequestCount: number; windowSeconds: number; halfOpenMs: number };
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; maxTotalMs: number };
  bulkhead: { concurrency: number; maxQueueSize: number };
  maxBodyBytes: number;
  /** On SIGTERM, /ready answers 503 for this long before the node stops (load balancers stop sending). */
  shutdownDrainMs: number;
}

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

export function loadConfig(env: Env = process.env): Config {
  // "none": a node that only joins the cluster, e.g. an operator's REPL (README, "Operator REPL").
  const servicesRaw = optional(env, "SERVICES") ?? ALL_SERVICES.join(",");
  const services = (servicesRaw === "none" ? "" : servicesRaw)
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of services) {
    if (!(ALL_SERVICES as readonly string[]).includes(s)) {
      throw new ConfigError(`SERVICES names unknown service "${s}" (known: ${ALL_SERVICES.join(", ")})`);
    }
  }
  // An order's writes, its deadline and its events live on its owner node: the store's node.
  if (services.includes("orders") && !(services.includes("saga") && services.includes("kafka-bridge"))) {
    throw new ConfigError("SERVICES: orders runs with saga and kafka-bridge on the same node");
  }
  const logLevel = (optional(env, "LOG_LEVEL") ?? "info") as Config["logLevel"];
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}`);
  const rate = Number(optional(env, "TRACING_SAMPLING_RATE") ?? "0");
  if (!(rate >= 0 && rate <= 1)) throw new ConfigError("TRACING_SAMPLING_RATE must be between 0 and 1");

  const userServiceUrl = optional(env, "USER_SERVICE_URL");
  const inventoryServiceUrl = optional(env, "INVENTORY_SERVICE_URL");
  const jwtSecret = optional(env, "JWT_SECRET");
  const jwtPublicKey = optional(env, "JWT_PUBLIC_KEY");
  const kafka = optional(env, "KAFKA_BROKERS");
  const metricsPort = optional(env, "METRICS_PORT");

  const config: Config = {
    namespace: optional(env, "NAMESPACE") ?? "orders",
    port: int(env, "PORT", 3000, 0, 65535),
    jwt: {
      issuer: optional(env, "JWT_ISSUER") ?? "order-service-dev",
      audience: optional(env, "JWT_AUDIENCE") ?? "orders",
    },
    logLevel,
    tracingSamplingRate: rate,
    services: services as ServiceName[],
    kafkaTopicPrefix: optional(env, "KAFKA_TOPIC_PREFIX") ?? "",
    kafkaConsumerGroup: optional(env, "KAFKA_CONSUMER_GROUP") ?? "order-service",
    paymentTimeoutMs: int(env, "PAYMENT_TIMEOUT_MS", 30_000, 100),
    sagaSweepIntervalMs: int(env, "SAGA_SWEEP_INTERVAL_MS", 300_000, 100),
    storeGaugeIntervalMs: int(env, "STORE_GAUGE_INTERVAL_MS", 60_000, 1_000),
    httpTimeoutMs: int(env, "HTTP_TIMEOUT_MS", 2_000, 10),
    requestTimeoutMs: int(env, "REQUEST_TIMEOUT_MS", 10_000, 100),
    rateLimitPerMinute: int(env, "RATE_LIMIT_PER_MINUTE", 600, 1),
    httpRequestTimeoutMs: int(env, "HTTP_REQUEST_TIMEOUT_MS", 15_000, 100),
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 64 * 1024, 1024, 10 * 1024 * 1024),
    shutdownDrainMs: int(env, "SHUTDOWN_DRAIN_MS", 5_000, 0, 300_000),
    breaker: {
      threshold: int(env, "CB_THRESHOLD_PERCENT", 50, 1, 100) / 100,
      minRequestCount: int(env, "CB_MIN_REQUESTS", 5, 1),
      windowSeconds: int(env, "CB_WINDOW_SECONDS", 10, 1),
      halfOpenMs: int(env, "CB_HALF_OPEN_MS", 5_000, 10),
    },
    retry: {
      maxAttempts: int(env, "RETRY_MAX_ATTEMPTS", 3, 1, 10),
      baseDelayMs: int(env, "RETRY_BASE_DELAY_MS", 50, 0),
      maxDelayMs: int(env, "RETRY_MAX_DELAY_MS", 1_000, 0),
      maxTotalMs: int(env, "RETRY_MAX_TOTAL_MS", 3_000, 1),
    },
    bulkhead: {
      concurrency: int(env, "BULKHEAD_CONCURRENCY", 32, 1, 10_000),
      maxQueueSize: int(env, "BULKHEAD_MAX_QUEUE", 1_000, 0),
    },
  };
  if (jwtSecret) config.jwt.secret = jwtSecret;
  if (jwtPublicKey) config.jwt.publicKey = jwtPublicKey.replace(/\\n/g, "\n");
  if (!jwtSecret && !jwtPublicKey) {
    // Embedded default only: a fixed development secret, printed at start-up so nobody mistakes it for production.
    config.jwt.secret = "dev-secret-change-me-dev-secret-change-me";
  }
  const nodeId = optional(env, "NODE_ID");
  if (nodeId) config.nodeId = nodeId;
  const natsUrl = optional(env, "NATS_URL");
  if (natsUrl) config.natsUrl = natsServers(natsUrl).join(",");
  if (services.length === 0 && !natsUrl) {
    throw new ConfigError(
      "SERVICES=none needs NATS_URL: without services or a transporter the node reaches nothing",
    );
  }
  const mongoUrl = optional(env, "MONGO_URL");
  if (mongoUrl) config.mongoUrl = mongoUrl;
  if (kafka)
    config.kafkaBrokers = kafka
      .split(",")
      .map((b) => b.trim())
      .filter(Boolean);
  if (metricsPort) config.metricsPort = int(env, "METRICS_PORT", 3030, 0, 65535);
  const jaeger = optional(env, "JAEGER_ENDPOINT");
  if (jaeger) config.jaegerEndpoint = jaeger;
  if (userServiceUrl) config.userServiceUrl = userServiceUrl;
  if (inventoryServiceUrl) config.inventoryServiceUrl = inventoryServiceUrl;
  return config;
}

/** NATS_URL: one server or a comma list of a cluster's servers, each a nats:// (or tls://) URL. */
function natsServers(raw: string): string[] {
  const servers = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const server of servers) {
    let url: URL | undefined;
    try {
      url = new URL(server);
    } catch {
      url = undefined;
    }
    if (!url || !["nats:", "tls:"].includes(url.protocol) || !url.hostname) {
      throw new ConfigError(`NATS_URL must be a comma list of nats://host:port URLs, got "${server}"`);
    }
  }
  return servers;
}

export function usesDevSecret(config: Config): boolean {
  return config.jwt.secret === "dev-secret-change-me-dev-secret-change-me";
}
