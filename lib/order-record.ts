// How an order sits in the store: the aggregate (domain/order.ts) plus the storage concerns the
// domain does not know: the document key `_id`, and the outbox of events not yet on Kafka.
// The outbox is one JSON string in the document, not an array of nested event documents:
// FerretDB keeps every nested field with its type, which made every write of an order dearer
// (docs/infra.md). Nothing queries inside the outbox; scans filter on outboxPending.
import type { OrderEvent } from "../domain/events";
import type { Order } from "../domain/order";

/** An event waiting in the order's outbox, with the context it travels with. */
export interface OutboxEntry {
  event: OrderEvent;
  correlationId: string;
  traceParent?: string;
}

/** An order and its unpublished events: what the store holds and hands back. */
export interface OrderRecord {
  order: Order;
  outbox: OutboxEntry[];
}

/** The document in the `orders` collection. */
export type OrderDocument = Omit<Order, "id"> & { _id: string; outbox: string; outboxPending: number };

export function toDocument({ order, outbox }: OrderRecord): OrderDocument {
  const { id, ...rest } = order;
  return { _id: id, ...rest, outbox: JSON.stringify(outbox), outboxPending: outbox.length };
}

/** The fields of a partial write, in document form. */
export function toDocumentFields(fields: Partial<Order>, outbox?: OutboxEntry[]): Partial<OrderDocument> {
  const { id: _id, ...rest } = fields;
  return outbox ? { ...rest, outbox: JSON.stringify(outbox), outboxPending: outbox.length } : rest;
}

export function fromDocument(doc: OrderDocument): OrderRecord;
export function fromDocument(doc: OrderDocument | null | undefined): OrderRecord | null;
export function fromDocument(doc: OrderDocument | null | undefined): OrderRecord | null {
  if (!doc) return null;
  const { _id, outbox, outboxPending: _pending, ...rest } = doc;
  // Orders written before the payment ledger existed have none yet.
  const order = { id: _id, ...rest, payments: rest.payments ?? [] } as Order;
  return { order, outbox: JSON.parse(outbox) as OutboxEntry[] };
}

export function outboxEntries(
  events: OrderEvent[],
  trace: { correlationId: string; traceParent?: string },
): OutboxEntry[] {
  return events.map((event) =>
    trace.traceParent
      ? { event, correlationId: trace.correlationId, traceParent: trace.traceParent }
      : { event, correlationId: trace.correlationId },
  );
}
