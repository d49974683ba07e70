// What the bench does to a service under test through its public interface only: places orders
// over REST, and watches the saga's Kafka messages for when each order completed. Shared by the
// scenarios (bench/scenarios/) and the peer mode (bench/peer.ts), so both sides are measured by
// the same code.
import { Kafka, logLevel } from "kafkajs";
import { request } from "undici";
import type { Shot } from "./load";

/** Order i as the bench places it: totals 1000..1006 cents, so the payment simulator accepts all. */
export const body = (i: number) => ({
  currency: "EUR",
  items: [{ productId: `sku-${i % 50}`, quantity: 1, unitPrice: 1000 + (i % 7) }],
});

/** When each order was accepted (POST start) and completed, in the bench's performance.now() clock. */
export interface Completion {
  placed: Map<string, number>;
  done: Map<string, number>;
}

/** POST → completion of each order placed and completed, in ms, sorted. */
export function completionMs(c: Completion): number[] {
  return [...c.done.entries()]
    .filter(([id]) => c.placed.has(id))
    .map(([id, at]) => at - c.placed.get(id)!)
    .filter((x) => x >= 0)
    .sort((a, b) => a - b);
}

/** A shot that places order i and notes when it was accepted, for the completion latency. */
export function placeOrders(
  urlFor: (i: number) => string,
  auth: Record<string, string>,
  completion: Completion,
): Shot {
  return async (agent, i) => {
    const start = performance.now();
    const res = await request(urlFor(i), {
      method: "POST",
      dispatcher: agent,
      headers: { "content-type": "application/json", ...auth },
      body: JSON.stringify(body(i)),
    });
    const text = await res.body.text();
    if (res.statusCode === 202) completion.placed.set((JSON.parse(text) as { id: string }).id, start);
    return res.statusCode;
  };
}

/**
 * Kafka's CreateTime (the producer's clock, this machine's) of each order's saga messages, by
 * order id: splits the completion latency into the hops between the messages.
 */
export interface SagaStamps {
  created: Map<string, number>;
  paid: Map<string, number>;
  settled: Map<string, number>;
}

/**
 * One consumer of both saga topics, for the completion and its hops. An order is complete at the
 * Kafka timestamp of its OrderConfirmed/OrderCancelled: the relay sends that event only once the
 * order is written CONFIRMED/CANCELLED, and kafkajs stamps it when it builds the request. So the
 * consumer may fetch in batches (a few fetches a second instead of one per message): the
 * measurement adds next to no load to the Kafka broker the service shares the machine with.
 */
export async function observeSaga(
  brokers: string,
  topics: { orderEvents: string; paymentEvents: string },
  groupId: string,
  completion: Completion,
): Promise<{ stamps: SagaStamps; stop: () => Promise<void> }> {
  const stamps: SagaStamps = { created: new Map(), paid: new Map(), settled: new Map() };
  const kafka = new Kafka({
    clientId: "bench-observer",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId, minBytes: 1 << 20, maxWaitTimeInMs: 250 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.orderEvents, topics.paymentEvents] });
  // No offset commits either: the group is new every run.
  await consumer.run({
    autoCommit: false,
    partitionsConsumedConcurrently: 6,
    eachMessage: async ({ topic, message }) => {
      const key = message.key?.toString() ?? "";
      const at = Number(message.timestamp);
      const type = message.headers?.["event-type"]?.toString();
      if (topic === topics.paymentEvents) stamps.paid.set(key, at);
      else if (type === "OrderCreated") stamps.created.set(key, at);
      else if (type === "OrderConfirmed" || type === "OrderCancelled") {
        // In the bench's clock (performance.now()), which times the POSTs.
        completion.done.set(key, at - performance.timeOrigin);
        stamps.settled.set(key, at);
      }
    },
  });
  return { stamps, stop: () => consumer.disconnect() };
}
