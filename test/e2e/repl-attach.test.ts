// An operator attaches a REPL to a running deployment (issue 14 item 13): a node with
// SERVICES=none on the deployment's NATS and namespace runs nothing itself, and the operator
// commands answer from the deployment's services.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type RunningNode, startNode } from "../../index";
import { OPERATOR_COMMANDS, runCommand } from "../../repl";
import { type EmbeddedNode, startEmbeddedNode, testConfig } from "../helpers/embedded-node";
import { infraEnv, uniqueName } from "../helpers/env";
import { eventually } from "../helpers/http";

const infra = infraEnv();
const command = (name: string) => OPERATOR_COMMANDS.find((c) => c.command.split(" ")[0] === name)!;

describe("a REPL-only node attached over NATS", { skip: "skip" in infra ? infra.skip : false }, () => {
  let deployment: EmbeddedNode;
  let operator: RunningNode;

  before(async () => {
    if ("skip" in infra) return;
    const namespace = uniqueName("repl");
    deployment = await startEmbeddedNode({
      NATS_URL: infra.natsUrl,
      NAMESPACE: namespace,
      NODE_ID: `${namespace}-svc`,
    });
    operator = await startNode(
      testConfig({
        NATS_URL: infra.natsUrl,
        NAMESPACE: namespace,
        NODE_ID: `${namespace}-repl`,
        SERVICES: "none",
      }),
    );
    await operator.broker.waitForServices(["orders", "saga", "kafka-bridge"], 30_000);
  });
  after(async () => {
    await operator?.stop();
    await deployment?.stop();
  });

  test("runs no service of its own and shows the deployment's orders, breakers and outbox", async () => {
    assert.deepEqual(operator.config.services, []);
    assert.equal(operator.broker.getLocalService("orders"), undefined);
    const { id } = await deployment.broker.call<{ id: string }, unknown>(
      "saga.placeOrder",
      { currency: "EUR", items: [{ productId: "sku-repl", quantity: 1, unitPrice: 1250 }] },
      { meta: { user: { id: "alice", roles: [] } } },
    );
    const shown = await eventually(async () => {
      const text = await runCommand(command("order"), operator.broker, { id, options: {} });
      return text.includes("CONFIRMED") ? text : undefined;
    });
    assert.match(shown, new RegExp(`order ${id}`));
    assert.match(await runCommand(command("breakers"), operator.broker, { options: {} }), /all closed/);
    // The publication marks are written a moment after the events leave.
    await eventually(async () =>
      (await runCommand(command("outbox"), operator.broker, { options: {} })).includes("outbox empty")
        ? true
        : undefined,
    );
  });
});
