// Event contract of the Kafka topics (docs/asyncapi.yaml describes the same shapes; a test
// keeps the two equal). Pure: no Moleculer, no Kafka, no clock and no random ids (they come in).

export const EVENT_VERSION = 1;

export interface OrderItem {
  productId: string;
  quantity: number;
  /** Minor units (cents) to keep sums exact. */
  unitPrice: number;
}

export interface OrderCreatedPayload {
  userId: string;
  items: OrderItem[];
  /** Minor units. */
  total: number;
  currency: string;
  paymentDeadline: string;
}

export interface OrderConfirmedPayload {
  userId: string;
  paymentId: string;
  total: number;
  currency: string;
}

export interface OrderCancelledPayload {
  userId: string;
  reason: string;
}

export interface RefundRequestedPayload {
  userId: string;
  paymentId: string;
  amount: number;
  currency: string;
  reason: string;
}

export interface PaymentSucceededPayload {
  paymentId: string;
  amount: number;
  currency: string;
}

export interface PaymentFailedPayload {
  reason: string;
  amount: number;
  currency: string;
}

export interface PaymentRefundedPayload {
  paymentId: string;
  amount: number;
  currency: string;
}

export interface OrderEventPayloads {
  OrderCreated: OrderCreatedPayload;
  OrderConfirmed: OrderConfirmedPayload;
  OrderCancelled: OrderCancelledPayload;
  RefundRequested: RefundRequestedPayload;
}

export interface PaymentEventPayloads {
  PaymentSucceeded: PaymentSucceededPayload;
  PaymentFailed: PaymentFailedPayload;
  PaymentRefunded: PaymentRefundedPayload;
}

export type OrderEventType = keyof OrderEventPayloads;
export type PaymentEventType = keyof PaymentEventPayloads;

export interface EventEnvelope<T extends string, P> {
  eventId: string;
  type: T;
  version: number;
  occurredAt: string;
  orderId: string;
  payload: P;
}

export type OrderEvent = {
  [K in OrderEventType]: EventEnvelope<K, OrderEventPayloads[K]>;
}[OrderEventType];

export type PaymentEvent = {
  [K in PaymentEventType]: EventEnvelope<K, PaymentEventPayloads[K]>;
}[PaymentEventType];

/** Where a new event gets its id and its time: the caller's clock and id source. */
export interface EventSource {
  now: Date;
  newId: () => string;
}

export function makeEvent<K extends OrderEventType>(
  type: K,
  orderId: string,
  payload: OrderEventPayloads[K],
  source: EventSource,
): EventEnvelope<K, OrderEventPayloads[K]>;
export function makeEvent<K extends PaymentEventType>(
  type: K,
  orderId: string,
  payload: PaymentEventPayloads[K],
  source: EventSource,
): EventEnvelope<K, PaymentEventPayloads[K]>;
export function makeEvent(type: string, orderId: string, payload: unknown, source: EventSource) {
  return {
    eventId: source.newId(),
    type,
    version: EVENT_VERSION,
    occurredAt: source.now.toISOString(),
    orderId,
    payload,
  };
}

/** Kafka header names. Values are strings (the channel encodes them as UTF-8 buffers). */
export const Headers = {
  traceParent: "traceparent",
  correlationId: "correlation-id",
  eventType: "event-type",
  contentType: "content-type",
  deadLetterReason: "dlq-reason",
  deadLetterSourceTopic: "dlq-source-topic",
  deadLetterSourcePartition: "dlq-source-partition",
  deadLetterSourceOffset: "dlq-source-offset",
} as const;
