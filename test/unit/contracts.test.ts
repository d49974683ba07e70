// The Kafka contract file is generated from the schemas the code validates with, and the
// validation itself refuses what the contract refuses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { isValidOrderEvent, MAX_MESSAGE_BYTES, parsePaymentEvent } from "../../domain/event-schemas";
import { makeEvent } from "../../domain/events";
import { createOrder } from "../../domain/order";
import { systemSource } from "../../lib/clock";
import { loadConfig } from "../../lib/config";
import { ASYNCAPI_PATH, renderAsyncApi } from "../../scripts/gen-asyncapi";
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

describe("payment event parsing", () => {
  const good = makeEvent(
    "PaymentSucceeded",
    "o-1",
    { paymentId: "p-1", amount: 100, currency: "EUR" },
    systemSource(),
  );

  test("a valid event parses", () => {
    const res = parsePaymentEvent(JSON.stringify(good), "o-1");
    assert.equal(res.ok, true);
  });

  const cases: [string, string, string | undefined, RegExp][] = [
    ["truncated", JSON.stringify(good).slice(0, 20), "o-1", /unparsable-json/],
    ["not JSON", "hello", "o-1", /unparsable-json/],
    ["an array", "[1,2]", "o-1", /not-an-object/],
    ["an unknown type", JSON.stringify({ ...good, type: "PaymentMaybe" }), "o-1", /unknown-event-type/],
    ["a wrong version", JSON.stringify({ ...good, version: 2 }), "o-1", /unsupported-version/],
    [
      "a missing field",
      JSON.stringify({ ...good, payload: { amount: 1, currency: "EUR" } }),
      "o-1",
      /schema-invalid/,
    ],
    [
      "a negative amount",
      JSON.stringify({ ...good, payload: { ...good.payload, amount: -5 } }),
      "o-1",
      /schema-invalid/,
    ],
    ["an operator object", JSON.stringify({ ...good, orderId: { $ne: "x" } }), undefined, /schema-invalid/],
    ["an extra field", JSON.stringify({ ...good, admin: true }), "o-1", /schema-invalid/],
    ["a bad date", JSON.stringify({ ...good, occurredAt: "yesterday" }), "o-1", /schema-invalid/],
    ["a key that is not the order", JSON.stringify(good), "o-2", /key-mismatch/],
    [
      "a huge message",
      JSON.stringify({ ...good, pad: "x".repeat(MAX_MESSAGE_BYTES) }),
      "o-1",
      /message-too-large/,
    ],
  ];
  for (const [name, raw, key, reason] of cases) {
    test(`refuses ${name}`, () => {
      const res = parsePaymentEvent(raw, key);
      assert.equal(res.ok, false);
      if (!res.ok) assert.match(res.reason, reason);
    });
  }
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
