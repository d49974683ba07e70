// Broker options derived from the environment (lib/config.ts). One code base runs as a single
// process (no transporter) or as many nodes over NATS, selected by NATS_URL and SERVICES.
import { hostname } from "node:os";
import type { BrokerOptions, Context } from "moleculer";
import { type BreakerErrorLike, countsForBreaker } from "./domain/resilience";
import { type Config, loadConfig } from "./lib/config";
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

export function brokerOptions(config: Config): BrokerOptions {
  const options: BrokerOptions = {
    namespace: config.namespace,
    nodeID: config.nodeId ?? `${hostname()}-${process.pid}`,
    transporter: config.natsUrl
      ? {
          type: "NATS",
          // Pings every second, stale after two unanswered: a node cut from NATS knows it within
          // 2–3 s (the default, 2 min, let a cut node act for minutes on a stale view) and its
          // writes wait (mixins/write-fence.mixin.ts) until it is back and its view current.
          options: {
            url: config.natsUrl,
            maxReconnectAttempts: -1,
            reconnectTimeWait: 500,
            pingInterval: 1_000,
            maxPingOut: 2,
          },
        }
      : null,
    serializer: "JSON",
    internalMiddlewares: false,
    middlewares: [...MIDDLEWARE_ORDER],
    // A hung dependency must count as a failure: the default of 0 waits forever.
    requestTimeout: config.requestTimeoutMs,
    // Retries of the broker are blind to idempotency; the proxies retry what is safe themselves.
    retryPolicy: { enabled: false },
    // Broker-wide: a per-action breaker only works fully when this is on (DESIGN.md).
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
            reporter: [{ type: "Prometheus", options: { port: config.metricsPort, path: "/metrics" } }],
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

export default brokerOptions(loadConfig());
