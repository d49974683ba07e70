// Chaos: while orders flow through the REST API of two service nodes, stop and restart Kafka,
// FerretDB and NATS (scripts/infra.sh), SIGKILL a node, and make the Inventory simulator flap.
// After each fault: quiescence, then the invariants: nothing accepted is lost, nothing doubled,
// every order terminal and consistent with the payment decisions, no stock held for a cancelled
// order. One table per fault is printed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MongoClient } from "mongodb";
import type { InventorySimulator } from "../../simulators/http/inventory-service";
import type { PaymentSimulator } from "../../simulators/payment/payment-simulator";
import type { Cluster } from "../helpers/cluster";
import { infraEnv } from "../helpers/env";
import { call, eventually } from "../helpers/http";
import { infra, restartSkip } from "../helpers/infra-script";
import { token } from "../helpers/jwt";
import { startWorld, type World } from "../helpers/world";

const env = infraEnv();
const skip = restartSkip(env);
const ORDERS_PER_FAULT = Number(process.env.CHAOS_ORDERS ?? "40");

interface OrderDoc {
  _id: string;
  status: string;
  total: number;
  stockHeld: boolean;
  refund?: unknown;
}

describe("chaos: faults while orders flow", { skip, timeout: 900_000 }, () => {
  let world: World;
  let cluster: Cluster;
  let inventory: InventorySimulator;
  let payment: PaymentSimulator;
  let mongo: MongoClient | undefined;
  let tok: string;
  const report: Record<string, unknown>[] = [];

  before(async () => {
    if ("skip" in env) return;
    world = await startWorld(
      env,
      { failureRate: 0, failCents: [13], latencyMs: 0 },
      // The periodic sweep keeps its default (5 min): recovery within the test must come from
      // in-memory retries and the sweeps nodes ask for (start-up, a node leaving, a give-up).
      { paymentTimeoutMs: 20_000, extraEnv: { LOG_LEVEL: "warn" } },
    );
    ({ cluster, inventory, payment } = world);
    await Promise.all([cluster.startNode("a"), cluster.startNode("b")]);
    tok = await token("chaos");
  });

  after(async () => {
    if ("skip" in env) return;
    console.log("\nchaos report");
    console.table(report);
    await mongo
      ?.db()
      .dropDatabase()
      .catch(() => undefined);
    await mongo?.close();
    await world?.stop();
  });

  /** Places orders at a steady pace; a client that gets a 5xx retries with the same key. */
  async function traffic(
    tag: string,
    count: number,
    fault: () => Promise<void>,
  ): Promise<{ ids: string[]; retried: number }> {
    const ids: string[] = [];
    let retried = 0;
    const placeOne = async (i: number) => {
      const key = `${cluster.id}-${tag}-${i}`;
      const unitPrice = 1000 + (i % 4 === 0 ? 13 : 50 + i);
      for (let attempt = 0; attempt < 40; attempt++) {
        const node = cluster.nodes.get(attempt % 2 ? "b" : "a")!;
        try {
          const res = await call<{ id: string }>(node.url, "POST", "/api/v1/orders", {
            token: tok,
            body: { currency: "EUR", items: [{ productId: `chaos-${i % 5}`, quantity: 1, unitPrice }] },
            headers: { "Idempotency-Key": key },
          });
          if (res.status === 202 || res.status === 200) {
            ids.push(res.body.id);
            return;
          }
        } catch {
          // connection refused while a node restarts: retry below
        }
        retried++;
        await new Promise((r) => setTimeout(r, 500));
      }
      throw new Error(`order ${key} was never accepted`);
    };
    const flow = (async () => {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < count; i++) {
        pending.push(placeOne(i));
        await new Promise((r) => setTimeout(r, 100));
      }
      await Promise.all(pending);
    })();
    await new Promise((r) => setTimeout(r, 1_000));
    await fault();
    await flow;
    return { ids, retried };
  }

  async function checkInvariants(
    name: string,
    ids: string[],
    retried: number,
    faultAt: number,
  ): Promise<void> {
    mongo ??= await MongoClient.connect(cluster.mongoUrl, { useUnifiedTopology: true });
    const orders = mongo.db().collection("orders");
    await eventually(
      async () =>
        (await orders.countDocuments({ _id: { $in: ids }, status: "PENDING" })) === 0 ? true : undefined,
      180_000,
      500,
    );
    const recovered = (Date.now() - faultAt) / 1000;
    const docs = (await orders.find({ _id: { $in: ids } }).toArray()) as unknown as OrderDoc[];
    const ledger = new Map(payment.ledger().map((e) => [e.orderId, e]));
    const lost = ids.length - docs.length;
    const doubled = [...ledger.values()].filter((e) => e.chargeCount > 1).length;
    const confirmed = docs.filter((o) => o.status === "CONFIRMED");
    const cancelled = docs.filter((o) => o.status === "CANCELLED");
    const confirmedWithoutPayment = confirmed.filter(
      (o) => ledger.get(o._id)?.decision !== "succeeded",
    ).length;
    await eventually(
      async () => {
        const held = inventory.reservations().filter((r) => r.status === "RESERVED");
        return cancelled.every((o) => !held.some((r) => r.reservationId === o._id)) ? true : undefined;
      },
      60_000,
      500,
    );
    // Nothing valid was dead-lettered: faults delay messages, they never make them "invalid".
    const deadLetters = await world.paymentChannel.readTopic(cluster.topics.paymentDeadLetters, 100);
    report.push({
      fault: name,
      accepted: ids.length,
      confirmed: confirmed.length,
      cancelled: cancelled.length,
      lost,
      doubled,
      "client retries": retried,
      "dead letters": deadLetters.length,
      "recovered in s": recovered.toFixed(1),
    });
    assert.equal(new Set(ids).size, ids.length, "one order per idempotency key");
    assert.equal(lost, 0, "nothing accepted is lost");
    assert.equal(doubled, 0, "nobody charged twice");
    assert.equal(
      deadLetters.length,
      0,
      `no valid message dead-lettered: ${deadLetters.map((m) => m.headers["dlq-reason"]).join(", ")}`,
    );
    assert.equal(confirmedWithoutPayment, 0, "no confirmation without a payment");
    assert.equal(confirmed.length + cancelled.length, ids.length, "every order terminal");
    for (const o of docs.filter((d) => d.total % 100 === 13)) assert.equal(o.status, "CANCELLED");
  }

  const restart = (name: string, downMs: number) => async () => {
    infra("stop", name);
    await new Promise((r) => setTimeout(r, downMs));
    infra("start", name);
  };

  test("Kafka stopped and restarted", async () => {
    const at = Date.now();
    const { ids, retried } = await traffic("kafka", ORDERS_PER_FAULT, restart("kafka", 5_000));
    await checkInvariants("kafka restart", ids, retried, at);
  });

  test("FerretDB stopped and restarted", async () => {
    const at = Date.now();
    const { ids, retried } = await traffic("ferretdb", ORDERS_PER_FAULT, restart("ferretdb", 3_000));
    await checkInvariants("ferretdb restart", ids, retried, at);
  });

  test("NATS stopped and restarted", async () => {
    const at = Date.now();
    const { ids, retried } = await traffic("nats", ORDERS_PER_FAULT, restart("nats", 3_000));
    await checkInvariants("nats restart", ids, retried, at);
  });

  test("a service node SIGKILLed and restarted", async () => {
    const at = Date.now();
    const { ids, retried } = await traffic("sigkill", ORDERS_PER_FAULT, async () => {
      await cluster.kill("a", "SIGKILL");
      await new Promise((r) => setTimeout(r, 2_000));
      await cluster.startNode("a");
    });
    await checkInvariants("node SIGKILL", ids, retried, at);
  });

  test("the Inventory simulator flaps", async () => {
    const at = Date.now();
    const { ids, retried } = await traffic("flap", ORDERS_PER_FAULT, async () => {
      await inventory.faults.set({ mode: "error-rate", errorRate: 0.4, errorStatus: 503 });
      await new Promise((r) => setTimeout(r, 3_000));
      await inventory.faults.set({ mode: "none" });
    });
    await checkInvariants("inventory flapping", ids, retried, at);
    assert.equal((await call(cluster.nodes.get("a")!.url, "GET", "/ready")).status, 200);
  });
});
