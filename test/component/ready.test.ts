// /ready during a Kafka outage (issue 14 item 11): a channel status that hangs must not make the
// probe report the store as down while it is up.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type EmbeddedNode, startEmbeddedNode } from "../helpers/embedded-node";
import { call } from "../helpers/http";

interface ReadyBody {
  status: string;
  store: boolean;
  channel: unknown;
}

describe("/ready while the event channel hangs", () => {
  let node: EmbeddedNode;

  before(async () => {
    node = await startEmbeddedNode({ REQUEST_TIMEOUT_MS: "3000" });
  });
  after(async () => {
    await node?.stop();
  });

  test("the store is reported up, the node not ready", async () => {
    assert.equal((await call(node.url, "GET", "/ready")).status, 200);
    // What kafkajs does while the brokers are unreachable: the lag query waits on its retries
    // and the channel says it is not connected.
    const bridge = node.broker.getLocalService("kafka-bridge") as unknown as {
      channel: { consumerLag: () => Promise<number>; health: () => { connected: boolean } };
    };
    const { consumerLag, health } = bridge.channel;
    bridge.channel.consumerLag = () => new Promise(() => undefined);
    bridge.channel.health = () => ({ ...health.call(bridge.channel), connected: false });
    try {
      const res = await call<ReadyBody>(node.url, "GET", "/ready");
      assert.equal(res.status, 503);
      assert.equal(res.body.status, "NOT_READY");
      assert.equal(res.body.store, true, JSON.stringify(res.body));
    } finally {
      bridge.channel.consumerLag = consumerLag;
      bridge.channel.health = health;
    }
  });
});
