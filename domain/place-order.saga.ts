// The place-order saga, whole: what it does, in order, what undoes each step, what happens when
// a participant is unavailable, how long it waits for the payment, and what every payment event
// does in every state. Pure data and pure decisions; lib/saga-runtime.ts executes it.
import type { EventSource, OrderItem, PaymentEvent } from "./events";
import {
  type CancelReason,
  cancel,
  completeRefund,
  confirm,
  type Decision,
  enforceDeadline,
  markCompensated,
  type Order,
  type OrderStatus,
  type RefundReason,
  requestRefund,
} from "./order";
import { INVENTORY_RETRY_AFTER_SECONDS, type UserCheck, userFallback } from "./resilience";

/** What the forward steps know about the order being placed. */
export interface PlaceOrderState {
  orderId: string;
  userId: string;
  items: OrderItem[];
  currency: string;
  userVerified: boolean;
}

/** A call to a participant (a Moleculer action of a proxy service) built from the saga's state. */
export interface ParticipantCall {
  action: string;
  params: (state: PlaceOrderState) => Record<string, unknown>;
}

/** Ends the saga before the order exists: the client's answer, nothing left behind. */
export interface SagaFailure {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
}

export interface InvokeStep {
  kind: "invoke";
  name: string;
  invoke: ParticipantCall;
  /** The participant's answer: go on (with the state updated) or stop with a failure. */
  onReply?: (state: PlaceOrderState, reply: unknown) => PlaceOrderState | SagaFailure;
  /** Undoes this step; registered as soon as the step is attempted (a timed-out call may have landed). */
  compensation?: ParticipantCall;
  /** The participant is down, slow or its circuit is open. */
  whenUnavailable: { continueWith: (s: PlaceOrderState) => PlaceOrderState } | { fail: SagaFailure };
}

export interface RecordStep {
  kind: "record";
  name: string;
  /**
   * The write failed or timed out: it may still land (queued on the store's node) and a client
   * retrying with the same key may write the order. Compensate only if there is no order after
   * this long.
   */
  whenFailed: { compensateUnlessWrittenAfterMs: number };
}

export interface AwaitStep {
  kind: "await";
  name: string;
  /** The deadline and every event's effect while (and after) the saga waits. */
  reactions: typeof reactions;
}

export type Step = InvokeStep | RecordStep | AwaitStep;

export const isFailure = (x: PlaceOrderState | SagaFailure): x is SagaFailure => "status" in x;

const inventoryUnavailable: SagaFailure = {
  status: 503,
  code: "INVENTORY_UNAVAILABLE",
  message: "Inventory is unavailable, try again later",
  retryAfterSeconds: INVENTORY_RETRY_AFTER_SECONDS,
};

// ---- what the saga does after the order is written -----------------------------------------

/** Commands the waiting saga takes: a payment event, its deadline, a cancel, the compensation landing. */
export type Command =
  | { type: "payment"; event: PaymentEvent }
  | { type: "deadline" }
  | { type: "cancel"; by: "owner"; userId: string }
  | { type: "cancel"; by: "operator" }
  | { type: "compensated" };

type PaymentReaction<E extends PaymentEvent["type"]> = (
  order: Order,
  event: Extract<PaymentEvent, { type: E }>,
  source: EventSource,
) => Decision;

const refund =
  (reason: RefundReason): PaymentReaction<"PaymentSucceeded"> =>
  (order, event, source) =>
    requestRefund(order, event.payload, reason, source);
const ignoreTerminal = (): Decision => ({ kind: "ignore", why: "already-terminal" });
const cancelFor =
  (reason: CancelReason): PaymentReaction<"PaymentFailed"> =>
  (order, _event, source) =>
    cancel(order, reason, source);

/**
 * Every payment event in every state. The money rule: each captured payment (paymentId) either
 * confirms the order or is refunded, exactly once, whatever the state and the order of arrival.
 * Duplicates: a paymentId already in the order's ledger is ignored (a redelivered or replayed
 * message changes nothing); a PaymentFailed for an order no longer pending is ignored.
 */
const onPayment: {
  [E in PaymentEvent["type"]]: Record<OrderStatus, PaymentReaction<E>>;
} = {
  PaymentSucceeded: {
    PENDING: (order, event, source) => {
      const { currency, amount, paymentId } = event.payload;
      if (currency !== order.currency) return refund("currency-mismatch")(order, event, source);
      if (amount !== order.total) return refund("amount-mismatch")(order, event, source);
      if (order.payments.some((p) => p.paymentId === paymentId)) return { kind: "ignore", why: "duplicate" };
      return confirm(order, paymentId, source);
    },
    // A second payment for a paid order, or a late one for a cancelled order, is given back.
    CONFIRMED: refund("already-paid"),
    CANCELLED: refund("order-cancelled"),
  },
  PaymentFailed: {
    PENDING: cancelFor("payment-failed"),
    CONFIRMED: ignoreTerminal,
    CANCELLED: ignoreTerminal,
  },
  // Closes the ledger entry of a refund we asked for; one we never asked for is dead-lettered.
  PaymentRefunded: {
    PENDING: (order, event, source) => completeRefund(order, event.payload.paymentId, source),
    CONFIRMED: (order, event, source) => completeRefund(order, event.payload.paymentId, source),
    CANCELLED: (order, event, source) => completeRefund(order, event.payload.paymentId, source),
  },
};

