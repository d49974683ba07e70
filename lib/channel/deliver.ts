// Delivery of a fetched batch, shared by both channels. One message at a time per partition
// makes a consumer as slow as its handler's latency (a store write, a broker call); orders are
// independent of each other, so only messages with the same key need to wait for each other.
import type { MessageHandler, ReceivedMessage } from "./types";

export interface DeliveryOptions {
  /** Keys handled at the same time, at most. */
  concurrency: number;
  /** True once the subscription is stopping: retries give up, the batch is not committed. */
  stopping(): boolean;
  /** Wait before retrying a message whose handler threw. */
  retryDelayMs(retry: number): number;
  onRetry?(message: ReceivedMessage, retry: number, error: Error): void;
  /** Called while waiting to retry (Kafka: heartbeat, so the group keeps the partition). */
  whileWaiting?(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Handles every message of the batch: the same key in offset order, different keys concurrently.
 * A message whose handler throws is retried in place (nothing after it with its key runs first).
 * Resolves true when all were handled, so that the batch's offsets may be committed; false when
 * the subscription stopped first (the whole batch is delivered again: at least once).
 */
export async function deliverByKey(
  messages: ReceivedMessage[],
  handler: MessageHandler,
  options: DeliveryOptions,
): Promise<boolean> {
  const byKey = new Map<string, ReceivedMessage[]>();
  for (const message of messages) {
    const queue = byKey.get(message.key);
    if (queue) queue.push(message);
    else byKey.set(message.key, [message]);
  }
  const queues = [...byKey.values()];
  let next = 0;
  let complete = true;

  const handleOne = async (message: ReceivedMessage): Promise<boolean> => {
    for (let retry = 0; ; retry++) {
      try {
        await handler(message);
        return true;
      } catch (err) {
        if (options.stopping()) return false;
        options.onRetry?.(message, retry, err as Error);
        await sleep(options.retryDelayMs(retry));
        await options.whileWaiting?.().catch(() => undefined);
        if (options.stopping()) return false;
      }
    }
  };

  const worker = async () => {
    while (complete && next < queues.length) {
      const queue = queues[next++]!;
      for (const message of queue) {
        if (!(await handleOne(message))) {
          complete = false;
          return;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, queues.length) }, worker));
  return complete;
}
