// The saga's forward steps and compensations as a specification, on the runtime with stub
// participants: given what each participant answers, expect exactly these calls (and no other),
// in this order, and this outcome. Every step × success, refusal, failure, unavailable, timeout;
// then the written order × payment failure, deadline, duplicate and late events: the
// compensation runs exactly once, from its one call site.
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { Errors, ServiceBroker } from "moleculer";
import type { OrderRecord } from "../../lib/order-record";
import { orderStoreService } from "../../services/order-store.service";
import { outboxRelayService } from "../../services/outbox-relay.service";
import { sagaService } from "../../services/saga.service";
import { testConfig } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";

type Behaviour = "ok" | "refused" | "unavailable" | "timeout" | "out-of-stock";

const calls: string[] = [];
/** Orders whose stock was released, one entry per release. */
const released: string[] = [];
const behaviour: Record<"user" | "inventory", Behaviour> = { user: "ok", inventory: "ok" };

function answer(kind: "user" | "inventory", action: string) {
  calls.push(action);
  switch (behaviour[kind]) {
    case "unavailable":
      throw new Errors.MoleculerError("down", 503, "DEPENDENCY_UNAVAILABLE");
    case "timeout":
      throw new Errors.RequestTimeoutError({ action, nodeID: "stub" });
    case "out-of-stock":
      throw new Errors.MoleculerClientError("insufficient stock", 409, "INSUFFICIENT_STOCK");
    case "refused":
      return { kind: "refused", why: "blocked" };
    default:
      return kind === "user" ? { kind: "verified" } : { reserved: true };
  }
}

const user = { meta: { user: { id: "spec-user", roles: [] } } };
let broker: ServiceBroker;
let n = 0;

before(async () => {
  broker = new ServiceBroker({ logger: false, nodeID: "spec" });
  const config = testConfig({ PAYMENT_TIMEOUT_MS: "400", KAFKA_TOPIC_PREFIX: `spec-${process.pid}` });
  broker.createService({
    name: "user-proxy",
    actions: { check: () => answer("user", "user-proxy.check") },
  });
  broker.createService({
    name: "inventory-proxy",
    actions: {
      reserve: () => answer("inventory", "inventory-proxy.reserve"),
      release: (ctx: { params: { orderId: string } }) => {
        calls.push("inventory-proxy.release");
        released.push(ctx.params.orderId);
        return { released: true };
      },
    },
  });
  broker.createService(orderStoreService(config));
  broker.createService(outboxRelayService(config));
  broker.createService(sagaService(config));
  await broker.start();
  (broker.getLocalService("order-store") as unknown as { marks: { delayMs: number } }).marks.delayMs = 20;
});

after(() => broker.stop());

afterEach(() => {
  calls.length = 0;
  behaviour.user = "ok";
  behaviour.inventory = "ok";
});

const place = (unitPrice = 1000) =>
  broker.call<{ id: string; status: string; userVerified: boolean }, object>(
    "saga.placeOrder",
    { currency: "EUR", items: [{ productId: `spec-${++n}`, quantity: 1, unitPrice }] },
    user,
  );
const stored = (id: string) =>
  broker.call<OrderRecord | null, object>("order-store.get", { id, fresh: true }).then((r) => r?.order);
const releasesOf = (id: string) => released.filter((r) => r === id).length;

describe("forward steps", () => {
  test("given both participants answer: check, reserve, the order PENDING; nothing undone", async () => {
    const order = await place();
    assert.equal(order.status, "PENDING");
    assert.equal(order.userVerified, true);
    assert.deepEqual(calls, ["user-proxy.check", "inventory-proxy.reserve"]);
  });

  test("given the user is refused: 403 after the check, nothing reserved, no order", async () => {
    behaviour.user = "refused";
    await assert.rejects(place(), { code: 403, type: "USER_REFUSED" });
    assert.deepEqual(calls, ["user-proxy.check"]);
  });

  for (const fault of ["unavailable", "timeout"] as const) {
    test(`given the user service ${fault === "timeout" ? "times out" : "is unavailable"}: the order goes on unverified`, async () => {
      behaviour.user = fault;
      const order = await place();
      assert.equal(order.userVerified, false);
      assert.deepEqual(calls, ["user-proxy.check", "inventory-proxy.reserve"]);
    });

    test(`given the inventory ${fault === "timeout" ? "times out" : "is unavailable"}: 503 with Retry-After, the reservation compensated, no order`, async () => {
      behaviour.inventory = fault;
      await assert.rejects(place(), (err: Errors.MoleculerError) => {
        assert.equal(err.code, 503);
        assert.equal((err.data as { retryAfter?: number }).retryAfter, 5);
        return true;
      });
      assert.deepEqual(calls, ["user-proxy.check", "inventory-proxy.reserve", "inventory-proxy.release"]);
    });
  }

  test("given the inventory refuses (out of stock): the refusal goes to the client; the release is harmless", async () => {
    behaviour.inventory = "out-of-stock";
    await assert.rejects(place(), { code: 409 });
    assert.deepEqual(calls, ["user-proxy.check", "inventory-proxy.reserve", "inventory-proxy.release"]);
  });
});

describe("the written order", () => {
  const pay = (id: string, type: "PaymentFailed" | "PaymentSucceeded", paymentId = "p-1", amount = 1000) =>
    broker.call("saga.applyPayment", {
      event: {
        eventId: `e-${++n}`,
        type,
        version: 1,
        occurredAt: new Date().toISOString(),
        orderId: id,
        payload:
          type === "PaymentFailed"
            ? { reason: "declined", amount, currency: "EUR" }
            : { paymentId, amount, currency: "EUR" },
      },
    });

  test("when the payment fails: CANCELLED and compensated once; a duplicate failure undoes nothing more", async () => {
    const { id } = await place();
    calls.length = 0;
    await pay(id, "PaymentFailed");
    await eventually(async () => ((await stored(id))?.stockHeld === false ? true : undefined), 3_000, 20);
    await pay(id, "PaymentFailed");
    assert.equal(releasesOf(id), 1);
    assert.equal((await stored(id))?.status, "CANCELLED");
  });

  test("when the deadline passes: CANCELLED payment-deadline and compensated once; a late success is refunded, not confirmed", async () => {
    const { id } = await place();
    calls.length = 0;
    const cancelled = await eventually(
      async () => {
        const o = await stored(id);
        return o?.status === "CANCELLED" && !o.stockHeld ? o : undefined;
      },
      5_000,
      20,
    );
    assert.equal(cancelled.reason, "payment-deadline");
    const late = (await pay(id, "PaymentSucceeded", "late-1")) as { outcome: string; events: string[] };
    assert.deepEqual(late, { outcome: "applied", status: "CANCELLED", events: ["RefundRequested"] });
    assert.equal(releasesOf(id), 1);
  });

  test("when the payment succeeds: CONFIRMED, nothing undone; the same payment again is ignored", async () => {
    const { id } = await place();
    calls.length = 0;
    await pay(id, "PaymentSucceeded", "ok-1");
    assert.deepEqual(await pay(id, "PaymentSucceeded", "ok-1"), { outcome: "ignored", why: "duplicate" });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal((await stored(id))?.status, "CONFIRMED", "the deadline does not undo a confirmed order");
    assert.equal(releasesOf(id), 0);
  });
});
