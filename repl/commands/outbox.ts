// `outbox`: events still waiting to reach Kafka, and how old the oldest is.
import type { OperatorCommand } from "../command";

export const outboxCommand: OperatorCommand = {
  command: "outbox",
  description: "Outbox backlog: events not yet on Kafka and the age of the oldest",
  async run(broker) {
    const b = await broker.call<{ events: number; orders: number; oldestAgeSeconds: number }>(
      "orders.outboxBacklog",
    );
    if (b.events === 0) return "outbox empty: every event is on Kafka";
    return `${b.events} event(s) in ${b.orders} order(s) waiting; oldest ${b.oldestAgeSeconds.toFixed(1)}s old`;
  },
};
