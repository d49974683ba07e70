// Operator REPL commands, driven programmatically against an embedded node; each checks its
// input and explains misuse.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PlaceOrderParams } from "../../contracts/saga";
import { makeEvent } from "../../domain/events";
import { sharedMemoryChannel } from "../../lib/channel";
import { Topics } from "../../lib/channel/types";
import { systemSource } from "../../lib/clock";
import { OPERATOR_COMMANDS, runCommand } from "../../repl";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { eventually } from "../helpers/http";

const command = (name: string) => {
  const found = OPERATOR_COMMANDS.find((c) => c.command.split(" ")[0] === name);
  assert.ok(found, `command ${name} exists`);
  return found;
};

describe("operator REPL commands", () => {
  let node: EmbeddedNode;
  const run = (name: string, args: Record<string, unknown> = {}, options: Record<string, unknown> = {}) =>
    runCommand(command(name), node.broker, { ...args, options });
  const place = (unitPrice: number, userId = "alice") =>
    node.broker.call<{ id: string }, PlaceOrderParams>(
      "saga.placeOrder",
      { currency: "EUR", items: [{ productId: "sku-1", quantity: 1, unitPrice }] },
      { meta: { user: { id: userId, roles: [] } } },
    );

  before(async () => {
    node = await startEmbeddedNode({ PAYMENT_TIMEOUT_MS: "60000", SAGA_SWEEP_INTERVAL_MS: "60000" });
    node.embedded.payment?.setRules({ noReplyCents: [77] });
  });
  after(async () => {
    await node?.stop();
  });

  test("one file per command, each with a description", () => {
    assert.deepEqual(OPERATOR_COMMANDS.map((c) => c.command.split(" ")[0]).sort(), [
      "breakers",
      "compensate",
      "dlq",
      "dlq-replay",
      "order",
      "orders",
      "outbox",
      "redrive",
      "sagas",
    ]);
    assert.ok(OPERATOR_COMMANDS.every((c) => c.description.length > 10));
  });

  test("order shows state and history; orders finds by user and status", async () => {
    const { id } = await place(1250);
    await eventually(async () => ((await run("order", { id })).includes("CONFIRMED") ? true : undefined));
    const shown = await run("order", { id });
    assert.match(shown, new RegExp(`order ${id}`));
    assert.match(shown, /PENDING\s+CONFIRMED/);
    const found = await run("orders", {}, { user: "alice", status: "confirmed" });
    assert.match(found, new RegExp(id));
    assert.match(await run("orders", {}, { user: "nobody" }), /\(none\)/);
  });

  test("sagas lists in-flight ones; compensate cancels a stuck one; redrive and outbox report", async () => {
    const { id } = await place(1077);
    assert.match(await run("sagas"), new RegExp(id));
    assert.doesNotMatch(await run("sagas", {}, { stuck: true }), new RegExp(id), "not past its deadline yet");
    assert.match(await run("redrive", { id }), /still within its payment deadline/);
    assert.match(await run("compensate", { id }), /compensated: .* CANCELLED/);
    assert.match(await run("compensate", { id }), /nothing done: .* CANCELLED/);
    assert.match(await run("order", { id }), /operator-cancelled/);
    assert.doesNotMatch(await run("sagas"), new RegExp(id));
    await eventually(async () => ((await run("outbox")).includes("outbox empty") ? true : undefined));
  });

  test("breakers shows the state and resets it", async () => {
    assert.match(await run("breakers"), /all closed/);
    assert.match(await run("breakers", {}, { reset: true }), /nothing to reset/);
    assert.match(await run("breakers", {}, { dependency: "payments" }), /usage: --dependency must be/);
  });

  test("dlq lists refused messages with their reason, and dlq-replay puts one back", async () => {
    const channel = sharedMemoryChannel();
    const headers = {
      "event-type": "PaymentFailed",
      "content-type": "application/json",
      "correlation-id": "c",
    };
    await channel.publish(Topics.paymentEvents, [{ key: "nope", value: "{broken", headers }]);
    const ghost = makeEvent(
      "PaymentFailed",
      "ghost-order",
      { reason: "x", amount: 1, currency: "EUR" },
      systemSource(),
    );
    await channel.publish(Topics.paymentEvents, [
      { key: "ghost-order", value: JSON.stringify(ghost), headers },
    ]);
    const listing = await eventually(async () => {
      const out = await run("dlq");
      return out.includes("unknown-order") && out.includes("unparsable-json") ? out : undefined;
    });
    const line = listing.split("\n").find((l) => l.includes("ghost-order"))!;
    const [partition, offset] = line.trim().split(/\s+/);
    assert.match(await run("dlq-replay", { partition, offset }), /replayed message for ghost-order/);
    // Still unknown after the replay, so it comes back to the DLQ: nothing else changes.
    await eventually(async () =>
      (await run("dlq")).split("\n").filter((l) => l.includes("ghost-order")).length === 2 ? true : undefined,
    );
    assert.match(await run("dlq-replay", { partition: "0", offset: "999999" }), /not found/);
  });

  test("misuse is explained, never thrown", async () => {
    assert.match(await run("order", { id: "" }), /^usage: give a valid order id/);
    assert.match(await run("order", { id: "bad id with spaces" }), /^usage:/);
    assert.match(await run("order", { id: "missing-order" }), /^not found/);
    assert.match(await run("orders", {}, { status: "LOST" }), /^usage: --status must be one of/);
    assert.match(await run("orders", {}, { limit: "0" }), /^usage: --limit must be an integer/);
    assert.match(await run("dlq", {}, { limit: "x" }), /^usage: --limit/);
    assert.match(await run("dlq-replay", { partition: "-1", offset: "1" }), /^usage: partition/);
    assert.match(await run("compensate", { id: "missing-order" }), /^not found/);
    assert.match(await run("redrive", { id: "missing-order" }), /^not found/);
  });
});
