// The synchronous edge under fault injection against the real HTTP simulators: the circuit
// breaker opens, short-circuits (the simulator sees nothing), half-opens after its time, lets one
// probe through and closes on recovery; timeouts count as failures (the middleware order trap);
// retries hide a flapping dependency; each saga node keeps its own breaker view.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ServiceBroker } from "moleculer";
import type { PlaceOrderParams } from "../../contracts/saga";
import { loadConfig } from "../../lib/config";
import type { BreakerEntry } from "../../mixins/breaker-view.mixin";
import { breakerViewMixin } from "../../mixins/breaker-view.mixin";
import { MIDDLEWARE_ORDER } from "../../moleculer.config";
import { userProxyService } from "../../services/user-proxy.service";
import type { RunningSimulator } from "../../simulators/http/http-simulator";
import { startUserService } from "../../simulators/http/user-service";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";

const BREAKER = {
  CB_MIN_REQUESTS: "3",
  CB_THRESHOLD_PERCENT: "50",
  CB_HALF_OPEN_MS: "800",
  CB_WINDOW_SECONDS: "60",
};

async function breakerOf(node: EmbeddedNode, dependency: string): Promise<BreakerEntry | undefined> {
  const list = await node.broker.call<BreakerEntry[]>("saga.breakers");
  return list.find((b) => b.dependency === dependency);
}

describe("circuit breaker on a dependency that goes down and comes back", () => {
  let node: EmbeddedNode;
  const transitions: string[] = [];

  before(async () => {
    node = await startEmbeddedNode({ ...BREAKER, RETRY_MAX_ATTEMPTS: "1" });
    node.broker.localBus.on("$circuit-breaker.*", () => undefined);
    for (const event of ["opened", "half-opened", "closed"]) {
      node.broker.localBus.on(`$circuit-breaker.${event}`, (payload: { service: string }) => {
        if (payload.service === "user-proxy") transitions.push(event);
      });
    }
  });
  after(async () => {
    await node?.stop();
  });

  test("opens after the configured failures, short-circuits, probes once after half-open, closes on recovery", async () => {
    const user = node.embedded.user!;
    const check = () => node.broker.call("user-proxy.check", { id: "alice" });
    await user.faults.set({ mode: "error-rate", errorRate: 1, errorStatus: 503 });
    user.resetStats();
    for (let i = 0; i < 3; i++) await assert.rejects(check(), { code: 503 });
    assert.equal(user.stats().requests.total, 3);
    await eventually(
      async () => ((await breakerOf(node, "user-service"))?.state === "open" ? true : undefined),
      5_000,
      20,
    );

    // Open: calls fail fast and never reach the service.
    for (let i = 0; i < 5; i++) await assert.rejects(check(), { name: "ServiceNotAvailableError" });
    assert.equal(user.stats().requests.total, 3, "the open breaker let nothing through");

    // Half-open after its time: exactly one probe reaches the (still failing) service, which re-opens.
    await eventually(
      async () => ((await breakerOf(node, "user-service"))?.state === "half-open" ? true : undefined),
      5_000,
      20,
    );
    await Promise.allSettled([check(), check(), check()]);
    assert.equal(user.stats().requests.total, 4, "one probe in half-open");

    // Recovery: the next probe succeeds and closes the breaker.
    await user.faults.set({ mode: "none" });
    await eventually(
      async () => ((await breakerOf(node, "user-service"))?.state === "half-open" ? true : undefined),
      5_000,
      20,
    );
    assert.deepEqual(await check(), { kind: "verified" });
    assert.equal((await breakerOf(node, "user-service"))?.state, "closed");
    assert.deepEqual(await check(), { kind: "verified" });
    assert.deepEqual(transitions.slice(0, 2), ["opened", "half-opened"]);
    assert.equal(transitions.at(-1), "closed");
  });

  test("while the user breaker is open, orders are still accepted unverified (fallback applied by the saga)", async () => {
    const user = node.embedded.user!;
    await user.faults.set({ mode: "refuse" });
    try {
      for (let i = 0; i < 4; i++) {
        await node.broker.call("user-proxy.check", { id: "x" }).catch(() => undefined);
      }
      await eventually(
        async () => ((await breakerOf(node, "user-service"))?.state === "open" ? true : undefined),
        5_000,
        20,
      );
      const order = await node.broker.call<{ userVerified: boolean; status: string }, PlaceOrderParams>(
        "saga.placeOrder",
        { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice: 100 }] },
        { meta: { user: { id: "alice", roles: [] } } },
      );
      assert.equal(order.status, "PENDING");
      assert.equal(order.userVerified, false);
    } finally {
      await user.faults.set({ mode: "none" });
      await node.broker.call("saga.resetBreakers", {});
    }
  });

  test("inventory breaker open: 503 problem, no order, nothing reserved", async () => {
    const inventory = node.embedded.inventory!;
    await inventory.faults.set({ mode: "error-rate", errorRate: 1, errorStatus: 503 });
    const place = () =>
      node.broker.call(
        "saga.placeOrder",
        { currency: "EUR", items: [{ productId: "sku-cb", quantity: 1, unitPrice: 100 }] },
        { meta: { user: { id: "alice", roles: [] } } },
      );
    try {
      for (let i = 0; i < 4; i++) await assert.rejects(place(), { code: 503 });
      await eventually(
        async () => ((await breakerOf(node, "inventory-service"))?.state === "open" ? true : undefined),
        5_000,
        20,
      );
      inventory.resetStats();
      await assert.rejects(place(), { code: 503, type: "INVENTORY_UNAVAILABLE" });
      assert.equal(inventory.stats().requests.total, 0, "short-circuited");
      assert.equal(
        inventory.reservations().filter((r) => r.status === "RESERVED" && r.items[0]?.productId === "sku-cb")
          .length,
        0,
      );
    } finally {
      await inventory.faults.set({ mode: "none" });
      await node.broker.call("saga.resetBreakers", {});
    }
    const after = await node.broker.call<{ status: string }, PlaceOrderParams>(
      "saga.placeOrder",
      { currency: "EUR", items: [{ productId: "sku-cb", quantity: 1, unitPrice: 100 }] },
      { meta: { user: { id: "alice", roles: [] } } },
    );
    assert.equal(after.status, "PENDING", "a reset breaker lets orders through again");
  });
});

