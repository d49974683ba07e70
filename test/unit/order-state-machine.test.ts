import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { makeEvent } from "../../domain/events";
import {
  applyChange,
  type Command,
  checkNewOrder,
  createOrder,
  decide,
  isSettled,
  type Order,
  orderIdFor,
  requestHash,
  toView,
} from "../../domain/order";
import { countsForBreaker } from "../../domain/resilience";

const input = {
  currency: "EUR",
  items: [
    { productId: "sku-1", quantity: 2, unitPrice: 1250 },
    { productId: "sku-2", quantity: 1, unitPrice: 999 },
  ],
};

function pending(overrides: Partial<Order> = {}): Order {
  const order = createOrder(input, {
    orderId: "order-1",
    userId: "alice",
    userVerified: true,
    correlationId: "corr-1",
    paymentTimeoutMs: 30_000,
    now: new Date("2026-01-01T00:00:00Z"),
  });
  return { ...order, outbox: [], outboxPending: 0, ...overrides };
}

const trace = { correlationId: "corr-1" };

function succeeded(order: Order, amount = order.total) {
  return makeEvent("PaymentSucceeded", order._id, { paymentId: "pay-1", amount, currency: order.currency });
}

describe("new orders", () => {
  test("total is computed server-side in minor units and the OrderCreated event sits in the outbox", () => {
    const order = createOrder(input, {
      orderId: "o",
      userId: "alice",
      userVerified: false,
      correlationId: "c",
      paymentTimeoutMs: 1000,
      now: new Date("2026-01-01T00:00:00Z"),
    });
    assert.equal(order.total, 2 * 1250 + 999);
    assert.equal(order.status, "PENDING");
    assert.equal(order.userVerified, false);
    assert.equal(order.paymentDeadline, "2026-01-01T00:00:01.000Z");
    assert.equal(order.outbox.length, 1);
    assert.equal(order.outbox[0]?.event.type, "OrderCreated");
    assert.equal(order.outboxPending, 1);
    assert.deepEqual(order.history, [{ from: null, to: "PENDING", at: "2026-01-01T00:00:00.000Z" }]);
  });

  test("validation refuses bad currencies, quantities, prices, duplicates and item counts", () => {
    assert.deepEqual(checkNewOrder(input), []);
    const problems = checkNewOrder({
      currency: "XXX",
      items: [
        { productId: "a", quantity: 0, unitPrice: 1 },
        { productId: "a", quantity: 1.5, unitPrice: -1 },
      ],
    });
    const fields = problems.map((p) => p.field);
    assert.ok(fields.includes("currency"));
    assert.ok(fields.includes("items[0].quantity"));
    assert.ok(fields.includes("items[1].quantity"));
    assert.ok(fields.includes("items[1].unitPrice"));
    assert.ok(fields.includes("items[1].productId"));
    assert.ok(checkNewOrder({ currency: "EUR", items: [] }).some((p) => p.field === "items"));
    const tooMany = Array.from({ length: 101 }, (_, i) => ({
      productId: `p${i}`,
      quantity: 1,
      unitPrice: 1,
    }));
    assert.ok(checkNewOrder({ currency: "EUR", items: tooMany }).some((p) => p.field === "items"));
  });

  test("an idempotency key derives the same id for the same user only", () => {
    const random = () => "random";
    assert.equal(orderIdFor("alice", "k1", random), orderIdFor("alice", "k1", random));
    assert.notEqual(orderIdFor("alice", "k1", random), orderIdFor("bob", "k1", random));
    assert.notEqual(orderIdFor("alice", "k1", random), orderIdFor("alice", "k2", random));
    assert.equal(orderIdFor("alice", undefined, random), "random");
    assert.match(
      orderIdFor("alice", "k1", random),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  test("the request hash tells a replay from a different body", () => {
    assert.equal(requestHash(input), requestHash(structuredClone(input)));
    assert.notEqual(requestHash(input), requestHash({ ...input, currency: "USD" }));
  });

  test("the client view carries no outbox or bookkeeping", () => {
    const view = toView(pending()) as unknown as Record<string, unknown>;
    for (const hidden of ["outbox", "outboxPending", "seenEventIds", "requestHash", "_id", "stockHeld"]) {
      assert.equal(view[hidden], undefined, hidden);
    }
    assert.equal(view.id, "order-1");
  });
});

describe("payment results", () => {
  test("success confirms a pending order once, with OrderConfirmed", () => {
    const order = pending();
    const event = succeeded(order);
    const d = decide(order, { type: "payment", event });
    assert.equal(d.kind, "apply");
    if (d.kind !== "apply") return;
    assert.equal(d.change.status, "CONFIRMED");
    assert.equal(d.change.releaseStock, false);
    assert.deepEqual(
      d.change.events.map((e) => e.type),
      ["OrderConfirmed"],
    );
    const next = applyChange(order, d.change, trace, new Date());
    assert.equal(next.status, "CONFIRMED");
    assert.equal(next.version, order.version + 1);
    assert.equal(next.outboxPending, 1);
    assert.deepEqual(decide(next, { type: "payment", event }), { kind: "ignore", why: "duplicate" });
  });

  test("failure cancels and releases stock; terminal states stay terminal", () => {
    const order = pending();
    const failed = makeEvent("PaymentFailed", order._id, {
      reason: "card declined",
      amount: order.total,
      currency: "EUR",
    });
    const d = decide(order, { type: "payment", event: failed });
    assert.equal(d.kind, "apply");
    if (d.kind !== "apply") return;
    assert.equal(d.change.status, "CANCELLED");
    assert.equal(d.change.reason, "payment-failed");
    assert.equal(d.change.releaseStock, true);
    const cancelled = applyChange(order, d.change, trace, new Date());
    assert.deepEqual(
      cancelled.history.map((h) => h.to),
      ["PENDING", "CANCELLED"],
    );
    const again = makeEvent("PaymentFailed", order._id, {
      reason: "x",
      amount: order.total,
      currency: "EUR",
    });
    assert.deepEqual(decide(cancelled, { type: "payment", event: again }), {
      kind: "ignore",
      why: "already-terminal",
    });
  });

  test("a late success after cancellation asks for a refund, once, never a confirmation", () => {
    const cancelled = {
      ...pending(),
      status: "CANCELLED" as const,
      reason: "payment-deadline",
      stockHeld: false,
    };
    const d = decide(cancelled, { type: "payment", event: succeeded(cancelled) });
    assert.equal(d.kind, "apply");
    if (d.kind !== "apply") return;
    assert.equal(d.change.status, undefined);
    assert.deepEqual(
      d.change.events.map((e) => e.type),
      ["RefundRequested"],
    );
    const refunded = applyChange(cancelled, d.change, trace, new Date());
    assert.equal(refunded.status, "CANCELLED");
    assert.ok(refunded.refund);
    const second = decide(refunded, { type: "payment", event: succeeded(cancelled) });
    assert.deepEqual(second, { kind: "ignore", why: "already-refunded" });
  });

  test("a success for the wrong amount or currency is rejected", () => {
    const order = pending();
    assert.deepEqual(decide(order, { type: "payment", event: succeeded(order, order.total + 1) }), {
      kind: "reject",
      why: "amount-mismatch",
    });
  });

  test("success after confirmation (another event id) is ignored", () => {
    const confirmed = { ...pending(), status: "CONFIRMED" as const };
    assert.deepEqual(decide(confirmed, { type: "payment", event: succeeded(confirmed) }), {
      kind: "ignore",
      why: "already-terminal",
    });
  });

  test("a failure that arrives after a success (reordered) changes nothing", () => {
    const confirmed = { ...pending(), status: "CONFIRMED" as const };
    const failed = makeEvent("PaymentFailed", confirmed._id, {
      reason: "late",
      amount: confirmed.total,
      currency: "EUR",
    });
    assert.deepEqual(decide(confirmed, { type: "payment", event: failed }), {
      kind: "ignore",
      why: "already-terminal",
    });
  });
});

describe("deadlines and cancellation", () => {
  test("the deadline cancels only once due, and only pending orders", () => {
    const order = pending();
    const before = new Date(Date.parse(order.paymentDeadline) - 1);
    const after = new Date(Date.parse(order.paymentDeadline) + 1);
    assert.deepEqual(decide(order, { type: "deadline", now: before }), { kind: "ignore", why: "not-due" });
    const d = decide(order, { type: "deadline", now: after });
    assert.equal(d.kind === "apply" && d.change.reason, "payment-deadline");
    const confirmed = { ...order, status: "CONFIRMED" as const };
    assert.deepEqual(decide(confirmed, { type: "deadline", now: after }), {
      kind: "ignore",
      why: "already-terminal",
    });
  });

  test("only the owner cancels, and only a pending order", () => {
    const order = pending();
    const now = new Date();
    assert.deepEqual(decide(order, { type: "cancel", by: "owner", userId: "mallory", now }), {
      kind: "reject",
      why: "not-owner",
    });
    const d = decide(order, { type: "cancel", by: "owner", userId: "alice", now });
    assert.equal(d.kind === "apply" && d.change.reason, "owner-cancelled");
    const confirmed = { ...order, status: "CONFIRMED" as const };
    assert.deepEqual(decide(confirmed, { type: "cancel", by: "owner", userId: "alice", now }), {
      kind: "reject",
      why: "not-pending",
    });
  });

  test("a settled (confirmed) order takes no change from any command: its last mark skips the version read", () => {
    const confirmedOrder = (() => {
      const d = decide(pending(), { type: "payment", event: succeeded(pending()) });
      assert.equal(d.kind, "apply");
      return applyChange(pending(), (d as Extract<typeof d, { kind: "apply" }>).change, trace, new Date());
    })();
    assert.ok(isSettled(confirmedOrder));
    assert.ok(!isSettled(pending()) && !isSettled(pending({ status: "CANCELLED" })));
    const later = new Date(Date.parse(confirmedOrder.paymentDeadline) + 60_000);
    const { _id: id, total: amount } = confirmedOrder;
    const commands: Command[] = [
      { type: "deadline", now: later },
      { type: "cancel", by: "owner", userId: "alice", now: later },
      { type: "cancel", by: "operator", now: later },
      { type: "payment", event: succeeded(confirmedOrder) },
      { type: "payment", event: succeeded(confirmedOrder, 1) },
      {
        type: "payment",
        event: makeEvent("PaymentFailed", id, { reason: "declined", amount, currency: "EUR" }),
      },
      {
        type: "payment",
        event: makeEvent("PaymentRefunded", id, { paymentId: "pay-2", amount, currency: "EUR" }),
      },
    ];
    for (const command of commands) assert.notEqual(decide(confirmedOrder, command).kind, "apply");
  });

  test("seen event ids stay bounded", () => {
    let order = pending({ status: "CANCELLED", refund: { paymentId: "p", requestedAt: "x" } });
    for (let i = 0; i < 100; i++) {
      const refunded = makeEvent("PaymentRefunded", order._id, {
        paymentId: "p",
        amount: 1,
        currency: "EUR",
      });
      order = { ...order, refund: { paymentId: "p", requestedAt: "x" } };
      const d = decide(order, { type: "payment", event: refunded });
      if (d.kind === "apply") order = applyChange(order, d.change, trace, new Date());
    }
    assert.ok(order.seenEventIds.length <= 32);
  });
});

describe("what opens a circuit", () => {
  test("dependency failures and proxy timeouts count; store timeouts and client errors do not", () => {
    assert.equal(countsForBreaker({ type: "DEPENDENCY_UNAVAILABLE", code: 503 }), true);
    assert.equal(countsForBreaker({ type: "DEPENDENCY_FAULT", code: 502 }), true);
    assert.equal(
      countsForBreaker({ name: "RequestTimeoutError", data: { action: "inventory-proxy.reserve" } }),
      true,
    );
    assert.equal(
      countsForBreaker({ name: "RequestTimeoutError", data: { action: "orders.applyChange" } }),
      false,
    );
    assert.equal(countsForBreaker({ type: "INSUFFICIENT_STOCK", code: 409 }), false);
    assert.equal(countsForBreaker({ name: "MoleculerError", code: 500 }), false);
    assert.equal(countsForBreaker(null), false);
  });
});
