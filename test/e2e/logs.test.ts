// Logs as an operator reads them: every stdout line of a node is JSON, the saga's lines carry the
// order id, the request (correlation) id and the trace id, and no token or secret ever appears.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, eventually } from "../helpers/http";
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, token } from "../helpers/jwt";

const ROOT = join(__dirname, "..", "..");

describe("JSON logs", { timeout: 120_000 }, () => {
  let child: ChildProcess;
  let out = "";
  const port = 20_000 + Math.floor(Math.random() * 20_000);

  before(async () => {
    child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "index.ts")], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        PORT: String(port),
        BIND_ADDRESS: "127.0.0.1",
        LOG_LEVEL: "info",
        JWT_SECRET: TEST_SECRET,
        JWT_ISSUER: TEST_ISSUER,
        JWT_AUDIENCE: TEST_AUDIENCE,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await eventually(
      async () =>
        (await call(`http://127.0.0.1:${port}`, "GET", "/ready")).status === 200 ? true : undefined,
      60_000,
      250,
    );
  });

  after(() => {
    child?.kill("SIGTERM");
  });

  test("lines are JSON, carry the ids, and never the token", async () => {
    const tok = await token("logger");
    const requestId = `req-${Date.now()}`;
    const placed = await call<{ id: string }>(`http://127.0.0.1:${port}`, "POST", "/api/v1/orders", {
      token: tok,
      body: { currency: "EUR", items: [{ productId: "sku-log", quantity: 1, unitPrice: 1013 }] },
      headers: { "X-Request-Id": requestId },
    });
    assert.equal(placed.status, 202);
    await call(`http://127.0.0.1:${port}`, "GET", "/api/v1/orders/whatever", {
      headers: { authorization: `Bearer ${tok}x` },
    });
    const lines = await eventually(async () => {
      const parsed = out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return parsed.some((l) => l.orderId === placed.body.id && l.to === "CANCELLED") ? parsed : undefined;
    });
    const accepted = lines.find((l) => l.msg === "order accepted" && l.orderId === placed.body.id);
    assert.ok(accepted, "the acceptance is logged");
    assert.equal(accepted.correlationId, requestId);
    assert.match(String(accepted.traceId), /^[0-9a-f-]{36}$/);
    const step = lines.find((l) => l.msg === "saga step applied" && l.orderId === placed.body.id);
    assert.equal(
      step?.correlationId,
      requestId,
      "the payment's handling carries the request id across the channel",
    );
    assert.ok(lines.every((l) => typeof l.level === "number" && typeof l.time === "string"));
    assert.ok(
      !out.includes(tok) && !out.includes(TEST_SECRET) && !/Bearer\s/.test(out),
      "no token or secret in the logs",
    );
  });
});
