// One source per fact (issue 13 item 5, issue 14 item 4): the limits and statuses of
// domain/limits.ts are what docs/openapi.yaml and docs/asyncapi.yaml say, and the REST validator,
// the OpenAPI schema and the AsyncAPI schema of OrderCreated agree on every order: whatever REST
// accepts, both documents accept, and its OrderCreated is an event the Kafka contract carries.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import Ajv from "ajv";
import fc from "fast-check";
import { Validators } from "moleculer";
import { parse } from "yaml";
import { LIST_OWN_PARAMS, ORDER_ID_PARAMS } from "../../contracts/order-queries";
import { PLACE_ORDER_PARAMS } from "../../contracts/place-order";
import { isValidOrderEvent } from "../../domain/event-schemas";
import { EVENT_VERSION } from "../../domain/events";
import {
  CURRENCIES,
  checkNewOrder,
  ORDER_LIMITS,
  ORDER_STATUSES,
  PAGE_LIMITS,
  totalProblem,
} from "../../domain/limits";
import { ASYNCAPI_PATH } from "../../scripts/gen-asyncapi";

type Schema = Record<string, unknown> & {
  properties: Record<string, Record<string, unknown>>;
  enum?: unknown[];
};
const openapi = parse(readFileSync(join(__dirname, "..", "..", "docs", "openapi.yaml"), "utf8")) as {
  paths: Record<string, Record<string, { parameters?: { name: string; schema: Record<string, unknown> }[] }>>;
  components: {
    schemas: Record<string, Schema>;
    parameters: Record<string, { schema: Record<string, unknown> }>;
  };
};
const asyncapi = parse(readFileSync(ASYNCAPI_PATH, "utf8")) as {
  components: { schemas: Record<string, Schema> };
};

const orderCreatedPayload = asyncapi.components.schemas.OrderCreated.properties.payload as Schema;
const asyncItem = (orderCreatedPayload.properties.items as { items: Schema }).items;

describe("the limits are what both documents say", () => {
  test("statuses and currencies", () => {
    assert.deepEqual(openapi.components.schemas.Status.enum, [...ORDER_STATUSES]);
    assert.deepEqual(openapi.components.schemas.Currency.enum, [...CURRENCIES]);
    assert.deepEqual(orderCreatedPayload.properties.currency.enum, [...CURRENCIES]);
    assert.deepEqual(LIST_OWN_PARAMS.status.values, [...ORDER_STATUSES]);
    assert.deepEqual(PLACE_ORDER_PARAMS.currency.values, [...CURRENCIES]);
  });

  test("items, quantity, unit price, product id, total", () => {
    const item = openapi.components.schemas.Item.properties;
    for (const props of [item, asyncItem.properties]) {
      assert.equal(props.productId.maxLength, ORDER_LIMITS.maxProductIdLength);
      assert.equal(props.productId.minLength, 1);
      assert.equal(props.productId.pattern, ORDER_LIMITS.productIdPattern);
      assert.equal(props.quantity.minimum, 1);
      assert.equal(props.quantity.maximum, ORDER_LIMITS.maxQuantity);
      assert.equal(props.unitPrice.minimum, 0);
      assert.equal(props.unitPrice.maximum, ORDER_LIMITS.maxUnitPrice);
    }
    const newItems = openapi.components.schemas.NewOrder.properties.items;
    assert.equal(newItems.maxItems, ORDER_LIMITS.maxItems);
    assert.equal(newItems.minItems, 1);
    assert.equal((orderCreatedPayload.properties.items as Schema).maxItems, ORDER_LIMITS.maxItems);
    assert.equal(openapi.components.schemas.Order.properties.total.maximum, ORDER_LIMITS.maxAmount);
    assert.equal(orderCreatedPayload.properties.total.maximum, ORDER_LIMITS.maxAmount);
    for (const name of ["PaymentSucceeded", "PaymentFailed", "PaymentRefunded"]) {
      const payload = asyncapi.components.schemas[name].properties.payload as Schema;
      assert.equal(payload.properties.amount.maximum, ORDER_LIMITS.maxAmount, name);
    }
    assert.match(
      String(openapi.components.schemas.NewOrder.description),
      new RegExp(String(ORDER_LIMITS.maxAmount)),
    );
  });

  test("ids and paging", () => {
    assert.equal(openapi.components.parameters.OrderId.schema.maxLength, ORDER_LIMITS.maxIdLength);
    assert.equal(ORDER_ID_PARAMS.id.max, ORDER_LIMITS.maxIdLength);
    const list = openapi.paths["/api/v1/orders"].get.parameters ?? [];
    const param = (name: string) => list.find((p) => p.name === name)?.schema ?? {};
    assert.equal(param("page").maximum, PAGE_LIMITS.maxPage);
    assert.equal(param("pageSize").maximum, PAGE_LIMITS.maxPageSize);
    assert.equal(LIST_OWN_PARAMS.page.max, PAGE_LIMITS.maxPage);
    assert.equal(LIST_OWN_PARAMS.pageSize.max, PAGE_LIMITS.maxPageSize);
  });
});

