// Plays the Inventory service: stock per product, all-or-nothing reservations keyed by a
// reservation id (the order id), idempotent reserve and release.
import { type RunningSimulator, startHttpSimulator } from "./http-simulator";

export const DEFAULT_STOCK = 1_000_000;

export interface Reservation {
  reservationId: string;
  items: { productId: string; quantity: number }[];
  status: "RESERVED" | "RELEASED";
  reservedAt: string;
  releasedAt?: string;
  /** The ledger: every deduction and every give-back this id caused (idempotent calls add none). */
  reserveCount: number;
  releaseCount: number;
}

export interface InventorySimulator extends RunningSimulator {
  stock(productId: string): number;
  setStock(productId: string, quantity: number): void;
  reservations(): Reservation[];
}

export async function startInventoryService(
  options: { port?: number; host?: string } = {},
): Promise<InventorySimulator> {
  const stock = new Map<string, number>();
  const reservations = new Map<string, Reservation>();
  const level = (productId: string) =>
    stock.get(productId) ?? (productId.startsWith("OUT-") ? 0 : DEFAULT_STOCK);

  const sim = await startHttpSimulator(
    {
      "POST /reservations": (_req, _p, body) => {
        const { reservationId, items } = (body ?? {}) as Partial<Reservation>;
        if (typeof reservationId !== "string" || !Array.isArray(items) || items.length === 0) {
          return { status: 400, body: { error: "reservationId and items are required" } };
        }
        const existing = reservations.get(reservationId);
        // Same id while reserved: the same answer, no second deduction. A released id may be
        // reserved again (a client retrying after a failed attempt that was rolled back).
        if (existing?.status === "RESERVED")
          return { status: 200, body: { reservationId, status: existing.status } };
        for (const item of items) {
          if (!Number.isInteger(item.quantity) || item.quantity < 1)
            return { status: 400, body: { error: "bad quantity" } };
          if (level(item.productId) < item.quantity) {
            return { status: 409, body: { error: "insufficient_stock", productId: item.productId } };
          }
        }
        for (const item of items) stock.set(item.productId, level(item.productId) - item.quantity);
        reservations.set(reservationId, {
          reservationId,
          items: items.map(({ productId, quantity }) => ({ productId, quantity })),
          status: "RESERVED",
          reservedAt: new Date().toISOString(),
          reserveCount: (existing?.reserveCount ?? 0) + 1,
          releaseCount: existing?.releaseCount ?? 0,
        });
        return { status: 201, body: { reservationId, status: "RESERVED" } };
      },
      "DELETE /reservations/:id": (_req, [id]) => {
        const r = reservations.get(id ?? "");
        if (!r) return { status: 404, body: { error: "no such reservation" } };
        if (r.status === "RESERVED") {
          for (const item of r.items) stock.set(item.productId, level(item.productId) + item.quantity);
          r.status = "RELEASED";
          r.releaseCount++;
          r.releasedAt = new Date().toISOString();
        }
        return { status: 200, body: { reservationId: r.reservationId, status: "RELEASED" } };
      },
      "GET /reservations/:id": (_req, [id]) => {
        const r = reservations.get(id ?? "");
        return r ? { status: 200, body: r } : { status: 404, body: { error: "no such reservation" } };
      },
      "GET /admin/stock/:productId": (_req, [productId]) => ({
        status: 200,
        body: { productId, quantity: level(productId ?? "") },
      }),
      "PUT /admin/stock/:productId": (_req, [productId], body) => {
        const quantity = (body as { quantity?: unknown })?.quantity;
        if (!Number.isInteger(quantity) || (quantity as number) < 0)
          return { status: 400, body: { error: "bad quantity" } };
        stock.set(productId ?? "", quantity as number);
        return { status: 200, body: { productId, quantity } };
      },
      "GET /admin/reservations": () => ({ status: 200, body: [...reservations.values()] }),
    },
    options,
  );
  return {
    ...sim,
    stock: level,
    setStock: (productId, quantity) => stock.set(productId, quantity),
    reservations: () => [...reservations.values()].map((r) => ({ ...r })),
  };
}
