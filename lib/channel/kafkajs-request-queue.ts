// kafkajs 2.2.4, its last release, keeps each broker connection's request queue in a 1 ms
// setTimeout loop once one request has completed: with nothing pending and no throttle, the check
// reschedules itself at a negative delay (tulios/kafkajs#1556, #1704; the fixes proposed in #1667
// and #1768 were never merged). In a service node at rest that loop was ~70% of its CPU (about 5%
// of a core, with the garbage of a thousand timers a second per connection), and under load it
// kept firing beside the real work. The same method without that branch: a request pushed later
// schedules its own check (push and fulfillRequest call into the queue).
import { createRequire } from "node:module";

interface RequestQueue {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs's own CHECK_PENDING_REQUESTS_INTERVAL: how often waiting requests are retried. */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;
const patched = Symbol.for("order-service.kafkajs.requestQueueLoop");

export function loadRequestQueue(): { prototype: RequestQueue } {
  return createRequire(__filename)("kafkajs/src/network/requestQueue") as { prototype: RequestQueue };
}

function scheduleCheckPendingRequests(this: RequestQueue): void {
  if (this.throttleCheckTimeoutId) return;
  let delay = this.throttledUntil - Date.now();
  if (this.pending.length > 0) delay = delay > 0 ? delay : CHECK_PENDING_REQUESTS_INTERVAL_MS;
  else if (delay <= 0) return;
  this.throttleCheckTimeoutId = setTimeout(() => {
    this.throttleCheckTimeoutId = null;
    this.checkPendingRequests();
  }, delay);
}

/** Replaces the looping method on kafkajs's RequestQueue, once per process. */
export function stopRequestQueueLoop(): void {
  const prototype = loadRequestQueue().prototype as RequestQueue & { [patched]?: true };
  if (prototype[patched]) return;
  prototype.scheduleCheckPendingRequests = scheduleCheckPendingRequests;
  prototype[patched] = true;
}
