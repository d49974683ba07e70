// A new PENDING order as the saga would write it, for tests that talk to the orders service directly.
import { createOrder, type Order } from "../../domain/order";

export function pendingOrder(orderId: string, productId: string, unitPrice: number): Order {
  return createOrder(
    { items: [{ productId, quantity: 1, unitPrice }], currency: "EUR" },
    {
      orderId,
      userId: "alice",
      userVerified: true,
      correlationId: `c-${orderId}`,
      paymentTimeoutMs: 30_000,
      now: new Date(),
    },
  );
}