describe("the validators agree", () => {
  const validator = new Validators.Fastest();
  const restCheck = validator.compile(PLACE_ORDER_PARAMS as never) as unknown as (
    v: unknown,
  ) => true | unknown[];
  /** What POST /api/v1/orders accepts (parameter schema, cross-field rules, carriable total). */
  function restAccepts(body: { items: unknown; currency: unknown }): boolean {
    const params = structuredClone(body) as {
      items: { quantity: number; unitPrice: number; productId: string }[];
      currency: string;
    };
    if (restCheck(params) !== true) return false;
    return checkNewOrder(params).length === 0 && totalProblem(params.items) === undefined;
  }
  const ajv = new Ajv({ strict: false });
  ajv.addSchema({ $id: "openapi.json", components: openapi.components });
  const openapiAccepts = ajv.getSchema("openapi.json#/components/schemas/NewOrder")!;

  function orderCreated(body: { items: { quantity: number; unitPrice: number }[]; currency: string }) {
    return {
      eventId: "e-1",
      type: "OrderCreated",
      version: EVENT_VERSION,
      occurredAt: "2026-01-01T00:00:00.000Z",
      orderId: "o-1",
      payload: {
        userId: "u-1",
        items: body.items,
        total: body.items.reduce((s, i) => s + i.quantity * i.unitPrice, 0),
        currency: body.currency,
        paymentDeadline: "2026-01-01T00:00:30.000Z",
      },
    };
  }

  /** Mostly valid values, with the integers either side of each bound (where disagreements live). */
  const near = (min: number, max: number) =>
    fc.oneof(
      { arbitrary: fc.integer({ min, max }), weight: 10 },
      { arbitrary: fc.constantFrom(min - 1, min, max, max + 1), weight: 1 },
    );
  const itemArb = fc.record({
    productId: fc.oneof(
      { arbitrary: fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/), weight: 20 },
      {
        arbitrary: fc.constantFrom("", "a b", "x".repeat(ORDER_LIMITS.maxProductIdLength + 1), "é"),
        weight: 1,
      },
    ),
    quantity: near(1, ORDER_LIMITS.maxQuantity),
    unitPrice: fc.oneof(
      { arbitrary: near(0, ORDER_LIMITS.maxUnitPrice), weight: 20 },
      { arbitrary: fc.constant(1.5), weight: 1 },
    ),
  });
  const bodyArb = fc.record({
    currency: fc.oneof(
      { arbitrary: fc.constantFrom(...CURRENCIES), weight: 10 },
      { arbitrary: fc.constantFrom("XAU", "eur", "EURO", ""), weight: 1 },
    ),
    items: fc.oneof(
      { arbitrary: fc.array(itemArb, { minLength: 0, maxLength: 4 }), weight: 10 },
      { arbitrary: fc.array(itemArb, { minLength: 10, maxLength: 40 }), weight: 2 },
      {
        arbitrary: fc.array(itemArb, {
          minLength: ORDER_LIMITS.maxItems - 1,
          maxLength: ORDER_LIMITS.maxItems + 1,
        }),
        weight: 1,
      },
    ),
  });

  test("whatever REST accepts, OpenAPI accepts and its OrderCreated is a valid event; OpenAPI refuses nothing REST takes", () => {
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(bodyArb, (body) => {
        const rest = restAccepts(body);
        seen[rest ? "accepted" : "refused"]++;
        const inOpenapi = openapiAccepts(body) as boolean;
        if (rest) {
          assert.ok(inOpenapi, "REST accepted what OpenAPI refuses");
          assert.ok(
            isValidOrderEvent(orderCreated(body)),
            "REST accepted an order its OrderCreated cannot carry",
          );
        }
        if (!inOpenapi) assert.ok(!rest, "OpenAPI refuses what REST accepted");
        // The only orders OpenAPI admits and REST refuses are the documented 422 cases.
        if (inOpenapi && !rest) {
          const ids = body.items.map((i) => i.productId);
          assert.ok(
            new Set(ids).size !== ids.length || totalProblem(body.items) !== undefined,
            `refused without a documented reason: ${JSON.stringify(body).slice(0, 300)}`,
          );
        }
      }),
      { numRuns: 500, seed: 42 },
    );
    // Both sides of the boundary were explored.
    assert.ok(seen.accepted > 50 && seen.refused > 50, JSON.stringify(seen));
  });

  test("at the total's edge: the largest carriable order passes everywhere, one minor unit more nowhere", () => {
    const full = { productId: "a", quantity: ORDER_LIMITS.maxQuantity, unitPrice: ORDER_LIMITS.maxUnitPrice };
    const n = ORDER_LIMITS.maxAmount / (full.quantity * full.unitPrice);
    const atLimit = {
      currency: "EUR",
      items: Array.from({ length: n }, (_, i) => ({ ...full, productId: `p-${i}` })),
    };
    assert.ok(restAccepts(atLimit));
    assert.ok(isValidOrderEvent(orderCreated(atLimit)));
    const over = {
      ...atLimit,
      items: [...atLimit.items, { productId: "one-more", quantity: 1, unitPrice: 1 }],
    };
    assert.ok(!restAccepts(over));
    assert.ok(!isValidOrderEvent(orderCreated(over)), "the Kafka contract indeed cannot carry it");
  });
});
