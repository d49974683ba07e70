// The README's quick start and curl session, run as printed: `bash scripts/start.sh` on the
// embedded default, then the commands of the "A session with curl" block in bash, one by one.
// The only edit is `<id>`, which the reader copies from the first answer.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { call, eventually } from "../helpers/http";

const ROOT = join(__dirname, "..", "..");

/** The shell commands of the README block after `heading`, continuation lines joined. */
function readmeCommands(heading: string): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.replace(/\s+#[^'"]*$/, "").trim())
    .filter((line) => line && !line.startsWith("#"));
}

describe("README quick start and curl session", { timeout: 180_000 }, () => {
  let service: ChildProcess;
  const port = 3000;
  const busy = spawnSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0;

  before(async () => {
    assert.ok(!busy, `port ${port} (the README's) is already in use`);
    // Exactly the README's first command, with no configuration: the embedded default.
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      LOG_LEVEL: "warn",
    };
    if (process.env.ORDER_SERVICE_CACHE) env.ORDER_SERVICE_CACHE = process.env.ORDER_SERVICE_CACHE;
    service = spawn("bash", ["scripts/start.sh"], { cwd: ROOT, env, stdio: "ignore", detached: true });
    await eventually(
      async () =>
        (await call(`http://127.0.0.1:${port}`, "GET", "/ready")).status === 200 ? true : undefined,
      90_000,
      300,
    );
  });

  after(() => {
    if (service?.pid) process.kill(-service.pid, "SIGTERM");
  });

  test("the commands work as printed: PENDING, then CONFIRMED; a 13-cent total ends CANCELLED", async () => {
    const commands = readmeCommands("### A session with curl");
    assert.ok(commands.length >= 6, `found the session: ${commands.length} commands`);
    // One bash for the whole session, so `source` and TOKEN carry over as for a reader.
    const script: string[] = ["set -e", `cd ${ROOT}`];
    let posts = 0;
    for (const command of commands) {
      if (command.includes("<id>")) {
        // The reader copies the id of the first answer; give the order a moment as the README says.
        script.push("sleep 1", command.replace("<id>", "$FIRST_ID"), 'echo "@@END"');
      } else if (command.startsWith("curl") && command.includes("-X POST")) {
        posts++;
        script.push(`ANSWER=$(${command})`, 'echo "$ANSWER"', 'echo "@@END"');
        if (posts === 1) script.push('FIRST_ID=$(echo "$ANSWER" | sed -E \'s/.*"id":"([^"]+)".*/\\1/\')');
      } else if (command.startsWith("curl")) {
        script.push("sleep 1", command, 'echo "@@END"');
      } else {
        script.push(command);
      }
    }
    const run = spawnSync("bash", ["-c", script.join("\n")], {
      encoding: "utf8",
      env: { ...process.env, PATH: process.env.PATH ?? "" },
    });
    assert.equal(run.status, 0, run.stderr);
    const outputs = run.stdout
      .split("@@END")
      .map((o) => o.trim())
      .filter(Boolean);
    const [first, shown, failed, listed] = outputs.map(
      (o) => JSON.parse(o.split("\n").pop()!) as Record<string, unknown>,
    );
    assert.equal(first?.status, "PENDING");
    assert.equal(shown?.status, "CONFIRMED");
    assert.equal(failed?.status, "PENDING");
    const rows = (listed?.rows ?? []) as { status: string; reason?: string; total: number }[];
    assert.ok(
      rows.some((r) => r.total % 100 === 13 && r.status === "CANCELLED" && r.reason === "payment-failed"),
      JSON.stringify(rows),
    );
  });
});
