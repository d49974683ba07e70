// Open load through every gateway of a cluster for the chaos tests: `count` orders spread over
// `loadMs`, each sent to one node and retried with its Idempotency-Key on the next one after a
// failure (a paused or cut node's gateway answers late or 5xx). A fault runs alongside.
import type { LoggedEvent, Verdict } from "./checker";
import type { Cluster } from "./cluster";
import { call } from "./http";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LoadResult {
  /** Order ids of the accepted orders (200/202). */
  ids: string[];
  /** Every answer the clients got, by status ("network" for no answer). */
  statuses: Record<string, number>;
  /** When a client last got an error (any answer but 200/202, or none): the recovery's end. */
  lastErrorAt?: number;
}

export async function placeOrders(
  cluster: Cluster,
  tok: string,
  tag: string,
  count: number,
  loadMs: number,
  fault: () => Promise<void>,
): Promise<LoadResult> {
  const ids: string[] = [];
  const statuses: Record<string, number> = {};
  let lastErrorAt: number | undefined;
  const names = [...cluster.nodes.keys()];
  const placeOne = async (i: number) => {
    const key = `${tag}-${i}`;
    // Totals ending in 13 cents are refused by the payment service.
    const unitPrice = 1000 + (i % 10 === 0 ? 13 : 20 + (i % 70));
    for (let attempt = 0; attempt < 40; attempt++) {
      const node = cluster.nodes.get(names[(i + attempt) % names.length]!)!;
      try {
        const res = await call<{ id: string }>(node.url, "POST", "/api/v1/orders", {
          token: tok,
          body: { currency: "EUR", items: [{ productId: `p-${i % 7}`, quantity: 1, unitPrice }] },
          headers: { "Idempotency-Key": key },
        });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 202 || res.status === 200) {
          ids.push(res.body.id);
          return;
        }
        lastErrorAt = Date.now();
      } catch {
        statuses.network = (statuses.network ?? 0) + 1;
        lastErrorAt = Date.now();
      }
      await sleep(500);
    }
    throw new Error(`order ${key} was never accepted`);
  };
  const faulted = fault();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(placeOne(i));
    await sleep(loadMs / count);
  }
  await Promise.all([...pending, faulted]);
  return lastErrorAt === undefined ? { ids, statuses } : { ids, statuses, lastErrorAt };
}

/** One row of a chaos table from a checker verdict. */
export function verdictRow(label: Record<string, unknown>, verdict: Verdict, load: LoadResult) {
  const rule = (prefix: string) =>
    verdict.findings.find((f) => f.rule.startsWith(prefix))?.orders.length ?? 0;
  return {
    ...label,
    accepted: verdict.accepted,
    confirmed: verdict.confirmed,
    cancelled: verdict.cancelled,
    refunded: verdict.refunded,
    "cancelled+confirmed": rule("both OrderConfirmed"),
    "released but confirmed": rule("stock released for"),
    illegal: verdict.count("illegal"),
    doubled: verdict.count("doubled"),
    lost: verdict.count("lost"),
    "stockHeld disagrees": verdict.count("disagree"),
    unsettled: verdict.count("unsettled"),
    "client answers": JSON.stringify(load.statuses),
  };
}

export interface Lag {
  orderId: string;
  /** When its OrderCreated was decided (ms). */
  createdAt: number;
  /** When its first terminal event reached the log (ms). */
  doneAt: number;
}

/**
 * Each accepted order's time through the whole pipeline, from the `orders.events` log: from the
 * decision of its OrderCreated to its first OrderConfirmed/OrderCancelled in the log. What a fault
 * held up shows here even when no client saw an error. Orders without both events are left out
 * (the checker's verdict counts those).
 */
export function orderLags(events: LoggedEvent[], ids: string[]): Lag[] {
  const wanted = new Set(ids);
  const created = new Map<string, number>();
  const done = new Map<string, number>();
  for (const e of events) {
    if (!wanted.has(e.orderId)) continue;
    if (e.type === "OrderCreated" && e.occurredAt && !created.has(e.orderId))
      created.set(e.orderId, Date.parse(e.occurredAt));
    if ((e.type === "OrderConfirmed" || e.type === "OrderCancelled") && e.loggedAt !== undefined)
      done.set(e.orderId, Math.min(done.get(e.orderId) ?? Number.POSITIVE_INFINITY, e.loggedAt));
  }
  return [...created].flatMap(([orderId, createdAt]) => {
    const doneAt = done.get(orderId);
    return doneAt === undefined ? [] : [{ orderId, createdAt, doneAt }];
  });
}
