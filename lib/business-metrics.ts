// Business metrics, registered in Moleculer's own metric registry so that its Prometheus
// reporter serves them beside Moleculer's metrics on one endpoint per node (METRICS_PORT).
import type { ServiceBroker } from "moleculer";

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

export function registerBusinessMetrics(broker: ServiceBroker): void {
  if (!broker.isMetricsEnabled()) return;
  const m = broker.metrics;
  const once = (name: string, register: () => void) => {
    if (!m.getMetric(name)) register();
  };
  once(METRIC.ordersByStatus, () =>
    m.register({
      name: METRIC.ordersByStatus,
      type: "gauge",
      labelNames: ["status"],
      description: "Orders in the store by status",
    }),
  );
  once(METRIC.transitions, () =>
    m.register({
      name: METRIC.transitions,
      type: "counter",
      labelNames: ["to"],
      description: "Order state transitions applied by this node",
    }),
  );
  once(METRIC.sagaDuration, () =>
    m.register({
      name: METRIC.sagaDuration,
      type: "histogram",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      description: "Time from order creation to a terminal state",
    }),
  );
  once(METRIC.compensations, () =>
    m.register({
      name: METRIC.compensations,
      type: "counter",
      labelNames: ["reason"],
      description: "Sagas compensated, by reason",
    }),
  );
  once(METRIC.refunds, () =>
    m.register({
      name: METRIC.refunds,
      type: "counter",
      description: "Refunds requested for payments after cancellation",
    }),
  );
  once(METRIC.dlqMessages, () =>
    m.register({
      name: METRIC.dlqMessages,
      type: "counter",
      labelNames: ["reason"],
      description: "Payment messages sent to the dead-letter topic",
    }),
  );
  once(METRIC.outboxBacklog, () =>
    m.register({
      name: METRIC.outboxBacklog,
      type: "gauge",
      description: "Events waiting in order outboxes",
    }),
  );
  once(METRIC.outboxOldestAge, () =>
    m.register({
      name: METRIC.outboxOldestAge,
      type: "gauge",
      description: "Age of the oldest unpublished outbox event",
    }),
  );
  once(METRIC.consumerLag, () =>
    m.register({
      name: METRIC.consumerLag,
      type: "gauge",
      labelNames: ["topic"],
      description: "Payment consumer lag (messages)",
    }),
  );
  once(METRIC.breakerState, () =>
    m.register({
      name: METRIC.breakerState,
      type: "gauge",
      labelNames: ["dependency"],
      description: "Circuit breaker state seen by this node: 0 closed, 1 half-open, 2 open",
    }),
  );
  once(METRIC.breakerTransitions, () =>
    m.register({
      name: METRIC.breakerTransitions,
      type: "counter",
      labelNames: ["dependency", "state"],
      description: "Circuit breaker transitions",
    }),
  );
  once(METRIC.retries, () =>
    m.register({
      name: METRIC.retries,
      type: "counter",
      labelNames: ["dependency"],
      description: "Retried calls to a dependency",
    }),
  );
  once(METRIC.published, () =>
    m.register({
      name: METRIC.published,
      type: "counter",
      labelNames: ["type"],
      description: "Events published to Kafka",
    }),
  );
}
