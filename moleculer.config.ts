// Broker options derived from the configuration (lib/config.ts). One code base runs as a single
// process (no transporter) or as many nodes over NATS, selected by NATS_URL and SERVICES.
// Nothing here runs at import: index.ts reads the environment and reports a bad value itself.
import { hostname } from "node:os";
import type { BrokerOptions, Context, MetricRegistry } from "moleculer";
import { type BreakerErrorLike, countsForBreaker } from "./domain/resilience";
import { AuthMiddleware } from "./lib/auth-middleware";
import type { Config } from "./lib/config";
import { PromClientReporter } from "./lib/metrics";
import { actionSpanTags } from "./lib/trace";

/**
 * Moleculer's own order with Timeout moved inside CircuitBreaker. In the stock order
 * (…, CircuitBreaker, Timeout, …) a timeout rejects outside the breaker, which then never sees
 * it: a hung dependency would never open the circuit.
 */
export const MIDDLEWARE_ORDER = [
  "ActionHook",
  "Validator",
  "Bulkhead",
  "Cacher",
  "ContextTracker",
  "Timeout",
  "CircuitBreaker",
  "Retry",
  "Fallback",
  "ErrorHandler",
  "Tracing",
  "Metrics",
  "Debounce",
  "Throttle",
] as const;

/**
 * NATS client options for a single server or a cluster. NATS_URL may list every server of the
 * cluster (comma list): Moleculer's transporter turns it into the client's `servers`, and the
 * client connects to one of them (in random order, so nodes spread over the cluster) and on a lost
 * connection moves to the next, for ever. A server that is paused or cut off keeps its socket
 * open: the client notices through its pings, here after 2 unanswered pings 2 s apart instead of
 * the default 2 × 2 min, so a node is back on another server before its peers' heartbeat timeout
 * (6 s) declares it gone.
 */
export function natsOptions(natsUrl: string): Record<string, unknown> {
  return {
    url: natsUrl,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 2_000,
    maxPingOut: 2,
  };
}

export function brokerOptions(config: Config): BrokerOptions {
  const options: BrokerOptions = {
    namespace: config.namespace,
    nodeID: config.nodeId ?? `${hostname()}-${process.pid}`,
    transporter: config.natsUrl ? { type: "NATS", options: natsOptions(config.natsUrl) } : null,
    serializer: "JSON",
    internalMiddlewares: false,
    // Auth last, so outermost: a call without a user is refused before validation or any work.
    middlewares: [...MIDDLEWARE_ORDER, AuthMiddleware],
    // index.ts handles SIGTERM/SIGINT itself (drain, then one stop): the broker's own handlers
    // would stop it a second time ("Good bye" twice, the gateway's listener closed twice).
    skipProcessEventRegistration: true,
    // A hung dependency must count as a failure: the default of 0 waits forever.
    requestTimeout: config.requestTimeoutMs,
    // Retries of the broker are blind to idempotency; the proxies retry what is safe themselves.
    retryPolicy: { enabled: false },
    // Broker-wide: Moleculer only reads an action's own circuitBreaker options when the broker's
    // is enabled (docs/resilience.md).
    circuitBreaker: {
      enabled: true,
      threshold: config.breaker.threshold,
      minRequestCount: config.breaker.minRequestCount,
      windowTime: config.breaker.windowSeconds,
      halfOpenTime: config.breaker.halfOpenMs,
      check: (err: Error) => countsForBreaker(err as BreakerErrorLike),
    },
    registry: { strategy: "RoundRobin", preferLocal: true },
    heartbeatInterval: 2,
    heartbeatTimeout: 6,
    logger: {
      type: "Pino",
      options: {
        level: config.logLevel,
        pino: {
          options: {
            base: { pid: process.pid },
            timestamp: () => `,"time":"${new Date().toISOString()}"`,
            redact: {
              paths: ["authorization", "*.authorization", "token", "*.token", "jwt"],
              censor: "[redacted]",
            },
          },
        },
      },
    },
    metrics:
      config.metricsPort !== undefined
        ? {
            enabled: true,
            // prom-client's default metrics replace Moleculer's process/os ones (lib/metrics.ts).
            collectProcessMetrics: false,
            // An instance: Moleculer takes a reporter object as it is (its typings list only names).
            reporter: [
              new PromClientReporter({
                port: config.metricsPort,
                path: "/metrics",
              }) as unknown as MetricRegistry.MetricsReporter,
            ],
          }
        : { enabled: false },
    tracing:
      config.tracingSamplingRate > 0
        ? {
            enabled: true,
            sampling: { rate: config.tracingSamplingRate },
            tags: { action: (ctx: Context) => actionSpanTags(ctx.params) },
            exporter: config.jaegerEndpoint
              ? [
                  {
                    type: "Jaeger",
                    // legacyMode is an option of Moleculer's Jaeger exporter its typings lack.
                    options: <Record<string, unknown>>{
                      endpoint: config.jaegerEndpoint,
                      // 128-bit trace ids, as in the W3C traceparent that crosses Kafka.
                      legacyMode: false,
                      sampler: { type: "Const", options: { decision: 1 } },
                    },
                  },
                ]
              : [],
          }
        : { enabled: false },
  };
  return options;
}
