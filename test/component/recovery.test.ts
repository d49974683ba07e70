// A live node that gives up its in-memory retries (the store down for longer than they last) asks
// for a recovery sweep at once instead of leaving the saga to the periodic backstop (minutes).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Order } from "../../domain/order";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call, eventually } from "../helpers/http";
import { token } from "../helpers/jwt";
import { pendingOrder } from "../helpers/orders";

interface OrderBody {
  id: string;
  status: string;
  reason?: string;
}

let node: EmbeddedNode;

before(async () => {
  // The backstop is far away: only a requested sweep can finish the saga within the test.
  node = await startEmbeddedNode({ PAYMENT_TIMEOUT_MS: "300", SAGA_SWEEP_INTERVAL_MS: "600000" });
  node.embedded.payment?.setRules({ noReplyCents: [77] });
  const saga = node.broker.getLocalService("saga") as unknown as {
    runtime: { settings: { retry: { baseMs: number } } };
  };
  saga.runtime.settings.retry.baseMs = 5;
});

after(() => node.stop());

test("a deadline that failed through every in-memory retry is enforced by a sweep the node asks for", async () => {
  const tok = await token("dora");
  const orders = node.broker.getLocalService("order-store") as unknown as {
    adapter: { updateMany(...args: unknown[]): Promise<number> };
  };
  const updateMany = orders.adapter.updateMany;
  let refused = 0;
  // The store refuses the cancellation until the saga has given up its in-memory retries (1 + 8).
  orders.adapter.updateMany = async (...args: unknown[]) => {
    const update = args[1] as { $set?: { status?: string } };
    if (update.$set?.status === "CANCELLED" && refused < 9) {
      refused++;
      throw new Error("store unavailable");
    }
    return updateMany.apply(orders.adapter, args);
  };
  try {
    const placed = await call<OrderBody>(node.url, "POST", "/api/v1/orders", {
      token: tok,
      body: { currency: "EUR", items: [{ productId: "sku-recover", quantity: 1, unitPrice: 1077 }] },
    });
    assert.equal(placed.status, 202);
    const cancelled = await eventually(
      async () => {
        const res = await call<OrderBody>(node.url, "GET", `/api/v1/orders/${placed.body.id}`, {
          token: tok,
        });
        return res.body.status === "CANCELLED" ? res.body : undefined;
      },
      15_000,
      50,
    );
    assert.equal(cancelled.reason, "payment-deadline");
    assert.equal(refused, 9, "every in-memory attempt failed first");
  } finally {
    orders.adapter.updateMany = updateMany;
  }
});

test("a stopped saga arms no deadline or retry timer: late failures of its last calls end there", async () => {
  const stopping = await startEmbeddedNode();
  const { runtime } = stopping.broker.getLocalService("saga") as unknown as {
    runtime: {
      deadlines: Map<string, NodeJS.Timeout>;
      timers: Set<NodeJS.Timeout>;
      onWritten(order: Order): void;
      retry(task: () => Promise<unknown>): void;
      later(delayMs: number, task: () => unknown): void;
    };
  };
  await stopping.stop();
  // What a write heard, a compensation or an insert failing after stop() calls next.
  runtime.onWritten(pendingOrder("late-order", "sku-late", 100).order);
  runtime.retry(async () => undefined);
  runtime.later(10, () => undefined);
  assert.equal(runtime.deadlines.size, 0, "no deadline armed after stop");
  assert.equal(runtime.timers.size, 0, "no retry armed after stop");
});

test("recovery and relay scans slower than the request timeout still complete (a large store on FerretDB)", async () => {
  const slow = await startEmbeddedNode({ REQUEST_TIMEOUT_MS: "300", SAGA_SWEEP_INTERVAL_MS: "600000" });
  const orders = slow.broker.getLocalService("order-store") as unknown as {
    adapter: { find(filters: { query?: Record<string, unknown> }): Promise<unknown[]> };
  };
  const find = orders.adapter.find.bind(orders.adapter);
  let scans = 0;
  orders.adapter.find = async (filters) => {
    if (filters.query && ("$or" in filters.query || "outboxPending" in filters.query)) {
      scans++;
      await new Promise((r) => setTimeout(r, 600));
    }
    return find(filters);
  };
  try {
    const result = await slow.broker.call<{ swept: boolean }, object>("saga.sweepNow", {}, { timeout: 0 });
    assert.equal(scans, 1);
    assert.equal(result.swept, true, "the sweep got its scan, twice as slow as the request timeout");
    const relay = await slow.broker.call<{ found: number }, object>(
      "outbox-relay.relayNow",
      {},
      { timeout: 0 },
    );
    assert.equal(scans, 2);
    assert.equal(typeof relay.found, "number", "so did the relay sweep");
  } finally {
    await slow.stop();
  }
});
