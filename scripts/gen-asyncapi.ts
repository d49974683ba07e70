// Writes docs/asyncapi.yaml from the schemas the code validates with, so the contract cannot drift.
// `--check` exits non-zero when the file differs (used by the test suite).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { MAX_MESSAGE_BYTES, ORDER_EVENT_SCHEMAS, PAYMENT_EVENT_SCHEMAS } from "../domain/event-schemas";
import { Headers } from "../domain/events";
import type { Decision } from "../domain/order";
import { MESSAGE_REFUSALS, PAYMENT_CONTENT_TYPE, paymentHeadersSchema } from "../domain/payment-message";
import { PAYMENT_POLICY } from "../domain/place-order.saga";
import { Topics } from "../lib/channel/types";

/** Why the saga refuses a well-formed payment event (it goes to the DLQ like a malformed one). */
type SagaRejection = Extract<Decision, { kind: "reject" }>["why"] | "unknown-order";
export const SAGA_REFUSALS = {
  "unknown-order": "no order has this orderId",
  "unknown-payment": "PaymentRefunded for a paymentId the service never asked to refund",
} as const satisfies Partial<Record<SagaRejection, string>>;

const ORDER_EVENT_NOTES: Record<keyof typeof ORDER_EVENT_SCHEMAS, string> = {
  OrderCreated:
    "An order waits for its payment until payload.paymentDeadline, and never less than the whole payment window after this event was published (an outage of the order service's own Kafka link does not shorten it); past it the order is cancelled (payment-deadline). Answer with PaymentSucceeded or PaymentFailed.",
  OrderConfirmed: "The order is CONFIRMED by payment paymentId. Informational.",
  OrderCancelled:
    "The order is CANCELLED (reason: payment-failed, payment-deadline, owner-cancelled, operator-cancelled). A payment captured for it later is answered with RefundRequested.",
  RefundRequested:
    "Give back payment paymentId (amount, currency), with the reason: order-cancelled, already-paid, amount-mismatch or currency-mismatch. An order may ask for several refunds, one per paymentId. Refund each paymentId at most once and answer with PaymentRefunded.",
};

const AT_LEAST_ONCE =
  "Delivered at least once: a relay retry or a node that stops before recording the send can deliver the same event again, with the same eventId, also after later events of the same order. A payment service deduplicates by eventId (and charges or refunds once per order / paymentId).";

