// Single writer per order. FerretDB 1.x executes an update as a query followed by an
// unconditional write by _id, so a version-guarded update is not atomic there: two nodes can
// both "win". Every write of one order is therefore sent to one owner node (rendezvous hashing
// over the nodes running `orders`), which serializes them per order (KeyedMutex). On MongoDB the
// guarded update is atomic anyway; this keeps FerretDB safe too.
import { createHash } from "node:crypto";
import type { ServiceBroker } from "moleculer";

function weight(nodeID: string, key: string): bigint {
  return createHash("sha1").update(`${nodeID}\u0000${key}`).digest().readBigUInt64BE(0);
}

/** The node that writes this order, or undefined to let the broker choose (no endpoint known yet). */
export function ownerOf(
  broker: ServiceBroker,
  orderId: string,
  action = "order-store.write",
): string | undefined {
  const list = broker.registry.getActionEndpoints(action) as unknown as
    | { endpoints: { id: string; isAvailable: boolean }[] }
    | undefined;
  const nodes = (list?.endpoints ?? []).filter((ep) => ep.isAvailable).map((ep) => ep.id);
  // One node owns everything: no hash to compute (two SHA-1s per order on a single node).
  if (nodes.length < 2) return nodes[0];
  let best: string | undefined;
  let bestWeight = -1n;
  for (const node of nodes) {
    const w = weight(node, orderId);
    if (w > bestWeight) {
      best = node;
      bestWeight = w;
    }
  }
  return best;
}

/** Call options that send a write of `orderId` to its owner. */
export function toOwner(broker: ServiceBroker, orderId: string): { nodeID?: string } {
  const nodeID = ownerOf(broker, orderId);
  return nodeID ? { nodeID } : {};
}

/** Runs tasks for the same key one after another (in this process). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(task, task);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * Whether this node runs a cluster-wide periodic task (a store scan) this time: the owner of the
 * task's name among the nodes offering `action`. Another node takes over when it leaves.
 */
export function isLeader(broker: ServiceBroker, action: string): boolean {
  const owner = ownerOf(broker, `task:${action}`, action);
  return owner === undefined || owner === broker.nodeID;
}
