// Our own outage must not eat the payment service's time: orders accepted (202) while Kafka is
// down for longer than PAYMENT_TIMEOUT_MS are not cancelled before their OrderCreated reached
// Kafka; once it has, the payment service answers and they are confirmed. Verdict from the store
// and the orders.events log.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Consumer } from "kafkajs";
import { MongoClient } from "mongodb";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { infra, restartSkip } from "../helpers/infra-script";
import { token } from "../helpers/jwt";
import { startWorld, type World } from "../helpers/world";

const env = infraEnv();
const skip = restartSkip(env);
const TIMEOUT_MS = 4_000;
interface OrderDoc {
  _id: string;
  status: string;
  publishedAt?: string;
  history: { at: string }[];
  payments?: { outcome: string }[];
}

describe("the payment window during a Kafka outage", { skip, timeout: 300_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let mongo: MongoClient;
  let observer: Consumer;
  const seen: { key: string; type: string }[] = [];

  before(async () => {
    if ("skip" in env) return;
    world = await startWorld(env, { failureRate: 0, latencyMs: 0 }, { paymentTimeoutMs: TIMEOUT_MS });
    cluster = world.cluster;
    await cluster.startNode("a");
    mongo = await MongoClient.connect(cluster.mongoUrl, { useUnifiedTopology: true });
    observer = cluster.kafka().consumer({ groupId: `${cluster.id}-window-observer` });
    await observer.connect();
    await observer.subscribe({ topics: [cluster.topics.orderEvents], fromBeginning: true });
    await observer.run({
      eachMessage: async ({ message }) => {
        const body = JSON.parse(message.value?.toString() ?? "{}") as { type?: string };
        seen.push({ key: message.key?.toString() ?? "", type: body.type ?? "" });
      },
    });
  });

  after(async () => {
    if ("skip" in env) return;
    await observer?.disconnect().catch(() => undefined);
    await mongo?.close();
    await world?.stop();
  });

  test("orders accepted while Kafka is down longer than the payment timeout wait for the payment service to see them", async () => {
    const tok = await token("window");
    infra("stop", "kafka");
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const res = await call<{ id: string }>(cluster.nodes.get("a")!.url, "POST", "/api/v1/orders", {
          token: tok,
          body: { currency: "EUR", items: [{ productId: `win-${i}`, quantity: 1, unitPrice: 2000 + i }] },
        });
        assert.equal(res.status, 202, "accepted without Kafka: the outbox holds the event");
        ids.push(res.body.id);
      }
      await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2));
      const docs = await mongo
        .db()
        .collection("orders")
        .find({ _id: { $in: ids as never[] } })
        .toArray();
      assert.deepEqual(
        docs.map((d) => d.status),
        ids.map(() => "PENDING"),
        "past their deadline, but the payment service has not seen them yet",
      );
    } finally {
      infra("start", "kafka");
    }
    // Then each order had its whole window after its OrderCreated reached Kafka: confirmed, or
    // (the payment service's own consumer recovering from the same outage) cancelled no sooner
    // than the window after publication, and its late payment refunded.
    const settled = await eventually(
      async () => {
        const docs = (await mongo
          .db()
          .collection("orders")
          .find({ _id: { $in: ids as never[] } })
          .toArray()) as unknown as OrderDoc[];
        const done = docs.filter(
          (d) => d.status === "CONFIRMED" || (d.status === "CANCELLED" && d.payments?.length),
        );
        return done.length === ids.length ? docs : undefined;
      },
      90_000,
      500,
    );
    for (const d of settled) {
      assert.ok(d.publishedAt, `${d._id} was published`);
      if (d.status !== "CANCELLED") continue;
      const cancelledAt = Date.parse(d.history.at(-1)!.at);
      const publishedAt = Date.parse(d.publishedAt!);
      assert.ok(
        cancelledAt >= publishedAt + TIMEOUT_MS,
        `${d._id} cancelled ${cancelledAt - publishedAt} ms after its OrderCreated reached Kafka`,
      );
      assert.ok(
        ["refund-requested", "refunded"].includes(d.payments?.[0]?.outcome ?? ""),
        "its late payment is given back",
      );
    }
    await eventually(async () =>
      ids.every((id) => seen.some((m) => m.key === id && m.type === "OrderCreated")) ? true : undefined,
    );
  });
});
