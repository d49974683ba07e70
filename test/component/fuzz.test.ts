// Property-based fuzzing of the REST API (fast-check): whatever a client sends, the answer is a
// 2xx or a 4xx problem+json, never a 5xx, and the store's invariants hold afterwards.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { orderTotal } from "../../domain/order";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call } from "../helpers/http";
import { token } from "../helpers/jwt";

interface OrderView {
  id: string;
  userId: string;
  status: string;
  total: number;
  version: number;
  items: { productId: string; quantity: number; unitPrice: number }[];
  history: { from: string | null; to: string }[];
}

const operatorKey = fc.constantFrom(
  "$ne",
  "$gt",
  "$where",
  "$regex",
  "$in",
  "__proto__",
  "constructor",
  "status",
  "userId",
  "id",
);
const scalar = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const nasty = fc.oneof(
  scalar,
  fc.dictionary(operatorKey, scalar, { maxKeys: 3 }),
  fc.array(scalar, { maxLength: 3 }),
);
const item = fc.record(
  {
    productId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), nasty),
    quantity: fc.oneof(fc.integer({ min: -5, max: 1200 }), nasty),
    unitPrice: fc.oneof(fc.integer({ min: -10, max: 200_000_000 }), nasty),
  },
  { requiredKeys: [] },
);
const orderBody = fc.oneof(
  fc.record(
    {
      currency: fc.oneof(fc.constantFrom("EUR", "USD", "XXX", "eur", ""), nasty),
      items: fc.oneof(fc.array(item, { maxLength: 5 }), nasty),
      status: nasty,
      total: nasty,
      userId: nasty,
      history: nasty,
      _id: nasty,
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 4 }),
);
const queryString = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        "page",
        "pageSize",
        "status",
        "query[status][$ne]",
        "userId",
        "id[$gt]",
        "sort",
        "$where",
      ),
      fc.string({ maxLength: 10 }),
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")}` : "",
  );
const idSegment = fc.oneof(
  fc.uuid(),
  fc.stringMatching(/^[A-Za-z0-9._%-]{1,40}$/),
  fc.constant("%24ne"),
  fc.constant("..%2F"),
);

const request = fc.oneof(
  fc.record({
    method: fc.constant("POST" as const),
    path: fc.constant("/api/v1/orders"),
    query: queryString,
    body: orderBody,
    key: fc.option(fc.string({ maxLength: 140 }), { nil: undefined }),
  }),
  fc.record({
    method: fc.constant("GET" as const),
    path: fc.constant("/api/v1/orders"),
    query: queryString,
    body: fc.constant(undefined),
    key: fc.constant(undefined),
  }),
  fc.record({
    method: fc.constant("GET" as const),
    path: idSegment.map((id) => `/api/v1/orders/${id}`),
    query: queryString,
    body: fc.constant(undefined),
    key: fc.constant(undefined),
  }),
  fc.record({
    method: fc.constant("POST" as const),
    path: idSegment.map((id) => `/api/v1/orders/${id}/cancel`),
    query: queryString,
    body: fc.option(orderBody, { nil: undefined }),
    key: fc.constant(undefined),
  }),
);

describe("fuzzing the REST API", () => {
  let node: EmbeddedNode;
  let tok: string;

  before(async () => {
    node = await startEmbeddedNode({ RATE_LIMIT_PER_MINUTE: "1000000" });
    tok = await token("fuzzer");
  });
  after(async () => {
    await node?.stop();
  });

  test("any request gets a 2xx or a 4xx problem+json, never a 5xx", async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const headers: Record<string, string> = {};
        if (r.key !== undefined) headers["idempotency-key"] = r.key.replace(/[\r\n]/g, "");
        const res = await call(node.url, r.method, `${r.path}${r.query}`, {
          token: tok,
          ...(r.body === undefined ? {} : { body: r.body }),
          headers,
        }).catch((err: Error) => ({ status: 0, contentType: "", body: err.message, headers: {} }));
        assert.ok(
          res.status >= 200 && res.status < 500,
          `${r.method} ${r.path}${r.query} → ${res.status} ${JSON.stringify(res.body)}`,
        );
        if (res.status >= 400) assert.match(res.contentType, /^application\/problem\+json/);
      }),
      { numRuns: 400, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 100_000) },
    );
  });

  test("the store's invariants hold for everything the fuzzer managed to create", async () => {
    const page = await call<{ rows: OrderView[]; total: number }>(
      node.url,
      "GET",
      "/api/v1/orders?pageSize=100",
      { token: tok },
    );
    assert.equal(page.status, 200);
    for (const o of page.body.rows) {
      assert.equal(o.userId, "fuzzer");
      assert.ok(["PENDING", "CONFIRMED", "CANCELLED"].includes(o.status));
      assert.equal(o.total, orderTotal(o.items), "total computed server-side");
      assert.ok(o.items.length >= 1 && o.items.length <= 100);
      assert.ok(o.items.every((i) => Number.isInteger(i.quantity) && i.quantity >= 1 && i.quantity <= 1000));
      assert.equal(o.history[0]?.to, "PENDING");
      assert.equal(o.history.at(-1)?.to, o.status);
      assert.ok(o.version >= 1);
    }
  });
});
