// The Kafka contract file is generated from the schemas the code validates with, and the
// validation itself refuses what the contract refuses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Ajv from "ajv";
import { parse } from "yaml";
import { isValidOrderEvent, MAX_MESSAGE_BYTES, ORDER_EVENT_SCHEMAS } from "../../domain/event-schemas";
import { makeEvent } from "../../domain/events";
import { createOrder } from "../../domain/order";
import { checkPaymentMessage, MESSAGE_REFUSALS } from "../../domain/payment-message";
import { systemSource } from "../../lib/clock";
import { loadConfig } from "../../lib/config";
import { ASYNCAPI_PATH, renderAsyncApi, SAGA_REFUSALS } from "../../scripts/gen-asyncapi";
import { apiService } from "../../services/api.service";

describe("asyncapi", () => {
  test("docs/asyncapi.yaml is exactly what the code's schemas generate", () => {
    assert.equal(
      readFileSync(ASYNCAPI_PATH, "utf8"),
      renderAsyncApi(),
      "run: npx tsx scripts/gen-asyncapi.ts",
    );
  });

  test("it declares the three topics", () => {
    const doc = parse(readFileSync(ASYNCAPI_PATH, "utf8")) as {
      channels: Record<string, { address: string }>;
    };
    assert.deepEqual(
      Object.values(doc.channels)
        .map((c) => c.address)
        .sort(),
      ["orders.events", "payments.events", "payments.events.dlq"],
    );
  });

  interface Doc {
    info: { description: string };
    channels: Record<string, { description?: string }>;
    components: {
      messages: Record<
        string,
        {
          description?: string;
          "x-max-bytes"?: number;
          headers: {
            required?: string[];
            properties: Record<string, { pattern?: string; description?: string }>;
          };
          bindings?: { kafka: { key: { description: string } } };
        }
      >;
    };
  }
  const doc = () => parse(readFileSync(ASYNCAPI_PATH, "utf8")) as Doc;

  test("payment messages: the headers it requires are the ones the consumer enforces", () => {
    const ajv = new Ajv({ strict: false });
    const headerCases: [string, Record<string, string>][] = [
      ["none", {}],
      [
        "good",
        { "event-type": "PaymentSucceeded", "content-type": "application/json", "correlation-id": "c" },
      ],
      ["no correlation-id", { "event-type": "PaymentSucceeded", "content-type": "application/json" }],
      ["no event-type", { "content-type": "application/json", "correlation-id": "c" }],
      [
        "text/plain",
        { "event-type": "PaymentSucceeded", "content-type": "text/plain", "correlation-id": "c" },
      ],
      [
        "contradicting type",
        { "event-type": "PaymentFailed", "content-type": "application/json", "correlation-id": "c" },
      ],
      [
        "long id",
        {
          "event-type": "PaymentSucceeded",
          "content-type": "application/json",
          "correlation-id": "c".repeat(201),
        },
      ],
      [
        "traceparent",
        {
          "event-type": "PaymentSucceeded",
          "content-type": "application/json",
          "correlation-id": "c",
          traceparent: "x",
        },
      ],
    ];
    const event = makeEvent(
      "PaymentSucceeded",
      "o-1",
      { paymentId: "p", amount: 1, currency: "EUR" },
      systemSource(),
    );
    const validate = ajv.compile(doc().components.messages.PaymentSucceeded!.headers);
    for (const [name, headers] of headerCases) {
      const checked = checkPaymentMessage({
        key: Buffer.from("o-1"),
        value: Buffer.from(JSON.stringify(event)),
        headers: Object.entries(headers).map(([n, v]) => [n, Buffer.from(v)]),
      });
      assert.equal(validate(headers), checked.ok, `document and consumer agree on headers: ${name}`);
    }
  });

  test("it states the key rule, the size limit, every dead-letter reason, the DLQ headers and at-least-once delivery", () => {
    const d = doc();
    const messages = d.components.messages;
    for (const name of ["PaymentSucceeded", "PaymentFailed", "PaymentRefunded"]) {
      const m = messages[name]!;
      assert.match(m.bindings!.kafka.key.description, /must equal payload orderId.*key-mismatch/);
      assert.equal(m["x-max-bytes"], MAX_MESSAGE_BYTES);
      assert.ok(m.description && m.description.length > 40, `${name} says what the service does with it`);
    }
    assert.match(
      messages.PaymentSucceeded!.description!,
      /confirms its order or is refunded, exactly once per paymentId/,
    );
    assert.match(messages.PaymentSucceeded!.description!, /currency-mismatch/);
    assert.match(messages.PaymentRefunded!.description!, /refund/);
    const dlq = messages.DeadLetter!;
    assert.deepEqual(dlq.headers.required, [
      "dlq-reason",
      "dlq-source-topic",
      "dlq-source-partition",
      "dlq-source-offset",
    ]);
    assert.match(
      String((dlq.headers as { description?: string }).description),
      /original message's headers, unchanged/,
    );
    assert.match(dlq.bindings!.kafka.key.description, /null/);
    const reason = new RegExp(dlq.headers.properties["dlq-reason"]!.pattern!);
    for (const r of [...Object.keys(MESSAGE_REFUSALS), ...Object.keys(SAGA_REFUSALS)]) {
      assert.match(r, reason);
      assert.match(`${r}: detail`, reason);
      assert.match(dlq.headers.properties["dlq-reason"]!.description!, new RegExp(`${r} \\(`));
    }
    assert.doesNotMatch("something-else", reason);
    assert.match(d.channels.orderEvents!.description!, /at least once.*same eventId/s);
    for (const name of Object.keys(ORDER_EVENT_SCHEMAS))
      assert.match(messages[name]!.description!, /deduplicates by eventId/);
  });

  test("the events the saga writes satisfy the order-event schemas", () => {
    const { events } = createOrder(
      { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice: 100 }] },
      { orderId: "o-1", userId: "u", userVerified: true, correlationId: "c", paymentTimeoutMs: 1000 },
      systemSource(),
    );
    assert.ok(isValidOrderEvent(events[0]));
    assert.ok(
      isValidOrderEvent(
        makeEvent("OrderCancelled", "o-1", { userId: "u", reason: "payment-failed" }, systemSource()),
      ),
    );
    assert.ok(!isValidOrderEvent({ ...events[0], extra: 1 }));
  });
});

describe("openapi", () => {
  test("docs/openapi.yaml parses and documents every published route", () => {
    const doc = parse(readFileSync(join(__dirname, "..", "..", "docs", "openapi.yaml"), "utf8")) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    const routes = (apiService(loadConfig({})).settings?.routes ?? []) as {
      path: string;
      aliases: Record<string, string>;
    }[];
    const published = routes.flatMap((r) =>
      Object.keys(r.aliases).map((alias) => {
        const [method, path] = alias.split(" ") as [string, string];
        const full = `${r.path.replace(/\/$/, "")}/${path}`.replace(/:(\w+)/g, "{$1}");
        return `${method} ${full}`;
      }),
    );
    assert.deepEqual(documented.sort(), published.sort());
    assert.deepEqual(documented.sort(), [
      "GET /api/v1/orders",
      "GET /api/v1/orders/{id}",
      "GET /health",
      "GET /ready",
      "POST /api/v1/orders",
      "POST /api/v1/orders/{id}/cancel",
    ]);
  });
});
