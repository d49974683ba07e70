import assert from "node:assert/strict";
import { test } from "node:test";
import type { Order } from "../../domain/order";
import { fromStored, orderFromStored, toStored } from "../../lib/stored-order";
import { pendingOrder } from "../helpers/orders";

test("an order's outbox is stored as one string and read back as the same entries", () => {
  const order = pendingOrder("stored-1", "sku-1", 1200);
  const stored = toStored(order);
  assert.equal(typeof stored.outbox, "string");
  assert.deepEqual(JSON.parse(stored.outbox as string), order.outbox);
  assert.deepEqual(fromStored(stored), order);
  assert.equal(order.outbox.length, 1, "the order itself is not changed");
});

test("partial writes encode the outbox only when they carry one", () => {
  const release: Partial<Order> = { stockHeld: false };
  const emptied: Partial<Order> = { outbox: [], outboxPending: 0 };
  assert.deepEqual(toStored(release), { stockHeld: false });
  assert.equal(toStored(emptied).outbox, "[]");
});

test("an order stored before the outbox became a string is read as it is", () => {
  const order = pendingOrder("stored-legacy", "sku-1", 1300);
  assert.deepEqual(orderFromStored(order), order);
  assert.equal(orderFromStored(null), null);
});
