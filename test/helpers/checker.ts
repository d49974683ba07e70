// The independent checker: the verdict of a chaos or end-to-end run, read from outside the
// service. It trusts none of the service's own answers: the `orders.events` log is read from Kafka
// with a raw consumer of its own, the orders straight from the store, and the payment and
// inventory simulators' own ledgers. judge() is pure, so it is tested on fabricated facts too.
//
// Invariants, for every accepted order:
// - exactly one terminal event in the log (OrderConfirmed or OrderCancelled, counted by eventId),
//   never both, and the store's status agrees with it;
// - stock released only for cancelled orders, and stock reserved = released + confirmed (a
//   cancelled order's reservation is released, a confirmed order's is held);
// - the store's `stockHeld` agrees with the inventory's reservation;
// - every captured payment confirmed its order or was refunded, each charged once.
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { MongoClient } from "mongodb";
import type { Reservation } from "../../simulators/http/inventory-service";
import type { LedgerEntry } from "../../simulators/payment/payment-simulator";

export interface LoggedEvent {
  eventId: string;
  type: string;
  orderId: string;
  /** When the service decided it (the event's own `occurredAt`); for timings, not verdicts. */
  occurredAt?: string;
  /** When it reached the log (the Kafka message timestamp, ms). */
  loggedAt?: number;
}

export interface StoredFacts {
  _id: string;
  status: "PENDING" | "CONFIRMED" | "CANCELLED";
  stockHeld: boolean;
  reason?: string;
  /** The order's payment ledger: every captured payment it has seen, and what became of it. */
  payments?: { paymentId: string; outcome: "confirmed" | "refund-requested" | "refunded" }[];
}

export interface Facts {
  /** Order ids the clients were answered 200/202 for. */
  accepted: string[];
  events: LoggedEvent[];
  orders: StoredFacts[];
  payments: LedgerEntry[];
  reservations: Reservation[];
}

export type Kind = "illegal" | "doubled" | "lost" | "disagree" | "unsettled";

export interface Finding {
  kind: Kind;
  rule: string;
  orders: string[];
}

export interface Verdict {
  accepted: number;
  confirmed: number;
  cancelled: number;
  refunded: number;
  findings: Finding[];
  count(kind: Kind): number;
  /** Nothing illegal, doubled, lost or in disagreement. */
  ok: boolean;
  /** Nothing left to happen: no pending order, no release or refund still on its way. */
  settled: boolean;
}

const TERMINAL = new Set(["OrderConfirmed", "OrderCancelled"]);

export function judge(facts: Facts): Verdict {
  const accepted = [...new Set(facts.accepted)];
  const orders = new Map(facts.orders.map((o) => [o._id, o]));
  const payments = new Map(facts.payments.map((p) => [p.orderId, p]));
  const reservations = new Map(facts.reservations.map((r) => [r.reservationId, r]));
  const terminals = new Map<string, Map<string, string>>();
  const created = new Set<string>();
  const refundsAsked = new Set<string>();
  for (const e of facts.events) {
    if (e.type === "OrderCreated") created.add(e.orderId);
    if (e.type === "RefundRequested") refundsAsked.add(e.orderId);
    if (!TERMINAL.has(e.type)) continue;
    const byId = terminals.get(e.orderId) ?? new Map<string, string>();
    byId.set(e.eventId, e.type);
    terminals.set(e.orderId, byId);
  }

  const rules = new Map<string, Finding>();
  const flag = (kind: Kind, rule: string, orderId: string) => {
    const key = `${kind}\u0000${rule}`;
    const finding = rules.get(key) ?? { kind, rule, orders: [] };
    finding.orders.push(orderId);
    rules.set(key, finding);
  };

  for (const id of accepted) {
    const order = orders.get(id);
    if (!order) {
      flag("lost", "accepted order missing from the store", id);
      continue;
    }
    if (!created.has(id)) flag("lost", "no OrderCreated in the log", id);
    const types = [...(terminals.get(id)?.values() ?? [])];
    const confirmedEvents = types.filter((t) => t === "OrderConfirmed").length;
    const cancelledEvents = types.filter((t) => t === "OrderCancelled").length;
    if (confirmedEvents > 0 && cancelledEvents > 0)
      flag("illegal", "both OrderConfirmed and OrderCancelled in the log", id);
    else if (types.length > 1) flag("doubled", "more than one terminal event", id);
    if (order.status === "PENDING") {
      flag("unsettled", "order still PENDING", id);
    } else {
      const expected = order.status === "CONFIRMED" ? "OrderConfirmed" : "OrderCancelled";
      if (types.length === 0) flag("unsettled", "terminal event not in the log yet", id);
      else if (!types.includes(expected)) flag("illegal", "store status contradicts the log", id);
    }

    const r = reservations.get(id);
    const held = r?.status === "RESERVED";
    if (!r) flag("lost", "no reservation in the inventory", id);
    else if (order.status === "CONFIRMED" && !held)
      flag("illegal", "stock released for a CONFIRMED order", id);
    else if (order.status === "CANCELLED" && held) {
      if (order.stockHeld) flag("unsettled", "release of a cancelled order on its way", id);
      else flag("lost", "cancelled order's stock never released", id);
    }
    // The release is asked of the Inventory first and marked in the store after: released there,
    // still held here is a mark on its way (a lost mark stays so until the run times out).
    if (order.status === "CANCELLED" && order.stockHeld && r?.status === "RELEASED")
      flag("unsettled", "stock released, its mark on its way", id);
    else if (r && order.stockHeld !== held && !(order.status === "CANCELLED" && held))
      flag("disagree", "stockHeld disagrees with the inventory", id);

    const p = payments.get(id);
    if (p && p.chargeCount > 1) flag("doubled", "payment charged more than once", id);
    if (p && p.refundCount > 1) flag("doubled", "payment refunded more than once", id);
    const captured = p?.decision === "succeeded";
    if (order.status === "CONFIRMED" && !captured) flag("illegal", "CONFIRMED without a payment", id);
    if (order.status === "CONFIRMED" && p?.refunded)
      flag("illegal", "payment of a CONFIRMED order refunded", id);
    if (refundsAsked.has(id) && !order.payments?.some((e) => e.outcome !== "confirmed"))
      flag("lost", "RefundRequested in the log, not in the store", id);
    if (captured && order.status === "CANCELLED" && !p.refunded) {
      const entry = order.payments?.find((e) => e.paymentId === p.paymentId);
      if (entry?.outcome === "refund-requested") flag("unsettled", "refund on its way", id);
      else if (!entry) flag("unsettled", "payment answer on its way", id);
      else flag("lost", "captured payment neither confirmed nor refunded", id);
    }
  }

  const findings = [...rules.values()];
  const count = (kind: Kind) =>
    findings.filter((f) => f.kind === kind).reduce((n, f) => n + f.orders.length, 0);
  const inStore = accepted.map((id) => orders.get(id)).filter((o) => o !== undefined);
  return {
    accepted: accepted.length,
    confirmed: inStore.filter((o) => o.status === "CONFIRMED").length,
    cancelled: inStore.filter((o) => o.status === "CANCELLED").length,
    refunded: accepted.filter((id) => payments.get(id)?.refunded).length,
    findings,
    count,
    ok: (["illegal", "doubled", "lost", "disagree"] as const).every((k) => count(k) === 0),
    settled: count("unsettled") === 0,
  };
}

