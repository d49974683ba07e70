// The order aggregate: its states, the transitions between them as a table, and the guarded
// methods that change it, each answering with the change to persist and the events it raises.
// Pure: the clock and new ids come in as arguments (EventSource); nothing here knows how an order
// is stored (see lib/order-record.ts) or who calls it (the saga runtime, via the definition).
import { createHash } from "node:crypto";
import { type EventSource, makeEvent, type OrderEvent, type OrderItem } from "./events";
import type { OrderStatus } from "./limits";

export type { OrderStatus };

/** The state machine. Nothing leaves a terminal state; every other move is refused. */
export const TRANSITIONS = {
  confirm: { from: "PENDING", to: "CONFIRMED" },
  cancel: { from: "PENDING", to: "CANCELLED" },
} as const satisfies Record<string, { from: OrderStatus; to: OrderStatus }>;

export type CancelReason = "payment-failed" | "payment-deadline" | "owner-cancelled" | "operator-cancelled";

/** Why a captured payment is given back (the AsyncAPI document lists the same reasons). */
export type RefundReason = "order-cancelled" | "already-paid" | "amount-mismatch" | "currency-mismatch";

/** One captured payment and what became of it: the per-order money ledger. */
export interface PaymentEntry {
  paymentId: string;
  amount: number;
  currency: string;
  outcome: "confirmed" | "refund-requested" | "refunded";
  refundReason?: RefundReason;
  at: string;
}

export interface Transition {
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
  reason?: string;
}

export interface Order {
  id: string;
  userId: string;
  items: OrderItem[];
  total: number;
  currency: string;
  status: OrderStatus;
  reason?: string;
  version: number;
  history: Transition[];
  userVerified: boolean;
  idempotencyKey?: string;
  requestHash: string;
  /** The earliest moment the order may be cancelled for want of a payment. */
  paymentDeadline: string;
  /** When OrderCreated reached Kafka: the payment window opens then, not before (paymentDueAt). */
  publishedAt?: string;
  /** Stock reserved for this order is still held; the compensation's landing clears it. */
  stockHeld: boolean;
  payments: PaymentEntry[];
  correlationId: string;
  createdAt: string;
  updatedAt: string;
}

/** What a guarded method decided: the fields to write (guarded by version) and the events raised. */
export interface Change {
  fields: Partial<Pick<Order, "status" | "reason" | "history" | "payments" | "stockHeld" | "publishedAt">>;
  events: OrderEvent[];
  /** The saga's compensations are to run once this change has landed. */
  compensate: boolean;
}

export type IgnoreReason = "duplicate" | "already-terminal" | "not-due" | "not-published" | "not-held";
export type RejectReason = "not-pending" | "not-owner" | "unknown-payment";

export type Decision =
  | { kind: "apply"; change: Change }
  | { kind: "ignore"; why: IgnoreReason /** not-due: when to look again */; dueAt?: string }
  | { kind: "reject"; why: RejectReason };

const ignore = (why: IgnoreReason, dueAt?: string): Decision =>
  dueAt ? { kind: "ignore", why, dueAt } : { kind: "ignore", why };
const reject = (why: RejectReason): Decision => ({ kind: "reject", why });
const apply = (change: Change): Decision => ({ kind: "apply", change });

/** The order after a change has landed: fields set, version bumped. */
export function applyChange(order: Order, change: Change, now: Date): Order {
  return { ...order, ...change.fields, version: order.version + 1, updatedAt: now.toISOString() };
}

export interface NewOrderInput {
  items: OrderItem[];
  currency: string;
}

export function orderTotal(items: readonly OrderItem[]): number {
  return items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0);
}

