// /ready during a Kafka outage (issue 14 item 11): a slow channel status must not use up the
// probe's time and make it report the store as down while it is up.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
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
    // What the node sees while the brokers are unreachable: the lag query returns only after
    // kafkajs's retries (most of the request's budget) and the channel says it is not connected;
    // the store answers, a little slowly as a real one does.
    const bridge = node.broker.getLocalService("outbox-relay") as unknown as {
      channel: { consumerLag: () => Promise<number>; health: () => { connected: boolean } };
    };
    const orders = node.broker.getLocalService("orders") as unknown as {
      adapter: { findOne: (q: { _id?: string }) => Promise<unknown> };
    };
    const { consumerLag, health } = bridge.channel;
    const { findOne } = orders.adapter;
    bridge.channel.consumerLag = () => sleep(2_500).then(() => -1);
    bridge.channel.health = () => ({ ...health.call(bridge.channel), connected: false });
    orders.adapter.findOne = (q) =>
      q._id === "__ping__"
        ? sleep(1_000).then(() => findOne.call(orders.adapter, q))
        : findOne.call(orders.adapter, q);
    try {
      const res = await call<ReadyBody>(node.url, "GET", "/ready");
      assert.equal(res.status, 503);
      assert.equal(res.body.status, "NOT_READY", JSON.stringify(res.body));
      assert.equal(res.body.store, true, JSON.stringify(res.body));
    } finally {
      bridge.channel.consumerLag = consumerLag;
      bridge.channel.health = health;
      orders.adapter.findOne = findOne;
    }
  });
});
