// The relay at the edges: a node that joins a running cluster serves requests before its own
// relay has connected to Kafka; an event handed over again before Kafka has acknowledged its first
// send; a Kafka unreachable for long, which must not grow the relay's queue without bound.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ServiceBroker } from "moleculer";
import { sharedMemoryChannel } from "../../lib/channel";
import type { Channel } from "../../lib/channel/types";
import type { Config } from "../../lib/config";
import type { OrderRecord } from "../../lib/order-record";
import { apiService } from "../../services/api.service";
import { orderStoreService } from "../../services/order-store.service";
import { ordersService } from "../../services/orders.service";
import { outboxRelayService } from "../../services/outbox-relay.service";
import { testConfig } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";
import { pendingOrder } from "../helpers/orders";

/** The store, its queries and the relay beside it, as SERVICES=orders,kafka-bridge starts them. */
function storeAndRelay(broker: ServiceBroker, config: Config): void {
  broker.createService(orderStoreService(config));
  broker.createService(ordersService(config));
  broker.createService(outboxRelayService(config));
}

interface ReadyView {
  services: { name: string; available: boolean }[];
}

test("orders written while this node's relay is connecting are published once it connects; readiness waits for it", async () => {
  const config = testConfig({ KAFKA_TOPIC_PREFIX: `relay-startup-${process.pid}` });
  const namespace = `relay-${process.pid}-${Date.now()}`;
  const options = { namespace, transporter: "Fake", logger: false } as const;
  const early = new ServiceBroker({ ...options, nodeID: "early" });
  storeAndRelay(early, config);
  const late = new ServiceBroker({ ...options, nodeID: "late" });
  storeAndRelay(late, config);
  late.createService(apiService(config));

  const channel = sharedMemoryChannel();
  const seen: string[] = [];
  const observer = await channel.subscribe(
    { groupId: `observer-${namespace}`, topics: [`${config.kafkaTopicPrefix}orders.events`] },
    async (m) => {
      seen.push(`${m.key}:${m.headers["event-type"]}`);
    },
  );
  const connect = channel.connect.bind(channel);
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let lateStarting: Promise<void> | undefined;
  try {
    await early.start();
    channel.connect = async () => {
      await gate;
      await connect();
    };
    lateStarting = late.start();
    const startedOnLate = (name: string) =>
      late.registry
        .getServiceList({ onlyLocal: true, skipInternal: true })
        .some((s: { name: string }) => s.name === name);
    await eventually(
      async () => (startedOnLate("orders") && startedOnLate("api") ? true : undefined),
      5_000,
      20,
    );

    const bridgeOnLate = async () => {
      const view = await late
        .call<ReadyView, object>("api.ready", {}, { nodeID: "late" })
        .catch((err: { data?: ReadyView }) => err.data as ReadyView);
      return view.services.find((s) => s.name === "outbox-relay")?.available;
    };
    assert.equal(await bridgeOnLate(), false, "not ready while its own relay is not running");

    const order = pendingOrder(`relay-startup-${Date.now()}`, "sku-1", 1500);
    await late.call("order-store.insert", { record: order }, { nodeID: "late" });
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [], "nothing can be sent before the relay is connected");

    open();
    await lateStarting;
    await eventually(async () => (seen.length > 0 ? true : undefined), 5_000, 20);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(seen, [`${order.order.id}:OrderCreated`], "published once, by the node that wrote it");
    assert.equal(await bridgeOnLate(), true);
  } finally {
    channel.connect = connect;
    open();
    await lateStarting?.catch(() => undefined);
    await observer.stop();
    await Promise.allSettled([late.stop(), early.stop()]);
  }
});

type Publish = Channel["publish"];

/**
 * One node with the store and the relay. Its Kafka sends go through `send`, which is given the
 * real publish; `seen` lists the order events that reached Kafka, as "orderId:type".
 */
async function relayNode(
  name: string,
  send: (publish: Publish, ...args: Parameters<Publish>) => Promise<void>,
) {
  const config = testConfig({ KAFKA_TOPIC_PREFIX: `relay-${name}-${process.pid}` });
  const broker = new ServiceBroker({ logger: false });
  storeAndRelay(broker, config);
  const channel = sharedMemoryChannel();
  const publish: Publish = channel.publish.bind(channel);
  channel.publish = (...args: Parameters<Publish>) => send(publish, ...args);
  const seen: string[] = [];
  const observer = await channel.subscribe(
    { groupId: `observer-${name}-${Date.now()}`, topics: [`${config.kafkaTopicPrefix}orders.events`] },
    async (m) => {
      seen.push(`${m.key}:${m.headers["event-type"]}`);
    },
  );
  return {
    broker,
    seen,
    async stop() {
      channel.publish = publish;
      await observer.stop();
      await broker.stop();
    },
  };
}

test("while Kafka is unreachable the relay holds a bounded queue; the rest waits in outboxes and goes out after", async () => {
  let kafkaDown = false;
  const { broker, seen, stop } = await relayNode("overflow", async (publish, ...args) => {
    if (kafkaDown) throw new Error("kafka unreachable");
    return publish(...args);
  });
  try {
    await broker.start();
    const relay = broker.getLocalService("outbox-relay") as unknown as {
      settings: { queueMax: number; graceMs: number };
      queue: unknown[];
    };
    relay.settings.queueMax = 3;
    relay.settings.graceMs = 0;
    (broker.getLocalService("order-store") as unknown as { marks: { delayMs: number } }).marks.delayMs = 20;

    kafkaDown = true;
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const order = pendingOrder(`overflow-${Date.now()}-${i}`, "sku-overflow", 1000 + i);
      await broker.call("order-store.insert", { record: order });
      ids.push(order.order.id);
      assert.ok(relay.queue.length <= 3, `queue bounded (${relay.queue.length})`);
    }
    assert.equal(seen.length, 0);

    kafkaDown = false;
    await eventually(
      async () => (ids.every((id) => seen.includes(`${id}:OrderCreated`)) ? true : undefined),
      15_000,
      50,
    );
    await eventually(
      async () => {
        const pending = await broker.call<OrderRecord[], object>("order-store.pendingOutboxes", {
          limit: 100,
        });
        return pending.some((r) => ids.includes(r.order.id)) ? undefined : true;
      },
      5_000,
      50,
    );
  } finally {
    await stop();
  }
});

test("an event handed over again while its first send is unacknowledged goes to Kafka once", async () => {
  let acknowledge!: () => void;
  const acknowledged = new Promise<void>((resolve) => {
    acknowledge = resolve;
  });
  // Delivered at once, acknowledged later: what a payment answer racing Kafka's ack looks like.
  const { broker, seen, stop } = await relayNode("inflight", async (publish, ...args) => {
    await publish(...args);
    await acknowledged;
  });
  try {
    await broker.start();
    const order = pendingOrder(`inflight-${Date.now()}`, "sku-inflight", 1200);
    await broker.call("order-store.insert", { record: order });
    await eventually(async () => (seen.length > 0 ? true : undefined), 5_000, 10);
    const again = broker.call("outbox-relay.relay", { id: order.order.id, entries: order.outbox });
    acknowledge();
    await again;
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [`${order.order.id}:OrderCreated`]);
  } finally {
    acknowledge();
    await stop();
  }
});
