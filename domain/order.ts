// The order aggregate and its state machine. Pure: every function takes the current order and
// answers what should happen; services persist the answer with a conditional (versioned) write.
import { createHash } from "node:crypto";
import { type EventEnvelope, makeEvent, type OrderEvent, type OrderItem, type PaymentEvent } from "./events";
import { CURRENCIES as CURRENCY_LIST, ORDER_LIMITS, type OrderStatus } from "./limits";

export type { OrderStatus };
export const TERMINAL: ReadonlySet<OrderStatus> = new Set(["CONFIRMED", "CANCELLED"]);

export type CancelReason = "payment-failed" | "payment-deadline" | "owner-cancelled" | "operator-cancelled";

export interface Transition {
  from: OrderStatus | null;
  to: OrderStatus;
  at: string;
  reason?: string;
}

/** An event waiting in the order's outbox; the relay removes it once Kafka has it. */
export interface OutboxEntry {
  event: OrderEvent;
  correlationId: string;
  traceParent?: string;
}

export interface Order {
  _id: string;
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
  paymentDeadline: string;
  paymentId?: string;
  /** Stock reserved for this order is still held; compensation flips it once released. */
  stockHeld: boolean;
  refund?: { paymentId: string; requestedAt: string; completedAt?: string };
  outbox: OutboxEntry[];
  outboxPending: number;
  /** Last payment event ids applied, for duplicate detection (bounded). */
  seenEventIds: string[];
  correlationId: string;
  createdAt: string;
  updatedAt: string;
}

export const LIMITS = {
  maxItems: ORDER_LIMITS.maxItems,
  maxQuantity: ORDER_LIMITS.maxQuantity,
  maxUnitPrice: ORDER_LIMITS.maxUnitPrice,
  maxProductIdLength: ORDER_LIMITS.maxProductIdLength,
  seenEventIds: 32,
} as const;

/** The closed currency list of domain/limits.ts, as a set for the checks below. */
export const CURRENCIES: ReadonlySet<string> = new Set(CURRENCY_LIST);

export interface NewOrderInput {
  items: OrderItem[];
  currency: string;
}

export interface InputProblem {
  field: string;
  message: string;
}

