import assert from "node:assert/strict";
import { test } from "node:test";
import { loadRequestQueue, stopRequestQueueLoop } from "../../lib/channel/kafkajs-request-queue";

const RequestQueue = loadRequestQueue() as unknown as new (
  options: object,
) => {
  pending: unknown[];
  inflight: Map<number, unknown>;
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  destroy(): void;
};
const logger = { debug() {}, info() {}, warn() {}, error() {} };

function queue(maxInFlightRequests = 1) {
  return new RequestQueue({
    maxInFlightRequests,
    requestTimeout: 30_000,
    enforceRequestTimeout: true,
    clientId: "test",
    broker: "127.0.0.1:0",
    logger,
  });
}

test("a request queue with nothing waiting arms no timer; one with a waiting request checks again until it leaves", async () => {
  stopRequestQueueLoop();
  stopRequestQueueLoop(); // once per process, whoever calls it first
  const idle = queue();
  const busy = queue(1);
  const throttled = queue();
  try {
    // What fulfillRequest does after each response: without the fix this armed a 1 ms timer that
    // re-armed itself for ever.
    idle.checkPendingRequests();
    assert.equal(idle.throttleCheckTimeoutId, null, "an idle queue schedules nothing");

    const sent: string[] = [];
    busy.inflight.set(1, {});
    busy.pending.push({ send: () => sent.push("second"), expectResponse: true });
    busy.checkPendingRequests();
    assert.notEqual(busy.throttleCheckTimeoutId, null, "a waiting request is checked again");
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(sent, [], "not sent while the one in flight is there");
    busy.inflight.delete(1);
    await new Promise((r) => setTimeout(r, 30));
    assert.deepEqual(sent, ["second"], "sent once the queue has room");
    assert.equal(busy.throttleCheckTimeoutId, null, "and nothing is armed after it left");

    throttled.throttledUntil = Date.now() + 20;
    throttled.checkPendingRequests();
    assert.notEqual(throttled.throttleCheckTimeoutId, null, "a throttle's end is still checked");
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(throttled.throttleCheckTimeoutId, null, "and not after it");
  } finally {
    for (const q of [idle, busy, throttled]) q.destroy();
  }
});
