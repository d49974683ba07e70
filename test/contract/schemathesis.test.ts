// Contract drift fails the suite: Schemathesis (pinned, installed by scripts/schemathesis.sh)
// runs every check it has against docs/openapi.yaml and a whole embedded node started here with
// the test JWT secret; the token reaches Schemathesis as a header option.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { token } from "../helpers/jwt";

const ROOT = join(__dirname, "..", "..");

describe("Schemathesis against docs/openapi.yaml (embedded node)", { timeout: 300_000 }, () => {
  let node: EmbeddedNode;
  let st: string;

  before(async () => {
    // Idempotent: a no-op once the venv is in the cache (scripts/test.sh installs it up front).
    st = execFileSync("bash", [join(ROOT, "scripts", "schemathesis.sh")], { encoding: "utf8" }).trim();
    // Schemathesis sends thousands of requests with one token: the per-user limit must not be what
    // it tests (429 is documented on every operation all the same).
    node = await startEmbeddedNode({ RATE_LIMIT_PER_MINUTE: "1000000" });
  });
  after(async () => {
    await node?.stop();
  });

  test("every check passes", async () => {
    const tok = await token("schemathesis");
    const args = [
      "--config-file",
      join(__dirname, "schemathesis.toml"),
      "--no-color",
      "run",
      join(ROOT, "docs", "openapi.yaml"),
      "--url",
      node.url,
      "--checks",
      "all",
      "--header",
      `Authorization: Bearer ${tok}`,
      "--report-dir",
      mkdtempSync(join(tmpdir(), "schemathesis-")),
    ];
    const child = spawn(st, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    if (process.env.SCHEMATHESIS_OUT) console.log(out);
    assert.equal(code, 0, `Schemathesis found contract drift:\n${out}`);
  });
});