/** Checks beyond the action's parameter schema (cross-field rules and bounds). */
export function checkNewOrder(input: NewOrderInput): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!CURRENCIES.has(input.currency)) {
    problems.push({ field: "currency", message: "currency must be a supported ISO 4217 code" });
  }
  if (input.items.length < 1 || input.items.length > LIMITS.maxItems) {
    problems.push({ field: "items", message: `between 1 and ${LIMITS.maxItems} items` });
  }
  const seen = new Set<string>();
  input.items.forEach((item, i) => {
    if (!Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > LIMITS.maxQuantity) {
      problems.push({
        field: `items[${i}].quantity`,
        message: `integer between 1 and ${LIMITS.maxQuantity}`,
      });
    }
    if (!Number.isInteger(item.unitPrice) || item.unitPrice < 0 || item.unitPrice > LIMITS.maxUnitPrice) {
      problems.push({
        field: `items[${i}].unitPrice`,
        message: `integer minor units, 0..${LIMITS.maxUnitPrice}`,
      });
    }
    if (seen.has(item.productId)) {
      problems.push({ field: `items[${i}].productId`, message: "each product appears once" });
    }
    seen.add(item.productId);
  });
  return problems;
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
export function orderIdFor(userId: string, idempotencyKey: string | undefined, random: () => string): string {
  if (!idempotencyKey) return random();
  const h = createHash("sha256").update(`${userId}\u0000${idempotencyKey}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export interface NewOrderContext {
  orderId: string;
  userId: string;
  userVerified: boolean;
  idempotencyKey?: string;
  correlationId: string;
  traceParent?: string;
  paymentTimeoutMs: number;
  now: Date;
}

export function createOrder(input: NewOrderInput, c: NewOrderContext): Order {
  const at = c.now.toISOString();
  const total = orderTotal(input.items);
  const paymentDeadline = new Date(c.now.getTime() + c.paymentTimeoutMs).toISOString();
  const items = input.items.map(({ productId, quantity, unitPrice }) => ({ productId, quantity, unitPrice }));
  const created = makeEvent(
    "OrderCreated",
    c.orderId,
    { userId: c.userId, items, total, currency: input.currency, paymentDeadline },
    c.now,
  );
  const order: Order = {
    _id: c.orderId,
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
    outbox: [outboxEntry(created, c.correlationId, c.traceParent)],
    outboxPending: 1,
    seenEventIds: [],
    correlationId: c.correlationId,
    createdAt: at,
    updatedAt: at,
  };
  if (c.idempotencyKey) order.idempotencyKey = c.idempotencyKey;
  return order;
}

function outboxEntry(event: OrderEvent, correlationId: string, traceParent?: string): OutboxEntry {
  return traceParent ? { event, correlationId, traceParent } : { event, correlationId };
}

export interface TraceContext {
  correlationId: string;
  traceParent?: string;
}

/** The next document: the decided change, its events queued in the outbox, version bumped. */
export function applyChange(order: Order, change: Change, trace: TraceContext, now: Date): Order {
  const queued = change.events.map((e) => outboxEntry(e, trace.correlationId, trace.traceParent));
  const next: Order = {
    ...order,
    version: order.version + 1,
    updatedAt: now.toISOString(),
    outbox: [...order.outbox, ...queued],
    outboxPending: order.outbox.length + queued.length,
  };
  if (change.status) next.status = change.status;
  if (change.reason) next.reason = change.reason;
  if (change.paymentId) next.paymentId = change.paymentId;
  if (change.refund) next.refund = change.refund;
  if (change.transition) next.history = [...order.history, change.transition];
  if (change.seenEventId)
    next.seenEventIds = [...order.seenEventIds, change.seenEventId].slice(-LIMITS.seenEventIds);
  return next;
}

/** What the saga must persist (atomically, guarded by the version it read) and then do. */
export interface Change {
  status?: OrderStatus;
  reason?: string;
  paymentId?: string;
  refund?: Order["refund"];
  transition?: Transition;
  events: OrderEvent[];
  seenEventId?: string;
  /** Stock to give back after the write has landed. */
  releaseStock: boolean;
}

export type Decision =
  | { kind: "apply"; change: Change }
  | { kind: "ignore"; why: "duplicate" | "already-terminal" | "not-due" | "already-refunded" }
  | { kind: "reject"; why: "not-pending" | "amount-mismatch" | "not-owner" };

export type Command =
  | { type: "payment"; event: PaymentEvent }
  | { type: "deadline"; now: Date }
  | { type: "cancel"; by: "owner" | "operator"; userId?: string; now: Date };

/**
 * A confirmed order takes no further change: every command is ignored or refused (refunds only
 * follow a cancellation). The store relies on it: the last publication mark of a confirmed order
 * is written without reading the order's version first.
 */
export function isSettled(order: Pick<Order, "status">): boolean {
  return order.status === "CONFIRMED";
}

export function decide(order: Order, command: Command): Decision {
  switch (command.type) {
    case "payment":
      return decidePayment(order, command.event);
    case "deadline":
      if (order.status !== "PENDING") return { kind: "ignore", why: "already-terminal" };
      if (Date.parse(order.paymentDeadline) > command.now.getTime())
        return { kind: "ignore", why: "not-due" };
      return cancel(order, "payment-deadline");
    case "cancel":
      if (command.by === "owner" && command.userId !== order.userId)
        return { kind: "reject", why: "not-owner" };
      if (order.status !== "PENDING") return { kind: "reject", why: "not-pending" };
      return cancel(order, command.by === "owner" ? "owner-cancelled" : "operator-cancelled");
  }
}

function decidePayment(order: Order, event: PaymentEvent): Decision {
  if (order.seenEventIds.includes(event.eventId)) return { kind: "ignore", why: "duplicate" };
  const at = new Date().toISOString();
  switch (event.type) {
    case "PaymentSucceeded": {
      if (event.payload.amount !== order.total || event.payload.currency !== order.currency) {
        return { kind: "reject", why: "amount-mismatch" };
      }
      if (order.status === "PENDING") {
        const confirmed = makeEvent("OrderConfirmed", order._id, {
          userId: order.userId,
          paymentId: event.payload.paymentId,
          total: order.total,
          currency: order.currency,
        });
        return {
          kind: "apply",
          change: {
            status: "CONFIRMED",
            paymentId: event.payload.paymentId,
            transition: { from: "PENDING", to: "CONFIRMED", at },
            events: [confirmed],
            seenEventId: event.eventId,
            releaseStock: false,
          },
        };
      }
      if (order.status === "CANCELLED") {
        // Money arrived for an order we already gave up on: give it back, never confirm.
        if (order.refund) return { kind: "ignore", why: "already-refunded" };
        const refund = makeEvent("RefundRequested", order._id, {
          userId: order.userId,
          paymentId: event.payload.paymentId,
          amount: event.payload.amount,
          currency: event.payload.currency,
          reason: `payment after cancellation (${order.reason ?? "cancelled"})`,
        });
        return {
          kind: "apply",
          change: {
            refund: { paymentId: event.payload.paymentId, requestedAt: at },
            events: [refund],
            seenEventId: event.eventId,
            releaseStock: false,
          },
        };
      }
      return { kind: "ignore", why: "already-terminal" };
    }
    case "PaymentFailed":
      if (order.status !== "PENDING") return { kind: "ignore", why: "already-terminal" };
      return withSeen(cancel(order, "payment-failed"), event.eventId);
    case "PaymentRefunded":
      if (!order.refund || order.refund.completedAt) return { kind: "ignore", why: "duplicate" };
      return {
        kind: "apply",
        change: {
          refund: { ...order.refund, completedAt: at },
          events: [],
          seenEventId: event.eventId,
          releaseStock: false,
        },
      };
  }
}

function withSeen(decision: Decision, eventId: string): Decision {
  if (decision.kind === "apply") decision.change.seenEventId = eventId;
  return decision;
}

function cancel(order: Order, reason: CancelReason): Decision {
  const at = new Date().toISOString();
  const cancelled = makeEvent("OrderCancelled", order._id, { userId: order.userId, reason });
  return {
    kind: "apply",
    change: {
      status: "CANCELLED",
      reason,
      transition: { from: order.status, to: "CANCELLED", at, reason },
      events: [cancelled],
      releaseStock: order.stockHeld,
    },
  };
}

/** The order as a client may see it: no outbox, no internal bookkeeping. */
export interface OrderView {
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
  paymentDeadline: string;
  createdAt: string;
  updatedAt: string;
}

export function toView(order: Order): OrderView {
  const view: OrderView = {
    id: order._id,
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

export type { EventEnvelope };
