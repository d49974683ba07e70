// The gateway refuses what it must: forged or stale tokens, other users' orders, mass
// assignment, Mongo operators, oversized and malformed bodies, floods. Every refusal is a
// problem+json answer that leaks nothing and changes nothing.
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { SignJWT } from "jose";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call, eventually } from "../helpers/http";
import { hsWithPublicKey, noneToken, rsaKeyPair, TEST_AUDIENCE, TEST_ISSUER, token } from "../helpers/jwt";

interface OrderBody {
  id: string;
  userId: string;
  status: string;
  total: number;
  version: number;
  history: unknown[];
}

const good = { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice: 100 }] };

function isProblem(res: { status: number; contentType: string; body: unknown }, status: number): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.contentType, /^application\/problem\+json/);
  const body = res.body as { type: string; title: string; status: number; detail?: string };
  assert.equal(body.status, status);
  assert.match(body.type, /^urn:order-service:problem:[a-z-]+$/);
  assert.equal(typeof body.title, "string");
  // Nothing internal: no stack traces, no Moleculer error names, no file paths.
  assert.doesNotMatch(JSON.stringify(body), /at \w+ \(|\.ts:\d+|node_modules|Moleculer|ServiceNotFound/);
}

describe("security of the REST API (embedded node, HS256)", () => {
  let node: EmbeddedNode;
  let alice: string;
  let bob: string;
  let aliceOrder: OrderBody;

  before(async () => {
    node = await startEmbeddedNode({ RATE_LIMIT_PER_MINUTE: "100", MAX_BODY_BYTES: "8192" });
    alice = await token("alice");
    bob = await token("bob");
    aliceOrder = (await call<OrderBody>(node.url, "POST", "/api/v1/orders", { token: alice, body: good }))
      .body;
  });

  after(async () => {
    await node?.stop();
  });

  const count = async (tok: string) =>
    (await call<{ total: number }>(node.url, "GET", "/api/v1/orders?pageSize=1", { token: tok })).body.total;

  describe("JWT", () => {
    const { publicKey, privateKey } = rsaKeyPair();
    const cases: [string, () => Promise<string | undefined>][] = [
      ["missing", async () => undefined],
      ["malformed", async () => "not.a.jwt"],
      ["garbage", async () => "abc"],
      ["bad signature", async () => token("alice", { secret: "another-secret-another-secret-1234" })],
      ["alg none", async () => noneToken("alice")],
      ["HS256 signed with an RSA public key", async () => hsWithPublicKey("alice", publicKey)],
      [
        "RS256 token where HS256 is pinned",
        async () =>
          new SignJWT({})
            .setProtectedHeader({ alg: "RS256" })
            .setSubject("alice")
            .setIssuer(TEST_ISSUER)
            .setAudience(TEST_AUDIENCE)
            .setExpirationTime("5m")
            .sign(createPrivateKey(privateKey)),
      ],
      ["expired", async () => token("alice", { expiresIn: -60 })],
      ["not yet valid", async () => token("alice", { notBefore: 600 })],
      ["wrong issuer", async () => token("alice", { issuer: "someone-else" })],
      ["wrong audience", async () => token("alice", { audience: "payments" })],
    ];
    for (const [name, make] of cases) {
      test(`${name} → 401, nothing changed`, async () => {
        const before = await count(alice);
        const tok = await make();
        const headers: Record<string, string> = tok ? { authorization: `Bearer ${tok}` } : {};
        const post = await call(node.url, "POST", "/api/v1/orders", { headers, body: good });
        isProblem(post, 401);
        const get = await call(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, { headers });
        isProblem(get, 401);
        assert.equal(await count(alice), before);
      });
    }
    test("a token accepted before is refused once it expires; a copy with another signature is refused", async () => {
      // Expired 3 s ago: inside the 5 s clock tolerance for 2 more seconds.
      const tok = await token("alice", { expiresIn: -3 });
      assert.equal((await call(node.url, "GET", "/api/v1/orders", { token: tok })).status, 200);
      assert.equal((await call(node.url, "GET", "/api/v1/orders", { token: tok })).status, 200);
      const signature = tok.slice(tok.lastIndexOf(".") + 1);
      const forged = `${tok.slice(0, tok.lastIndexOf(".") + 1)}${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
      isProblem(await call(node.url, "GET", "/api/v1/orders", { token: forged }), 401);
      await new Promise((r) => setTimeout(r, 2_300));
      isProblem(await call(node.url, "GET", "/api/v1/orders", { token: tok }), 401);
    });
    test("a token in the query string or as Basic auth is not accepted", async () => {
      isProblem(await call(node.url, "GET", `/api/v1/orders?access_token=${alice}`), 401);
      isProblem(
        await call(node.url, "GET", "/api/v1/orders", { headers: { authorization: `Basic ${alice}` } }),
        401,
      );
    });
  });

  describe("authorization (BOLA)", () => {
    test("another user's order is 404 for reading and cancelling, and never listed", async () => {
      isProblem(await call(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, { token: bob }), 404);
      isProblem(await call(node.url, "POST", `/api/v1/orders/${aliceOrder.id}/cancel`, { token: bob }), 404);
      const list = await call<{ rows: OrderBody[] }>(node.url, "GET", "/api/v1/orders?pageSize=100", {
        token: bob,
      });
      assert.ok(list.body.rows.every((o) => o.userId === "bob"));
      const mine = await call<OrderBody>(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, {
        token: alice,
      });
      assert.equal(mine.body.status === "PENDING" || mine.body.status === "CONFIRMED", true);
    });
    test("a missing order is the same 404 as someone else's", async () => {
      const missing = await call(node.url, "GET", "/api/v1/orders/does-not-exist", { token: bob });
      const foreign = await call(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, { token: bob });
      assert.deepEqual(missing.body, foreign.body);
    });
  });

  describe("mass assignment", () => {
    test("status, total, userId, history, _id, id and version in the body have no effect", async () => {
      const res = await call<OrderBody>(node.url, "POST", "/api/v1/orders", {
        token: alice,
        body: {
          ...good,
          status: "CONFIRMED",
          total: 1,
          userId: "bob",
          history: [{ to: "CONFIRMED" }],
          _id: "chosen-id",
          id: "chosen-id",
          version: 99,
          userVerified: false,
        },
      });
      assert.equal(res.status, 202);
      assert.equal(res.body.status, "PENDING");
      assert.equal(res.body.total, 100);
      assert.equal(res.body.userId, "alice");
      assert.equal(res.body.version, 1);
      assert.notEqual(res.body.id, "chosen-id");
      assert.equal(res.body.history.length, 1);
    });
    test("the same fields in the query string have no effect either", async () => {
      const res = await call<OrderBody>(
        node.url,
        "POST",
        "/api/v1/orders?status=CONFIRMED&userId=bob&total=1",
        {
          token: alice,
          body: good,
        },
      );
      assert.equal(res.status, 202);
      assert.equal(res.body.status, "PENDING");
      assert.equal(res.body.userId, "alice");
      assert.equal(res.body.total, 100);
    });
  });

  describe("injection", () => {
    test("operators in the query string are refused or ignored, never applied", async () => {
      isProblem(await call(node.url, "GET", "/api/v1/orders?status[$ne]=CANCELLED", { token: bob }), 400);
      isProblem(await call(node.url, "GET", "/api/v1/orders?page[$gt]=0", { token: bob }), 400);
      const ignored = await call<{ rows: OrderBody[] }>(
        node.url,
        "GET",
        "/api/v1/orders?query[userId][$ne]=nobody&userId=alice&$where=1",
        { token: bob },
      );
      assert.equal(ignored.status, 200);
      assert.ok(ignored.body.rows.every((o) => o.userId === "bob"));
      const byId = await call(node.url, "GET", `/api/v1/orders/${aliceOrder.id}?id[$ne]=x`, { token: bob });
      isProblem(byId, 404);
    });
    for (const [name, body] of [
      ["an operator as currency", { ...good, currency: { $ne: "EUR" } }],
      [
        "a regex as productId",
        { currency: "EUR", items: [{ productId: { $regex: ".*" }, quantity: 1, unitPrice: 1 }] },
      ],
      [
        "$where as quantity",
        { currency: "EUR", items: [{ productId: "a", quantity: { $where: "1" }, unitPrice: 1 }] },
      ],
      ["an object as items", { currency: "EUR", items: { $gt: [] } }],
      ["a $ in productId", { currency: "EUR", items: [{ productId: "$ne", quantity: 1, unitPrice: 1 }] }],
    ] as const) {
      test(`a body with ${name} → 400`, async () => {
        const before = await count(alice);
        isProblem(await call(node.url, "POST", "/api/v1/orders", { token: alice, body }), 400);
        assert.equal(await count(alice), before);
      });
    }
  });

  describe("resource consumption and malformed input", () => {
    test("an oversized body → 413", async () => {
      const items = Array.from({ length: 100 }, (_, i) => ({
        productId: `p-${i}-${"x".repeat(60)}`,
        quantity: 1,
        unitPrice: 1,
      }));
      isProblem(
        await call(node.url, "POST", "/api/v1/orders", { token: alice, body: { currency: "EUR", items } }),
        413,
      );
    });
    test("too many items → 400 with the field", async () => {
      const items = Array.from({ length: 101 }, (_, i) => ({
        productId: `p${i}`,
        quantity: 1,
        unitPrice: 1,
      }));
      const res = await call<{ errors: { field: string }[] }>(node.url, "POST", "/api/v1/orders", {
        token: alice,
        body: { currency: "EUR", items },
      });
      isProblem(res, 400);
      assert.ok(res.body.errors.some((e) => e.field === "items"));
    });
    test("malformed JSON → 400", async () => {
      isProblem(
        await call(node.url, "POST", "/api/v1/orders", { token: alice, rawBody: '{"currency": "EUR", ' }),
        400,
      );
    });
    test("deeply nested JSON → 400, the process survives", async () => {
      const deep = `${'{"a":'.repeat(2000)}1${"}".repeat(2000)}`;
      const res = await call(node.url, "POST", "/api/v1/orders", { token: alice, rawBody: deep });
      assert.ok(res.status === 400 || res.status === 413, String(res.status));
      assert.equal((await call(node.url, "GET", "/health")).status, 200);
    });
    test("a wrong content type → 415", async () => {
      isProblem(
        await call(node.url, "POST", "/api/v1/orders", {
          token: alice,
          rawBody: "currency=EUR",
          headers: { "content-type": "application/x-www-form-urlencoded" },
        }),
        415,
      );
    });
    test("a bad Idempotency-Key → 400", async () => {
      isProblem(
        await call(node.url, "POST", "/api/v1/orders", {
          token: alice,
          body: good,
          headers: { "idempotency-key": "bad key!" },
        }),
        400,
      );
    });
    test("quantities and currencies out of range → 400", async () => {
      for (const body of [
        { currency: "EUR", items: [{ productId: "a", quantity: 0, unitPrice: 1 }] },
        { currency: "EUR", items: [{ productId: "a", quantity: 1001, unitPrice: 1 }] },
        { currency: "EUR", items: [{ productId: "a", quantity: 1.5, unitPrice: 1 }] },
        { currency: "EUR", items: [{ productId: "a", quantity: 1, unitPrice: -1 }] },
        { currency: "XXX", items: [{ productId: "a", quantity: 1, unitPrice: 1 }] },
        { currency: "eur", items: [{ productId: "a", quantity: 1, unitPrice: 1 }] },
        { currency: "EUR", items: [] },
      ]) {
        isProblem(await call(node.url, "POST", "/api/v1/orders", { token: alice, body }), 400);
      }
    });
    test("unknown routes and the raw CRUD actions are not published", async () => {
      for (const path of [
        "/api/v1/nope",
        "/api/orders/find",
        "/orders/list",
        "/api/v1/orders.find",
        "/api/v1/saga/placeOrder",
      ]) {
        const res = await call(node.url, "GET", path, { token: alice });
        isProblem(res, 404);
      }
      // A known path with a method it does not serve: 405 naming what it does serve.
      const before = await call<OrderBody>(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, {
        token: alice,
      });
      const deleted = await call(node.url, "DELETE", `/api/v1/orders/${aliceOrder.id}`, { token: alice });
      isProblem(deleted, 405);
      assert.equal(deleted.headers.allow, "GET");
      const put = await call(node.url, "PUT", `/api/v1/orders/${aliceOrder.id}`, {
        token: alice,
        body: { status: "CONFIRMED" },
      });
      isProblem(put, 405);
      assert.equal(put.headers.allow, "GET");
      const after = await call<OrderBody>(node.url, "GET", `/api/v1/orders/${aliceOrder.id}`, {
        token: alice,
      });
      assert.deepEqual(after.body, before.body, "nothing changed");
    });
    test("a flood from one user → 429 with Retry-After; other users are unaffected", async () => {
      const flooder = await token("flooder");
      let limited: Awaited<ReturnType<typeof call>> | undefined;
      const statuses: number[] = [];
      // The window is fixed (per minute): two windows' worth of requests always crosses the limit.
      for (let i = 0; i < 250 && !limited; i++) {
        const res = await call(node.url, "GET", "/api/v1/orders?pageSize=1", { token: flooder });
        statuses.push(res.status);
        if (res.status === 429) limited = res;
      }
      assert.ok(limited, `rate limit reached: ${[...new Set(statuses)].join(",")} after ${statuses.length}`);
      isProblem(limited!, 429);
      assert.ok(Number(limited!.headers["retry-after"]) >= 1);
      assert.equal((await call(node.url, "GET", "/api/v1/orders?pageSize=1", { token: bob })).status, 200);
    });
  });
});

describe("RS256 gateway (JWT_PUBLIC_KEY)", () => {
  const { publicKey, privateKey } = rsaKeyPair();
  let node: EmbeddedNode;

  before(async () => {
    node = await startEmbeddedNode({ JWT_PUBLIC_KEY: publicKey, JWT_SECRET: "" });
  });
  after(async () => {
    await node?.stop();
  });

  test("accepts RS256 signed by the private key, refuses HS256 made with the public key", async () => {
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256" })
      .setSubject("alice")
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_AUDIENCE)
      .setExpirationTime("5m")
      .sign(createPrivateKey(privateKey));
    assert.equal((await call(node.url, "GET", "/api/v1/orders", { token: rs })).status, 200);
    isProblem(
      await call(node.url, "GET", "/api/v1/orders", { token: hsWithPublicKey("alice", publicKey) }),
      401,
    );
    isProblem(await call(node.url, "GET", "/api/v1/orders", { token: noneToken("alice") }), 401);
  });
});

describe("slow clients", () => {
  let node: EmbeddedNode;

  before(async () => {
    node = await startEmbeddedNode({ HTTP_REQUEST_TIMEOUT_MS: "1000" });
  });
  after(async () => {
    await node?.stop();
  });

  test("a hundred sockets trickling their headers neither starve other clients nor stay open", {
    timeout: 90_000,
  }, async () => {
    const { port } = new URL(node.url);
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    for (let i = 0; i < 100; i++) {
      const socket = connect(Number(port), "127.0.0.1");
      socket.on("error", () => undefined);
      socket.on("close", () => closed.add(socket));
      socket.write("POST /api/v1/orders HTTP/1.1\r\nHost: localhost\r\n");
      sockets.push(socket);
    }
    const trickle = setInterval(() => {
      for (const s of sockets) if (!closed.has(s)) s.write("X-Slow: 1\r\n");
    }, 300);
    try {
      // Others are served meanwhile.
      const tok = await token("patient");
      for (let i = 0; i < 5; i++) {
        assert.equal((await call(node.url, "GET", "/api/v1/orders", { token: tok })).status, 200);
      }
      // The server cuts the slow ones off (Node checks request timeouts every few seconds).
      await eventually(async () => (closed.size === sockets.length ? true : undefined), 60_000, 250);
    } finally {
      clearInterval(trickle);
      for (const s of sockets) s.destroy();
    }
    assert.equal((await call(node.url, "GET", "/health")).status, 200);
  });
});
