// Publication marks (the relay's "these events are on Kafka") are written with the order's next
// write or alone after markDelayMs. None may be held for ever: marks that arrive while a flush is
// running get a flush of their own, and marks that cannot be written are dropped (their events
// stay in the outbox for the relay sweep; consumers drop duplicates).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ServiceBroker } from "moleculer";
import { makeEvent } from "../../domain/events";
import { decide, type Order } from "../../domain/order";
import { ordersService } from "../../services/orders.service";
import { testConfig } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";
import { pendingOrder } from "../helpers/orders";

interface OrdersInternals {
  settings: { markDelayMs: number };
  pendingMarks: Map<string, unknown>;
  casUpdate(id: string, version: number, fields: Partial<Order>): Promise<boolean>;
}

let broker: ServiceBroker;
let orders: OrdersInternals;

before(async () => {
  broker = new ServiceBroker({ logger: false });
  broker.createService(ordersService(testConfig()));
  await broker.start();
  orders = broker.getLocalService("orders") as unknown as OrdersInternals;
  orders.settings.markDelayMs = 20;
});

after(() => broker.stop());

async function placed(unitPrice: number): Promise<Order> {
  const order = pendingOrder(`marks-${unitPrice}-${Date.now()}`, "sku-marks", unitPrice);
  await broker.call("orders.insertNew", { order });
  return order;
}

const stored = (id: string) => broker.call<Order | null, object>("orders.get", { id, fresh: true });

test("marks that cannot be written are dropped, not held; the events stay for the relay sweep", async () => {
  const order = await placed(1100);
  const casUpdate = orders.casUpdate;
  orders.casUpdate = async () => false;
  try {
    await broker.call("orders.markPublished", { id: order._id, eventIds: [order.outbox[0]!.event.eventId] });
    await eventually(async () => (orders.pendingMarks.has(order._id) ? undefined : true), 2_000, 10);
  } finally {
    orders.casUpdate = casUpdate;
  }
  assert.equal((await stored(order._id))?.outboxPending, 1);
});

test("a mark that arrives while the order's marks are being written gets written too", async () => {
  const order = await placed(1200);
  const payment = makeEvent("PaymentSucceeded", order._id, { paymentId: "p", amount: 1200, currency: "EUR" });
  const decision = decide(order, { type: "payment", event: payment });
  assert.equal(decision.kind, "apply");
  if (decision.kind !== "apply") return;
  const applied = await broker.call<{ applied: boolean; order: Order }, object>("orders.applyChange", {
    current: order,
    change: decision.change,
    trace: { correlationId: "c" },
  });
  const [created, confirmed] = applied.order.outbox.map((e) => e.event.eventId);
  assert.ok(created && confirmed);

  const casUpdate = orders.casUpdate;
  let first = true;
  orders.casUpdate = async (id, version, fields) => {
    if (first) {
      first = false;
      await broker.call("orders.markPublished", { id, eventIds: [confirmed] });
    }
    return casUpdate.call(orders, id, version, fields);
  };
  try {
    await broker.call("orders.markPublished", { id: order._id, eventIds: [created] });
    await eventually(
      async () => ((await stored(order._id))?.outboxPending === 0 ? true : undefined),
      2_000,
      10,
    );
  } finally {
    orders.casUpdate = casUpdate;
  }
  assert.equal(orders.pendingMarks.has(order._id), false);
});

test("an order stored with its outbox as an array (before it became a string) is swept, marked and rewritten", async () => {
  const order = pendingOrder(`legacy-${Date.now()}`, "sku-legacy", 1400);
  const adapter = (orders as unknown as { adapter: { insert(doc: unknown): Promise<unknown> } }).adapter;
  await adapter.insert({ ...order });
  const pending = await broker.call<Order[], object>("orders.withPendingOutbox", { limit: 1000 });
  const found = pending.find((o) => o._id === order._id);
  assert.deepEqual(found?.outbox, order.outbox, "read back as entries");
  await broker.call("orders.markPublished", { id: order._id, eventIds: [order.outbox[0]!.event.eventId] });
  await eventually(
    async () => ((await stored(order._id))?.outboxPending === 0 ? true : undefined),
    2_000,
    10,
  );
  const raw = (await (
    orders as unknown as { adapter: { findOne(q: object): Promise<{ outbox: unknown }> } }
  ).adapter.findOne({ _id: order._id })) as { outbox: unknown };
  assert.equal(raw.outbox, "[]", "written back as a string");
});
