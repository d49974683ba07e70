// The independent checker's verdict on fabricated facts: clean runs pass, and each defect the
// chaos runs look for is caught under its own kind.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Reservation } from "../../simulators/http/inventory-service";
import type { LedgerEntry } from "../../simulators/payment/payment-simulator";
import { type Facts, judge, type StoredFacts } from "../helpers/checker";

const ev = (orderId: string, type: string, eventId = `${orderId}-${type}`) => ({ orderId, type, eventId });
const reservation = (id: string, status: "RESERVED" | "RELEASED"): Reservation => ({
  reservationId: id,
  items: [{ productId: "p", quantity: 1 }],
  status,
  reservedAt: "t",
  reserveCount: 1,
  releaseCount: status === "RELEASED" ? 1 : 0,
});
const paid = (orderId: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  orderId,
  decision: "succeeded",
  paymentId: `pay-${orderId}`,
  amount: 100,
  currency: "EUR",
  chargeCount: 1,
  refunded: false,
  refundCount: 0,
  decidedAt: "t",
  answerIds: [`ans-${orderId}`],
  ...extra,
});

/** A confirmed order and a cancelled one whose late payment was refunded. */
function clean(): Facts {
  return {
    accepted: ["c", "x"],
    events: [
      ev("c", "OrderCreated"),
      ev("c", "OrderConfirmed"),
      ev("x", "OrderCreated"),
      ev("x", "OrderCancelled"),
      ev("x", "RefundRequested"),
    ],
    orders: [
      {
        _id: "c",
        status: "CONFIRMED",
        stockHeld: true,
        payments: [{ paymentId: "pay-c", outcome: "confirmed" }],
      },
      {
        _id: "x",
        status: "CANCELLED",
        stockHeld: false,
        payments: [{ paymentId: "pay-x", outcome: "refunded" }],
      },
    ],
    payments: [paid("c"), paid("x", { refunded: true, refundCount: 1 })],
    reservations: [reservation("c", "RESERVED"), reservation("x", "RELEASED")],
  };
}

const withOrder = (facts: Facts, id: string, change: Partial<StoredFacts>): Facts => ({
  ...facts,
  orders: facts.orders.map((o) => (o._id === id ? { ...o, ...change } : o)),
});

describe("independent checker", () => {
  test("a clean run is ok and settled; a duplicate delivery of one event is not a second event", () => {
    const facts = clean();
    facts.events.push(ev("c", "OrderConfirmed"));
    const v = judge(facts);
    assert.deepEqual(v.findings, []);
    assert.ok(v.ok && v.settled);
    assert.deepEqual([v.accepted, v.confirmed, v.cancelled, v.refunded], [2, 1, 1, 1]);
  });

  test("the issue's defect: cancelled then confirmed, stock released, no refund", () => {
    const facts = clean();
    facts.events.push(ev("c", "OrderCancelled"));
    facts.reservations = [reservation("c", "RELEASED"), reservation("x", "RELEASED")];
    facts.orders = facts.orders.map((o) => (o._id === "c" ? { ...o, stockHeld: false } : o));
    const v = judge(facts);
    assert.equal(v.ok, false);
    const rules = v.findings.map((f) => `${f.kind}: ${f.rule}`).sort();
    assert.deepEqual(rules, [
      "illegal: both OrderConfirmed and OrderCancelled in the log",
      "illegal: stock released for a CONFIRMED order",
    ]);
  });

  test("a lost write: RefundRequested in the log, the store's refund overwritten", () => {
    const v = judge(withOrder(clean(), "x", { payments: [] }));
    assert.deepEqual(
      v.findings.map((f) => f.rule),
      ["RefundRequested in the log, not in the store"],
    );
    assert.equal(v.count("lost"), 1);
  });

  test("stockHeld disagreeing with the inventory; a release whose mark is on its way is unsettled", () => {
    const v = judge(withOrder(clean(), "c", { stockHeld: false }));
    assert.equal(v.count("disagree"), 1);
    assert.equal(v.ok, false);
    const marking = judge(withOrder(clean(), "x", { stockHeld: true }));
    assert.deepEqual(
      marking.findings.map((f) => `${f.kind}: ${f.rule}`),
      ["unsettled: stock released, its mark on its way"],
    );
  });

  test("a cancelled order whose stock is still reserved: on its way while stockHeld, lost after", () => {
    const facts = clean();
    facts.reservations = [reservation("c", "RESERVED"), reservation("x", "RESERVED")];
    assert.equal(judge(withOrder(facts, "x", { stockHeld: true })).count("unsettled"), 1);
    assert.equal(judge(facts).count("lost"), 1);
  });

  test("a payment answer the service has not seen yet is unsettled; seen and ignored is lost", () => {
    const facts = clean();
    facts.events = facts.events.filter((e) => e.type !== "RefundRequested");
    facts.payments = [paid("c"), paid("x")];
    const unseen = judge(withOrder(facts, "x", { payments: [] }));
    assert.equal(unseen.count("unsettled"), 1);
    assert.equal(unseen.ok, true);
    const seen = judge(withOrder(facts, "x", { payments: [{ paymentId: "pay-x", outcome: "refunded" }] }));
    assert.equal(seen.count("lost"), 1);
  });

  test("an accepted order missing from the store, and double charges, are counted", () => {
    const facts = clean();
    facts.accepted.push("gone");
    facts.payments = [paid("c", { chargeCount: 2 }), paid("x", { refunded: true, refundCount: 1 })];
    const v = judge(facts);
    assert.equal(v.count("lost"), 1);
    assert.equal(v.count("doubled"), 1);
  });
});