/** The same policy in words, for the AsyncAPI document (scripts/gen-asyncapi.ts renders it). */
export const PAYMENT_POLICY: Record<PaymentEvent["type"], string> = {
  PaymentSucceeded:
    "The payment paymentId was captured. Every captured payment either confirms its order or is refunded, exactly once per paymentId, whatever the order's state and the order of arrival. A PENDING order whose total and currency it matches becomes CONFIRMED (OrderConfirmed carries this paymentId). Any other payment is answered with RefundRequested for the amount captured, with its reason: amount-mismatch or currency-mismatch (a PENDING order keeps waiting for a right payment until its deadline), already-paid (a second payment for a CONFIRMED order), order-cancelled (a payment for a CANCELLED order). A paymentId the order has already seen changes nothing.",
  PaymentFailed:
    "The payment was declined: a PENDING order is compensated (stock released) and becomes CANCELLED with reason payment-failed (OrderCancelled). An order that is no longer PENDING takes no change.",
  PaymentRefunded:
    "Answers RefundRequested: that paymentId's refund is recorded as done; nothing is published. A second one for the same paymentId changes nothing; one for a paymentId the service never asked to refund is dead-lettered (unknown-payment).",
};

const reactions = {
  onPayment,
  /**
   * PAYMENT_TIMEOUT_MS after creation, but never sooner than that long after OrderCreated reached
   * Kafka; a PENDING order past it is cancelled and compensated.
   */
  onDeadline: (order: Order, source: EventSource) => enforceDeadline(order, source),
  onCancel: (order: Order, command: Extract<Command, { type: "cancel" }>, source: EventSource): Decision => {
    if (command.by === "owner" && command.userId !== order.userId)
      return { kind: "reject", why: "not-owner" };
    return cancel(order, command.by === "owner" ? "owner-cancelled" : "operator-cancelled", source);
  },
  /** The compensations have landed: the order no longer holds stock. */
  onCompensated: (order: Order) => markCompensated(order),
};

/** The place-order saga. The runtime runs `steps` in order and `reactions` on the written order. */
export const placeOrderSaga: { name: string; steps: readonly Step[] } = {
  name: "place-order",
  steps: [
    {
      kind: "invoke",
      name: "verify the user",
      invoke: { action: "user-proxy.check", params: (s) => ({ id: s.userId }) },
      onReply: (s, reply) => {
        const { proceed, userVerified } = userFallback(reply as UserCheck);
        if (!proceed) return { status: 403, code: "USER_REFUSED", message: "User may not place orders" };
        return { ...s, userVerified };
      },
      // User service down or circuit open: the identity the gateway verified is trusted.
      whenUnavailable: { continueWith: (s) => ({ ...s, userVerified: false }) },
    },
    {
      kind: "invoke",
      name: "reserve the stock",
      invoke: {
        action: "inventory-proxy.reserve",
        params: (s) => ({ orderId: s.orderId, items: s.items }),
      },
      // Keyed by the order id: releasing twice, or releasing what never landed, is harmless.
      compensation: { action: "inventory-proxy.release", params: (s) => ({ orderId: s.orderId }) },
      // Inventory down or circuit open: 503 with Retry-After, no order, nothing reserved.
      whenUnavailable: { fail: inventoryUnavailable },
    },
    {
      kind: "record",
      name: "record the order PENDING with its OrderCreated (one write: the outbox)",
      whenFailed: { compensateUnlessWrittenAfterMs: 5_000 },
    },
    { kind: "await", name: "await the payment until the deadline", reactions },
  ],
};

/** The compensations of the saga's steps, last step first: what a cancelled order undoes. */
export function compensationsOf(steps: readonly Step[]): ParticipantCall[] {
  return steps.flatMap((s) => (s.kind === "invoke" && s.compensation ? [s.compensation] : [])).reverse();
}

/** What a command does to a written order. */
export function decide(order: Order, command: Command, source: EventSource): Decision {
  switch (command.type) {
    case "payment": {
      const event = command.event;
      const byState = reactions.onPayment[event.type] as Record<
        OrderStatus,
        PaymentReaction<typeof event.type>
      >;
      return byState[order.status](order, event as never, source);
    }
    case "deadline":
      return reactions.onDeadline(order, source);
    case "cancel":
      return reactions.onCancel(order, command, source);
    case "compensated":
      return reactions.onCompensated(order);
  }
}
