// Broker options derived from the environment (lib/config.ts). One code base runs as a single
// process (no transporter) or as many nodes over NATS, selected by NATS_URL and SERVICES.
import { hostname } from "node:os";
import type { BrokerOptions } from "moleculer";
import { type Config, loadConfig } from "./lib/config";

export function brokerOptions(config: Config): BrokerOptions {
  const options: BrokerOptions = {
    namespace: config.namespace,
    nodeID: config.nodeId ?? `${hostname()}-${process.pid}`,
    transporter: config.natsUrl
      ? { type: "NATS", options: { url: config.natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 500 } }
      : null,
    serializer: "JSON",
    // A hung dependency must count as a failure: the default of 0 waits forever.
    requestTimeout: config.requestTimeoutMs,
    // Retries of the broker are blind to idempotency; the proxies retry what is safe themselves.
    retryPolicy: { enabled: false },
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 5,
      windowTime: 10,
      halfOpenTime: 5_000,
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
            exporter: config.jaegerEndpoint
              ? [
                  {
                    type: "Jaeger",
                    options: {
                      endpoint: config.jaegerEndpoint,
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
