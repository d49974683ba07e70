// The node as a process, the way an orchestrator drives it: a bad setting stops it at once with
// one line naming the variable (issue 13 item 7); SIGTERM turns /ready 503 for the drain period
// while requests are still served, then stops once, with no error-level line (issue 14 item 11).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { infraEnv, uniqueName } from "../helpers/env";
import { call, eventually, freePort } from "../helpers/http";
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET, token } from "../helpers/jwt";

const ROOT = join(__dirname, "..", "..");

function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "/root",
    BIND_ADDRESS: "127.0.0.1",
    JWT_SECRET: TEST_SECRET,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
  };
}

describe("configuration errors", () => {
  test("PORT=abc npm start exits 2 with one line naming PORT and no stack trace", () => {
    const res = spawnSync("npm", ["start", "--silent"], {
      cwd: ROOT,
      env: { ...baseEnv(), PATH: `${join(process.execPath, "..")}:${process.env.PATH ?? ""}`, PORT: "abc" },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(res.status, 2, res.stderr);
    const lines = res.stderr.split("\n").filter((l) => l.trim() !== "");
    assert.equal(lines.length, 1, res.stderr);
    assert.match(lines[0]!, /PORT/);
    assert.match(lines[0]!, /"abc"/);
    assert.doesNotMatch(res.stderr + res.stdout, /\n\s+at /);
  });
});

interface NodeProcess {
  url: string;
  exited: Promise<number | null>;
  child: ChildProcess;
  output(): string;
}

async function startProcess(env: Record<string, string>): Promise<NodeProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "index.ts")], {
    cwd: ROOT,
    env: { ...baseEnv(), PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  await eventually(
    async () => ((await call(url, "GET", "/ready")).status === 200 ? true : undefined),
    60_000,
    250,
  );
  return { url, exited, child, output: () => out };
}

/** No error-level line, no ERR_SERVER_NOT_RUNNING, one "Good bye". */
function assertCleanStop(out: string): void {
  const lines = out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: number; msg?: string });
  assert.deepEqual(
    lines.filter((l) => l.level >= 50),
    [],
    "no error-level line at start-up or shutdown",
  );
  assert.doesNotMatch(out, /ERR_SERVER_NOT_RUNNING/);
  assert.equal(lines.filter((l) => /Good bye/.test(l.msg ?? "")).length, 1, "the broker stops once");
}

describe("SIGTERM", { timeout: 120_000 }, () => {
  // On NATS the broker's stop takes long enough (it tells the other nodes first) for a second,
  // concurrent stop to show: two "Good bye" lines and the gateway closed twice.
  const infra = infraEnv();
  test("without a drain period: exit 0, one clean stop", {
    skip: "skip" in infra ? infra.skip : false,
  }, async () => {
    if ("skip" in infra) return;
    const node = await startProcess({
      SHUTDOWN_DRAIN_MS: "0",
      NATS_URL: infra.natsUrl,
      NAMESPACE: uniqueName("lifecycle"),
    });
    node.child.kill("SIGTERM");
    assert.equal(await node.exited, 0);
    assertCleanStop(node.output());
  });

  test("with a drain period: /ready answers 503 while requests are still served, then one clean stop", async () => {
    const node = await startProcess({ SHUTDOWN_DRAIN_MS: "60000" });
    try {
      node.child.kill("SIGTERM");
      const draining = await eventually(async () => {
        const res = await call<{ draining: boolean }>(node.url, "GET", "/ready");
        return res.status === 503 ? res.body : undefined;
      });
      assert.equal(draining.draining, true);
      // The listener is still open and serving during the drain period.
      const placed = await call(node.url, "POST", "/api/v1/orders", {
        token: await token("drain"),
        body: { currency: "EUR", items: [{ productId: "sku-drain", quantity: 1, unitPrice: 100 }] },
      });
      assert.equal(placed.status, 202);
      assert.equal((await call(node.url, "GET", "/health")).status, 200);
    } finally {
      // A second SIGTERM cuts the drain period short.
      node.child.kill("SIGTERM");
    }
    assert.equal(await node.exited, 0);
    assertCleanStop(node.output());
  });
});
