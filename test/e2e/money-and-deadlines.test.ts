// The money rule and durable deadlines, end to end on the real servers (one node in its own
// process, FerretDB, Kafka, the payment simulator): every captured payment confirms its order or
// is refunded, once per paymentId, whatever the state and the order of arrival; a node that
// stops and starts again enforces the deadlines of the orders it owns on time. Verdicts read
// the orders.events log and the store, not the service's own view.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Consumer, Producer } from "kafkajs";
import { MongoClient } from "mongodb";
import { makeEvent } from "../../domain/events";
import { systemSource } from "../../lib/clock";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { token } from "../helpers/jwt";
import { startWorld, type World } from "../helpers/world";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;
const TIMEOUT_MS = 6_000;

interface Seen {
  key: string;
  type: string;
  payload: Record<string, unknown>;
}

describe("money and deadlines on the real servers", { skip, timeout: 300_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let mongo: MongoClient;
  let producer: Producer;
  let observer: Consumer;
  let tok: string;
  const events: Seen[] = [];

  async function place(unitPrice: number) {
    const res = await call<{ id: string; status: string }>(
      cluster.nodes.get("a")!.url,
      "POST",
      "/api/v1/orders",
      {
        token: tok,
        body: { currency: "EUR", items: [{ productId: `sku-m${unitPrice % 5}`, quantity: 1, unitPrice }] },
      },
    );
    assert.equal(res.status, 202);
    return res.body.id;
  }
  const stored = (id: string) =>
    mongo
      .db()
      .collection("orders")
      .findOne({ _id: id as never }) as Promise<{
      status: string;
      reason?: string;
      paymentDeadline: string;
      history: { to: string; at: string }[];
      payments: { paymentId: string; outcome: string; refundReason?: string }[];
    } | null>;
  const status = (id: string, wanted: string, timeoutMs = 30_000) =>
    eventually(async () => ((await stored(id))?.status === wanted ? stored(id) : undefined), timeoutMs, 100);
  const pay = (orderId: string, paymentId: string, amount: number, currency = "EUR") =>
    producer.send({
      topic: cluster.topics.paymentEvents,
      messages: [
        {
          key: orderId,
          value: JSON.stringify(
            makeEvent("PaymentSucceeded", orderId, { paymentId, amount, currency }, systemSource()),
          ),
          headers: { "event-type": "PaymentSucceeded", "content-type": "application/json" },
        },
      ],
    });
  const refundsOf = (orderId: string) =>
    events.filter((e) => e.key === orderId && e.type === "RefundRequested").map((e) => e.payload);

  before(async () => {
    if ("skip" in env) return;
    // Totals ending in 77 get no answer: their deadline cancels them.
    world = await startWorld(
      env,
      { failureRate: 0, noReplyCents: [77], latencyMs: 0 },
      { paymentTimeoutMs: TIMEOUT_MS },
    );
    cluster = world.cluster;
    await cluster.startNode("a");
    mongo = await MongoClient.connect(cluster.mongoUrl, { useUnifiedTopology: true });
    const kafka = cluster.kafka();
    producer = kafka.producer();
    await producer.connect();
    observer = kafka.consumer({ groupId: `${cluster.id}-money-observer` });
    await observer.connect();
    await observer.subscribe({ topics: [cluster.topics.orderEvents], fromBeginning: true });
    await observer.run({
      eachMessage: async ({ message }) => {
        const body = JSON.parse(message.value?.toString() ?? "{}") as {
          type: string;
          payload: Record<string, unknown>;
        };
        events.push({ key: message.key?.toString() ?? "", type: body.type, payload: body.payload });
      },
    });
    tok = await token("mona");
  });

  after(async () => {
    if ("skip" in env) return;
    await observer?.disconnect();
    await producer?.disconnect();
    await mongo?.close();
    await world?.stop();
  });

  test("a second, different payment for a CONFIRMED order is refunded (already-paid), once", async () => {
    const id = await place(4200);
    await status(id, "CONFIRMED");
    await pay(id, "extra-1", 4200);
    await pay(id, "extra-1", 4200);
    const refunds = await eventually(async () => (refundsOf(id).length > 0 ? refundsOf(id) : undefined));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(refundsOf(id).length, 1, "refunded once per paymentId");
    assert.deepEqual(
      { paymentId: refunds[0]?.paymentId, reason: refunds[0]?.reason, amount: refunds[0]?.amount },
      { paymentId: "extra-1", reason: "already-paid", amount: 4200 },
    );
    assert.equal((await stored(id))?.status, "CONFIRMED");
  });

  test("every late payment on a CANCELLED order is refunded, whatever its amount; a wrong currency on a PENDING one too", async () => {
    const id = await place(3377);
    await status(id, "CANCELLED", TIMEOUT_MS + 20_000);
    await pay(id, "late-1", 3377);
    await pay(id, "late-2", 3377);
    await pay(id, "late-3", 99);
    await eventually(async () => (refundsOf(id).length === 3 ? true : undefined));
    assert.deepEqual(
      refundsOf(id)
        .map((r) => [r.paymentId, r.reason, r.amount])
        .sort(),
      [
        ["late-1", "order-cancelled", 3377],
        ["late-2", "order-cancelled", 3377],
        ["late-3", "order-cancelled", 99],
      ],
    );

    const pending = await place(2577);
    await pay(pending, "usd-1", 2577, "USD");
    const refund = await eventually(async () => refundsOf(pending)[0]);
    assert.equal(refund.reason, "currency-mismatch");
    assert.equal((await stored(pending))?.status, "PENDING", "still waiting for a right payment");
  });

  test("a node that stops and starts again enforces the deadlines it owns on time, not at the next sweep", async () => {
    const id = await place(1177);
    const deadline = Date.parse((await stored(id))!.paymentDeadline);
    await new Promise((r) => setTimeout(r, 1_000));
    await cluster.kill("a", "SIGTERM");
    await new Promise((r) => setTimeout(r, 3_000));
    await cluster.startNode("a");
    const cancelled = await status(id, "CANCELLED", TIMEOUT_MS + 20_000);
    assert.equal(cancelled?.reason, "payment-deadline");
    const at = Date.parse(cancelled!.history.at(-1)!.at);
    assert.ok(
      at - deadline < 3_000,
      `cancelled ${at - deadline} ms after its deadline (the sweep comes every 5 min)`,
    );
  });
});
