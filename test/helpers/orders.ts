// A new PENDING order as the saga would write it, for tests that talk to the order store directly.
import { createOrder } from "../../domain/order";
import { systemSource } from "../../lib/clock";
import { type OrderRecord, outboxEntries } from "../../lib/order-record";

export function pendingOrder(orderId: string, productId: string, unitPrice: number): OrderRecord {
  const { order, events } = createOrder(
    { items: [{ productId, quantity: 1, unitPrice }], currency: "EUR" },
    { orderId, userId: "alice", userVerified: true, correlationId: `c-${orderId}`, paymentTimeoutMs: 30_000 },
    systemSource(),
  );
  return { order, outbox: outboxEntries(events, { correlationId: `c-${orderId}` }) };
}
