// The write fence on the real FerretDB: two store nodes that both believe they own the same
// orders (two brokers without a transporter: neither knows the other) change each order from the
// same version at the same moment, one confirming it, the other cancelling it. Exactly one write
// per order must land, and the store must hold the one that did. Unfenced (WRITE_FENCE=off) this
// fails: FerretDB runs the guarded update as a read and then a write, so both can pass.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ServiceBroker } from "moleculer";
import { MongoClient } from "mongodb";
import type { InsertParams, InsertResult, WriteParams, WriteResult } from "../../contracts/order-store";
import { makeEvent } from "../../domain/events";
import { decide } from "../../domain/place-order.saga";
import { systemSource } from "../../lib/clock";
import { loadConfig } from "../../lib/config";
import type { OrderRecord } from "../../lib/order-record";
import { CLAIMS_COLLECTION, type ClaimCollection, WriteFence } from "../../lib/write-fence";
import { orderStoreService } from "../../services/order-store.service";
import { infraEnv, uniqueName, withDatabase } from "../helpers/env";
import { pendingOrder } from "../helpers/orders";

const env = infraEnv();
const skip = "skip" in env ? env.skip : false;
const ORDERS = 150;

describe("write fence on FerretDB", { skip }, () => {
  const db = uniqueName("fence");
  let mongoUrl: string;
  let nodes: ServiceBroker[] = [];
  let client: MongoClient;

  before(async () => {
    if ("skip" in env) return;
    mongoUrl = withDatabase(env.mongoUrl, db);
    const config = loadConfig({ MONGO_URL: mongoUrl, WRITE_FENCE: process.env.WRITE_FENCE ?? "on" });
    nodes = ["n1", "n2"].map((nodeID) => new ServiceBroker({ nodeID, logger: false, transporter: null }));
    for (const broker of nodes) broker.createService(orderStoreService(config));
    await Promise.all(nodes.map((b) => b.start()));
    client = await MongoClient.connect(mongoUrl, { useUnifiedTopology: true });
  });

  after(async () => {
    await Promise.all(nodes.map((b) => b.stop()));
    for (const name of [db, `${db}_claims`])
      await client
        ?.db(name)
        .dropDatabase()
        .catch(() => undefined);
    await client?.close();
  });

  test("of two nodes changing one order from one version, exactly one write lands", async () => {
    const [n1, n2] = nodes as [ServiceBroker, ServiceBroker];
    const orders: OrderRecord[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const record = pendingOrder(`${db}-${i}`, "sku-1", 1000 + i);
      const inserted = await n1.call<InsertResult, InsertParams>("order-store.insert", { record });
      assert.ok(inserted.created);
      // As the relay's mark would: the payment window is open.
      orders.push({ order: { ...record.order, publishedAt: record.order.createdAt }, outbox: record.outbox });
    }
    const results = await Promise.all(
      orders.map(async (current) => {
        const { order } = current;
        const source = systemSource();
        const paid = decide(
          order,
          {
            type: "payment",
            event: makeEvent(
              "PaymentSucceeded",
              order.id,
              { paymentId: `pay-${order.id}`, amount: order.total, currency: order.currency },
              source,
            ),
          },
          source,
        );
        const late = decide(
          order,
          { type: "deadline" },
          { ...source, now: new Date(Date.parse(order.paymentDeadline) + 1_000) },
        );
        assert.ok(paid.kind === "apply" && late.kind === "apply");
        const write = (node: ServiceBroker, change: typeof paid.change) =>
          node.call<WriteResult, WriteParams>("order-store.write", {
            current,
            change,
            queued: [],
            at: source.now.toISOString(),
          });
        const [confirm, cancel] = await Promise.all([write(n1, paid.change), write(n2, late.change)]);
        return { id: order.id, confirm: confirm.written, cancel: cancel.written };
      }),
    );
    const docs = (await client
      .db()
      .collection("orders")
      .find({ _id: { $in: orders.map((o) => o.order.id) } })
      .toArray()) as unknown as { _id: string; status: string; version: number }[];
    const stored = new Map(docs.map((d) => [d._id, d]));
    const both = results.filter((r) => r.confirm && r.cancel).length;
    const neither = results.filter((r) => !r.confirm && !r.cancel).length;
    const wrong = results.filter((r) => {
      const doc = stored.get(r.id);
      return doc?.status !== (r.confirm ? "CONFIRMED" : "CANCELLED") || doc.version !== 2;
    }).length;
    console.log({ orders: ORDERS, bothLanded: both, neitherLanded: neither, storeDisagrees: wrong });
    assert.equal(both, 0, "never two writes on one version");
    assert.equal(neither, 0, "one of the two always lands");
    assert.equal(wrong, 0, "the store holds the write that landed");
  });

  test("claims older than their lifetime are swept, younger ones kept", async () => {
    let now = Date.now();
    const claims = client.db().collection(`${CLAIMS_COLLECTION}_sweep`) as unknown as ClaimCollection;
    const fence = new WriteFence(claims, { nodeID: "t", ttlMs: 10_000, now: () => new Date(now) });
    assert.ok(await fence.claim("old", 2));
    now += 11_000;
    assert.ok(await fence.claim("young", 2));
    assert.equal(await fence.sweep(), 1);
    // The old one is free again; the young one still fences another writer.
    const other = new WriteFence(claims, { nodeID: "u", ttlMs: 10_000, now: () => new Date(now) });
    assert.ok(await other.claim("old", 2));
    assert.equal(await other.claim("young", 2), null);
  });
});
