// JSON Schemas of the events on the Kafka topics. docs/asyncapi.yaml carries the same schemas
// (a test keeps them equal); incoming messages are checked against them before anything acts.
import Ajv from "ajv";
import type { PaymentEvent } from "./events";
import { EVENT_VERSION } from "./events";
import { CURRENCIES, ORDER_LIMITS } from "./limits";

const id = { type: "string", minLength: 1, maxLength: ORDER_LIMITS.maxIdLength } as const;
const money = { type: "integer", minimum: 0, maximum: ORDER_LIMITS.maxAmount } as const;
/** What we send: only the currencies an order may have. */
const currency = { type: "string", enum: [...CURRENCIES] } as const;
/**
 * What we accept from the payment service: any ISO 4217 shape, so that a payment in a currency
 * other than the order's reaches the saga (which compares it with the order's) instead of
 * failing the schema.
 */
const paymentCurrency = { type: "string", pattern: "^[A-Z]{3}$" } as const;

function envelope(type: string, payload: object) {
  return {
    type: "object",
    additionalProperties: false,
    required: ["eventId", "type", "version", "occurredAt", "orderId", "payload"],
    properties: {
      eventId: id,
      type: { const: type },
      version: { const: EVENT_VERSION },
      occurredAt: { type: "string", format: "date-time", maxLength: 40 },
      orderId: id,
      payload,
    },
  };
}

function payload(required: string[], properties: Record<string, object>) {
  return { type: "object", additionalProperties: false, required, properties };
}

export const PAYMENT_EVENT_SCHEMAS = {
  PaymentSucceeded: envelope(
    "PaymentSucceeded",
    payload(["paymentId", "amount", "currency"], { paymentId: id, amount: money, currency: paymentCurrency }),
  ),
  PaymentFailed: envelope(
    "PaymentFailed",
    payload(["reason", "amount", "currency"], {
      reason: { type: "string", minLength: 1, maxLength: 200 },
      amount: money,
      currency: paymentCurrency,
    }),
  ),
  PaymentRefunded: envelope(
    "PaymentRefunded",
    payload(["paymentId", "amount", "currency"], { paymentId: id, amount: money, currency: paymentCurrency }),
  ),
} as const;

const item = payload(["productId", "quantity", "unitPrice"], {
  productId: {
    type: "string",
    minLength: 1,
    maxLength: ORDER_LIMITS.maxProductIdLength,
    pattern: ORDER_LIMITS.productIdPattern,
  },
  quantity: { type: "integer", minimum: 1, maximum: ORDER_LIMITS.maxQuantity },
  unitPrice: { type: "integer", minimum: 0, maximum: ORDER_LIMITS.maxUnitPrice },
});

export const ORDER_EVENT_SCHEMAS = {
  OrderCreated: envelope(
    "OrderCreated",
    payload(["userId", "items", "total", "currency", "paymentDeadline"], {
      userId: id,
      items: { type: "array", minItems: 1, maxItems: ORDER_LIMITS.maxItems, items: item },
      total: money,
      currency,
      paymentDeadline: { type: "string", format: "date-time" },
    }),
  ),
  OrderConfirmed: envelope(
    "OrderConfirmed",
    payload(["userId", "paymentId", "total", "currency"], {
      userId: id,
      paymentId: id,
      total: money,
      currency,
    }),
  ),
  OrderCancelled: envelope(
    "OrderCancelled",
    payload(["userId", "reason"], { userId: id, reason: { type: "string", minLength: 1, maxLength: 200 } }),
  ),
  RefundRequested: envelope(
    "RefundRequested",
    payload(["userId", "paymentId", "amount", "currency", "reason"], {
      userId: id,
      paymentId: id,
      amount: money,
      currency,
      reason: { type: "string", minLength: 1, maxLength: 200 },
    }),
  ),
} as const;

/** Messages larger than this are refused before parsing. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

const ajv = new Ajv({ allErrors: false, strict: true, formats: { "date-time": isIsoDateTime } });
const paymentValidators = Object.fromEntries(
  Object.entries(PAYMENT_EVENT_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<keyof typeof PAYMENT_EVENT_SCHEMAS, ReturnType<typeof ajv.compile>>;
const orderValidators = Object.fromEntries(
  Object.entries(ORDER_EVENT_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
) as Record<keyof typeof ORDER_EVENT_SCHEMAS, ReturnType<typeof ajv.compile>>;

function isIsoDateTime(value: string): boolean {
  return (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value))
  );
}

export type ParseResult<T> = { ok: true; event: T } | { ok: false; reason: string };

/**
 * The body of a payment message → a typed event, or why not. The consumer calls
 * checkPaymentMessage (domain/payment-message.ts), which adds the headers and the key.
 */
export function parsePaymentEvent(raw: string): ParseResult<PaymentEvent> {
  if (Buffer.byteLength(raw) > MAX_MESSAGE_BYTES) return { ok: false, reason: "message-too-large" };
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { ok: false, reason: "unparsable-json" };
  }
  if (typeof data !== "object" || data === null || Array.isArray(data))
    return { ok: false, reason: "not-an-object" };
  const { type, version } = data as { type?: unknown; version?: unknown };
  if (typeof type !== "string" || !(type in paymentValidators))
    return { ok: false, reason: "unknown-event-type" };
  if (version !== EVENT_VERSION) return { ok: false, reason: "unsupported-version" };
  const validate = paymentValidators[type as keyof typeof paymentValidators];
  if (!validate(data)) {
    const first = validate.errors?.[0];
    return {
      ok: false,
      reason: `schema-invalid: ${first?.instancePath || "/"} ${first?.message ?? ""}`.trim(),
    };
  }
  return { ok: true, event: data as PaymentEvent };
}

/** Used by tests and the payment simulator's own checks: is this a valid order event? */
export function isValidOrderEvent(data: unknown): boolean {
  const type = (data as { type?: string })?.type;
  if (!type || !(type in orderValidators)) return false;
  return orderValidators[type as keyof typeof orderValidators](data) as boolean;
}
