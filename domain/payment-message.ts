// The whole inbound check of a payments.events message, on its bytes: size, required headers and
// their agreement with the payload, the envelope's schema, key = orderId. One function, so the
// consumer refuses (dead-letters) in one place, and the AsyncAPI document lists the same reasons.
import { MAX_MESSAGE_BYTES, type PAYMENT_EVENT_SCHEMAS, parsePaymentEvent } from "./event-schemas";
import { Headers, type PaymentEvent } from "./events";

/** A message as it came off the topic: a key may be null, a header repeat, bytes be anything. */
export interface PaymentMessageBytes {
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: readonly (readonly [string, Uint8Array])[];
}

export type PaymentMessageCheck = { ok: true; event: PaymentEvent } | { ok: false; reason: string };

export const PAYMENT_CONTENT_TYPE = "application/json";
/** correlation-id is echoed into our logs and events: bounded. */
export const MAX_CORRELATION_ID_LENGTH = 200;

/**
 * Headers every payment message carries, exactly once each, as JSON Schema (the AsyncAPI document
 * prints this; checkPaymentMessage enforces it). traceparent is optional: a malformed one only
 * loses the trace link.
 */
export function paymentHeadersSchema(type: keyof typeof PAYMENT_EVENT_SCHEMAS) {
  return {
    type: "object",
    required: [Headers.eventType, Headers.contentType, Headers.correlationId],
    properties: {
      [Headers.eventType]: { type: "string", const: type, description: "must equal the payload's type" },
      [Headers.contentType]: { type: "string", const: PAYMENT_CONTENT_TYPE },
      [Headers.correlationId]: {
        type: "string",
        minLength: 1,
        maxLength: MAX_CORRELATION_ID_LENGTH,
        description: "copied from the order event this message answers",
      },
      [Headers.traceParent]: {
        type: "string",
        description: "optional W3C trace context (copied from the order event); a malformed one is ignored",
      },
    },
  } as const;
}

/**
 * Every reason a message is refused for, in the order they are checked (the first that applies
 * is given). A reason with a detail reads `reason: detail`.
 */
export const MESSAGE_REFUSALS = {
  "message-too-large": `the value is larger than ${MAX_MESSAGE_BYTES} bytes`,
  "missing-header": `a required header (${Headers.eventType}, ${Headers.contentType}, ${Headers.correlationId}) is absent or empty; the detail names it`,
  "repeated-header": "a required header appears more than once; the detail names it",
  "invalid-header": `a required header is not UTF-8, or ${Headers.correlationId} is longer than ${MAX_CORRELATION_ID_LENGTH} characters; the detail names it`,
  "content-type-mismatch": `${Headers.contentType} is not ${PAYMENT_CONTENT_TYPE}`,
  "missing-value": "the message has no value (a tombstone)",
  "invalid-utf8": "the value is not UTF-8",
  "unparsable-json": "the value is not JSON",
  "not-an-object": "the value is JSON but not an object",
  "unknown-event-type": "type is not a payment event of this document",
  "unsupported-version": "version is not the one of this document",
  "schema-invalid": "the event does not satisfy its schema; the detail gives the first failing path",
  "event-type-mismatch": `the ${Headers.eventType} header differs from the payload's type`,
  "missing-key": "the message has no key",
  "key-mismatch": "the key is not the event's orderId",
} as const;

export type MessageRefusal = keyof typeof MESSAGE_REFUSALS;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function decode(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

const refuse = (reason: MessageRefusal, detail?: string): PaymentMessageCheck => ({
  ok: false,
  reason: detail ? `${reason}: ${detail}` : reason,
});

/** Untrusted bytes from payments.events → a typed event, or the reason it goes to the DLQ. */
export function checkPaymentMessage(message: PaymentMessageBytes): PaymentMessageCheck {
  if (message.value && message.value.byteLength > MAX_MESSAGE_BYTES) return refuse("message-too-large");

  const headers = new Map<string, string>();
  for (const name of [Headers.eventType, Headers.contentType, Headers.correlationId]) {
    const values = message.headers.filter(([n]) => n === name).map(([, v]) => v);
    if (values.length === 0 || values[0]!.byteLength === 0) return refuse("missing-header", name);
    if (values.length > 1) return refuse("repeated-header", name);
    const text = decode(values[0]!);
    if (text === undefined) return refuse("invalid-header", name);
    if (name === Headers.correlationId && text.length > MAX_CORRELATION_ID_LENGTH)
      return refuse("invalid-header", name);
    headers.set(name, text);
  }
  if (headers.get(Headers.contentType) !== PAYMENT_CONTENT_TYPE) return refuse("content-type-mismatch");

  if (message.value === null) return refuse("missing-value");
  const text = decode(message.value);
  if (text === undefined) return refuse("invalid-utf8");
  const parsed = parsePaymentEvent(text);
  if (!parsed.ok) return parsed;
  const event = parsed.event;

  if (headers.get(Headers.eventType) !== event.type) return refuse("event-type-mismatch");
  if (message.key === null) return refuse("missing-key");
  if (decode(message.key) !== event.orderId) return refuse("key-mismatch");
  return { ok: true, event };
}
