import assert from "node:assert/strict";
import { test } from "node:test";
import { deliverByKey } from "../../lib/channel/deliver";
import type { ReceivedMessage } from "../../lib/channel/types";

const msg = (key: string, offset: number): ReceivedMessage => ({
  key,
  value: String(offset),
  headers: {},
  topic: "t",
  partition: 0,
  offset: String(offset),
  raw: { key: Buffer.from(key), value: Buffer.from(String(offset)), headers: [] },
});

const options = { concurrency: 8, stopping: () => false, retryDelayMs: () => 1 };

test("one key's messages run in offset order, one at a time; other keys run alongside", async () => {
  const batch = [msg("a", 0), msg("b", 1), msg("a", 2), msg("c", 3), msg("a", 4), msg("b", 5)];
  const seen: string[] = [];
  const running = new Map<string, number>();
  let maxTotal = 0;
  let total = 0;
  const handled = await deliverByKey(
    batch,
    async (m) => {
      assert.equal(running.get(m.key) ?? 0, 0, `key ${m.key} never runs twice at once`);
      running.set(m.key, 1);
      total++;
      maxTotal = Math.max(maxTotal, total);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(`${m.key}${m.offset}`);
      running.set(m.key, 0);
      total--;
    },
    options,
  );
  assert.equal(handled, true);
  assert.deepEqual(
    seen.filter((s) => s.startsWith("a")),
    ["a0", "a2", "a4"],
  );
  assert.deepEqual(
    seen.filter((s) => s.startsWith("b")),
    ["b1", "b5"],
  );
  assert.equal(seen.length, batch.length);
  assert.ok(maxTotal > 1, "different keys overlapped");
});

test("a failing message is retried in place: nothing after it with its key runs first", async () => {
  const batch = [msg("a", 0), msg("a", 1), msg("b", 2)];
  const seen: string[] = [];
  let failures = 2;
  const retries: number[] = [];
  const handled = await deliverByKey(
    batch,
    async (m) => {
      if (m.offset === "0" && failures-- > 0) throw new Error("store down");
      seen.push(m.offset);
    },
    { ...options, onRetry: (_m, retry) => retries.push(retry) },
  );
  assert.equal(handled, true);
  assert.deepEqual(retries, [0, 1]);
  assert.ok(seen.indexOf("0") < seen.indexOf("1"));
  assert.deepEqual([...seen].sort(), ["0", "1", "2"]);
});

test("stopping during retries gives up and reports the batch as not handled (it comes again)", async () => {
  let stopping = false;
  const handled = await deliverByKey(
    [msg("a", 0), msg("a", 1)],
    async () => {
      stopping = true;
      throw new Error("fails until stopped");
    },
    { ...options, stopping: () => stopping },
  );
  assert.equal(handled, false);
});

test("concurrency is bounded", async () => {
  const batch = Array.from({ length: 40 }, (_, i) => msg(`k${i}`, i));
  let now = 0;
  let max = 0;
  await deliverByKey(
    batch,
    async () => {
      now++;
      max = Math.max(max, now);
      await new Promise((r) => setTimeout(r, 2));
      now--;
    },
    { ...options, concurrency: 4 },
  );
  assert.equal(max, 4);
});
