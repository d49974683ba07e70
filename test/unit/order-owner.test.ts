import assert from "node:assert/strict";
import { test } from "node:test";
import { ServiceBroker } from "moleculer";
import { isLeader, KeyedMutex, ownerOf } from "../../lib/order-owner";

test("tasks of one key run one after another, other keys run alongside, failures do not block the queue", async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  const task =
    (name: string, ms: number, fail = false) =>
    async () => {
      log.push(`${name}:start`);
      await new Promise((r) => setTimeout(r, ms));
      log.push(`${name}:end`);
      if (fail) throw new Error(name);
      return name;
    };
  const results = await Promise.allSettled([
    mutex.run("a", task("a1", 30, true)),
    mutex.run("a", task("a2", 5)),
    mutex.run("b", task("b1", 5)),
  ]);
  assert.equal(results[0]!.status, "rejected");
  assert.deepEqual(
    results.slice(1).map((r) => (r as PromiseFulfilledResult<string>).value),
    ["a2", "b1"],
  );
  assert.ok(log.indexOf("a1:end") < log.indexOf("a2:start"), "a2 waited for a1");
  assert.ok(log.indexOf("b1:start") < log.indexOf("a1:end"), "b ran alongside a");
});

test("nodes agree on each order's owner and on one leader per task, also after a node leaves", async () => {
  const namespace = `owner-${process.pid}-${Date.now()}`;
  const brokers = ["n1", "n2", "n3"].map(
    (nodeID) => new ServiceBroker({ nodeID, namespace, transporter: "Fake", logger: false }),
  );
  for (const broker of brokers) {
    broker.createService({ name: "order-store", actions: { write: () => true } });
    broker.createService({ name: "orders", actions: { countByStatus: () => ({}) } });
  }
  try {
    await Promise.all(brokers.map((b) => b.start()));
    await Promise.all(brokers.map((b) => b.waitForServices(["order-store", "orders"])));
    const seesAll = (b: ServiceBroker, n: number) =>
      (b.registry.getActionEndpoints("order-store.write") as unknown as { endpoints: unknown[] }).endpoints
        .length === n;
    for (let i = 0; i < 50 && !brokers.every((b) => seesAll(b, 3)); i++)
      await new Promise((r) => setTimeout(r, 20));

    const ids = Array.from({ length: 30 }, (_, i) => `order-${i}`);
    const owners = ids.map((id) => new Set(brokers.map((b) => ownerOf(b, id))));
    assert.ok(
      owners.every((s) => s.size === 1),
      "every node names the same owner",
    );
    const spread = new Set(owners.map((s) => [...s][0]));
    assert.ok(spread.size > 1, "orders are spread over the nodes");
    const leaders = brokers.filter((b) => isLeader(b, "orders.countByStatus"));
    assert.equal(leaders.length, 1, "one leader");

    const leaving = leaders[0]!;
    await leaving.stop();
    const rest = brokers.filter((b) => b !== leaving);
    for (let i = 0; i < 50 && !rest.every((b) => seesAll(b, 2)); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(rest.filter((b) => isLeader(b, "orders.countByStatus")).length, 1, "another node took over");
  } finally {
    await Promise.allSettled(brokers.map((b) => b.stop()));
  }
});