describe("slow and flapping dependencies", () => {
  test("a slow dependency (longer than the timeout) opens the breaker", async () => {
    const node = await startEmbeddedNode({ ...BREAKER, HTTP_TIMEOUT_MS: "100", RETRY_MAX_ATTEMPTS: "1" });
    try {
      await node.embedded.user!.faults.set({ mode: "slow", delayMs: 1_000 });
      for (let i = 0; i < 3; i++) {
        await assert.rejects(node.broker.call("user-proxy.check", { id: "alice" }), { code: 503 });
      }
      await eventually(
        async () => ((await breakerOf(node, "user-service"))?.state === "open" ? true : undefined),
        5_000,
        20,
      );
    } finally {
      await node.stop();
    }
  });

  test("a flapping dependency (30% 503s) is hidden by retries; the retry counter shows it", async () => {
    const node = await startEmbeddedNode({
      RETRY_MAX_ATTEMPTS: "5",
      RETRY_BASE_DELAY_MS: "1",
      RETRY_MAX_DELAY_MS: "5",
    });
    try {
      await node.embedded.user!.faults.set({ mode: "error-rate", errorRate: 0.3, errorStatus: 503 });
      const results = await Promise.allSettled(
        Array.from({ length: 60 }, () => node.broker.call("user-proxy.check", { id: "alice" })),
      );
      const failed = results.filter((r) => r.status === "rejected").length;
      // 0.3^5 per call: practically never; allow one for the randomness.
      assert.ok(failed <= 1, `${failed} calls failed`);
      const { retries } = await node.broker.call<{ retries: number }>("user-proxy.stats");
      assert.ok(retries >= 5, `retries counted: ${retries}`);
      assert.ok(node.embedded.user!.stats().requests.total > 60);
      assert.notEqual((await breakerOf(node, "user-service"))?.state, "open");
    } finally {
      await node.stop();
    }
  });

  test("the bulkhead caps concurrent calls to a slow dependency and refuses the overflow at once", async () => {
    const node = await startEmbeddedNode({
      BULKHEAD_CONCURRENCY: "2",
      BULKHEAD_MAX_QUEUE: "3",
      HTTP_TIMEOUT_MS: "2000",
    });
    try {
      const user = node.embedded.user!;
      await user.faults.set({ mode: "slow", delayMs: 300 });
      user.resetStats();
      const started = Date.now();
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => node.broker.call("user-proxy.check", { id: "alice" })),
      );
      const refused = results.filter(
        (r) => r.status === "rejected" && (r.reason as Error).name === "QueueIsFullError",
      );
      assert.equal(refused.length, 5, "2 running + 3 queued, the other 5 refused");
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 5);
      assert.equal(user.stats().requests.total, 5, "the dependency saw only what the bulkhead let through");
      // Two at a time, 300 ms each: at least three rounds.
      assert.ok(Date.now() - started >= 850, `took ${Date.now() - started} ms`);
    } finally {
      await node.stop();
    }
  });

  test("client errors (404 unknown user, 409 stock) are answers, not failures: the breaker stays closed", async () => {
    const node = await startEmbeddedNode(BREAKER);
    try {
      for (let i = 0; i < 6; i++) {
        assert.deepEqual(await node.broker.call("user-proxy.check", { id: `unknown-${i}` }), {
          kind: "refused",
          why: "unknown",
        });
        await assert.rejects(
          node.broker.call("inventory-proxy.reserve", {
            orderId: `o-${i}`,
            items: [{ productId: "OUT-x", quantity: 1 }],
          }),
          { code: 409 },
        );
      }
      assert.equal(await breakerOf(node, "user-service"), undefined);
      assert.equal(await breakerOf(node, "inventory-service"), undefined);
    } finally {
      await node.stop();
    }
  });
});

