// Issue 2's smoke tests, through the project's own code, against the real servers:
// Kafka (KafkaChannel), FerretDB (the orders service on moleculer-db's Mongo adapter) and NATS
// (nodes in separate processes that find each other, with fail-over when one is killed).
import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Kafka, logLevel } from "kafkajs";
import { ServiceBroker } from "moleculer";
import { MongoClient } from "mongodb";
import { makeEvent } from "../../domain/events";
import { createOrder, decide, type Order } from "../../domain/order";
import { KafkaChannel } from "../../lib/channel/kafka-channel";
import { type ReceivedMessage, topicNames } from "../../lib/channel/types";
import { loadConfig } from "../../lib/config";
import {
  type ApplyChangeParams,
  type ApplyResult,
  type InsertResult,
  ordersService,
} from "../../services/orders.service";
import { infraEnv, uniqueName, withDatabase } from "../helpers/env";
import { eventually } from "../helpers/http";
import { pendingOrder } from "../helpers/orders";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;

describe("Kafka through KafkaChannel", { skip }, () => {
  const prefix = `${uniqueName("smoke")}.`;
  const topics = topicNames(prefix);
  let kafka: Kafka;

  before(async () => {
    if ("skip" in env) return;
    kafka = new Kafka({
      clientId: "smoke",
      brokers: env.kafkaBrokers.split(","),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: topics.orderEvents, numPartitions: 3, replicationFactor: 1 }],
    });
    await admin.disconnect();
  });

  after(async () => {
    if ("skip" in env) return;
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topics.orderEvents] }).catch(() => undefined);
    await admin.disconnect();
  });

  test("produces and consumes with headers, commits, and redelivers a message whose handler failed", async () => {
    if ("skip" in env) return;
    const channel = new KafkaChannel({ brokers: env.kafkaBrokers.split(","), clientId: "smoke" });
    await channel.connect();
    const received: ReceivedMessage[] = [];
    let failedOnce = false;
    const sub = await channel.subscribe(
      { groupId: `${prefix}group`, topics: [topics.orderEvents], fromBeginning: true },
      async (m) => {
        if (m.key === "order-2" && !failedOnce) {
          failedOnce = true;
          throw new Error("not yet");
        }
        received.push(m);
      },
    );
    await channel.publish(topics.orderEvents, [
      { key: "order-1", value: JSON.stringify({ n: 1 }), headers: { "correlation-id": "c-1" } },
      { key: "order-2", value: JSON.stringify({ n: 2 }), headers: { traceparent: "00-abc-def-01" } },
    ]);
    await eventually(async () => (received.length >= 2 ? true : undefined), 30_000);
    assert.ok(failedOnce, "the handler failed once");
    const byKey = new Map(received.map((m) => [m.key, m]));
    assert.equal(byKey.get("order-1")?.headers["correlation-id"], "c-1");
    assert.equal(byKey.get("order-2")?.headers.traceparent, "00-abc-def-01");
    assert.deepEqual(JSON.parse(byKey.get("order-2")!.value), { n: 2 });
    assert.equal(received.filter((m) => m.key === "order-2").length, 1);
    await eventually(
      async () =>
        (await channel.consumerLag(`${prefix}group`, topics.orderEvents)) === 0 ? true : undefined,
      15_000,
    );
    assert.equal(channel.health().connected, true);
    await sub.stop();
    await channel.disconnect();
  });
});

