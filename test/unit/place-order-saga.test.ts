// The place-order saga as a specification, in the shape of its definition: given an order in a
// state, when a payment event, the deadline, a cancel or the compensation's landing arrives,
// expect this change, these events and (or not) the compensation. Pure: a fixed clock and ids.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type EventSource, makeEvent, type PaymentEvent } from "../../domain/events";
import { checkNewOrder, ORDER_LIMITS as LIMITS, totalProblem } from "../../domain/limits";
import {
  applyChange,
  createOrder,
  type Decision,
  type Order,
  orderIdFor,
  requestHash,
  toView,
} from "../../domain/order";
import { type Command, compensationsOf, decide, placeOrderSaga } from "../../domain/place-order.saga";
import { countsForBreaker } from "../../domain/resilience";

const T0 = Date.parse("2026-01-01T10:00:00.000Z");
let ids = 0;
const at = (ms: number): EventSource => ({ now: new Date(T0 + ms), newId: () => `id-${++ids}` });
const WINDOW = 30_000;

function newOrder(total = 2500, currency = "EUR"): Order {
  return createOrder(
    { currency, items: [{ productId: "sku-1", quantity: 1, unitPrice: total }] },
    { orderId: "o-1", userId: "alice", userVerified: true, correlationId: "c-1", paymentTimeoutMs: WINDOW },
    at(0),
  ).order;
}

/** An order whose OrderCreated reached Kafka `ms` after creation. */
const published = (order: Order, ms = 100): Order => ({
  ...order,
  publishedAt: new Date(T0 + ms).toISOString(),
});

const succeeded = (paymentId: string, amount = 2500, currency = "EUR") =>
  makeEvent("PaymentSucceeded", "o-1", { paymentId, amount, currency }, at(1_000)) as PaymentEvent;
const failed = () =>
  makeEvent(
    "PaymentFailed",
    "o-1",
    { reason: "declined", amount: 2500, currency: "EUR" },
    at(1_000),
  ) as PaymentEvent;
const refunded = (paymentId: string) =>
  makeEvent(
    "PaymentRefunded",
    "o-1",
    { paymentId, amount: 2500, currency: "EUR" },
    at(2_000),
  ) as PaymentEvent;

interface Saga {
  when(command: Command, ms?: number): Saga;
  readonly order: Order;
  readonly last: Decision;
  eventsOf(d?: Decision): string[];
}

/** given an order, when commands arrive one after another: the decisions, and the order after them. */
function given(order: Order): Saga {
  let current = order;
  const decisions: Decision[] = [];
  const api: Saga = {
    when(command: Command, ms = 1_000) {
      const d = decide(current, command, at(ms));
      decisions.push(d);
      if (d.kind === "apply") current = applyChange(current, d.change, at(ms).now);
      return api;
    },
    get order() {
      return current;
    },
    get last() {
      return decisions.at(-1)!;
    },
    eventsOf(d: Decision = api.last): string[] {
      return d.kind === "apply" ? d.change.events.map((e) => e.type) : [];
    },
  };
  return api;
}

const payment = (event: PaymentEvent): Command => ({ type: "payment", event });

describe("the definition", () => {
  test("reads as the saga: verify the user, reserve the stock (undone by a release), record, await the payment", () => {
    assert.deepEqual(
      placeOrderSaga.steps.map((s) => s.kind),
      ["invoke", "invoke", "record", "await"],
    );
    assert.deepEqual(
      compensationsOf(placeOrderSaga.steps).map((c) => c.action),
      ["inventory-proxy.release"],
      "one compensation, the stock release",
    );
    const [user, stock] = placeOrderSaga.steps;
    assert.ok(
      user?.kind === "invoke" && "continueWith" in user.whenUnavailable,
      "no user service: go on unverified",
    );
    assert.ok(
      stock?.kind === "invoke" && "fail" in stock.whenUnavailable,
      "no inventory: fail, nothing held",
    );
  });
});

