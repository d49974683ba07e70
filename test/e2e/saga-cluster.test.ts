// The saga end to end on the real servers: two service nodes in separate processes over NATS,
// FerretDB as the store, Kafka between the saga and the payment simulator. Duplicates, reordering,
// poison messages and a SIGKILLed node must leave every accepted order CONFIRMED or CANCELLED,
// consistent with what the payment simulator decided, and nobody charged twice.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Consumer, Producer } from "kafkajs";
import { MongoClient } from "mongodb";
import { isValidOrderEvent } from "../../domain/event-schemas";
import { makeEvent } from "../../domain/events";
import type { KafkaChannel } from "../../lib/channel/kafka-channel";
import { systemSource } from "../../lib/clock";
import type { InventorySimulator } from "../../simulators/http/inventory-service";
import type { PaymentSimulator } from "../../simulators/payment/payment-simulator";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { token } from "../helpers/jwt";
import { startWorld, type World } from "../helpers/world";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;

interface OrderDoc {
  _id: string;
  userId: string;
  status: string;
  reason?: string;
  total: number;
  stockHeld: boolean;
  payments?: { paymentId: string; outcome: string }[];
  outboxPending: number;
}

interface SeenMessage {
  key: string;
  type: string;
  eventId: string;
  headers: Record<string, string>;
  raw: string;
}