describe("FerretDB through the orders service (moleculer-db Mongo adapter)", { skip }, () => {
  let broker: ServiceBroker;
  let mongoUrl: string;

  before(async () => {
    if ("skip" in env) return;
    mongoUrl = withDatabase(env.mongoUrl, uniqueName("smoke"));
    broker = new ServiceBroker({ logger: false, namespace: uniqueName("smoke") });
    broker.createService(ordersService({ ...loadConfig({}), mongoUrl }));
    await broker.start();
  });

  after(async () => {
    if ("skip" in env) return;
    await broker.stop();
    const client = await MongoClient.connect(mongoUrl, { useUnifiedTopology: true });
    await client.db().dropDatabase();
    await client.close();
  });

  test("inserts, finds, updates with a version guard, and refuses a second insert of the same id", async () => {
    if ("skip" in env) return;
    const order = createOrder(
      { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice: 500 }] },
      {
        orderId: uniqueName("o"),
        userId: "alice",
        userVerified: true,
        correlationId: "c",
        paymentTimeoutMs: 60_000,
        now: new Date(),
      },
    );
    const inserted = await broker.call<InsertResult, { order: typeof order }>("orders.insertNew", { order });
    assert.equal(inserted.created, true);
    const again = await broker.call<InsertResult, { order: typeof order }>("orders.insertNew", { order });
    assert.equal(again.created, false);

    const found = await broker.call(
      "orders.getOwn",
      { id: order._id },
      { meta: { user: { id: "alice", roles: [] } } },
    );
    assert.equal((found as { status: string }).status, "PENDING");
    await assert.rejects(
      broker.call("orders.getOwn", { id: order._id }, { meta: { user: { id: "bob", roles: [] } } }),
      {
        code: 404,
      },
    );

    const change = { status: "CONFIRMED" as const, paymentId: "p-1", events: [], releaseStock: false };
    const applied = await broker.call<ApplyResult, ApplyChangeParams>("orders.applyChange", {
      current: order,
      change,
      trace: { correlationId: "c" },
    });
    assert.equal(applied.applied, true);
    const stale = await broker.call<ApplyResult, ApplyChangeParams>("orders.applyChange", {
      current: order,
      change,
      trace: { correlationId: "c" },
    });
    assert.equal(stale.applied, false, "a write guarded by an old version loses");
    const list = (await broker.call(
      "orders.listOwn",
      { status: "CONFIRMED" },
      { meta: { user: { id: "alice", roles: [] } } },
    )) as {
      total: number;
    };
    assert.equal(list.total, 1);
  });

  test("the last publication mark of a confirmed order is written without a version read", async () => {
    if ("skip" in env) return;
    const orders = broker.getLocalService("orders") as unknown as {
      settings: { markDelayMs: number };
      adapter: { collection: { findOne: (...args: unknown[]) => Promise<unknown> } };
    };
    orders.settings.markDelayMs = 20;
    const collection = orders.adapter.collection;
    const findOne = collection.findOne;
    // The owner-checked write's read: the version alone (the test's own reads take whole orders).
    let versionReads = 0;
    collection.findOne = (...args: unknown[]) => {
      if ((args[1] as { projection?: { version?: number } } | undefined)?.projection?.version) versionReads++;
      return findOne.apply(collection, args);
    };
    const stored = () => broker.call<Order, object>("orders.get", { id: order._id, fresh: true });
    const order = pendingOrder(uniqueName("settled"), "sku-2", 700);
    try {
      await broker.call("orders.insertNew", { order });
      const mark = (eventIds: string[]) => broker.call("orders.markPublished", { id: order._id, eventIds });
      versionReads = 0;
      await mark([order.outbox[0]!.event.eventId]);
      await eventually(async () => ((await stored()).outboxPending === 0 ? true : undefined), 5_000, 20);
      assert.equal(versionReads, 1, "a pending order's mark reads the version first");

      const paid = makeEvent("PaymentSucceeded", order._id, {
        paymentId: "p-2",
        amount: 700,
        currency: "EUR",
      });
      const current = await stored();
      const decision = decide(current, { type: "payment", event: paid });
      assert.equal(decision.kind, "apply");
      const applied = await broker.call<ApplyResult, ApplyChangeParams>("orders.applyChange", {
        current,
        change: (decision as Extract<typeof decision, { kind: "apply" }>).change,
        trace: { correlationId: "c" },
      });
      assert.ok(applied.applied && applied.order.status === "CONFIRMED");
      const confirmedEvent = applied.order.outbox.at(-1)!.event;
      assert.equal(confirmedEvent.type, "OrderConfirmed");

      versionReads = 0;
      await mark([confirmedEvent.eventId]);
      await eventually(async () => ((await stored()).outboxPending === 0 ? true : undefined), 5_000, 20);
      const settled = await stored();
      assert.deepEqual(settled.outbox, []);
      assert.equal(settled.version, applied.order.version + 1, "the mark is a write like any other");
      assert.equal(settled.status, "CONFIRMED");
      assert.equal(versionReads, 0, "no version read for the last mark of a confirmed order");
    } finally {
      collection.findOne = findOne;
    }
  });
});

describe("NATS: nodes in separate processes discover each other and fail over", { skip }, () => {
  const namespace = uniqueName("smoke");
  const children: ChildProcess[] = [];
  let caller: ServiceBroker;

  function startEchoNode(nodeID: string): Promise<ChildProcess> {
    if ("skip" in env) throw new Error("unreachable");
    const child = fork(join(__dirname, "..", "fixtures", "echo-node.ts"), [], {
      env: { ...process.env, NATS_URL: env.natsUrl, NAMESPACE: namespace, NODE_ID: nodeID },
      execArgv: ["--import", "tsx"],
      stdio: "ignore",
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      child.once("message", () => resolve(child));
      child.once("exit", (code) => reject(new Error(`echo node exited with ${code}`)));
    });
  }

  before(async () => {
    if ("skip" in env) return;
    caller = new ServiceBroker({
      namespace,
      nodeID: `${namespace}-caller`,
      transporter: { type: "NATS", options: { url: env.natsUrl } },
      logger: false,
      requestTimeout: 2_000,
      retryPolicy: { enabled: true, retries: 3, delay: 100 },
      heartbeatInterval: 1,
      heartbeatTimeout: 3,
    });
    await caller.start();
  });

  after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await caller?.stop();
  });

  test("calls reach both nodes, and keep working after one is SIGKILLed", async () => {
    if ("skip" in env) return;
    await Promise.all([startEchoNode(`${namespace}-a`), startEchoNode(`${namespace}-b`)]);
    await caller.waitForServices("echo", 10_000);
    const seen = new Set<string>();
    await eventually(
      async () => {
        const r = await caller.call<{ nodeID: string }>("echo.who");
        seen.add(r.nodeID);
        return seen.size === 2 ? true : undefined;
      },
      15_000,
      50,
    );

    const victim = children[0]!;
    victim.kill("SIGKILL");
    // Until the heartbeat timeout notices, calls routed to the dead node fail over by retry.
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push((await caller.call<{ nodeID: string }>("echo.who")).nodeID);
    assert.ok(
      answers.every((n) => n === `${namespace}-b`),
      `all answers from the survivor: ${answers.join(",")}`,
    );
  });
});
