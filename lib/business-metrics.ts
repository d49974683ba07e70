// Business metrics: prom-client metrics on the node's registry (lib/metrics.ts), served with the
// default Node.js metrics and Moleculer's own on one endpoint per node (METRICS_PORT).
// Services update them through `businessMetrics(this.broker)`.
import type { ServiceBroker } from "moleculer";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { nodeRegistry } from "./metrics";

export const METRIC = {
  ordersByStatus: "order_service_orders",
  transitions: "order_service_order_transitions_total",
  sagaDuration: "order_service_saga_duration_seconds",
  compensations: "order_service_compensations_total",
  refunds: "order_service_refunds_requested_total",
  dlqMessages: "order_service_dlq_messages_total",
  outboxBacklog: "order_service_outbox_backlog",
  outboxOldestAge: "order_service_outbox_oldest_age_seconds",
  consumerLag: "order_service_kafka_consumer_lag",
  breakerState: "order_service_circuit_breaker_state",
  breakerTransitions: "order_service_circuit_breaker_transitions_total",
  retries: "order_service_dependency_retries_total",
  published: "order_service_events_published_total",
} as const;

/** Breaker state as a number, so a dashboard can plot it: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;

function createBusinessMetrics(registry: Registry) {
  const registers = [registry];
  return {
    ordersByStatus: new Gauge({
      name: METRIC.ordersByStatus,
      help: "Orders in the store by status",
      labelNames: ["status"] as const,
      registers,
    }),
    transitions: new Counter({
      name: METRIC.transitions,
      help: "Order state transitions applied by this node",
      labelNames: ["to"] as const,
      registers,
    }),
    sagaDuration: new Histogram({
      name: METRIC.sagaDuration,
      help: "Time from order creation to a terminal state",
      labelNames: ["outcome"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    compensations: new Counter({
      name: METRIC.compensations,
      help: "Sagas compensated, by reason",
      labelNames: ["reason"] as const,
      registers,
    }),
    refunds: new Counter({
      name: METRIC.refunds,
      help: "Refunds requested for payments after cancellation",
      registers,
    }),
    dlqMessages: new Counter({
      name: METRIC.dlqMessages,
      help: "Payment messages sent to the dead-letter topic",
      labelNames: ["reason"] as const,
      registers,
    }),
    outboxBacklog: new Gauge({
      name: METRIC.outboxBacklog,
      help: "Events waiting in order outboxes",
      registers,
    }),
    outboxOldestAge: new Gauge({
      name: METRIC.outboxOldestAge,
      help: "Age of the oldest unpublished outbox event",
      registers,
    }),
    consumerLag: new Gauge({
      name: METRIC.consumerLag,
      help: "Payment consumer lag (messages)",
      labelNames: ["topic"] as const,
      registers,
    }),
    breakerState: new Gauge({
      name: METRIC.breakerState,
      help: "Circuit breaker state seen by this node: 0 closed, 1 half-open, 2 open",
      labelNames: ["dependency"] as const,
      registers,
    }),
    breakerTransitions: new Counter({
      name: METRIC.breakerTransitions,
      help: "Circuit breaker transitions",
      labelNames: ["dependency", "state"] as const,
      registers,
    }),
    retries: new Counter({
      name: METRIC.retries,
      help: "Retried calls to a dependency",
      labelNames: ["dependency"] as const,
      registers,
    }),
    published: new Counter({
      name: METRIC.published,
      help: "Events published to Kafka",
      labelNames: ["type"] as const,
      registers,
    }),
  };
}

export type BusinessMetrics = ReturnType<typeof createBusinessMetrics>;

const perNode = new WeakMap<ServiceBroker, BusinessMetrics>();

/**
 * The node's business metrics, created on first use. They count whether or not METRICS_PORT is
 * set (a few numbers in memory); only the endpoint depends on it.
 */
export function businessMetrics(broker: ServiceBroker): BusinessMetrics {
  let metrics = perNode.get(broker);
  if (!metrics) {
    metrics = createBusinessMetrics(nodeRegistry(broker));
    perNode.set(broker, metrics);
  }
  return metrics;
}