export function asyncApiDocument(): object {
  const orderHeaders = (type: string) => ({
    type: "object",
    required: [Headers.correlationId, Headers.eventType, Headers.contentType],
    properties: {
      [Headers.traceParent]: {
        type: "string",
        description: "W3C trace context of the order's trace (present when the order's request was traced)",
      },
      [Headers.correlationId]: {
        type: "string",
        description: "Request id of the REST call that started the saga; copy it into the answer",
      },
      [Headers.eventType]: { type: "string", const: type },
      [Headers.contentType]: { type: "string", const: PAYMENT_CONTENT_TYPE },
    },
  });
  const reasons = { ...MESSAGE_REFUSALS, ...SAGA_REFUSALS };
  const dlqHeaders = {
    type: "object",
    description:
      "The original message's headers, unchanged and in their order, followed by the four dlq-* headers. A replay (operator command dlq-replay) removes exactly these four and puts the original key, value and headers back on payments.events.",
    required: [
      Headers.deadLetterReason,
      Headers.deadLetterSourceTopic,
      Headers.deadLetterSourcePartition,
      Headers.deadLetterSourceOffset,
    ],
    properties: {
      [Headers.deadLetterReason]: {
        type: "string",
        pattern: `^(${Object.keys(reasons).join("|")})(: .+)?$`,
        description: `Why the message was refused, as \`reason\` or \`reason: detail\`. Checks run in this order, the first failing one is given: ${Object.entries(
          reasons,
        )
          .map(([reason, meaning]) => `${reason} (${meaning})`)
          .join("; ")}.`,
      },
      [Headers.deadLetterSourceTopic]: { type: "string", description: "topic the message was read from" },
      [Headers.deadLetterSourcePartition]: { type: "string", pattern: "^[0-9]+$" },
      [Headers.deadLetterSourceOffset]: { type: "string", pattern: "^[0-9]+$" },
    },
  };
  const key = (description: string) => ({ bindings: { kafka: { key: { type: "string", description } } } });
  const orderMessage = (name: keyof typeof ORDER_EVENT_SCHEMAS) => ({
    name,
    contentType: PAYMENT_CONTENT_TYPE,
    description: `${ORDER_EVENT_NOTES[name]} ${AT_LEAST_ONCE}`,
    headers: orderHeaders(name),
    payload: { $ref: `#/components/schemas/${name}` },
    ...key("the order id (= payload orderId): one order's events are in one partition, in order"),
  });
  const paymentMessage = (name: keyof typeof PAYMENT_EVENT_SCHEMAS) => ({
    name,
    contentType: PAYMENT_CONTENT_TYPE,
    description: `${PAYMENT_POLICY[name]} Delivery may repeat: a repeated message changes nothing.`,
    "x-max-bytes": MAX_MESSAGE_BYTES,
    headers: paymentHeadersSchema(name),
    payload: { $ref: `#/components/schemas/${name}` },
    ...key(
      "required, the order id: must equal payload orderId (else dead-lettered missing-key / key-mismatch)",
    ),
  });
  const orderNames = Object.keys(ORDER_EVENT_SCHEMAS) as (keyof typeof ORDER_EVENT_SCHEMAS)[];
  const paymentNames = Object.keys(PAYMENT_EVENT_SCHEMAS) as (keyof typeof PAYMENT_EVENT_SCHEMAS)[];
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Order Service events",
      version: "1.0.0",
      description: [
        "Kafka contract of the order saga. Every message: key = order id, a UTF-8 JSON body with eventId, type, version, occurredAt, orderId and payload, and the headers its message declares. Amounts are integers in minor units.",
        `Payment messages are checked before anything acts: a value of at most ${MAX_MESSAGE_BYTES} bytes (x-max-bytes), the required headers once each and agreeing with the payload (event-type = type, content-type = ${PAYMENT_CONTENT_TYPE}), the payload's schema, key = orderId; then the saga checks it against the order (it exists; a refund answers a refund it asked for). A message that fails goes to payments.events.dlq, unchanged, with the reason; it is never applied.`,
        "Order events are delivered at least once (deduplicate by eventId); payment events may be sent more than once (the service deduplicates by paymentId and by the order's state).",
        "Generated from domain/event-schemas.ts and domain/payment-message.ts by scripts/gen-asyncapi.ts.",
      ].join("\n\n"),
    },
    channels: {
      orderEvents: {
        address: Topics.orderEvents,
        description: `Events the order service publishes. ${AT_LEAST_ONCE}`,
        messages: Object.fromEntries(orderNames.map((n) => [n, { $ref: `#/components/messages/${n}` }])),
      },
      paymentEvents: {
        address: Topics.paymentEvents,
        description:
          "Events the payment service publishes; the order service consumes them in a consumer group.",
        messages: Object.fromEntries(paymentNames.map((n) => [n, { $ref: `#/components/messages/${n}` }])),
      },
      paymentDeadLetters: {
        address: Topics.paymentDeadLetters,
        description:
          "Payment messages that were refused: the original key (a null key stays null), value bytes and headers, unchanged, with the dlq-* headers added.",
        messages: { DeadLetter: { $ref: "#/components/messages/DeadLetter" } },
      },
    },
    operations: {
      publishOrderEvents: { action: "send", channel: { $ref: "#/channels/orderEvents" } },
      consumePaymentEvents: { action: "receive", channel: { $ref: "#/channels/paymentEvents" } },
      publishDeadLetters: { action: "send", channel: { $ref: "#/channels/paymentDeadLetters" } },
    },
    components: {
      messages: {
        ...Object.fromEntries(orderNames.map((n) => [n, orderMessage(n)])),
        ...Object.fromEntries(paymentNames.map((n) => [n, paymentMessage(n)])),
        DeadLetter: {
          name: "DeadLetter",
          description: "A refused payment message, byte for byte, with the reason.",
          headers: dlqHeaders,
          payload: { description: "the original value's bytes, unchanged (not necessarily JSON or UTF-8)" },
          ...key("the original message's key, unchanged; absent (null) when the original had none"),
        },
      },
      schemas: { ...ORDER_EVENT_SCHEMAS, ...PAYMENT_EVENT_SCHEMAS },
    },
  };
}

export const ASYNCAPI_PATH = join(__dirname, "..", "docs", "asyncapi.yaml");

export function renderAsyncApi(): string {
  return `# Generated by scripts/gen-asyncapi.ts from domain/event-schemas.ts and domain/payment-message.ts; do not edit by hand.\n${stringify(asyncApiDocument(), { aliasDuplicateObjects: false })}`;
}

if (require.main === module) {
  const rendered = renderAsyncApi();
  if (process.argv.includes("--check")) {
    if (readFileSync(ASYNCAPI_PATH, "utf8") !== rendered) {
      console.error("docs/asyncapi.yaml is stale: run npx tsx scripts/gen-asyncapi.ts");
      process.exit(1);
    }
  } else {
    writeFileSync(ASYNCAPI_PATH, rendered);
  }
}
