// The saga through the REST API on one embedded node: happy path, compensation, deadline,
// owner cancel, idempotency, fallbacks, and every response checked against docs/openapi.yaml.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import { sharedMemoryChannel } from "../../lib/channel";
import type { OrderRecord } from "../../lib/order-record";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call, eventually, type JsonResponse } from "../helpers/http";
import { token } from "../helpers/jwt";

interface OrderBody {
  id: string;
  userId: string;
  status: string;
  reason?: string;
  total: number;
  userVerified: boolean;
  version: number;
  history: { from: string | null; to: string; reason?: string }[];
}

const openapi = parse(readFileSync(join(__dirname, "..", "..", "docs", "openapi.yaml"), "utf8")) as {
  components: { schemas: Record<string, object> };
};
const ajv = new Ajv2020({ strict: false, validateFormats: false });
ajv.addSchema({ $id: "openapi", components: openapi.components });
const validators = {
  Order: ajv.getSchema("openapi#/components/schemas/Order")!,
  OrderPage: ajv.getSchema("openapi#/components/schemas/OrderPage")!,
  Problem: ajv.getSchema("openapi#/components/schemas/Problem")!,
  Ready: ajv.getSchema("openapi#/components/schemas/Ready")!,
};

/** Every answer must match the documented contract. */
function conforms(res: JsonResponse<unknown>, schema: keyof typeof validators): void {
  const validate = validators[schema];
  assert.ok(
    validate(res.body),
    `${schema}: ${JSON.stringify(validate.errors)} in ${JSON.stringify(res.body)}`,
  );
  if (schema === "Problem") assert.match(res.contentType, /^application\/problem\+json/);
}

const order = (unitPrice = 1250, productId = "sku-1", quantity = 2) => ({
  currency: "EUR",
  items: [{ productId, quantity, unitPrice }],
});

