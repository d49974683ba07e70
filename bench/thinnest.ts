// The embedded mode's fair limit: the steps of one order, nothing else, in the thinnest code that
// does them in one process: raw node:http, undici and a Map. POST → the User service's check →
// the stock reservation (the same HTTP simulators the embedded service calls) → the order and
// its OrderCreated written to a Map → 202; then the payment answer (a JSON message through the
// event loop, as the embedded in-memory channel carries it) → confirmed, with its OrderConfirmed.
// No JWT, no validation beyond what the steps need, no retries, no breaker, no metrics: what the
// service costs beyond this is what its framework and its guarantees cost.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { startInventoryService } from "../simulators/http/inventory-service";
import { startUserService } from "../simulators/http/user-service";
import { closedLoad, type LoadResult, postJson } from "./load";
import { body } from "./saga";

interface ThinOrder {
  id: string;
  userId: string;
  items: { productId: string; quantity: number; unitPrice: number }[];
  total: number;
  currency: string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED";
  outbox: string[];
  placedAt: number;
}

export interface ThinResult {
  post: LoadResult;
  /** POST start → CONFIRMED/CANCELLED, ms, of the orders placed during the load. */
  completionMs: number[];
}

export async function thinnestOrders(concurrency: number, durationMs: number): Promise<ThinResult> {
  const user = await startUserService({ port: 0 });
  const inventory = await startInventoryService({ port: 0 });
  const users = new Pool(user.url, { connections: 32 });
  const stock = new Pool(inventory.url, { connections: 32 });
  const orders = new Map<string, ThinOrder>();
  const completionMs: number[] = [];

  const settle = (message: string) => {
    const event = JSON.parse(message) as { orderId: string; type: string; payload: { paymentId: string } };
    const order = orders.get(event.orderId);
    if (order?.status !== "PENDING") return;
    order.status = event.type === "PaymentSucceeded" ? "CONFIRMED" : "CANCELLED";
    order.outbox.push(
      JSON.stringify({ type: `Order${order.status === "CONFIRMED" ? "Confirmed" : "Cancelled"}` }),
    );
    completionMs.push(performance.now() - order.placedAt);
  };
  const pay = (created: string) => {
    const event = JSON.parse(created) as { orderId: string; payload: { total: number } };
    const ok = event.payload.total % 100 !== 13;
    const answer = JSON.stringify({
      eventId: randomUUID(),
      type: ok ? "PaymentSucceeded" : "PaymentFailed",
      orderId: event.orderId,
      payload: { paymentId: `pay-${randomUUID()}` },
    });
    setImmediate(settle, answer);
  };

  const place = async (req: IncomingMessage, res: ServerResponse, placedAt: number) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const input = JSON.parse(Buffer.concat(chunks).toString()) as Pick<ThinOrder, "items" | "currency">;
    const userId = "bench-user";
    const checked = await users.request({ method: "GET", path: `/users/${userId}` });
    const who = (await checked.body.json()) as { status?: string };
    if (who.status !== "active") return reply(res, 403, { title: "User may not place orders" });
    const id = randomUUID();
    const reserved = await stock.request({
      method: "POST",
      path: "/reservations",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reservationId: id, items: input.items }),
    });
    await reserved.body.dump();
    if (reserved.statusCode >= 300) return reply(res, 409, { title: "Insufficient stock" });
    const total = input.items.reduce((sum, i) => sum + i.quantity * i.unitPrice, 0);
    const created = JSON.stringify({ type: "OrderCreated", orderId: id, payload: { userId, total } });
    const order: ThinOrder = {
      id,
      userId,
      items: input.items,
      total,
      currency: input.currency,
      status: "PENDING",
      outbox: [created],
      placedAt,
    };
    orders.set(id, order);
    reply(res, 202, { id, status: order.status, total, currency: order.currency });
    setImmediate(pay, created);
  };

  const server = createServer((req, res) => {
    // The client's start of the POST is not known here; the arrival is the closest the server sees.
    place(req, res, performance.now()).catch(() => reply(res, 500, { title: "Internal error" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/orders`;
  const post = await closedLoad(
    "same work, thinnest code",
    (agent, i) => postJson(agent, url, body(i)),
    concurrency,
    durationMs,
  );
  await new Promise((r) => setTimeout(r, 500));
  server.close();
  await users.close();
  await stock.close();
  await user.stop();
  await inventory.stop();
  return { post, completionMs: completionMs.sort((a, b) => a - b) };
}

function reply(res: ServerResponse, status: number, payload: object): void {
  const text = JSON.stringify(payload);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
