// The chaos tables' timings from the orders.events log: an order's time from its OrderCreated to
// its first terminal event in the log, only for the orders asked about and only when both are there.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LoggedEvent } from "../helpers/checker";
import { orderLags } from "../helpers/order-load";

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const created = (orderId: string, s: number): LoggedEvent => ({
  eventId: `${orderId}-c`,
  type: "OrderCreated",
  orderId,
  occurredAt: at(s),
  loggedAt: Date.parse(at(s + 1)),
});
const terminal = (orderId: string, type: string, loggedS: number, eventId = `${orderId}-t`): LoggedEvent => ({
  eventId,
  type,
  orderId,
  occurredAt: at(loggedS),
  loggedAt: Date.parse(at(loggedS)),
});

test("each order's lag runs from its OrderCreated decision to its first terminal event in the log", () => {
  const lags = orderLags(
    [
      created("a", 0),
      terminal("a", "OrderConfirmed", 9, "a-t2"),
      terminal("a", "OrderConfirmed", 7),
      created("b", 2),
      terminal("b", "OrderCancelled", 3),
      created("pending", 1),
      created("other", 0),
      terminal("other", "OrderConfirmed", 50),
    ],
    ["a", "b", "pending"],
  );
  assert.deepEqual(
    lags.map((l) => [l.orderId, (l.doneAt - l.createdAt) / 1000]),
    [
      ["a", 7],
      ["b", 1],
    ],
  );
});
