// The order store's contract (service `order-store`, internal to the broker): its actions'
// params and results, and the local event it raises after every write.
import type { Change, OrderStatus } from "../domain/order";
import type { OrderRecord, OutboxEntry } from "../lib/order-record";

export const ORDER_STORE = "order-store";

export interface InsertParams {
  record: OrderRecord;
}
export type InsertResult = { created: true; record: OrderRecord } | { created: false; existing: OrderRecord };

export interface GetParams {
  id: string;
  /** Skip the store node's cache (operators, retries after a lost race). */
  fresh?: boolean;
}

export interface WriteParams {
  /** The record as the caller read it: the write lands only if the order is still at this version. */
  current: OrderRecord;
  change: Change;
  /** The change's events, queued in the outbox in the same write. */
  queued: OutboxEntry[];
  at: string;
}
export type WriteResult =
  | { written: true; record: OrderRecord }
  | { written: false; current: OrderRecord | null };

/**
 * The relay's word that Kafka has events of an order: on the local bus when the order's owner is
 * this node (the relay's usual case: it publishes what its own store wrote), else the action.
 */
export const EVENTS_PUBLISHED = "outbox-relay.published";
export interface MarkPublishedParams {
  id: string;
  eventIds: string[];
  /** When Kafka took them. */
  publishedAt: string;
}

export interface ScanParams {
  limit?: number;
  /** ISO timestamp: pending orders whose deadline is before it. */
  dueBefore?: string;
  status?: OrderStatus;
}

/**
 * Raised on the store's own node (broker.localBus) after every write, so the relay and the saga
 * runtime beside it can act (publish the outbox, arm or clear a deadline) without the store
 * knowing either. The local bus, not a service event: a listener hears it while it is still
 * starting (a relay connecting to Kafka queues what it hears).
 */
export const ORDER_WRITTEN = "order-store.written";
export interface OrderWrittenEvent {
  record: OrderRecord;
  /** insert: a new order; change: a decided change; mark: only publication marks were written. */
  cause: "insert" | "change" | "mark";
}