/** The one-table verdict. */
export function printVerdict(title: string, verdict: Verdict): void {
  const rows = verdict.findings.map((f) => ({
    kind: f.kind,
    rule: f.rule,
    orders: f.orders.length,
    e_g: f.orders.slice(0, 2).join(" "),
  }));
  console.log(
    `\nverdict: ${title} — accepted ${verdict.accepted}, confirmed ${verdict.confirmed}, ` +
      `cancelled ${verdict.cancelled}, refunded ${verdict.refunded}; ` +
      (["illegal", "doubled", "lost", "disagree", "unsettled"] as const)
        .map((k) => `${k} ${verdict.count(k)}`)
        .join(", "),
  );
  if (rows.length) console.table(rows);
}

/**
 * Every message of a topic, read with a consumer group of its own (nobody's offsets move), up to
 * the end offsets at the time of the call. Throws rather than return a partial log.
 */
export async function readOrderEvents(brokers: string[], topic: string): Promise<LoggedEvent[]> {
  const kafka = new Kafka({ clientId: `checker-${randomUUID()}`, brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const remaining = new Map(
    ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
  );
  const out: LoggedEvent[] = [];
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: `checker-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`checker: ${topic} not read to its end within 60 s`)),
        60_000,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = remaining.get(partition);
            if (end === undefined) return;
            if (BigInt(message.offset) < end && message.value) {
              const e = JSON.parse(message.value.toString()) as LoggedEvent;
              out.push({
                eventId: e.eventId,
                type: e.type,
                orderId: e.orderId,
                ...(e.occurredAt ? { occurredAt: e.occurredAt } : {}),
                loggedAt: Number(message.timestamp),
              });
            }
            if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The accepted orders as the store holds them, read by _id (FerretDB's indexed filter). */
export async function readStore(mongoUrl: string, ids: string[]): Promise<StoredFacts[]> {
  const client = await MongoClient.connect(mongoUrl, { useUnifiedTopology: true });
  try {
    const orders = client.db().collection("orders");
    const out: StoredFacts[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const docs = await orders
        .find(
          { _id: { $in: ids.slice(i, i + 100) } },
          { projection: { status: 1, stockHeld: 1, reason: 1, payments: 1 } },
        )
        .toArray();
      out.push(...(docs as unknown as StoredFacts[]));
    }
    return out;
  } finally {
    await client.close();
  }
}

export interface CheckerSources {
  kafkaBrokers: string[];
  orderEventsTopic: string;
  mongoUrl: string;
  payments: () => LedgerEntry[] | Promise<LedgerEntry[]>;
  reservations: () => Reservation[] | Promise<Reservation[]>;
}

export async function check(sources: CheckerSources, accepted: string[]): Promise<Verdict> {
  // The ledgers last: they move first (a refund or release lands in the simulator before the
  // store records it), so whatever the store shows done, the ledgers read after it show done too.
  const [events, orders] = await Promise.all([
    readOrderEvents(sources.kafkaBrokers, sources.orderEventsTopic),
    readStore(sources.mongoUrl, [...new Set(accepted)]),
  ]);
  const [payments, reservations] = await Promise.all([sources.payments(), sources.reservations()]);
  return judge({ accepted, events, orders, payments, reservations });
}

/** Checks until the run has settled (or the time is up) and returns the last verdict. */
export async function checkWhenSettled(
  sources: CheckerSources,
  accepted: string[],
  timeoutMs = 120_000,
): Promise<Verdict> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const verdict = await check(sources, accepted);
    if (verdict.settled || Date.now() >= giveUpAt) return verdict;
    await new Promise((r) => setTimeout(r, 2_000));
  }
}