describe("saga on the real servers, two nodes", { skip, timeout: 600_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let inventory: InventorySimulator;
  let payment: PaymentSimulator;
  let paymentChannel: KafkaChannel;
  let mongo: MongoClient;
  let producer: Producer;
  let observer: Consumer;
  const orderEvents: SeenMessage[] = [];
  const deadLetters: SeenMessage[] = [];
  const tokens = new Map<string, string>();

  const tokenFor = async (userId: string) => {
    if (!tokens.has(userId)) tokens.set(userId, await token(userId));
    return tokens.get(userId)!;
  };

  async function place(nodeName: string, userId: string, unitPrice: number, key?: string) {
    const node = cluster.nodes.get(nodeName)!;
    return call<{ id: string; status: string }>(node.url, "POST", "/api/v1/orders", {
      token: await tokenFor(userId),
      body: { currency: "EUR", items: [{ productId: `sku-${unitPrice % 7}`, quantity: 1, unitPrice }] },
      headers: key ? { "Idempotency-Key": key } : {},
    });
  }

  /** The headers every payment message must carry (docs/asyncapi.yaml). */
  const paymentHeaders = (type: string) => ({
    "event-type": type,
    "content-type": "application/json",
    "correlation-id": `${cluster.id}-test`,
  });

  const orders = () => mongo.db().collection("orders");
  const findOrder = async (id: string) => (await orders().findOne({ _id: id })) as unknown as OrderDoc | null;
  const settled = (id: string, timeoutMs = 30_000) =>
    eventually(
      async () => {
        const o = await findOrder(id);
        return o &&
          o.status !== "PENDING" &&
          o.outboxPending === 0 &&
          !o.stockHeld === (o.status !== "CONFIRMED")
          ? o
          : undefined;
      },
      timeoutMs,
      100,
    );

  before(async () => {
    if ("skip" in env) return;
    world = await startWorld(
      env,
      { failureRate: 0, failCents: [13], noReplyCents: [77], latencyMs: 0 },
      { paymentTimeoutMs: 8_000 },
    );
    ({ cluster, inventory, payment, paymentChannel } = world);

    const kafka = cluster.kafka();
    producer = kafka.producer();
    await producer.connect();
    observer = kafka.consumer({ groupId: `${cluster.id}-observer` });
    await observer.connect();
    await observer.subscribe({
      topics: [cluster.topics.orderEvents, cluster.topics.paymentDeadLetters],
      fromBeginning: true,
    });
    await observer.run({
      eachMessage: async ({ topic, message }) => {
        const raw = message.value?.toString() ?? "";
        const headers = Object.fromEntries(
          Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
        );
        let parsed: { type?: string; eventId?: string } = {};
        try {
          parsed = JSON.parse(raw);
        } catch {
          // poison, kept raw
        }
        const seen = {
          key: message.key?.toString() ?? "",
          type: parsed.type ?? "",
          eventId: parsed.eventId ?? "",
          headers,
          raw,
        };
        (topic === cluster.topics.orderEvents ? orderEvents : deadLetters).push(seen);
      },
    });

    await Promise.all([cluster.startNode("a"), cluster.startNode("b")]);
    mongo = await MongoClient.connect(cluster.mongoUrl, { useUnifiedTopology: true });
  });

  after(async () => {
    if ("skip" in env) return;
    await observer?.disconnect();
    await producer?.disconnect();
    await mongo
      ?.db()
      .dropDatabase()
      .catch(() => undefined);
    await mongo?.close();
    await world?.stop();
  });

  test("happy path, payment failure and deadline, with the trace headers on Kafka", async () => {
    const ok = await place("a", "alice", 2500);
    const failed = await place("b", "alice", 1013);
    const silent = await place("a", "alice", 1077);
    assert.deepEqual([ok.status, failed.status, silent.status], [202, 202, 202]);
    assert.equal((await settled(ok.body.id)).status, "CONFIRMED");
    const f = await settled(failed.body.id);
    assert.equal(f.status, "CANCELLED");
    assert.equal(f.reason, "payment-failed");
    const s = await settled(silent.body.id);
    assert.equal(s.status, "CANCELLED");
    assert.equal(s.reason, "payment-deadline");
    for (const id of [failed.body.id, silent.body.id]) {
      assert.equal(inventory.reservations().find((r) => r.reservationId === id)?.status, "RELEASED");
    }
    const created = await eventually(async () =>
      orderEvents.find((m) => m.key === ok.body.id && m.type === "OrderCreated"),
    );
    assert.ok(created.headers["correlation-id"], "correlation id travels in headers");
    assert.equal(created.headers["content-type"], "application/json");
    await eventually(async () =>
      orderEvents.find((m) => m.key === ok.body.id && m.type === "OrderConfirmed"),
    );
    await eventually(async () =>
      orderEvents.find((m) => m.key === silent.body.id && m.type === "OrderCancelled"),
    );
    // What went out on Kafka is what docs/asyncapi.yaml describes, with the trace context.
    for (const m of orderEvents.filter((e) => [ok.body.id, failed.body.id, silent.body.id].includes(e.key))) {
      assert.ok(isValidOrderEvent(JSON.parse(m.raw)), `${m.type} matches its AsyncAPI schema`);
      assert.match(
        m.headers.traceparent ?? "",
        /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/,
        "trace context in the headers",
      );
    }
  });

  test("duplicate and reordered payment events change nothing; a late success after cancel asks for a refund", async () => {
    const placed = await place("a", "bob", 4200);
    const confirmed = await settled(placed.body.id);
    assert.equal(confirmed.status, "CONFIRMED");
    const ledger = payment.ledger().find((e) => e.orderId === placed.body.id)!;
    const duplicate = makeEvent(
      "PaymentSucceeded",
      placed.body.id,
      {
        paymentId: ledger.paymentId!,
        amount: 4200,
        currency: "EUR",
      },
      systemSource(),
    );
    const lateFailure = makeEvent(
      "PaymentFailed",
      placed.body.id,
      {
        reason: "late",
        amount: 4200,
        currency: "EUR",
      },
      systemSource(),
    );
    await producer.send({
      topic: cluster.topics.paymentEvents,
      messages: [duplicate, duplicate, lateFailure].map((e) => ({
        key: e.orderId,
        value: JSON.stringify(e),
        headers: paymentHeaders(e.type),
      })),
    });

    const cancelled = await place("b", "bob", 3377);
    const c = await settled(cancelled.body.id);
    assert.equal(c.reason, "payment-deadline");
    const late = makeEvent(
      "PaymentSucceeded",
      cancelled.body.id,
      {
        paymentId: "pay-late",
        amount: 3377,
        currency: "EUR",
      },
      systemSource(),
    );
    await producer.send({
      topic: cluster.topics.paymentEvents,
      messages: [late, late].map((e) => ({
        key: e.orderId,
        value: JSON.stringify(e),
        headers: paymentHeaders(e.type),
      })),
    });
    const refund = await eventually(async () =>
      orderEvents.find((m) => m.key === cancelled.body.id && m.type === "RefundRequested"),
    );
    assert.ok(refund);

    // Let the consumer pass every message above, then look again.
    await eventually(async () => {
      const lag = await paymentChannel.consumerLag("order-service", cluster.topics.paymentEvents);
      return lag === 0 ? true : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal((await findOrder(placed.body.id))!.status, "CONFIRMED");
    assert.equal((await findOrder(cancelled.body.id))!.status, "CANCELLED");
    assert.equal(
      orderEvents.filter((m) => m.key === placed.body.id && m.type === "OrderConfirmed").length >= 1,
      true,
    );
    assert.equal(
      new Set(
        orderEvents
          .filter((m) => m.key === placed.body.id && m.type === "OrderConfirmed")
          .map((m) => m.eventId),
      ).size,
      1,
      "one OrderConfirmed event (redeliveries keep its eventId)",
    );
    assert.equal(
      new Set(
        orderEvents
          .filter((m) => m.key === cancelled.body.id && m.type === "RefundRequested")
          .map((m) => m.eventId),
      ).size,
      1,
      "one refund requested",
    );
  });

  test("unparsable and schema-invalid messages go to the DLQ with a reason; good ones keep flowing", async () => {
    await producer.send({
      topic: cluster.topics.paymentEvents,
      messages: [
        { key: "poison-1", value: "{not json", headers: paymentHeaders("PaymentFailed") },
        {
          key: "poison-2",
          value: JSON.stringify({ type: "PaymentSucceeded", version: 1, orderId: "poison-2" }),
          headers: paymentHeaders("PaymentSucceeded"),
        },
        {
          key: "poison-3",
          value: JSON.stringify({
            ...makeEvent(
              "PaymentFailed",
              "poison-3",
              { reason: "x", amount: 1, currency: "EUR" },
              systemSource(),
            ),
            version: 7,
          }),
          headers: paymentHeaders("PaymentFailed"),
        },
        {
          key: "ghost",
          value: JSON.stringify(
            makeEvent("PaymentFailed", "ghost", { reason: "x", amount: 1, currency: "EUR" }, systemSource()),
          ),
          headers: paymentHeaders("PaymentFailed"),
        },
      ],
    });
    const after = await place("b", "carol", 1500);
    assert.equal((await settled(after.body.id)).status, "CONFIRMED");
    const reasons = await eventually(async () => {
      const byKey = new Map(deadLetters.map((m) => [m.key, m.headers["dlq-reason"]]));
      return ["poison-1", "poison-2", "poison-3", "ghost"].every((k) => byKey.has(k)) ? byKey : undefined;
    });
    assert.equal(reasons.get("poison-1"), "unparsable-json");
    assert.match(reasons.get("poison-2") ?? "", /schema-invalid/);
    assert.equal(reasons.get("poison-3"), "unsupported-version");
    assert.equal(reasons.get("ghost"), "unknown-order");
    const dlq = deadLetters.find((m) => m.key === "poison-1")!;
    assert.equal(dlq.raw, "{not json");
    assert.equal(dlq.headers["dlq-source-topic"], cluster.topics.paymentEvents);
  });

  test("SIGKILL of a node with sagas in flight: the other node (and the restarted one) finish every saga", async () => {
    payment.setRules({ latencyMs: 1_500 });
    const placed = await Promise.all(
      Array.from({ length: 30 }, (_, i) => place("a", `kill-${i % 3}`, 1000 + (i % 3 === 0 ? 13 : 50 + i))),
    );
    assert.ok(placed.every((r) => r.status === 202));
    await cluster.kill("a", "SIGKILL");
    payment.setRules({ latencyMs: 0 });
    for (const r of placed) {
      const o = await settled(r.body.id, 60_000);
      assert.ok(o.status === "CONFIRMED" || o.status === "CANCELLED");
    }
    await cluster.startNode("a");
    assert.equal((await call(cluster.nodes.get("a")!.url, "GET", "/ready")).status, 200);
  });

  test("a few hundred orders over both nodes: every one terminal, consistent with the payment decisions, none charged twice", async () => {
    const results: { id: string; status: number }[] = [];
    const total = 200;
    const queue = Array.from({ length: total }, (_, i) => i);
    const workers = Array.from({ length: 4 }, async () => {
      for (let i = queue.shift(); i !== undefined; i = queue.shift()) {
        const cents = [13, 77, 5, 42][i % 4]!;
        const args = [`bulk-${i % 10}`, 100 * (i + 1) + cents, `bulk-${cluster.id}-${i}`] as const;
        let res = await place(i % 2 ? "a" : "b", ...args);
        // A client that got a 5xx retries with the same key, after the Retry-After it was given.
        for (let retry = 0; res.status >= 500 && retry < 6; retry++) {
          await new Promise((r) =>
            setTimeout(r, 1000 * Math.min(5, Number(res.headers["retry-after"] ?? 1))),
          );
          res = await place(retry % 2 ? "a" : "b", ...args);
        }
        results.push({ id: res.body.id, status: res.status });
      }
    });
    await Promise.all(workers);
    const accepted = results.filter((r) => r.status === 202 || r.status === 200);
    assert.equal(accepted.length, total, `statuses: ${[...new Set(results.map((r) => r.status))].join(",")}`);
    assert.equal(new Set(accepted.map((r) => r.id)).size, total, "one order per idempotency key");

    const ids = accepted.map((r) => r.id);
    await eventually(
      async () => {
        const pending = await orders().countDocuments({ _id: { $in: ids }, status: "PENDING" });
        return pending === 0 ? true : undefined;
      },
      240_000,
      500,
    );
    const docs = (await orders()
      .find({ _id: { $in: ids } })
      .toArray()) as unknown as OrderDoc[];
    assert.equal(docs.length, total, "nothing lost");
    // A success that arrives after the deadline cancelled the order is refunded, never confirmed.
    const chargedButCancelled = docs.filter(
      (o) =>
        o.status === "CANCELLED" &&
        payment.ledger().some((e) => e.orderId === o._id && e.decision === "succeeded"),
    );
    await eventually(
      async () => {
        const refunded = new Set(
          payment
            .ledger()
            .filter((e) => e.refunded)
            .map((e) => e.orderId),
        );
        return chargedButCancelled.every((o) => refunded.has(o._id)) ? true : undefined;
      },
      180_000,
      500,
    ).catch(async (err: Error) => {
      const refunded = new Set(
        payment
          .ledger()
          .filter((e) => e.refunded)
          .map((e) => e.orderId),
      );
      const missing = chargedButCancelled.filter((o) => !refunded.has(o._id)).slice(0, 5);
      const now = (await orders()
        .find({ _id: { $in: missing.map((o) => o._id) } })
        .toArray()) as unknown as OrderDoc[];
      const seen = orderEvents
        .filter((m) => missing.some((o) => o._id === m.key))
        .map((m) => `${m.key.slice(0, 8)}:${m.type}`);
      const lag = await paymentChannel
        .consumerLag("order-service", cluster.topics.paymentEvents)
        .catch(() => -1);
      throw new Error(
        `${err.message}; lag ${lag}; ${missing.length} of ${chargedButCancelled.length} not refunded: ${JSON.stringify(
          now.map((d) => ({
            id: d._id.slice(0, 8),
            payments: d.payments,
            pending: d.outboxPending,
            reason: d.reason,
          })),
        )}; events ${seen.join(" ")}`,
      );
    });
    const ledger = new Map(payment.ledger().map((e) => [e.orderId, e]));
    let confirmed = 0;
    for (const o of (await orders()
      .find({ _id: { $in: ids } })
      .toArray()) as unknown as OrderDoc[]) {
      const decision = ledger.get(o._id);
      assert.ok(
        !decision || (decision.chargeCount <= 1 && decision.refundCount <= 1),
        `charged at most once: ${o._id}`,
      );
      if (o.status === "CONFIRMED") {
        confirmed++;
        assert.equal(decision?.decision, "succeeded", `confirmed only with a payment: ${o._id}`);
        assert.equal(decision?.refunded, false, `a confirmed order is not refunded: ${o._id}`);
      } else {
        assert.equal(o.status, "CANCELLED");
        if (decision?.decision === "succeeded") {
          assert.ok(
            o.payments?.some((p) => p.outcome !== "confirmed"),
            `a charged, cancelled order asked for its refund: ${o._id}`,
          );
          assert.equal(decision.refunded, true);
        }
      }
    }
    const cents = (o: OrderDoc) => o.total % 100;
    assert.equal(
      docs.filter((o) => cents(o) === 13 || cents(o) === 77).every((o) => o.status === "CANCELLED"),
      true,
    );
    console.log(
      `bulk: ${total} accepted, ${confirmed} confirmed, ${total - confirmed} cancelled (${chargedButCancelled.length} paid too late and refunded)`,
    );
    const held = inventory
      .reservations()
      .filter((r) => ids.includes(r.reservationId) && r.status === "RESERVED").length;
    assert.equal(held, confirmed, "stock is held exactly for the confirmed orders");
  });
});
