import assert from "node:assert/strict";
import { test } from "node:test";
import { KeyedMutex } from "../../lib/order-owner";

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