/** Stable hash of what the client asked for, to tell a replay from a key reused for another order. */
export function requestHash(input: NewOrderInput): string {
  const canonical = JSON.stringify({
    currency: input.currency,
    items: input.items.map((i) => [i.productId, i.quantity, i.unitPrice]),
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * With an Idempotency-Key the order id is derived from (user, key): a replay computes the same id,
 * and the store's primary key makes a second order impossible even under concurrent replays.
 */
export function orderIdFor(userId: string, idempotencyKey: string | undefined, newId: () => string): string {
  if (!idempotencyKey) return newId();
  const h = createHash("sha256").update(`${userId}\u0000${idempotencyKey}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface NewOrderContext {
  orderId: string;
  userId: string;
  userVerified: boolean;
  idempotencyKey?: string;
  correlationId: string;
  paymentTimeoutMs: number;
}

/** A new order, PENDING, with the OrderCreated it raises. */
export function createOrder(
  input: NewOrderInput,
  c: NewOrderContext,
  source: EventSource,
): { order: Order; events: OrderEvent[] } {
  const at = source.now.toISOString();
  const total = orderTotal(input.items);
  const paymentDeadline = new Date(source.now.getTime() + c.paymentTimeoutMs).toISOString();
  const items = input.items.map(({ productId, quantity, unitPrice }) => ({ productId, quantity, unitPrice }));
  const payload = { userId: c.userId, items, total, currency: input.currency, paymentDeadline };
  const order: Order = {
    id: c.orderId,
    userId: c.userId,
    items,
    total,
    currency: input.currency,
    status: "PENDING",
    version: 1,
    history: [{ from: null, to: "PENDING", at }],
    userVerified: c.userVerified,
    requestHash: requestHash(input),
    paymentDeadline,
    stockHeld: true,
    payments: [],
    correlationId: c.correlationId,
    createdAt: at,
    updatedAt: at,
  };
  if (c.idempotencyKey) order.idempotencyKey = c.idempotencyKey;
  return { order, events: [makeEvent("OrderCreated", c.orderId, payload, source)] };
}

/**
 * When the order may be cancelled for want of a payment: its deadline, but never sooner than the
 * full payment window after its OrderCreated reached Kafka (our own outage must not eat the
 * payment service's time). Unknown (null) until it has reached Kafka.
 */
export function paymentDueAt(order: Order): string | null {
  if (!order.publishedAt) return null;
  const windowMs = Date.parse(order.paymentDeadline) - Date.parse(order.createdAt);
  const fromPublication = Date.parse(order.publishedAt) + windowMs;
  return new Date(Math.max(Date.parse(order.paymentDeadline), fromPublication)).toISOString();
}

// ---- guarded transitions -----------------------------------------------------------------

export function confirm(order: Order, paymentId: string, source: EventSource): Decision {
  if (order.status !== TRANSITIONS.confirm.from) return reject("not-pending");
  const at = source.now.toISOString();
  const entry: PaymentEntry = {
    paymentId,
    amount: order.total,
    currency: order.currency,
    outcome: "confirmed",
    at,
  };
  return apply({
    fields: {
      status: TRANSITIONS.confirm.to,
      history: [...order.history, { from: order.status, to: TRANSITIONS.confirm.to, at }],
      payments: [...order.payments, entry],
    },
    events: [
      makeEvent(
        "OrderConfirmed",
        order.id,
        { userId: order.userId, paymentId, total: order.total, currency: order.currency },
        source,
      ),
    ],
    compensate: false,
  });
}

export function cancel(order: Order, reason: CancelReason, source: EventSource): Decision {
  if (order.status !== TRANSITIONS.cancel.from) return reject("not-pending");
  const at = source.now.toISOString();
  return apply({
    fields: {
      status: TRANSITIONS.cancel.to,
      reason,
      history: [...order.history, { from: order.status, to: TRANSITIONS.cancel.to, at, reason }],
    },
    events: [makeEvent("OrderCancelled", order.id, { userId: order.userId, reason }, source)],
    compensate: order.stockHeld,
  });
}

/** A captured payment that will not confirm this order is given back, once per paymentId. */
export function requestRefund(
  order: Order,
  payment: { paymentId: string; amount: number; currency: string },
  reason: RefundReason,
  source: EventSource,
): Decision {
  if (order.payments.some((p) => p.paymentId === payment.paymentId)) return ignore("duplicate");
  const entry: PaymentEntry = {
    ...payment,
    outcome: "refund-requested",
    refundReason: reason,
    at: source.now.toISOString(),
  };
  return apply({
    fields: { payments: [...order.payments, entry] },
    events: [makeEvent("RefundRequested", order.id, { userId: order.userId, ...payment, reason }, source)],
    compensate: false,
  });
}

/** The payment service reports a refund done: the ledger entry is closed. */
export function completeRefund(order: Order, paymentId: string, source: EventSource): Decision {
  const entry = order.payments.find((p) => p.paymentId === paymentId);
  if (!entry || entry.outcome === "confirmed") return reject("unknown-payment");
  if (entry.outcome === "refunded") return ignore("duplicate");
  const at = source.now.toISOString();
  const payments = order.payments.map((p) => (p === entry ? { ...p, outcome: "refunded" as const, at } : p));
  return apply({ fields: { payments }, events: [], compensate: false });
}

/** The compensation landed: the stock is no longer held. */
export function markCompensated(order: Order): Decision {
  if (!order.stockHeld) return ignore("not-held");
  return apply({ fields: { stockHeld: false }, events: [], compensate: false });
}

/** The deadline check: cancel once the payment is due and has not come. */
export function enforceDeadline(order: Order, source: EventSource): Decision {
  if (order.status !== "PENDING") return ignore("already-terminal");
  const due = paymentDueAt(order);
  if (!due) return ignore("not-published");
  if (Date.parse(due) > source.now.getTime()) return ignore("not-due", due);
  return cancel(order, "payment-deadline", source);
}

/** The order as a client may see it: no ledger, no internal bookkeeping. */
export type OrderView = Pick<
  Order,
  | "id"
  | "userId"
  | "items"
  | "total"
  | "currency"
  | "status"
  | "reason"
  | "version"
  | "history"
  | "userVerified"
  | "paymentDeadline"
  | "createdAt"
  | "updatedAt"
>;

export function toView(order: Order): OrderView {
  const view: OrderView = {
    id: order.id,
    userId: order.userId,
    items: order.items,
    total: order.total,
    currency: order.currency,
    status: order.status,
    version: order.version,
    history: order.history,
    userVerified: order.userVerified,
    paymentDeadline: order.paymentDeadline,
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
  if (order.reason) view.reason = order.reason;
  return view;
}
