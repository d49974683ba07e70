// The inbound check of a payments.events message on its bytes: every refusal has its own reason,
// headers must be there once and agree with the payload, the key must be the order.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MAX_MESSAGE_BYTES } from "../../domain/event-schemas";
import { makeEvent } from "../../domain/events";
import {
  checkPaymentMessage,
  MESSAGE_REFUSALS,
  type PaymentMessageBytes,
} from "../../domain/payment-message";
import { systemSource } from "../../lib/clock";

const good = makeEvent(
  "PaymentSucceeded",
  "o-1",
  { paymentId: "p-1", amount: 100, currency: "EUR" },
  systemSource(),
);
const goodHeaders: [string, string][] = [
  ["event-type", "PaymentSucceeded"],
  ["content-type", "application/json"],
  ["correlation-id", "req-1"],
];

function message(
  value: string | Buffer | null,
  key: string | null = "o-1",
  headers: [string, string | Buffer][] = goodHeaders,
): PaymentMessageBytes {
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value),
    headers: headers.map(([n, v]) => [n, Buffer.isBuffer(v) ? v : Buffer.from(v)]),
  };
}

const body = JSON.stringify(good);
const without = (name: string) => goodHeaders.filter(([n]) => n !== name);
const replacing = (name: string, value: string | Buffer): [string, string | Buffer][] =>
  goodHeaders.map(([n, v]) => [n, n === name ? value : v]);

describe("checkPaymentMessage", () => {
  test("a valid message gives its event; traceparent and unknown headers are optional", () => {
    const res = checkPaymentMessage(message(body));
    assert.deepEqual(res, { ok: true, event: good });
    const traced = message(body, "o-1", [...goodHeaders, ["traceparent", "garbage"], ["x-other", "1"]]);
    assert.equal(checkPaymentMessage(traced).ok, true);
  });

  const cases: [string, PaymentMessageBytes, string | RegExp][] = [
    ["no headers at all", message(body, "o-1", []), "missing-header: event-type"],
    ["no event-type", message(body, "o-1", without("event-type")), "missing-header: event-type"],
    ["no content-type", message(body, "o-1", without("content-type")), "missing-header: content-type"],
    ["no correlation-id", message(body, "o-1", without("correlation-id")), "missing-header: correlation-id"],
    [
      "an empty correlation-id",
      message(body, "o-1", replacing("correlation-id", "")),
      "missing-header: correlation-id",
    ],
    [
      "a huge correlation-id",
      message(body, "o-1", replacing("correlation-id", "c".repeat(201))),
      "invalid-header: correlation-id",
    ],
    [
      "an event-type that is not UTF-8",
      message(body, "o-1", replacing("event-type", Buffer.from([0xff]))),
      "invalid-header: event-type",
    ],
    [
      "a repeated event-type",
      message(body, "o-1", [...goodHeaders, ["event-type", "PaymentFailed"]]),
      "repeated-header: event-type",
    ],
    [
      "content-type text/plain",
      message(body, "o-1", replacing("content-type", "text/plain")),
      "content-type-mismatch",
    ],
    [
      "an event-type that contradicts the payload",
      message(body, "o-1", replacing("event-type", "PaymentFailed")),
      "event-type-mismatch",
    ],
    [
      "the issue's case: event-type PaymentFailed and text/plain",
      message(body, "o-1", [
        ["event-type", "PaymentFailed"],
        ["content-type", "text/plain"],
        ["correlation-id", "c"],
      ]),
      "content-type-mismatch",
    ],
    ["a tombstone", message(null), "missing-value"],
    ["bytes that are not UTF-8", message(Buffer.from("\x00\xff\xfe garbage", "latin1")), "invalid-utf8"],
    ["truncated JSON", message(body.slice(0, 20)), "unparsable-json"],
    ["not JSON", message("hello"), "unparsable-json"],
    ["an array", message("[1,2]"), "not-an-object"],
    ["an unknown type", message(JSON.stringify({ ...good, type: "PaymentMaybe" })), "unknown-event-type"],
    ["a wrong version", message(JSON.stringify({ ...good, version: 2 })), "unsupported-version"],
    [
      "a missing field",
      message(JSON.stringify({ ...good, payload: { amount: 1, currency: "EUR" } })),
      /^schema-invalid: /,
    ],
    [
      "a negative amount",
      message(JSON.stringify({ ...good, payload: { ...good.payload, amount: -5 } })),
      /^schema-invalid/,
    ],
    ["an operator object", message(JSON.stringify({ ...good, orderId: { $ne: "x" } })), /^schema-invalid/],
    ["an extra field", message(JSON.stringify({ ...good, admin: true })), /^schema-invalid/],
    ["a bad date", message(JSON.stringify({ ...good, occurredAt: "yesterday" })), /^schema-invalid/],
    ["a null key", message(body, null), "missing-key"],
    ["an empty key", message(body, ""), "key-mismatch"],
    ["a key that is not the order", message(body, "o-2"), "key-mismatch"],
    [
      "a huge message",
      message(JSON.stringify({ ...good, pad: "x".repeat(MAX_MESSAGE_BYTES) })),
      "message-too-large",
    ],
  ];
  for (const [name, input, reason] of cases) {
    test(`refuses ${name}`, () => {
      const res = checkPaymentMessage(input);
      assert.equal(res.ok, false);
      if (res.ok) return;
      if (typeof reason === "string") assert.equal(res.reason, reason);
      else assert.match(res.reason, reason);
      assert.ok(res.reason.split(":")[0]! in MESSAGE_REFUSALS, `${res.reason} is a documented refusal`);
    });
  }

  test("every documented refusal is given by some case above", () => {
    const given = new Set(
      cases.map(([, input]) => {
        const res = checkPaymentMessage(input);
        return res.ok ? "" : res.reason.split(":")[0];
      }),
    );
    assert.deepEqual([...given].sort(), Object.keys(MESSAGE_REFUSALS).sort());
  });
});
