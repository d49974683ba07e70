// How an order sits in the store. Its outbox is one JSON string there, not an array of nested
// event documents: FerretDB keeps every nested field with its type, so the events' nested payloads
// made each insert, read and update of an order dearer (insert+read+update triples of order
// documents: +16 to +36% with the outbox as a string, same run). Nothing ever queries inside the
// outbox; the sweeps and gauges filter on outboxPending.
import type { Order, OutboxEntry } from "../domain/order";

type WithOutbox = { outbox?: OutboxEntry[] };
export type Stored<T extends WithOutbox> = Omit<T, "outbox"> & { outbox?: string | OutboxEntry[] };

export function toStored<T extends WithOutbox>(doc: T): Stored<T> {
  return doc.outbox ? { ...doc, outbox: JSON.stringify(doc.outbox) } : doc;
}

/** Reads both forms: an order written before the outbox became a string keeps its array. */
export function fromStored<T extends WithOutbox>(doc: Stored<T>): T {
  if (typeof doc.outbox !== "string") return doc as T;
  return { ...doc, outbox: JSON.parse(doc.outbox) as OutboxEntry[] } as T;
}

export function orderFromStored(doc: Stored<Order> | null | undefined): Order | null {
  return doc ? fromStored<Order>(doc) : null;
}
