// The operator REPL in a real terminal: the service runs under tmux with --repl, an operator
// types commands, the screen shows the answers.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, test } from "node:test";
import { eventually } from "../helpers/http";

const ROOT = join(__dirname, "..", "..");
const session = `repl-${process.pid}`;
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

const screen = () =>
  execFileSync("tmux", ["capture-pane", "-p", "-t", session, "-S", "-200"], { encoding: "utf8" });
const type = (line: string) => execFileSync("tmux", ["send-keys", "-t", session, line, "Enter"]);

after(() => {
  spawnSync("tmux", ["kill-session", "-t", session]);
});

test("operator commands answer in a real terminal", {
  skip: hasTmux || process.env.CI === "true" ? false : "tmux is not installed",
  timeout: 120_000,
}, async () => {
  const env = `PORT=0 BIND_ADDRESS=127.0.0.1 LOG_LEVEL=error NATS_URL= KAFKA_BROKERS= MONGO_URL=`;
  const cmd = `cd ${ROOT} && ${env} ${process.execPath} --import tsx index.ts --repl`;
  execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "220", "-y", "60", cmd]);
  await eventually(async () => (screen().includes("mol $") ? true : undefined), 60_000, 200);

  type("outbox");
  await eventually(async () => (screen().includes("outbox empty") ? true : undefined), 10_000, 100);
  type("orders --status LOST");
  await eventually(
    async () => (screen().includes("usage: --status must be one of") ? true : undefined),
    10_000,
    100,
  );
  type("breakers");
  await eventually(async () => (screen().includes("all closed") ? true : undefined), 10_000, 100);
  type("order nope");
  await eventually(
    async () => (screen().includes("not found: no order nope") ? true : undefined),
    10_000,
    100,
  );
  assert.ok(screen().includes("mol $"), "the REPL is still alive after misuse");
});
