// Publication marks (the relay's "these events are on Kafka") are written with the order's next
// write or alone after markDelayMs. None may be held for ever: marks that arrive while a flush is
// running get a flush of their own, and marks that cannot be written are dropped (their events
// stay in the outbox for the relay sweep; consumers drop duplicates). The mark of OrderCreated
// opens the payment window (publishedAt).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ServiceBroker } from "moleculer";
import type { WriteParams, WriteResult } from "../../contracts/order-store";
import { makeEvent } from "../../domain/events";
import { decide } from "../../domain/place-order.saga";
import { systemSource } from "../../lib/clock";
import { type OrderDocument, type OrderRecord, outboxEntries } from "../../lib/order-record";
import type { PublicationMarks } from "../../lib/publication-marks";
import { orderStoreService } from "../../services/order-store.service";
import { testConfig } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";
import { pendingOrder } from "../helpers/orders";

interface StoreInternals {
  settings: { markDelayMs: number };
  marks: PublicationMarks;
  casUpdate(id: string, version: number, fields: Partial<OrderDocument>): Promise<boolean>;
}

let broker: ServiceBroker;
let store: StoreInternals;

before(async () => {
  broker = new ServiceBroker({ logger: false });
  broker.createService(orderStoreService(testConfig()));
  await broker.start();
  store = broker.getLocalService("order-store") as unknown as StoreInternals;
  (store.marks as unknown as { delayMs: number }).delayMs = 20;
});

after(() => broker.stop());

async function placed(unitPrice: number): Promise<OrderRecord> {
  const record = pendingOrder(`marks-${unitPrice}-${Date.now()}`, "sku-marks", unitPrice);
  await broker.call("order-store.insert", { record });
  return record;
}

const stored = (id: string) =>
  broker.call<OrderRecord | null, object>("order-store.get", { id, fresh: true });
const mark = (id: string, eventIds: string[], publishedAt = new Date().toISOString()) =>
  broker.call("order-store.markPublished", { id, eventIds, publishedAt });

test("marks that cannot be written are dropped, not held; the events stay for the relay sweep", async () => {
  const record = await placed(1100);
  const id = record.order.id;
  const casUpdate = store.casUpdate;
  store.casUpdate = async () => false;
  try {
    await mark(id, [record.outbox[0]!.event.eventId]);
    await eventually(async () => (store.marks.has(id) ? undefined : true), 2_000, 10);
  } finally {
    store.casUpdate = casUpdate;
  }
  const after = await stored(id);
  assert.equal(after?.outbox.length, 1);
  assert.equal(
    after?.order.publishedAt,
    undefined,
    "the payment window is not open while OrderCreated is unmarked",
  );
});

test("a mark that arrives while the order's marks are being written gets written too; OrderCreated's mark opens the payment window", async () => {
  const record = await placed(1200);
  const id = record.order.id;
  const source = systemSource();
  const payment = makeEvent(
    "PaymentSucceeded",
    id,
    { paymentId: "p", amount: 1200, currency: "EUR" },
    source,
  );
  const decision = decide(record.order, { type: "payment", event: payment }, source);
  assert.equal(decision.kind, "apply");
  if (decision.kind !== "apply") return;
  const applied = await broker.call<WriteResult, WriteParams>("order-store.write", {
    current: record,
    change: decision.change,
    queued: outboxEntries(decision.change.events, { correlationId: "c" }),
    at: new Date().toISOString(),
  });
  assert.ok(applied.written);
  const [created, confirmed] = applied.record.outbox.map((e) => e.event.eventId);
  assert.ok(created && confirmed);

  const casUpdate = store.casUpdate;
  let first = true;
  store.casUpdate = async (orderId, version, fields) => {
    if (first) {
      first = false;
      await mark(orderId, [confirmed]);
    }
    return casUpdate.call(store, orderId, version, fields);
  };
  const publishedAt = "2026-01-01T00:00:00.000Z";
  try {
    await mark(id, [created], publishedAt);
    await eventually(async () => ((await stored(id))?.outbox.length === 0 ? true : undefined), 2_000, 10);
  } finally {
    store.casUpdate = casUpdate;
  }
  assert.equal(store.marks.has(id), false);
  assert.equal((await stored(id))?.order.publishedAt, publishedAt);
});