describe("the middleware-order trap: timeouts must reach the circuit breaker", () => {
  // A proxy-like action that is slower than the caller's timeout, on the caller's own node.
  async function tripsOnTimeouts(middlewares: readonly string[] | undefined): Promise<boolean> {
    const broker = new ServiceBroker({
      namespace: `trap-${Math.random().toString(36).slice(2)}`,
      logger: false,
      circuitBreaker: {
        enabled: true,
        threshold: 0.5,
        minRequestCount: 2,
        windowTime: 60,
        halfOpenTime: 10_000,
        check: (err: Error) =>
          err.name === "RequestTimeoutError" || ((err as { code?: number }).code ?? 0) >= 500,
      },
      ...(middlewares ? { internalMiddlewares: false, middlewares: [...middlewares] } : {}),
    });
    broker.createService({
      name: "slow-proxy",
      actions: { hang: () => new Promise((r) => setTimeout(r, 200)) },
    });
    let opened = false;
    broker.localBus.on("$circuit-breaker.opened", () => {
      opened = true;
    });
    await broker.start();
    for (let i = 0; i < 4; i++) {
      await broker.call("slow-proxy.hang", {}, { timeout: 50 }).catch(() => undefined);
    }
    // Let the slow handlers finish: with the stock order the breaker then counts them as successes.
    await new Promise((r) => setTimeout(r, 300));
    await broker.stop();
    return opened;
  }

  test("with Moleculer's stock order, timeouts never open the breaker", async () => {
    assert.equal(await tripsOnTimeouts(undefined), false);
  });

  test("with this project's order (Timeout inside CircuitBreaker), they do", async () => {
    assert.equal(await tripsOnTimeouts(MIDDLEWARE_ORDER), true);
  });
});

describe("two saga nodes keep their own breaker views", () => {
  let user: RunningSimulator;
  const brokers: ServiceBroker[] = [];

  before(async () => {
    user = await startUserService();
  });
  after(async () => {
    await Promise.all(brokers.map((b) => b.stop()));
    await user.stop();
  });

  test("node A's breaker opens on A's failures; node B's view stays closed and B still reaches the service", async () => {
    const ns = `views-${Math.random().toString(36).slice(2)}`;
    const config = loadConfig({ CB_MIN_REQUESTS: "3", CB_HALF_OPEN_MS: "60000", RETRY_MAX_ATTEMPTS: "1" });
    const make = (nodeID: string) => {
      const broker = new ServiceBroker({
        namespace: ns,
        nodeID,
        transporter: "Fake",
        logger: false,
        internalMiddlewares: false,
        middlewares: [...MIDDLEWARE_ORDER],
        circuitBreaker: {
          enabled: true,
          threshold: 0.5,
          minRequestCount: 3,
          windowTime: 60,
          halfOpenTime: 60_000,
        },
      });
      broker.createService({ ...userProxyService(config, user.url) } as never);
      broker.createService({ name: "saga", mixins: [breakerViewMixin()] });
      brokers.push(broker);
      return broker;
    };
    const a = make("node-a");
    const b = make("node-b");
    await Promise.all([a.start(), b.start()]);
    await user.faults.set({ mode: "error-rate", errorRate: 1, errorStatus: 503 });
    // Node A calls its local proxy and fails: only A's breaker trips.
    for (let i = 0; i < 3; i++) {
      await a.call("user-proxy.check", { id: "alice" }, { nodeID: "node-a" }).catch(() => undefined);
    }
    await eventually(
      async () => {
        const list = await a.call<BreakerEntry[], object>("saga.breakers", {}, { nodeID: "node-a" });
        return list.some((x) => x.state === "open") ? true : undefined;
      },
      5_000,
      20,
    );
    const bView = await b.call<BreakerEntry[], object>("saga.breakers", {}, { nodeID: "node-b" });
    assert.deepEqual(bView, [], "B saw A's broadcast but keeps only its own breakers");
    await user.faults.set({ mode: "none" });
    assert.deepEqual(await b.call("user-proxy.check", { id: "alice" }, { nodeID: "node-b" }), {
      kind: "verified",
    });
  });
});
