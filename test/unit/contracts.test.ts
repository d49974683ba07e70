// The Kafka contract file is generated from the schemas the code validates with, and the
// validation itself refuses what the contract refuses.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { isValidOrderEvent } from "../../domain/event-schemas";
import { makeEvent } from "../../domain/events";
import { createOrder } from "../../domain/order";
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
    const order = createOrder(
      { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice: 100 }] },
      {
        orderId: "o-1",
        userId: "u",
        userVerified: true,
        correlationId: "c",
        paymentTimeoutMs: 1000,
        now: new Date(),
      },
    );
    assert.ok(isValidOrderEvent(order.outbox[0]!.event));
    assert.ok(
      isValidOrderEvent(makeEvent("OrderCancelled", "o-1", { userId: "u", reason: "payment-failed" })),
    );
    assert.ok(!isValidOrderEvent({ ...order.outbox[0]!.event, extra: 1 }));
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