describe("the saga through the REST API (embedded node)", () => {
  let node: EmbeddedNode;
  let alice: string;
  let bob: string;

  before(async () => {
    node = await startEmbeddedNode({ PAYMENT_TIMEOUT_MS: "1500" });
    node.embedded.payment?.setRules({ noReplyCents: [77] });
    alice = await token("alice");
    bob = await token("bob");
  });

  after(async () => {
    await node?.stop();
  });

  async function place(tok: string, body: unknown, headers: Record<string, string> = {}) {
    return call<OrderBody>(node.url, "POST", "/api/v1/orders", { token: tok, body, headers });
  }

  async function settled(id: string, tok = alice): Promise<OrderBody> {
    return eventually(
      async () => {
        const res = await call<OrderBody>(node.url, "GET", `/api/v1/orders/${id}`, { token: tok });
        return res.body.status !== "PENDING" ? res.body : undefined;
      },
      15_000,
      50,
    );
  }

  test("health and readiness", async () => {
    const health = await call(node.url, "GET", "/health");
    assert.equal(health.status, 200);
    const ready = await call(node.url, "GET", "/ready");
    assert.equal(ready.status, 200);
    conforms(ready, "Ready");
  });

  test("happy path: 202 PENDING, then CONFIRMED; stock stays reserved", async () => {
    const res = await place(alice, order());
    assert.equal(res.status, 202);
    conforms(res, "Order");
    assert.equal(res.body.status, "PENDING");
    assert.equal(res.body.total, 2500);
    assert.equal(res.body.userVerified, true);
    assert.equal(res.headers.location, `/api/v1/orders/${res.body.id}`);
    const done = await settled(res.body.id);
    assert.equal(done.status, "CONFIRMED");
    assert.deepEqual(
      done.history.map((h) => h.to),
      ["PENDING", "CONFIRMED"],
    );
    const reservation = node.embedded.inventory!.reservations().find((r) => r.reservationId === res.body.id);
    assert.equal(reservation?.status, "RESERVED");
  });

  test("payment failure compensates: CANCELLED with the reason, stock released", async () => {
    const before = node.embedded.inventory!.stock("sku-fail");
    const res = await place(alice, order(1013, "sku-fail", 1));
    assert.equal(res.status, 202);
    const done = await settled(res.body.id);
    assert.equal(done.status, "CANCELLED");
    assert.equal(done.reason, "payment-failed");
    await eventually(async () =>
      node.embedded.inventory!.reservations().find((r) => r.reservationId === res.body.id)?.status ===
      "RELEASED"
        ? true
        : undefined,
    );
    assert.equal(node.embedded.inventory!.stock("sku-fail"), before);
  });

  test("no payment answer: the deadline compensates", async () => {
    const res = await place(alice, order(1077, "sku-deadline", 1));
    const done = await settled(res.body.id);
    assert.equal(done.status, "CANCELLED");
    assert.equal(done.reason, "payment-deadline");
    await eventually(async () =>
      node.embedded.inventory!.reservations().find((r) => r.reservationId === res.body.id)?.status ===
      "RELEASED"
        ? true
        : undefined,
    );
  });

  test("the owner cancels a PENDING order; a terminal one answers 409; another user gets 404", async () => {
    const res = await place(alice, order(1077, "sku-cancel", 1));
    const strangers = await call(node.url, "POST", `/api/v1/orders/${res.body.id}/cancel`, { token: bob });
    assert.equal(strangers.status, 404);
    conforms(strangers, "Problem");
    const cancelled = await call<OrderBody>(node.url, "POST", `/api/v1/orders/${res.body.id}/cancel`, {
      token: alice,
    });
    assert.equal(cancelled.status, 200);
    conforms(cancelled, "Order");
    assert.equal(cancelled.body.status, "CANCELLED");
    assert.equal(cancelled.body.reason, "owner-cancelled");
    const again = await call(node.url, "POST", `/api/v1/orders/${res.body.id}/cancel`, { token: alice });
    assert.equal(again.status, 409);
    conforms(again, "Problem");
  });

  test("Idempotency-Key: a replay returns the same order, a different body is refused, concurrent replays make one order", async () => {
    const key = `key-${Date.now()}`;
    const first = await place(alice, order(2000), { "Idempotency-Key": key });
    assert.equal(first.status, 202);
    const replay = await place(alice, order(2000), { "Idempotency-Key": key });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.id, first.body.id);
    assert.equal(replay.headers["idempotent-replayed"], "true");
    const other = await place(alice, order(2001), { "Idempotency-Key": key });
    assert.equal(other.status, 422);
    conforms(other, "Problem");
    // The same key from another user is another order.
    const bobs = await place(bob, order(2000), { "Idempotency-Key": key });
    assert.equal(bobs.status, 202);
    assert.notEqual(bobs.body.id, first.body.id);

    const key2 = `burst-${Date.now()}`;
    const burst = await Promise.all(
      Array.from({ length: 10 }, () => place(alice, order(3000), { "Idempotency-Key": key2 })),
    );
    assert.ok(
      burst.every((r) => r.status === 202 || r.status === 200),
      burst.map((r) => r.status).join(","),
    );
    assert.equal(new Set(burst.map((r) => r.body.id)).size, 1);
    const reservations = node.embedded
      .inventory!.reservations()
      .filter((r) => r.reservationId === burst[0]!.body.id);
    assert.equal(reservations.length, 1);
  });

  test("listing returns only the caller's orders, paginated, and conforms", async () => {
    await place(bob, order(4000, "sku-bob"));
    const page = await call<{ rows: OrderBody[]; total: number; pageSize: number }>(
      node.url,
      "GET",
      "/api/v1/orders?pageSize=2",
      {
        token: alice,
      },
    );
    assert.equal(page.status, 200);
    conforms(page, "OrderPage");
    assert.equal(page.body.rows.length, 2);
    assert.equal(page.body.pageSize, 2);
    const all = await call<{ rows: OrderBody[] }>(node.url, "GET", "/api/v1/orders?pageSize=100", {
      token: alice,
    });
    assert.ok(all.body.rows.length > 0);
    assert.ok(all.body.rows.every((o) => o.userId === "alice"));
  });

  test("insufficient stock answers 409 and writes nothing", async () => {
    const before = await call<{ total: number }>(node.url, "GET", "/api/v1/orders", { token: alice });
    const res = await place(alice, order(100, "OUT-of-stock"));
    assert.equal(res.status, 409);
    conforms(res, "Problem");
    const after = await call<{ total: number }>(node.url, "GET", "/api/v1/orders", { token: alice });
    assert.equal(after.body.total, before.body.total);
  });

  test("user service down: the order is accepted unverified (fallback rule)", async () => {
    await node.embedded.user!.faults.set({ mode: "refuse" });
    try {
      const res = await place(alice, order(5000, "sku-unverified"));
      assert.equal(res.status, 202);
      assert.equal(res.body.userVerified, false);
    } finally {
      await node.embedded.user!.faults.set({ mode: "none" });
    }
  });

  test("inventory down: 503 with Retry-After, no order written, nothing reserved", async () => {
    const before = await call<{ total: number }>(node.url, "GET", "/api/v1/orders", { token: alice });
    const reservationsBefore = node.embedded.inventory!.reservations().length;
    await node.embedded.inventory!.faults.set({ mode: "down" });
    try {
      const res = await place(alice, order(6000, "sku-down"));
      assert.equal(res.status, 503);
      conforms(res, "Problem");
      assert.ok(Number(res.headers["retry-after"]) > 0);
    } finally {
      await node.embedded.inventory!.faults.set({ mode: "none" });
    }
    const after = await call<{ total: number }>(node.url, "GET", "/api/v1/orders", { token: alice });
    assert.equal(after.body.total, before.body.total);
    assert.equal(node.embedded.inventory!.reservations().length, reservationsBefore);
  });

  test("under concurrent load each order's events leave once, in order, and every outbox empties", async () => {
    const seen: { key: string; type?: string }[] = [];
    const observer = await sharedMemoryChannel().subscribe(
      { groupId: `observer-${Date.now()}`, topics: ["orders.events"] },
      async (m) => {
        seen.push({ key: m.key, type: m.headers["event-type"] });
      },
    );
    const placed = await Promise.all(
      Array.from({ length: 60 }, (_, i) => place(alice, order(1000 + i * 100))),
    );
    assert.ok(placed.every((r) => r.status === 202));
    const ids = new Set(placed.map((r) => r.body.id));
    for (const id of ids) assert.equal((await settled(id)).status, "CONFIRMED");
    // Publication marks ride on the next write or are written alone after a second.
    await eventually(
      async () => {
        const pending = await node.broker.call<OrderRecord[], object>("order-store.pendingOutboxes", {
          limit: 1000,
        });
        return pending.some((r) => ids.has(r.order.id)) ? undefined : true;
      },
      10_000,
      100,
    );
    await new Promise((r) => setTimeout(r, 300));
    await observer.stop();
    for (const id of ids) {
      const types = seen.filter((m) => m.key === id).map((m) => m.type);
      assert.deepEqual(types, ["OrderCreated", "OrderConfirmed"], `events of ${id}`);
    }
  });

  test("an order that could not be written gives its reservation back; a retry with the key succeeds", async () => {
    const { runtime } = node.broker.getLocalService("saga") as unknown as {
      runtime: { unwrittenGraceMs: number };
    };
    const orders = node.broker.getLocalService("order-store") as unknown as {
      adapter: { insert(doc: unknown): Promise<unknown> };
    };
    const insert = orders.adapter.insert;
    const delay = runtime.unwrittenGraceMs;
    runtime.unwrittenGraceMs = 100;
    const stockBefore = node.embedded.inventory!.stock("sku-unwritten");
    const reservationOf = () =>
      node.embedded.inventory!.reservations().find((r) => r.items[0]?.productId === "sku-unwritten");
    orders.adapter.insert = async () => {
      throw new Error("store unavailable");
    };
    try {
      const res = await place(alice, order(4100, "sku-unwritten"), { "Idempotency-Key": "unwritten-1" });
      assert.ok(res.status >= 500, `the client is told to retry (${res.status})`);
      conforms(res, "Problem");
      assert.equal(reservationOf()?.status, "RESERVED", "reserved before the write failed");
    } finally {
      orders.adapter.insert = insert;
    }
    await eventually(async () => (reservationOf()?.status === "RELEASED" ? true : undefined), 5_000, 20);
    assert.equal(node.embedded.inventory!.stock("sku-unwritten"), stockBefore, "stock given back");

    // The client's retry reserves again and the order is written: its reservation stays held.
    const retried = await place(alice, order(4100, "sku-unwritten"), { "Idempotency-Key": "unwritten-1" });
    assert.equal(retried.status, 202);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(reservationOf()?.status, "RESERVED");
    runtime.unwrittenGraceMs = delay;
  });

  test("a blocked user is refused with 403", async () => {
    const res = await place(await token("blocked-carol"), order());
    assert.equal(res.status, 403);
    conforms(res, "Problem");
  });
});