describe("a new order", () => {
  test("is PENDING, totalled in minor units, with its OrderCreated", () => {
    const { order, events } = createOrder(
      {
        currency: "EUR",
        items: [
          { productId: "a", quantity: 2, unitPrice: 1250 },
          { productId: "b", quantity: 1, unitPrice: 99 },
        ],
      },
      { orderId: "o-9", userId: "u", userVerified: false, correlationId: "c", paymentTimeoutMs: WINDOW },
      at(0),
    );
    assert.equal(order.status, "PENDING");
    assert.equal(order.total, 2599);
    assert.equal(order.stockHeld, true);
    assert.equal(order.paymentDeadline, new Date(T0 + WINDOW).toISOString());
    assert.deepEqual(
      events.map((e) => [e.type, e.orderId]),
      [["OrderCreated", "o-9"]],
    );
    assert.equal(events[0]?.occurredAt, new Date(T0).toISOString(), "the clock came in");
  });

  test("validation refuses bad currencies, quantities, prices, duplicates, item counts and totals no event can carry", () => {
    const item = { productId: "a", quantity: 1, unitPrice: 1 };
    assert.deepEqual(checkNewOrder({ currency: "EUR", items: [item] }), []);
    assert.equal(checkNewOrder({ currency: "XXX", items: [item] })[0]?.field, "currency");
    assert.equal(
      checkNewOrder({ currency: "EUR", items: [{ ...item, quantity: 0 }] })[0]?.field,
      "items[0].quantity",
    );
    assert.equal(
      checkNewOrder({ currency: "EUR", items: [{ ...item, unitPrice: -1 }] })[0]?.field,
      "items[0].unitPrice",
    );
    assert.equal(checkNewOrder({ currency: "EUR", items: [item, item] })[0]?.field, "items[1].productId");
    assert.equal(checkNewOrder({ currency: "EUR", items: [] })[0]?.field, "items");
    const huge = Array.from({ length: LIMITS.maxItems }, (_, i) => ({
      productId: `p-${i}`,
      quantity: LIMITS.maxQuantity,
      unitPrice: LIMITS.maxUnitPrice,
    }));
    assert.deepEqual(checkNewOrder({ currency: "EUR", items: huge }), []);
    assert.match(totalProblem(huge) ?? "", /exceeds the largest amount a payment can carry \(1000000000000/);
  });

  test("an idempotency key derives the same id for the same user only; the hash tells a replay from another body", () => {
    const random = () => "random";
    assert.equal(orderIdFor("u", "k", random), orderIdFor("u", "k", random));
    assert.notEqual(orderIdFor("u", "k", random), orderIdFor("v", "k", random));
    assert.equal(orderIdFor("u", undefined, random), "random");
    const body = { currency: "EUR", items: [{ productId: "a", quantity: 1, unitPrice: 1 }] };
    assert.equal(requestHash(body), requestHash({ ...body }));
    assert.notEqual(requestHash(body), requestHash({ ...body, currency: "USD" }));
  });

  test("the client's view carries no ledger and no bookkeeping", () => {
    const view = toView(newOrder()) as unknown as Record<string, unknown>;
    for (const hidden of ["payments", "publishedAt", "stockHeld", "requestHash", "correlationId"])
      assert.ok(!(hidden in view), hidden);
  });
});

describe("await the payment: PaymentSucceeded", () => {
  test("confirms a PENDING order, records the payment, raises OrderConfirmed, compensates nothing", () => {
    const saga = given(newOrder()).when(payment(succeeded("p-1")));
    assert.equal(saga.order.status, "CONFIRMED");
    assert.deepEqual(saga.eventsOf(), ["OrderConfirmed"]);
    assert.equal(saga.last.kind === "apply" && saga.last.change.compensate, false);
    assert.deepEqual(
      saga.order.payments.map((p) => [p.paymentId, p.outcome]),
      [["p-1", "confirmed"]],
    );
  });

  test("duplicate: the same payment again (a new eventId, the same paymentId) changes nothing", () => {
    const saga = given(newOrder())
      .when(payment(succeeded("p-1")))
      .when(payment(succeeded("p-1")));
    assert.deepEqual(saga.last, { kind: "ignore", why: "duplicate" });
  });

  test("a second, different payment for a CONFIRMED order is refunded (already-paid), exactly once", () => {
    const saga = given(newOrder())
      .when(payment(succeeded("p-1")))
      .when(payment(succeeded("p-2")));
    assert.deepEqual(saga.eventsOf(), ["RefundRequested"]);
    const refund = saga.last.kind === "apply" ? saga.last.change.events[0] : undefined;
    assert.deepEqual(refund?.payload, {
      userId: "alice",
      paymentId: "p-2",
      amount: 2500,
      currency: "EUR",
      reason: "already-paid",
    });
    assert.equal(saga.order.status, "CONFIRMED");
    saga.when(payment(succeeded("p-2")));
    assert.deepEqual(saga.last, { kind: "ignore", why: "duplicate" });
  });

  test("late: every payment for a CANCELLED order is refunded (order-cancelled), each paymentId once, never confirmed", () => {
    const saga = given(published(newOrder())).when({ type: "cancel", by: "owner", userId: "alice" });
    saga.when(payment(succeeded("p-1")));
    assert.deepEqual(saga.eventsOf(), ["RefundRequested"]);
    saga.when(payment(succeeded("p-2")));
    assert.deepEqual(saga.eventsOf(), ["RefundRequested"], "a second late payment is refunded too");
    saga.when(payment(succeeded("p-1")));
    assert.deepEqual(saga.last, { kind: "ignore", why: "duplicate" });
    assert.equal(saga.order.status, "CANCELLED");
    assert.deepEqual(
      saga.order.payments.map((p) => [p.paymentId, p.outcome, p.refundReason]),
      [
        ["p-1", "refund-requested", "order-cancelled"],
        ["p-2", "refund-requested", "order-cancelled"],
      ],
    );
  });

  test("late, with a different amount: still refunded, the amount that was captured", () => {
    const saga = given(newOrder())
      .when({ type: "cancel", by: "operator" })
      .when(payment(succeeded("p-1", 999)));
    const refund = saga.last.kind === "apply" ? saga.last.change.events[0] : undefined;
    assert.equal(refund?.type, "RefundRequested");
    assert.equal((refund?.payload as { amount?: number } | undefined)?.amount, 999);
  });

  test("a wrong amount on a PENDING order is refunded (amount-mismatch) and the order keeps waiting", () => {
    const saga = given(newOrder()).when(payment(succeeded("p-1", 2400)));
    assert.deepEqual(saga.eventsOf(), ["RefundRequested"]);
    assert.equal(saga.order.payments[0]?.refundReason, "amount-mismatch");
    assert.equal(saga.order.status, "PENDING");
    saga.when(payment(succeeded("p-2")));
    assert.equal(saga.order.status, "CONFIRMED", "a right payment still confirms it");
  });

  test("a wrong currency has its own reason (currency-mismatch)", () => {
    const saga = given(newOrder()).when(payment(succeeded("p-1", 2500, "USD")));
    assert.equal(saga.order.payments[0]?.refundReason, "currency-mismatch");
  });
});

describe("await the payment: PaymentFailed and PaymentRefunded", () => {
  test("a failure cancels a PENDING order and asks for the compensation", () => {
    const saga = given(newOrder()).when(payment(failed()));
    assert.equal(saga.order.status, "CANCELLED");
    assert.equal(saga.order.reason, "payment-failed");
    assert.deepEqual(saga.eventsOf(), ["OrderCancelled"]);
    assert.equal(saga.last.kind === "apply" && saga.last.change.compensate, true);
  });

  test("out of order: a failure after a success, or a second failure, changes nothing", () => {
    assert.deepEqual(
      given(newOrder())
        .when(payment(succeeded("p-1")))
        .when(payment(failed())).last,
      {
        kind: "ignore",
        why: "already-terminal",
      },
    );
    assert.deepEqual(given(newOrder()).when(payment(failed())).when(payment(failed())).last, {
      kind: "ignore",
      why: "already-terminal",
    });
  });

  test("PaymentRefunded closes the ledger entry once; one for a payment never refunded is rejected (dead letter)", () => {
    const saga = given(newOrder())
      .when(payment(failed()))
      .when(payment(succeeded("p-1")))
      .when(payment(refunded("p-1")));
    assert.equal(saga.order.payments[0]?.outcome, "refunded");
    assert.deepEqual(saga.eventsOf(), []);
    saga.when(payment(refunded("p-1")));
    assert.deepEqual(saga.last, { kind: "ignore", why: "duplicate" });
    assert.deepEqual(given(newOrder()).when(payment(refunded("p-9"))).last, {
      kind: "reject",
      why: "unknown-payment",
    });
  });
});

describe("await the payment: the deadline", () => {
  test("not published yet: the payment window has not opened, nothing happens", () => {
    assert.deepEqual(given(newOrder()).when({ type: "deadline" }, WINDOW + 60_000).last, {
      kind: "ignore",
      why: "not-published",
    });
  });

  test("before it is due: ignored, with when to look again", () => {
    assert.deepEqual(given(published(newOrder())).when({ type: "deadline" }, 10_000).last, {
      kind: "ignore",
      why: "not-due",
      dueAt: new Date(T0 + WINDOW + 100).toISOString(),
    });
  });

  test("due: cancels (payment-deadline) and compensates", () => {
    const saga = given(published(newOrder())).when({ type: "deadline" }, WINDOW + 200);
    assert.equal(saga.order.reason, "payment-deadline");
    assert.equal(saga.last.kind === "apply" && saga.last.change.compensate, true);
  });

  test("published late (our own Kafka outage): the whole window counts from publication", () => {
    const late = published(newOrder(), 50_000);
    assert.equal(given(late).when({ type: "deadline" }, 60_000).last.kind, "ignore");
    assert.equal(given(late).when({ type: "deadline" }, 80_001).last.kind, "apply");
  });

  test("after the order settled: ignored", () => {
    assert.deepEqual(
      given(published(newOrder()))
        .when(payment(succeeded("p-1")))
        .when({ type: "deadline" }, WINDOW * 2).last,
      {
        kind: "ignore",
        why: "already-terminal",
      },
    );
  });
});

describe("cancels and the compensation", () => {
  test("only the owner cancels, and only a PENDING order; the operator may cancel any PENDING order", () => {
    assert.deepEqual(given(newOrder()).when({ type: "cancel", by: "owner", userId: "bob" }).last, {
      kind: "reject",
      why: "not-owner",
    });
    const saga = given(newOrder()).when({ type: "cancel", by: "owner", userId: "alice" });
    assert.equal(saga.order.reason, "owner-cancelled");
    saga.when({ type: "cancel", by: "operator" });
    assert.deepEqual(saga.last, { kind: "reject", why: "not-pending" });
    assert.equal(
      given(newOrder()).when({ type: "cancel", by: "operator" }).order.reason,
      "operator-cancelled",
    );
  });

  test("the compensation's landing clears stockHeld once; a cancel after it asks for no second one", () => {
    const saga = given(newOrder()).when({ type: "cancel", by: "operator" }).when({ type: "compensated" });
    assert.equal(saga.order.stockHeld, false);
    saga.when({ type: "compensated" });
    assert.deepEqual(saga.last, { kind: "ignore", why: "not-held" });
  });

  test("transitions are guarded: nothing leaves a terminal state", () => {
    for (const status of ["CONFIRMED", "CANCELLED"] as const) {
      const order = { ...newOrder(), status };
      assert.deepEqual(given(order).when({ type: "cancel", by: "operator" }).last, {
        kind: "reject",
        why: "not-pending",
      });
      assert.equal(given(order).when(payment(failed())).order.status, status);
      assert.equal(given(order).when({ type: "deadline" }, WINDOW * 2).order.status, status);
    }
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
      countsForBreaker({ name: "RequestTimeoutError", data: { action: "order-store.write" } }),
      false,
    );
    assert.equal(countsForBreaker({ type: "INSUFFICIENT_STOCK", code: 409 }), false);
    assert.equal(countsForBreaker({ name: "MoleculerError", code: 500 }), false);
    assert.equal(countsForBreaker(null), false);
  });
});
